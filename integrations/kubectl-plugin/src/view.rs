//! Reading the status contract: where an object stands, in the same order of precedence as
//! the Argo CD health checks in `integrations/argocd/` (not reconciled, stale, Stalled,
//! Reconciling, Ready), so that the plugin and Argo CD never disagree about an object.

use conferencing_operator::api::{Condition, ConditionStatus, ConferencingUser, PendingNotification, Reason};

/// Ready=False reasons that no retry fixes; operators from before the `Stalled` condition
/// report only these.
pub(crate) const STALLED_READY_REASONS: [Reason; 5] = [
    Reason::InvalidSpec,
    Reason::TenantNotFound,
    Reason::TenantInvalid,
    Reason::ConferenceIdConflict,
    Reason::IdSpaceExhausted,
];

/// Finds a condition by type.
pub(crate) fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn holds(c: Option<&Condition>) -> bool {
    c.is_some_and(|c| c.status == ConditionStatus::True)
}

/// Where an object stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum State<'a> {
    /// No status yet: the operator has not reconciled it.
    NotReconciled,
    /// The status describes an older generation.
    Stale {
        /// `status.observedGeneration`, if any.
        observed: Option<i64>,
        /// `metadata.generation`.
        generation: i64,
    },
    /// Cannot progress without a change: `Stalled=True`, or `Ready=False` with a reason that
    /// needs a change.
    Stalled(&'a Condition),
    /// Work under way (`Reconciling=True`).
    Reconciling(&'a Condition),
    /// `Ready=True`.
    Ready(&'a Condition),
    /// Anything else (e.g. `Ready=False` reason `InternalError`): the operator retries.
    Waiting(Option<&'a Condition>),
}

impl State<'_> {
    /// Whether a person must change something.
    pub(crate) fn is_stalled(&self) -> bool {
        matches!(self, State::Stalled(_))
    }
}

/// Where an object with these conditions stands.
pub(crate) fn state<'a>(
    generation: Option<i64>,
    observed: Option<i64>,
    conditions: Option<&'a [Condition]>,
) -> State<'a> {
    let Some(conditions) = conditions else { return State::NotReconciled };
    if let Some(generation) = generation
        && observed.is_none_or(|o| o < generation)
    {
        return State::Stale { observed, generation };
    }
    if let Some(c) = condition(conditions, "Stalled").filter(|c| holds(Some(c))) {
        return State::Stalled(c);
    }
    if let Some(c) = condition(conditions, "Reconciling").filter(|c| holds(Some(c))) {
        return State::Reconciling(c);
    }
    let ready = condition(conditions, "Ready");
    match ready {
        Some(c) if c.status == ConditionStatus::True => State::Ready(c),
        Some(c)
            if c.status == ConditionStatus::False && STALLED_READY_REASONS.iter().any(|r| *r == c.reason.as_str()) =>
        {
            State::Stalled(c)
        }
        other => State::Waiting(other),
    }
}

/// Where a user stands.
pub(crate) fn user_state(u: &ConferencingUser) -> State<'_> {
    let st = u.status.as_ref();
    state(u.metadata.generation, st.and_then(|s| s.observed_generation), st.map(|s| s.conditions.as_slice()))
}

/// The user's `Ready` condition.
pub(crate) fn ready(u: &ConferencingUser) -> Option<&Condition> {
    u.status.as_ref().and_then(|s| condition(&s.conditions, "Ready"))
}

/// Whether the user is Ready for its current generation.
pub(crate) fn is_ready(u: &ConferencingUser) -> bool {
    !matches!(user_state(u), State::NotReconciled | State::Stale { .. }) && holds(ready(u))
}

/// E-mails still owed (not permanently failed).
pub(crate) fn pending(u: &ConferencingUser) -> impl Iterator<Item = &PendingNotification> {
    u.status.iter().flat_map(|s| s.notifications.pending.iter()).filter(|n| !n.permanently_failed)
}

/// E-mails the mail server refused for good.
pub(crate) fn failed(u: &ConferencingUser) -> impl Iterator<Item = &PendingNotification> {
    u.status.iter().flat_map(|s| s.notifications.pending.iter()).filter(|n| n.permanently_failed)
}

/// One line about a pending or failed e-mail: kind, recipient, attempts, last error.
pub(crate) fn describe_pending(n: &PendingNotification) -> String {
    let mut line = format!("{} to {}", n.kind, n.recipient);
    if n.attempts > 0 {
        line.push_str(&format!(", {} attempt{}", n.attempts, if n.attempts == 1 { "" } else { "s" }));
    }
    if let Some(next) = n.next_attempt_time.as_ref().filter(|_| !n.permanently_failed) {
        line.push_str(&format!(", next at {}", next.0));
    }
    if let Some(err) = &n.last_error {
        line.push_str(&format!(", last error: {err}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn c(type_: &str, status: ConditionStatus, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status,
            reason: reason.into(),
            message: format!("{type_} {reason}"),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: Some(2),
        }
    }

    use ConditionStatus::{False, True};

    /// The same matrix as the Argo CD health checks.
    #[test]
    fn precedence_matches_the_argocd_health_checks() {
        assert_eq!(state(Some(2), None, None), State::NotReconciled);
        let ready = [c("Ready", True, "Reconciled")];
        assert!(matches!(state(Some(3), Some(2), Some(&ready)), State::Stale { observed: Some(2), generation: 3 }));
        assert!(matches!(state(Some(2), Some(2), Some(&ready)), State::Ready(_)));
        let stalled_and_reconciling = [
            c("Ready", True, "Reconciled"),
            c("Reconciling", True, "RetryingNotifications"),
            c("Stalled", True, "PermanentFailure"),
        ];
        assert!(
            matches!(state(Some(2), Some(2), Some(&stalled_and_reconciling)), State::Stalled(s) if s.reason == "PermanentFailure")
        );
        let reconciling = [c("Ready", True, "Reconciled"), c("Reconciling", True, "NotificationsPending")];
        assert!(matches!(state(Some(2), Some(2), Some(&reconciling)), State::Reconciling(_)));
        let conflict = [c("Ready", False, "ConferenceIdConflict")];
        assert!(state(Some(2), Some(2), Some(&conflict)).is_stalled());
        let internal = [c("Ready", False, "InternalError")];
        assert!(matches!(state(Some(2), Some(2), Some(&internal)), State::Waiting(Some(_))));
        assert!(matches!(state(Some(2), Some(2), Some(&[])), State::Waiting(None)));
    }
}
