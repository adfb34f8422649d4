//! The contexts every template is rendered with when it is loaded: every optional value
//! present, then every one absent, so that a misspelt variable fails at start-up.

use super::context::{MessageContext, NumberView};
use crate::api::NotificationKind;
use crate::provisioning::pin::Pin;

/// A context with every optional value present; the PIN only where the kind carries it,
/// since [`Templates::render`] refuses anything else.
pub(super) fn sample_full(kind: NotificationKind) -> MessageContext {
    MessageContext {
        display_name: "Sample User".to_owned(),
        conference_id: Some("123456".to_owned()),
        conference_id_dynamic: true,
        toll_number: Some(NumberView {
            number: "+12065550100".to_owned(),
            city: Some("Seattle".to_owned()),
            country: Some("United States".to_owned()),
            language: Some("en-US".to_owned()),
        }),
        toll_free_number: Some(NumberView {
            number: "+18005550100".to_owned(),
            city: Some("Seattle".to_owned()),
            country: Some("United States".to_owned()),
            language: Some("en-US".to_owned()),
        }),
        provider_name: Some("Sample Provider".to_owned()),
        tenant_name: "Sample Organisation".to_owned(),
        pin_expired: true,
        allow_pstn_only_meetings: true,
        pin: kind.carries_pin().then(|| Pin::from_secret("00000".to_owned())),
    }
}

/// A context with every optional value absent.
pub(super) fn sample_empty(kind: NotificationKind) -> MessageContext {
    MessageContext {
        conference_id: None,
        conference_id_dynamic: false,
        toll_number: None,
        toll_free_number: None,
        provider_name: None,
        ..sample_full(kind)
    }
}
