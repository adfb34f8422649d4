//! Turns an e-mail owed to a user into a message: picks the sender and the locale, builds
//! the template context, renders and composes. Everything that decides who receives what is
//! taken from the user's spec, the tenant and the user's status as the operator wrote it
//! ([`prepare`](Notifier::prepare)); the pending entry contributes only its kind and
//! Message-ID, which the planner checked against the user's history.

use lettre::message::{Mailbox, Message};

use super::mail::{Transport, compose};
use super::templates::{MessageContext, NumberView, Templates};
use crate::api::record::UserMemory;
use crate::api::{ConferenceIdMode, Locale, NotificationKind, PendingNotification};
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
    /// Recipient, from the spec.
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

    /// The e-mail for a pending entry, addressed to the recipient the spec names now.
    pub fn prepare(
        &self,
        entry: &PendingNotification,
        user: &ValidatedUser,
        tenant: &ValidatedTenant,
        memory: &UserMemory,
    ) -> PreparedEmail {
        PreparedEmail {
            kind: entry.kind,
            message_id: entry.message_id.clone(),
            locale: user.locale,
            context: context(entry.kind, user, tenant, memory, None),
            from: self.sender(tenant),
            to: Mailbox::new(None, user.recipient.address().clone()),
        }
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

/// The template context for an e-mail of `kind`, from the user's validated spec, its tenant
/// and the operator's record of it.
pub fn context(
    kind: NotificationKind,
    user: &ValidatedUser,
    tenant: &ValidatedTenant,
    status: &UserMemory,
    pin: Option<Pin>,
) -> MessageContext {
    let view = |number: &Option<String>| {
        number.as_ref().map(|n| {
            let known = tenant.numbers.iter().find(|s| &s.number == n);
            NumberView {
                number: n.clone(),
                city: known.and_then(|s| s.city.as_ref().map(ToString::to_string)),
                country: known.and_then(|s| s.country.clone()),
            }
        })
    };
    let provider_name = match (&user.service, kind) {
        (DesiredService::Disabled(DisabledReason::ThirdParty(name)), NotificationKind::ProviderChangedAway) => {
            Some(name.to_string())
        }
        _ => None,
    };
    MessageContext {
        display_name: user.display_name.to_string(),
        conference_id: status.conference_id.clone(),
        conference_id_dynamic: tenant.id_mode == ConferenceIdMode::Dynamic,
        toll_number: view(&status.service_number),
        toll_free_number: view(&status.toll_free_service_number),
        provider_name,
        tenant_name: tenant.name.clone(),
        pin: if kind.carries_pin() { pin } else { None },
    }
}
