//! Every `reason` the operator writes: in a condition (`Ready`, `Reconciling`, `Stalled`,
//! `NotificationDelivered`, `ReconciliationPaused`) and in an Event. One enum, so that the
//! controller, `validate` and `plan`, the kubectl plugin's advice and the documentation's
//! tests name the same reasons, and a misspelt one does not compile.

use std::fmt;

use super::NotificationKind;

/// A condition's or an Event's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    // ---- Ready=True
    /// The object's desired state is in effect.
    Reconciled,
    // ---- Ready=False (and Stalled, for all but InternalError)
    /// A field breaks a rule.
    InvalidSpec,
    /// The user's tenant does not exist.
    TenantNotFound,
    /// The user's tenant's spec breaks a rule.
    TenantInvalid,
    /// The user's static conference ID is held by another user.
    ConferenceIdConflict,
    /// No free conference ID of the tenant's length was found.
    IdSpaceExhausted,
    /// A Secret the operator did not make has the name of one of the user's Secrets.
    SecretNameTaken,
    /// A user to be taken over waits for the Secret `spec.adopt.pinSecretRef` names.
    AdoptedPinMissing,
    /// A reconcile (or composing an e-mail) panicked: a bug.
    InternalError,
    // ---- ReconciliationPaused=True
    /// `conferencing.io/paused: "true"` on the object or its tenant.
    ReconciliationPaused,
    // ---- NotificationDelivered, Reconciling, Stalled
    /// Every e-mail owed was delivered.
    Delivered,
    /// E-mails wait to be delivered.
    Pending,
    /// E-mails are held by the tenant (`notifications.hold`).
    Held,
    /// The mail server refused an e-mail for good.
    PermanentFailure,
    /// E-mails are being sent.
    NotificationsPending,
    /// E-mails are being retried after a failure.
    RetryingNotifications,
    // ---- Events
    /// Something that happened to a user, which the reference system e-mails about.
    Outcome(NotificationKind),
    /// A request was ignored: the user is not enabled.
    RequestIgnored,
    /// A request token handled before came back.
    RequestTokenReused,
    /// A conference-ID reset was ignored: the spec names a static ID.
    ConferenceIdResetIgnored,
    /// The user's ID was taken by another user after its claim was deleted.
    ConferenceIdLost,
    /// The user's PIN Secret was deleted; a new PIN was generated.
    PinSecretMissing,
    /// Owed e-mails were dropped unsent.
    NotificationDropped,
    /// The outbox overflowed.
    NotificationsDropped,
    /// The mail server refused an e-mail for good.
    NotificationFailed,
    /// An automatic e-mail was not sent: the tenant turned automatic e-mails off.
    NotificationSuppressed,
    /// The stored status could not be read in full.
    StatusUnreadable,
    /// The operator's record of the user could not be read.
    RecordUnreadable,
    /// Held e-mails were dropped (`requests.discardHeldEmails`).
    HeldNotificationsDiscarded,
    /// A tenant's default dial-in number changed.
    DefaultNumberChanged,
    /// A user was taken over from another system (`spec.adopt`).
    TakenOver,
    /// What a user taken over brought as its PIN is not one; a new PIN replaced it.
    AdoptedPinReplaced,
    /// A PIN expired (`pin.lifetime`) and was rotated.
    PinRotated,
}

impl Reason {
    /// Every reason other than the outcomes, then one per kind of outcome.
    pub fn all() -> impl Iterator<Item = Reason> {
        use Reason::*;
        [
            Reconciled,
            InvalidSpec,
            TenantNotFound,
            TenantInvalid,
            ConferenceIdConflict,
            IdSpaceExhausted,
            SecretNameTaken,
            AdoptedPinMissing,
            InternalError,
            ReconciliationPaused,
            Delivered,
            Pending,
            Held,
            PermanentFailure,
            NotificationsPending,
            RetryingNotifications,
            RequestIgnored,
            RequestTokenReused,
            ConferenceIdResetIgnored,
            ConferenceIdLost,
            PinSecretMissing,
            NotificationDropped,
            NotificationsDropped,
            NotificationFailed,
            NotificationSuppressed,
            StatusUnreadable,
            RecordUnreadable,
            HeldNotificationsDiscarded,
            DefaultNumberChanged,
            TakenOver,
            AdoptedPinReplaced,
            PinRotated,
        ]
        .into_iter()
        .chain(NotificationKind::ALL.into_iter().map(Outcome))
    }

    /// The CamelCase name written in conditions and Events.
    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            Reconciled => "Reconciled",
            InvalidSpec => "InvalidSpec",
            TenantNotFound => "TenantNotFound",
            TenantInvalid => "TenantInvalid",
            ConferenceIdConflict => "ConferenceIdConflict",
            IdSpaceExhausted => "IdSpaceExhausted",
            SecretNameTaken => "SecretNameTaken",
            AdoptedPinMissing => "AdoptedPinMissing",
            InternalError => "InternalError",
            ReconciliationPaused => "ReconciliationPaused",
            Delivered => "Delivered",
            Pending => "Pending",
            Held => "Held",
            PermanentFailure => "PermanentFailure",
            NotificationsPending => "NotificationsPending",
            RetryingNotifications => "RetryingNotifications",
            Outcome(kind) => kind.as_str(),
            RequestIgnored => "RequestIgnored",
            RequestTokenReused => "RequestTokenReused",
            ConferenceIdResetIgnored => "ConferenceIdResetIgnored",
            ConferenceIdLost => "ConferenceIdLost",
            PinSecretMissing => "PinSecretMissing",
            NotificationDropped => "NotificationDropped",
            NotificationsDropped => "NotificationsDropped",
            NotificationFailed => "NotificationFailed",
            NotificationSuppressed => "NotificationSuppressed",
            StatusUnreadable => "StatusUnreadable",
            RecordUnreadable => "RecordUnreadable",
            HeldNotificationsDiscarded => "HeldNotificationsDiscarded",
            DefaultNumberChanged => "DefaultNumberChanged",
            TakenOver => "TakenOver",
            AdoptedPinReplaced => "AdoptedPinReplaced",
            PinRotated => "PinRotated",
        }
    }

    /// The reason a condition or Event read from the API names, if it is one of the
    /// operator's.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::all().find(|r| r.as_str() == s)
    }

    /// Whether `Ready=False` with this reason cannot clear without a change by a person (so
    /// the object is also `Stalled`).
    pub fn stalls(self) -> bool {
        use Reason::*;
        matches!(
            self,
            InvalidSpec | TenantNotFound | TenantInvalid | ConferenceIdConflict | IdSpaceExhausted | SecretNameTaken
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// So that a reason read back from an object compares with one the operator writes.
impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_and_has_one_name() {
        let names: Vec<&str> = Reason::all().map(Reason::as_str).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "two reasons share a name: {names:?}");
        for r in Reason::all() {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::parse("Reconcile"), None);
    }
}
