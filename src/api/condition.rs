//! Conditions shaped like `metav1.Condition`, so that kstatus-based tools (Flux, Argo CD)
//! understand them, plus the helpers that keep `lastTransitionTime` stable: a condition's
//! time only moves when its status changes, so an unchanged object is never rewritten.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Reason;

/// The condition types the operator sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// The object is valid and its desired state is in effect.
    Ready,
    /// kstatus' abnormal-true condition: present (True) only while work is under way, such as
    /// e-mails waiting to be delivered.
    Reconciling,
    /// kstatus' abnormal-true condition: present (True) only when the object cannot progress
    /// without a change by a person (an invalid spec, a conflict, a permanent mail failure).
    Stalled,
    /// Every notification the operator owed the user has been delivered.
    NotificationDelivered,
    /// Present (True) only while the object, or the user's tenant, carries
    /// `conferencing.io/paused: "true"`: the operator changes nothing and sends nothing.
    ReconciliationPaused,
}

impl ConditionType {
    /// The name written in `status.conditions[].type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Reconciling => "Reconciling",
            ConditionType::Stalled => "Stalled",
            ConditionType::NotificationDelivered => "NotificationDelivered",
            ConditionType::ReconciliationPaused => "ReconciliationPaused",
        }
    }
}

/// `True`, `False` or `Unknown`, as in `metav1.Condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The operator cannot tell yet.
    Unknown,
}

/// One observation of the object's state, shaped like `metav1.Condition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// Machine-readable, CamelCase reason for the condition's last transition.
    pub reason: String,
    /// Human-readable message with details about the transition.
    pub message: String,
    /// Last time the condition's status changed.
    pub last_transition_time: Time,
    /// The `metadata.generation` the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A condition as the reconciler wants it, without the time bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCondition {
    /// Which condition.
    pub type_: ConditionType,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// CamelCase reason.
    pub reason: Reason,
    /// Message for a person.
    pub message: String,
}

impl DesiredCondition {
    /// A condition that holds.
    pub fn true_(type_: ConditionType, reason: Reason, message: impl Into<String>) -> Self {
        Self { type_, status: ConditionStatus::True, reason, message: message.into() }
    }

    /// A condition that does not hold.
    pub fn false_(type_: ConditionType, reason: Reason, message: impl Into<String>) -> Self {
        Self { type_, status: ConditionStatus::False, reason, message: message.into() }
    }
}

/// Merges desired conditions into the previously observed ones: a condition keeps its
/// `lastTransitionTime` unless its status changed, so that re-running an unchanged reconcile
/// yields byte-identical status and the operator writes nothing. Conditions of types not in
/// `desired` are kept as they are.
pub fn merge_conditions(
    previous: &[Condition],
    desired: &[DesiredCondition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut out: Vec<Condition> =
        previous.iter().filter(|c| !desired.iter().any(|d| d.type_.as_str() == c.type_)).cloned().collect();
    for d in desired {
        let old = previous.iter().find(|c| c.type_ == d.type_.as_str());
        let last_transition_time = match old {
            Some(o) if o.status == d.status => o.last_transition_time.clone(),
            _ => Time(now),
        };
        out.push(Condition {
            type_: d.type_.as_str().to_string(),
            status: d.status,
            reason: d.reason.to_string(),
            message: d.message.clone(),
            last_transition_time,
            observed_generation: generation,
        });
    }
    out.sort_by(|a, b| a.type_.cmp(&b.type_));
    out
}

/// Removes the conditions of the given types: kstatus' abnormal-true conditions are absent
/// rather than False when they do not hold.
pub fn remove_conditions(conditions: &mut Vec<Condition>, types: &[ConditionType]) {
    conditions.retain(|c| !types.iter().any(|t| t.as_str() == c.type_));
}

/// Finds a condition by type.
pub fn find(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == type_.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn unchanged_status_keeps_transition_time() {
        let d = [DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "ok")];
        let first = merge_conditions(&[], &d, Some(1), t(100));
        let second = merge_conditions(&first, &d, Some(1), t(200));
        assert_eq!(first, second);
    }

    #[test]
    fn changed_status_moves_transition_time() {
        let first = merge_conditions(
            &[],
            &[DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "")],
            Some(1),
            t(100),
        );
        let second = merge_conditions(
            &first,
            &[DesiredCondition::false_(ConditionType::Ready, Reason::InvalidSpec, "")],
            Some(2),
            t(200),
        );
        assert_eq!(second[0].last_transition_time, Time(t(200)));
        assert_eq!(second[0].observed_generation, Some(2));
    }

    #[test]
    fn other_condition_types_are_kept() {
        let first = merge_conditions(
            &[],
            &[DesiredCondition::true_(ConditionType::NotificationDelivered, Reason::Delivered, "")],
            Some(1),
            t(1),
        );
        let second = merge_conditions(
            &first,
            &[DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "")],
            Some(1),
            t(2),
        );
        assert_eq!(second.len(), 2);
    }
}
