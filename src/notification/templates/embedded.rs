//! The templates compiled into the binary, and how a template is named.

use std::collections::HashMap;

use super::error::TemplateError;
use crate::api::{Locale, NotificationKind};

/// The three templates that make up one e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    pub(super) const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    /// The middle of the file name, `<kind>.<suffix>.hbs`.
    pub(super) fn suffix(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "txt",
            Part::Html => "html",
        }
    }

    pub(super) fn from_suffix(suffix: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.suffix() == suffix)
    }
}

pub(super) type Key = (NotificationKind, Locale, Part);

/// The registry name of a template, which is also its path below the template directory.
pub(super) fn template_name(kind: NotificationKind, locale: Locale, part: Part) -> String {
    format!("{}/{}.{}.hbs", locale.as_str(), kind.slug(), part.suffix())
}

/// One (locale, kind) of the templates compiled into the binary.
struct Embedded {
    locale: &'static str,
    slug: &'static str,
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

impl Embedded {
    fn source(&self, part: Part) -> &'static str {
        match part {
            Part::Subject => self.subject,
            Part::Text => self.text,
            Part::Html => self.html,
        }
    }
}

macro_rules! embedded_kind {
    ($locale:literal, $slug:literal) => {
        Embedded {
            locale: $locale,
            slug: $slug,
            subject: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/",
                $locale,
                "/",
                $slug,
                ".subject.hbs"
            )),
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $locale, "/", $slug, ".txt.hbs")),
            html: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $locale, "/", $slug, ".html.hbs")),
        }
    };
}

macro_rules! embedded_locale {
    ($locale:literal) => {
        [
            embedded_kind!($locale, "license-assigned"),
            embedded_kind!($locale, "pin-reset"),
            embedded_kind!($locale, "conference-id-reset"),
            embedded_kind!($locale, "license-removed"),
            embedded_kind!($locale, "provider-changed-away"),
            embedded_kind!($locale, "provider-changed-to-native"),
            embedded_kind!($locale, "service-number-changed"),
            embedded_kind!($locale, "conferencing-info"),
            embedded_kind!($locale, "takeover-welcome"),
            embedded_kind!($locale, "takeover-welcome-new-pin"),
        ]
    };
}

/// Every template, compiled in so that the binary needs no files at run time.
static EMBEDDED: [[Embedded; 10]; 3] = [embedded_locale!("en"), embedded_locale!("fr"), embedded_locale!("zh-CN")];

/// A template's text and where it came from, for error messages.
pub(super) struct Source {
    pub(super) text: String,
    pub(super) file: String,
}

pub(super) fn embedded_sources() -> Result<HashMap<Key, Source>, TemplateError> {
    let mut sources = HashMap::new();
    for locale in Locale::ALL {
        for kind in NotificationKind::ALL {
            let Some(embedded) =
                EMBEDDED.iter().flatten().find(|e| e.locale == locale.as_str() && e.slug == kind.slug())
            else {
                return Err(TemplateError::MissingEmbedded { kind, locale });
            };
            for part in Part::ALL {
                sources.insert(
                    (kind, locale, part),
                    Source {
                        text: embedded.source(part).to_owned(),
                        file: format!("templates/{} (embedded)", template_name(kind, locale, part)),
                    },
                );
            }
        }
    }
    Ok(sources)
}
