//! The planner: from what the operator remembers and observes of a user, its spec and its
//! tenant, to a [`Plan`]; and the plan of a user that cannot be planned ([`blocked`]).

use k8s_openapi::jiff::Timestamp;

use crate::api::Reason;
use crate::api::condition::DesiredCondition;
use crate::api::record::UserMemory;
use crate::api::{ConditionType, DialInDetails, NotificationKind, PendingNotification, RequestKind};
use crate::validation::{DesiredService, ValidatedTenant, ValidatedUser};

use super::*;

mod requests;
mod service;

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
        wake: None,
    };
    if let Some(unreadable) = observed.status.map(|s| &s.unreadable).filter(|u| !u.is_empty()) {
        p.events.push(PlannedEvent::warning(Reason::StatusUnreadable, unreadable_message(unreadable)));
    }
    p.check_outbox();
    p.discard_held();
    match &user.service {
        DesiredService::Native(svc) => {
            if let Some((field, id, holder)) = p.wanted_id_conflict(svc) {
                p.conflict(field, &id, holder);
                return p.finish(true);
            }
            if let (Some(_), Some(AdoptablePin::Waiting(why))) = (p.takeover(), observed.adoptable_pin) {
                p.wait_for_pin(why);
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
        allow_pstn_only_meetings: None,
        pin_expires_at: None,
        wake_at: None,
        send_window: None,
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
    wake: Option<Timestamp>,
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

    /// Asks to be planned again at `at` (the earliest asked for wins).
    fn wake_at(&mut self, at: Timestamp) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
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
            let request = message_id::token_of(&cause)
                .and_then(|token| RequestKind::ALL.into_iter().find(|r| self.user.requests.token(*r) == Some(&token)));
            let asked_by = request.and_then(|r| self.next.handled_requests.by(r).cloned());
            // A request's e-mail goes where `requests.sendEmailToAddress` said when the request
            // was handled, once; every other e-mail to the user's address.
            let one_off = request.and_then(|r| self.next.handled_requests.to(r).cloned());
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
            // What the user had, for the e-mails that tell them it is gone.
            let previous = matches!(kind, NotificationKind::LicenseRemoved | NotificationKind::ProviderChangedAway)
                .then(|| DialInDetails {
                    conference_id: self.prev.conference_id.clone(),
                    service_number: self.prev.service_number.clone(),
                    toll_free_service_number: self.prev.toll_free_service_number.clone(),
                })
                .filter(|d| d != &DialInDetails::default());
            let recipient = one_off.clone().unwrap_or_else(|| self.user.recipient.to_string());
            self.next.notifications.pending.push(PendingNotification {
                one_off: one_off.is_some(),
                previous,
                provider_name: provider,
                ..PendingNotification::owed(kind, message_id, recipient)
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
        let pin_expires_at = rotation_at(self.user, self.tenant, &self.next);
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
            allow_pstn_only_meetings: match &self.user.service {
                DesiredService::Native(svc) => Some(svc.allow_pstn_only_meetings),
                DesiredService::Disabled(_) => None,
            },
            pin_expires_at,
            wake_at: self.wake,
            send_window: self.tenant.send_window.clone(),
            user: self.user.name.clone(),
            generation: Some(self.user.generation),
            now: self.now,
        }
    }
}
