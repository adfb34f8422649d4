//! The reconcile queue as the operator can see it.
//!
//! kube-runtime's scheduler (which merges requests per object and holds them while the
//! controller is at its concurrency limit) exposes nothing, so the operator counts what it
//! hands to it instead: every wake-up it sends (a watch event, a finished e-mail, the start-up
//! pass) is due at once, and every requeue a reconcile or an error policy asks for is due
//! after its delay. Like the scheduler, one entry is kept per object, at the earliest time
//! asked for, and the entry goes when a reconcile of the object starts (or when the
//! controller finds the object gone). At scrape time, entries already due are the queue depth
//! (`conferencing_reconcile_queue_depth`); the others are requeues waiting for their time
//! (`conferencing_reconcile_requeues_scheduled`).
//!
//! The count is only right while every request goes through [`ReconcileQueue`]: the
//! controllers are driven only by the operator's own channels (their watch streams are
//! empty, see `controller::run`), wake-ups go through [`Waker`], and clippy's
//! `disallowed-methods` (clippy.toml) refuses `Action::requeue` outside
//! [`ReconcileQueue::requeue`].

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio::sync::mpsc::UnboundedSender;

use super::KindLabels;

/// The kinds the operator reconciles: the only values of the `kind` label, each always
/// exported (a zero is a reading, a missing series is not).
pub(crate) const KINDS: [&str; 2] = ["ConferencingUser", "ConferencingTenant"];

/// Objects waiting for a reconcile, and when each is due.
///
/// Keyed by a hash of kind, namespace and name rather than by the names themselves: the
/// start-up pass wakes every user at once, and 30,000 copies of their names would only serve
/// to be counted. A collision (two objects in one entry) under-counts by one; with 64 bits it
/// does not happen at any size the operator serves.
#[derive(Debug, Default)]
pub struct ReconcileQueue {
    due: Mutex<HashMap<u64, (usize, Instant)>>,
    hasher: std::collections::hash_map::RandomState,
}

impl ReconcileQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (usize, Instant)>> {
        self.due.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key(&self, kind: usize, namespace: &str, name: &str) -> u64 {
        self.hasher.hash_one((kind, namespace, name))
    }

    fn kind(kind: &str) -> Option<usize> {
        KINDS.iter().position(|k| *k == kind)
    }

    fn at(&self, kind: &str, namespace: &str, name: &str, at: Instant) {
        let Some(k) = Self::kind(kind) else { return };
        let key = self.key(k, namespace, name);
        let mut m = self.lock();
        let due = m.entry(key).or_insert((k, at));
        // The scheduler keeps the earliest request for an object; so does this.
        due.1 = due.1.min(at);
    }

    /// A wake-up: the object is due now.
    pub fn woken(&self, kind: &str, namespace: &str, name: &str) {
        self.at(kind, namespace, name, Instant::now());
    }

    /// The one way to ask for a later reconcile: records it, and returns the [`Action`] that
    /// asks kube-runtime for it.
    #[allow(clippy::disallowed_methods)]
    pub fn requeue(&self, kind: &str, namespace: &str, name: &str, after: Duration) -> Action {
        // A delay too far to represent is not due in the life of the process.
        let at =
            Instant::now().checked_add(after).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        self.at(kind, namespace, name, at);
        Action::requeue(after)
    }

    /// A reconcile of the object started (which consumes every request for it), or the
    /// controller found it gone.
    pub fn taken(&self, kind: &str, namespace: &str, name: &str) {
        let Some(k) = Self::kind(kind) else { return };
        let key = self.key(k, namespace, name);
        self.lock().remove(&key);
    }

    /// Per kind (in [`KINDS`] order): (due now, due later).
    pub fn counts(&self, now: Instant) -> [(usize, usize); KINDS.len()] {
        let mut out = [(0, 0); KINDS.len()];
        for (kind, due) in self.lock().values() {
            if let Some(c) = out.get_mut(*kind) {
                if *due <= now {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
        out
    }
}

/// A controller's request channel that records each wake-up it carries in the queue.
pub(crate) struct Waker<K: kube::Resource<DynamicType = ()>> {
    tx: UnboundedSender<ObjectRef<K>>,
    queue: Arc<ReconcileQueue>,
    kind: &'static str,
}

impl<K: kube::Resource<DynamicType = ()>> Clone for Waker<K> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), queue: self.queue.clone(), kind: self.kind }
    }
}

impl<K: kube::Resource<DynamicType = ()>> Waker<K> {
    /// Wraps `tx`, the channel of the controller of `kind` (one of [`KINDS`]).
    pub(crate) fn new(tx: UnboundedSender<ObjectRef<K>>, queue: Arc<ReconcileQueue>, kind: &'static str) -> Self {
        Self { tx, queue, kind }
    }

    /// Asks for a reconcile of `obj`; `false` when the controller has stopped.
    pub(crate) fn send(&self, obj: ObjectRef<K>) -> bool {
        let (ns, name) = (obj.namespace.clone().unwrap_or_default(), obj.name.clone());
        // Recorded only when it reached the controller: a stopped one would never take it.
        let sent = self.tx.send(obj).is_ok();
        if sent {
            self.queue.woken(self.kind, &ns, &name);
        }
        sent
    }
}

/// Exports [`ReconcileQueue::counts`] at scrape time.
#[derive(Debug)]
pub(crate) struct QueueCollector(pub Arc<ReconcileQueue>);

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.0.counts(Instant::now());
        type Pick = fn((usize, usize)) -> usize;
        let gauges: [(&str, &str, Pick); 2] = [
            (
                "reconcile_queue_depth",
                "Objects due for a reconcile that has not started (woken by a change, or their requeue time reached), by kind",
                |c| c.0,
            ),
            (
                "reconcile_requeues_scheduled",
                "Objects with a reconcile asked for later (a retry after a failure, or a timed requeue), by kind",
                |c| c.1,
            ),
        ];
        for (name, help, pick) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (kind, c) in KINDS.iter().zip(counts) {
                let g = ConstGauge::new(i64::try_from(pick(c)).unwrap_or(i64::MAX));
                g.encode(family.encode_family(&KindLabels { kind: (*kind).to_string() })?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_object_at_its_earliest_time_gone_when_taken() {
        let q = ReconcileQueue::default();
        let later = Duration::from_secs(300);
        let _ = q.requeue("ConferencingUser", "acme", "alice", later);
        assert_eq!(q.counts(Instant::now())[0], (0, 1), "a retry in five minutes is not due");
        q.woken("ConferencingUser", "acme", "alice");
        q.woken("ConferencingUser", "acme", "alice");
        assert_eq!(q.counts(Instant::now())[0], (1, 0), "a wake-up makes it due now, once");
        let _ = q.requeue("ConferencingUser", "acme", "alice", later);
        assert_eq!(q.counts(Instant::now())[0], (1, 0), "the earliest request wins");
        q.woken("ConferencingTenant", "acme", "acme");
        q.woken("ConferencingUser", "acme", "acme");
        assert_eq!(q.counts(Instant::now()), [(2, 0), (1, 0)], "by kind; a user and a tenant of one name are two");
        q.taken("ConferencingUser", "acme", "alice");
        assert_eq!(q.counts(Instant::now()), [(1, 0), (1, 0)]);
        let _ = q.requeue("ConferencingUser", "acme", "bob", Duration::from_millis(1));
        assert_eq!(q.counts(Instant::now() + Duration::from_secs(1))[0], (2, 0), "due once its time is reached");
        q.woken("Secret", "acme", "x");
        assert_eq!(q.counts(Instant::now() + Duration::from_secs(1)), [(2, 0), (1, 0)], "no kind but KINDS");
    }

    #[tokio::test]
    async fn a_waker_records_what_reaches_the_controller_only() {
        let q = Arc::new(ReconcileQueue::default());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ObjectRef<crate::api::ConferencingUser>>();
        let w = Waker::new(tx, q.clone(), "ConferencingUser");
        assert!(w.send(ObjectRef::new("alice").within("acme")));
        assert_eq!(q.counts(Instant::now())[0], (1, 0));
        drop(rx);
        assert!(!w.send(ObjectRef::new("bob").within("acme")));
        assert_eq!(q.counts(Instant::now())[0], (1, 0), "a stopped controller takes nothing");
    }

    #[test]
    fn both_kinds_are_exported_with_zeros() {
        let mut r = prometheus_client::registry::Registry::default();
        let q = Arc::new(ReconcileQueue::default());
        q.woken("ConferencingUser", "a", "b");
        r.sub_registry_with_prefix("conferencing").register_collector(Box::new(QueueCollector(q)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).expect("encode");
        for line in [
            "conferencing_reconcile_queue_depth{kind=\"ConferencingUser\"} 1",
            "conferencing_reconcile_queue_depth{kind=\"ConferencingTenant\"} 0",
            "conferencing_reconcile_requeues_scheduled{kind=\"ConferencingUser\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
    }
}
