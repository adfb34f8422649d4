//! The decision logic, pure: from (validated user, validated tenant, what was observed, the
//! time) to a [`Plan`]: what to provision, what the operator will remember, what to clean up
//! afterwards, the Events to emit and the e-mails owed. No I/O, no clock, no randomness: one
//! interpreter ([`interpreter`]) carries every plan out, through an effects trait that the
//! controller implements against the API server and the mail relay, and [`world`] in memory
//! (for the planner's tests and `conferencing-operator plan`).
//!
//! What the operator remembers of a user (what it provisioned, the request tokens it
//! handled, the e-mails it owes and delivered) is its record ([`UserMemory`]), kept in a
//! Secret that only someone who could read the user's PIN anyway can write. The status is a
//! mirror of the record for people; the planner reads from it only the conditions' transition
//! times, so whatever someone writes into a status, the operator sends, resends and forgets
//! nothing because of it.
//!
//! Crash safety rests on two rules the plan follows:
//! 1. Every effect that must happen once (a new PIN, a new conference ID) is keyed by what
//!    caused it (a request token, or the generation that enabled the user) and that key is
//!    stored with the effect (the PIN Secret's annotation, the claim's holder). A re-plan
//!    after a crash finds the effect already done and adopts it instead of doing it again.
//! 2. The handled request token, the effect's result and the e-mail owed are recorded in
//!    one write of the record. Until that write succeeds the request still looks new, so it
//!    is never lost; once it succeeds it looks handled, so it is never repeated. An e-mail is
//!    sent only once the record that owes it is stored.
//!
//! The order (provision, commit the record, deliver, mirror, clean up) is the type of a plan's
//! stages ([`interpreter`]): each stage consumes the witness of the one before.

pub mod admission;
pub mod conditions;
pub mod interpreter;
pub mod memory;
pub mod message_id;
pub mod outbox;
pub mod provenance;
pub mod world;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::Reason;
use crate::api::condition::DesiredCondition;
use crate::api::record::UserMemory;
use crate::api::{
    Condition, ConditionType, ConferenceIdMode, ConferencingUserStatus, HandledToken, NotificationKind,
    PendingNotification, ProviderType, RequestKind,
};
use crate::domain::{ConferenceId, IdLength, PinLength};
use crate::provisioning::claim::Holder;
use crate::provisioning::secret::{PIN_KEY, pin_secret_name};
use crate::validation::{DesiredService, DisabledReason, NativeService, ValidatedTenant, ValidatedUser};

/// How many pending e-mails a user's outbox keeps before the oldest is dropped. Bounds the
/// record (and its mirror) when the mail server is down for a long time.
pub const MAX_PENDING: usize = 32;

/// Prefix of the PIN generation (and e-mail cause) of a PIN generated because the Secret was
/// deleted by hand.
pub const RESTORE_PREFIX: &str = "restore.";

/// How many earlier tokens of each request are remembered (see `HandledRequests::previous`).
pub const TOKEN_HISTORY: usize = 8;
/// The most handled tokens `handledRequests.previous` holds: the CRD's `maxItems`.
pub const MAX_TOKEN_HISTORY: usize = TOKEN_HISTORY * RequestKind::ALL.len();

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
    /// Who holds the claim of the ID the memory records, when it is another live user: the
    /// user lost its ID (its claim was deleted by hand and someone else claimed it).
    pub current_id_holder: Option<&'a Holder>,
    /// The user's claims that were allocated to replace an ID it lost to another
    /// user: (new, lost), from the claims (which only the operator writes).
    pub replacements: &'a [(ConferenceId, ConferenceId)],
}

impl Observed<'_> {
    fn conditions(&self) -> &[Condition] {
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

/// A PIN to generate and store in the PIN Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinStep {
    /// What caused it; stored in the Secret's annotation and in the memory.
    pub generation: String,
    /// Digits.
    pub length: PinLength,
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

/// Plans the reconciliation of a user whose spec and tenant are valid.
pub fn plan(user: &ValidatedUser, tenant: &ValidatedTenant, observed: &Observed<'_>, now: Timestamp) -> Plan {
    let prev = &observed.memory.memory;
    let mut p = Planner {
        user,
        tenant,
        observed,
        prev,
        next: prev.clone(),
        provision: Provisioning::default(),
        cleanup: Cleanup::default(),
        events: observed.memory.warnings.clone(),
        outcomes: Vec::new(),
        ready: DesiredCondition::true_(ConditionType::Ready, Reason::Reconciled, ""),
        now,
    };
    if let Some(unreadable) = observed.status.map(|s| &s.unreadable).filter(|u| !u.is_empty()) {
        p.events.push(PlannedEvent::warning(Reason::StatusUnreadable, unreadable_message(unreadable)));
    }
    p.check_outbox();
    p.discard_held();
    match &user.service {
        DesiredService::Native(svc) => {
            if let Some(holder) = p.static_conflict(svc) {
                p.conflict(svc, holder);
                return p.finish(true);
            }
            p.native(svc);
        }
        DesiredService::Disabled(reason) => p.disabled(reason),
    }
    p.finish(true)
}

/// The plan for a user that cannot be planned (invalid spec, missing tenant, a taken Secret
/// name, an internal error): the memory is kept as it is, nothing is provisioned or sent, and
/// the status says why, with a Warning when the reason or message is new.
pub fn blocked(
    observed: &Observed<'_>,
    user: &str,
    generation: Option<i64>,
    reason: Reason,
    message: &str,
    now: Timestamp,
) -> Plan {
    let memory = observed.memory.memory.clone();
    let was = crate::api::condition::find(observed.conditions(), ConditionType::Ready);
    let mut events = observed.memory.warnings.clone();
    if was.is_none_or(|c| reason != c.reason.as_str() || c.message != message) {
        events.push(PlannedEvent::warning(reason, message));
    }
    Plan {
        provision: Provisioning::default(),
        baseline: baseline(observed),
        memory,
        ready: DesiredCondition::false_(ConditionType::Ready, reason, message),
        events,
        outcomes: Vec::new(),
        cleanup: Cleanup::default(),
        deliver: false,
        record: false,
        held_by: None,
        user: user.to_string(),
        generation,
        now,
    }
}

fn baseline(observed: &Observed<'_>) -> Baseline {
    Baseline {
        memory: observed.memory.memory.clone(),
        stored: observed.memory.stored,
        status: observed.status.cloned(),
    }
}

struct Planner<'a> {
    user: &'a ValidatedUser,
    tenant: &'a ValidatedTenant,
    observed: &'a Observed<'a>,
    prev: &'a UserMemory,
    next: UserMemory,
    provision: Provisioning,
    cleanup: Cleanup,
    events: Vec<PlannedEvent>,
    outcomes: Vec<(NotificationKind, String, Option<String>, bool)>,
    ready: DesiredCondition,
    now: Timestamp,
}

impl<'a> Planner<'a> {
    /// The cause of an outcome that is not a request: the user's and the tenant's generation.
    fn generation_cause(&self) -> String {
        message_id::generation_cause(self.user.generation, self.tenant.generation)
    }

    /// Whether the operator remembers enabling the user for audio conferencing. Enough to keep
    /// an enabled user's ID and restore its PIN when its Secret and claim were deleted by hand.
    fn provisioned(&self) -> bool {
        self.prev.provisioned()
    }

    /// Whether the user was enabled, by the memory and by the operator's own objects (its
    /// PIN Secret or a claim): a record rebuilt from an old version's status must not make the
    /// operator tell a user that a licence they never had was removed.
    fn provably_provisioned(&self) -> bool {
        self.provisioned() && (self.observed.pin_secret.is_some() || !self.observed.own_claims.is_empty())
    }

    /// The token of `request` if it asks for the action now: it differs from the one last
    /// handled and was not handled before (a token that comes back, through a Git revert or a
    /// sync of an older commit, is recorded as handled with a Warning, and does nothing).
    fn new_token(&mut self, request: RequestKind) -> Option<String> {
        let requested = self.user.requests.token(request)?;
        let handled = &self.prev.handled_requests;
        if Some(requested) == handled.current(request) {
            return None;
        }
        if handled.handled_before(request, requested) {
            self.events.push(PlannedEvent::warning(Reason::RequestTokenReused,
                format!(
                    "requests.{} {requested:?} was already handled before; nothing was done. To ask again, use a new value (a date or a ticket number)",
                    request.field()
                ),
            ));
            return None;
        }
        Some(requested.clone())
    }

    /// Records the spec's tokens as handled, remembering the ones they replace.
    fn record_tokens(&mut self) {
        for request in RequestKind::ALL {
            let requested = self.user.requests.token(request).cloned();
            let before = self.prev.handled_requests.current(request).cloned();
            // Who asked is recorded when the token is first handled, and kept while it stays.
            let by = match &requested {
                Some(t) if before.as_ref() == Some(t) => self.prev.handled_requests.by(request).cloned(),
                Some(_) => self.user.asked_by(request).cloned(),
                None => None,
            };
            let h = &mut self.next.handled_requests;
            match request {
                RequestKind::ResetPin => (h.reset_pin, h.reset_pin_by) = (requested.clone(), by),
                RequestKind::ResetConferenceId => {
                    (h.reset_conference_id, h.reset_conference_id_by) = (requested.clone(), by)
                }
                RequestKind::SendConferencingInfo => {
                    (h.send_conferencing_info, h.send_conferencing_info_by) = (requested.clone(), by)
                }
            }
            if let Some(old) = before.filter(|old| Some(old) != requested.as_ref()) {
                h.previous.retain(|p| !(p.request == request && p.token == old));
                h.previous.push(HandledToken { request, token: old });
            }
            // Keep the newest TOKEN_HISTORY of each request.
            let mut mine = h.previous.iter().filter(|p| p.request == request).count();
            h.previous.retain(|p| {
                if p.request == request && mine > TOKEN_HISTORY {
                    mine -= 1;
                    return false;
                }
                true
            });
        }
    }

    /// Drops owed e-mails that no longer follow from the user's spec (a newer request replaced
    /// the one that caused it, the licence was removed meanwhile) or from its history as the
    /// operator's own objects show it (a record rebuilt from an old version's status), and
    /// points the rest at the current recipient. An e-mail refused for good is tried again,
    /// once, when the recipient changes. E-mails that the stored status lists and the record
    /// does not owe are someone else's writing: never sent, and reported with the dropped
    /// ones, in one Warning however many there are.
    fn check_outbox(&mut self) {
        let evidence = provenance::Evidence {
            secret_generation: self.observed.pin_secret.flatten(),
            replacements: self.observed.replacements,
        };
        let (kept, mut dropped): (Vec<PendingNotification>, Vec<PendingNotification>) =
            std::mem::take(&mut self.next.notifications.pending)
                .into_iter()
                .partition(|n| provenance::derivable(n, self.user, self.tenant, evidence));
        let known = |id: &str| {
            let n = &self.prev.notifications;
            n.pending.iter().any(|p| p.message_id == id) || n.delivered.iter().any(|d| d.message_id == id)
        };
        if let Some(status) = self.observed.status {
            dropped.extend(status.notifications.pending.iter().filter(|n| !known(&n.message_id)).cloned());
        }
        if let Some(first) = dropped.first() {
            let more = match dropped.len() - 1 {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            self.events.push(PlannedEvent::warning(Reason::NotificationDropped,
                format!(
                    "a pending {} e-mail ({}){more} was dropped without sending: the operator's record of this user does not owe it (the status was edited by someone other than the operator), or it no longer follows from the user's spec (a newer request replaced it)",
                    first.kind,
                    message_id::printable(&first.message_id)
                ),
            ));
        }
        self.next.notifications.pending = kept;
        outbox::retarget(&mut self.next.notifications, &self.user.recipient.to_string());
    }

    /// While the tenant holds its e-mails, a `requests.discardHeldEmails` token other than the
    /// one they were owed under drops them, unsent, with one Warning. The token is remembered
    /// only when it drops something, and e-mails owed later are owed under it (see `finish`),
    /// so it never drops an e-mail owed after it was set.
    fn discard_held(&mut self) {
        let token = &self.tenant.discard_held;
        if !self.tenant.hold || token.is_none() || *token == self.next.discard_token {
            return;
        }
        let (held, failed): (Vec<PendingNotification>, Vec<PendingNotification>) =
            std::mem::take(&mut self.next.notifications.pending).into_iter().partition(|n| !n.permanently_failed);
        self.next.notifications.pending = failed;
        if held.is_empty() {
            return;
        }
        let kinds: Vec<&str> = held.iter().map(|n| n.kind.as_str()).collect();
        self.events.push(PlannedEvent::warning(
            Reason::HeldNotificationsDiscarded,
            format!(
                "{} held e-mail(s) dropped without sending ({}): requests.discardHeldEmails {:?} on tenant {}",
                held.len(),
                kinds.join(", "),
                token.as_deref().unwrap_or_default(),
                self.tenant.name
            ),
        ));
        self.next.discard_token = token.clone();
    }

    /// The holder of the spec's static ID when it is another live user (the observation
    /// already applies the rule of who owns a contested ID).
    fn static_conflict(&self, svc: &NativeService) -> Option<&'a Holder> {
        svc.static_id.as_ref()?;
        self.observed.static_id_holder
    }

    /// When the spec's static ID is held by another user: `Ready` names the holder. The user
    /// keeps its PIN and any other ID; if its memory or a claim of its own names the contested
    /// ID (two users held it, which an earlier version allowed, or a claim deleted by hand
    /// was re-taken), it lets go of it so that the rightful holder can re-claim it.
    fn conflict(&mut self, svc: &NativeService, holder: &Holder) {
        let id = svc.static_id.clone().map(|i| i.to_string()).unwrap_or_default();
        let message = format!(
            "spec.conferenceId {id} is already held by user {}; choose another ID or remove it from that user",
            holder.name
        );
        if self.next.conference_id.as_deref() == Some(id.as_str()) {
            self.next.conference_id = None;
        }
        let contested: Vec<ConferenceId> =
            self.observed.own_claims.iter().filter(|c| c.as_str() == id).cloned().collect();
        self.cleanup.release = contested;
        self.ready = DesiredCondition::false_(ConditionType::Ready, Reason::ConferenceIdConflict, message.clone());
        let was = crate::api::condition::find(self.observed.conditions(), ConditionType::Ready);
        if was.is_none_or(|c| Reason::ConferenceIdConflict != c.reason.as_str() || c.message != message) {
            self.events.push(PlannedEvent::warning(Reason::ConferenceIdConflict, message));
        }
        // Nothing else is decided: the owed e-mails wait (they are not delivered while the
        // user is in conflict), the requests stay new.
        self.outcomes.clear();
    }

    fn native(&mut self, svc: &NativeService) {
        let reset_pin = self.new_token(RequestKind::ResetPin);
        let reset_id = self.new_token(RequestKind::ResetConferenceId);
        self.next.conference_id_mode = Some(self.tenant.id_mode);

        if !self.provisioned() {
            let was_elsewhere = self.prev.licensed == Some(true)
                && self.prev.provider.as_ref().is_some_and(|p| p.type_ != ProviderType::Native);
            let kind = if was_elsewhere {
                NotificationKind::ProviderChangedToNative
            } else {
                NotificationKind::LicenseAssigned
            };
            let id = match &svc.static_id {
                Some(s) => Some(s.clone()),
                None => self.observed.own_claims.first().cloned(),
            };
            self.set_id(id);
            // Keyed by the user's generation only, so that a tenant change inside the crash
            // window does not make the operator forget the PIN it already generated.
            self.set_new_pin(format!("provision.g{}", self.user.generation));
            self.set_numbers(svc);
            // A reset asked for together with provisioning is satisfied by it.
            self.outcome(kind, self.generation_cause(), None, false);
        } else {
            self.keep_or_change_id(svc, reset_id.as_deref());
            self.keep_or_change_pin(reset_pin.as_deref());
            let numbers_before = (self.prev.service_number.clone(), self.prev.toll_free_service_number.clone());
            self.set_numbers(svc);
            if numbers_before != (self.next.service_number.clone(), self.next.toll_free_service_number.clone()) {
                // When the user's spec is unchanged since the last reconcile, the tenant moved.
                let by_tenant = self.prev.observed_generation == Some(self.user.generation);
                self.outcome(NotificationKind::ServiceNumberChanged, self.generation_cause(), None, by_tenant);
            }
        }
        self.handle_info_request(true);
        self.record_tokens();
        self.next.licensed = Some(true);
        self.next.provider = Some(self.user.provider.clone());
        let pin_note = if self.tenant.automatic_emails {
            String::new()
        } else {
            format!(
                "; automatic e-mails are off, so the PIN was not e-mailed: an administrator can read it from Secret {}/{} (key {PIN_KEY})",
                self.user.namespace,
                pin_secret_name(&self.user.name)
            )
        };
        let dynamic = match self.tenant.id_mode {
            ConferenceIdMode::Dynamic => "; the tenant uses dynamic conference IDs for scheduled meetings",
            ConferenceIdMode::Static => "",
        };
        self.ready = DesiredCondition::true_(
            ConditionType::Ready,
            Reason::Reconciled,
            format!("audio conferencing is enabled{dynamic}{pin_note}"),
        );
    }

    /// The conference ID of a provisioned user: a new static ID, a reset, a lost ID, or the
    /// current one (re-claimed if its claim went missing).
    fn keep_or_change_id(&mut self, svc: &NativeService, reset_id: Option<&str>) {
        let current = self.prev.conference_id.as_deref().and_then(ConferenceId::parse);
        match (&svc.static_id, reset_id) {
            (Some(s), _) if current.as_ref() != Some(s) => {
                self.set_id(Some(s.clone()));
                self.outcome(NotificationKind::ConferenceIdReset, self.generation_cause(), None, false);
            }
            (Some(s), token) => {
                if token.is_some() {
                    self.events.push(PlannedEvent::warning(Reason::ConferenceIdResetIgnored,
                        format!(
                            "requests.resetConferenceId was ignored: spec.conferenceId names the static ID {s}; change or remove it to reset"
                        ),
                    ));
                }
                self.set_id(Some(s.clone()));
            }
            (None, Some(token)) => {
                let orphan = self.observed.own_claims.iter().find(|c| Some(*c) != current.as_ref()).cloned();
                self.set_id(orphan);
                self.outcome(NotificationKind::ConferenceIdReset, message_id::token_cause(token), None, false);
            }
            (None, None) => match current {
                None => {
                    let own = self.observed.own_claims.first().cloned();
                    self.set_id(own);
                }
                // A reassignment (below) whose record write did not happen: finish it, and
                // tell the user. Known from the claim, which only the operator writes.
                Some(c) if self.replacement_of(&c).is_some() => {
                    let replacement = self.replacement_of(&c);
                    self.set_id(replacement);
                    self.outcome(NotificationKind::ConferenceIdReset, message_id::reassigned_cause(&c), None, false);
                }
                // The memory names an ID the user has no claim on, while it holds another: the
                // claim is the authority (a record rebuilt from an old version's status may
                // name anything), and no one is e-mailed.
                Some(c) if !self.observed.own_claims.is_empty() && !self.observed.own_claims.contains(&c) => {
                    let own = self.observed.own_claims.first().cloned();
                    self.set_id(own);
                }
                Some(c) if self.observed.current_id_holder.is_some() => {
                    let holder = self.observed.current_id_holder.map(|h| h.name.clone()).unwrap_or_default();
                    self.events.push(PlannedEvent::warning(Reason::ConferenceIdLost,
                        format!(
                            "conference ID {c} is held by user {holder} (this user's claim on it was deleted and the ID taken since); a new ID was allocated"
                        ),
                    ));
                    let orphan = self.observed.own_claims.iter().find(|o| **o != c).cloned();
                    match orphan {
                        Some(o) => self.set_id(Some(o)),
                        None => self.allocate_id(Some(c.clone())),
                    }
                    self.outcome(NotificationKind::ConferenceIdReset, message_id::reassigned_cause(&c), None, false);
                }
                // The usual case; or the claim was deleted by hand: claim it again.
                Some(c) => self.set_id(Some(c)),
            },
        }
    }

    /// The PIN of a provisioned user: a reset, a restore when the Secret is gone, or the
    /// current one.
    fn keep_or_change_pin(&mut self, reset_pin: Option<&str>) {
        if let Some(token) = reset_pin {
            self.set_new_pin(format!("reset-pin.{token}"));
            self.outcome(NotificationKind::PinReset, message_id::token_cause(token), None, false);
            return;
        }
        match self.observed.pin_secret {
            None => {
                // The Secret was deleted (or never was this user's): the user needs a PIN they
                // can read, and to be told. Keyed by the time, so that each restored PIN has
                // its own generation and its e-mail its own Message-ID.
                let generation = format!("{RESTORE_PREFIX}{}", self.now.as_millisecond());
                self.set_new_pin(generation.clone());
                self.events.push(PlannedEvent::warning(
                    Reason::PinSecretMissing,
                    "the PIN Secret was deleted; a new PIN was generated",
                ));
                self.outcome(NotificationKind::PinReset, generation, None, false);
            }
            Some(secret_generation) if secret_generation != self.prev.pin_generation.as_deref() => {
                let g = secret_generation.unwrap_or_default().to_string();
                self.next.pin_generation = Some(g.clone());
                if g.starts_with(RESTORE_PREFIX) {
                    // A restore whose record write did not happen (a crash): adopt it.
                    self.next.pin_last_reset_time = Some(Time(self.now));
                    self.outcome(NotificationKind::PinReset, g, None, false);
                }
            }
            Some(_) => {}
        }
    }

    fn disabled(&mut self, reason: &DisabledReason) {
        if self.provably_provisioned() {
            let (kind, provider) = match reason {
                DisabledReason::Unlicensed => (NotificationKind::LicenseRemoved, None),
                DisabledReason::ThirdParty(name) => (NotificationKind::ProviderChangedAway, Some(name.to_string())),
                DisabledReason::NoProvider => (NotificationKind::ProviderChangedAway, None),
            };
            self.outcome(kind, self.generation_cause(), provider, false);
        }
        // A user who is not enabled holds no ID, number or PIN.
        self.next.conference_id = None;
        self.next.conference_id_mode = None;
        self.next.service_number = None;
        self.next.toll_free_service_number = None;
        self.next.pin_generation = None;
        self.next.pin_last_reset_time = None;
        self.cleanup.delete_pin_secret = self.observed.pin_secret.is_some();
        self.release_other_claims(None);

        for request in [RequestKind::ResetPin, RequestKind::ResetConferenceId] {
            if self.new_token(request).is_some() {
                self.events.push(PlannedEvent::warning(
                    Reason::RequestIgnored,
                    format!("requests.{} was ignored: the user is not enabled for audio conferencing", request.field()),
                ));
            }
        }
        self.handle_info_request(false);
        self.record_tokens();
        self.next.licensed = Some(self.user.licensed);
        self.next.provider = Some(self.user.provider.clone());
        let why = match reason {
            DisabledReason::Unlicensed => "the audio-conferencing licence is not assigned".to_string(),
            DisabledReason::ThirdParty(name) => format!("audio conferencing is provided by {name}"),
            DisabledReason::NoProvider => "the user has no audio-conferencing provider".to_string(),
        };
        self.ready = DesiredCondition::true_(
            ConditionType::Ready,
            Reason::Reconciled,
            format!("audio conferencing is not provided by this operator: {why}"),
        );
    }

    fn handle_info_request(&mut self, enabled: bool) {
        if let Some(token) = self.new_token(RequestKind::SendConferencingInfo) {
            if enabled {
                self.outcome(NotificationKind::ConferencingInfoRequested, message_id::token_cause(&token), None, false);
            } else {
                self.events.push(PlannedEvent::warning(
                    Reason::RequestIgnored,
                    "requests.sendConferencingInfo was ignored: the user is not enabled for audio conferencing",
                ));
            }
        }
    }

    /// Sets the conference ID: `Some(id)` claims it (a no-op when the user's claim is
    /// already there), `None` allocates one. Claims of the user other than the new ID are
    /// released after the record is written.
    fn set_id(&mut self, id: Option<ConferenceId>) {
        match id {
            Some(id) => {
                if !self.observed.own_claims.contains(&id) {
                    self.provision.id = Some(IdStep::Claim(id.clone()));
                }
                self.next.conference_id = Some(id.to_string());
                self.release_other_claims(Some(&id));
            }
            None => self.allocate_id(None),
        }
    }

    /// The user's claim allocated to replace `lost`.
    fn replacement_of(&self, lost: &ConferenceId) -> Option<ConferenceId> {
        self.observed
            .replacements
            .iter()
            .find(|(new, l)| l == lost && new != lost && self.observed.own_claims.contains(new))
            .map(|(new, _)| new.clone())
    }

    /// Allocates a new ID (`replaces`: the ID the user lost, recorded on the new claim).
    fn allocate_id(&mut self, replaces: Option<ConferenceId>) {
        self.provision.id = Some(IdStep::Allocate { length: self.tenant.id_length, replaces });
        // Filled in by the provisioning stage with the ID it claims.
        self.next.conference_id = None;
        self.release_other_claims(None);
    }

    fn release_other_claims(&mut self, keep: Option<&ConferenceId>) {
        self.cleanup.release = self.observed.own_claims.iter().filter(|c| Some(*c) != keep).cloned().collect();
    }

    /// Plans a new PIN under `generation`, adopting the one in the Secret if a previous
    /// attempt already generated it.
    fn set_new_pin(&mut self, generation: String) {
        let already = self.observed.pin_secret.flatten() == Some(generation.as_str());
        if !already {
            self.provision.pin = Some(PinStep { generation: generation.clone(), length: self.tenant.pin_length });
        }
        self.next.pin_generation = Some(generation);
        self.next.pin_last_reset_time = Some(Time(self.now));
    }

    fn set_numbers(&mut self, svc: &NativeService) {
        self.next.service_number = Some(svc.toll.number.clone());
        self.next.toll_free_service_number = svc.toll_free.as_ref().map(|n| n.number.clone());
    }

    fn outcome(&mut self, kind: NotificationKind, cause: String, provider: Option<String>, by_tenant: bool) {
        self.outcomes.push((kind, cause, provider, by_tenant));
    }

    fn finish(mut self, deliver: bool) -> Plan {
        self.next.observed_generation = Some(self.user.generation);
        self.provision.relabel = self.observed.pin_secret_unlabelled
            && self.observed.pin_secret.is_some()
            && !self.cleanup.delete_pin_secret;
        // A PIN Secret an older version wrote is marked once the record holds what that
        // version remembered; a new PIN is written marked anyway.
        self.cleanup.mark_pin_secret = self.observed.pin_secret.is_some()
            && !self.observed.pin_secret_recorded
            && !self.cleanup.delete_pin_secret
            && self.provision.pin.is_none();
        let mut outcomes = Vec::new();
        for (kind, cause, provider, by_tenant) in std::mem::take(&mut self.outcomes) {
            let asked_by = message_id::token_of(&cause).and_then(|token| {
                RequestKind::ALL
                    .into_iter()
                    .find(|r| self.user.requests.token(*r) == Some(&token))
                    .and_then(|r| self.next.handled_requests.by(r).cloned())
            });
            outcomes.push(Outcome { kind, provider_name: provider.clone(), by_tenant, asked_by });
            if kind.is_automatic() && !self.tenant.automatic_emails {
                self.events.push(PlannedEvent::normal(
                    Reason::NotificationSuppressed,
                    format!("{kind} was not e-mailed: automatic e-mails are off for tenant {}", self.tenant.name),
                ));
                continue;
            }
            let message_id = message_id::message_id(&self.user.uid, kind, &cause);
            let known = self.next.notifications.pending.iter().any(|n| n.message_id == message_id)
                || self.next.notifications.delivered.iter().any(|n| n.message_id == message_id);
            if known {
                continue;
            }
            // Owed under the tenant's current discard token: only a later one drops it.
            self.next.discard_token.clone_from(&self.tenant.discard_held);
            self.next.notifications.pending.push(PendingNotification {
                kind,
                message_id,
                recipient: self.user.recipient.to_string(),
                provider_name: provider,
                attempts: 0,
                last_error: None,
                next_attempt_time: None,
                permanently_failed: false,
            });
        }
        let pending = &mut self.next.notifications.pending;
        if pending.len() > MAX_PENDING {
            let dropped = pending.len() - MAX_PENDING;
            pending.drain(..dropped);
            self.events.push(PlannedEvent::warning(
                Reason::NotificationsDropped,
                format!("{dropped} undelivered e-mail(s) were dropped: the outbox keeps at most {MAX_PENDING}"),
            ));
        }
        Plan {
            provision: self.provision,
            baseline: baseline(self.observed),
            memory: self.next,
            ready: self.ready,
            cleanup: self.cleanup,
            events: self.events,
            outcomes,
            deliver: deliver && !self.tenant.hold,
            record: true,
            held_by: self.tenant.hold.then(|| self.tenant.name.clone()),
            user: self.user.name.clone(),
            generation: Some(self.user.generation),
            now: self.now,
        }
    }
}

/// The Event for an outcome, from the memory as written. Never contains the PIN.
pub fn describe(outcome: &Outcome, memory: &UserMemory) -> PlannedEvent {
    let id = memory.conference_id.as_deref().unwrap_or("(none)");
    let provider = outcome.provider_name.as_deref();
    let message = match outcome.kind {
        NotificationKind::LicenseAssigned => {
            format!("enabled for audio conferencing with conference ID {id} and a new PIN")
        }
        NotificationKind::PinReset => "a new PIN was generated".to_string(),
        NotificationKind::ConferenceIdReset => format!("conference ID changed to {id}"),
        NotificationKind::LicenseRemoved => "licence removed: PIN deleted and conference ID released".to_string(),
        NotificationKind::ProviderChangedAway => match provider {
            Some(p) => format!("provider changed to {p}: PIN deleted and conference ID released"),
            None => "provider removed: PIN deleted and conference ID released".to_string(),
        },
        NotificationKind::ProviderChangedToNative => {
            format!("provider changed back to this operator: conference ID {id} and a new PIN")
        }
        NotificationKind::ServiceNumberChanged => {
            format!("dial-in number changed to {}", memory.service_number.as_deref().unwrap_or("(none)"))
        }
        NotificationKind::ConferencingInfoRequested => "conferencing information e-mail requested".to_string(),
    };
    let message = match &outcome.asked_by {
        Some(by) => format!("{message}; {}", asked_by_phrase(by)),
        None => message,
    };
    PlannedEvent::normal(Reason::Outcome(outcome.kind), message)
}

/// "asked by MANAGER at TIME (via MARKER)", for Events and the plugin.
pub fn asked_by_phrase(by: &crate::api::RequestActor) -> String {
    let mut s = format!("asked by {}", by.manager);
    if let Some(t) = &by.time {
        s.push_str(&format!(" at {}", t.0));
    }
    if let Some(g) = &by.gitops {
        s.push_str(&format!(" (tracked by {g})"));
    }
    s
}

/// The Event that says a stored status was rebuilt, naming the fields that were dropped.
pub fn unreadable_message(fields: &[String]) -> String {
    format!(
        "the stored status could not be read in full (it was edited by someone other than the operator) and is rewritten from the operator's record; dropped: {}",
        fields.join(", ")
    )
}

#[cfg(test)]
mod tests;
