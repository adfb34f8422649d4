//! Turns an outbox entry into an e-mail: picks the sender and locale, builds the template
//! context from the user's status and tenant, reads the PIN only for the three kinds that
//! carry it, renders, composes and sends.

use lettre::message::Mailbox;

use super::mail::{Transport, compose};
use super::templates::{MessageContext, NumberView, Pin, Templates};
use crate::api::{ConferenceIdMode, ConferencingUserStatus, NotificationKind, PendingNotification, ServiceNumber};
use crate::planning::outbox::Attempt;
use crate::validation::{ValidatedTenant, ValidatedUser};

/// Everything needed to send e-mails.
pub struct Notifier {
    /// Rendered per message.
    pub templates: Templates,
    /// Where messages go.
    pub transport: Transport,
    /// The operator's sender, unless the tenant overrides it.
    pub default_from: Mailbox,
}

impl Notifier {
    /// The sender for `tenant`'s users.
    pub fn sender(&self, tenant: &ValidatedTenant) -> Mailbox {
        match &tenant.sender {
            Some(s) => Mailbox::new(s.display_name.clone(), s.address.address().clone()),
            None => self.default_from.clone(),
        }
    }

    /// Renders and sends one outbox entry. `pin` is read by the caller from the Secret for
    /// kinds that carry it. Failures to build the message are permanent: retrying the same
    /// inputs cannot succeed.
    pub async fn deliver(
        &self,
        entry: &PendingNotification,
        user: &ValidatedUser,
        tenant: &ValidatedTenant,
        status: &ConferencingUserStatus,
        pin: Option<Pin>,
    ) -> Attempt {
        let ctx = context(entry, user, tenant, status, pin);
        let rendered = match self.templates.render(entry.kind, user.locale, &ctx) {
            Ok(r) => r,
            Err(e) => return Attempt::Permanent(format!("rendering the {} e-mail: {e}", entry.kind)),
        };
        let to: Mailbox = match entry.recipient.parse() {
            Ok(m) => m,
            Err(e) => return Attempt::Permanent(format!("recipient {:?}: {e}", entry.recipient)),
        };
        match compose(&rendered, self.sender(tenant), to, &entry.message_id) {
            Ok(message) => self.transport.send(message).await,
            Err(e) => Attempt::Permanent(e.to_string()),
        }
    }
}

/// The template context for an entry, from the status as it is when the e-mail is sent.
pub fn context(
    entry: &PendingNotification,
    user: &ValidatedUser,
    tenant: &ValidatedTenant,
    status: &ConferencingUserStatus,
    pin: Option<Pin>,
) -> MessageContext {
    let view = |number: &Option<String>| {
        number.as_ref().map(|n| {
            let known: Option<&ServiceNumber> = tenant.numbers.iter().find(|s| &s.number == n);
            NumberView {
                number: n.clone(),
                city: known.and_then(|s| s.city.clone()),
                country: known.and_then(|s| s.country.clone()),
            }
        })
    };
    MessageContext {
        display_name: user.display_name.clone(),
        conference_id: status.conference_id.clone(),
        conference_id_dynamic: tenant.id_mode == ConferenceIdMode::Dynamic,
        toll_number: view(&status.service_number),
        toll_free_number: view(&status.toll_free_service_number),
        provider_name: entry.provider_name.clone(),
        tenant_name: tenant.name.clone(),
        pin: if entry.kind.carries_pin() { pin } else { None },
    }
}

/// Whether sending `kind` needs the PIN from the Secret.
pub fn needs_pin(kind: NotificationKind) -> bool {
    kind.carries_pin()
}
