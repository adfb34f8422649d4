//! Fault injection for the test suite, compiled into debug builds only: a release binary
//! has no such hook. `CONFERENCING_FAULT_PANIC=reconcile:NS/NAME` makes the reconcile of that
//! user panic; `delivery:NS/NAME` makes composing its e-mails panic; `watch:NS/NAME` makes
//! the user watch panic on that user. The tests use it to show that a bug in one object's
//! handling is contained: reported on that object, retried with backoff, and every other
//! object keeps being served; and that a watch that dies takes the process down (to be
//! restarted with fresh caches) rather than leave it acting on a cache that no longer moves.
//! `CONFERENCING_FAULT_DELAY=status:NS/NAME:MS` holds that user's status writes back by MS
//! milliseconds, so that a test can pause or kill the operator between two writes.
//! `CONFERENCING_FAULT_REFUSE=record:NS/NAME:SECONDS` makes that user's record writes fail, as
//! a 403 from the API server would, for SECONDS from the first one (RBAC cannot refuse the
//! creation of one Secret and allow another's).

/// Panics if the fault `what` is injected for `namespace/name`.
#[cfg(debug_assertions)]
pub(crate) fn maybe_panic(what: &str, namespace: &str, name: &str) {
    if let Ok(spec) = std::env::var("CONFERENCING_FAULT_PANIC")
        && spec.split(',').any(|s| s == format!("{what}:{namespace}/{name}"))
    {
        panic!("injected fault");
    }
}

/// Release builds carry no fault hook.
#[cfg(not(debug_assertions))]
pub fn maybe_panic(_what: &str, _namespace: &str, _name: &str) {}

/// Waits before the step `what` of `namespace/name` when
/// `CONFERENCING_FAULT_DELAY=what:NS/NAME:MILLISECONDS` names it (comma-separated): the tests
/// use it to hold a reconcile between two of its writes, deterministically, so that a pause
/// or a kill lands with work in flight.
#[cfg(debug_assertions)]
pub(crate) async fn maybe_delay(what: &str, namespace: &str, name: &str) {
    let Ok(spec) = std::env::var("CONFERENCING_FAULT_DELAY") else { return };
    let key = format!("{what}:{namespace}/{name}:");
    let millis = spec.split(',').find_map(|s| s.strip_prefix(&key)?.parse::<u64>().ok());
    if let Some(ms) = millis {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Release builds carry no fault hook.
#[cfg(not(debug_assertions))]
pub async fn maybe_delay(_what: &str, _namespace: &str, _name: &str) {}

/// Whether the write `what` of `namespace/name` is to fail now, because
/// `CONFERENCING_FAULT_REFUSE=what:NS/NAME:SECONDS` names it (comma-separated): it fails for
/// SECONDS from the first time it is asked about.
#[cfg(debug_assertions)]
pub(crate) fn refused(what: &str, namespace: &str, name: &str) -> bool {
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};
    static FIRST: OnceLock<Mutex<std::collections::HashMap<String, Instant>>> = OnceLock::new();
    let Ok(spec) = std::env::var("CONFERENCING_FAULT_REFUSE") else { return false };
    let key = format!("{what}:{namespace}/{name}:");
    let Some(seconds) = spec.split(',').find_map(|s| s.strip_prefix(&key)?.parse::<u64>().ok()) else {
        return false;
    };
    let mut first = FIRST.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let since = *first.entry(key).or_insert_with(Instant::now);
    since.elapsed() < Duration::from_secs(seconds)
}

/// Release builds carry no fault hook.
#[cfg(not(debug_assertions))]
pub fn refused(_what: &str, _namespace: &str, _name: &str) -> bool {
    false
}
