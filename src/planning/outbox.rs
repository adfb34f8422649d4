//! The outbox, pure: which pending e-mails are due, and how a delivery attempt's result
//! changes the status. The controller does the sending; these decide what it means.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::api::Reason;
use crate::api::condition::{DesiredCondition, merge_conditions};
use crate::api::{
    ConditionType, ConferencingUserStatus, DeliveredNotification, NotificationRecord, PendingNotification,
};

/// Delivered e-mails kept in `status.notifications.delivered`.
pub const KEEP_DELIVERED: usize = 5;
/// First retry delay; doubles per attempt.
pub const BACKOFF_BASE: SignedDuration = SignedDuration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_CAP: SignedDuration = SignedDuration::from_secs(300);

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The mail server accepted the message.
    Delivered,
    /// A failure worth retrying (4xx, connection error, timeout).
    Transient(String),
    /// The server refused the message for good (5xx), or it can no longer be built.
    Permanent(String),
}

/// Pending entries that may be attempted now, oldest first.
pub fn due(notifications: &NotificationRecord, now: Timestamp) -> Vec<PendingNotification> {
    notifications
        .pending
        .iter()
        .filter(|n| !n.permanently_failed && n.next_attempt_time.as_ref().is_none_or(|t| t.0 <= now))
        .cloned()
        .collect()
}

/// Whether the tenant's send window and e-mail cap apply to `n`: an automatic e-mail that no
/// request asked for. A request's e-mail (the conferencing information, a PIN reset asked for
/// by a commit) goes at once: someone is waiting for it.
pub fn scheduled(n: &PendingNotification) -> bool {
    n.kind.is_automatic() && !super::message_id::requested(&n.message_id, n.kind)
}

/// When the next pending entry becomes due, if any is waiting for a retry.
pub fn next_due(notifications: &NotificationRecord) -> Option<Timestamp> {
    notifications
        .pending
        .iter()
        .filter(|n| !n.permanently_failed)
        .filter_map(|n| n.next_attempt_time.as_ref().map(|t| t.0))
        .min()
}

/// The delay before attempt `attempts + 1`: 5 s, 10 s, 20 s, ... capped at 5 minutes.
pub fn backoff(attempts: u32) -> SignedDuration {
    let factor = 2i32.saturating_pow(attempts.saturating_sub(1).min(16));
    BACKOFF_BASE.checked_mul(factor).map_or(BACKOFF_CAP, |d| d.min(BACKOFF_CAP))
}

/// Points every pending e-mail at `recipient`, the address the spec names now, but those sent
/// to a request's one-off address. An e-mail the mail server refused for good is tried again,
/// once, when the recipient changed since: the refusal was about the old address, and the user
/// is still owed the e-mail (the licence e-mail with its PIN, say).
pub fn retarget(notifications: &mut NotificationRecord, recipient: &str) {
    for n in notifications.pending.iter_mut().filter(|n| !n.one_off) {
        if n.recipient != recipient {
            n.recipient = recipient.to_string();
            if n.permanently_failed {
                n.permanently_failed = false;
                n.attempts = 0;
                n.last_error = None;
                n.next_attempt_time = None;
            }
        }
    }
}

/// Records the result of attempting the pending entry `message_id`.
pub fn record(notifications: &mut NotificationRecord, message_id: &str, attempt: &Attempt, now: Timestamp) {
    let pending = &mut notifications.pending;
    let Some(i) = pending.iter().position(|n| n.message_id == message_id) else { return };
    match attempt {
        Attempt::Delivered => {
            let n = pending.remove(i);
            let delivered = &mut notifications.delivered;
            delivered.push(DeliveredNotification {
                kind: n.kind,
                message_id: n.message_id,
                recipient: n.recipient,
                time: Time(now),
            });
            let excess = delivered.len().saturating_sub(KEEP_DELIVERED);
            delivered.drain(..excess);
        }
        Attempt::Transient(error) => {
            let n = &mut pending[i];
            n.attempts += 1;
            n.last_error = Some(error.clone());
            n.next_attempt_time = Some(Time(now + backoff(n.attempts)));
        }
        Attempt::Permanent(error) => {
            let n = &mut pending[i];
            n.attempts += 1;
            n.last_error = Some(error.clone());
            n.next_attempt_time = None;
            n.permanently_failed = true;
        }
    }
}

/// Sets `NotificationDelivered` from the outbox: True when nothing is owed, False with
/// `Pending` while deliveries are retried (`Held` while tenant `held_by` holds its e-mails),
/// False with `PermanentFailure` when the mail server refused a message for good. Absent until
/// the user is first owed an e-mail.
pub fn set_condition(
    status: &mut ConferencingUserStatus,
    held_by: Option<&str>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let n = &status.notifications;
    if n.pending.is_empty() && n.delivered.is_empty() {
        return;
    }
    let failed: Vec<&PendingNotification> = n.pending.iter().filter(|p| p.permanently_failed).collect();
    let waiting = n.pending.len() - failed.len();
    let desired = if let Some(f) = failed.first() {
        DesiredCondition::false_(
            ConditionType::NotificationDelivered,
            Reason::PermanentFailure,
            format!(
                "the mail server refused the {} e-mail to {} for good ({}); fix the recipient (spec.email or spec.sendEmailToAddress) and it is sent again, or fix the relay",
                f.kind,
                f.recipient,
                f.last_error.as_deref().unwrap_or("no detail")
            ),
        )
    } else if let Some(tenant) = held_by.filter(|_| waiting > 0) {
        DesiredCondition::false_(
            ConditionType::NotificationDelivered,
            Reason::Held,
            format!(
                "{waiting} e-mail(s) held: notifications.hold is true on tenant {tenant}; each is sent once it is false (requests.discardHeldEmails drops them)"
            ),
        )
    } else if waiting > 0 {
        let last = n.pending.iter().find_map(|p| p.last_error.clone());
        DesiredCondition::false_(
            ConditionType::NotificationDelivered,
            Reason::Pending,
            match last {
                Some(e) => format!("{waiting} e-mail(s) waiting to be delivered; last error: {e}"),
                None => format!("{waiting} e-mail(s) waiting to be delivered"),
            },
        )
    } else {
        DesiredCondition::true_(
            ConditionType::NotificationDelivered,
            Reason::Delivered,
            "every e-mail owed was delivered",
        )
    };
    status.conditions = merge_conditions(&status.conditions, &[desired], generation, now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::NotificationKind;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("valid")
    }

    fn status_with(ids: &[&str]) -> ConferencingUserStatus {
        let mut st = ConferencingUserStatus::default();
        for id in ids {
            st.notifications.pending.push(PendingNotification::owed(NotificationKind::PinReset, *id, "a@b.example"));
        }
        st
    }

    #[test]
    fn delivered_moves_to_the_bounded_history() {
        let ids: Vec<String> = (0..7).map(|i| format!("<m{i}>")).collect();
        let mut st = status_with(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        for id in &ids {
            record(&mut st.notifications, id, &Attempt::Delivered, t(1));
        }
        assert!(st.notifications.pending.is_empty());
        assert_eq!(st.notifications.delivered.len(), KEEP_DELIVERED);
        assert_eq!(st.notifications.delivered.last().map(|d| d.message_id.as_str()), Some("<m6>"));
        set_condition(&mut st, None, Some(1), t(1));
        assert_eq!(st.conditions[0].reason, "Delivered");
    }

    #[test]
    fn transient_failures_back_off_exponentially_up_to_a_cap() {
        let mut st = status_with(&["<m>"]);
        let mut delays = Vec::new();
        for i in 0..10 {
            let now = t(i * 1000);
            assert_eq!(due(&st.notifications, now).len(), 1);
            record(&mut st.notifications, "<m>", &Attempt::Transient("connection refused".into()), now);
            let next = st.notifications.pending[0].next_attempt_time.clone().expect("next").0;
            assert!(due(&st.notifications, now).is_empty(), "not due again before the backoff");
            delays.push(next.duration_since(now).as_secs());
        }
        assert_eq!(&delays[..7], &[5, 10, 20, 40, 80, 160, 300]);
        assert!(delays.iter().all(|d| *d <= 300));
        assert_eq!(st.notifications.pending[0].attempts, 10);
        set_condition(&mut st, None, Some(1), t(0));
        assert_eq!(st.conditions[0].reason, "Pending");
        assert!(st.conditions[0].message.contains("connection refused"));
    }

    #[test]
    fn permanent_failure_stops_retrying_and_says_so() {
        let mut st = status_with(&["<m>", "<n>"]);
        record(&mut st.notifications, "<m>", &Attempt::Permanent("550 5.7.1 rejected".into()), t(0));
        assert_eq!(
            due(&st.notifications, t(100_000)).iter().map(|n| n.message_id.as_str()).collect::<Vec<_>>(),
            vec!["<n>"]
        );
        assert_eq!(next_due(&st.notifications), None);
        set_condition(&mut st, None, Some(1), t(0));
        let c = &st.conditions[0];
        assert_eq!((c.type_.as_str(), c.reason.as_str()), ("NotificationDelivered", "PermanentFailure"));
        assert!(c.message.contains("550"));
    }

    #[test]
    fn a_new_recipient_revives_a_permanently_failed_email_once() {
        let mut st = status_with(&["<m>"]);
        record(&mut st.notifications, "<m>", &Attempt::Permanent("550 no such user".into()), t(0));
        retarget(&mut st.notifications, "a@b.example");
        assert!(due(&st.notifications, t(1)).is_empty(), "same address: stays failed");
        retarget(&mut st.notifications, "fixed@b.example");
        let d = due(&st.notifications, t(1));
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].recipient.as_str(), d[0].attempts), ("fixed@b.example", 0));
    }

    #[test]
    fn no_condition_before_any_email_is_owed() {
        let mut st = ConferencingUserStatus::default();
        set_condition(&mut st, None, Some(1), t(0));
        assert!(st.conditions.is_empty());
    }
}
