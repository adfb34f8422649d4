//! The tenant the exports describe: its dial-in numbers from the bridge export
//! (`Get-CsOnlineDialInConferencingBridge | ConvertTo-Json`), or, without one, from the
//! numbers the users have (the most common being the defaults); its settings from
//! `Get-CsOnlineDialInConferencingTenantSettings`, where a field here has a counterpart.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::error::ImportError;
use super::source::Table;
use super::users::{ImportedUser, boolean, phone_number};
use crate::api::{
    ConferenceIdMode, ConferenceIdPolicy, ConferencingTenantSpec, MeetingPolicy, NotificationPolicy, NumberType,
    PinPolicy, ServiceNumber, TakeoverEmail, TenantRequests,
};

/// A dial-in number and what the bridge says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BridgeNumber {
    number: String,
    type_: Option<NumberType>,
    city: Option<String>,
    language: Option<String>,
}

/// What the bridge export says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bridge {
    numbers: Vec<BridgeNumber>,
    default_toll: Option<String>,
    default_toll_free: Option<String>,
}

/// Reads the bridge export: one bridge, or several (their numbers merged; the defaults those
/// of the bridge marked `IsDefault`, else of the first).
pub(crate) fn bridge(table: &Table) -> Result<Bridge, ImportError> {
    let mut b = Bridge::default();
    let default_row = table.rows.iter().position(|r| r.text("IsDefault").as_deref().and_then(boolean) == Some(true));
    for (i, row) in table.rows.iter().enumerate() {
        let parse = |message: String| ImportError::Parse { file: table.file.clone(), line: row.line, message };
        let numbers = match row.value("ServiceNumbers") {
            None | Some(Value::Null) => &Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(parse(
                    "ServiceNumbers is not a list: export the bridge with ConvertTo-Json (a CSV cannot hold its numbers)"
                        .into(),
                ));
            }
        };
        for n in numbers {
            let field = |name: &str| -> Option<String> {
                let v = n.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?.1;
                match v {
                    Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                    Value::Number(x) => Some(x.to_string()),
                    _ => None,
                }
            };
            let Some(raw) = field("Number").or_else(|| field("ServiceNumber")) else {
                return Err(parse("a service number without Number".into()));
            };
            let number = phone_number(&raw).map_err(|e| parse(format!("service number {raw:?} {e}")))?;
            let type_ = match field("Type").or_else(|| field("NumberType")).map(|t| t.to_ascii_lowercase()) {
                None => None,
                Some(t) if t == "toll" => Some(NumberType::Toll),
                Some(t) if t == "tollfree" || t == "toll-free" || t == "toll free" => Some(NumberType::TollFree),
                Some(t) => return Err(parse(format!("service number {number}: type {t:?} is not Toll or TollFree"))),
            };
            if !b.numbers.iter().any(|x| x.number == number) {
                b.numbers.push(BridgeNumber {
                    number,
                    type_,
                    city: field("City"),
                    language: field("PrimaryLanguage").or_else(|| field("Language")),
                });
            }
        }
        if default_row.map_or(i == 0, |d| d == i) {
            let number = |column: &str| {
                row.text(column).map(|n| phone_number(&n).map_err(|e| parse(format!("{column} {n:?} {e}"))))
            };
            b.default_toll = number("DefaultServiceNumber").transpose()?;
            b.default_toll_free = number("DefaultTollFreeServiceNumber").transpose()?;
        }
    }
    Ok(b)
}

/// What the tenant settings export says, where this operator has a field for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    automatic_emails: Option<bool>,
    sender_override: Option<bool>,
    sender_address: Option<String>,
    sender_name: Option<String>,
    pin_length: Option<u8>,
    dynamic_ids: Option<bool>,
    pstn_only_by_default: Option<bool>,
}

/// Reads the tenant settings export (one row).
pub(crate) fn settings(table: &Table) -> Result<Settings, ImportError> {
    let Some(row) = table.rows.first() else { return Ok(Settings::default()) };
    let parse = |message: String| ImportError::Parse { file: table.file.clone(), line: row.line, message };
    let flag = |column: &str| -> Result<Option<bool>, ImportError> {
        row.text(column)
            .map(|v| boolean(&v).ok_or_else(|| parse(format!("{column} {v:?} is not True or False"))))
            .transpose()
    };
    let pin_length = match row.text("PinLength") {
        None => None,
        Some(v) => Some(
            v.parse::<u8>()
                .ok()
                .filter(|n| (4..=12).contains(n))
                .ok_or_else(|| parse(format!("PinLength {v:?} is not 4 to 12")))?,
        ),
    };
    Ok(Settings {
        automatic_emails: flag("AutomaticallySendEmailsToUsers")?,
        sender_override: flag("SendEmailOverride")?.or(flag("SendEmailFromOverride")?),
        sender_address: row.text("SendEmailFromAddress"),
        sender_name: row.text("SendEmailFromDisplayName"),
        pin_length,
        dynamic_ids: flag("UseUniqueConferenceIds")?,
        pstn_only_by_default: flag("AllowPSTNOnlyMeetingsByDefault")?,
    })
}

/// What the import chooses for the tenant beyond the exports.
#[derive(Clone, Debug)]
pub(crate) struct Choices {
    /// `spec.organizationName`; the sender's display name when unset.
    pub(crate) organization_name: Option<String>,
    /// `spec.notifications.takeoverEmail`.
    pub(crate) takeover_email: TakeoverEmail,
}

/// The tenant's spec.
pub(crate) fn spec(
    bridge: Option<&Bridge>,
    settings: &Settings,
    users: &[ImportedUser],
    choices: &Choices,
) -> Result<ConferencingTenantSpec, ImportError> {
    let toll_free_in_use: BTreeSet<&str> = users.iter().filter_map(|u| u.toll_free_service_number.as_deref()).collect();
    let mut numbers: Vec<ServiceNumber> = Vec::new();
    let mut push = |number: &str, type_: NumberType, city: Option<String>, language: Option<String>| {
        if !numbers.iter().any(|n| n.number == number) {
            numbers.push(ServiceNumber {
                number: number.to_string(),
                type_,
                city,
                country: None,
                language,
                default: None,
            });
        }
    };
    if let Some(b) = bridge {
        for n in &b.numbers {
            // A bridge that does not say a number's type: toll-free if it is the default
            // toll-free number or some user's toll-free number.
            let type_ = n.type_.unwrap_or(
                if b.default_toll_free.as_deref() == Some(n.number.as_str())
                    || toll_free_in_use.contains(n.number.as_str())
                {
                    NumberType::TollFree
                } else {
                    NumberType::Toll
                },
            );
            push(&n.number, type_, n.city.clone(), n.language.clone());
        }
    }
    // Numbers the users have that the bridge did not list (or every number, without one).
    for u in users {
        if let Some(n) = &u.service_number {
            push(n, NumberType::Toll, None, None);
        }
        if let Some(n) = &u.toll_free_service_number {
            push(n, NumberType::TollFree, None, None);
        }
    }
    let most_common = |pick: &dyn Fn(&ImportedUser) -> Option<&String>| -> Option<String> {
        let mut count: BTreeMap<&String, usize> = BTreeMap::new();
        for u in users {
            if let Some(n) = pick(u) {
                *count.entry(n).or_default() += 1;
            }
        }
        // Most users; among equals, the lowest number, so that the choice does not depend on
        // the rows' order.
        count.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(n, _)| n.clone())
    };
    let is = |t: NumberType| move |n: &&ServiceNumber| n.type_ == t;
    let default_toll = bridge
        .and_then(|b| b.default_toll.clone())
        .filter(|d| numbers.iter().filter(is(NumberType::Toll)).any(|n| &n.number == d))
        .or_else(|| most_common(&|u| u.service_number.as_ref()))
        .or_else(|| numbers.iter().find(is(NumberType::Toll)).map(|n| n.number.clone()));
    let Some(default_toll) = default_toll else {
        return Err(ImportError::Tenant(
            "no toll number: give --bridge, or an export whose users have a ServiceNumber".into(),
        ));
    };
    let default_toll_free = bridge
        .and_then(|b| b.default_toll_free.clone())
        .filter(|d| numbers.iter().filter(is(NumberType::TollFree)).any(|n| &n.number == d))
        .or_else(|| most_common(&|u| u.toll_free_service_number.as_ref()));
    for n in &mut numbers {
        let default = match n.type_ {
            NumberType::Toll => n.number == default_toll,
            NumberType::TollFree => default_toll_free.as_deref() == Some(n.number.as_str()),
        };
        n.default = default.then_some(true);
    }
    // Defaults first, then by number, so that the file reads the same whatever the order of
    // the exports.
    numbers.sort_by(|a, b| (a.default.is_none(), &a.number).cmp(&(b.default.is_none(), &b.number)));

    // New IDs get the length most kept IDs have (the tenant's range is 6 to 12).
    let mut lengths: BTreeMap<usize, usize> = BTreeMap::new();
    for u in users.iter().filter_map(|u| u.conference_id.as_ref()) {
        *lengths.entry(u.as_str().len()).or_default() += 1;
    }
    let id_length = lengths
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)))
        .map_or(7, |(len, _)| len.clamp(6, 12) as u8);

    let default_pstn_only = settings.pstn_only_by_default.unwrap_or(false);
    Ok(ConferencingTenantSpec {
        organization_name: choices.organization_name.clone().or_else(|| settings.sender_name.clone()),
        service_numbers: numbers,
        pin: PinPolicy { length: settings.pin_length.unwrap_or(PinPolicy::default().length), ..PinPolicy::default() },
        conference_ids: ConferenceIdPolicy {
            mode: if settings.dynamic_ids == Some(true) { ConferenceIdMode::Dynamic } else { ConferenceIdMode::Static },
            length: id_length,
        },
        meetings: MeetingPolicy { allow_pstn_only_meetings_by_default: default_pstn_only },
        notifications: NotificationPolicy {
            automatically_send_emails_to_users: settings.automatic_emails.unwrap_or(true),
            send_email_override: settings.sender_override.unwrap_or(false) && settings.sender_address.is_some(),
            send_email_from_address: settings.sender_address.clone().filter(|_| settings.sender_override == Some(true)),
            send_email_from_display_name: settings
                .sender_name
                .clone()
                .filter(|_| settings.sender_override == Some(true)),
            takeover_email: choices.takeover_email,
            ..NotificationPolicy::default()
        },
        requests: TenantRequests::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ConferenceId;
    use crate::import::source::parse_json;

    fn user(n: &str, toll: &str, toll_free: Option<&str>, id: &str) -> ImportedUser {
        ImportedUser {
            line: 2,
            sign_in: format!("{n}@contoso.com"),
            email: format!("{n}@contoso.com"),
            display_name: n.to_string(),
            conference_id: ConferenceId::parse(id),
            service_number: Some(toll.to_string()),
            toll_free_service_number: toll_free.map(str::to_string),
            allow_toll_free_dial_in: None,
            allow_pstn_only_meetings: None,
            locale: None,
            licensed: true,
            provider: Default::default(),
        }
    }

    fn choices() -> Choices {
        Choices { organization_name: None, takeover_email: TakeoverEmail::None }
    }

    #[test]
    fn without_a_bridge_the_most_common_numbers_are_the_defaults() {
        let users = [
            user("a", "+14255550100", None, "1234567"),
            user("b", "+14255550199", Some("+18005550100"), "2345678"),
            user("c", "+14255550199", None, "34567890"),
        ];
        let spec = spec(None, &Settings::default(), &users, &choices()).expect("a tenant");
        let defaults: Vec<(&str, NumberType)> = spec
            .service_numbers
            .iter()
            .filter(|n| n.default == Some(true))
            .map(|n| (n.number.as_str(), n.type_))
            .collect();
        assert_eq!(defaults, [("+14255550199", NumberType::Toll), ("+18005550100", NumberType::TollFree)]);
        assert_eq!(spec.service_numbers.len(), 3);
        assert_eq!(spec.conference_ids.length, 7, "most kept IDs have 7 digits");
        assert_eq!(spec.notifications.takeover_email, TakeoverEmail::None);
    }

    #[test]
    fn a_bridge_gives_cities_languages_types_and_defaults() {
        let json = r#"{
  "Identity": "b1", "Name": "Conference Bridge", "IsDefault": true,
  "DefaultServiceNumber": "14255550100",
  "ServiceNumbers": [
    {"Number": "14255550100", "City": "Seattle", "PrimaryLanguage": "en-US", "Type": "Toll"},
    {"Number": "33155501234", "City": "Paris", "PrimaryLanguage": "fr-FR"},
    {"Number": "18005550100", "City": "Seattle", "PrimaryLanguage": "en-US"}
  ]
}"#;
        let b = bridge(&parse_json("bridge.json", json).expect("json")).expect("bridge");
        let users = [user("a", "+33155501234", Some("+18005550100"), "1234567")];
        let spec = spec(Some(&b), &Settings::default(), &users, &choices()).expect("a tenant");
        let n = |number: &str| spec.service_numbers.iter().find(|n| n.number == number).expect(number).clone();
        assert_eq!(n("+14255550100").default, Some(true), "the bridge's default, though fewer users have it");
        assert_eq!(n("+33155501234").language.as_deref(), Some("fr-FR"));
        assert_eq!(n("+18005550100").type_, NumberType::TollFree, "a user's toll-free number");
        assert_eq!(n("+18005550100").default, Some(true));
        assert_eq!(n("+33155501234").city.as_deref(), Some("Paris"));
    }

    #[test]
    fn settings_map_to_their_fields() {
        let json = r#"{"AutomaticallySendEmailsToUsers": false, "SendEmailOverride": true, "SendEmailFromAddress": "it@contoso.com", "SendEmailFromDisplayName": "Contoso IT", "PinLength": 6, "UseUniqueConferenceIds": true, "AllowPSTNOnlyMeetingsByDefault": true}"#;
        let s = settings(&parse_json("settings.json", json).expect("json")).expect("settings");
        let spec = spec(None, &s, &[user("a", "+14255550100", None, "1234567")], &choices()).expect("tenant");
        assert!(!spec.notifications.automatically_send_emails_to_users);
        assert!(spec.notifications.send_email_override);
        assert_eq!(spec.notifications.send_email_from_address.as_deref(), Some("it@contoso.com"));
        assert_eq!(spec.organization_name.as_deref(), Some("Contoso IT"));
        assert_eq!(spec.pin.length, 6);
        assert_eq!(spec.conference_ids.mode, ConferenceIdMode::Dynamic);
        assert!(spec.meetings.allow_pstn_only_meetings_by_default);
        let bad = parse_json("settings.json", r#"{"PinLength": 20}"#).expect("json");
        assert!(settings(&bad).expect_err("out of range").to_string().contains("PinLength \"20\" is not 4 to 12"));
    }

    #[test]
    fn a_bridge_exported_as_csv_is_refused_with_the_way_out() {
        let t =
            crate::import::source::parse_csv("bridge.csv", "\"Name\",\"ServiceNumbers\"\n\"B\",\"System.Object[]\"\n")
                .expect("csv");
        let err = bridge(&t).expect_err("not a list").to_string();
        assert!(err.contains("ConvertTo-Json"), "{err}");
    }
}
