//! The e-mail templates and their rendering.
//!
//! The templates ship inside the binary so that the operator sends correct e-mails with no
//! files on disk; an administrator may still replace any of them from a directory (for
//! example a mounted ConfigMap) to adapt the wording to their organisation.
//!
//! Every template is checked when it is loaded rather than when a user's e-mail is due: an
//! e-mail owed after a PIN reset must not be lost to a typo in a template, so a broken
//! template stops the operator at start-up, with the file and line to fix.
//!
//! The PIN is the one secret that passes through here. It reaches only the three kinds of
//! e-mail that carry it, which [`Templates::render`] enforces whatever the templates say, and
//! it never reaches a handlebars helper, because handlebars logs helper arguments at debug
//! level.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable,
};
use serde::Serialize;

use crate::api::{Locale, NotificationKind, PIN_MASK};

/// A user's leader PIN on its way into an e-mail.
///
/// A newtype so that the PIN cannot end up in a log line or an error through `{:?}`: its
/// `Debug` prints the same mask as `status.pin`, and it has no `Display`. It serializes as
/// the plain digits because the templates that carry it must show them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Pin(String);

impl Pin {
    /// Wraps the PIN read from the user's Secret.
    pub fn new(digits: impl Into<String>) -> Pin {
        Pin(digits.into())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PIN_MASK)
    }
}

/// A dial-in number as the user should read it.
///
/// City and country are optional because the tenant may not say where a number is; the
/// templates then show the bare number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NumberView {
    /// E.164 number, e.g. `+33123456789`.
    pub number: String,
    /// City the number is in, when known.
    pub city: Option<String>,
    /// Country the number is in, when known.
    pub country: Option<String>,
}

/// Everything a template may refer to.
///
/// Absent values serialize as `null` rather than being left out, so that strict mode can
/// tell `{{#if tollFreeNumber}}` (known, possibly empty) from a misspelt variable (an error).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageContext {
    /// The user's name, as in `spec.displayName`.
    pub display_name: String,
    /// The user's personal conference ID; absent once the licence or the provider is gone.
    pub conference_id: Option<String>,
    /// Whether the tenant gives each scheduled meeting its own ID, which changes what the
    /// personal ID is for.
    pub conference_id_dynamic: bool,
    /// The toll number shown to the user.
    pub toll_number: Option<NumberView>,
    /// The toll-free number shown to the user, if the tenant has one.
    pub toll_free_number: Option<NumberView>,
    /// The provider the user moved to (ProviderChangedAway); absent for provider type None.
    pub provider_name: Option<String>,
    /// The organisation's name, used to sign the e-mail.
    pub tenant_name: String,
    /// The PIN, only for kinds whose [`NotificationKind::carries_pin`] is true.
    pub pin: Option<Pin>,
}

/// One rendered e-mail, ready for a multipart/alternative message.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    /// A single line: a template's line breaks become spaces, since a header cannot hold them.
    pub subject: String,
    /// Plain-text body, with at most one blank line in a row, ending with a newline.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Shows only the subject: the bodies of some kinds hold the PIN, and a message is exactly
/// the kind of value that ends up in a debug log.
impl fmt::Debug for RenderedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedMessage")
            .field("subject", &self.subject)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("html", &format_args!("<{} bytes>", self.html.len()))
            .finish()
    }
}

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

/// The three templates that make up one e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    /// The middle of the file name, `<kind>.<suffix>.hbs`.
    fn suffix(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "txt",
            Part::Html => "html",
        }
    }

    fn from_suffix(suffix: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.suffix() == suffix)
    }
}

type Key = (NotificationKind, Locale, Part);

/// The registry name of a template, which is also its path below the template directory.
fn template_name(kind: NotificationKind, locale: Locale, part: Part) -> String {
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
        ]
    };
}

/// Every template, compiled in so that the binary needs no files at run time.
static EMBEDDED: [[Embedded; 8]; 3] = [embedded_locale!("en"), embedded_locale!("fr"), embedded_locale!("zh-CN")];

/// A template's text and where it came from, for error messages.
struct Source {
    text: String,
    file: String,
}

/// The loaded, checked templates.
///
/// Built once at start-up; rendering afterwards cannot fail on a template defect that the
/// checks can detect.
pub struct Templates {
    /// Registry for the HTML bodies: values are HTML-escaped.
    html: Handlebars<'static>,
    /// Registry for subjects and text bodies: escaping would show `&amp;` to the reader.
    plain: Handlebars<'static>,
    /// Registry name to file, for error messages.
    files: HashMap<String, String>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates").field("templates", &self.files.len()).finish_non_exhaustive()
    }
}

impl Templates {
    /// The templates compiled into the binary, checked like overrides so that a defect in
    /// them fails the tests rather than a user's e-mail.
    pub fn embedded() -> Result<Templates, TemplateError> {
        Templates::build(embedded_sources()?)
    }

    /// The embedded templates, with any file found in `dir` replacing its embedded
    /// counterpart. Files are `<locale>/<kind>.<part>.hbs`; anything else is refused, so a
    /// misspelt name fails loudly instead of silently leaving the embedded template in use.
    /// Hidden entries (starting with `.`) are skipped: a mounted ConfigMap keeps its
    /// bookkeeping in `..data` and timestamped directories.
    pub fn with_overrides(dir: &Path) -> Result<Templates, TemplateError> {
        let mut sources = embedded_sources()?;
        for locale_dir in visible_entries(dir)? {
            let Some(tag) = locale_dir.file_name().and_then(|n| n.to_str()) else {
                return Err(unknown(&locale_dir, "the name is not valid UTF-8"));
            };
            let Some(locale) = Locale::parse(tag) else {
                return Err(unknown(&locale_dir, "not a supported locale directory"));
            };
            if !is_dir(&locale_dir)? {
                return Err(unknown(&locale_dir, "a file where a locale directory was expected"));
            }
            for file in visible_entries(&locale_dir)? {
                let (kind, part) = parse_file_name(&file)?;
                if is_dir(&file)? {
                    return Err(unknown(&file, "a directory where a template file was expected"));
                }
                let text = std::fs::read_to_string(&file)
                    .map_err(|source| TemplateError::Io { path: file.clone(), source })?;
                sources.insert((kind, locale, part), Source { text, file: file.display().to_string() });
            }
        }
        Templates::build(sources)
    }

    /// Renders one e-mail.
    ///
    /// The PIN rule is checked here, not left to the templates: an override template for a
    /// kind that must not carry the PIN cannot show it, because it is never in its context.
    pub fn render(
        &self,
        kind: NotificationKind,
        locale: Locale,
        ctx: &MessageContext,
    ) -> Result<RenderedMessage, TemplateError> {
        match (kind.carries_pin(), ctx.pin.is_some()) {
            (false, true) => return Err(TemplateError::PinNotAllowed { kind, locale }),
            (true, false) => return Err(TemplateError::PinRequired { kind, locale }),
            _ => {}
        }
        let subject = self.render_part(kind, locale, Part::Subject, ctx)?;
        let text = self.render_part(kind, locale, Part::Text, ctx)?;
        let html = self.render_part(kind, locale, Part::Html, ctx)?;
        Ok(RenderedMessage { subject: single_line(&subject), text: tidy_text(&text), html })
    }

    fn render_part(
        &self,
        kind: NotificationKind,
        locale: Locale,
        part: Part,
        ctx: &MessageContext,
    ) -> Result<String, TemplateError> {
        let name = template_name(kind, locale, part);
        let registry = match part {
            Part::Html => &self.html,
            Part::Subject | Part::Text => &self.plain,
        };
        registry.render(&name, ctx).map_err(|e| TemplateError::Render {
            file: self.file(&name),
            kind,
            locale,
            line: e.line_no,
            column: e.column_no,
            reason: scrub(describe(&e), ctx.pin.as_ref()),
        })
    }

    fn file(&self, name: &str) -> String {
        self.files.get(name).cloned().unwrap_or_else(|| name.to_owned())
    }

    fn build(sources: HashMap<Key, Source>) -> Result<Templates, TemplateError> {
        let mut templates = Templates { html: registry(true), plain: registry(false), files: HashMap::new() };
        // A fixed order, so that the same defect always produces the same error.
        for locale in Locale::ALL {
            for kind in NotificationKind::ALL {
                for part in Part::ALL {
                    let Some(source) = sources.get(&(kind, locale, part)) else {
                        return Err(TemplateError::MissingEmbedded { kind, locale });
                    };
                    templates.register(kind, locale, part, source)?;
                }
            }
        }
        templates.check_renders()?;
        Ok(templates)
    }

    fn register(
        &mut self,
        kind: NotificationKind,
        locale: Locale,
        part: Part,
        source: &Source,
    ) -> Result<(), TemplateError> {
        let name = template_name(kind, locale, part);
        let registry = match part {
            Part::Html => &mut self.html,
            Part::Subject | Part::Text => &mut self.plain,
        };
        registry.register_template_string(&name, &source.text).map_err(|e| TemplateError::Syntax {
            file: source.file.clone(),
            line: e.pos().map(|(line, _)| line),
            column: e.pos().map(|(_, column)| column),
            reason: e.reason().to_string(),
        })?;
        if let Some(template) = registry.get_template(&name) {
            check_elements(template, &source.file)?;
        }
        self.files.insert(name, source.file.clone());
        Ok(())
    }

    /// Renders every template with every optional value present and again with every one
    /// absent, so that strict mode reports a misspelt variable now rather than when a user's
    /// e-mail is due.
    fn check_renders(&self) -> Result<(), TemplateError> {
        for locale in Locale::ALL {
            for kind in NotificationKind::ALL {
                for ctx in [sample_full(kind), sample_empty(kind)] {
                    let message = self.render(kind, locale, &ctx)?;
                    if message.subject.is_empty() {
                        return Err(TemplateError::EmptySubject {
                            file: self.file(&template_name(kind, locale, Part::Subject)),
                            kind,
                            locale,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn registry(escape_html: bool) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    if !escape_html {
        registry.register_escape_fn(handlebars::no_escape);
    }
    // A template has no reason to log, and `{{log pin}}` would put the PIN in the logs.
    registry.unregister_helper("log");
    // The built-in `if` accepts a missing variable as false, which would hide a typo in a
    // condition behind strict mode.
    registry.register_helper("if", Box::new(StrictIf { positive: true }));
    registry.register_helper("unless", Box::new(StrictIf { positive: false }));
    registry
}

/// `if` and `unless` that treat a variable absent from the context as an error, as strict
/// mode does everywhere else; `null` is still an ordinary false value.
struct StrictIf {
    positive: bool,
}

impl HelperDef for StrictIf {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let name = if self.positive { "if" } else { "unless" };
        let param = h.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        let include_zero = h.hash_get("includeZero").and_then(|v| v.value().as_bool()).unwrap_or(false);
        let chosen = if param.value().is_truthy(include_zero) == self.positive { h.template() } else { h.inverse() };
        match chosen {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

/// Refuses the constructs that could carry the PIN into a helper, and thereby into
/// handlebars' debug log, and those a self-contained e-mail template has no use for.
fn check_elements(template: &Template, file: &str) -> Result<(), TemplateError> {
    for (index, element) in template.elements.iter().enumerate() {
        let mapping = template.mapping.get(index);
        let fail = |reason: String| TemplateError::Unsafe {
            file: file.to_owned(),
            line: mapping.map(|m| m.0),
            column: mapping.map(|m| m.1),
            reason,
        };
        match element {
            TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                // `{{name}}` alone only prints a value, which handlebars does not log.
                let prints_value =
                    ht.params.is_empty() && ht.hash.is_empty() && !matches!(ht.name, Parameter::Subexpression(_));
                if !prints_value {
                    check_helper_call(&ht.name, &ht.params, ht.hash.values()).map_err(fail)?;
                }
            }
            TemplateElement::HelperBlock(ht) => {
                check_helper_call(&ht.name, &ht.params, ht.hash.values()).map_err(fail)?;
                for inner in [&ht.template, &ht.inverse].into_iter().flatten() {
                    check_elements(inner, file)?;
                }
            }
            TemplateElement::DecoratorExpression(_)
            | TemplateElement::DecoratorBlock(_)
            | TemplateElement::PartialExpression(_)
            | TemplateElement::PartialBlock(_) => {
                return Err(fail(
                    "partials and decorators are not supported: each e-mail template must be self-contained".to_owned(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_helper_call<'a>(
    name: &Parameter,
    params: &'a [Parameter],
    hash: impl Iterator<Item = &'a Parameter>,
) -> Result<(), String> {
    let helper = name.as_name().unwrap_or("(subexpression)");
    check_parameter(name, helper)?;
    for param in params.iter().chain(hash) {
        check_parameter(param, helper)?;
    }
    Ok(())
}

fn check_parameter(param: &Parameter, helper: &str) -> Result<(), String> {
    match param {
        Parameter::Subexpression(sub) => match sub.as_element() {
            TemplateElement::Expression(ht) => check_helper_call(&ht.name, &ht.params, ht.hash.values()),
            _ => Err("unsupported subexpression".to_owned()),
        },
        Parameter::Literal(_) => Ok(()),
        other => match other.as_name() {
            Some(raw) => check_reference(raw, helper),
            None => Ok(()),
        },
    }
}

/// A helper may be given any variable except the PIN, and never the whole context (which
/// holds the PIN): `this`, `.`, `..` or `@root`.
fn check_reference(raw: &str, helper: &str) -> Result<(), String> {
    let segments: Vec<&str> = raw.split(['.', '/']).map(|s| s.trim_matches(['[', ']'])).collect();
    if segments.contains(&"pin") {
        return Err(format!(
            "`{raw}` gives the PIN to the helper `{helper}`, and handlebars logs helper arguments; write the PIN only as {{{{pin}}}}"
        ));
    }
    if matches!(segments.last().copied(), None | Some("" | "this" | ".." | "@root")) {
        return Err(format!(
            "`{raw}` gives the whole message context, PIN included, to the helper `{helper}`, and handlebars logs helper arguments; name the variable instead"
        ));
    }
    Ok(())
}

fn embedded_sources() -> Result<HashMap<Key, Source>, TemplateError> {
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

/// Entries of `dir` other than hidden ones, sorted so that errors are reproducible.
fn visible_entries(dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let io = |source| TemplateError::Io { path: dir.to_owned(), source };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        entries.push(entry.path());
    }
    entries.sort();
    Ok(entries)
}

/// Follows symbolic links, as a ConfigMap volume is made of them.
fn is_dir(path: &Path) -> Result<bool, TemplateError> {
    std::fs::metadata(path).map(|m| m.is_dir()).map_err(|source| TemplateError::Io { path: path.to_owned(), source })
}

fn parse_file_name(path: &Path) -> Result<(NotificationKind, Part), TemplateError> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(unknown(path, "the name is not valid UTF-8"));
    };
    let Some(stem) = name.strip_suffix(".hbs") else {
        return Err(unknown(path, "the name does not end in .hbs"));
    };
    let Some((slug, suffix)) = stem.rsplit_once('.') else {
        return Err(unknown(path, "the name has no part (subject, txt or html)"));
    };
    let Some(kind) = NotificationKind::from_slug(slug) else {
        return Err(unknown(path, "not a known kind of e-mail"));
    };
    let Some(part) = Part::from_suffix(suffix) else {
        return Err(unknown(path, "not a known part (subject, txt or html)"));
    };
    Ok((kind, part))
}

fn unknown(path: &Path, reason: &'static str) -> TemplateError {
    TemplateError::UnknownOverride { path: path.to_owned(), reason }
}

/// A context with every optional value present; the PIN only where the kind carries it,
/// since [`Templates::render`] refuses anything else.
fn sample_full(kind: NotificationKind) -> MessageContext {
    MessageContext {
        display_name: "Sample User".to_owned(),
        conference_id: Some("123456".to_owned()),
        conference_id_dynamic: true,
        toll_number: Some(NumberView {
            number: "+12065550100".to_owned(),
            city: Some("Seattle".to_owned()),
            country: Some("United States".to_owned()),
        }),
        toll_free_number: Some(NumberView {
            number: "+18005550100".to_owned(),
            city: Some("Seattle".to_owned()),
            country: Some("United States".to_owned()),
        }),
        provider_name: Some("Sample Provider".to_owned()),
        tenant_name: "Sample Organisation".to_owned(),
        pin: kind.carries_pin().then(|| Pin::new("00000")),
    }
}

/// A context with every optional value absent.
fn sample_empty(kind: NotificationKind) -> MessageContext {
    MessageContext {
        conference_id: None,
        conference_id_dynamic: false,
        toll_number: None,
        toll_free_number: None,
        provider_name: None,
        ..sample_full(kind)
    }
}

fn describe(error: &RenderError) -> String {
    match error.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => format!("no variable named `{path}`"),
        RenderErrorReason::MissingVariable(None) => "it uses a variable that does not exist".to_owned(),
        other => other.to_string(),
    }
}

/// Keeps the PIN out of an error message even if handlebars quoted a value.
fn scrub(message: String, pin: Option<&Pin>) -> String {
    match pin {
        Some(Pin(digits)) if !digits.is_empty() => message.replace(digits.as_str(), PIN_MASK),
        _ => message,
    }
}

fn single_line(subject: &str) -> String {
    subject.replace('\r', "\n").lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Conditional sections leave blank lines behind when they render nothing; collapse them so
/// the text reads as written whichever values are present.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_blank = true;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            if previous_blank {
                continue;
            }
            previous_blank = true;
        } else {
            previous_blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "90817";

    fn context(kind: NotificationKind) -> MessageContext {
        MessageContext {
            display_name: "Camille Dupont".to_owned(),
            conference_id: Some("4417302".to_owned()),
            conference_id_dynamic: false,
            toll_number: Some(NumberView {
                number: "+33155501234".to_owned(),
                city: Some("Paris".to_owned()),
                country: Some("France".to_owned()),
            }),
            toll_free_number: Some(NumberView {
                number: "+33805550123".to_owned(),
                city: None,
                country: Some("France".to_owned()),
            }),
            provider_name: (kind == NotificationKind::ProviderChangedAway).then(|| "Acme Audio".to_owned()),
            tenant_name: "Contoso".to_owned(),
            pin: kind.carries_pin().then(|| Pin::new(PIN)),
        }
    }

    /// Loaded once: loading renders every template twice, which is slow in debug builds.
    fn embedded() -> &'static Templates {
        static TEMPLATES: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
        TEMPLATES.get_or_init(|| match Templates::embedded() {
            Ok(t) => t,
            Err(e) => panic!("embedded templates do not load: {e}"),
        })
    }

    fn overrides(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Templates, TemplateError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let result = Templates::with_overrides(dir.path());
        (dir, result)
    }

    fn all() -> impl Iterator<Item = (NotificationKind, Locale)> {
        NotificationKind::ALL.into_iter().flat_map(|k| Locale::ALL.into_iter().map(move |l| (k, l)))
    }

    #[test]
    fn every_template_renders_in_every_locale() {
        let templates = embedded();
        for (kind, locale) in all() {
            let m = templates.render(kind, locale, &context(kind)).unwrap();
            assert!(!m.subject.is_empty(), "{kind} {locale}");
            assert!(m.text.contains("Camille Dupont"), "{kind} {locale}: {}", m.text);
            assert!(m.html.contains("Camille Dupont"), "{kind} {locale}");
            assert!(m.html.starts_with("<!DOCTYPE html>"), "{kind} {locale}");
            assert!(m.html.contains(&format!("<html lang=\"{locale}\">")), "{kind} {locale}");
            assert!(m.html.contains("<meta charset=\"utf-8\">"), "{kind} {locale}");
            assert!(m.html.trim_end().ends_with("</html>"), "{kind} {locale}");
            assert!(!m.html.contains("src="), "no external resources: {kind} {locale}");
            assert!(m.text.contains("Contoso"), "{kind} {locale}");
            assert!(m.text.ends_with('\n') && !m.text.ends_with("\n\n"));
            assert!(!m.text.contains("\n\n\n"));
        }
    }

    #[test]
    fn numbers_and_conference_id_are_shown_where_the_user_has_them() {
        let templates = embedded();
        for (kind, locale) in all() {
            let m = templates.render(kind, locale, &context(kind)).unwrap();
            for body in [&m.text, &m.html] {
                assert!(body.contains("+33155501234"), "{kind} {locale}");
                assert!(body.contains("+33805550123"), "{kind} {locale}");
                assert!(body.contains("Paris"), "{kind} {locale}");
                if kind != NotificationKind::ConferenceIdReset {
                    assert!(body.contains("4417302"), "{kind} {locale}");
                }
            }
            if kind == NotificationKind::ConferenceIdReset {
                assert!(m.text.contains("4417302"), "{locale}");
            }
        }
    }

    #[test]
    fn pin_appears_only_in_the_three_carrying_kinds() {
        let templates = embedded();
        for (kind, locale) in all() {
            let m = templates.render(kind, locale, &context(kind)).unwrap();
            assert!(!m.subject.contains(PIN), "{kind} {locale}");
            if kind.carries_pin() {
                assert!(m.text.contains(PIN), "{kind} {locale}: {}", m.text);
                assert!(m.html.contains(PIN), "{kind} {locale}");
            } else {
                assert!(!m.text.contains(PIN), "{kind} {locale}");
                assert!(!m.html.contains(PIN), "{kind} {locale}");
            }
        }
        let carrying: Vec<_> = NotificationKind::ALL.into_iter().filter(|k| k.carries_pin()).collect();
        assert_eq!(
            carrying,
            [NotificationKind::LicenseAssigned, NotificationKind::PinReset, NotificationKind::ProviderChangedToNative]
        );
    }

    #[test]
    fn render_refuses_a_pin_for_a_kind_that_must_not_carry_it() {
        let templates = embedded();
        for kind in NotificationKind::ALL.into_iter().filter(|k| !k.carries_pin()) {
            let ctx = MessageContext { pin: Some(Pin::new(PIN)), ..context(kind) };
            let err = templates.render(kind, Locale::En, &ctx).unwrap_err();
            assert!(matches!(err, TemplateError::PinNotAllowed { .. }), "{kind}");
            assert!(!err.to_string().contains(PIN));
        }
    }

    #[test]
    fn render_refuses_a_carrying_kind_without_a_pin() {
        let templates = embedded();
        for kind in NotificationKind::ALL.into_iter().filter(|k| k.carries_pin()) {
            let ctx = MessageContext { pin: None, ..context(kind) };
            let err = templates.render(kind, Locale::Fr, &ctx).unwrap_err();
            assert!(matches!(err, TemplateError::PinRequired { .. }), "{kind}");
        }
    }

    #[test]
    fn conferencing_info_says_the_pin_is_not_included() {
        let templates = embedded();
        let kind = NotificationKind::ConferencingInfoRequested;
        let text = |l| templates.render(kind, l, &context(kind)).unwrap().text;
        assert!(text(Locale::En).contains("does not include your PIN"));
        assert!(text(Locale::En).contains("administrator can reset it"));
        assert!(text(Locale::Fr).contains("ne contient pas votre code PIN"));
        assert!(text(Locale::ZhCn).contains("不包含您的 PIN 码"));
    }

    #[test]
    fn dynamic_conference_ids_are_explained() {
        let templates = embedded();
        let kind = NotificationKind::ConferencingInfoRequested;
        let dynamic = MessageContext { conference_id_dynamic: true, ..context(kind) };
        let with = templates.render(kind, Locale::En, &dynamic).unwrap();
        let without = templates.render(kind, Locale::En, &context(kind)).unwrap();
        assert!(with.text.contains("its own conference ID"));
        assert!(with.html.contains("its own conference ID"));
        assert!(!without.text.contains("its own conference ID"));
    }

    #[test]
    fn provider_changed_away_names_the_provider_or_says_there_is_none() {
        let templates = embedded();
        let kind = NotificationKind::ProviderChangedAway;
        let named = templates.render(kind, Locale::En, &context(kind)).unwrap();
        assert!(named.text.contains("Acme Audio"));
        let none = MessageContext {
            provider_name: None,
            conference_id: None,
            toll_number: None,
            toll_free_number: None,
            ..context(kind)
        };
        for locale in Locale::ALL {
            let m = templates.render(kind, locale, &none).unwrap();
            assert!(!m.text.contains("Acme Audio"));
            assert!(!m.text.contains("null") && !m.text.contains("None"));
        }
        let en = templates.render(kind, Locale::En, &none).unwrap();
        assert!(en.text.contains("no longer provided"), "{}", en.text);
    }

    #[test]
    fn override_with_unknown_variable_fails_at_load_naming_the_file() {
        let (_dir, result) =
            overrides(&[("en/license-removed.txt.hbs", "Hello {{displayName}}\n{{unknownVariable}}\n")]);
        let err = result.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TemplateError::Render { .. }), "{message}");
        assert!(message.contains("en/license-removed.txt.hbs"), "{message}");
        assert!(message.contains("unknownVariable"), "{message}");
        assert!(!message.contains("(embedded)"), "{message}");
    }

    #[test]
    fn override_with_misspelt_condition_fails_at_load() {
        let (_dir, result) = overrides(&[("fr/conferencing-info.html.hbs", "<p>{{#if tollFreNumber}}x{{/if}}</p>")]);
        let message = result.unwrap_err().to_string();
        assert!(message.contains("fr/conferencing-info.html.hbs"), "{message}");
        assert!(message.contains("tollFreNumber"), "{message}");
    }

    #[test]
    fn override_syntax_error_names_file_and_line() {
        let (_dir, result) =
            overrides(&[("en/pin-reset.txt.hbs", "line one\nline two\n{{#if displayName}}x{{/unless}}\nline four\n")]);
        let err = result.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{message}");
        assert!(message.contains("en/pin-reset.txt.hbs"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn override_giving_the_pin_to_a_helper_is_refused() {
        for text in [
            "{{#if pin}}PIN: {{pin}}{{/if}}",
            "{{lookup this \"pin\"}}",
            "{{#with this}}{{pin}}{{/with}}",
            "{{#each @root}}{{this}}{{/each}}",
            "{{#with tollNumber}}{{#if ../pin}}x{{/if}}{{/with}}",
            "{{> other}}",
        ] {
            let (_dir, result) = overrides(&[("en/pin-reset.txt.hbs", text)]);
            let err = result.unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, TemplateError::Unsafe { .. }), "{text}: {message}");
            assert!(message.contains("en/pin-reset.txt.hbs"), "{message}");
            assert!(message.contains("line 1"), "{message}");
        }
    }

    #[test]
    fn override_with_unknown_name_is_refused() {
        for name in [
            "en/licence-assigned.txt.hbs",
            "en/license-assigned.text.hbs",
            "en/license-assigned.txt",
            "de/license-assigned.txt.hbs",
            "license-assigned.txt.hbs",
        ] {
            let (_dir, result) = overrides(&[(name, "x")]);
            let err = result.unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, TemplateError::UnknownOverride { .. }), "{message}");
            let shown = name.split('/').next().unwrap_or(name);
            assert!(message.contains(shown), "{name}: {message}");
        }
    }

    #[test]
    fn override_replaces_the_embedded_template() {
        let (_dir, result) = overrides(&[
            ("en/conferencing-info.subject.hbs", "Dial-in details for\n{{displayName}}\n"),
            ("en/conferencing-info.txt.hbs", "Custom text for {{displayName}}: {{conferenceId}}"),
        ]);
        let templates = result.unwrap();
        let kind = NotificationKind::ConferencingInfoRequested;
        let m = templates.render(kind, Locale::En, &context(kind)).unwrap();
        assert_eq!(m.subject, "Dial-in details for Camille Dupont");
        assert_eq!(m.text, "Custom text for Camille Dupont: 4417302\n");
        // The other parts and locales keep the embedded templates.
        assert!(m.html.contains("<html lang=\"en\">"));
        let fr = templates.render(kind, Locale::Fr, &context(kind)).unwrap();
        assert!(fr.text.contains("Bonjour"));
    }

    #[test]
    fn hidden_entries_in_the_override_directory_are_ignored() {
        let (_dir, result) =
            overrides(&[("..data/whatever", "x"), (".hidden", "x"), ("en/.license-assigned.txt.hbs.swp", "x")]);
        assert!(result.is_ok(), "{:?}", result.err());
    }

    #[test]
    fn the_shipped_template_directory_is_a_valid_override_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let templates = Templates::with_overrides(&dir).unwrap();
        let kind = NotificationKind::PinReset;
        let from_disk = templates.render(kind, Locale::ZhCn, &context(kind)).unwrap();
        let built_in = embedded().render(kind, Locale::ZhCn, &context(kind)).unwrap();
        assert_eq!(from_disk, built_in);
    }

    #[test]
    fn missing_override_directory_is_an_error_naming_it() {
        let err = Templates::with_overrides(Path::new("/nonexistent/templates")).unwrap_err();
        assert!(matches!(err, TemplateError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/templates"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let templates = embedded();
        let name = "<script>alert(1)</script> & Co";
        for (kind, locale) in all() {
            let ctx = MessageContext { display_name: name.to_owned(), ..context(kind) };
            let m = templates.render(kind, locale, &ctx).unwrap();
            assert!(m.text.contains(name), "{kind} {locale}");
            assert!(!m.html.contains("<script>"), "{kind} {locale}");
            assert!(m.html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"), "{kind} {locale}");
        }
    }

    #[test]
    fn subjects_are_single_line_and_not_empty() {
        let templates = embedded();
        for (kind, locale) in all() {
            let m = templates.render(kind, locale, &context(kind)).unwrap();
            assert!(!m.subject.is_empty());
            assert!(!m.subject.contains(['\n', '\r']), "{kind} {locale}");
            assert_eq!(m.subject, m.subject.trim());
            assert!(m.subject.chars().count() < 80, "{kind} {locale}: {}", m.subject);
        }
    }

    #[test]
    fn french_and_chinese_templates_are_in_their_language() {
        let templates = embedded();
        let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
        for kind in NotificationKind::ALL {
            let fr = templates.render(kind, Locale::Fr, &context(kind)).unwrap();
            assert!(fr.text.starts_with("Bonjour Camille Dupont,"), "{kind}");
            assert!(fr.html.contains("Bonjour"), "{kind}");
            assert!(fr.text.contains("é"), "{kind}");
            let zh = templates.render(kind, Locale::ZhCn, &context(kind)).unwrap();
            assert!(zh.subject.chars().any(is_cjk), "{kind}");
            assert!(zh.text.chars().filter(|c| is_cjk(*c)).count() > 20, "{kind}");
            assert!(zh.html.chars().any(is_cjk), "{kind}");
            let en = templates.render(kind, Locale::En, &context(kind)).unwrap();
            assert!(en.text.starts_with("Hello Camille Dupont,"), "{kind}");
        }
    }

    #[test]
    fn absent_values_render_cleanly() {
        let templates = embedded();
        for (kind, locale) in all() {
            for ctx in [
                MessageContext { toll_free_number: None, ..context(kind) },
                MessageContext { pin: kind.carries_pin().then(|| Pin::new(PIN)), ..sample_empty(kind) },
            ] {
                let m = templates.render(kind, locale, &ctx).unwrap();
                for body in [&m.subject, &m.text, &m.html] {
                    assert!(!body.contains("null"), "{kind} {locale}: {body}");
                    assert!(!body.contains("None"), "{kind} {locale}: {body}");
                    assert!(!body.contains("+33805550123"), "{kind} {locale}");
                    assert!(!body.contains("()") && !body.contains("（）"));
                }
            }
        }
    }

    #[test]
    fn pin_never_shows_in_debug_output_and_serializes_as_digits() {
        let ctx = context(NotificationKind::PinReset);
        let debug = format!("{ctx:?}");
        assert!(!debug.contains(PIN), "{debug}");
        assert!(debug.contains(PIN_MASK));
        let json = serde_json::to_value(&ctx).unwrap();
        assert_eq!(json["pin"], PIN);
        assert_eq!(json["displayName"], "Camille Dupont");
        assert_eq!(json["tollFreeNumber"]["city"], serde_json::Value::Null);
        let none = serde_json::to_value(sample_empty(NotificationKind::LicenseRemoved)).unwrap();
        for key in ["conferenceId", "tollNumber", "tollFreeNumber", "providerName", "pin"] {
            assert_eq!(none.get(key), Some(&serde_json::Value::Null), "{key}");
        }
    }

    #[test]
    fn rendered_message_debug_output_hides_the_bodies() {
        let kind = NotificationKind::PinReset;
        let m = embedded().render(kind, Locale::En, &context(kind)).unwrap();
        let debug = format!("{m:?}");
        assert!(!debug.contains(PIN), "{debug}");
        assert!(debug.contains(&m.subject));
    }

    #[test]
    fn render_errors_never_contain_the_pin() {
        let message = scrub(format!("value {PIN} rejected"), Some(&Pin::new(PIN)));
        assert!(!message.contains(PIN));
    }

    #[test]
    fn templates_can_be_shared_between_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Templates>();
    }
}
