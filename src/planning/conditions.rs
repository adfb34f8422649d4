//! The conditions a user's status carries, derived from its `Ready` condition and its outbox,
//! following kstatus (kubernetes-sigs/cli-utils) so that Flux, Argo CD and `kubectl wait`
//! understand them: `Reconciling` and `Stalled` are abnormal-true conditions, present only
//! while they hold.

use k8s_openapi::jiff::Timestamp;

use crate::api::Reason;
use crate::api::condition::{DesiredCondition, merge_conditions, remove_conditions};
use crate::api::{ConditionStatus, ConditionType, ConferencingUserStatus};

/// `Ready=False` reason of a reconcile that failed unexpectedly (a bug); retried with backoff.
pub(crate) const INTERNAL_ERROR: Reason = Reason::InternalError;

/// How the delivery queue's record of an e-mail whose composition panicked begins. While an
/// e-mail so recorded is owed, the user is `Ready=False InternalError`.
pub(crate) const DELIVERY_INTERNAL_ERROR: &str = "internal error while composing";

/// Adds `ReconciliationPaused` and changes nothing else: a paused object's status keeps what
/// the operator last did, and its `observedGeneration` does not claim a spec it has not acted
/// on. Idempotent.
pub(crate) fn paused(st: &mut ConferencingUserStatus, message: &str, generation: Option<i64>, now: Timestamp) {
    let desired = [DesiredCondition::true_(ConditionType::ReconciliationPaused, Reason::ReconciliationPaused, message)];
    st.conditions = merge_conditions(&st.conditions, &desired, generation, now);
}

/// Sets `Ready` to `ready` and derives `Reconciling`, `Stalled` and `NotificationDelivered`;
/// removes `ReconciliationPaused` (a reconcile that settles is not paused). Idempotent, and a
/// condition's time only moves when its status changes, so settling an unchanged status
/// changes nothing.
#[cfg(test)]
pub fn settle(st: &mut ConferencingUserStatus, ready: &DesiredCondition, generation: Option<i64>, now: Timestamp) {
    settle_held(st, ready, None, generation, now);
}

/// [`settle`], for a user whose tenant `held_by` holds its e-mails
/// (`notifications.hold`): e-mails owed are `NotificationDelivered=False Held`, and not
/// `Reconciling`, since nothing is under way until the hold is lifted.
pub(crate) fn settle_held(
    st: &mut ConferencingUserStatus,
    ready: &DesiredCondition,
    held_by: Option<&str>,
    generation: Option<i64>,
    now: Timestamp,
) {
    super::outbox::set_condition(st, held_by, generation, now);
    let broken = st
        .notifications
        .pending
        .iter()
        .find(|p| p.last_error.as_deref().is_some_and(|e| e.starts_with(DELIVERY_INTERNAL_ERROR)));
    let overridden;
    let ready = match broken {
        Some(p) if ready.status == ConditionStatus::True => {
            overridden = DesiredCondition::false_(
                ConditionType::Ready,
                INTERNAL_ERROR,
                format!(
                    "composing the {} e-mail failed unexpectedly (a bug; see the operator's log); retrying with backoff",
                    p.kind
                ),
            );
            &overridden
        }
        _ => ready,
    };
    let pending = &st.notifications.pending;
    let failed = pending.iter().find(|p| p.permanently_failed);
    let waiting: Vec<_> = pending.iter().filter(|p| !p.permanently_failed).collect();

    let mut desired = vec![ready.clone()];
    let blocked = ready.status == ConditionStatus::False && ready.reason.stalls();
    if blocked {
        desired.push(DesiredCondition::true_(ConditionType::Stalled, ready.reason, ready.message.clone()));
    } else if let Some(f) = failed {
        desired.push(DesiredCondition::true_(ConditionType::Stalled, Reason::PermanentFailure,
            format!(
                "the mail server refused the {} e-mail to {} for good ({}); fix the recipient (spec.email or spec.sendEmailToAddress) and it is sent again, or fix the relay",
                f.kind,
                f.recipient,
                f.last_error.as_deref().unwrap_or("no detail")
            ),
        ));
    }
    if ready.status == ConditionStatus::False && ready.reason == INTERNAL_ERROR {
        desired.push(DesiredCondition::true_(ConditionType::Reconciling, INTERNAL_ERROR, ready.message.clone()));
    } else if !waiting.is_empty() && held_by.is_none() {
        let (reason, message) = match waiting.iter().find_map(|p| p.last_error.as_deref()) {
            Some(e) => {
                (Reason::RetryingNotifications, format!("{} e-mail(s) to deliver; last error: {e}", waiting.len()))
            }
            None => (Reason::NotificationsPending, format!("{} e-mail(s) to deliver", waiting.len())),
        };
        desired.push(DesiredCondition::true_(ConditionType::Reconciling, reason, message));
    }
    let absent: Vec<ConditionType> =
        [ConditionType::Reconciling, ConditionType::Stalled, ConditionType::ReconciliationPaused]
            .into_iter()
            .filter(|t| !desired.iter().any(|d| d.type_ == *t))
            .collect();
    remove_conditions(&mut st.conditions, &absent);
    st.conditions = merge_conditions(&st.conditions, &desired, generation, now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::condition::find;
    use crate::api::{NotificationKind, PendingNotification};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("valid")
    }

    fn pending(failed: bool, error: Option<&str>) -> PendingNotification {
        PendingNotification {
            kind: NotificationKind::PinReset,
            message_id: "<m>".into(),
            recipient: "a@b.example".into(),
            provider_name: None,
            previous: None,
            one_off: false,
            attempts: u32::from(error.is_some()),
            last_error: error.map(Into::into),
            next_attempt_time: None,
            permanently_failed: failed,
        }
    }

    fn types(st: &ConferencingUserStatus) -> Vec<(&str, &str)> {
        st.conditions.iter().map(|c| (c.type_.as_str(), c.reason.as_str())).collect()
    }

    #[test]
    fn a_converged_user_has_only_ready_and_delivered() {
        let mut st = ConferencingUserStatus::default();
        settle(&mut st, &DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "ok"), Some(1), t(0));
        assert_eq!(types(&st), vec![("Ready", "Reconciled")]);
    }

    #[test]
    fn reconciling_appears_while_emails_wait_and_clears_when_delivered() {
        let ready = DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "ok");
        let mut st = ConferencingUserStatus::default();
        st.notifications.pending.push(pending(false, None));
        settle(&mut st, &ready, Some(1), t(0));
        assert_eq!(
            find(&st.conditions, ConditionType::Reconciling).map(|c| c.reason.as_str()),
            Some("NotificationsPending")
        );
        st.notifications.pending[0] = pending(false, Some("451 try later"));
        settle(&mut st, &ready, Some(1), t(1));
        let r = find(&st.conditions, ConditionType::Reconciling).expect("reconciling");
        assert_eq!(r.reason, "RetryingNotifications");
        assert!(r.message.contains("451"));
        st.notifications.pending.clear();
        settle(&mut st, &ready, Some(1), t(2));
        assert!(find(&st.conditions, ConditionType::Reconciling).is_none());
    }

    #[test]
    fn stalled_for_what_needs_a_person() {
        for reason in Reason::all().filter(|r| r.stalls()) {
            let mut st = ConferencingUserStatus::default();
            settle(&mut st, &DesiredCondition::false_(ConditionType::Ready, reason, "why"), Some(2), t(0));
            let s = find(&st.conditions, ConditionType::Stalled).expect("stalled");
            assert_eq!((s.reason.as_str(), s.observed_generation), (reason.as_str(), Some(2)));
        }
        let mut st = ConferencingUserStatus::default();
        st.notifications.pending.push(pending(true, Some("550 no such user")));
        settle(&mut st, &DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "ok"), Some(1), t(0));
        assert_eq!(find(&st.conditions, ConditionType::Stalled).map(|c| c.reason.as_str()), Some("PermanentFailure"));
        assert!(find(&st.conditions, ConditionType::Reconciling).is_none(), "nothing left to retry");
        st.notifications.pending.clear();
        settle(&mut st, &DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "ok"), Some(1), t(1));
        assert!(find(&st.conditions, ConditionType::Stalled).is_none());
    }

    #[test]
    fn internal_errors_are_reconciling_not_stalled() {
        let mut st = ConferencingUserStatus::default();
        settle(&mut st, &DesiredCondition::false_(ConditionType::Ready, INTERNAL_ERROR, "bug"), Some(1), t(0));
        assert_eq!(types(&st), vec![("Ready", INTERNAL_ERROR.as_str()), ("Reconciling", INTERNAL_ERROR.as_str())]);
    }

    #[test]
    fn held_emails_are_neither_delivered_nor_under_way() {
        let ready = DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, "ok");
        let mut st = ConferencingUserStatus::default();
        st.notifications.pending.push(pending(false, None));
        settle_held(&mut st, &ready, Some("acme"), Some(1), t(0));
        let d = find(&st.conditions, ConditionType::NotificationDelivered).expect("delivered");
        assert_eq!((d.status, d.reason.as_str()), (ConditionStatus::False, "Held"));
        assert!(d.message.contains("notifications.hold") && d.message.contains("acme"), "{}", d.message);
        assert!(find(&st.conditions, ConditionType::Reconciling).is_none());
        assert_eq!(find(&st.conditions, ConditionType::Ready).map(|c| c.status), Some(ConditionStatus::True));
    }

    #[test]
    fn settling_twice_changes_nothing() {
        let ready = DesiredCondition::false_(ConditionType::Ready, Reason::InvalidSpec, "spec.email: bad");
        let mut st = ConferencingUserStatus::default();
        settle(&mut st, &ready, Some(1), t(0));
        let once = st.clone();
        settle(&mut st, &ready, Some(1), t(9));
        assert_eq!(st, once);
    }
}
