//! `ConferencingTenant`: an organisation's audio-conferencing settings.

// kube's `printcolumn(...)` attributes repeat `type_ = "string"` by design; clippy's
// duplicated-attributes lint mistakes them for copies.
#![allow(clippy::duplicated_attributes)]

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Condition, Locale};

/// An organisation's audio-conferencing settings: its dial-in numbers, PIN and conference-ID
/// policy, and how users are told about changes.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "conferencing.io",
    version = "v1alpha1",
    kind = "ConferencingTenant",
    namespaced,
    status = "ConferencingTenantStatus",
    shortname = "ctenant",
    category = "conferencing",
    doc = "An organisation's audio-conferencing settings. Users in the same namespace reference it by name.",
    printcolumn(
        name = "Numbers",
        type_ = "string",
        description = "Dial-in service numbers",
        json_path = ".spec.serviceNumbers[*].number"
    ),
    printcolumn(
        name = "PIN Length",
        type_ = "integer",
        description = "Digits of newly generated PINs",
        json_path = ".spec.pin.length"
    ),
    printcolumn(
        name = "Auto E-mail",
        type_ = "boolean",
        description = "Whether users are e-mailed automatically when their settings change",
        json_path = ".spec.notifications.automaticallySendEmailsToUsers"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        description = "Whether the tenant is valid",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.serviceNumbers.exists(n, n.type == 'Toll')").message("spec.serviceNumbers: at least one Toll number is required"))]
#[x_kube(validation = Rule::new("self.serviceNumbers.filter(n, n.type == 'Toll' && has(n.default) && n.default).size() <= 1").message("spec.serviceNumbers: at most one Toll number may be marked default"))]
#[x_kube(validation = Rule::new("self.serviceNumbers.filter(n, n.type == 'TollFree' && has(n.default) && n.default).size() <= 1").message("spec.serviceNumbers: at most one TollFree number may be marked default"))]
pub struct ConferencingTenantSpec {
    /// The organisation's name as its users know it, which signs their e-mails ("The Contoso
    /// IT team"); the tenant object's name when unset. Printable text only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), pattern(crate::domain::DISPLAY_TEXT_PATTERN))]
    pub organization_name: Option<String>,

    /// Dial-in numbers callers use to join meetings. At least one must be Toll; at most one
    /// per type may be marked default (else the first of that type is the default).
    #[schemars(length(min = 1, max = 200))]
    pub service_numbers: Vec<ServiceNumber>,

    /// Leader PIN policy.
    #[serde(default)]
    pub pin: PinPolicy,

    /// How conference IDs are assigned.
    #[serde(default)]
    pub conference_ids: ConferenceIdPolicy,

    /// Meeting defaults.
    #[serde(default)]
    pub meetings: MeetingPolicy,

    /// When and from whom users receive e-mails about their conferencing settings.
    #[serde(default)]
    pub notifications: NotificationPolicy,

    /// One-shot actions on all the tenant's users. Each is a token: a new value asks for the
    /// action once.
    #[serde(default, skip_serializing_if = "TenantRequests::is_empty")]
    pub requests: TenantRequests,
}

/// One-shot actions on all the tenant's users.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantRequests {
    /// A new value drops, without sending them, the e-mails `notifications.hold` holds for
    /// the tenant's users now (a Warning Event on each user says which); e-mails owed later
    /// are held as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub discard_held_emails: Option<String>,
}

impl TenantRequests {
    fn is_empty(&self) -> bool {
        self.discard_held_emails.is_none()
    }
}

/// A dial-in number of the tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNumber {
    /// The number in E.164 form, e.g. `+14255550100`.
    #[schemars(regex(pattern = r"^\+[1-9][0-9]{6,14}$"))]
    pub number: String,
    /// Toll or TollFree.
    #[serde(rename = "type")]
    pub type_: NumberType,
    /// City the number is local to, shown to users in e-mails. Printable text only (no
    /// control, line-separator or bidirectional-override characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), pattern(crate::domain::DISPLAY_TEXT_PATTERN))]
    pub city: Option<String>,
    /// Country of the number, ISO 3166-1 alpha-2 (e.g. `US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub country: Option<String>,
    /// Language of the number's prompts, a BCP 47 tag such as `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 35), regex(pattern = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"))]
    pub language: Option<String>,
    /// Whether this is the default number of its type for users who do not choose one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// Whether callers pay for the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NumberType {
    /// A number callers pay for.
    Toll,
    /// A number the organisation pays for.
    TollFree,
}

/// Leader PIN policy. Every rule applies to PINs issued afterwards (generated, reset,
/// rotated, adopted), as the length does: adding a rule never replaces a PIN early.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinPolicy {
    /// Digits of generated PINs, 4 to 12. A change applies only to PINs generated afterwards;
    /// existing PINs are kept.
    #[serde(default = "default_pin_length")]
    #[schemars(range(min = 4, max = 12))]
    pub length: u8,
    /// A new PIN never repeats one of the user's last this many PINs (0 to 20). What is
    /// remembered of an old PIN is a salted, deliberately slow hash (PBKDF2-HMAC-SHA256), kept
    /// with the PIN in its Secret; never the PIN itself.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    #[schemars(range(max = 20))]
    pub history_count: u8,
    /// Allow the common patterns Skype for Business refuses: a digit repeated four or more
    /// times in a row, four or more consecutive ascending or descending digits, the user's
    /// conference ID, the last four digits of one of the tenant's dial-in numbers. False (the
    /// default): PINs are drawn until they have none. A PIN of one repeated digit, one full run
    /// or equal to the conference ID is never issued.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_common_patterns: bool,
    /// How long a PIN lives before it is rotated, with the PIN-reset e-mail saying it expired:
    /// `90d`, `12h`, `30s` (at least 10 s). Each user's rotation falls at a point of the last
    /// tenth of the lifetime derived from its UID, so that users given PINs together are not
    /// rotated together. Unset: PINs do not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 32), regex(pattern = r"^([0-9]+(d|h|m|s))+$"))]
    pub lifetime: Option<String>,
}

impl Default for PinPolicy {
    fn default() -> Self {
        Self { length: default_pin_length(), history_count: 0, allow_common_patterns: false, lifetime: None }
    }
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

fn default_pin_length() -> u8 {
    5
}

/// How conference IDs are assigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConferenceIdPolicy {
    /// Static: each user keeps one personal ID. Dynamic: each scheduled meeting gets its own ID
    /// (users still have a personal ID for meetings started by phone).
    #[serde(default)]
    pub mode: ConferenceIdMode,
    /// Digits of IDs the operator allocates, 6 to 12.
    #[serde(default = "default_conference_id_length")]
    #[schemars(range(min = 6, max = 12))]
    pub length: u8,
}

impl Default for ConferenceIdPolicy {
    fn default() -> Self {
        Self { mode: ConferenceIdMode::default(), length: default_conference_id_length() }
    }
}

fn default_conference_id_length() -> u8 {
    7
}

/// Static or dynamic conference IDs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConferenceIdMode {
    /// Each user keeps one ID.
    #[default]
    Static,
    /// Each scheduled meeting gets a unique ID.
    Dynamic,
}

/// Meeting defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingPolicy {
    /// Whether callers who dial in by phone only may start a meeting without its organiser,
    /// for users who do not set `allowPstnOnlyMeetings` themselves.
    #[serde(default)]
    pub allow_pstn_only_meetings_by_default: bool,
}

/// When and from whom users receive e-mails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.sendEmailOverride || (has(self.sendEmailFromAddress) && self.sendEmailFromAddress != '')").message("spec.notifications.sendEmailFromAddress is required when sendEmailOverride is true"))]
pub struct NotificationPolicy {
    /// Send e-mails automatically when a user's settings change (licence, PIN, conference ID,
    /// provider, dial-in number). The on-request e-mail is sent whatever this says.
    #[serde(default = "default_true")]
    pub automatically_send_emails_to_users: bool,
    /// Send from `sendEmailFromAddress` instead of the operator's default sender.
    #[serde(default)]
    pub send_email_override: bool,
    /// Sender address used when `sendEmailOverride` is true. The organisation's inbound mail
    /// policy must accept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 254))]
    pub send_email_from_address: Option<String>,
    /// Sender display name used with `sendEmailFromAddress`. Printable text only (no control,
    /// line-separator or bidirectional-override characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), pattern(crate::domain::DISPLAY_TEXT_PATTERN))]
    pub send_email_from_display_name: Option<String>,
    /// Language of e-mails to users who do not set `locale`.
    #[serde(default)]
    pub default_locale: Locale,
    /// The only mail domains users' e-mails may go to (a recipient's domain must equal one of
    /// them or be a subdomain of one). Limits what someone who may edit a user's spec can do
    /// with `sendEmailToAddress`: without it, they could redirect a user's e-mails to any
    /// address and then reset the PIN. Empty: any domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(
            length(min = 1, max = 253),
            regex(
                pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
            )
        )
    )]
    pub allowed_recipient_domains: Vec<String>,
    /// Hold every e-mail to the tenant's users, automatic and on request: each is recorded as
    /// owed and not sent (while a bad merge is reverted, say). Setting it back to false sends
    /// each held e-mail once, if it is still owed then; `requests.discardHeldEmails` drops
    /// them instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
    /// What a user taken over from another system (one whose spec has `adopt`) is sent when
    /// first provisioned, instead of the licence e-mail: `None` (the default: nobody is
    /// e-mailed by surprise; a PIN generated for a user who brought none is not e-mailed
    /// either) or `Welcome` (one e-mail with the kept conference ID and numbers, and the PIN
    /// only when a new one was generated). A PIN that was brought but is not a PIN is replaced
    /// and e-mailed whatever this says. Subject to `automaticallySendEmailsToUsers`.
    #[serde(default, skip_serializing_if = "TakeoverEmail::is_none")]
    pub takeover_email: TakeoverEmail,
    /// At most this many automatic e-mails a minute for the tenant's users (PIN rotations
    /// included, which wait for room); e-mails beyond wait, owed and recorded. On-request
    /// e-mails are not counted and not held back. Unset: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_emails_per_minute: Option<u32>,
    /// The hours of the day automatic e-mails (and PIN rotations) go out; outside them they
    /// wait, owed and recorded. On-request e-mails go at once. Unset: any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_window: Option<SendWindow>,
}

/// A daily window, in a time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendWindow {
    /// Opening time, `HH:MM` (24-hour).
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// Closing time, `HH:MM`; before `start` for a window across midnight.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end: String,
    /// An IANA time zone, e.g. `Europe/Paris`; daylight saving time is followed.
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
}

/// What a takeover e-mails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TakeoverEmail {
    /// Nothing.
    #[default]
    None,
    /// One e-mail with the details the operator now manages.
    Welcome,
}

impl TakeoverEmail {
    fn is_none(&self) -> bool {
        *self == TakeoverEmail::None
    }
}

impl Default for NotificationPolicy {
    fn default() -> Self {
        Self {
            automatically_send_emails_to_users: true,
            send_email_override: false,
            send_email_from_address: None,
            send_email_from_display_name: None,
            default_locale: Locale::En,
            allowed_recipient_domains: Vec::new(),
            hold: false,
            takeover_email: TakeoverEmail::None,
            max_emails_per_minute: None,
            send_window: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// What the operator observed of the tenant.
// Read leniently (see `crate::api::lenient`): a field that does not fit is dropped and named
// in `unreadable`, never allowed to break the decoding of a whole list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct ConferencingTenantStatus {
    /// Fields of the stored status that could not be read and were dropped (written by
    /// someone other than the operator). Never stored: a status that had any is rewritten.
    #[serde(skip)]
    pub unreadable: Vec<String>,
    /// Current state; `Ready` says whether the tenant is valid.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of users that reference this tenant.
    #[serde(default)]
    #[schemars(range(max = 4_294_967_295_u32))]
    pub users: u32,
    /// The default Toll number users get unless they choose one, as last reconciled; a change
    /// is announced with a `DefaultNumberChanged` Event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_service_number: Option<String>,
    /// The default TollFree number, as last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_toll_free_service_number: Option<String>,
}

impl Serialize for ConferencingTenantStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConferencingTenantStatus::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for ConferencingTenantStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (mut status, unreadable) =
            crate::api::lenient::deserialize(d, |d| ConferencingTenantStatus::deserialize(d))?;
        status.unreadable = unreadable;
        Ok(status)
    }
}
