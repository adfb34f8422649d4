//! Fault injection for the test suite, compiled into debug builds only: a release binary
//! has no such hook. `CONFERENCING_FAULT_PANIC=reconcile:NS/NAME` makes the reconcile of that
//! user panic; `delivery:NS/NAME` makes composing its e-mails panic; `watch:NS/NAME` makes
//! the user watch panic on that user. The tests use it to show that a bug in one object's
//! handling is contained: reported on that object, retried with backoff, and every other
//! object keeps being served; and that a watch that dies takes the process down (to be
//! restarted with fresh caches) rather than leave it acting on a cache that no longer moves.

/// Panics if the fault `what` is injected for `namespace/name`.
#[cfg(debug_assertions)]
pub fn maybe_panic(what: &str, namespace: &str, name: &str) {
    if let Ok(spec) = std::env::var("CONFERENCING_FAULT_PANIC")
        && spec.split(',').any(|s| s == format!("{what}:{namespace}/{name}"))
    {
        panic!("injected fault");
    }
}

/// Release builds carry no fault hook.
#[cfg(not(debug_assertions))]
pub fn maybe_panic(_what: &str, _namespace: &str, _name: &str) {}
