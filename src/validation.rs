//! Parse, don't validate: turns a tenant or user spec into a `Validated…` value whose types
//! say every rule holds, or an [`InvalidSpec`] naming the field.
//!
//! The schema-level rules are enforced by the API server, and the cross-field ones by CEL on
//! API servers that support it. Both are checked again here because CEL is ignored by API
//! servers older than 1.25, because an object may predate a rule (a stored object is not
//! re-validated when the CRD gains a pattern), and because the planner must never see an
//! unchecked spec. Every string that can reach an e-mail becomes a [`DisplayText`] or an
//! [`EmailAddress`] here, or the object is `InvalidSpec`.

use crate::api::{ConferenceIdMode, ConferencingTenant, ConferencingUser, Locale, NumberType, ProviderType, Requests};
use crate::domain::{ConferenceId, DisplayText, EmailAddress, IdLength, PinLength, escape_for_terminal};

/// A spec that breaks a rule. `field` is the JSON path of the offending field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSpec {
    /// Path of the offending field, e.g. `spec.notifications.sendEmailFromAddress`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl InvalidSpec {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A tenant-configured sender that replaces the operator's default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderOverride {
    /// Sender address.
    pub address: EmailAddress,
    /// Optional display name.
    pub display_name: Option<DisplayText>,
}

/// A dial-in number whose every field is safe to show in an e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialInNumber {
    /// E.164, e.g. `+14255550100`.
    pub number: String,
    /// Toll or TollFree.
    pub type_: NumberType,
    /// City the number is local to.
    pub city: Option<DisplayText>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
}

/// A tenant whose spec holds every rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedTenant {
    /// Tenant name.
    pub name: String,
    /// `metadata.generation`, part of Message-IDs of e-mails a tenant change causes.
    pub generation: i64,
    /// All numbers.
    pub numbers: Vec<DialInNumber>,
    /// The Toll number users get unless they choose one.
    pub default_toll: DialInNumber,
    /// The TollFree number users get unless they choose one, if the tenant has any.
    pub default_toll_free: Option<DialInNumber>,
    /// Length of newly generated PINs.
    pub pin_length: PinLength,
    /// Static or dynamic meeting IDs.
    pub id_mode: ConferenceIdMode,
    /// Length of allocated conference IDs.
    pub id_length: IdLength,
    /// Tenant default for PSTN-only meetings.
    pub allow_pstn_only_meetings_by_default: bool,
    /// Whether automatic e-mails are sent.
    pub automatic_emails: bool,
    /// Sender override, when configured.
    pub sender: Option<SenderOverride>,
    /// Locale for users without one.
    pub default_locale: Locale,
    /// Lower-cased mail domains recipients must be in; empty: any.
    pub allowed_recipient_domains: Vec<String>,
    /// The cluster's recipient domains (`--allowed-recipient-domains`), which the tenant's
    /// can only narrow; empty: any.
    pub cluster_recipient_domains: Vec<String>,
    /// Every e-mail is held: recorded as owed, not sent.
    pub hold: bool,
    /// `requests.discardHeldEmails`: a new value drops what is held.
    pub discard_held: Option<String>,
}

/// Limits the platform team sets for the whole cluster (operator flags, Helm values), which no
/// tenant can widen: a namespace editor owns its tenant, so a limit kept in the tenant is only
/// a limit on the namespace's users, not on the namespace. The relay is shared; without these,
/// one namespace's tenant could send as another organisation's domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterPolicy {
    /// Domains a tenant's `sendEmailFromAddress` must be in (or under); empty: any.
    pub sender_domains: Vec<String>,
    /// Domains every recipient must be in (or under); empty: any.
    pub recipient_domains: Vec<String>,
}

/// Why a cluster policy flag is not a list of domains.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a domain name such as acme.example")]
pub struct BadDomain(pub String);

impl ClusterPolicy {
    /// No limits beyond each tenant's own (offline tools, tests, clusters without flags).
    pub fn unrestricted() -> Self {
        Self::default()
    }

    /// The policy of these flag values, each domain normalised (IDNA, lower case).
    pub fn new(sender_domains: &[String], recipient_domains: &[String]) -> Result<Self, BadDomain> {
        let norm = |list: &[String]| -> Result<Vec<String>, BadDomain> {
            list.iter()
                .filter(|d| !d.trim().is_empty())
                .map(|d| crate::domain::normalise_domain(d.trim()).ok_or_else(|| BadDomain(d.clone())))
                .collect()
        };
        Ok(Self { sender_domains: norm(sender_domains)?, recipient_domains: norm(recipient_domains)? })
    }

    /// Whether mail may be sent from `domain` (normalised).
    pub fn allows_sender(&self, domain: &str) -> bool {
        within(domain, &self.sender_domains)
    }
}

/// Whether `domain` (normalised) is one of `allowed` or under one; an empty list allows any.
fn within(domain: &str, allowed: &[String]) -> bool {
    allowed.is_empty()
        || allowed
            .iter()
            .any(|d| domain == d.as_str() || domain.strip_suffix(d.as_str()).is_some_and(|head| head.ends_with('.')))
}

impl ValidatedTenant {
    /// Looks up one of the tenant's numbers of the given type.
    pub fn number(&self, number: &str, type_: NumberType) -> Option<&DialInNumber> {
        self.numbers.iter().find(|n| n.number == number && n.type_ == type_)
    }

    /// Whether e-mails may go to `address`: its domain is allowed by the cluster and by the
    /// tenant (an empty list allows any).
    pub fn allows_recipient(&self, address: &EmailAddress) -> bool {
        within(address.domain(), &self.cluster_recipient_domains)
            && within(address.domain(), &self.allowed_recipient_domains)
    }
}

fn display_text(field: impl Into<String>, s: &str) -> Result<DisplayText, InvalidSpec> {
    DisplayText::parse(s).map_err(|e| InvalidSpec::new(field, e.to_string()))
}

fn email_address(field: &str, raw: &str) -> Result<EmailAddress, InvalidSpec> {
    EmailAddress::parse(raw)
        .map_err(|e| InvalidSpec::new(field, format!("\"{}\" {e}", crate::domain::escape_for_terminal(raw))))
}

fn optional_display_text(field: impl Into<String>, s: Option<&str>) -> Result<Option<DisplayText>, InvalidSpec> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => display_text(field, s).map(Some),
    }
}

/// Validates a tenant under the cluster's limits.
pub fn validate_tenant(tenant: &ConferencingTenant, policy: &ClusterPolicy) -> Result<ValidatedTenant, InvalidSpec> {
    let spec = &tenant.spec;
    let mut numbers = Vec::with_capacity(spec.service_numbers.len());
    for (i, n) in spec.service_numbers.iter().enumerate() {
        if !is_e164(&n.number) {
            return Err(InvalidSpec::new(
                format!("spec.serviceNumbers[{i}].number"),
                format!("{:?} is not an E.164 number such as +14255550100", n.number),
            ));
        }
        if let Some(c) = &n.country
            && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(InvalidSpec::new(
                format!("spec.serviceNumbers[{i}].country"),
                format!("{c:?} is not an ISO 3166-1 alpha-2 code such as US"),
            ));
        }
        if let Some(l) = &n.language
            && !is_language_tag(l)
        {
            return Err(InvalidSpec::new(
                format!("spec.serviceNumbers[{i}].language"),
                format!("{l:?} is not a language tag such as en-US"),
            ));
        }
        if spec.service_numbers[..i].iter().any(|m| m.number == n.number) {
            return Err(InvalidSpec::new(
                format!("spec.serviceNumbers[{i}].number"),
                format!("{} is listed twice", n.number),
            ));
        }
        numbers.push(DialInNumber {
            number: n.number.clone(),
            type_: n.type_,
            city: optional_display_text(format!("spec.serviceNumbers[{i}].city"), n.city.as_deref())?,
            country: n.country.clone(),
        });
    }
    let default_of = |type_: NumberType, label: &str| -> Result<Option<DialInNumber>, InvalidSpec> {
        let of_type: Vec<usize> = (0..numbers.len()).filter(|&i| numbers[i].type_ == type_).collect();
        let defaults: Vec<usize> =
            of_type.iter().copied().filter(|&i| spec.service_numbers[i].default == Some(true)).collect();
        if defaults.len() > 1 {
            return Err(InvalidSpec::new(
                "spec.serviceNumbers",
                format!("at most one {label} number may be marked default, found {}", defaults.len()),
            ));
        }
        Ok(defaults.first().or(of_type.first()).map(|&i| numbers[i].clone()))
    };
    let default_toll = default_of(NumberType::Toll, "Toll")?
        .ok_or_else(|| InvalidSpec::new("spec.serviceNumbers", "at least one Toll number is required"))?;
    let default_toll_free = default_of(NumberType::TollFree, "TollFree")?;

    let pin_length = PinLength::new(spec.pin.length).ok_or_else(|| {
        InvalidSpec::new("spec.pin.length", format!("must be 4 to 12 digits, not {}", spec.pin.length))
    })?;
    let id_length = IdLength::new(spec.conference_ids.length).ok_or_else(|| {
        InvalidSpec::new(
            "spec.conferenceIds.length",
            format!("must be 6 to 12 digits, not {}", spec.conference_ids.length),
        )
    })?;

    let n = &spec.notifications;
    let sender = if n.send_email_override {
        let raw = n.send_email_from_address.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(InvalidSpec::new(
                "spec.notifications.sendEmailFromAddress",
                "is required when sendEmailOverride is true",
            ));
        }
        let address = email_address("spec.notifications.sendEmailFromAddress", raw)?;
        if !policy.allows_sender(address.domain()) {
            return Err(InvalidSpec::new(
                "spec.notifications.sendEmailFromAddress",
                format!(
                    "{address} is outside the sender domains this cluster allows ({}); ask the platform team, who set the operator's --allowed-sender-domains",
                    policy.sender_domains.join(", ")
                ),
            ));
        }
        Some(SenderOverride {
            address,
            display_name: optional_display_text(
                "spec.notifications.sendEmailFromDisplayName",
                n.send_email_from_display_name.as_deref(),
            )?,
        })
    } else {
        // Checked even when unused, so that turning the override on cannot make a valid
        // tenant invalid.
        optional_display_text(
            "spec.notifications.sendEmailFromDisplayName",
            n.send_email_from_display_name.as_deref(),
        )?;
        None
    };
    let mut allowed_recipient_domains = Vec::with_capacity(n.allowed_recipient_domains.len());
    for (i, d) in n.allowed_recipient_domains.iter().enumerate() {
        if !is_domain(d) {
            return Err(InvalidSpec::new(
                format!("spec.notifications.allowedRecipientDomains[{i}]"),
                format!("{d:?} is not a domain name such as acme.example"),
            ));
        }
        let d = d.to_ascii_lowercase();
        // A tenant can narrow the cluster's list, never widen it.
        if !within(&d, &policy.recipient_domains) {
            return Err(InvalidSpec::new(
                format!("spec.notifications.allowedRecipientDomains[{i}]"),
                format!(
                    "{d} is outside the recipient domains this cluster allows ({}); a tenant can only narrow them",
                    policy.recipient_domains.join(", ")
                ),
            ));
        }
        allowed_recipient_domains.push(d);
    }

    Ok(ValidatedTenant {
        name: tenant.metadata.name.clone().unwrap_or_default(),
        generation: tenant.metadata.generation.unwrap_or_default(),
        numbers,
        default_toll,
        default_toll_free,
        pin_length,
        id_mode: spec.conference_ids.mode,
        id_length,
        allow_pstn_only_meetings_by_default: spec.meetings.allow_pstn_only_meetings_by_default,
        automatic_emails: n.automatically_send_emails_to_users,
        sender,
        default_locale: n.default_locale,
        allowed_recipient_domains,
        cluster_recipient_domains: policy.recipient_domains.clone(),
        hold: n.hold,
        discard_held: tenant.spec.requests.discard_held_emails.clone(),
    })
}

/// What the user should have, as the spec asks for it.
#[derive(Clone, Debug, PartialEq)]
pub enum DesiredService {
    /// Licensed with the Native provider: PIN, conference ID and numbers.
    Native(Box<NativeService>),
    /// Nothing is held for the user, for the given reason.
    Disabled(DisabledReason),
}

/// What a Native user is given.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeService {
    /// Toll number in effect.
    pub toll: DialInNumber,
    /// Toll-free number in effect, if any and allowed.
    pub toll_free: Option<DialInNumber>,
    /// Administrator-chosen ID, if any.
    pub static_id: Option<ConferenceId>,
    /// Whether PSTN-only callers may start the user's meetings.
    pub allow_pstn_only_meetings: bool,
}

/// Why nothing is provisioned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// `audioConferencingLicense: false`.
    Unlicensed,
    /// A third-party provider serves the user.
    ThirdParty(DisplayText),
    /// `provider.type: None`.
    NoProvider,
}

/// A user whose spec holds every rule, resolved against its tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedUser {
    /// Object name.
    pub name: String,
    /// Namespace (the tenant's).
    pub namespace: String,
    /// Object UID, part of Message-IDs.
    pub uid: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// Display name.
    pub display_name: DisplayText,
    /// Where e-mails go: `sendEmailToAddress`, else `email`.
    pub recipient: EmailAddress,
    /// E-mail language: the user's, else the tenant's default.
    pub locale: Locale,
    /// The service asked for.
    pub service: DesiredService,
    /// `spec.audioConferencingLicense`, for status.
    pub licensed: bool,
    /// `spec.provider`, for status.
    pub provider: crate::api::ProviderSpec,
    /// Request tokens.
    pub requests: Requests,
    /// Who wrote each request token, by `managedFields` ([`crate::api::actor`]), in the order
    /// of [`RequestKind::ALL`]; none where the object carries no such record (files in a
    /// config repository).
    pub asked_by: [Option<crate::api::RequestActor>; 3],
}

impl ValidatedUser {
    /// Who wrote the token of `request`.
    pub fn asked_by(&self, request: crate::api::RequestKind) -> Option<&crate::api::RequestActor> {
        let i = crate::api::RequestKind::ALL.iter().position(|r| *r == request)?;
        self.asked_by[i].as_ref()
    }
}

/// The longest user name whose PIN Secret and record names (`<user>-conferencing-pin`,
/// `<user>-conferencing-record`) are still valid object names.
pub const MAX_USER_NAME: usize = 253 - crate::provisioning::record::RECORD_SECRET_SUFFIX.len();

// The record's suffix is the longer one, so the bound above fits the PIN Secret's name too.
const _: () = assert!(
    crate::provisioning::record::RECORD_SECRET_SUFFIX.len() >= crate::provisioning::secret::PIN_SECRET_SUFFIX.len()
);

/// Checks `spec.tenantRef.name`: a DNS-1123 label, as the CRD's pattern
/// ([`crate::api::TENANT_NAME_PATTERN`]) says. Checked again here, before the name is looked
/// up or copied into a condition or an Event, because an object stored before the CRD had the
/// pattern can hold anything, ESC sequences included; the message shows the value escaped.
pub fn validate_tenant_ref(name: &str) -> Result<(), InvalidSpec> {
    let label = (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if label {
        return Ok(());
    }
    Err(InvalidSpec::new(
        "spec.tenantRef.name",
        format!(
            "\"{}\" is not the name of a ConferencingTenant: it must be a DNS-1123 label (at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)",
            escape_for_terminal(name)
        ),
    ))
}

/// Validates a user against its tenant.
pub fn validate_user(user: &ConferencingUser, tenant: &ValidatedTenant) -> Result<ValidatedUser, InvalidSpec> {
    let spec = &user.spec;
    let name = user.metadata.name.clone().unwrap_or_default();
    if name.len() > MAX_USER_NAME {
        return Err(InvalidSpec::new(
            "metadata.name",
            format!("must be at most {MAX_USER_NAME} characters so the names of the user's Secrets fit"),
        ));
    }
    let display_name = display_text("spec.displayName", &spec.display_name)?;
    let email = email_address("spec.email", &spec.email)?;
    let (recipient, recipient_field) = match &spec.send_email_to_address {
        Some(raw) => (email_address("spec.sendEmailToAddress", raw)?, "spec.sendEmailToAddress"),
        None => (email, "spec.email"),
    };
    if !within(recipient.domain(), &tenant.cluster_recipient_domains) {
        return Err(InvalidSpec::new(
            recipient_field,
            format!(
                "e-mails may not go to {recipient}: its domain is outside the recipient domains this cluster allows ({}); use an address in one of them",
                tenant.cluster_recipient_domains.join(", ")
            ),
        ));
    }
    if !tenant.allows_recipient(&recipient) {
        return Err(InvalidSpec::new(
            recipient_field,
            format!(
                "e-mails may not go to {recipient}: its domain is not in tenant {}'s notifications.allowedRecipientDomains ({}); use an address in one of them, or ask the tenant's owner to allow the domain",
                tenant.name,
                tenant.allowed_recipient_domains.join(", ")
            ),
        ));
    }
    for (field, token) in [
        ("spec.requests.resetPin", &spec.requests.reset_pin),
        ("spec.requests.resetConferenceId", &spec.requests.reset_conference_id),
        ("spec.requests.sendConferencingInfo", &spec.requests.send_conferencing_info),
    ] {
        if let Some(t) = token
            && (t.is_empty() || t.len() > 128)
        {
            return Err(InvalidSpec::new(field, "must be 1 to 128 characters"));
        }
    }

    let provider = &spec.provider;
    let third_party_name = match provider.type_ {
        ProviderType::ThirdParty => match provider.name.as_deref().filter(|n| !n.is_empty()) {
            None => {
                return Err(InvalidSpec::new(
                    "spec.provider.name",
                    "is required when spec.provider.type is ThirdParty",
                ));
            }
            Some(n) => Some(display_text("spec.provider.name", n)?),
        },
        _ => {
            optional_display_text("spec.provider.name", provider.name.as_deref())?;
            None
        }
    };

    // Numbers and the static ID are checked even for a disabled user, so that a mistake is
    // reported when it is made rather than when the user is next enabled.
    let toll = match &spec.service_number {
        Some(n) => tenant.number(n, NumberType::Toll).cloned().ok_or_else(|| {
            InvalidSpec::new("spec.serviceNumber", format!("{n} is not a Toll number of tenant {}", tenant.name))
        })?,
        None => tenant.default_toll.clone(),
    };
    let toll_free_chosen = match &spec.toll_free_service_number {
        Some(n) => Some(tenant.number(n, NumberType::TollFree).cloned().ok_or_else(|| {
            InvalidSpec::new(
                "spec.tollFreeServiceNumber",
                format!("{n} is not a TollFree number of tenant {}", tenant.name),
            )
        })?),
        None => tenant.default_toll_free.clone(),
    };
    let toll_free = if spec.allow_toll_free_dial_in == Some(false) { None } else { toll_free_chosen };
    let static_id = match &spec.conference_id {
        Some(raw) => Some(static_conference_id(raw, tenant)?),
        None => None,
    };

    let service = if !spec.audio_conferencing_license {
        DesiredService::Disabled(DisabledReason::Unlicensed)
    } else {
        match (provider.type_, third_party_name) {
            (ProviderType::Native, _) => DesiredService::Native(Box::new(NativeService {
                toll,
                toll_free,
                static_id,
                allow_pstn_only_meetings: spec
                    .allow_pstn_only_meetings
                    .unwrap_or(tenant.allow_pstn_only_meetings_by_default),
            })),
            (ProviderType::ThirdParty, Some(name)) => DesiredService::Disabled(DisabledReason::ThirdParty(name)),
            (ProviderType::ThirdParty, None) | (ProviderType::None, _) => {
                DesiredService::Disabled(DisabledReason::NoProvider)
            }
        }
    };

    Ok(ValidatedUser {
        name,
        namespace: user.metadata.namespace.clone().unwrap_or_default(),
        uid: user.metadata.uid.clone().unwrap_or_default(),
        generation: user.metadata.generation.unwrap_or_default(),
        display_name,
        recipient,
        locale: spec.locale.unwrap_or(tenant.default_locale),
        service,
        licensed: spec.audio_conferencing_license,
        provider: spec.provider.clone(),
        requests: spec.requests.clone(),
        asked_by: crate::api::RequestKind::ALL.map(|r| crate::api::actor::asked_by(&user.metadata, r)),
    })
}

/// A static conference ID as the tenant can dial it: the canonical spelling (no leading zero)
/// and the tenant's length. The controller enforces both, not only `validate`, so that an
/// object that never went through a pull request cannot hold a second spelling of a dialled ID.
fn static_conference_id(raw: &str, tenant: &ValidatedTenant) -> Result<ConferenceId, InvalidSpec> {
    let field = "spec.conferenceId";
    let shown = crate::domain::escape_for_terminal(raw);
    if raw.starts_with('0') && raw.len() > 1 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidSpec::new(
            field,
            format!(
                "{shown} starts with 0, which phone systems strip (callers would reach {}); choose an ID without a leading zero",
                raw.trim_start_matches('0')
            ),
        ));
    }
    let id = ConferenceId::parse(raw)
        .ok_or_else(|| InvalidSpec::new(field, format!("{shown:?} must be 4 to 12 digits, the first not 0")))?;
    let wanted = tenant.id_length.get();
    if raw.len() != wanted {
        return Err(InvalidSpec::new(
            field,
            format!(
                "{raw} has {} digits, but tenant {} uses {wanted}-digit conference IDs; choose a {wanted}-digit ID",
                raw.len(),
                tenant.name
            ),
        ));
    }
    Ok(id)
}

/// E.164: a plus sign, a non-zero digit, then 6 to 14 more digits.
fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// A BCP 47-shaped tag: letters, then hyphen-separated alphanumeric subtags.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok =
        parts.next().is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && s.len() <= 35
}

/// A DNS domain name: dot-separated labels of letters, digits and inner hyphens.
fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{tenant, user};

    #[test]
    fn a_user_name_leaves_room_for_the_names_of_its_secrets() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("tenant");
        let longest = "a".repeat(MAX_USER_NAME);
        let mut u = user(&longest, "acme");
        u.spec.email = "long@acme.example".into();
        assert!(validate_user(&u, &t).is_ok());
        for name in [
            crate::provisioning::secret::pin_secret_name(&longest),
            crate::provisioning::record::record_secret_name(&longest),
        ] {
            assert!(name.len() <= 253, "{} characters", name.len());
        }
        u.metadata.name = Some(format!("{longest}a"));
        let e = validate_user(&u, &t).expect_err("one character too long");
        assert!(e.to_string().starts_with("metadata.name"), "{e}");
    }

    /// A change to an object and the field the resulting error must name.
    type Case<T> = (Box<dyn Fn(&mut T)>, &'static str);

    #[test]
    fn defaults_apply() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid");
        assert_eq!(t.pin_length.get(), 5);
        assert_eq!(t.id_length.get(), 7);
        assert_eq!(t.id_mode, ConferenceIdMode::Static);
        assert!(t.automatic_emails);
        assert_eq!(t.default_locale, Locale::En);
        assert_eq!(t.default_toll.number, "+14255550100");
        assert_eq!(t.default_toll_free.as_ref().map(|n| n.number.as_str()), Some("+18005550100"));
    }

    #[test]
    fn marked_default_wins_over_first() {
        let mut t = tenant("acme");
        t.spec.service_numbers[1].default = Some(true);
        let v = validate_tenant(&t, &ClusterPolicy::unrestricted()).expect("valid");
        assert_eq!(v.default_toll.number, "+442075550100");
    }

    #[test]
    fn tenant_rules_name_the_field() {
        let cases: Vec<Case<ConferencingTenant>> = vec![
            (Box::new(|t| t.spec.service_numbers.retain(|n| n.type_ != NumberType::Toll)), "spec.serviceNumbers"),
            (
                Box::new(|t| {
                    t.spec.service_numbers[0].default = Some(true);
                    t.spec.service_numbers[1].default = Some(true);
                }),
                "spec.serviceNumbers",
            ),
            (Box::new(|t| t.spec.service_numbers[0].number = "555-0100".into()), "spec.serviceNumbers[0].number"),
            (Box::new(|t| t.spec.service_numbers[0].country = Some("usa".into())), "spec.serviceNumbers[0].country"),
            (Box::new(|t| t.spec.pin.length = 3), "spec.pin.length"),
            (
                Box::new(|t| t.spec.service_numbers[0].city = Some("Redmond\u{2028}".into())),
                "spec.serviceNumbers[0].city",
            ),
            (
                Box::new(|t| t.spec.service_numbers[0].language = Some("en US".into())),
                "spec.serviceNumbers[0].language",
            ),
            (
                Box::new(|t| t.spec.notifications.send_email_from_display_name = Some("Acme\nIT".into())),
                "spec.notifications.sendEmailFromDisplayName",
            ),
            (
                Box::new(|t| t.spec.notifications.allowed_recipient_domains = vec!["acme .example".into()]),
                "spec.notifications.allowedRecipientDomains[0]",
            ),
            (Box::new(|t| t.spec.pin.length = 13), "spec.pin.length"),
            (Box::new(|t| t.spec.conference_ids.length = 5), "spec.conferenceIds.length"),
            (Box::new(|t| t.spec.notifications.send_email_override = true), "spec.notifications.sendEmailFromAddress"),
            (
                Box::new(|t| {
                    t.spec.notifications.send_email_override = true;
                    t.spec.notifications.send_email_from_address = Some("not an address".into());
                }),
                "spec.notifications.sendEmailFromAddress",
            ),
        ];
        for (mutate, field) in cases {
            let mut t = tenant("acme");
            mutate(&mut t);
            let err = validate_tenant(&t, &ClusterPolicy::unrestricted()).expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn sender_override_is_parsed() {
        let mut t = tenant("acme");
        t.spec.notifications.send_email_override = true;
        t.spec.notifications.send_email_from_address = Some("it@acme.example".into());
        t.spec.notifications.send_email_from_display_name = Some("Acme IT".into());
        let v = validate_tenant(&t, &ClusterPolicy::unrestricted()).expect("valid");
        let s = v.sender.expect("override");
        assert_eq!(s.address.to_string(), "it@acme.example");
        assert_eq!(s.display_name.as_ref().map(DisplayText::as_str), Some("Acme IT"));
    }

    #[test]
    fn user_resolves_numbers_locale_and_recipient() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid");
        let mut u = user("alice", "acme");
        u.spec.send_email_to_address = Some("alice@home.example".into());
        u.spec.service_number = Some("+442075550100".into());
        let v = validate_user(&u, &t).expect("valid");
        assert_eq!(v.recipient.to_string(), "alice@home.example");
        assert_eq!(v.locale, Locale::En);
        let DesiredService::Native(n) = v.service else { panic!("native expected") };
        assert_eq!(n.toll.number, "+442075550100");
        assert_eq!(n.toll_free.map(|n| n.number), Some("+18005550100".to_string()));
        assert!(!n.allow_pstn_only_meetings);
    }

    #[test]
    fn user_rules_name_the_field() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid");
        let cases: Vec<Case<ConferencingUser>> = vec![
            (Box::new(|u| u.spec.email = "nope".into()), "spec.email"),
            (Box::new(|u| u.spec.send_email_to_address = Some("a@".into())), "spec.sendEmailToAddress"),
            (Box::new(|u| u.spec.display_name = "  ".into()), "spec.displayName"),
            (Box::new(|u| u.spec.display_name = "Alice\nBcc: x@evil.example".into()), "spec.displayName"),
            (Box::new(|u| u.spec.display_name = "\u{202E}ecilA".into()), "spec.displayName"),
            (
                Box::new(|u| {
                    u.spec.provider.type_ = ProviderType::ThirdParty;
                    u.spec.provider.name = Some("Contoso\r\nX-Evil: 1".into());
                }),
                "spec.provider.name",
            ),
            (Box::new(|u| u.spec.provider.type_ = ProviderType::ThirdParty), "spec.provider.name"),
            (Box::new(|u| u.spec.service_number = Some("+19995550100".into())), "spec.serviceNumber"),
            (Box::new(|u| u.spec.service_number = Some("+18005550100".into())), "spec.serviceNumber"),
            (Box::new(|u| u.spec.toll_free_service_number = Some("+14255550100".into())), "spec.tollFreeServiceNumber"),
            (Box::new(|u| u.spec.conference_id = Some("12ab".into())), "spec.conferenceId"),
            (Box::new(|u| u.spec.requests.reset_pin = Some("x".repeat(129))), "spec.requests.resetPin"),
            (Box::new(|u| u.metadata.name = Some("a".repeat(240))), "metadata.name"),
        ];
        for (mutate, field) in cases {
            let mut u = user("alice", "acme");
            mutate(&mut u);
            let err = validate_user(&u, &t).expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn a_static_id_has_one_spelling_and_the_tenants_length() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid");
        let len = t.id_length.get();
        let good = format!("8{}", "8".repeat(len - 1));
        let mut u = user("bob", "acme");
        u.spec.conference_id = Some(good.clone());
        assert!(validate_user(&u, &t).is_ok());
        for (bad, says) in [
            (format!("0{}", &good[1..]), "starts with 0"),
            (format!("0{good}"), "starts with 0"),
            (good[1..].to_string(), "digits, but tenant acme uses"),
            (format!("{good}1"), "digits, but tenant acme uses"),
        ] {
            u.spec.conference_id = Some(bad.clone());
            let err = validate_user(&u, &t).expect_err(&bad);
            assert_eq!(err.field, "spec.conferenceId");
            assert!(err.message.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn disabled_reasons() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid");
        let mut u = user("alice", "acme");
        u.spec.audio_conferencing_license = false;
        assert_eq!(validate_user(&u, &t).expect("valid").service, DesiredService::Disabled(DisabledReason::Unlicensed));
        let mut u = user("alice", "acme");
        u.spec.provider.type_ = ProviderType::ThirdParty;
        u.spec.provider.name = Some("Contoso Audio".into());
        assert_eq!(
            validate_user(&u, &t).expect("valid").service,
            DesiredService::Disabled(DisabledReason::ThirdParty(DisplayText::parse("Contoso Audio").expect("text")))
        );
        let mut u = user("alice", "acme");
        u.spec.provider.type_ = ProviderType::None;
        assert_eq!(validate_user(&u, &t).expect("valid").service, DesiredService::Disabled(DisabledReason::NoProvider));
    }

    #[test]
    fn toll_free_can_be_disallowed() {
        let t = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid");
        let mut u = user("alice", "acme");
        u.spec.allow_toll_free_dial_in = Some(false);
        let DesiredService::Native(n) = validate_user(&u, &t).expect("valid").service else { panic!() };
        assert!(n.toll_free.is_none());
    }

    #[test]
    fn allowed_recipient_domains_limit_where_mail_goes() {
        let mut t = tenant("acme");
        t.spec.notifications.allowed_recipient_domains = vec!["acme.example".into(), "Partner.Example".into()];
        let t = validate_tenant(&t, &ClusterPolicy::unrestricted()).expect("valid");
        let mut u = user("alice", "acme");
        assert!(validate_user(&u, &t).is_ok(), "alice@acme.example is allowed");
        u.spec.send_email_to_address = Some("alice@mail.partner.example".into());
        assert!(validate_user(&u, &t).is_ok(), "a subdomain of an allowed domain is allowed");
        u.spec.send_email_to_address = Some("attacker@evil.example".into());
        let e = validate_user(&u, &t).expect_err("redirect refused");
        assert_eq!(e.field, "spec.sendEmailToAddress");
        assert!(e.message.contains("allowedRecipientDomains"), "{e}");
        u.spec.send_email_to_address = Some("x@notacme.example".into());
        assert!(validate_user(&u, &t).is_err(), "a suffix that is not a subdomain is refused");
        u.spec.send_email_to_address = None;
        u.spec.email = "alice@evil.example".into();
        assert_eq!(validate_user(&u, &t).expect_err("refused").field, "spec.email");
    }

    #[test]
    fn e164() {
        assert!(is_e164("+14255550100"));
        assert!(!is_e164("14255550100"));
        assert!(!is_e164("+0425555"));
        assert!(!is_e164("+1425"));
        assert!(!is_e164("+1425555010012345"));
    }

    #[test]
    fn tenant_refs_are_dns_labels_and_the_message_shows_the_value_escaped() {
        for good in ["acme", "a", "acme-2", "0", &"a".repeat(63)] {
            assert_eq!(validate_tenant_ref(good), Ok(()), "{good}");
        }
        let osc52 = "acme\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2A";
        for bad in
            ["", "Acme", "acme.example", "-acme", "acme-", "ac me", "acme\n", "\u{202e}emca", osc52, &"a".repeat(64)]
        {
            let e = validate_tenant_ref(bad).expect_err(bad);
            assert_eq!(e.field, "spec.tenantRef.name");
            assert!(!e.to_string().chars().any(crate::domain::is_forbidden), "{e}");
        }
        let e = validate_tenant_ref(osc52).expect_err("refused");
        assert!(e.message.starts_with("\"acme\\u{1b}]52;c;ZXZpbA==\\u{7}\\u{1b}[2A\" is not"), "{e}");
        // The same rule as the CRD's pattern and length.
        let re = regex::Regex::new(crate::api::TENANT_NAME_PATTERN).expect("pattern compiles");
        for c in (0u32..0x300).filter_map(char::from_u32) {
            for s in [format!("{c}"), format!("a{c}"), format!("a{c}b"), format!("{c}b")] {
                assert_eq!(validate_tenant_ref(&s).is_ok(), re.is_match(&s), "{s:?}");
            }
        }
    }
}
