//! The planner: from what the operator remembers and observes of a user, its spec and its
//! tenant, to a [`Plan`]; and the plan of a user that cannot be planned ([`blocked`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::Reason;
use crate::api::condition::DesiredCondition;
use crate::api::record::UserMemory;
use crate::api::{
    ConditionType, ConferenceIdMode, HandledToken, NotificationKind, PendingNotification, ProviderType, RequestKind,
};
use crate::domain::ConferenceId;
use crate::provisioning::claim::Holder;
use crate::provisioning::secret::{PIN_KEY, pin_secret_name};
use crate::validation::{DesiredService, DisabledReason, NativeService, ValidatedTenant, ValidatedUser};

use super::*;

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
