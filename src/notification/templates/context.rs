//! What a template may refer to, and what rendering gives back.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::provisioning::pin::Pin;

/// A dial-in number as the user should read it.
///
/// City and country are optional because the tenant may not say where a number is; the
/// templates then show the bare number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NumberView {
    /// E.164 number, e.g. `+33123456789`.
    pub number: String,
    /// City the number is in, when known.
    pub city: Option<String>,
    /// Country the number is in, when known.
    pub country: Option<String>,
    /// Language of the number's prompts (a BCP 47 tag such as `en-US`), when known.
    pub language: Option<String>,
}

/// Everything a template may refer to.
///
/// Absent values serialize as `null` rather than being left out, so that strict mode can
/// tell `{{#if tollFreeNumber}}` (known, possibly empty) from a misspelt variable (an error).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageContext {
    /// The user's name, as in `spec.displayName`.
    pub display_name: String,
    /// The user's personal conference ID; absent once the licence or the provider is gone.
    pub conference_id: Option<String>,
    /// Whether the tenant gives each scheduled meeting its own ID, which changes what the
    /// personal ID is for.
    pub conference_id_dynamic: bool,
    /// The toll number shown to the user.
    pub toll_number: Option<NumberView>,
    /// The toll-free number shown to the user, if the tenant has one.
    pub toll_free_number: Option<NumberView>,
    /// The provider the user moved to (ProviderChangedAway); absent for provider type None.
    pub provider_name: Option<String>,
    /// The organisation's name, used to sign the e-mail: the tenant's `organizationName`,
    /// else the tenant's name.
    pub tenant_name: String,
    /// Whether callers who dial in can start the user's meetings without them, which changes
    /// what the user should do with their PIN.
    pub allow_pstn_only_meetings: bool,
    /// Whether a PIN-reset e-mail is about a PIN that expired (`pin.lifetime`), not a reset.
    pub pin_expired: bool,
    /// The PIN, only for kinds whose [`NotificationKind::carries_pin`] is true. The one place
    /// a PIN is serialized, for the templates that must show it ([`expose_pin`]).
    ///
    /// [`NotificationKind::carries_pin`]: crate::api::NotificationKind::carries_pin
    #[serde(serialize_with = "expose_pin")]
    pub pin: Option<Pin>,
}

/// Serializes the PIN as its digits: [`Pin`] is not `Serialize`, so that no other value that
/// holds one can carry it into JSON, a log or an API object.
fn expose_pin<S: Serializer>(pin: &Option<Pin>, s: S) -> Result<S::Ok, S::Error> {
    match pin {
        Some(p) => s.serialize_some(p.expose()),
        None => s.serialize_none(),
    }
}

/// One rendered e-mail, ready for a multipart/alternative message.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    /// A single line: a template's line breaks become spaces, since a header cannot hold them.
    pub subject: String,
    /// Plain-text body, with at most one blank line in a row, ending with a newline.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Shows only the subject: the bodies of some kinds hold the PIN, and a message is exactly
/// the kind of value that ends up in a debug log.
impl fmt::Debug for RenderedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedMessage")
            .field("subject", &self.subject)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("html", &format_args!("<{} bytes>", self.html.len()))
            .finish()
    }
}
