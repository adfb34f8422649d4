//! The decision logic, pure: from (validated user, validated tenant, what was observed, the
//! time) to a [`Plan`]: the actions to take in order, the status to write, the Events to
//! emit and the e-mails owed. No I/O, no clock, no randomness: the controller carries plans
//! out (`controller::user::apply`) and every transition is unit-tested here.
//!
//! Crash safety rests on two rules the plan follows:
//! 1. Every effect that must happen once (a new PIN, a new conference ID) is keyed by what
//!    caused it (a request token, or the generation that enabled the user) and that key is
//!    stored with the effect (the PIN Secret's annotation, the claim's holder). A re-plan
//!    after a crash finds the effect already done and adopts it instead of doing it again.
//! 2. The handled request token, the effect's result and the e-mail owed are recorded in
//!    one status write. Until that write succeeds the request still looks new, so it is
//!    never lost; once it succeeds the request looks handled, so it is never repeated.
//!    Clean-up of what the status no longer references (an old claim, a deleted user's PIN
//!    Secret) comes after the write, so a crash never leaves status pointing at nothing.

pub mod message_id;
pub mod outbox;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::condition::{DesiredCondition, merge_conditions};
use crate::api::{
    ConditionType, ConferencingUserStatus, NotificationKind, PIN_MASK, PendingNotification, ProviderType, SecretKeyRef,
};
use crate::provisioning::claim::Holder;
use crate::provisioning::secret::{PIN_KEY, pin_secret_name};
use crate::validation::{
    ConferenceId, DesiredService, DisabledReason, IdLength, NativeService, PinLength, ValidatedTenant, ValidatedUser,
};

/// How many pending e-mails a user's outbox keeps before the oldest is dropped. Bounds the
/// status size when the mail server is down for a long time.
pub const MAX_PENDING: usize = 32;

/// What the controller observed of the user beyond its spec.
#[derive(Clone, Debug, Default)]
pub struct Observed<'a> {
    /// The user's current status.
    pub status: Option<&'a ConferencingUserStatus>,
    /// `Some(generation)` when the PIN Secret exists: the PIN generation it holds.
    pub pin_secret: Option<Option<&'a str>>,
    /// The conference IDs claimed by this user (from the claim index).
    pub own_claims: &'a [ConferenceId],
    /// The holder of the spec's static ID, when it is a user other than this one.
    pub static_id_holder: Option<&'a Holder>,
}

/// One step, carried out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Claim this ID for the user (a static ID, or an own claim adopted after a crash).
    /// Claiming an ID the user already holds is a no-op.
    ClaimId(ConferenceId),
    /// Allocate a random unused ID of this length, claim it, and put it in the status.
    AllocateId(IdLength),
    /// Generate a PIN of this length and store it in the PIN Secret under `generation`.
    GeneratePin {
        /// What caused it; stored in the Secret's annotation and in `status.pinGeneration`.
        generation: String,
        /// Digits.
        length: PinLength,
    },
    /// Write the planned status.
    WriteStatus,
    /// Delete the PIN Secret (after the status no longer references it).
    DeletePinSecret,
    /// Release these claims (after the status no longer references them).
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
    fn normal(reason: &str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Normal, reason: reason.into(), message: message.into() }
    }
    fn warning(reason: &str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, reason: reason.into(), message: message.into() }
    }
}

/// The result of planning.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Steps in order. [`Action::WriteStatus`] is present only when the status changes.
    pub actions: Vec<Action>,
    /// The status to write. When the plan allocates an ID, `conferenceId` is filled in by
    /// the controller with the ID it claimed.
    pub status: ConferencingUserStatus,
    /// Events to publish once the status is written.
    pub events: Vec<PlannedEvent>,
    /// What happened to the user, in order: the notifications the reference system sends,
    /// whether or not the tenant's policy lets them be e-mailed. Each becomes a Normal Event
    /// (see [`describe`]) once the status is written and the new ID is known.
    pub outcomes: Vec<Outcome>,
}

/// One change the reference system tells the user about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What changed.
    pub kind: NotificationKind,
    /// For ProviderChangedAway: the new provider.
    pub provider_name: Option<String>,
}

impl Plan {
    /// Whether the plan changes anything.
    pub fn is_noop(&self) -> bool {
        self.actions.is_empty()
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
        st: prev.clone(),
        pre: Vec::new(),
        post: Vec::new(),
        events: Vec::new(),
        outcomes: Vec::new(),
        now,
    };
    match &user.service {
        DesiredService::Native(svc) => {
            if let Some(holder) = p.static_conflict(svc) {
                return conflict_plan(user, prev, holder, now);
            }
            p.native(svc);
        }
        DesiredService::Disabled(reason) => p.disabled(reason),
    }
    p.finish()
}

/// The plan when the spec's static ID is held by another user: nothing about the user
/// changes but the Ready condition, which names the holder.
fn conflict_plan(user: &ValidatedUser, prev: &ConferencingUserStatus, holder: &Holder, now: Timestamp) -> Plan {
    let mut st = prev.clone();
    let id = match &user.service {
        DesiredService::Native(svc) => svc.static_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        _ => String::new(),
    };
    let message = format!(
        "spec.conferenceId {id} is already held by user {}; choose another ID or remove it from that user",
        holder.name
    );
    st.observed_generation = Some(user.generation);
    st.conditions = merge_conditions(
        &prev.conditions,
        &[DesiredCondition::false_(ConditionType::Ready, "ConferenceIdConflict", message.clone())],
        Some(user.generation),
        now,
    );
    let changed = &st != prev;
    Plan {
        actions: if changed { vec![Action::WriteStatus] } else { vec![] },
        events: if changed { vec![PlannedEvent::warning("ConferenceIdConflict", message)] } else { vec![] },
        status: st,
        outcomes: vec![],
    }
}

struct Planner<'a> {
    user: &'a ValidatedUser,
    tenant: &'a ValidatedTenant,
    observed: &'a Observed<'a>,
    prev: &'a ConferencingUserStatus,
    st: ConferencingUserStatus,
    pre: Vec<Action>,
    post: Vec<Action>,
    events: Vec<PlannedEvent>,
    outcomes: Vec<(NotificationKind, String, Option<String>)>,
    now: Timestamp,
}

/// A request token that differs from the one last handled.
fn new_token<'t>(requested: &'t Option<String>, handled: &Option<String>) -> Option<&'t str> {
    match requested {
        Some(t) if Some(t) != handled.as_ref() => Some(t.as_str()),
        _ => None,
    }
}

impl<'a> Planner<'a> {
    /// The cause of an outcome that is not a request: the user's and the tenant's generation.
    fn generation_cause(&self) -> String {
        format!("g{}.t{}", self.user.generation, self.tenant.generation)
    }

    fn provisioned(&self) -> bool {
        self.prev.pin_secret_ref.is_some()
    }

    fn static_conflict(&self, svc: &NativeService) -> Option<&'a Holder> {
        let id = svc.static_id.as_ref()?;
        if self.prev.conference_id.as_deref() == Some(id.as_str()) && self.observed.static_id_holder.is_none() {
            return None;
        }
        self.observed.static_id_holder
    }

    fn native(&mut self, svc: &NativeService) {
        let tokens = &self.user.requests;
        let handled = &self.prev.handled_requests;
        let reset_pin = new_token(&tokens.reset_pin, &handled.reset_pin);
        let reset_id = new_token(&tokens.reset_conference_id, &handled.reset_conference_id);
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
            self.outcome(kind, self.generation_cause(), None);
        } else {
            let current = self.prev.conference_id.clone();
            match (&svc.static_id, reset_id) {
                (Some(s), _) if current.as_deref() != Some(s.as_str()) => {
                    self.set_id(Some(s.clone()));
                    self.outcome(NotificationKind::ConferenceIdReset, self.generation_cause(), None);
                }
                (Some(s), Some(_)) => self.events.push(PlannedEvent::warning(
                    "ConferenceIdResetIgnored",
                    format!(
                        "requests.resetConferenceId was ignored: spec.conferenceId names the static ID {s}; change or remove it to reset"
                    ),
                )),
                (None, Some(token)) => {
                    let orphan = self
                        .observed
                        .own_claims
                        .iter()
                        .find(|c| Some(c.as_str()) != current.as_deref())
                        .cloned();
                    self.set_id(orphan);
                    self.outcome(NotificationKind::ConferenceIdReset, message_id::token_cause(token), None);
                }
                _ if current.is_none() => self.set_id(None),
                _ => self.release_other_claims(current.as_deref()),
            }

            if let Some(token) = reset_pin {
                self.set_new_pin(format!("reset-pin.{token}"));
                self.outcome(NotificationKind::PinReset, message_id::token_cause(token), None);
            } else if self.observed.pin_secret.is_none() {
                // Someone deleted the Secret: the user needs a PIN they can read, and to be told.
                let prev_gen = self.prev.pin_generation.clone().unwrap_or_default();
                self.set_new_pin(format!("restore.{prev_gen}"));
                self.events.push(PlannedEvent::warning(
                    "PinSecretMissing",
                    "the PIN Secret was deleted; a new PIN was generated",
                ));
                self.outcome(NotificationKind::PinReset, format!("restore.{}", self.generation_cause()), None);
            }

            let numbers_before = (self.prev.service_number.clone(), self.prev.toll_free_service_number.clone());
            self.set_numbers(svc);
            if numbers_before != (self.st.service_number.clone(), self.st.toll_free_service_number.clone()) {
                self.outcome(NotificationKind::ServiceNumberChanged, self.generation_cause(), None);
            }
        }
        self.handle_info_request(true);
        self.st.handled_requests.reset_pin = tokens.reset_pin.clone();
        self.st.handled_requests.reset_conference_id = tokens.reset_conference_id.clone();
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
            crate::api::ConferenceIdMode::Dynamic => "; the tenant uses dynamic conference IDs for scheduled meetings",
            crate::api::ConferenceIdMode::Static => "",
        };
        self.ready(format!("audio conferencing is enabled{dynamic}{pin_note}"));
    }

    fn disabled(&mut self, reason: &DisabledReason) {
        if self.provisioned() {
            let (kind, provider) = match reason {
                DisabledReason::Unlicensed => (NotificationKind::LicenseRemoved, None),
                DisabledReason::ThirdParty(name) => (NotificationKind::ProviderChangedAway, Some(name.clone())),
                DisabledReason::NoProvider => (NotificationKind::ProviderChangedAway, None),
            };
            self.st.conference_id = None;
            self.st.conference_id_mode = None;
            self.st.service_number = None;
            self.st.toll_free_service_number = None;
            self.st.pin = None;
            self.st.pin_secret_ref = None;
            self.st.pin_generation = None;
            self.st.pin_last_reset_time = None;
            self.outcome(kind, self.generation_cause(), provider);
        }
        if self.observed.pin_secret.is_some() {
            self.post.push(Action::DeletePinSecret);
        }
        self.release_other_claims(None);

        let tokens = &self.user.requests;
        let handled = &self.prev.handled_requests;
        for (name, requested, done) in [
            ("resetPin", &tokens.reset_pin, &handled.reset_pin),
            ("resetConferenceId", &tokens.reset_conference_id, &handled.reset_conference_id),
        ] {
            if new_token(requested, done).is_some() {
                self.events.push(PlannedEvent::warning(
                    "RequestIgnored",
                    format!("requests.{name} was ignored: the user is not enabled for audio conferencing"),
                ));
            }
        }
        self.handle_info_request(false);
        self.st.handled_requests.reset_pin = tokens.reset_pin.clone();
        self.st.handled_requests.reset_conference_id = tokens.reset_conference_id.clone();
        self.st.licensed = Some(self.user.licensed);
        self.st.provider = Some(self.user.provider.clone());
        let why = match reason {
            DisabledReason::Unlicensed => "the audio-conferencing licence is not assigned".to_string(),
            DisabledReason::ThirdParty(name) => format!("audio conferencing is provided by {name}"),
            DisabledReason::NoProvider => "the user has no audio-conferencing provider".to_string(),
        };
        self.ready(format!("audio conferencing is not provided by this operator: {why}"));
    }

    fn handle_info_request(&mut self, enabled: bool) {
        let tokens = &self.user.requests;
        if let Some(token) =
            new_token(&tokens.send_conferencing_info, &self.prev.handled_requests.send_conferencing_info)
        {
            if enabled {
                self.outcome(NotificationKind::ConferencingInfoRequested, message_id::token_cause(token), None);
            } else {
                self.events.push(PlannedEvent::warning(
                    "RequestIgnored",
                    "requests.sendConferencingInfo was ignored: the user is not enabled for audio conferencing",
                ));
            }
        }
        self.st.handled_requests.send_conferencing_info = tokens.send_conferencing_info.clone();
    }

    /// Sets the conference ID: `Some(id)` claims it, `None` allocates one. Claims of the
    /// user other than the new ID are released after the status write.
    fn set_id(&mut self, id: Option<ConferenceId>) {
        match id {
            Some(id) => {
                self.pre.push(Action::ClaimId(id.clone()));
                self.st.conference_id = Some(id.to_string());
                self.release_other_claims(Some(id.as_str()));
            }
            None => {
                self.pre.push(Action::AllocateId(self.tenant.id_length));
                // Filled in by the controller with the ID it claims.
                self.st.conference_id = None;
                self.release_other_claims(None);
            }
        }
    }

    fn release_other_claims(&mut self, keep: Option<&str>) {
        let stale: Vec<ConferenceId> =
            self.observed.own_claims.iter().filter(|c| Some(c.as_str()) != keep).cloned().collect();
        self.post.retain(|a| !matches!(a, Action::ReleaseIds(_)));
        if !stale.is_empty() {
            self.post.push(Action::ReleaseIds(stale));
        }
    }

    /// Plans a new PIN under `generation`, adopting the one in the Secret if a previous
    /// attempt already generated it.
    fn set_new_pin(&mut self, generation: String) {
        let already = self.observed.pin_secret.flatten() == Some(generation.as_str());
        if !already {
            self.pre.push(Action::GeneratePin { generation: generation.clone(), length: self.tenant.pin_length });
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

    fn outcome(&mut self, kind: NotificationKind, cause: String, provider: Option<String>) {
        self.outcomes.push((kind, cause, provider));
    }

    fn ready(&mut self, message: String) {
        self.st.conditions = merge_conditions(
            &self.prev.conditions,
            &[DesiredCondition::true_(ConditionType::Ready, "Reconciled", message)],
            Some(self.user.generation),
            self.now,
        );
    }

    fn finish(mut self) -> Plan {
        self.st.observed_generation = Some(self.user.generation);
        let mut outcomes = Vec::new();
        for (kind, cause, provider) in std::mem::take(&mut self.outcomes) {
            outcomes.push(Outcome { kind, provider_name: provider.clone() });
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

        let mut actions = self.pre;
        if &self.st != self.prev || !actions.is_empty() {
            actions.push(Action::WriteStatus);
        }
        actions.extend(self.post);
        Plan { actions, status: self.st, events: self.events, outcomes }
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
    PlannedEvent::normal(outcome.kind.as_str(), message)
}

/// The status for a user that cannot be planned (invalid spec, missing tenant): everything
/// the user holds is kept, only `Ready` and `observedGeneration` change.
pub fn blocked_status(
    prev: Option<&ConferencingUserStatus>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> ConferencingUserStatus {
    let mut st = prev.cloned().unwrap_or_default();
    st.observed_generation = generation;
    st.conditions = merge_conditions(
        &st.conditions,
        &[DesiredCondition::false_(ConditionType::Ready, reason, message)],
        generation,
        now,
    );
    st
}

#[cfg(test)]
mod tests;
