//! What a user holds: the service of an enabled user (its conference ID, its PIN, its
//! numbers, a static ID another user holds), or its removal.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::Reason;
use crate::api::condition::DesiredCondition;
use crate::api::{ConditionType, ConferenceIdMode, NotificationKind, ProviderType, RequestKind, TakeoverEmail};
use crate::domain::ConferenceId;
use crate::provisioning::claim::Holder;
use crate::provisioning::secret::{PIN_KEY, pin_secret_name};
use crate::validation::{Adoption, DisabledReason, NativeService};

use super::Planner;
use crate::planning::*;

impl<'a> Planner<'a> {
    /// The ID the spec asks for that another live user holds, with the field that asks: the
    /// static ID, or the ID a user about to be taken over brings (the observation already
    /// applies the rule of who owns a contested ID).
    pub(super) fn wanted_id_conflict(&self, svc: &NativeService) -> Option<(&'static str, ConferenceId, &'a Holder)> {
        if let (Some(id), Some(holder)) = (&svc.static_id, self.observed.static_id_holder) {
            return Some(("spec.conferenceId", id.clone(), holder));
        }
        let id = self.takeover()?.conference_id.clone()?;
        Some(("spec.adopt.conferenceId", id, self.observed.adopt_id_holder?))
    }

    /// What `spec.adopt` brings when the user is about to be taken over: not yet provisioned,
    /// and never taken over before (`spec.adopt` is read once).
    pub(super) fn takeover(&self) -> Option<&'a Adoption> {
        self.user.adoption.as_ref().filter(|_| takes_over(self.user, self.prev))
    }

    /// When the ID the spec asks for (in `field`) is held by another user: `Ready` names the
    /// holder. The user keeps its PIN and any other ID; if its memory or a claim of its own
    /// names the contested ID (two users held it, which an earlier version allowed, or a claim
    /// deleted by hand was re-taken), it lets go of it so that the rightful holder can
    /// re-claim it.
    pub(super) fn conflict(&mut self, field: &str, id: &ConferenceId, holder: &Holder) {
        let message = format!(
            "{field} {id} is already held by user {}; choose another ID or remove it from that user",
            holder.name
        );
        if self.next.conference_id.as_deref() == Some(id.as_str()) {
            self.next.conference_id = None;
        }
        let contested: Vec<ConferenceId> = self.observed.own_claims.iter().filter(|c| *c == id).cloned().collect();
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

    /// A user to be taken over whose `spec.adopt.pinSecretRef` cannot be read yet waits, with
    /// nothing provisioned: a PIN generated now would replace the one on its way.
    pub(super) fn wait_for_pin(&mut self, why: &str) {
        let message = format!("waiting for the PIN to adopt: {why}");
        let was = crate::api::condition::find(self.observed.conditions(), ConditionType::Ready);
        if was.is_none_or(|c| Reason::AdoptedPinMissing != c.reason.as_str() || c.message != message) {
            self.events.push(PlannedEvent::warning(Reason::AdoptedPinMissing, message.clone()));
        }
        self.ready = DesiredCondition::false_(ConditionType::Ready, Reason::AdoptedPinMissing, message);
        self.outcomes.clear();
    }

    /// The first provisioning of a user taken over from another system: the conference ID it
    /// brings (unless the spec makes one static), the PIN it brings, and instead of the
    /// licence e-mail the one the tenant's `takeoverEmail` names (none by default; always one
    /// when what was brought as a PIN was not one).
    pub(super) fn take_over(&mut self, svc: &NativeService, adoption: &Adoption) {
        let id = svc
            .static_id
            .clone()
            .or_else(|| adoption.conference_id.clone())
            .or_else(|| self.observed.own_claims.first().cloned());
        self.set_id(id);
        self.set_numbers(svc);
        let generation = self.user.generation;
        // A takeover interrupted before its record write left its PIN Secret: finish it.
        let done = self.observed.pin_secret.flatten().and_then(|g| TakeoverPin::of(g, generation));
        let pin = match (done, self.observed.adoptable_pin) {
            (Some(done), _) => {
                self.next.pin_generation = Some(done.generation(generation));
                self.next.pin_last_reset_time = Some(Time(self.now));
                done
            }
            (None, Some(AdoptablePin::Valid(source))) => {
                self.put_pin(TakeoverPin::Kept.generation(generation), NewPin::Adopt(source.clone()));
                TakeoverPin::Kept
            }
            (None, Some(AdoptablePin::Invalid { source, rule })) => {
                self.events.push(PlannedEvent::warning(
                    Reason::AdoptedPinReplaced,
                    format!(
                        "the PIN in {source} was not adopted: {rule}; a new PIN was generated, and the user is e-mailed it"
                    ),
                ));
                self.set_new_pin(TakeoverPin::Replaced.generation(generation));
                TakeoverPin::Replaced
            }
            (None, Some(AdoptablePin::Waiting(_)) | None) => {
                self.set_new_pin(TakeoverPin::New.generation(generation));
                TakeoverPin::New
            }
        };
        let welcome = self.tenant.takeover_email == TakeoverEmail::Welcome;
        let kind = match pin {
            TakeoverPin::Kept => welcome.then_some(NotificationKind::TakeoverWelcome),
            TakeoverPin::New => welcome.then_some(NotificationKind::TakeoverWelcomeNewPin),
            TakeoverPin::Replaced => Some(NotificationKind::TakeoverWelcomeNewPin),
        };
        if let Some(kind) = kind {
            self.outcome(kind, self.generation_cause(), None, false);
        }
        self.next.taken_over = true;
        let kept_id = match (&svc.static_id, &adoption.conference_id) {
            (Some(s), _) => format!("static conference ID {s}"),
            (None, Some(a)) => format!("conference ID {a} kept (spec.adopt.conferenceId)"),
            (None, None) => "a new conference ID".to_string(),
        };
        let kept_pin = match (pin, self.observed.adoptable_pin) {
            (TakeoverPin::Kept, Some(AdoptablePin::Valid(source))) => format!("the PIN kept from {source}"),
            (TakeoverPin::Kept, _) => "the PIN kept".to_string(),
            (TakeoverPin::New, _) => "a new PIN (none was brought)".to_string(),
            (TakeoverPin::Replaced, _) => "a new PIN (what was brought is not a PIN)".to_string(),
        };
        let mailed = match kind {
            Some(k) => format!("{k} is owed"),
            None => "nobody is e-mailed (notifications.takeoverEmail: None)".to_string(),
        };
        self.events
            .push(PlannedEvent::normal(Reason::TakenOver, format!("taken over: {kept_id}, {kept_pin}; {mailed}")));
    }

    pub(super) fn native(&mut self, svc: &NativeService) {
        let reset_pin = self.new_token(RequestKind::ResetPin);
        let reset_id = self.new_token(RequestKind::ResetConferenceId);
        self.next.conference_id_mode = Some(self.tenant.id_mode);

        if let Some(adoption) = self.takeover() {
            self.take_over(svc, adoption);
        } else if !self.provisioned() {
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
    pub(super) fn keep_or_change_id(&mut self, svc: &NativeService, reset_id: Option<&str>) {
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

    /// The PIN of a provisioned user: a reset, a restore when the Secret is gone, a rotation
    /// when it expired, or the current one.
    pub(super) fn keep_or_change_pin(&mut self, reset_pin: Option<&str>) {
        if let Some(token) = reset_pin {
            self.set_new_pin(format!("reset-pin.{token}"));
            self.outcome(NotificationKind::PinReset, message_id::token_cause(token), None, false);
            return;
        }
        if self.observed.pin_secret.is_some() && self.rotate_if_expired() {
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

    /// Under a `pin.lifetime`: rotates the PIN once it is past its rotation point, the send
    /// window is open and the e-mail cap has room, with the PIN-reset e-mail saying it expired;
    /// otherwise says when to look again. A PIN whose issue time is unknown (a record rebuilt
    /// from an old version's status) starts its lifetime now. Whether it rotated.
    fn rotate_if_expired(&mut self) -> bool {
        if self.tenant.pin_lifetime.is_none() {
            return false;
        }
        if self.prev.pin_last_reset_time.is_none() {
            self.next.pin_last_reset_time = Some(Time(self.now));
            return false;
        }
        let Some(at) = rotation_at(self.user, self.tenant, self.prev) else { return false };
        if self.now < at {
            self.wake_at(at);
            return false;
        }
        // Never a new PIN whose e-mail cannot go (lifting a hold, turning automatic e-mails on
        // or delivering the owed e-mail wakes the user); the send window and the cap hold
        // rotations back too, until a known time.
        if rotation_held(self.tenant, self.prev) {
            return false;
        }
        if let Some(window) = self.tenant.send_window.as_ref().filter(|w| !w.contains(self.now)) {
            self.wake_at(window.next_open(self.now));
            return false;
        }
        if let Some(room) = self.observed.rotation_deferred {
            self.wake_at(room);
            return false;
        }
        let issued = self.prev.pin_last_reset_time.as_ref().map(|t| t.0.as_millisecond()).unwrap_or_default();
        let generation = format!("{EXPIRED_PREFIX}{issued}");
        self.set_new_pin(generation.clone());
        self.events.push(PlannedEvent::normal(
            Reason::PinRotated,
            format!(
                "the PIN expired (pin.lifetime {}): a new PIN was generated, and the user is e-mailed it",
                self.tenant.pin_lifetime.map(|l| l.to_string()).unwrap_or_default()
            ),
        ));
        self.outcome(NotificationKind::PinReset, generation, None, false);
        true
    }

    pub(super) fn disabled(&mut self, reason: &DisabledReason) {
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

    /// Sets the conference ID: `Some(id)` claims it (a no-op when the user's claim is
    /// already there), `None` allocates one. Claims of the user other than the new ID are
    /// released after the record is written.
    pub(super) fn set_id(&mut self, id: Option<ConferenceId>) {
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
    pub(super) fn replacement_of(&self, lost: &ConferenceId) -> Option<ConferenceId> {
        self.observed
            .replacements
            .iter()
            .find(|(new, l)| l == lost && new != lost && self.observed.own_claims.contains(new))
            .map(|(new, _)| new.clone())
    }

    /// Allocates a new ID (`replaces`: the ID the user lost, recorded on the new claim).
    pub(super) fn allocate_id(&mut self, replaces: Option<ConferenceId>) {
        self.provision.id = Some(IdStep::Allocate { length: self.tenant.id_length, replaces });
        // Filled in by the provisioning stage with the ID it claims.
        self.next.conference_id = None;
        self.release_other_claims(None);
    }

    pub(super) fn release_other_claims(&mut self, keep: Option<&ConferenceId>) {
        self.cleanup.release = self.observed.own_claims.iter().filter(|c| Some(*c) != keep).cloned().collect();
    }

    /// Plans a new PIN under `generation`, adopting the one in the Secret if a previous
    /// attempt already generated it.
    pub(super) fn set_new_pin(&mut self, generation: String) {
        let how = Generation {
            length: self.tenant.pin_length,
            rules: self.tenant.pin_rules.clone(),
            history: self.tenant.pin_history,
        };
        self.put_pin(generation, NewPin::Generate(how));
    }

    /// Plans `pin` into the PIN Secret under `generation`, unless a previous attempt already
    /// put it there.
    fn put_pin(&mut self, generation: String, pin: NewPin) {
        let already = self.observed.pin_secret.flatten() == Some(generation.as_str());
        if !already {
            self.provision.pin = Some(PinStep { generation: generation.clone(), pin });
        }
        self.next.pin_generation = Some(generation);
        self.next.pin_last_reset_time = Some(Time(self.now));
    }

    pub(super) fn set_numbers(&mut self, svc: &NativeService) {
        self.next.service_number = Some(svc.toll.number.clone());
        self.next.toll_free_service_number = svc.toll_free.as_ref().map(|n| n.number.clone());
    }
}
