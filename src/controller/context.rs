//! What every reconcile shares: the client, the caches and indexes, the Event publisher, the
//! delivery queue and the metrics.

use std::sync::Arc;

use kube::Client;
use kube::Resource;
use kube::runtime::reflector::Store;

use super::backoff::Backoff;
use super::events::Events;
use super::expectations::Expectations;
use super::index::Index;
use crate::api::ConferencingTenant;
use crate::notification::notifier::Notifier;
use crate::notification::queue::DeliveryQueue;
use crate::planning::PlannedEvent;
use crate::telemetry::Metrics;

/// Shared by every reconcile.
pub(crate) struct Context {
    /// API client (writes counted and fenced).
    pub client: Client,
    /// Publishes Events.
    pub events: Events,
    /// Tenants, from the tenant watch.
    pub tenants: Store<ConferencingTenant>,
    /// Claims, PIN Secrets (metadata) and what users reference.
    pub index: Arc<Index>,
    /// Status writes the user cache has not shown yet.
    pub expectations: Arc<Expectations>,
    /// Consecutive failures per object, for backoff.
    pub backoff: Arc<Backoff>,
    /// Renders e-mails; `None` when the operator sends none (tests of the controller alone).
    pub notifier: Option<Arc<Notifier>>,
    /// Sends e-mails off the reconcile path.
    pub delivery: Option<Arc<DeliveryQueue>>,
    /// The operator's metrics.
    pub metrics: Arc<Metrics>,
    /// Sender and recipient domains allowed cluster-wide, which no tenant can widen.
    pub policy: Arc<crate::validation::ClusterPolicy>,
    /// Wakes users and tenants an effect concerns (a user letting go of an ID wakes those
    /// waiting for it).
    pub wake: super::caches::Wakers,
    /// Each tenant's room under `notifications.maxEmailsPerMinute`.
    pub email_caps: Arc<super::email_cap::EmailCaps>,
}

impl Context {
    /// Publishes an Event about `obj` (a failure is logged).
    pub(crate) async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: &PlannedEvent) {
        self.events.publish(obj, event).await;
    }
}
