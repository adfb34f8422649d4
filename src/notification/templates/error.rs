//! Why templates could not be loaded or a message could not be rendered.

use std::path::PathBuf;

use crate::api::{Locale, NotificationKind};

/// Why templates could not be loaded or a message could not be rendered.
///
/// Each message names the file (an override's path, or the embedded file's path in the
/// source tree) and, where handlebars knows it, the line, so that the fix is obvious. None
/// ever contains the PIN.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template does not parse.
    #[error("template {file}{}: syntax error: {reason}", position(.line, .column))]
    Syntax {
        /// File holding the template.
        file: String,
        /// Line of the error, from 1.
        line: Option<usize>,
        /// Column of the error.
        column: Option<usize>,
        /// What handlebars found wrong.
        reason: String,
    },
    /// A template uses a construct that could leak the PIN or that is not supported.
    #[error("template {file}{}: {reason}", position(.line, .column))]
    Unsafe {
        /// File holding the template.
        file: String,
        /// Line of the offending expression, from 1.
        line: Option<usize>,
        /// Column of the offending expression.
        column: Option<usize>,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A template failed to render, typically because it names a variable that does not
    /// exist (strict mode).
    #[error(
        "template {file}{} failed to render the {kind} e-mail ({locale}): {reason}; the variables are {}",
        position(.line, .column),
        VARIABLES.join(", ")
    )]
    Render {
        /// File holding the template.
        file: String,
        /// Kind of e-mail being rendered.
        kind: NotificationKind,
        /// Locale being rendered.
        locale: Locale,
        /// Line of the error, from 1, when handlebars knows it.
        line: Option<usize>,
        /// Column of the error.
        column: Option<usize>,
        /// What handlebars reported.
        reason: String,
    },
    /// A subject template renders nothing, which would send an e-mail without a subject.
    #[error("template {file} renders an empty subject for the {kind} e-mail ({locale})")]
    EmptySubject {
        /// File holding the template.
        file: String,
        /// Kind of e-mail being rendered.
        kind: NotificationKind,
        /// Locale being rendered.
        locale: Locale,
    },
    /// A file or directory in the override directory matches no template, most likely a typo
    /// that would otherwise be silently ignored.
    #[error(
        "unexpected {path} in the template override directory: {reason}; overrides must be named <locale>/<kind>.<part>.hbs with locale one of {}, kind one of {}, part one of subject, txt, html",
        locale_tags(),
        kind_slugs()
    )]
    UnknownOverride {
        /// The unexpected entry.
        path: PathBuf,
        /// Why it matches nothing.
        reason: &'static str,
    },
    /// The override directory or a file in it cannot be read.
    #[error("cannot read template override {path}: {source}")]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The binary lacks an embedded template: a build defect, not a configuration error.
    #[error("no embedded template for the {kind} e-mail in locale {locale}: the build is missing templates/{locale}/{}.*.hbs", .kind.slug())]
    MissingEmbedded {
        /// Kind without a template.
        kind: NotificationKind,
        /// Locale without a template.
        locale: Locale,
    },
    /// The caller passed a PIN for an e-mail that must never contain it.
    #[error(
        "refusing to render the {kind} e-mail ({locale}) with a PIN: only LicenseAssigned, PinReset and ProviderChangedToNative e-mails may contain it"
    )]
    PinNotAllowed {
        /// Kind that must not carry the PIN.
        kind: NotificationKind,
        /// Locale requested.
        locale: Locale,
    },
    /// The caller passed no PIN for an e-mail whose purpose is to deliver it.
    #[error("cannot render the {kind} e-mail ({locale}) without the user's PIN: read it from the user's Secret first")]
    PinRequired {
        /// Kind that must carry the PIN.
        kind: NotificationKind,
        /// Locale requested.
        locale: Locale,
    },
}

/// The variables a template may use, listed in render errors so that a typo is easy to fix.
const VARIABLES: [&str; 8] = [
    "displayName",
    "conferenceId",
    "conferenceIdDynamic",
    "tollNumber (number, city, country)",
    "tollFreeNumber (number, city, country)",
    "providerName",
    "tenantName",
    "pin (LicenseAssigned, PinReset and ProviderChangedToNative only)",
];

fn position(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(", line {line}, column {column}"),
        (Some(line), None) => format!(", line {line}"),
        _ => String::new(),
    }
}

fn locale_tags() -> String {
    Locale::ALL.map(Locale::as_str).join(", ")
}

fn kind_slugs() -> String {
    NotificationKind::ALL.map(NotificationKind::slug).join(", ")
}
