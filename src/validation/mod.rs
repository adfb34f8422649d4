//! Parse, don't validate: turns a tenant or user spec into a `Validated…` value whose types
//! say every rule holds, or an [`InvalidSpec`] naming the field.
//!
//! The schema-level rules are enforced by the API server, and the cross-field ones by CEL on
//! API servers that support it. Both are checked again here because CEL is ignored by API
//! servers older than 1.25, because an object may predate a rule (a stored object is not
//! re-validated when the CRD gains a pattern), and because the planner must never see an
//! unchecked spec. Every string that can reach an e-mail becomes a [`DisplayText`] or an
//! [`EmailAddress`] here, or the object is `InvalidSpec`.

mod policy;
mod tenant;
mod user;

pub use policy::{BadDomain, ClusterPolicy};
pub use tenant::{DialInNumber, SenderOverride, ValidatedTenant, validate_tenant};
pub use user::{
    Adoption, DesiredService, DisabledReason, MAX_USER_NAME, NativeService, ValidatedUser, validate_tenant_ref,
    validate_user,
};

use crate::domain::{DisplayText, EmailAddress};

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

/// Whether `domain` (normalised) is one of `allowed` or under one; an empty list allows any.
fn within(domain: &str, allowed: &[String]) -> bool {
    allowed.is_empty()
        || allowed
            .iter()
            .any(|d| domain == d.as_str() || domain.strip_suffix(d.as_str()).is_some_and(|head| head.ends_with('.')))
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
    use crate::api::{ConferenceIdMode, ConferencingTenant, ConferencingUser, Locale, NumberType, ProviderType};
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
