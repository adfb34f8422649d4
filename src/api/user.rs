//! `ConferencingUser`: one person's audio-conferencing settings.

// kube's `printcolumn(...)` attributes repeat `type_ = "string"` by design; clippy's
// duplicated-attributes lint mistakes them for copies.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, ConferenceIdMode, Locale};

/// What `status.pin` shows once a PIN exists. The PIN itself is only in the user's Secret.
pub const PIN_MASK: &str = "*****";

/// One person's audio-conferencing settings.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "conferencing.io",
    version = "v1alpha1",
    kind = "ConferencingUser",
    namespaced,
    status = "ConferencingUserStatus",
    shortname = "cuser",
    category = "conferencing",
    doc = "One person's audio-conferencing settings, in the namespace of their ConferencingTenant.",
    printcolumn(
        name = "Tenant",
        type_ = "string",
        description = "The ConferencingTenant this user belongs to",
        json_path = ".spec.tenantRef.name"
    ),
    printcolumn(
        name = "Provider",
        type_ = "string",
        description = "Audio-conferencing provider",
        json_path = ".spec.provider.type"
    ),
    printcolumn(
        name = "Licensed",
        type_ = "boolean",
        description = "Whether the audio-conferencing licence is assigned",
        json_path = ".spec.audioConferencingLicense"
    ),
    printcolumn(
        name = "Conference ID",
        type_ = "string",
        description = "The user's conference ID",
        json_path = ".status.conferenceId"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        description = "Whether the user's settings are in effect",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Expires",
        type_ = "date",
        description = "When the PIN will be rotated (pin.lifetime)",
        json_path = ".status.pinExpiresAt",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ConferencingUserSpec {
    /// The ConferencingTenant (in this namespace) whose settings apply to this user.
    pub tenant_ref: TenantRef,

    /// The user's name as shown in e-mails. Printable text only (no control, line-separator
    /// or bidirectional-override characters).
    #[schemars(length(min = 1, max = 256), pattern(crate::domain::DISPLAY_TEXT_PATTERN))]
    pub display_name: String,

    /// The user's primary e-mail address: `name@domain`, the name dot-separated letters,
    /// digits and ``#$&'*+/=?^_`{|}~-`` (no `%`, `!` or quotes, on which mail relays route).
    #[schemars(length(min = 3, max = 254), pattern(crate::domain::EMAIL_PATTERN))]
    pub email: String,

    /// Send the user's e-mails to this address instead of `email` (for users without a
    /// mailbox in the organisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), pattern(crate::domain::EMAIL_PATTERN))]
    pub send_email_to_address: Option<String>,

    /// Language of the user's e-mails; the tenant's `notifications.defaultLocale` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,

    /// Whether the audio-conferencing licence is assigned. Removing it deletes the user's PIN
    /// and releases the conference ID.
    #[serde(default = "default_true")]
    pub audio_conferencing_license: bool,

    /// Who provides the user's audio conferencing.
    #[serde(default)]
    pub provider: ProviderSpec,

    /// Toll dial-in number shown to the user; must be one of the tenant's numbers. The
    /// tenant's default Toll number when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\+[1-9][0-9]{6,14}$"))]
    pub service_number: Option<String>,

    /// Toll-free dial-in number shown to the user; must be one of the tenant's TollFree
    /// numbers. The tenant's default TollFree number when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\+[1-9][0-9]{6,14}$"))]
    pub toll_free_service_number: Option<String>,

    /// A static conference ID chosen by an administrator: digits, no leading zero (phone
    /// systems strip it, so `0123456` would dial `123456`), exactly the tenant's
    /// `conferenceIds.length`. Allocated by the operator when unset. Must not be held by
    /// another user of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[1-9][0-9]{3,11}$"))]
    pub conference_id: Option<String>,

    /// Whether callers who dial in by phone may start this user's meetings without the user.
    /// The tenant's `meetings.allowPstnOnlyMeetingsByDefault` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_pstn_only_meetings: Option<bool>,

    /// Whether callers may join this user's meetings through toll-free numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_toll_free_dial_in: Option<bool>,

    /// One-shot actions. Each is a token: setting a new value (e.g. a date or a ticket number)
    /// asks for the action once; the operator records the token it handled in
    /// `status.handledRequests`. Re-applying the same token does nothing.
    #[serde(default)]
    pub requests: Requests,

    /// What the user brings from the conferencing system the operator takes over from
    /// (`conferencing-operator import` writes it). Read once, when the operator first
    /// provisions the user, who then gets the e-mail the tenant's
    /// `notifications.takeoverEmail` names instead of the licence e-mail; ignored afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<Adopt>,
}

/// What a user brings from the system the operator takes over from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Adopt {
    /// The conference ID the user already has (printed in their meeting invitations). It is
    /// claimed when the user is first provisioned without becoming static: a later
    /// `requests.resetConferenceId` replaces it like any other ID. 4 to 12 digits, not
    /// starting with 0; another user holding it is a conflict, as for `spec.conferenceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[1-9][0-9]{3,11}$"))]
    pub conference_id: Option<String>,
    /// A key of a Secret in this namespace holding the user's existing PIN (from the previous
    /// bridge's database through External Secrets or Vault, say). The Secret must carry the
    /// label `conferencing.io/adopt-pin: "true"`, so that naming a Secret is not enough to
    /// have the operator read it. The PIN is copied into the user's PIN Secret and nobody is
    /// e-mailed; a value that is not 4 to 12 digits is replaced by a new PIN, e-mailed, with a
    /// Warning naming the rule. The user waits (Ready=False) until the Secret exists. Without
    /// it, a Secret under the PIN Secret's own name (`<user>-conferencing-pin`) with that label
    /// is adopted in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_secret_ref: Option<PinSourceRef>,
}

/// A key of a Secret in the user's namespace that holds a PIN to adopt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PinSourceRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: String,
    /// The key within the Secret's data.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// What `spec.tenantRef.name` may be: a DNS-1123 label (lower-case letters, digits and `-`,
/// starting and ending with a letter or digit; at most 63 characters, the length rule beside
/// it). The name is copied into conditions, Events and the plugin's output, so it must not be
/// able to carry control characters; `validation::validate_tenant_ref` checks the same for
/// objects stored before the CRD had the rule.
pub const TENANT_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// A reference to the user's tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantRef {
    /// Name of a ConferencingTenant in the user's namespace: a DNS-1123 label (lower-case
    /// letters, digits and '-', at most 63 characters).
    #[schemars(length(min = 1, max = 63), pattern(TENANT_NAME_PATTERN))]
    pub name: String,
}

/// Who provides the user's audio conferencing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = Rule::new("self.type != 'ThirdParty' || (has(self.name) && self.name != '')").message("spec.provider.name is required when spec.provider.type is ThirdParty"))]
pub struct ProviderSpec {
    /// Native (this operator), ThirdParty, or None.
    #[serde(rename = "type", default)]
    pub type_: ProviderType,
    /// Name of the third-party provider; required when `type` is ThirdParty. Printable text
    /// only, as it is shown in the user's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), pattern(crate::domain::DISPLAY_TEXT_PATTERN))]
    pub name: Option<String>,
}

impl Default for ProviderSpec {
    fn default() -> Self {
        Self { type_: ProviderType::Native, name: None }
    }
}

/// Kind of audio-conferencing provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProviderType {
    /// This operator provides PINs, conference IDs and dial-in numbers.
    #[default]
    Native,
    /// Another provider does; the operator holds nothing for the user.
    ThirdParty,
    /// No audio conferencing.
    None,
}

/// One-shot request tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Requests {
    /// A new value generates a new leader PIN and, when automatic e-mails are on, e-mails it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub reset_pin: Option<String>,
    /// A new value allocates a new conference ID (unless the spec names a static one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub reset_conference_id: Option<String>,
    /// A new value e-mails the user their dial-in numbers and conference ID (never the PIN),
    /// even when automatic e-mails are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub send_conferencing_info: Option<String>,
    /// Send the e-mails of the requests handled with it to this address instead (as the
    /// reference's `-SendEmailToAddress` does, for a user without a mailbox in the
    /// organisation): one-off, recorded with each request it served, and changing nothing
    /// after. Subject to the tenant's `allowedRecipientDomains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), pattern(crate::domain::EMAIL_PATTERN))]
    pub send_email_to_address: Option<String>,
}

/// What the operator observed and did for the user.
// Read leniently (see `crate::api::lenient`): a field that does not fit is dropped and named
// in `unreadable`, never allowed to break the decoding of a whole list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct ConferencingUserStatus {
    /// Fields of the stored status that could not be read and were dropped (written by
    /// someone other than the operator). Never stored: a status that had any is rewritten.
    #[serde(skip)]
    pub unreadable: Vec<String>,
    /// Current state: `Ready`, and `NotificationDelivered` once e-mails are owed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Whether the audio-conferencing licence is in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensed: Option<bool>,
    /// The provider in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderSpec>,
    /// The user's personal conference ID, unique within the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    /// The tenant's conference-ID mode; with Dynamic, scheduled meetings get their own IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conference_id_mode: Option<ConferenceIdMode>,
    /// Toll dial-in number in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_number: Option<String>,
    /// Toll-free dial-in number in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toll_free_service_number: Option<String>,
    /// Whether callers who dial in may start the user's meetings without the user (the
    /// user's `allowPstnOnlyMeetings`, else the tenant's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_pstn_only_meetings: Option<bool>,
    /// `*****` once a PIN exists. The PIN is only in the Secret named by `pinSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// The Secret and key that hold the PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_secret_ref: Option<SecretKeyRef>,
    /// Identifies which PIN generation the Secret holds (what caused it); used to recognise a
    /// PIN generated before a crash so that a request is never carried out twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_generation: Option<String>,
    /// When the current PIN was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_last_reset_time: Option<Time>,
    /// When the current PIN will be rotated, under the tenant's `pin.lifetime` (its rotation
    /// waits, after that, for the tenant's send window and e-mail cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_expires_at: Option<Time>,
    /// The last token handled for each request.
    #[serde(default, skip_serializing_if = "HandledRequests::is_empty")]
    pub handled_requests: HandledRequests,
    /// E-mails owed to the user and the last few delivered.
    #[serde(default, skip_serializing_if = "NotificationRecord::is_empty")]
    pub notifications: NotificationRecord,
}

/// A key of a Secret in the user's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key within the Secret's data.
    pub key: String,
}

/// The last request tokens handled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandledRequests {
    /// Last `requests.resetPin` token handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_pin: Option<String>,
    /// Last `requests.resetConferenceId` token handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_conference_id: Option<String>,
    /// Last `requests.sendConferencingInfo` token handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_conferencing_info: Option<String>,
    /// Who wrote the `requests.resetPin` token last handled (from `managedFields`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_pin_by: Option<RequestActor>,
    /// Who wrote the `requests.resetConferenceId` token last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_conference_id_by: Option<RequestActor>,
    /// Who wrote the `requests.sendConferencingInfo` token last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_conferencing_info_by: Option<RequestActor>,
    /// Where `requests.sendEmailToAddress` sent the e-mails of the `resetPin` token last
    /// handled, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_pin_to: Option<String>,
    /// Where `requests.sendEmailToAddress` sent the e-mails of the `resetConferenceId` token
    /// last handled, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_conference_id_to: Option<String>,
    /// Where `requests.sendEmailToAddress` sent the e-mail of the `sendConferencingInfo`
    /// token last handled, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_conferencing_info_to: Option<String>,
    /// Tokens handled before those, oldest first, at most eight per request: a token that
    /// comes back (a Git revert, a sync of an older commit) is not a new request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = crate::planning::MAX_TOKEN_HISTORY))]
    pub previous: Vec<HandledToken>,
}

impl HandledRequests {
    fn is_empty(&self) -> bool {
        self == &HandledRequests::default()
    }

    /// The token last handled for `request`.
    pub fn current(&self, request: RequestKind) -> Option<&String> {
        match request {
            RequestKind::ResetPin => self.reset_pin.as_ref(),
            RequestKind::ResetConferenceId => self.reset_conference_id.as_ref(),
            RequestKind::SendConferencingInfo => self.send_conferencing_info.as_ref(),
        }
    }

    /// Where the e-mails of the token last handled for `request` went, when
    /// `requests.sendEmailToAddress` sent them elsewhere.
    pub fn to(&self, request: RequestKind) -> Option<&String> {
        match request {
            RequestKind::ResetPin => self.reset_pin_to.as_ref(),
            RequestKind::ResetConferenceId => self.reset_conference_id_to.as_ref(),
            RequestKind::SendConferencingInfo => self.send_conferencing_info_to.as_ref(),
        }
    }

    /// Who wrote the token last handled for `request`.
    pub fn by(&self, request: RequestKind) -> Option<&RequestActor> {
        match request {
            RequestKind::ResetPin => self.reset_pin_by.as_ref(),
            RequestKind::ResetConferenceId => self.reset_conference_id_by.as_ref(),
            RequestKind::SendConferencingInfo => self.send_conferencing_info_by.as_ref(),
        }
    }

    /// Whether `token` was handled for `request` before the current one.
    pub fn handled_before(&self, request: RequestKind, token: &str) -> bool {
        self.previous.iter().any(|p| p.request == request && p.token == token)
    }
}

/// Who asked for a request: the field manager that last wrote the token, as the API server's
/// `managedFields` record it, and the GitOps tool tracking the object, if any. Attribution for
/// people and audits, not authentication: anyone who may write the user may write its
/// `managedFields` too (the API server's audit log is the authenticated record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestActor {
    /// The field manager, e.g. `kubectl-patch`, `kubectl-conferencing`, `argocd-controller`.
    #[schemars(length(max = 128))]
    pub manager: String,
    /// `Apply` or `Update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub operation: Option<String>,
    /// When that manager last wrote its fields of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// The GitOps tracking marker on the object when the token was handled, as
    /// `<key>=<value>` (e.g. `argocd.argoproj.io/tracking-id=acme:conferencing.io/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 400))]
    pub gitops: Option<String>,
}

/// A request token handled in the past.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HandledToken {
    /// Which request.
    pub request: RequestKind,
    /// The token.
    pub token: String,
}

/// The one-shot requests of `spec.requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RequestKind {
    /// `requests.resetPin`.
    ResetPin,
    /// `requests.resetConferenceId`.
    ResetConferenceId,
    /// `requests.sendConferencingInfo`.
    SendConferencingInfo,
}

impl RequestKind {
    /// Every request.
    pub const ALL: [RequestKind; 3] =
        [RequestKind::ResetPin, RequestKind::ResetConferenceId, RequestKind::SendConferencingInfo];

    /// The field name under `spec.requests`.
    pub fn field(self) -> &'static str {
        match self {
            RequestKind::ResetPin => "resetPin",
            RequestKind::ResetConferenceId => "resetConferenceId",
            RequestKind::SendConferencingInfo => "sendConferencingInfo",
        }
    }
}

impl Requests {
    /// The token asked for `request`.
    pub fn token(&self, request: RequestKind) -> Option<&String> {
        match request {
            RequestKind::ResetPin => self.reset_pin.as_ref(),
            RequestKind::ResetConferenceId => self.reset_conference_id.as_ref(),
            RequestKind::SendConferencingInfo => self.send_conferencing_info.as_ref(),
        }
    }
}

/// Why an e-mail is owed to a user: one per change the reference system e-mails about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum NotificationKind {
    /// The licence was assigned (or the user was first provisioned): numbers, ID and PIN.
    LicenseAssigned,
    /// An administrator reset the PIN: the new PIN.
    PinReset,
    /// The conference ID was reset or changed: the new ID.
    ConferenceIdReset,
    /// The licence was removed.
    LicenseRemoved,
    /// The provider changed from Native to another provider or to none.
    ProviderChangedAway,
    /// The provider changed back to Native: numbers, ID and PIN.
    ProviderChangedToNative,
    /// The user's default dial-in number changed.
    ServiceNumberChanged,
    /// An administrator asked for the conferencing information e-mail (never the PIN).
    ConferencingInfoRequested,
    /// The operator took the user over from another system, keeping their conference ID and
    /// PIN: the details it now manages, without the PIN (the user still knows it).
    TakeoverWelcome,
    /// The operator took the user over, but no PIN was brought along (or the one brought was
    /// not a PIN): the details it now manages, with the new PIN.
    TakeoverWelcomeNewPin,
}

impl NotificationKind {
    /// Every kind, in a fixed order.
    pub const ALL: [NotificationKind; 10] = [
        NotificationKind::LicenseAssigned,
        NotificationKind::PinReset,
        NotificationKind::ConferenceIdReset,
        NotificationKind::LicenseRemoved,
        NotificationKind::ProviderChangedAway,
        NotificationKind::ProviderChangedToNative,
        NotificationKind::ServiceNumberChanged,
        NotificationKind::ConferencingInfoRequested,
        NotificationKind::TakeoverWelcome,
        NotificationKind::TakeoverWelcomeNewPin,
    ];

    /// Whether e-mails of this kind contain the PIN: the three the reference sends the PIN in,
    /// and the takeover e-mail of a user who did not keep theirs.
    pub fn carries_pin(self) -> bool {
        matches!(
            self,
            NotificationKind::LicenseAssigned
                | NotificationKind::PinReset
                | NotificationKind::ProviderChangedToNative
                | NotificationKind::TakeoverWelcomeNewPin
        )
    }

    /// Whether the tenant's `automaticallySendEmailsToUsers` governs this kind. The on-request
    /// e-mail is sent regardless.
    pub fn is_automatic(self) -> bool {
        self != NotificationKind::ConferencingInfoRequested
    }

    /// The kebab-case name used for template files, Message-IDs and the CLI.
    pub fn slug(self) -> &'static str {
        match self {
            NotificationKind::LicenseAssigned => "license-assigned",
            NotificationKind::PinReset => "pin-reset",
            NotificationKind::ConferenceIdReset => "conference-id-reset",
            NotificationKind::LicenseRemoved => "license-removed",
            NotificationKind::ProviderChangedAway => "provider-changed-away",
            NotificationKind::ProviderChangedToNative => "provider-changed-to-native",
            NotificationKind::ServiceNumberChanged => "service-number-changed",
            NotificationKind::ConferencingInfoRequested => "conferencing-info",
            NotificationKind::TakeoverWelcome => "takeover-welcome",
            NotificationKind::TakeoverWelcomeNewPin => "takeover-welcome-new-pin",
        }
    }

    /// Parses a slug.
    pub fn from_slug(slug: &str) -> Option<NotificationKind> {
        NotificationKind::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The name used in Events and status (`LicenseAssigned`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::LicenseAssigned => "LicenseAssigned",
            NotificationKind::PinReset => "PinReset",
            NotificationKind::ConferenceIdReset => "ConferenceIdReset",
            NotificationKind::LicenseRemoved => "LicenseRemoved",
            NotificationKind::ProviderChangedAway => "ProviderChangedAway",
            NotificationKind::ProviderChangedToNative => "ProviderChangedToNative",
            NotificationKind::ServiceNumberChanged => "ServiceNumberChanged",
            NotificationKind::ConferencingInfoRequested => "ConferencingInfoRequested",
            NotificationKind::TakeoverWelcome => "TakeoverWelcome",
            NotificationKind::TakeoverWelcomeNewPin => "TakeoverWelcomeNewPin",
        }
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// E-mails owed and delivered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// E-mails recorded but not yet delivered (the outbox). Recorded in the same status
    /// write as the change that caused them, so none is lost if the operator stops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = crate::planning::MAX_PENDING))]
    pub pending: Vec<PendingNotification>,
    /// The last few e-mails delivered, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub delivered: Vec<DeliveredNotification>,
}

impl NotificationRecord {
    fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.delivered.is_empty()
    }
}

/// An e-mail owed to the user. It never holds the PIN: that is read from the Secret at
/// send time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingNotification {
    /// Why the e-mail is owed.
    pub kind: NotificationKind,
    /// `Message-ID` of the e-mail, derived from the user's UID, the kind and what caused it,
    /// so that a resend is recognisable as the same message.
    pub message_id: String,
    /// Where it goes.
    pub recipient: String,
    /// For ProviderChangedAway: the provider the user moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<String>,
    /// For LicenseRemoved and ProviderChangedAway: the dial-in details the user had, which
    /// the e-mail shows for reference (the user holds none by the time it is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<DialInDetails>,
    /// Whether `recipient` is the one-off address of `requests.sendEmailToAddress`, which a
    /// later change of the user's address does not move.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_off: bool,
    /// Delivery attempts made so far.
    #[serde(default)]
    #[schemars(range(max = 4_294_967_295_u32))]
    pub attempts: u32,
    /// The last delivery error, if any (never contains the PIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Earliest time of the next attempt, for backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_time: Option<Time>,
    /// True once the mail server refused the message for good; it is not retried.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanently_failed: bool,
}

impl PendingNotification {
    /// An e-mail owed to `recipient` and not attempted yet, with no provider, previous
    /// details or one-off address.
    pub fn owed(kind: NotificationKind, message_id: impl Into<String>, recipient: impl Into<String>) -> Self {
        PendingNotification {
            kind,
            message_id: message_id.into(),
            recipient: recipient.into(),
            provider_name: None,
            previous: None,
            one_off: false,
            attempts: 0,
            last_error: None,
            next_attempt_time: None,
            permanently_failed: false,
        }
    }
}

/// A user's dial-in details, as an e-mail about them shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DialInDetails {
    /// The conference ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    /// The Toll number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_number: Option<String>,
    /// The TollFree number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toll_free_service_number: Option<String>,
}

/// An e-mail that was delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredNotification {
    /// Why it was sent.
    pub kind: NotificationKind,
    /// Its `Message-ID`.
    pub message_id: String,
    /// Where it went.
    pub recipient: String,
    /// When the mail server accepted it.
    pub time: Time,
}

fn default_true() -> bool {
    true
}

impl Serialize for ConferencingUserStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConferencingUserStatus::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for ConferencingUserStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (mut status, unreadable) = crate::api::lenient::deserialize(d, |d| ConferencingUserStatus::deserialize(d))?;
        status.unreadable = unreadable;
        Ok(status)
    }
}
