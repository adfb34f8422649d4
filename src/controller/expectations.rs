//! Write expectations: after the operator writes a user's status, the next reconcile of that
//! user waits until the cache shows that write. Acting on the older cached copy would plan
//! from a status that no longer exists (a request that looks unhandled, an ID that looks
//! unallocated). Kubernetes resourceVersions are etcd revisions: integers that only grow,
//! which is what makes "has the cache caught up" answerable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an expectation is held before the cache is trusted anyway (a watch that
/// coalesced or lost the event must not wedge the user).
const EXPIRY: Duration = Duration::from_secs(15);

/// Resource versions written, by object UID.
#[derive(Default)]
pub(crate) struct Expectations {
    written: Mutex<HashMap<String, (u64, Instant)>>,
}

impl Expectations {
    /// Records that the operator wrote `resource_version` of the object `uid`.
    pub(crate) fn expect(&self, uid: &str, resource_version: Option<&str>) {
        if let Some(rv) = resource_version.and_then(|v| v.parse().ok()) {
            self.lock().insert(uid.to_string(), (rv, Instant::now()));
        }
    }

    /// Whether the cached copy (at `cached`) includes the operator's last write.
    pub(crate) fn satisfied(&self, uid: &str, cached: Option<&str>) -> bool {
        let mut map = self.lock();
        let Some(&(want, at)) = map.get(uid) else {
            return true;
        };
        let caught_up = cached.and_then(|v| v.parse::<u64>().ok()).is_none_or(|have| have >= want);
        if caught_up || at.elapsed() > EXPIRY {
            map.remove(uid);
            return true;
        }
        false
    }

    /// Forgets a deleted user.
    pub(crate) fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Instant)>> {
        self.written.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_cache_to_catch_up() {
        let e = Expectations::default();
        assert!(e.satisfied("u", Some("5")));
        e.expect("u", Some("10"));
        assert!(!e.satisfied("u", Some("9")));
        assert!(e.satisfied("u", Some("10")));
        assert!(e.satisfied("u", Some("9")), "satisfied expectations are forgotten");
    }
}
