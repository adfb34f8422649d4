//! Whether an e-mail recorded as owed in a user's status is one the operator itself would
//! have recorded. The status subresource can be written by others (anyone granted
//! `conferencingusers/status`); without this check a forged entry such as `{kind: PinReset,
//! recipient: attacker@…}` made the operator e-mail the user's PIN to that address.
//!
//! Recipients and contents are never taken from the entry (they are decided at send time
//! from the spec, the tenant and the Secret); this decides whether the entry is sent at all.
//! An entry is derivable when its Message-ID is this operator's for this user's UID and the
//! entry's kind, and its cause is one the planner produces for this object: a request token
//! equal to the spec's current token of that request, generations no newer than the user's
//! and the tenant's, a PIN restore whose generation the user's own PIN Secret carries (which
//! a status writer cannot forge), a reassignment of an ID that one of the user's own claims
//! was allocated to replace (ditto), and a kind that fits what the spec asks for now.

use super::message_id::{cause_of, generations_of, token_of};
use super::{EXPIRED_PREFIX, RESTORE_PREFIX};
use crate::api::{NotificationKind, PendingNotification};
use crate::domain::ConferenceId;
use crate::validation::{DesiredService, DisabledReason, ValidatedTenant, ValidatedUser};

/// What the operator's own objects say about a user, which a status writer cannot forge.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Evidence<'a> {
    /// The generation named by the user's own PIN Secret, if it has one.
    pub secret_generation: Option<&'a str>,
    /// The user's claims allocated to replace an ID it lost: (new, lost).
    pub replacements: &'a [(ConferenceId, ConferenceId)],
}

/// Whether `entry` follows from the user's spec and history.
pub(crate) fn derivable(
    entry: &PendingNotification,
    user: &ValidatedUser,
    tenant: &ValidatedTenant,
    evidence: Evidence<'_>,
) -> bool {
    let secret_generation = evidence.secret_generation;
    let Some(cause) = cause_of(&entry.message_id, entry.kind, &user.uid) else {
        return false;
    };
    let native = matches!(user.service, DesiredService::Native(_));
    let by_generation = || {
        generations_of(&cause)
            .is_some_and(|(u, t)| (1..=user.generation).contains(&u) && (0..=tenant.generation).contains(&t))
    };
    let by_token = |current: &Option<String>| {
        !cause.starts_with(RESTORE_PREFIX)
            && !cause.starts_with(EXPIRED_PREFIX)
            && token_of(&cause).is_some_and(|t| current.as_deref() == Some(t.as_str()))
    };
    let requests = &user.requests;
    match entry.kind {
        NotificationKind::PinReset => {
            native
                && if cause.starts_with(RESTORE_PREFIX) || cause.starts_with(EXPIRED_PREFIX) {
                    // A restored or rotated PIN: the user's own PIN Secret carries its cause.
                    secret_generation == Some(cause.as_str())
                } else {
                    by_token(&requests.reset_pin)
                }
        }
        NotificationKind::ConferenceIdReset => {
            native
                && (by_token(&requests.reset_conference_id)
                    || by_generation()
                    || cause
                        .strip_prefix("reassigned.")
                        .and_then(ConferenceId::parse)
                        .is_some_and(|lost| evidence.replacements.iter().any(|(_, l)| *l == lost)))
        }
        NotificationKind::ConferencingInfoRequested => native && by_token(&requests.send_conferencing_info),
        NotificationKind::LicenseAssigned
        | NotificationKind::ProviderChangedToNative
        | NotificationKind::ServiceNumberChanged
        | NotificationKind::TakeoverWelcome
        | NotificationKind::TakeoverWelcomeNewPin => native && by_generation(),
        NotificationKind::LicenseRemoved => {
            matches!(user.service, DesiredService::Disabled(DisabledReason::Unlicensed)) && by_generation()
        }
        NotificationKind::ProviderChangedAway => {
            matches!(user.service, DesiredService::Disabled(DisabledReason::ThirdParty(_) | DisabledReason::NoProvider))
                && by_generation()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{tenant, user};
    use crate::planning::message_id::{generation_cause, message_id, reassigned_cause, token_cause};
    use crate::validation::{ClusterPolicy, validate_tenant, validate_user};

    fn entry(kind: NotificationKind, cause: &str, uid: &str) -> PendingNotification {
        PendingNotification {
            kind,
            message_id: message_id(uid, kind, cause),
            recipient: "attacker@evil.example".into(),
            provider_name: None,
            previous: None,
            one_off: false,
            attempts: 0,
            last_error: None,
            next_attempt_time: None,
            permanently_failed: false,
        }
    }

    #[test]
    fn only_what_the_planner_would_record_is_derivable() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("tenant");
        let mut u = user("alice", "acme");
        u.metadata.generation = Some(3);
        u.spec.requests.reset_pin = Some("T1".into());
        let vu = validate_user(&u, &t).expect("user");
        let ok = |e: &PendingNotification, secret: Option<&str>| {
            derivable(e, &vu, &t, Evidence { secret_generation: secret, replacements: &[] })
        };

        assert!(ok(&entry(NotificationKind::PinReset, &token_cause("T1"), "uid-alice"), None));
        assert!(ok(&entry(NotificationKind::LicenseAssigned, &generation_cause(3, 1), "uid-alice"), None));
        assert!(ok(&entry(NotificationKind::PinReset, "restore.5", "uid-alice"), Some("restore.5")));
        // A PIN rotated on expiry: its Secret names the cause.
        assert!(ok(&entry(NotificationKind::PinReset, "expired.5", "uid-alice"), Some("expired.5")));
        assert!(!ok(&entry(NotificationKind::PinReset, "expired.5", "uid-alice"), Some("expired.4")));

        // The forged entry of the security report: an invented PinReset.
        let mut forged = entry(NotificationKind::PinReset, &token_cause("T1"), "uid-alice");
        forged.message_id = "<evil@example>".into();
        assert!(!ok(&forged, None), "not this operator's Message-ID");
        assert!(!ok(&entry(NotificationKind::PinReset, &token_cause("T0"), "uid-alice"), None), "not the spec's token");
        assert!(!ok(&entry(NotificationKind::PinReset, &token_cause("T1"), "uid-bob"), None), "another user's UID");
        assert!(
            !ok(&entry(NotificationKind::PinReset, "restore.5", "uid-alice"), Some("restore.4")),
            "not the Secret's PIN"
        );
        assert!(!ok(&entry(NotificationKind::PinReset, "restore.5", "uid-alice"), None));
        assert!(
            !ok(&entry(NotificationKind::LicenseAssigned, &generation_cause(4, 1), "uid-alice"), None),
            "a generation the user never had"
        );
        assert!(!ok(&entry(NotificationKind::LicenseAssigned, &generation_cause(3, 2), "uid-alice"), None));
        assert!(
            !ok(&entry(NotificationKind::LicenseRemoved, &generation_cause(2, 1), "uid-alice"), None),
            "the user is licensed"
        );
        assert!(
            !ok(&entry(NotificationKind::ConferencingInfoRequested, &token_cause("x"), "uid-alice"), None),
            "no such request"
        );

        // A reassignment: only of an ID one of the user's claims replaces.
        let lost = ConferenceId::parse("1234567").expect("id");
        let reassigned = entry(NotificationKind::ConferenceIdReset, &reassigned_cause(&lost), "uid-alice");
        assert!(!ok(&reassigned, None), "no claim replaces 1234567");
        let replacements = [(ConferenceId::parse("7654321").expect("id"), lost)];
        assert!(derivable(&reassigned, &vu, &t, Evidence { secret_generation: None, replacements: &replacements }));
    }
}
