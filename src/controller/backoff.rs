//! Per-object retry backoff. kube-runtime's `error_policy` is told only the object and the
//! error, and requeues at whatever delay it returns; without a count of consecutive failures
//! a broken object would be retried at the same rate for ever. Only transient failures are
//! retried this way: a spec that cannot work (invalid, conflicting) waits for a change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// First retry delay; doubles per consecutive failure.
pub(crate) const BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub(crate) const CAP: Duration = Duration::from_secs(300);

/// Consecutive failures per object key.
#[derive(Default)]
pub(crate) struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub(crate) fn failed(&self, key: &str) -> Duration {
        let mut m = self.lock();
        let n = m.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        delay(*n)
    }

    /// Forgets the failures of `key` (it succeeded, or it is gone).
    pub(crate) fn succeeded(&self, key: &str) {
        let mut m = self.lock();
        if !m.is_empty() {
            m.remove(key);
        }
    }
}

/// The backoff key of a user.
pub(crate) fn user_key(namespace: &str, uid: &str) -> String {
    format!("user/{namespace}/{uid}")
}

/// The backoff key of a tenant.
pub(crate) fn tenant_key(namespace: &str, uid: &str) -> String {
    format!("tenant/{namespace}/{uid}")
}

/// 1 s, 2 s, 4 s, ... capped at 5 minutes.
pub(crate) fn delay(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    BASE.saturating_mul(factor).min(CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_a_cap_and_resets_on_success() {
        let b = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| b.failed("ns/alice").as_secs()).collect();
        assert_eq!(&delays[..10], &[1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(b.failed("ns/bob").as_secs(), 1, "per object");
        b.succeeded("ns/alice");
        assert_eq!(b.failed("ns/alice").as_secs(), 1);
    }
}
