//! Logging setup and the operator's own accounting of API writes.
//!
//! Every write the operator sends to the API server goes through [`record_write`], which logs
//! one `api write` line and counts it. That is how the steady-state promise (a converged
//! operator writes nothing) is measured, by the tests and by an operator's logs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

static API_WRITES: AtomicU64 = AtomicU64::new(0);

/// Labels of reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `ConferencingUser` or `ConferencingTenant`.
    pub kind: &'static str,
    /// `ok` or the error's metric label.
    pub result: &'static str,
}

/// Labels naming a kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Object kind.
    pub kind: String,
}

/// Labels of notification results.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// `sent`, `failed` (permanently) or `retried`.
    pub result: &'static str,
}

/// The operator's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    /// Reconciles by kind and result.
    pub reconciles: Family<ReconcileLabels, Counter>,
    /// Reconcile duration by kind, in seconds.
    pub reconcile_seconds: Family<KindLabels, Histogram>,
    /// Write requests sent to the API server, by kind.
    pub api_writes: Family<KindLabels, Counter>,
    /// Notification attempts by result.
    pub notifications: Family<NotificationLabels, Counter>,
    /// E-mails recorded and not yet delivered, across users.
    pub notifications_pending: Gauge,
    /// PINs generated.
    pub pins_issued: Counter,
    /// Conference IDs claimed.
    pub ids_issued: Counter,
    /// 1 while this process holds the leader lease.
    pub leader: Gauge,
    pending_by_user: Mutex<HashMap<String, i64>>,
}

fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("conferencing");
        let m = Metrics {
            reconciles: Family::default(),
            reconcile_seconds: Family::new_with_constructor(histogram as fn() -> Histogram),
            api_writes: Family::default(),
            notifications: Family::default(),
            notifications_pending: Gauge::default(),
            pins_issued: Counter::default(),
            ids_issued: Counter::default(),
            leader: Gauge::default(),
            pending_by_user: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register("reconciles", "Reconciles by kind and result", m.reconciles.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration by kind", m.reconcile_seconds.clone());
        registry.register("api_writes", "Write requests sent to the API server, by kind", m.api_writes.clone());
        registry.register("notifications", "E-mail delivery attempts by result", m.notifications.clone());
        registry.register(
            "notifications_pending",
            "E-mails recorded in users' status and not yet delivered",
            m.notifications_pending.clone(),
        );
        registry.register("pins_issued", "Leader PINs generated", m.pins_issued.clone());
        registry.register("conference_ids_issued", "Conference IDs claimed", m.ids_issued.clone());
        registry.register("leader", "1 while this process holds the leader lease", m.leader.clone());
        Metrics { registry, ..m }
    }

    /// Records how many e-mails one user is owed; the gauge is the sum over users.
    pub fn set_pending(&self, user_uid: &str, pending: usize) {
        let mut map = self.pending_by_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(user_uid.to_string(), i64::try_from(pending).unwrap_or(i64::MAX));
        map.retain(|_, v| *v > 0);
        self.notifications_pending.set(map.values().sum());
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter
/// (`info` for the operator, `warn` for its dependencies).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,conferencing_operator=info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).init(),
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).init(),
    }
}

/// Records one write request to the API server.
pub fn record_write(verb: &'static str, kind: &str, namespace: &str, name: &str) {
    API_WRITES.fetch_add(1, Ordering::Relaxed);
    METRICS.api_writes.get_or_create(&KindLabels { kind: kind.to_string() }).inc();
    tracing::info!(verb, kind, namespace, name, "api write");
}

/// Writes sent since start.
pub fn api_writes() -> u64 {
    API_WRITES.load(Ordering::Relaxed)
}
