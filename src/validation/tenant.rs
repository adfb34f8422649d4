//! A tenant's spec to a [`ValidatedTenant`].

use super::{
    ClusterPolicy, InvalidSpec, email_address, is_domain, is_e164, is_language_tag, optional_display_text, within,
};
use crate::api::{ConferenceIdMode, ConferencingTenant, Locale, NumberType, TakeoverEmail};
use crate::domain::{DisplayText, EmailAddress, IdLength, PinLength};
use crate::provisioning::pin::PinRules;
use crate::schedule::{Lifetime, SendWindow};

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
    /// Language of the number's prompts, a BCP 47 tag.
    pub language: Option<String>,
}

/// A tenant whose spec holds every rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedTenant {
    /// Tenant name.
    pub name: String,
    /// The organisation's name that signs e-mails: `spec.organizationName`, else the tenant's
    /// name.
    pub organization_name: String,
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
    /// What a takeover e-mails.
    pub takeover_email: TakeoverEmail,
    /// The rules every PIN issued meets (`pin.allowCommonPatterns`, the numbers' endings).
    pub pin_rules: PinRules,
    /// How many earlier PINs a new one may not repeat (`pin.historyCount`).
    pub pin_history: u8,
    /// How long a PIN lives (`pin.lifetime`); `None`: for ever.
    pub pin_lifetime: Option<Lifetime>,
    /// At most this many automatic e-mails (and rotations) a minute (`notifications.maxEmailsPerMinute`).
    pub email_cap: Option<u32>,
    /// When automatic e-mails (and rotations) go out (`notifications.sendWindow`).
    pub send_window: Option<SendWindow>,
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
            language: n.language.clone(),
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
    if spec.pin.history_count > 20 {
        return Err(InvalidSpec::new(
            "spec.pin.historyCount",
            format!("must be 0 to 20, not {}", spec.pin.history_count),
        ));
    }
    let pin_lifetime = match &spec.pin.lifetime {
        None => None,
        Some(raw) => Some(Lifetime::parse(raw).ok_or_else(|| {
            InvalidSpec::new(
                "spec.pin.lifetime",
                format!(
                    "{:?} is not a lifetime of at least 10 s: digits and a unit, d, h, m or s, e.g. 90d or 1d12h",
                    crate::domain::escape_for_terminal(raw)
                ),
            )
        })?),
    };
    let pin_rules = PinRules {
        allow_common_patterns: spec.pin.allow_common_patterns,
        number_endings: numbers.iter().map(|n| n.number[n.number.len().saturating_sub(4)..].to_string()).collect(),
    };
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

    let send_window = match &n.send_window {
        None => None,
        Some(w) => Some(
            SendWindow::new(&w.start, &w.end, &w.time_zone)
                .map_err(|e| InvalidSpec::new("spec.notifications.sendWindow", e.to_string()))?,
        ),
    };
    let name = tenant.metadata.name.clone().unwrap_or_default();
    let organization_name = optional_display_text("spec.organizationName", spec.organization_name.as_deref())?
        .map_or_else(|| name.clone(), |n| n.to_string());
    Ok(ValidatedTenant {
        name,
        organization_name,
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
        takeover_email: n.takeover_email,
        pin_rules,
        pin_history: spec.pin.history_count,
        pin_lifetime,
        email_cap: n.max_emails_per_minute.filter(|c| *c > 0),
        send_window,
    })
}
