//! One export row to one user: each mapped column read, normalised as the reference writes it
//! (numbers without their `+`, addresses with `sip:`, booleans as `True`), and checked, so that
//! a row that cannot be imported says why with its line.

use super::error::RowProblem;
use super::mapping::{Field, Mapping};
use super::source::{Row, Table};
use crate::api::{Locale, ProviderSpec, ProviderType};
use crate::domain::{ConferenceId, DisplayText, EmailAddress};

/// A user as the export describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImportedUser {
    /// The row's line.
    pub(crate) line: u64,
    /// The sign-in address, lower-cased, without `sip:`: the user's identity across imports.
    pub(crate) sign_in: String,
    /// `spec.email`.
    pub(crate) email: String,
    /// `spec.displayName`.
    pub(crate) display_name: String,
    /// The conference ID the user keeps, if the export has one.
    pub(crate) conference_id: Option<ConferenceId>,
    /// The toll number, in E.164.
    pub(crate) service_number: Option<String>,
    /// The toll-free number, in E.164.
    pub(crate) toll_free_service_number: Option<String>,
    /// Whether callers may use toll-free numbers, if the export says.
    pub(crate) allow_toll_free_dial_in: Option<bool>,
    /// Whether callers may start meetings without the user, if the export says.
    pub(crate) allow_pstn_only_meetings: Option<bool>,
    /// The e-mails' language, if mapped.
    pub(crate) locale: Option<Locale>,
    /// Whether the licence is assigned.
    pub(crate) licensed: bool,
    /// The provider.
    pub(crate) provider: ProviderSpec,
}

/// Reads every row of `table`: the users, and the rows that could not be read.
pub(crate) fn read(table: &Table, mapping: &Mapping) -> (Vec<ImportedUser>, Vec<RowProblem>) {
    let mut users = Vec::with_capacity(table.rows.len());
    let mut problems = Vec::new();
    for row in &table.rows {
        match user(row, mapping) {
            Ok(u) => users.push(u),
            Err(reason) => problems.push(RowProblem { file: table.file.clone(), line: row.line, reason }),
        }
    }
    (users, problems)
}

fn user(row: &Row, mapping: &Mapping) -> Result<ImportedUser, String> {
    let text = |field: Field| mapping.column(field).and_then(|c| row.text(c));
    let column_name = |field: Field| mapping.column(field).unwrap_or("(unmapped)").to_string();
    let required = |field: Field| {
        text(field).ok_or_else(|| {
            let column = column_name(field);
            if mapping.column(field).is_some_and(|c| !row.has(c)) {
                format!("no column {column} for {field}: map one with --map COLUMN={field}")
            } else {
                format!("{column} ({field}) is empty")
            }
        })
    };
    let sign_in = address(&required(Field::SignInAddress)?)
        .map_err(|e| format!("{} (signInAddress) {e}", column_name(Field::SignInAddress)))?;
    let email = match mapping.column(Field::Email) {
        c if c == mapping.column(Field::SignInAddress) => sign_in.clone(),
        _ => address(&required(Field::Email)?).map_err(|e| format!("{} (email) {e}", column_name(Field::Email)))?,
    };
    let display_name = required(Field::DisplayName)?;
    DisplayText::parse(&display_name).map_err(|e| format!("{} (displayName) {e}", column_name(Field::DisplayName)))?;
    let conference_id = match text(Field::ConferenceId) {
        None => None,
        Some(id) => Some(ConferenceId::parse(&id).ok_or_else(|| {
            format!(
                "{} {id:?} is not a conference ID (4 to 12 digits, not starting with 0)",
                column_name(Field::ConferenceId)
            )
        })?),
    };
    let number = |field: Field| -> Result<Option<String>, String> {
        text(field).map(|n| phone_number(&n).map_err(|e| format!("{} {n:?} {e}", column_name(field)))).transpose()
    };
    let flag = |field: Field| -> Result<Option<bool>, String> {
        text(field)
            .map(|v| boolean(&v).ok_or_else(|| format!("{} {v:?} is not True or False", column_name(field))))
            .transpose()
    };
    let locale = text(Field::Locale)
        .map(|l| locale(&l).ok_or_else(|| format!("{} {l:?} is not en, fr or zh-CN", column_name(Field::Locale))))
        .transpose()?;
    Ok(ImportedUser {
        line: row.line,
        email,
        display_name,
        conference_id,
        service_number: number(Field::ServiceNumber)?,
        toll_free_service_number: number(Field::TollFreeServiceNumber)?,
        allow_toll_free_dial_in: flag(Field::AllowTollFreeDialIn)?,
        allow_pstn_only_meetings: flag(Field::AllowPstnOnlyMeetings)?,
        locale,
        licensed: flag(Field::AudioConferencingLicense)?.unwrap_or(true),
        provider: provider(text(Field::Provider).as_deref()),
        sign_in,
    })
}

/// An address as the operator accepts it, from `sip:alice@contoso.com` or `alice@contoso.com`,
/// lower-cased (mail domains and, in the reference, sign-in addresses ignore case).
pub(crate) fn address(raw: &str) -> Result<String, String> {
    let bare = raw.trim();
    let bare = bare.get(..4).filter(|p| p.eq_ignore_ascii_case("sip:")).map_or(bare, |_| &bare[4..]);
    let lower = bare.to_lowercase();
    EmailAddress::parse(&lower).map_err(|e| format!("{:?} {e}", crate::domain::escape_for_terminal(raw)))?;
    Ok(lower)
}

/// A dial-in number in E.164, from the reference's digits without `+` (`14255550100`) or a
/// written form (`+1 (425) 555-0100`, `tel:+14255550100`).
pub(crate) fn phone_number(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("tel:").unwrap_or(raw);
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '+')).collect();
    let ok = raw.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '+'))
        && raw.chars().filter(|c| *c == '+').count() <= 1
        && (!raw.contains('+') || raw.starts_with('+'))
        && (7..=15).contains(&digits.len())
        && !digits.starts_with('0');
    if ok { Ok(format!("+{digits}")) } else { Err("is not a phone number (7 to 15 digits, country code first)".into()) }
}

/// `True`/`False` as PowerShell writes them, and the usual spellings.
pub(crate) fn boolean(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "$true" => Some(true),
        "false" | "no" | "0" | "$false" => Some(false),
        _ => None,
    }
}

fn locale(raw: &str) -> Option<Locale> {
    let lower = raw.trim().to_ascii_lowercase().replace('_', "-");
    if lower.starts_with("zh-cn") || lower == "zh-hans" || lower.starts_with("zh-hans-") || lower == "zh" {
        return Some(Locale::ZhCn);
    }
    match lower.split('-').next()? {
        "en" => Some(Locale::En),
        "fr" => Some(Locale::Fr),
        _ => None,
    }
}

/// The provider: the reference's own (blank, `Native`, `Microsoft`), `None`, or a third party.
fn provider(raw: Option<&str>) -> ProviderSpec {
    match raw.map(str::trim) {
        None | Some("") => ProviderSpec::default(),
        Some(p) if ["native", "microsoft"].contains(&p.to_ascii_lowercase().as_str()) => ProviderSpec::default(),
        Some(p) if p.eq_ignore_ascii_case("none") => ProviderSpec { type_: ProviderType::None, name: None },
        Some(p) => ProviderSpec { type_: ProviderType::ThirdParty, name: Some(p.to_string()) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row::new(7, pairs.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))))
    }

    fn alice() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SipAddress", "sip:Alice.Smith@Contoso.com"),
            ("DisplayName", "Alice Smith"),
            ("ConferenceId", "1234567"),
            ("ServiceNumber", "14255550100"),
            ("TollFreeServiceNumber", ""),
            ("AllowTollFreeDialIn", "True"),
            ("AllowPstnOnlyMeetings", "False"),
        ]
    }

    #[test]
    fn a_reference_row_becomes_a_user() {
        let u = user(&row(&alice()), &Mapping::default()).expect("imports");
        assert_eq!(u.sign_in, "alice.smith@contoso.com");
        assert_eq!(u.email, "alice.smith@contoso.com");
        assert_eq!(u.conference_id.as_ref().map(ConferenceId::as_str), Some("1234567"));
        assert_eq!(u.service_number.as_deref(), Some("+14255550100"));
        assert_eq!(u.toll_free_service_number, None);
        assert_eq!((u.allow_toll_free_dial_in, u.allow_pstn_only_meetings), (Some(true), Some(false)));
        assert!(u.licensed);
        assert_eq!(u.provider, ProviderSpec::default());
    }

    #[test]
    fn each_bad_value_names_its_column_and_why() {
        let cases: [(&str, &str, &str); 6] = [
            ("ConferenceId", "0123456", "ConferenceId \"0123456\" is not a conference ID"),
            ("ServiceNumber", "call me", "ServiceNumber \"call me\" is not a phone number"),
            ("SipAddress", "sip:attacker%evil.example@contoso.com", "SipAddress (signInAddress)"),
            ("DisplayName", "Alice\u{202e}", "DisplayName (displayName)"),
            ("AllowTollFreeDialIn", "maybe", "AllowTollFreeDialIn \"maybe\" is not True or False"),
            ("DisplayName", "", "DisplayName (displayName) is empty"),
        ];
        for (column, value, expected) in cases {
            let mut pairs = alice();
            pairs.iter_mut().find(|(k, _)| *k == column).expect("column").1 = value;
            let err = user(&row(&pairs), &Mapping::default()).expect_err(value);
            assert!(err.contains(expected), "{column}={value:?}: {err}");
        }
        let missing: Vec<_> = alice().into_iter().filter(|(k, _)| *k != "DisplayName").collect();
        let err = user(&row(&missing), &Mapping::default()).expect_err("no column");
        assert!(err.contains("no column DisplayName for displayName: map one with --map"), "{err}");
    }

    #[test]
    fn mapped_columns_fill_email_locale_licence_and_provider() {
        let mut pairs = alice();
        pairs.extend([
            ("Mail", "alice@mail.contoso.com"),
            ("Lang", "fr-FR"),
            ("Licensed", "False"),
            ("Bridge", "Acme Audio"),
        ]);
        let m = Mapping::with_overrides(&[
            "Mail=email".into(),
            "Lang=locale".into(),
            "Licensed=audioConferencingLicense".into(),
            "Bridge=provider".into(),
        ])
        .expect("mapping");
        let u = user(&row(&pairs), &m).expect("imports");
        assert_eq!(u.email, "alice@mail.contoso.com");
        assert_eq!(u.sign_in, "alice.smith@contoso.com");
        assert_eq!(u.locale, Some(Locale::Fr));
        assert!(!u.licensed);
        assert_eq!(u.provider, ProviderSpec { type_: ProviderType::ThirdParty, name: Some("Acme Audio".into()) });
    }

    #[test]
    fn numbers_in_the_forms_people_write_them() {
        assert_eq!(phone_number("14255550100").as_deref(), Ok("+14255550100"));
        assert_eq!(phone_number("+1 (425) 555-0100").as_deref(), Ok("+14255550100"));
        assert_eq!(phone_number("tel:+33123456789").as_deref(), Ok("+33123456789"));
        for bad in ["", "0123456789", "+1+2345678", "12 34", "1425555010012345", "1-800-FLOWERS"] {
            assert!(phone_number(bad).is_err(), "{bad}");
        }
    }
}
