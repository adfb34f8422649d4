//! The text of the Events planning publishes about what happened (never a PIN).

use crate::api::NotificationKind;
use crate::api::Reason;
use crate::api::record::UserMemory;

use super::*;

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
        NotificationKind::TakeoverWelcome => {
            format!("taken over with conference ID {id} and the PIN it brought: the welcome e-mail (without the PIN)")
        }
        NotificationKind::TakeoverWelcomeNewPin => {
            format!("taken over with conference ID {id} and a new PIN: the welcome e-mail with it")
        }
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
