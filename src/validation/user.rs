//! A user's spec, under its validated tenant, to a [`ValidatedUser`].

use super::{DialInNumber, InvalidSpec, ValidatedTenant, display_text, email_address, optional_display_text, within};
use crate::api::{ConferencingUser, Locale, NumberType, PinSourceRef, ProviderType, Requests};
use crate::domain::{ConferenceId, DisplayText, EmailAddress, escape_for_terminal};

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

/// What a user brings from the system it is taken over from (`spec.adopt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adoption {
    /// The conference ID to keep.
    pub conference_id: Option<ConferenceId>,
    /// Where the PIN to keep is.
    pub pin_source: Option<PinSourceRef>,
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
    /// `requests.sendEmailToAddress`: where the e-mails of the requests handled with it go.
    pub request_recipient: Option<EmailAddress>,
    /// `spec.adopt`, if it asks for anything.
    pub adoption: Option<Adoption>,
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
    check_recipient(&recipient, recipient_field, tenant)?;
    let request_recipient = match &spec.requests.send_email_to_address {
        Some(raw) => {
            let field = "spec.requests.sendEmailToAddress";
            let address = email_address(field, raw)?;
            check_recipient(&address, field, tenant)?;
            Some(address)
        }
        None => None,
    };
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
    let adoption = match &spec.adopt {
        None => None,
        Some(a) => {
            let conference_id = match &a.conference_id {
                Some(raw) => Some(canonical_id("spec.adopt.conferenceId", raw)?),
                None => None,
            };
            if let (Some(adopted), Some(chosen)) = (&conference_id, &static_id)
                && adopted != chosen
            {
                return Err(InvalidSpec::new(
                    "spec.adopt.conferenceId",
                    format!(
                        "{adopted} differs from spec.conferenceId {chosen}: keep the ID with spec.adopt.conferenceId, or make it static with spec.conferenceId, not both"
                    ),
                ));
            }
            (conference_id.is_some() || a.pin_secret_ref.is_some())
                .then(|| Adoption { conference_id, pin_source: a.pin_secret_ref.clone() })
        }
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
        request_recipient,
        adoption,
        asked_by: crate::api::RequestKind::ALL.map(|r| crate::api::actor::asked_by(&user.metadata, r)),
    })
}

/// Whether e-mails may go to `address` (given in `field`): the cluster's recipient domains,
/// then the tenant's.
fn check_recipient(address: &EmailAddress, field: &str, tenant: &ValidatedTenant) -> Result<(), InvalidSpec> {
    if !within(address.domain(), &tenant.cluster_recipient_domains) {
        return Err(InvalidSpec::new(
            field,
            format!(
                "e-mails may not go to {address}: its domain is outside the recipient domains this cluster allows ({}); use an address in one of them",
                tenant.cluster_recipient_domains.join(", ")
            ),
        ));
    }
    if !tenant.allows_recipient(address) {
        return Err(InvalidSpec::new(
            field,
            format!(
                "e-mails may not go to {address}: its domain is not in tenant {}'s notifications.allowedRecipientDomains ({}); use an address in one of them, or ask the tenant's owner to allow the domain",
                tenant.name,
                tenant.allowed_recipient_domains.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A conference ID in its one canonical spelling (no leading zero, which phone systems strip).
fn canonical_id(field: &str, raw: &str) -> Result<ConferenceId, InvalidSpec> {
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
    ConferenceId::parse(raw)
        .ok_or_else(|| InvalidSpec::new(field, format!("{shown:?} must be 4 to 12 digits, the first not 0")))
}

/// A static conference ID as the tenant can dial it: the canonical spelling (no leading zero)
/// and the tenant's length. The controller enforces both, not only `validate`, so that an
/// object that never went through a pull request cannot hold a second spelling of a dialled ID.
/// (An adopted ID keeps whatever length the system it comes from gave it.)
fn static_conference_id(raw: &str, tenant: &ValidatedTenant) -> Result<ConferenceId, InvalidSpec> {
    let field = "spec.conferenceId";
    let id = canonical_id(field, raw)?;
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
