//! What each condition reason of the status contract means, and what to change about it. One
//! table, so that `explain` and `status` say the same thing, and a reason the plugin does not
//! know (from a newer operator) still gets the operator's own message.

/// The object a condition is about, with what the advice needs to name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subject<'a> {
    /// `ConferencingUser` or `ConferencingTenant`.
    pub kind: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// The user's tenant (`spec.tenantRef.name`); empty for a tenant.
    pub tenant: &'a str,
    /// The user's `spec.conferenceId`, if any.
    pub static_id: Option<&'a str>,
    /// Tenants that exist in the namespace, to suggest one.
    pub existing_tenants: &'a [String],
}

/// What a reason means and what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Advice {
    /// One sentence: what it means.
    pub meaning: String,
    /// One sentence: what to change, naming the field; or that nothing needs changing.
    pub change: String,
}

fn advice(meaning: impl Into<String>, change: impl Into<String>) -> Advice {
    Advice { meaning: meaning.into(), change: change.into() }
}

use conferencing_operator::api::Reason;

/// Advice for condition `type_` (`Ready`, `Stalled`, `Reconciling`, `NotificationDelivered`)
/// with `reason`.
pub(crate) fn for_reason(type_: &str, reason: &str, s: &Subject<'_>) -> Advice {
    let object = format!("{} {}/{}", s.kind, s.namespace, s.name);
    let tenant = format!("ConferencingTenant {}/{}", s.namespace, s.tenant);
    let id = s.static_id.unwrap_or("(the ID)");
    match (type_, Reason::parse(reason)) {
        (_, Some(Reason::Reconciled)) | ("NotificationDelivered", Some(Reason::Delivered)) => {
            advice("In effect.", "Nothing.")
        }
        (_, Some(Reason::InvalidSpec)) => advice(
            "A field of the spec breaks a rule the API server did not enforce; the message names it.",
            format!("Edit the field named in the message in {object}."),
        ),
        (_, Some(Reason::TenantNotFound)) => {
            let existing = if s.existing_tenants.is_empty() {
                "there is none yet".to_string()
            } else {
                format!("existing: {}", s.existing_tenants.join(", "))
            };
            advice(
                format!(
                    "spec.tenantRef.name names tenant {}, which does not exist in namespace {}.",
                    s.tenant, s.namespace
                ),
                format!(
                    "Create {tenant}, or set spec.tenantRef.name of {object} to a tenant of namespace {} ({existing}).",
                    s.namespace
                ),
            )
        }
        (_, Some(Reason::TenantInvalid)) => advice(
            format!("The user's tenant {} is itself invalid, so none of its users can be reconciled.", s.tenant),
            format!("Fix {tenant}: `kubectl conferencing status -n {}` shows its message.", s.namespace),
        ),
        (_, Some(Reason::ConferenceIdConflict)) => advice(
            format!(
                "The conference ID {id} the spec asks for (spec.conferenceId, or spec.adopt.conferenceId for a user being taken over) is already held by another user of the tenant."
            ),
            format!(
                "Set another spec.conferenceId on {object}, or remove it to get an allocated ID, or take {id} away from its holder first (`kubectl conferencing who-has {id} -n {}`).",
                s.namespace
            ),
        ),
        (_, Some(Reason::AdoptedPinMissing)) => advice(
            "The user is being taken over from another system and waits for the PIN it brings; nothing is provisioned or sent until then.",
            format!(
                "Create the Secret the message names, labelled conferencing.io/adopt-pin: \"true\", with the key it names (`kubectl get secret -n {}`); or remove spec.adopt.pinSecretRef from {object} to give it a new PIN.",
                s.namespace
            ),
        ),
        (_, Some(Reason::IdSpaceExhausted)) => advice(
            "No free conference ID of the tenant's length is left.",
            format!("Raise spec.conferenceIds.length of {tenant}."),
        ),
        (_, Some(Reason::SecretNameTaken)) => advice(
            "A Secret that is not the operator's has the name of this user's PIN Secret; the operator does not overwrite it.",
            format!(
                "Delete or rename that Secret (named in the message; `kubectl get secret -n {}`); {object} is then provisioned.",
                s.namespace
            ),
        ),
        (_, Some(Reason::InternalError)) => advice(
            "The operator hit an error (often the API server) and retries by itself.",
            "Nothing in the spec; if it lasts, read the operator's log and `kubectl describe` the object.",
        ),
        (_, Some(Reason::NotificationsPending)) | ("NotificationDelivered", Some(Reason::Pending)) => advice(
            "E-mails are recorded and waiting to be sent (or retried).",
            "Nothing, unless they stay pending: then check the mail server and the operator's --smtp-url.",
        ),
        (_, Some(Reason::RetryingNotifications)) => advice(
            "A delivery failed for a passing reason and is retried with backoff (up to 5 minutes apart).",
            "Nothing in the spec; if it lasts, check the mail server and the operator's --smtp-url.",
        ),
        ("NotificationDelivered", Some(Reason::Held)) => advice(
            format!("The e-mails owed are held: spec.notifications.hold is true on {tenant}."),
            format!(
                "Set spec.notifications.hold of {tenant} to false to send each once, or give its spec.requests.discardHeldEmails a new value to drop them."
            ),
        ),
        (_, Some(Reason::ReconciliationPaused)) => advice(
            "The object, or its tenant, carries conferencing.io/paused: \"true\": the operator changes nothing and sends nothing for it.",
            format!("Remove the annotation (`kubectl conferencing resume {} -n {}`) to resume.", s.name, s.namespace),
        ),
        (_, Some(Reason::PermanentFailure)) => advice(
            "The mail server refused an e-mail for good.",
            format!(
                "Fix spec.email or spec.sendEmailToAddress of {object} (or, if the relay refuses the sender, spec.notifications.sendEmailFromAddress of {tenant}), then ask again: `kubectl conferencing send-info {} -n {}`.",
                s.name, s.namespace
            ),
        ),
        _ => advice(
            format!("{type_} reason {reason} is not one this plugin knows (a newer operator?)."),
            "See the condition's message.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user<'a>(tenants: &'a [String]) -> Subject<'a> {
        Subject {
            kind: "ConferencingUser",
            namespace: "acme",
            name: "bob",
            tenant: "acme",
            static_id: Some("4455667"),
            existing_tenants: tenants,
        }
    }

    /// Every reason of the status contract has advice of its own, naming a field or a command.
    #[test]
    fn every_contract_reason_is_explained() {
        let tenants = vec!["acme".to_string()];
        let s = user(&tenants);
        let reasons = [
            ("Ready", "InvalidSpec"),
            ("Ready", "TenantNotFound"),
            ("Ready", "TenantInvalid"),
            ("Ready", "ConferenceIdConflict"),
            ("Ready", "IdSpaceExhausted"),
            ("Ready", "SecretNameTaken"),
            ("Ready", "AdoptedPinMissing"),
            ("Ready", "InternalError"),
            ("Reconciling", "NotificationsPending"),
            ("Reconciling", "RetryingNotifications"),
            ("Reconciling", "InternalError"),
            ("Stalled", "InvalidSpec"),
            ("Stalled", "TenantNotFound"),
            ("Stalled", "TenantInvalid"),
            ("Stalled", "ConferenceIdConflict"),
            ("Stalled", "IdSpaceExhausted"),
            ("Stalled", "SecretNameTaken"),
            ("Stalled", "PermanentFailure"),
            ("NotificationDelivered", "Pending"),
            ("NotificationDelivered", "Held"),
            ("NotificationDelivered", "PermanentFailure"),
            ("ReconciliationPaused", "ReconciliationPaused"),
        ];
        for (t, r) in reasons {
            let a = for_reason(t, r, &s);
            assert!(!a.meaning.contains("not one this plugin knows"), "{t}/{r} has no advice");
        }
        // Every condition reason the operator writes is in the list above.
        for r in Reason::all().filter(|r| {
            matches!(
                r,
                Reason::Reconciled
                    | Reason::InvalidSpec
                    | Reason::TenantNotFound
                    | Reason::TenantInvalid
                    | Reason::ConferenceIdConflict
                    | Reason::IdSpaceExhausted
                    | Reason::SecretNameTaken
                    | Reason::AdoptedPinMissing
                    | Reason::InternalError
                    | Reason::ReconciliationPaused
                    | Reason::Delivered
                    | Reason::Pending
                    | Reason::Held
                    | Reason::PermanentFailure
                    | Reason::NotificationsPending
                    | Reason::RetryingNotifications
            )
        }) {
            let advised = r == Reason::Reconciled || r == Reason::Delivered || reasons.iter().any(|(_, x)| r == *x);
            assert!(advised, "{r} has no advice of its own");
        }
        assert!(for_reason("Ready", "ConferenceIdConflict", &s).change.contains("spec.conferenceId"));
        assert!(for_reason("Ready", "ConferenceIdConflict", &s).change.contains("who-has 4455667 -n acme"));
        assert!(for_reason("Ready", "IdSpaceExhausted", &s).change.contains("spec.conferenceIds.length"));
        assert!(for_reason("Stalled", "PermanentFailure", &s).change.contains("spec.email"));
    }

    #[test]
    fn a_missing_tenant_suggests_the_existing_ones() {
        let tenants = vec!["acme".to_string(), "globex".to_string()];
        let mut s = user(&tenants);
        s.tenant = "acne";
        let a = for_reason("Ready", "TenantNotFound", &s);
        assert!(a.meaning.contains("tenant acne"), "{a:?}");
        assert!(a.change.contains("spec.tenantRef.name") && a.change.contains("existing: acme, globex"), "{a:?}");
        let none = for_reason("Ready", "TenantNotFound", &Subject { existing_tenants: &[], ..s });
        assert!(none.change.contains("there is none yet"), "{none:?}");
    }

    #[test]
    fn an_unknown_reason_defers_to_the_message() {
        let a = for_reason("Ready", "SomethingNew", &user(&[]));
        assert!(a.meaning.contains("SomethingNew"));
    }
}
