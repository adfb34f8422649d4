//! Events about tenants and users, written straight to `events.k8s.io/v1`.
//!
//! kube-runtime's `Recorder` keeps every Event it published for six minutes, to merge repeats
//! into a series, and scans that whole cache under a write lock on each publish: with 10,000
//! users provisioned at once it held 10,000 Events in memory and serialised every reconcile on
//! that lock. The operator publishes an Event only when something changes (it never repeats
//! one per reconcile), so there is nothing to merge: each Event is one create, and nothing is
//! kept.
//!
//! Normal Events (outcomes: "licence assigned, e-mailed to ...") are limited per namespace by
//! a token bucket: a person's change is always recorded, but a bulk change (10,000 users
//! created by one commit) would cost the API server one more write per user for a record that
//! each user's status already holds (`notifications.delivered`). Beyond the bucket, outcomes
//! are counted and summed up in one Event per reason every 2 s. Warnings are never
//! limited. Each namespace has its own bucket, so one tenant's bulk change cannot silence
//! another's Events.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, Resource};

use crate::planning::{PlannedEvent, Severity};
use crate::telemetry::Metrics;

/// Name the operator reports Events under.
pub const CONTROLLER_NAME: &str = "conferencing-operator";

/// The API allows notes of at most 1 kB.
const MAX_NOTE: usize = 1024;

/// Normal Events a namespace may publish at once.
pub const BURST: f64 = 100.0;
/// Normal Events per second a namespace earns back.
pub const PER_SECOND: f64 = 5.0;
/// How often outcomes beyond the bucket are summed up: soon after a bulk change ends, so
/// that the summary is not a write long after the work it describes.
const SUMMARY_EVERY: Duration = Duration::from_secs(2);

/// Publishes Events.
#[derive(Clone)]
pub struct Events {
    client: Client,
    instance: String,
    limiter: Arc<Mutex<Limiter>>,
    metrics: Arc<Metrics>,
}

impl Events {
    /// Events written with `client`, reported by this instance (the pod's name). Starts the
    /// task that writes the summaries of outcomes beyond the limit.
    pub fn new(client: Client, metrics: Arc<Metrics>) -> Self {
        let events = Self {
            client,
            instance: std::env::var("POD_NAME").unwrap_or_else(|_| CONTROLLER_NAME.into()),
            limiter: Arc::new(Mutex::new(Limiter::default())),
            metrics,
        };
        // The task holds the limiter weakly: it ends when the last `Events` is dropped.
        let (client, instance) = (events.client.clone(), events.instance.clone());
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

    /// Publishes `event` about `obj`. A failure is logged, not returned: an Event that cannot
    /// be written must not undo or repeat the work it describes.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: &PlannedEvent) {
        let regarding = obj.object_ref(&());
        if event.severity == Severity::Normal && !self.lock().admit(&regarding, &event.reason, Instant::now()) {
            self.metrics.events_summarised.inc();
            return;
        }
        write(&self.client, &self.instance, &regarding, event).await;
    }
}

async fn write(client: &Client, instance: &str, regarding: &ObjectReference, event: &PlannedEvent) {
    let ns = regarding.namespace.clone().unwrap_or_else(|| "default".into());
    let ev = build(regarding, event, instance, Timestamp::now());
    if let Err(e) = Api::<Event>::namespaced(client.clone(), &ns).create(&PostParams::default(), &ev).await {
        tracing::warn!(error = %e, object = ?regarding.name, reason = %event.reason, "could not publish Event");
    }
}

/// Token buckets per namespace, and the outcomes each left unpublished.
#[derive(Default)]
struct Limiter {
    namespaces: HashMap<String, Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Per reason: how many, and the last object (the summary's subject).
    held: BTreeMap<String, (u64, ObjectReference)>,
}

impl Limiter {
    /// Whether a Normal Event may be written now; if not, it is counted for the summary.
    fn admit(&mut self, regarding: &ObjectReference, reason: &str, now: Instant) -> bool {
        let ns = regarding.namespace.clone().unwrap_or_default();
        let b = self.namespaces.entry(ns).or_insert(Bucket { tokens: BURST, at: now, held: BTreeMap::new() });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * PER_SECOND).min(BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return true;
        }
        let held = b.held.entry(reason.to_string()).or_insert((0, regarding.clone()));
        held.0 += 1;
        held.1 = regarding.clone();
        false
    }

    /// The summaries due, one per namespace and reason; forgets buckets that are full again.
    fn summaries(&mut self, now: Instant) -> Vec<(ObjectReference, PlannedEvent)> {
        let mut out = Vec::new();
        self.namespaces.retain(|_, b| {
            for (reason, (n, regarding)) in std::mem::take(&mut b.held) {
                let kind = regarding.kind.clone().unwrap_or_default();
                let message = format!(
                    "{n} more {reason} outcomes in this namespace (the last for this {kind}) were not each recorded as an Event: more than {BURST} at once, then {PER_SECOND} per second, are summed up here; each object's status records its own"
                );
                out.push((regarding, PlannedEvent::normal(&reason, message)));
            }
            let full = b.tokens + now.duration_since(b.at).as_secs_f64() * PER_SECOND >= BURST;
            !full
        });
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
        reason: Some(event.reason.clone()),
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

    #[test]
    fn a_bulk_change_is_summed_up_and_cannot_silence_another_namespace() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let admitted = (0..1000).filter(|i| l.admit(&user("a", &format!("u{i}")), "LicenseAssigned", t0)).count();
        assert_eq!(admitted, BURST as usize);
        // Another namespace still has its whole bucket.
        assert!(l.admit(&user("b", "alice"), "PinReset", t0));
        // Tokens come back with time.
        assert!(l.admit(&user("a", "late"), "PinReset", t0 + Duration::from_secs(1)));
        let sums = l.summaries(t0 + Duration::from_secs(1));
        assert_eq!(sums.len(), 1);
        let (regarding, e) = &sums[0];
        assert_eq!(regarding.name.as_deref(), Some("u999"));
        assert_eq!(e.reason, "LicenseAssigned");
        assert!(e.message.starts_with("900 more LicenseAssigned outcomes"), "{}", e.message);
        // Said once; a namespace whose bucket refilled is forgotten.
        assert!(l.summaries(t0 + Duration::from_secs(60)).is_empty());
        assert!(l.namespaces.is_empty());
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let r = ObjectReference { name: Some("alice".into()), namespace: Some("ns".into()), ..Default::default() };
        let e = PlannedEvent::warning("X", "é".repeat(600));
        let ev = build(&r, &e, "pod", Timestamp::from_second(1_800_000_000).expect("t"));
        let note = ev.note.expect("note");
        assert!(note.len() <= MAX_NOTE && note.ends_with("..."));
        assert_eq!(ev.type_.as_deref(), Some("Warning"));
        assert!(ev.metadata.name.expect("name").starts_with("alice."));
    }
}
