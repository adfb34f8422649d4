//! Which watch caches have been filled once.
//!
//! Reconciles must not act on a partial view (an ID that looks free only because its claim
//! was not listed yet). kube's `Store::wait_until_ready` cannot be used for this from many
//! reconciles at once: it keeps a single waker, so with many concurrent waiters all but the
//! last are never woken (and kube's own controller waits on the same store). This keeps one
//! `tokio::sync::watch` flag per cache instead, set from the watch stream on its first
//! `InitDone`, which any number of reconciles can await.

use kube::runtime::watcher;
use tokio::sync::watch;

/// The caches reconciles depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// ConferencingUsers.
    Users,
    /// ConferencingTenants.
    Tenants,
    /// The operator's Secrets.
    Secrets,
    /// Conference-ID claims.
    Claims,
}

/// One flag per cache.
pub struct Readiness {
    flags: [watch::Sender<bool>; 4],
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

    /// Marks `cache` ready when `event` ends its first (or any) full list.
    pub fn observe<K>(&self, cache: Cache, event: &watcher::Event<K>) {
        if matches!(event, watcher::Event::InitDone) {
            self.flag(cache).send_if_modified(|ready| !std::mem::replace(ready, true));
        }
    }

    /// Whether every cache is ready.
    pub fn all_ready(&self) -> bool {
        self.flags.iter().all(|f| *f.borrow())
    }

    /// Waits until every cache is ready. Returns `false` if the operator is shutting down
    /// before that (a flag's sender is gone).
    pub async fn wait(&self) -> bool {
        for flag in &self.flags {
            let mut rx = flag.subscribe();
            if rx.wait_for(|ready| *ready).await.is_err() {
                return false;
            }
        }
        true
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
        for c in [Cache::Users, Cache::Tenants, Cache::Secrets, Cache::Claims] {
            r.observe::<()>(c, &watcher::Event::InitDone);
        }
        for w in waiters {
            assert!(tokio::time::timeout(std::time::Duration::from_secs(5), w).await.expect("woken").expect("joined"));
        }
        assert!(r.all_ready());
    }
}
