//! Which export column fills which field of a user: the cmdlet's own property names by
//! default, changed with `--map Column=field` when an export differs (a renamed column, or an
//! extra one such as a mail address or a language).

use std::collections::BTreeMap;
use std::fmt;

use super::error::ImportError;

/// A field an export column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Field {
    /// The sign-in address, from which the object's name is derived (`sip:` is dropped).
    SignInAddress,
    /// `spec.email` (`sip:` is dropped); the sign-in address when unmapped.
    Email,
    /// `spec.displayName`.
    DisplayName,
    /// The conference ID the user keeps (`spec.adopt.conferenceId`).
    ConferenceId,
    /// `spec.serviceNumber`.
    ServiceNumber,
    /// `spec.tollFreeServiceNumber`.
    TollFreeServiceNumber,
    /// `spec.allowTollFreeDialIn`.
    AllowTollFreeDialIn,
    /// `spec.allowPstnOnlyMeetings`.
    AllowPstnOnlyMeetings,
    /// `spec.locale` (`en`, `fr`, `zh-CN`; a tag such as `fr-FR` is read by its language).
    Locale,
    /// `spec.audioConferencingLicense` (true when unmapped: the cmdlet lists licensed users).
    AudioConferencingLicense,
    /// `spec.provider`: `Native` (or `Microsoft`, or blank), `None`, or a third party's name.
    Provider,
}

impl Field {
    /// Every field, in the order reports list them.
    pub(crate) const ALL: [Field; 11] = [
        Field::SignInAddress,
        Field::Email,
        Field::DisplayName,
        Field::ConferenceId,
        Field::ServiceNumber,
        Field::TollFreeServiceNumber,
        Field::AllowTollFreeDialIn,
        Field::AllowPstnOnlyMeetings,
        Field::Locale,
        Field::AudioConferencingLicense,
        Field::Provider,
    ];

    /// The name `--map` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::SignInAddress => "signInAddress",
            Field::Email => "email",
            Field::DisplayName => "displayName",
            Field::ConferenceId => "conferenceId",
            Field::ServiceNumber => "serviceNumber",
            Field::TollFreeServiceNumber => "tollFreeServiceNumber",
            Field::AllowTollFreeDialIn => "allowTollFreeDialIn",
            Field::AllowPstnOnlyMeetings => "allowPstnOnlyMeetings",
            Field::Locale => "locale",
            Field::AudioConferencingLicense => "audioConferencingLicense",
            Field::Provider => "provider",
        }
    }

    /// The column `Get-CsOnlineDialInConferencingUser` reports it in, if any.
    fn default_column(self) -> Option<&'static str> {
        match self {
            Field::SignInAddress | Field::Email => Some("SipAddress"),
            Field::DisplayName => Some("DisplayName"),
            Field::ConferenceId => Some("ConferenceId"),
            Field::ServiceNumber => Some("ServiceNumber"),
            Field::TollFreeServiceNumber => Some("TollFreeServiceNumber"),
            Field::AllowTollFreeDialIn => Some("AllowTollFreeDialIn"),
            Field::AllowPstnOnlyMeetings => Some("AllowPstnOnlyMeetings"),
            Field::Locale | Field::AudioConferencingLicense | Field::Provider => None,
        }
    }

    fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The column of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    columns: BTreeMap<Field, String>,
}

impl Default for Mapping {
    fn default() -> Self {
        let columns = Field::ALL.into_iter().filter_map(|f| Some((f, f.default_column()?.to_string()))).collect();
        Mapping { columns }
    }
}

impl Mapping {
    /// The default mapping with each `Column=field` of `--map` applied.
    pub(crate) fn with_overrides(overrides: &[String]) -> Result<Mapping, ImportError> {
        let mut m = Mapping::default();
        for o in overrides {
            let usage = |message: String| ImportError::Usage { flag: "--map", message };
            let Some((column, field)) = o.split_once('=') else {
                return Err(usage(format!("{o:?} is not Column=field")));
            };
            let (column, field) = (column.trim(), field.trim());
            if column.is_empty() {
                return Err(usage(format!("{o:?} names no column")));
            }
            let Some(field) = Field::parse(field) else {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                return Err(usage(format!("{field:?} is not a field; the fields are {}", known.join(", "))));
            };
            m.columns.insert(field, column.to_string());
        }
        Ok(m)
    }

    /// The column that fills `field`, if any.
    pub(crate) fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_cmdlets_property_names() {
        let m = Mapping::default();
        assert_eq!(m.column(Field::Email), Some("SipAddress"));
        assert_eq!(m.column(Field::ConferenceId), Some("ConferenceId"));
        assert_eq!(m.column(Field::Locale), None);
    }

    #[test]
    fn overrides_replace_a_column_and_bad_ones_say_why() {
        let m = Mapping::with_overrides(&["Mail=email".into(), " Language = LOCALE ".into()]).expect("valid");
        assert_eq!(m.column(Field::Email), Some("Mail"));
        assert_eq!(m.column(Field::SignInAddress), Some("SipAddress"));
        assert_eq!(m.column(Field::Locale), Some("Language"));
        let err = Mapping::with_overrides(&["Mail=mail".into()]).expect_err("unknown field").to_string();
        assert!(err.contains("\"mail\" is not a field") && err.contains("email"), "{err}");
        assert!(Mapping::with_overrides(&["email".into()]).is_err());
        assert!(Mapping::with_overrides(&["=email".into()]).is_err());
    }
}
