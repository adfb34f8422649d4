//! What planning returns: the plan's parts, as types whose shape is their order and that
//! admit only what can be carried out (one ID step, one PIN step, at most).

use k8s_openapi::jiff::Timestamp;

use crate::api::Reason;
use crate::api::condition::DesiredCondition;
use crate::api::record::UserMemory;
use crate::api::{Condition, ConferencingUserStatus, NotificationKind, PendingNotification, PinSourceRef};
use crate::domain::{ConferenceId, IdLength, PinLength};
use crate::provisioning::claim::Holder;
use crate::provisioning::pin::PinRules;

use super::*;

/// What the controller observed of the user beyond its spec.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    /// What the operator remembers of the user ([`memory::recall`]).
    pub memory: &'a memory::Recalled,
    /// The user's status as stored: compared with the mirror to tell whether it must be
    /// written, and the source of the conditions' transition times. Nothing else in it is
    /// read.
    pub status: Option<&'a ConferencingUserStatus>,
    /// `Some(generation)` when the user's own PIN Secret exists (owned by this user's UID; a
    /// Secret with the right name but another owner counts as absent): the PIN generation
    /// its annotation names.
    pub pin_secret: Option<Option<&'a str>>,
    /// Whether that Secret's labels were removed by hand (the watch cannot see it then).
    pub pin_secret_unlabelled: bool,
    /// Whether that Secret carries the mark of an operator that keeps records (see
    /// [`memory`]); false for one an older version wrote.
    pub pin_secret_recorded: bool,
    /// The conference IDs claimed by this user (from the claim index).
    pub own_claims: &'a [ConferenceId],
    /// Who holds the spec's static ID, when it is another live user: by its claim, or, when
    /// the ID is unclaimed, by that user's memory (a claim deleted by hand does not free an
    /// ID someone still holds).
    pub static_id_holder: Option<&'a Holder>,
    /// Who holds `spec.adopt.conferenceId`, when it is another live user (as for the static
    /// ID).
    pub adopt_id_holder: Option<&'a Holder>,
    /// The PIN `spec.adopt` brings, as read (by the controller; the planner never sees a PIN)
    /// when the user is about to be taken over; `None` when there is none to read.
    pub adoptable_pin: Option<&'a AdoptablePin>,
    /// For a PIN due to be rotated now: `None` when the tenant's e-mail cap has room (the
    /// controller plans with `None`, and takes the room when the plan [`Plan::rotates`]),
    /// else when it will have.
    pub rotation_deferred: Option<Timestamp>,
    /// Who holds the claim of the ID the memory records, when it is another live user: the
    /// user lost its ID (its claim was deleted by hand and someone else claimed it).
    pub current_id_holder: Option<&'a Holder>,
    /// The user's claims that were allocated to replace an ID it lost to another
    /// user: (new, lost), from the claims (which only the operator writes).
    pub replacements: &'a [(ConferenceId, ConferenceId)],
}

impl Observed<'_> {
    pub(crate) fn conditions(&self) -> &[Condition] {
        self.status.map(|s| s.conditions.as_slice()).unwrap_or_default()
    }
}

/// How the user gets its conference ID, before the status write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdStep {
    /// Claim this ID for the user (a static ID, an own claim adopted after a crash, or the
    /// user's current ID whose claim went missing). Claiming an ID the user holds is a no-op.
    Claim(ConferenceId),
    /// Allocate a random unused ID of this length and claim it; the memory records the ID
    /// the claim got.
    Allocate {
        /// Digits.
        length: IdLength,
        /// The ID the user lost to another user, which the new one replaces (recorded on
        /// the claim).
        replaces: Option<ConferenceId>,
    },
}

/// A PIN to store in the PIN Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinStep {
    /// What caused it; stored in the Secret's annotation and in the memory.
    pub generation: String,
    /// Where the PIN comes from.
    pub pin: NewPin,
}

/// Where a PIN comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewPin {
    /// Generated.
    Generate(Generation),
    /// The one a user taken over brought along, from this Secret.
    Adopt(PinSource),
}

/// How a PIN is generated: the tenant's policy as it stands when it is issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// Digits.
    pub length: PinLength,
    /// The rules it meets.
    pub rules: PinRules,
    /// How many of the user's earlier PINs it may not repeat (and are remembered).
    pub history: u8,
}

impl Generation {
    /// Of `length` digits, under the default rules, with no history (for tests and `plan`).
    pub fn of_length(length: PinLength) -> Generation {
        Generation { length, rules: PinRules::default(), history: 0 }
    }
}

/// A Secret holding a PIN to adopt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSource {
    /// A Secret under the PIN Secret's own name, labelled for adoption: it becomes the user's
    /// PIN Secret.
    InPlace,
    /// `spec.adopt.pinSecretRef`: its PIN is copied into the user's PIN Secret.
    Secret(PinSourceRef),
}

impl std::fmt::Display for PinSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinSource::InPlace => f.write_str("the Secret under the PIN Secret's name, labelled for adoption"),
            PinSource::Secret(r) => write!(f, "Secret {} (key {})", r.name, r.key),
        }
    }
}

/// The PIN a user to be taken over brings, as the controller found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdoptablePin {
    /// The source holds a PIN: adopt it.
    Valid(PinSource),
    /// The source holds something that is not a PIN: `rule` says which rule it breaks (never
    /// the value).
    Invalid {
        /// Where.
        source: PinSource,
        /// The rule broken.
        rule: String,
    },
    /// `spec.adopt.pinSecretRef` names a Secret that cannot be read yet: the user waits.
    Waiting(String),
}

/// What to create or update before the record is written, in this order: the PIN Secret's
/// labels, then the ID, so that a new PIN can avoid it, then the PIN. Each is idempotent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provisioning {
    /// Put the labels back on the user's own PIN Secret (removed by hand), keeping its PIN.
    pub relabel: bool,
    /// The conference ID's step, if any.
    pub id: Option<IdStep>,
    /// The PIN's step, if any.
    pub pin: Option<PinStep>,
}

impl Provisioning {
    /// Whether nothing is to be provisioned.
    pub fn is_empty(&self) -> bool {
        !self.relabel && self.id.is_none() && self.pin.is_none()
    }
}

/// What to do once the record is written: remove what it no longer references, and mark a
/// PIN Secret an older version wrote as now recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Mark the PIN Secret (see [`memory`]): the record now holds what the older version kept
    /// in the status, which is never read again.
    pub mark_pin_secret: bool,
    /// Delete the PIN Secret.
    pub delete_pin_secret: bool,
    /// Release these claims.
    pub release: Vec<ConferenceId>,
}

impl Cleanup {
    /// Whether nothing is to be cleaned up.
    pub fn is_empty(&self) -> bool {
        !self.mark_pin_secret && !self.delete_pin_secret && self.release.is_empty()
    }
}

/// Severity of an Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Something happened as asked.
    Normal,
    /// Something needs a person's attention.
    Warning,
}

/// An Event to publish about the user. Messages never contain the PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEvent {
    /// Normal or Warning.
    pub severity: Severity,
    /// Why.
    pub reason: Reason,
    /// Message for a person.
    pub message: String,
}

impl PlannedEvent {
    /// A Normal Event.
    pub fn normal(reason: Reason, message: impl Into<String>) -> Self {
        Self { severity: Severity::Normal, reason, message: message.into() }
    }
    /// A Warning Event.
    pub fn warning(reason: Reason, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, reason, message: message.into() }
    }
}

/// One change the reference system tells the user about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What changed.
    pub kind: NotificationKind,
    /// For ProviderChangedAway: the new provider.
    pub provider_name: Option<String>,
    /// Caused by a change of the tenant rather than of the user.
    pub by_tenant: bool,
    /// Who asked, when a request token caused it.
    pub asked_by: Option<crate::api::RequestActor>,
}

/// What the operator found before planning, which the stages compare against.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Baseline {
    /// The memory planned from.
    pub memory: UserMemory,
    /// Whether it was read from a stored record (else it must be written even if unchanged).
    pub stored: bool,
    /// The status as stored.
    pub status: Option<ConferencingUserStatus>,
}

/// The result of planning: provision, commit the record, deliver, mirror, clean up. Carried
/// out by [`interpreter::execute`]; its fields are private so that nothing else can.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub(crate) provision: Provisioning,
    pub(crate) memory: UserMemory,
    pub(crate) baseline: Baseline,
    pub(crate) ready: DesiredCondition,
    pub(crate) events: Vec<PlannedEvent>,
    pub(crate) outcomes: Vec<Outcome>,
    pub(crate) cleanup: Cleanup,
    /// Whether the e-mails the memory owes are handed to the mail server (not while the user
    /// is blocked, nor while its tenant holds them).
    pub(crate) deliver: bool,
    /// Whether the record may be written: not by a blocked user's plan, which keeps what the
    /// operator remembers as it is (and must report the block even when no record can be
    /// written).
    pub(crate) record: bool,
    /// The tenant holding the user's e-mails (`notifications.hold`), if it does.
    pub(crate) held_by: Option<String>,
    /// Whether callers may start the user's meetings without them, for the status (an
    /// enabled user's spec and tenant say; not part of the memory).
    pub(crate) allow_pstn_only_meetings: Option<bool>,
    /// When the user's PIN will be rotated (`pin.lifetime`), for the status.
    pub(crate) pin_expires_at: Option<Timestamp>,
    /// When to look at the user again for a reason of time: its PIN's rotation, the tenant's
    /// send window opening on what it owes.
    pub(crate) wake_at: Option<Timestamp>,
    /// The tenant's send window: automatic e-mails owed wait for it.
    pub(crate) send_window: Option<crate::schedule::SendWindow>,
    pub(crate) user: String,
    pub(crate) generation: Option<i64>,
    pub(crate) now: Timestamp,
}

impl Plan {
    /// What is provisioned first.
    pub fn provisioning(&self) -> &Provisioning {
        &self.provision
    }
    /// What the operator will remember (an allocated ID is filled in once claimed).
    pub fn memory(&self) -> &UserMemory {
        &self.memory
    }
    /// What is cleaned up last.
    #[cfg(test)]
    pub fn cleanup(&self) -> &Cleanup {
        &self.cleanup
    }
    /// Events decided by planning (outcomes are described once the record is written).
    pub fn events(&self) -> &[PlannedEvent] {
        &self.events
    }
    /// What happened to the user.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Whether the record must be written: the memory changed, or there is no record yet
    /// and the memory holds something (a user the operator knows nothing about yet gets no
    /// record until there is something to remember).
    pub(crate) fn record_write_needed(&self) -> bool {
        if !self.record {
            false
        } else if self.baseline.stored {
            self.memory != self.baseline.memory
        } else {
            self.memory != UserMemory::empty()
        }
    }

    /// Whether the plan rotates the PIN on expiry (`pin.lifetime`): an automatic e-mail, which
    /// takes room under the tenant's cap before the plan is carried out.
    pub fn rotates(&self) -> bool {
        self.provision.pin.as_ref().is_some_and(|p| p.generation.starts_with(EXPIRED_PREFIX))
    }

    /// The e-mails the memory owes that may go now: outside the tenant's send window only
    /// those a request asked for ([`outbox::scheduled`]).
    pub fn due_now(&self) -> Vec<PendingNotification> {
        let closed = self.send_window.as_ref().is_some_and(|w| !w.contains(self.now));
        outbox::due(&self.memory.notifications, self.now)
            .into_iter()
            .filter(|n| !(closed && outbox::scheduled(n)))
            .collect()
    }

    /// Whether carrying the plan out changes nothing: no step, the record as stored, the
    /// status as it would be mirrored, no Event. (E-mails still owed are handed to the mail
    /// server again, which their outcome, not the plan, changes.)
    pub fn is_noop(&self) -> bool {
        self.provision.is_empty()
            && self.cleanup.is_empty()
            && self.events.is_empty()
            && !self.record_write_needed()
            && self.baseline.status.as_ref() == Some(&interpreter::mirror_of(self, &self.memory))
    }
}
