//! The decision logic, pure: from (validated user, validated tenant, what was observed, the
//! time) to a [`Plan`]: what to provision, the status to write, what to clean up afterwards,
//! the Events to emit and the e-mails owed. No I/O, no clock, no randomness: the controller
//! carries plans out (`controller::user::apply`) and every transition is unit-tested here.
//!
//! Crash safety rests on two rules the plan follows:
//! 1. Every effect that must happen once (a new PIN, a new conference ID) is keyed by what
//!    caused it (a request token, or the generation that enabled the user) and that key is
//!    stored with the effect (the PIN Secret's annotation, the claim's holder). A re-plan
//!    after a crash finds the effect already done and adopts it instead of doing it again.
//! 2. The handled request token, the effect's result and the e-mail owed are recorded in
//!    one status write. Until that write succeeds the request still looks new, so it is
//!    never lost; once it succeeds it looks handled, so it is never repeated.
//!
//! The order (provision, then one status write, then clean-up of what the status no longer
//! references) is the shape of [`Plan`], not a convention: a crash never leaves status
//! pointing at nothing.
//!
//! Status is output, not input: it records what happened, and the planner reads it only to
//! know what it already did. Where another writer could have put something there that the
//! operator would act on (an e-mail owed), the planner checks it against the object's own
//! history first ([`provenance`]).

pub mod conditions;
pub mod message_id;
pub mod outbox;
pub mod provenance;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::condition::DesiredCondition;
use crate::api::{
    ConditionType, ConferenceIdMode, ConferencingUserStatus, HandledToken, NotificationKind, PIN_MASK,
    PendingNotification, ProviderType, RequestKind, SecretKeyRef,
};
use crate::domain::{ConferenceId, IdLength, PinLength};
use crate::provisioning::claim::Holder;
use crate::provisioning::secret::{PIN_KEY, pin_secret_name};
use crate::validation::{DesiredService, DisabledReason, NativeService, ValidatedTenant, ValidatedUser};

/// How many pending e-mails a user's outbox keeps before the oldest is dropped. Bounds the
/// status size when the mail server is down for a long time.
pub const MAX_PENDING: usize = 32;

/// Prefix of the PIN generation (and e-mail cause) of a PIN generated because the Secret was
/// deleted by hand.
pub const RESTORE_PREFIX: &str = "restore.";

/// What the controller observed of the user beyond its spec.
#[derive(Clone, Debug, Default)]
pub struct Observed<'a> {
    /// The user's current status.
    pub status: Option<&'a ConferencingUserStatus>,
    /// `Some(generation)` when the user's own PIN Secret exists (owned by this user's UID; a
    /// Secret with the right name but another owner counts as absent): the PIN generation
    /// its annotation names.
    pub pin_secret: Option<Option<&'a str>>,
    /// The conference IDs claimed by this user (from the claim index).
    pub own_claims: &'a [ConferenceId],
    /// Who holds the spec's static ID, when it is another live user: by its claim, or, when
    /// the ID is unclaimed, by that user's status (a claim deleted by hand does not free an ID
    /// someone still holds).
    pub static_id_holder: Option<&'a Holder>,
    /// Who holds the claim of the ID the status records, when it is another live user: the
    /// user lost its ID (its claim was deleted by hand and someone else claimed it).
    pub current_id_holder: Option<&'a Holder>,
    /// The user's claims that were allocated to replace an ID the user lost to another
    /// user: (new, lost), from the claims (which only the operator writes).
    pub replacements: &'a [(ConferenceId, ConferenceId)],
}

/// What to create or update before the status write. Each is idempotent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provision {
    /// Claim this ID for the user (a static ID, an own claim adopted after a crash, or the
    /// user's current ID whose claim went missing). Claiming an ID the user holds is a no-op.
    ClaimId(ConferenceId),
    /// Allocate a random unused ID of this length, claim it, and put it in the status.
    AllocateId {
        /// Digits.
        length: IdLength,
        /// The ID the user lost to another user, which the new one replaces (recorded on
        /// the claim).
        replaces: Option<ConferenceId>,
    },
    /// Generate a PIN of this length and store it in the PIN Secret under `generation`.
    GeneratePin {
        /// What caused it; stored in the Secret's annotation and in `status.pinGeneration`.
        generation: String,
        /// Digits.
        length: PinLength,
    },
}

/// What to remove after the status write, because the status no longer references it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Delete the PIN Secret.
    DeletePinSecret,
    /// Release these claims.
    ReleaseIds(Vec<ConferenceId>),
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
    /// CamelCase reason.
    pub reason: String,
    /// Message for a person.
    pub message: String,
}

impl PlannedEvent {
    /// A Normal Event.
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Normal, reason: reason.into(), message: message.into() }
    }
    /// A Warning Event.
    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, reason: reason.into(), message: message.into() }
    }
}

/// The result of planning: provision, one status write, clean-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Before the status write, in order.
    pub provision: Vec<Provision>,
    /// The status to write (the controller writes it only when it differs from the observed
    /// one). When the plan allocates an ID, `conferenceId` is filled in by the controller with
    /// the ID it claimed.
    pub status: ConferencingUserStatus,
    /// The `Ready` condition the status carries; the other conditions follow from it and
    /// from the outbox ([`conditions::settle`]), also after delivery results are merged in.
    pub ready: DesiredCondition,
    /// After the status write.
    pub cleanup: Vec<Cleanup>,
    /// Events to publish once the status is written.
    pub events: Vec<PlannedEvent>,
    /// What happened to the user, in order: the changes the reference system e-mails about,
    /// whether or not the tenant's policy lets them be e-mailed. Each becomes a Normal Event
    /// (see [`describe`]) once the status is written and the new ID is known, except those a
    /// tenant change caused (the tenant's Event covers them all at once).
    pub outcomes: Vec<Outcome>,
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

impl Plan {
    /// Whether carrying the plan out changes anything, given the status it was planned from.
    pub fn is_noop(&self, observed: Option<&ConferencingUserStatus>) -> bool {
        self.provision.is_empty()
            && self.cleanup.is_empty()
            && observed.is_some_and(|o| o == &self.status)
            && self.events.is_empty()
    }
}

/// Plans the reconciliation of a user whose spec and tenant are valid.
pub fn plan(user: &ValidatedUser, tenant: &ValidatedTenant, observed: &Observed<'_>, now: Timestamp) -> Plan {
    let empty = ConferencingUserStatus::default();
    let prev = observed.status.unwrap_or(&empty);
    let mut p = Planner {
        user,
        tenant,
        observed,
        prev,
        st: ConferencingUserStatus { unreadable: Vec::new(), ..prev.clone() },
        provision: Vec::new(),
        cleanup: Vec::new(),
        events: Vec::new(),
        outcomes: Vec::new(),
        ready: DesiredCondition::true_(ConditionType::Ready, "Reconciled", ""),
        now,
    };
    if !prev.unreadable.is_empty() {
        p.events.push(PlannedEvent::warning("StatusUnreadable", unreadable_message(&prev.unreadable)));
    }
    p.check_outbox();
    match &user.service {
        DesiredService::Native(svc) => {
            if let Some(holder) = p.static_conflict(svc) {
                return p.conflict(svc, holder);
            }
            p.native(svc);
        }
        DesiredService::Disabled(reason) => p.disabled(reason),
    }
    p.finish()
}

struct Planner<'a> {
    user: &'a ValidatedUser,
    tenant: &'a ValidatedTenant,
    observed: &'a Observed<'a>,
    prev: &'a ConferencingUserStatus,
    st: ConferencingUserStatus,
    provision: Vec<Provision>,
    cleanup: Vec<Cleanup>,
    events: Vec<PlannedEvent>,
    outcomes: Vec<(NotificationKind, String, Option<String>, bool)>,
    ready: DesiredCondition,
    now: Timestamp,
}

/// How many earlier tokens of each request are remembered (see `HandledRequests::previous`).
pub const TOKEN_HISTORY: usize = 8;
/// The most handled tokens `status.handledRequests.previous` holds: the CRD's `maxItems`, so a
/// status writer cannot store a longer history than the operator keeps.
pub const MAX_TOKEN_HISTORY: usize = TOKEN_HISTORY * RequestKind::ALL.len();

impl<'a> Planner<'a> {
    /// The cause of an outcome that is not a request: the user's and the tenant's generation.
    fn generation_cause(&self) -> String {
        message_id::generation_cause(self.user.generation, self.tenant.generation)
    }

    /// Whether the status says the user was enabled for audio conferencing. Enough to keep
    /// an enabled user's ID and restore its PIN when its Secret and claim were deleted by hand.
    fn provisioned(&self) -> bool {
        self.prev.pin_secret_ref.is_some()
    }

    /// Whether the user was enabled, by its status and by the operator's own objects (its
    /// PIN Secret or a claim), which a status writer cannot forge: a status edited to look
    /// provisioned must not make the operator tell a user that a licence they never had was
    /// removed.
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
            self.events.push(PlannedEvent::warning(
                "RequestTokenReused",
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
            let h = &mut self.st.handled_requests;
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
            // Keep the newest TOKEN_HISTORY of each request, however many a status writer
            // added: the history written back is bounded whatever was read.
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

    /// Drops pending e-mails the operator cannot derive from the user's own history (another
    /// writer of the status subresource put them there), and points the rest at the current
    /// recipient. An e-mail refused for good is tried again, once, when the recipient changes.
    fn check_outbox(&mut self) {
        let evidence = provenance::Evidence {
            secret_generation: self.observed.pin_secret.flatten(),
            replacements: self.observed.replacements,
        };
        let (kept, dropped): (Vec<PendingNotification>, Vec<PendingNotification>) =
            std::mem::take(&mut self.st.notifications.pending)
                .into_iter()
                .partition(|n| provenance::derivable(n, self.user, self.tenant, evidence));
        // One Warning per status write, however many entries were forged into it: a status
        // writer must not be able to make the operator write an Event per entry.
        if let Some(first) = dropped.first() {
            let more = match dropped.len() - 1 {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            self.events.push(PlannedEvent::warning(
                "NotificationDropped",
                format!(
                    "a pending {} e-mail ({}){more} was dropped without sending: it does not follow from this user's spec and history (the status was edited by someone other than the operator, or a newer request replaced it)",
                    first.kind,
                    message_id::printable(&first.message_id)
                ),
            ));
        }
        self.st.notifications.pending = kept;
        outbox::retarget(&mut self.st, &self.user.recipient.to_string());
    }

    /// The holder of the spec's static ID when it is another live user (the observation
    /// already applies the rule of who owns a contested ID).
    fn static_conflict(&self, svc: &NativeService) -> Option<&'a Holder> {
        svc.static_id.as_ref()?;
        self.observed.static_id_holder
    }

    /// The plan when the spec's static ID is held by another user: `Ready` names the holder.
    /// The user keeps its PIN and any other ID; if its status or a claim of its own names the
    /// contested ID (two users held it, which an earlier version allowed, or a claim deleted
    /// by hand was re-taken), it lets go of it so that the rightful holder can re-claim it.
    fn conflict(mut self, svc: &NativeService, holder: &Holder) -> Plan {
        let id = svc.static_id.clone().map(|i| i.to_string()).unwrap_or_default();
        let message = format!(
            "spec.conferenceId {id} is already held by user {}; choose another ID or remove it from that user",
            holder.name
        );
        if self.st.conference_id.as_deref() == Some(id.as_str()) {
            self.st.conference_id = None;
        }
        let contested: Vec<ConferenceId> =
            self.observed.own_claims.iter().filter(|c| c.as_str() == id).cloned().collect();
        if !contested.is_empty() {
            self.cleanup.push(Cleanup::ReleaseIds(contested));
        }
        self.ready = DesiredCondition::false_(ConditionType::Ready, "ConferenceIdConflict", message.clone());
        let was = crate::api::condition::find(&self.prev.conditions, ConditionType::Ready);
        if was.is_none_or(|c| c.reason != "ConferenceIdConflict" || c.message != message) {
            self.events.push(PlannedEvent::warning("ConferenceIdConflict", message));
        }
        self.st.observed_generation = Some(self.user.generation);
        conditions::settle(&mut self.st, &self.ready, Some(self.user.generation), self.now);
        Plan {
            provision: vec![],
            status: self.st,
            ready: self.ready,
            cleanup: self.cleanup,
            events: self.events,
            outcomes: vec![],
        }
    }

    fn native(&mut self, svc: &NativeService) {
        let reset_pin = self.new_token(RequestKind::ResetPin);
        let reset_id = self.new_token(RequestKind::ResetConferenceId);
        self.st.conference_id_mode = Some(self.tenant.id_mode);

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
            if numbers_before != (self.st.service_number.clone(), self.st.toll_free_service_number.clone()) {
                // When the user's spec is unchanged since the last reconcile, the tenant moved.
                let by_tenant = self.prev.observed_generation == Some(self.user.generation);
                self.outcome(NotificationKind::ServiceNumberChanged, self.generation_cause(), None, by_tenant);
            }
        }
        self.handle_info_request(true);
        self.record_tokens();
        self.st.licensed = Some(true);
        self.st.provider = Some(self.user.provider.clone());
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
            "Reconciled",
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
                    self.events.push(PlannedEvent::warning(
                        "ConferenceIdResetIgnored",
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
                // A reassignment (below) whose status write did not happen: finish it, and
                // tell the user. Known from the claim, which only the operator writes.
                Some(c) if self.replacement_of(&c).is_some() => {
                    let replacement = self.replacement_of(&c);
                    self.set_id(replacement);
                    self.outcome(NotificationKind::ConferenceIdReset, message_id::reassigned_cause(&c), None, false);
                }
                // The status names an ID the user has no claim on, while it holds another: the
                // claim is the record, the status only reports it (or was written by someone
                // else: it decides nothing, and no one is e-mailed).
                Some(c) if !self.observed.own_claims.is_empty() && !self.observed.own_claims.contains(&c) => {
                    let own = self.observed.own_claims.first().cloned();
                    self.set_id(own);
                }
                Some(c) if self.observed.current_id_holder.is_some() => {
                    let holder = self.observed.current_id_holder.map(|h| h.name.clone()).unwrap_or_default();
                    self.events.push(PlannedEvent::warning(
                        "ConferenceIdLost",
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
                    "PinSecretMissing",
                    "the PIN Secret was deleted; a new PIN was generated",
                ));
                self.outcome(NotificationKind::PinReset, generation, None, false);
            }
            Some(secret_generation) if secret_generation != self.prev.pin_generation.as_deref() => {
                let g = secret_generation.unwrap_or_default().to_string();
                self.st.pin_generation = Some(g.clone());
                if g.starts_with(RESTORE_PREFIX) {
                    // A restore whose status write did not happen (a crash): adopt it.
                    self.st.pin_last_reset_time = Some(Time(self.now));
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
        // Whatever the status said (it may have been written by someone else), a user who is
        // not enabled shows no ID, number or PIN.
        self.st.conference_id = None;
        self.st.conference_id_mode = None;
        self.st.service_number = None;
        self.st.toll_free_service_number = None;
        self.st.pin = None;
        self.st.pin_secret_ref = None;
        self.st.pin_generation = None;
        self.st.pin_last_reset_time = None;
        if self.observed.pin_secret.is_some() {
            self.cleanup.push(Cleanup::DeletePinSecret);
        }
        self.release_other_claims(None);

        for request in [RequestKind::ResetPin, RequestKind::ResetConferenceId] {
            if self.new_token(request).is_some() {
                self.events.push(PlannedEvent::warning(
                    "RequestIgnored",
                    format!("requests.{} was ignored: the user is not enabled for audio conferencing", request.field()),
                ));
            }
        }
        self.handle_info_request(false);
        self.record_tokens();
        self.st.licensed = Some(self.user.licensed);
        self.st.provider = Some(self.user.provider.clone());
        let why = match reason {
            DisabledReason::Unlicensed => "the audio-conferencing licence is not assigned".to_string(),
            DisabledReason::ThirdParty(name) => format!("audio conferencing is provided by {name}"),
            DisabledReason::NoProvider => "the user has no audio-conferencing provider".to_string(),
        };
        self.ready = DesiredCondition::true_(
            ConditionType::Ready,
            "Reconciled",
            format!("audio conferencing is not provided by this operator: {why}"),
        );
    }

    fn handle_info_request(&mut self, enabled: bool) {
        if let Some(token) = self.new_token(RequestKind::SendConferencingInfo) {
            if enabled {
                self.outcome(NotificationKind::ConferencingInfoRequested, message_id::token_cause(&token), None, false);
            } else {
                self.events.push(PlannedEvent::warning(
                    "RequestIgnored",
                    "requests.sendConferencingInfo was ignored: the user is not enabled for audio conferencing",
                ));
            }
        }
    }

    /// Sets the conference ID: `Some(id)` claims it (a no-op when the user's claim is
    /// already there), `None` allocates one. Claims of the user other than the new ID are
    /// released after the status write.
    fn set_id(&mut self, id: Option<ConferenceId>) {
        match id {
            Some(id) => {
                if !self.observed.own_claims.contains(&id) {
                    self.provision.push(Provision::ClaimId(id.clone()));
                }
                self.st.conference_id = Some(id.to_string());
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
        self.provision.push(Provision::AllocateId { length: self.tenant.id_length, replaces });
        // Filled in by the controller with the ID it claims.
        self.st.conference_id = None;
        self.release_other_claims(None);
    }

    fn release_other_claims(&mut self, keep: Option<&ConferenceId>) {
        let stale: Vec<ConferenceId> = self.observed.own_claims.iter().filter(|c| Some(*c) != keep).cloned().collect();
        self.cleanup.retain(|a| !matches!(a, Cleanup::ReleaseIds(_)));
        if !stale.is_empty() {
            self.cleanup.push(Cleanup::ReleaseIds(stale));
        }
    }

    /// Plans a new PIN under `generation`, adopting the one in the Secret if a previous
    /// attempt already generated it.
    fn set_new_pin(&mut self, generation: String) {
        let already = self.observed.pin_secret.flatten() == Some(generation.as_str());
        if !already {
            self.provision
                .push(Provision::GeneratePin { generation: generation.clone(), length: self.tenant.pin_length });
        }
        self.st.pin = Some(PIN_MASK.to_string());
        self.st.pin_secret_ref = Some(SecretKeyRef { name: pin_secret_name(&self.user.name), key: PIN_KEY.into() });
        self.st.pin_generation = Some(generation);
        self.st.pin_last_reset_time = Some(Time(self.now));
    }

    fn set_numbers(&mut self, svc: &NativeService) {
        self.st.service_number = Some(svc.toll.number.clone());
        self.st.toll_free_service_number = svc.toll_free.as_ref().map(|n| n.number.clone());
    }

    fn outcome(&mut self, kind: NotificationKind, cause: String, provider: Option<String>, by_tenant: bool) {
        self.outcomes.push((kind, cause, provider, by_tenant));
    }

    fn finish(mut self) -> Plan {
        self.st.observed_generation = Some(self.user.generation);
        let mut outcomes = Vec::new();
        for (kind, cause, provider, by_tenant) in std::mem::take(&mut self.outcomes) {
            let asked_by = message_id::token_of(&cause).and_then(|token| {
                RequestKind::ALL
                    .into_iter()
                    .find(|r| self.user.requests.token(*r) == Some(&token))
                    .and_then(|r| self.st.handled_requests.by(r).cloned())
            });
            outcomes.push(Outcome { kind, provider_name: provider.clone(), by_tenant, asked_by });
            if kind.is_automatic() && !self.tenant.automatic_emails {
                self.events.push(PlannedEvent::normal(
                    "NotificationSuppressed",
                    format!("{kind} was not e-mailed: automatic e-mails are off for tenant {}", self.tenant.name),
                ));
                continue;
            }
            let message_id = message_id::message_id(&self.user.uid, kind, &cause);
            if self.st.notifications.pending.iter().any(|n| n.message_id == message_id) {
                continue;
            }
            self.st.notifications.pending.push(PendingNotification {
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
        let pending = &mut self.st.notifications.pending;
        if pending.len() > MAX_PENDING {
            let dropped = pending.len() - MAX_PENDING;
            pending.drain(..dropped);
            self.events.push(PlannedEvent::warning(
                "NotificationsDropped",
                format!("{dropped} undelivered e-mail(s) were dropped: the outbox keeps at most {MAX_PENDING}"),
            ));
        }
        conditions::settle(&mut self.st, &self.ready, Some(self.user.generation), self.now);
        Plan {
            provision: self.provision,
            status: self.st,
            ready: self.ready,
            cleanup: self.cleanup,
            events: self.events,
            outcomes,
        }
    }
}

/// The Event for an outcome, from the status as written. Never contains the PIN.
pub fn describe(outcome: &Outcome, st: &ConferencingUserStatus) -> PlannedEvent {
    let id = st.conference_id.as_deref().unwrap_or("(none)");
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
            format!("dial-in number changed to {}", st.service_number.as_deref().unwrap_or("(none)"))
        }
        NotificationKind::ConferencingInfoRequested => "conferencing information e-mail requested".to_string(),
    };
    let message = match &outcome.asked_by {
        Some(by) => format!("{message}; {}", asked_by_phrase(by)),
        None => message,
    };
    PlannedEvent::normal(outcome.kind.as_str(), message)
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
        "the stored status could not be read in full (it was edited by someone other than the operator) and is rewritten; dropped: {}",
        fields.join(", ")
    )
}

/// The status for a user that cannot be planned (invalid spec, missing tenant, an internal
/// error): everything the user holds is kept, only the conditions and `observedGeneration`
/// change.
pub fn blocked_status(
    prev: Option<&ConferencingUserStatus>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> ConferencingUserStatus {
    let mut st = prev.cloned().unwrap_or_default();
    st.unreadable = Vec::new();
    st.observed_generation = generation;
    conditions::settle(&mut st, &DesiredCondition::false_(ConditionType::Ready, reason, message), generation, now);
    st
}

#[cfg(test)]
mod tests;
