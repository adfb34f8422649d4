//! Logging setup and the operator's Prometheus metrics.
//!
//! The metrics live in one [`Metrics`] value that `main` creates and hands to everything that
//! counts (the controllers' `Context`, the API client's write layer, the delivery workers, the
//! HTTP endpoint), so that tests can build their own and nothing is global.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub(crate) mod process;
pub(crate) mod queue;
pub(crate) mod users;

/// Labels of reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `ConferencingUser` or `ConferencingTenant`.
    pub kind: &'static str,
    /// `ok` or the error's metric label.
    pub result: &'static str,
}

/// Why a reconcile failed: the only values of `conferencing_reconcile_errors_total`'s `reason`
/// label, a fixed list (never an object's name or an error's message), each exported from the
/// start so that a rate over it is never over a missing series.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ErrorReason {
    /// `409 Conflict` on a precondition: the cache was behind; retried at once.
    StaleView,
    /// Reading a referenced object from the API failed.
    Dereference,
    /// Creating, changing or deleting an owned object failed.
    Apply,
    /// Writing the status failed.
    Status,
    /// Another user took the conference ID being claimed.
    ConferenceIdConflict,
    /// Someone else's Secret holds the PIN Secret's name.
    SecretNameTaken,
    /// The reconcile panicked (a bug).
    Internal,
    /// Anything else (none is expected from a reconcile).
    Other,
}

impl ErrorReason {
    /// Every reason, in a fixed order.
    pub const ALL: [ErrorReason; 8] = [
        ErrorReason::StaleView,
        ErrorReason::Dereference,
        ErrorReason::Apply,
        ErrorReason::Status,
        ErrorReason::ConferenceIdConflict,
        ErrorReason::SecretNameTaken,
        ErrorReason::Internal,
        ErrorReason::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::StaleView => "stale_view",
            ErrorReason::Dereference => "dereference",
            ErrorReason::Apply => "apply",
            ErrorReason::Status => "status",
            ErrorReason::ConferenceIdConflict => "conference_id_conflict",
            ErrorReason::SecretNameTaken => "secret_name_taken",
            ErrorReason::Internal => "internal",
            ErrorReason::Other => "other",
        }
    }

    /// The reason of a reconcile's error.
    pub fn of(e: &crate::error::ReconcileError) -> ErrorReason {
        use crate::error::{ReconcileError as E, Step};
        if e.is_stale_view() {
            return ErrorReason::StaleView;
        }
        match e {
            E::Api { step: Step::Dereference, .. } => ErrorReason::Dereference,
            E::Api { step: Step::Provision | Step::Record | Step::CleanUp, .. } => ErrorReason::Apply,
            E::Api { step: Step::Mirror, .. } => ErrorReason::Status,
            E::ConferenceIdConflict { .. } => ErrorReason::ConferenceIdConflict,
            E::SecretNameTaken { .. } => ErrorReason::SecretNameTaken,
            E::Internal { .. } => ErrorReason::Internal,
            // Written out rather than `_`: a new variant must be placed here on purpose.
            E::IdSpaceExhausted { .. } => ErrorReason::Other,
        }
    }
}

impl EncodeLabelValue for ErrorReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Labels of reconcile errors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileErrorLabels {
    /// `ConferencingUser` or `ConferencingTenant`.
    pub kind: &'static str,
    /// Why.
    pub reason: ErrorReason,
}

/// Labels naming a kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Object kind (for API writes: the resource, e.g. `secrets` or `conferencingusers/status`).
    pub kind: String,
}

/// The values of `conferencing_notifications_total`'s `result` label.
pub const NOTIFICATION_RESULTS: [&str; 4] = ["sent", "retried", "failed", "superseded"];

/// The values of `conferencing_panics_total`'s `kind` label.
pub const PANIC_KINDS: [&str; 4] = ["ConferencingUser", "ConferencingTenant", "delivery", "watch"];

/// Labels of notification results.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// One of [`NOTIFICATION_RESULTS`]: `sent`, `failed` (permanently), `retried`, or
    /// `superseded` (dropped before sending: no longer owed).
    pub result: &'static str,
}

/// Why a PIN was issued: the `cause` label of `conferencing_pin_rotations_total` (first PINs
/// and adopted ones are no rotation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinCause {
    /// A user's first PIN (provisioning, or a takeover that brought none).
    First,
    /// Adopted from the system taken over.
    Adopted,
    /// `requests.resetPin`.
    Request,
    /// The PIN Secret was deleted.
    Restore,
    /// The PIN expired (`pin.lifetime`).
    Expired,
    /// What a user taken over brought was not a PIN.
    Replaced,
}

impl PinCause {
    /// Every rotation cause, exported from the start at zero.
    pub const ROTATIONS: [PinCause; 4] = [PinCause::Request, PinCause::Restore, PinCause::Expired, PinCause::Replaced];

    /// The cause of a PIN issued under `generation` from `pin`.
    pub fn of(generation: &str, pin: &crate::planning::NewPin) -> PinCause {
        if matches!(pin, crate::planning::NewPin::Adopt(_)) {
            return PinCause::Adopted;
        }
        let replaced = crate::planning::TakeoverPin::Replaced.prefix();
        match generation {
            g if g.starts_with("reset-pin.") => PinCause::Request,
            g if g.starts_with(crate::planning::RESTORE_PREFIX) => PinCause::Restore,
            g if g.starts_with(crate::planning::EXPIRED_PREFIX) => PinCause::Expired,
            g if g.starts_with(replaced) => PinCause::Replaced,
            _ => PinCause::First,
        }
    }

    fn label(self) -> &'static str {
        match self {
            PinCause::First => "first",
            PinCause::Adopted => "adopted",
            PinCause::Request => "request",
            PinCause::Restore => "restore",
            PinCause::Expired => "expired",
            PinCause::Replaced => "replaced",
        }
    }
}

/// Labels of PIN rotations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RotationLabels {
    /// `request`, `restore`, `expired` or `replaced`.
    pub cause: &'static str,
}

/// The operator's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    /// Reconciles by kind and result.
    pub reconciles: Family<ReconcileLabels, Counter>,
    /// Failed reconciles by kind and [`ErrorReason`].
    pub reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    /// Reconcile duration by kind, in seconds.
    pub reconcile_seconds: Family<KindLabels, Histogram>,
    /// Panics caught in a reconcile or a delivery (each a bug), by kind.
    pub panics: Family<KindLabels, Counter>,
    /// Write requests sent to the API server, by resource.
    pub api_writes: Family<KindLabels, Counter>,
    /// Writes refused because this process may no longer act as the leader.
    pub fenced_writes: Counter,
    /// Notification attempts by result.
    pub notifications: Family<NotificationLabels, Counter>,
    /// E-mails recorded and not yet delivered, across users.
    pub notifications_pending: Gauge,
    /// E-mails waiting in the delivery queue or being sent.
    pub delivery_queue: Gauge,
    /// How many e-mails the delivery queue holds at most (`--delivery-queue`).
    pub delivery_queue_capacity: Gauge,
    /// Objects waiting for a reconcile.
    pub queue: Arc<queue::ReconcileQueue>,
    /// What the served users' status says (stalled, PIN age).
    pub users: Arc<users::UserStates>,
    /// PINs generated.
    pub pins_issued: Counter,
    /// PINs replaced, by cause.
    pub pin_rotations: Family<RotationLabels, Counter>,
    /// Conference IDs claimed.
    pub ids_issued: Counter,
    /// 1 while this process holds the leader lease.
    pub leader: Gauge,
    /// Normal Events not written one by one (beyond a namespace's rate), summed up instead.
    pub events_summarised: Counter,
    /// How long handing one e-mail to the relay took, by result (sent, retried, failed).
    pub send_seconds: Family<NotificationLabels, Histogram>,
    pending_by_user: Mutex<HashMap<String, i64>>,
}

fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Counts a PIN issued for `cause`.
    pub fn pin_issued(&self, cause: PinCause) {
        if cause != PinCause::Adopted {
            self.pins_issued.inc();
        }
        if PinCause::ROTATIONS.contains(&cause) {
            self.pin_rotations.get_or_create(&RotationLabels { cause: cause.label() }).inc();
        }
    }

    /// Fresh metrics, registered under the `conferencing_` prefix.
    pub fn new() -> Self {
        // The process metrics are unprefixed (`process_*`), as every client library exports
        // them; the operator's own are `conferencing_*`.
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::ProcessCollector));
        let sub = registry.sub_registry_with_prefix("conferencing");
        let m = Metrics {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            delivery_queue_capacity: Gauge::default(),
            queue: Arc::default(),
            users: Arc::default(),
            reconcile_seconds: Family::new_with_constructor(histogram as fn() -> Histogram),
            panics: Family::default(),
            api_writes: Family::default(),
            fenced_writes: Counter::default(),
            notifications: Family::default(),
            notifications_pending: Gauge::default(),
            delivery_queue: Gauge::default(),
            pins_issued: Counter::default(),
            pin_rotations: Family::default(),
            ids_issued: Counter::default(),
            leader: Gauge::default(),
            events_summarised: Counter::default(),
            send_seconds: Family::new_with_constructor(histogram as fn() -> Histogram),
            pending_by_user: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        sub.register("reconciles", "Reconciles by kind and result", m.reconciles.clone());
        // Every value these labels take, exported from the start at zero: an alert on
        // `increase(...)` misses the first event of a series that appears with it.
        for result in NOTIFICATION_RESULTS {
            let _ = m.notifications.get_or_create(&NotificationLabels { result });
        }
        for kind in PANIC_KINDS {
            let _ = m.panics.get_or_create(&KindLabels { kind: kind.to_string() });
        }
        for kind in queue::KINDS {
            for reason in ErrorReason::ALL {
                let _ = m.reconcile_errors.get_or_create(&ReconcileErrorLabels { kind, reason });
            }
        }
        sub.register(
            "reconcile_errors",
            "Failed reconciles by kind and reason (a fixed list: docs/operations/monitoring.md)",
            m.reconcile_errors.clone(),
        );
        sub.register_collector(Box::new(queue::QueueCollector(m.queue.clone())));
        sub.register_collector(Box::new(users::UserCollector(m.users.clone())));
        sub.register("reconcile_duration_seconds", "Reconcile duration by kind", m.reconcile_seconds.clone());
        sub.register("panics", "Panics caught in a reconcile or a delivery (each a bug), by kind", m.panics.clone());
        sub.register("api_writes", "Write requests sent to the API server, by resource", m.api_writes.clone());
        sub.register(
            "fenced_writes",
            "Writes refused because this process may no longer act as the leader",
            m.fenced_writes.clone(),
        );
        sub.register("notifications", "E-mail delivery attempts by result", m.notifications.clone());
        sub.register(
            "notifications_pending",
            "E-mails recorded in users' status and not yet delivered",
            m.notifications_pending.clone(),
        );
        sub.register("delivery_queue", "E-mails queued for delivery or being sent", m.delivery_queue.clone());
        sub.register(
            "delivery_queue_capacity",
            "E-mails the delivery queue holds at most (--delivery-queue); beyond it, reconciles retry later",
            m.delivery_queue_capacity.clone(),
        );
        sub.register("pins_issued", "Leader PINs generated", m.pins_issued.clone());
        for cause in PinCause::ROTATIONS {
            let _ = m.pin_rotations.get_or_create(&RotationLabels { cause: cause.label() });
        }
        sub.register(
            "pin_rotations",
            "PINs replaced by a new one, by cause: request (resetPin), restore (PIN Secret deleted), expired (pin.lifetime), replaced (a PIN brought along broke the policy)",
            m.pin_rotations.clone(),
        );
        sub.register("conference_ids_issued", "Conference IDs claimed", m.ids_issued.clone());
        sub.register("leader", "1 while this process holds the leader lease", m.leader.clone());
        sub.register(
            "events_summarised",
            "Events beyond a namespace's or an object's rate, summed up in one Event per reason instead",
            m.events_summarised.clone(),
        );
        sub.register(
            "notification_send_duration_seconds",
            "Time to hand one e-mail to the mail server, by result",
            m.send_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Records how many e-mails one user is owed; the gauge is the sum over users.
    pub fn set_pending(&self, user_uid: &str, pending: usize) {
        let pending = i64::try_from(pending).unwrap_or(i64::MAX);
        let mut map = self.pending_by_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The gauge moves by the difference: summing every user's count on each call made
        // a reconcile cost O(users) under this lock.
        let before = if pending == 0 {
            map.remove(user_uid).unwrap_or(0)
        } else {
            map.insert(user_uid.to_string(), pending).unwrap_or(0)
        };
        self.notifications_pending.inc_by(pending.saturating_sub(before));
    }

    /// The total of [`Metrics::api_writes`].
    pub fn api_writes_total(&self) -> u64 {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out.lines()
            .filter(|l| l.starts_with("conferencing_api_writes_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The metrics in the Prometheus text format (0.0.4), for clients that do not ask for
    /// OpenMetrics: `curl`, `promtool check metrics`.
    pub fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode())
    }
}

/// Rewrites the OpenMetrics text prometheus-client writes as the Prometheus text format. The
/// two differ, for what this operator exports, only in that an OpenMetrics counter's family
/// is named without `_total` (its samples have it) where the text format names the family
/// as its samples, and in that `# UNIT` and `# EOF` do not exist in the text format (HELP
/// escaping differs only for `"`, which no help text here contains).
/// `promtool check metrics` reads the text format, and reports every counter of an
/// OpenMetrics text as lacking `_total`.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) { "_total" } else { "" };
                out.push_str(&format!("{prefix}{name}{suffix}"));
                if !tail.is_empty() {
                    out.push(' ');
                    out.push_str(tail);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

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

/// Replaces the default panic hook, which prints the panic's message to stderr: a message
/// formatted at run time could hold anything the code had at hand, a PIN included. Only the
/// location and a compile-time message (a `&'static str`, which cannot hold run-time data)
/// are logged. Panics inside a reconcile or a delivery are caught and reported on the object.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info.payload().downcast_ref::<&'static str>().copied().unwrap_or("(message withheld)");
        tracing::error!(%location, message, "panic (a bug); the operator contains it and carries on");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pending_gauge_is_the_sum_over_users_as_counts_change_and_users_go() {
        let m = Metrics::new();
        m.set_pending("a", 2);
        m.set_pending("b", 3);
        assert_eq!(m.notifications_pending.get(), 5);
        m.set_pending("a", 1);
        assert_eq!(m.notifications_pending.get(), 4);
        m.set_pending("b", 0);
        m.set_pending("b", 0);
        m.set_pending("c", 0);
        assert_eq!(m.notifications_pending.get(), 1);
        m.set_pending("a", 0);
        assert_eq!(m.notifications_pending.get(), 0);
    }
}
