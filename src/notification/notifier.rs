//! Turns an e-mail owed to a user into a message: picks the sender and the locale, builds
//! the template context, renders and composes. Everything that decides who receives what is
//! taken from the user's spec, the tenant and the operator's record of the user
//! ([`prepare`](Notifier::prepare)): the pending entry comes from that record (never from the
//! status), and contributes its kind, its Message-ID, the dial-in details a user who lost them
//! had, and, for a request's e-mail sent to `requests.sendEmailToAddress`, that address.

use lettre::message::{Mailbox, Message};

use super::mail::{Transport, compose};
use super::templates::{MessageContext, NumberView, Templates};
use crate::api::record::UserMemory;
use crate::api::{ConferenceIdMode, DialInDetails, Locale, NotificationKind, PendingNotification};
use crate::domain::EmailAddress;
use crate::planning::outbox::Attempt;
use crate::provisioning::pin::Pin;
use crate::validation::{DesiredService, DisabledReason, ValidatedTenant, ValidatedUser};

/// Everything needed to send e-mails.
pub struct Notifier {
    /// Rendered per message.
    pub templates: Templates,
    /// Where messages go.
    pub transport: Transport,
    /// The operator's sender, unless the tenant overrides it.
    pub default_from: Mailbox,
}

/// An e-mail ready to be rendered once its PIN (for the kinds that carry one) is known.
#[derive(Clone, Debug)]
pub struct PreparedEmail {
    /// Why it is sent.
    pub kind: NotificationKind,
    /// Its Message-ID.
    pub message_id: String,
    /// Language.
    pub locale: Locale,
    /// Template variables; `pin` is filled in at send time.
    pub context: MessageContext,
    /// Sender.
    pub from: Mailbox,
    /// Recipient: the spec's, or a request's one-off address ([`recipient`]).
    pub to: Mailbox,
}

impl Notifier {
    /// The sender for `tenant`'s users.
    pub fn sender(&self, tenant: &ValidatedTenant) -> Mailbox {
        match &tenant.sender {
            Some(s) => Mailbox::new(s.display_name.as_ref().map(ToString::to_string), s.address.address().clone()),
            None => self.default_from.clone(),
        }
    }

    /// The e-mail for a pending entry, addressed to the recipient the spec names now (or the
    /// entry's one-off address); `None` when that one-off address is no longer allowed.
    pub fn prepare(
        &self,
        entry: &PendingNotification,
        user: &ValidatedUser,
        tenant: &ValidatedTenant,
        memory: &UserMemory,
    ) -> Option<PreparedEmail> {
        Some(PreparedEmail {
            kind: entry.kind,
            message_id: entry.message_id.clone(),
            locale: user.locale,
            context: context(entry, user, tenant, memory, None),
            from: self.sender(tenant),
            to: recipient(entry, user, tenant)?,
        })
    }

    /// Renders and composes the message. Failures are permanent: the same inputs cannot
    /// render differently on a retry.
    pub fn build(&self, email: &PreparedEmail, pin: Option<Pin>) -> Result<Message, String> {
        let mut ctx = email.context.clone();
        ctx.pin = if email.kind.carries_pin() { pin } else { None };
        let rendered = self
            .templates
            .render(email.kind, email.locale, &ctx)
            .map_err(|e| format!("rendering the {} e-mail: {e}", email.kind))?;
        compose(&rendered, email.from.clone(), email.to.clone(), &email.message_id).map_err(|e| e.to_string())
    }

    /// Sends a message and classifies the result.
    pub async fn send(&self, message: Message) -> Attempt {
        self.transport.send(message).await
    }
}

/// Where `entry` goes: the address the spec names now; for a request's e-mail that was sent
/// to `requests.sendEmailToAddress`, that address, if the tenant (and the cluster) still allow
/// its domain (`None` otherwise: it is not sent).
pub fn recipient(entry: &PendingNotification, user: &ValidatedUser, tenant: &ValidatedTenant) -> Option<Mailbox> {
    if !entry.one_off {
        return Some(Mailbox::new(None, user.recipient.address().clone()));
    }
    let address = EmailAddress::parse(&entry.recipient).ok().filter(|a| tenant.allows_recipient(a))?;
    Some(Mailbox::new(None, address.address().clone()))
}

/// The template context for the e-mail `entry`, from the user's validated spec, its tenant and
/// the operator's record of it (`memory`).
pub fn context(
    entry: &PendingNotification,
    user: &ValidatedUser,
    tenant: &ValidatedTenant,
    memory: &UserMemory,
    pin: Option<Pin>,
) -> MessageContext {
    let kind = entry.kind;
    let view = |number: &Option<String>| {
        number.as_ref().map(|n| {
            let known = tenant.numbers.iter().find(|s| &s.number == n);
            NumberView {
                number: n.clone(),
                city: known.and_then(|s| s.city.as_ref().map(ToString::to_string)),
                country: known.and_then(|s| s.country.clone()),
                language: known.and_then(|s| s.language.clone()),
            }
        })
    };
    let provider_name = match (&user.service, kind) {
        (DesiredService::Disabled(DisabledReason::ThirdParty(name)), NotificationKind::ProviderChangedAway) => {
            Some(name.to_string())
        }
        _ => None,
    };
    // The e-mails about losing the service show what the user had (recorded when it was
    // owed); the others what the user holds now.
    let details = match &entry.previous {
        Some(p) => DialInDetails {
            conference_id: p.conference_id.clone(),
            service_number: p.service_number.clone(),
            toll_free_service_number: p.toll_free_service_number.clone(),
        },
        None => DialInDetails {
            conference_id: memory.conference_id.clone(),
            service_number: memory.service_number.clone(),
            toll_free_service_number: memory.toll_free_service_number.clone(),
        },
    };
    let allow_pstn_only_meetings = match &user.service {
        DesiredService::Native(svc) => svc.allow_pstn_only_meetings,
        DesiredService::Disabled(_) => false,
    };
    MessageContext {
        display_name: user.display_name.to_string(),
        conference_id: details.conference_id,
        conference_id_dynamic: tenant.id_mode == ConferenceIdMode::Dynamic,
        toll_number: view(&details.service_number),
        toll_free_number: view(&details.toll_free_service_number),
        provider_name,
        tenant_name: tenant.organization_name.clone(),
        allow_pstn_only_meetings,
        pin_expired: kind == NotificationKind::PinReset
            && crate::planning::message_id::cause_of(&entry.message_id, kind, &user.uid)
                .is_some_and(|c| c.starts_with(crate::planning::EXPIRED_PREFIX)),
        pin: if kind.carries_pin() { pin } else { None },
    }
}
