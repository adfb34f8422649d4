//! Events about tenants and users, written straight to `events.k8s.io/v1`.
//!
//! kube-runtime's `Recorder` keeps every Event it published for six minutes, to merge repeats
//! into a series, and scans that whole cache under a write lock on each publish: with 10,000
//! users provisioned at once it held 10,000 Events in memory and serialised every reconcile on
//! that lock. The operator publishes an Event only when something changes (it never repeats
//! one per reconcile), so there is nothing to merge: each Event is one create, and nothing is
//! kept.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, Resource};

use crate::planning::{PlannedEvent, Severity};

/// Name the operator reports Events under.
pub const CONTROLLER_NAME: &str = "conferencing-operator";

/// The API allows notes of at most 1 kB.
const MAX_NOTE: usize = 1024;

/// Publishes Events.
#[derive(Clone)]
pub struct Events {
    client: Client,
    instance: String,
}

impl Events {
    /// Events written with `client`, reported by this instance (the pod's name).
    pub fn new(client: Client) -> Self {
        Self { client, instance: std::env::var("POD_NAME").unwrap_or_else(|_| CONTROLLER_NAME.into()) }
    }

    /// Publishes `event` about `obj`. A failure is logged, not returned: an Event that cannot
    /// be written must not undo or repeat the work it describes.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: &PlannedEvent) {
        let regarding = obj.object_ref(&());
        let ns = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let ev = build(&regarding, event, &self.instance, Timestamp::now());
        if let Err(e) = Api::<Event>::namespaced(self.client.clone(), &ns).create(&PostParams::default(), &ev).await {
            tracing::warn!(error = %e, object = ?regarding.name, reason = %event.reason, "could not publish Event");
        }
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
