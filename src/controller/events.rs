//! Events about tenants and users, written straight to `events.k8s.io/v1`.
//!
//! kube-runtime's `Recorder` keeps every Event it published for six minutes, to merge repeats
//! into a series, and scans that whole cache under a write lock on each publish: with 10,000
//! users provisioned at once it held 10,000 Events in memory and serialised every reconcile on
//! that lock. The operator publishes an Event only when something changes (it never repeats
//! one per reconcile), so there is nothing to merge: each Event is one create, and nothing is
//! kept.
//!
//! Every Event is limited, Warnings as well as Normal ones, by token buckets per namespace and
//! per object: a person's change is always recorded, but a bulk change (10,000 users created
//! by one commit) would cost the API server one more write per user for a record that each
//! user's status already holds, and an object someone else can write (a status writer forging
//! a thousand entries) must not be able to make the operator write a thousand Events. Beyond
//! the buckets, Events are counted and summed up in one Event per namespace, severity and
//! reason every 2 s. Each namespace has its own buckets, so one tenant's bulk change cannot
//! silence another's Events.
//!
//! The bound, for the documentation: whatever one write to an object does, the operator
//! writes at most [`PER_OBJECT_BURST`] Events about that object at once (then one per
//! [`PER_OBJECT_EVERY`]), and at most one summary per reason and severity every 2 s.
//!
//! Events are written by a background task, never inside a reconcile: a reconcile hands them
//! to a bounded queue and goes on; when the queue is full, the Event is counted into the
//! summary like one beyond the buckets.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, Resource};

use crate::api::Reason;
use crate::planning::{PlannedEvent, Severity};
use crate::telemetry::Metrics;

/// Name the operator reports Events under.
pub(crate) const CONTROLLER_NAME: &str = "conferencing-operator";

/// The API allows notes of at most 1 kB.
const MAX_NOTE: usize = 1024;

/// Normal Events a namespace may publish at once.
pub(crate) const BURST: f64 = 100.0;
/// Normal Events per second a namespace earns back.
pub(crate) const PER_SECOND: f64 = 5.0;
/// How often outcomes beyond the bucket are summed up: soon after a bulk change ends, so
/// that the summary is not a write long after the work it describes.
const SUMMARY_EVERY: Duration = Duration::from_secs(2);

/// Publishes Events.
#[derive(Clone)]
pub(crate) struct Events {
    limiter: Arc<Mutex<Limiter>>,
    metrics: Arc<Metrics>,
    queue: tokio::sync::mpsc::Sender<(ObjectReference, PlannedEvent)>,
}

/// Events waiting for the writer. Beyond it, Events are summed up instead.
const QUEUE: usize = 1024;

impl Events {
    /// Events written with `client`, reported by this instance (the pod's name). Starts the
    /// task that writes them, and the task that writes the summaries of those beyond the limit.
    pub(crate) fn new(client: Client, metrics: Arc<Metrics>) -> Self {
        let instance = std::env::var("POD_NAME").unwrap_or_else(|_| CONTROLLER_NAME.into());
        let (queue, mut rx) = tokio::sync::mpsc::channel::<(ObjectReference, PlannedEvent)>(QUEUE);
        let events = Self { limiter: Arc::new(Mutex::new(Limiter::default())), metrics, queue };
        let (writer_client, writer_instance) = (client.clone(), instance.clone());
        // Ends when the last `Events` (the last sender) is dropped.
        tokio::spawn(async move {
            while let Some((regarding, event)) = rx.recv().await {
                write(&writer_client, &writer_instance, &regarding, &event).await;
            }
        });
        // The task holds the limiter weakly: it ends when the last `Events` is dropped.
        let limiter = Arc::downgrade(&events.limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SUMMARY_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limiter) = limiter.upgrade() else { return };
                let due = limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner).summaries(Instant::now());
                drop(limiter);
                for (regarding, event) in due {
                    write(&client, &instance, &regarding, &event).await;
                }
            }
        });
        events
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands `event` about `obj` to the writer, or counts it for a summary. Never waits for
    /// the API server: an Event that cannot be written must not delay, undo or repeat the
    /// work it describes.
    pub(crate) async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: &PlannedEvent) {
        let regarding = obj.object_ref(&());
        let now = Instant::now();
        if !self.lock().admit(&regarding, event, now) {
            self.metrics.events_summarised.inc();
            return;
        }
        if let Err(e) = self.queue.try_send((regarding, event.clone())) {
            let (regarding, event) = match e {
                tokio::sync::mpsc::error::TrySendError::Full(x) | tokio::sync::mpsc::error::TrySendError::Closed(x) => {
                    x
                }
            };
            self.lock().hold(&regarding, &event, now);
            self.metrics.events_summarised.inc();
        }
    }
}

async fn write(client: &Client, instance: &str, regarding: &ObjectReference, event: &PlannedEvent) {
    let ns = regarding.namespace.clone().unwrap_or_else(|| "default".into());
    let ev = build(regarding, event, instance, Timestamp::now());
    if let Err(e) = Api::<Event>::namespaced(client.clone(), &ns).create(&PostParams::default(), &ev).await {
        tracing::warn!(error = %e, object = ?regarding.name, reason = %event.reason, "could not publish Event");
    }
}

/// Warning Events a namespace may publish at once, and per second after that.
pub(crate) const WARNING_BURST: f64 = 20.0;
/// See [`WARNING_BURST`].
pub(crate) const WARNING_PER_SECOND: f64 = 1.0;
/// Events about one object that may be published at once.
pub(crate) const PER_OBJECT_BURST: f64 = 5.0;
/// After the burst, one Event about the object per this long.
pub(crate) const PER_OBJECT_EVERY: Duration = Duration::from_secs(5);

/// A token bucket.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self { tokens: burst, at: now }
    }
    fn refill(&mut self, burst: f64, per_second: f64, now: Instant) {
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * per_second).min(burst);
        self.at = now;
    }
    fn is_full(&self, burst: f64, per_second: f64, now: Instant) -> bool {
        self.tokens + now.duration_since(self.at).as_secs_f64() * per_second >= burst
    }
}

/// A namespace's buckets, and the Events they left unpublished.
struct Namespace {
    normal: Bucket,
    warning: Bucket,
    /// Per severity and reason: how many, and the last object (the summary's subject).
    held: BTreeMap<(bool, Reason), (u64, ObjectReference)>,
}

/// Token buckets per namespace and per object.
#[derive(Default)]
struct Limiter {
    namespaces: HashMap<String, Namespace>,
    /// Keyed by namespace, kind and name.
    objects: HashMap<(String, String, String), Bucket>,
}

fn per_object_rate() -> f64 {
    1.0 / PER_OBJECT_EVERY.as_secs_f64()
}

impl Limiter {
    fn namespace(&mut self, regarding: &ObjectReference, now: Instant) -> &mut Namespace {
        let ns = regarding.namespace.clone().unwrap_or_default();
        self.namespaces.entry(ns).or_insert_with(|| Namespace {
            normal: Bucket::full(BURST, now),
            warning: Bucket::full(WARNING_BURST, now),
            held: BTreeMap::new(),
        })
    }

    /// Whether an Event may be written now; if not, it is counted for the summary.
    fn admit(&mut self, regarding: &ObjectReference, event: &PlannedEvent, now: Instant) -> bool {
        let key = (
            regarding.namespace.clone().unwrap_or_default(),
            regarding.kind.clone().unwrap_or_default(),
            regarding.name.clone().unwrap_or_default(),
        );
        let object = self.objects.entry(key).or_insert_with(|| Bucket::full(PER_OBJECT_BURST, now));
        object.refill(PER_OBJECT_BURST, per_object_rate(), now);
        let ns = self.namespaces.entry(regarding.namespace.clone().unwrap_or_default()).or_insert_with(|| Namespace {
            normal: Bucket::full(BURST, now),
            warning: Bucket::full(WARNING_BURST, now),
            held: BTreeMap::new(),
        });
        let bucket = if event.severity == Severity::Warning {
            ns.warning.refill(WARNING_BURST, WARNING_PER_SECOND, now);
            &mut ns.warning
        } else {
            ns.normal.refill(BURST, PER_SECOND, now);
            &mut ns.normal
        };
        if object.tokens >= 1.0 && bucket.tokens >= 1.0 {
            object.tokens -= 1.0;
            bucket.tokens -= 1.0;
            return true;
        }
        self.hold(regarding, event, now);
        false
    }

    /// Counts an Event that was not written into its namespace's summary.
    fn hold(&mut self, regarding: &ObjectReference, event: &PlannedEvent, now: Instant) {
        let ns = self.namespace(regarding, now);
        let held = ns.held.entry((event.severity == Severity::Warning, event.reason)).or_insert((0, regarding.clone()));
        held.0 += 1;
        held.1 = regarding.clone();
    }

    /// The summaries due, one per namespace, severity and reason; forgets buckets that are
    /// full again.
    fn summaries(&mut self, now: Instant) -> Vec<(ObjectReference, PlannedEvent)> {
        let mut out = Vec::new();
        self.namespaces.retain(|_, b| {
            for ((warning, reason), (n, regarding)) in std::mem::take(&mut b.held) {
                let kind = regarding.kind.clone().unwrap_or_default();
                let message = format!(
                    "{n} more {reason} Events in this namespace (the last about this {kind}) were not each written: Events are limited per namespace and per object ({PER_OBJECT_BURST} at once about one object), and those beyond are summed up here; each object's status records its own state"
                );
                out.push((
                    regarding,
                    if warning { PlannedEvent::warning(reason, message) } else { PlannedEvent::normal(reason, message) },
                ));
            }
            !(b.normal.is_full(BURST, PER_SECOND, now) && b.warning.is_full(WARNING_BURST, WARNING_PER_SECOND, now))
        });
        let rate = per_object_rate();
        self.objects.retain(|_, o| !o.is_full(PER_OBJECT_BURST, rate, now));
        out
    }
}

fn build(regarding: &ObjectReference, event: &PlannedEvent, instance: &str, now: Timestamp) -> Event {
    let mut note = event.message.clone();
    if note.len() > MAX_NOTE {
        let mut end = MAX_NOTE - 3;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    Event {
        metadata: ObjectMeta {
            // Unique per object and instant, as the API asks of Event names.
            name: Some(format!("{}.{:x}", regarding.name.as_deref().unwrap_or(CONTROLLER_NAME), now.as_nanosecond())),
            namespace: regarding.namespace.clone(),
            ..ObjectMeta::default()
        },
        action: Some("Reconcile".into()),
        reason: Some(event.reason.to_string()),
        note: Some(note),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding.clone()),
        reporting_controller: Some(CONTROLLER_NAME.into()),
        reporting_instance: Some(instance.into()),
        type_: Some(match event.severity {
            Severity::Normal => "Normal".into(),
            Severity::Warning => "Warning".into(),
        }),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(ns: &str, name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("ConferencingUser".into()),
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        }
    }

    fn normal(reason: &str) -> PlannedEvent {
        PlannedEvent::normal(Reason::parse(reason).expect("a reason"), "m")
    }

    #[test]
    fn a_bulk_change_is_summed_up_and_cannot_silence_another_namespace() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let admitted =
            (0..1000).filter(|i| l.admit(&user("a", &format!("u{i}")), &normal("LicenseAssigned"), t0)).count();
        assert_eq!(admitted, BURST as usize);
        // Another namespace still has its whole bucket.
        assert!(l.admit(&user("b", "alice"), &normal("PinReset"), t0));
        // Tokens come back with time.
        assert!(l.admit(&user("a", "late"), &normal("PinReset"), t0 + Duration::from_secs(1)));
        let sums = l.summaries(t0 + Duration::from_secs(1));
        assert_eq!(sums.len(), 1);
        let (regarding, e) = &sums[0];
        assert_eq!(regarding.name.as_deref(), Some("u999"));
        assert_eq!(e.reason, "LicenseAssigned");
        assert!(e.message.starts_with("900 more LicenseAssigned Events"), "{}", e.message);
        // Said once; buckets that refilled are forgotten.
        assert!(l.summaries(t0 + Duration::from_secs(60)).is_empty());
        assert!(l.namespaces.is_empty() && l.objects.is_empty());
    }

    #[test]
    fn one_object_gets_a_few_events_at_once_whatever_its_writer_forged() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let alice = user("a", "alice");
        let warn = PlannedEvent::warning(Reason::NotificationDropped, "m");
        let admitted = (0..1000).filter(|_| l.admit(&alice, &warn, t0)).count();
        assert_eq!(admitted, PER_OBJECT_BURST as usize, "per object, Warnings included");
        // Another object in the namespace is not silenced by it.
        assert!(l.admit(&user("a", "bob"), &warn, t0));
        assert!(l.admit(&alice, &warn, t0 + PER_OBJECT_EVERY), "and alice earns one back");
        let sums = l.summaries(t0 + PER_OBJECT_EVERY);
        assert_eq!(sums.len(), 1);
        assert_eq!(sums[0].1.severity, Severity::Warning, "a Warning summary for Warnings");
        assert!(sums[0].1.message.starts_with("995 more NotificationDropped"), "{}", sums[0].1.message);
    }

    #[test]
    fn warnings_are_limited_per_namespace_too() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let warn = PlannedEvent::warning(Reason::RequestTokenReused, "m");
        let admitted = (0..100).filter(|i| l.admit(&user("a", &format!("u{i}")), &warn, t0)).count();
        assert_eq!(admitted, WARNING_BURST as usize);
        assert!(l.admit(&user("a", "x"), &normal("LicenseAssigned"), t0), "Normal Events have their own bucket");
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let r = ObjectReference { name: Some("alice".into()), namespace: Some("ns".into()), ..Default::default() };
        let e = PlannedEvent::warning(Reason::InvalidSpec, "é".repeat(600));
        let ev = build(&r, &e, "pod", Timestamp::from_second(1_800_000_000).expect("t"));
        let note = ev.note.expect("note");
        assert!(note.len() <= MAX_NOTE && note.ends_with("..."));
        assert_eq!(ev.type_.as_deref(), Some("Warning"));
        assert!(ev.metadata.name.expect("name").starts_with("alice."));
    }
}
