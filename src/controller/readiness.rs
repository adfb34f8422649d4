//! Which caches have been filled once. The controllers start only when all are: a reconcile
//! must not decide on a partial view (an ID that looks free only because its claim was not
//! listed yet). `/readyz` reports the same.

use tokio::sync::watch;

/// The caches reconciles depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// ConferencingUsers.
    Users,
    /// ConferencingTenants.
    Tenants,
    /// The operator's PIN Secrets (metadata).
    Secrets,
    /// Conference-ID claims (metadata).
    Claims,
    /// Secrets holding PINs to adopt (metadata).
    AdoptablePins,
}

/// One flag per cache.
pub struct Readiness {
    flags: [watch::Sender<bool>; 5],
}

impl Default for Readiness {
    fn default() -> Self {
        Self { flags: std::array::from_fn(|_| watch::Sender::new(false)) }
    }
}

impl Readiness {
    fn flag(&self, cache: Cache) -> &watch::Sender<bool> {
        &self.flags[cache as usize]
    }

    /// Marks `cache` filled.
    pub fn mark(&self, cache: Cache) {
        self.flag(cache).send_if_modified(|ready| !std::mem::replace(ready, true));
    }

    /// Whether every cache is filled.
    pub fn all_ready(&self) -> bool {
        self.flags.iter().all(|f| *f.borrow())
    }

    /// Waits until every cache is filled.
    pub async fn wait(&self) {
        for flag in &self.flags {
            let mut rx = flag.subscribe();
            // The senders live as long as `self`, so this cannot fail while we borrow it.
            let _ = rx.wait_for(|ready| *ready).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn many_waiters_are_all_woken() {
        let r = Arc::new(Readiness::default());
        let waiters: Vec<_> = (0..50)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.wait().await })
            })
            .collect();
        tokio::task::yield_now().await;
        for c in [Cache::Users, Cache::Tenants, Cache::Secrets, Cache::Claims, Cache::AdoptablePins] {
            assert!(!r.all_ready());
            r.mark(c);
        }
        for w in waiters {
            tokio::time::timeout(std::time::Duration::from_secs(5), w).await.expect("woken").expect("joined");
        }
        assert!(r.all_ready());
    }
}
