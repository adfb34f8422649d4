//! The requests a user's spec makes (their tokens handled once, who asked) and the e-mails
//! owed that no longer follow from the spec.

use crate::api::Reason;
use crate::api::{HandledToken, NotificationKind, PendingNotification, RequestKind};

use super::Planner;
use crate::planning::*;

impl Planner<'_> {
    /// The token of `request` if it asks for the action now: it differs from the one last
    /// handled and was not handled before (a token that comes back, through a Git revert or a
    /// sync of an older commit, is recorded as handled with a Warning, and does nothing).
    pub(super) fn new_token(&mut self, request: RequestKind) -> Option<String> {
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
    pub(super) fn record_tokens(&mut self) {
        for request in RequestKind::ALL {
            let requested = self.user.requests.token(request).cloned();
            let before = self.prev.handled_requests.current(request).cloned();
            // Who asked, and where its e-mails went when that was a one-off address, are
            // recorded when the token is first handled, and kept while it stays.
            let (by, to) = match &requested {
                Some(t) if before.as_ref() == Some(t) => {
                    (self.prev.handled_requests.by(request).cloned(), self.prev.handled_requests.to(request).cloned())
                }
                Some(_) => (
                    self.user.asked_by(request).cloned(),
                    self.user.request_recipient.as_ref().map(ToString::to_string),
                ),
                None => (None, None),
            };
            let h = &mut self.next.handled_requests;
            match request {
                RequestKind::ResetPin => (h.reset_pin, h.reset_pin_by, h.reset_pin_to) = (requested.clone(), by, to),
                RequestKind::ResetConferenceId => {
                    (h.reset_conference_id, h.reset_conference_id_by, h.reset_conference_id_to) =
                        (requested.clone(), by, to)
                }
                RequestKind::SendConferencingInfo => {
                    (h.send_conferencing_info, h.send_conferencing_info_by, h.send_conferencing_info_to) =
                        (requested.clone(), by, to)
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
    pub(super) fn check_outbox(&mut self) {
        let evidence = provenance::Evidence {
            secret_generation: self.observed.pin_secret.flatten(),
            replacements: self.observed.replacements,
        };
        let (kept, mut dropped): (Vec<PendingNotification>, Vec<PendingNotification>) =
            std::mem::take(&mut self.next.notifications.pending).into_iter().partition(|n| {
                provenance::derivable(n, self.user, self.tenant, evidence)
                        // A one-off address the tenant no longer allows is never sent to.
                        && (!n.one_off
                            || crate::domain::EmailAddress::parse(&n.recipient)
                                .is_ok_and(|a| self.tenant.allows_recipient(&a)))
            });
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
    pub(super) fn discard_held(&mut self) {
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

    pub(super) fn handle_info_request(&mut self, enabled: bool) {
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
}
