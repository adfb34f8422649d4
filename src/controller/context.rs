//! What every reconcile shares: the client, the watch caches and the Event recorder.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use super::expectations::Expectations;
use super::index::ClaimIndex;
use super::readiness::Readiness;
use crate::api::{ConferencingTenant, ConferencingUser};
use crate::notification::notifier::Notifier;
use crate::planning::{PlannedEvent, Severity};

/// Name the operator reports Events under.
pub const CONTROLLER_NAME: &str = "conferencing-operator";

/// Shared by every reconcile.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Publishes Events.
    pub recorder: Recorder,
    /// Users, from the user watch.
    pub users: Store<ConferencingUser>,
    /// Tenants, from the tenant watch.
    pub tenants: Store<ConferencingTenant>,
    /// The operator's own Secrets, from a label-selected watch.
    pub secrets: Store<Secret>,
    /// Conference-ID claims, from a label-selected watch.
    pub claims: Arc<ClaimIndex>,
    /// Status writes the user cache has not shown yet.
    pub expectations: Expectations,
    /// Which caches have been filled.
    pub readiness: Arc<Readiness>,
    /// Sends e-mails; `None` in tests of the controller alone.
    pub notifier: Option<Arc<Notifier>>,
}

impl Context {
    /// Builds a context; the stores are filled by the watches started in `controller::run`.
    pub fn new(
        client: Client,
        users: Store<ConferencingUser>,
        tenants: Store<ConferencingTenant>,
        secrets: Store<Secret>,
        claims: Arc<ClaimIndex>,
        readiness: Arc<Readiness>,
        notifier: Option<Arc<Notifier>>,
    ) -> Self {
        let reporter = Reporter { controller: CONTROLLER_NAME.into(), instance: std::env::var("POD_NAME").ok() };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            users,
            tenants,
            secrets,
            claims,
            expectations: Expectations::default(),
            readiness,
            notifier,
        }
    }

    /// Whether every cache has been filled once, waiting a little for it. Reconciles must not
    /// decide on a partial view (an ID that looks free only because its claim was not listed
    /// yet), but must not wait for ever either: a cache that cannot fill (a missing
    /// permission) would otherwise hold every reconcile, and shutdown with them.
    pub async fn caches_ready(&self) -> bool {
        tokio::time::timeout(std::time::Duration::from_secs(2), self.readiness.wait()).await.unwrap_or(false)
    }

    /// The user with this name and UID, if it still exists.
    pub fn live_user(&self, namespace: &str, name: &str, uid: &str) -> Option<Arc<ConferencingUser>> {
        self.users.get(&ObjectRef::new(name).within(namespace)).filter(|u| u.uid().as_deref() == Some(uid))
    }

    /// Publishes an Event about `obj`. A failure is logged, not returned: an Event that
    /// cannot be written must not undo or repeat the work it describes.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: &PlannedEvent) {
        let ev = Event {
            type_: match event.severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: event.reason.clone(),
            note: Some(event.message.clone()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let reference = obj.object_ref(&());
        let name = reference.name.clone().unwrap_or_default();
        let ns = reference.namespace.clone().unwrap_or_default();
        crate::telemetry::record_write("create", "Event", &ns, &name);
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %e, object = %name, reason = %event.reason, "could not publish Event");
        }
    }
}
