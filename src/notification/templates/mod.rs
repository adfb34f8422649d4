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
//!
//! One concern a file: [`context`] (what a template may refer to, and the one place a PIN is
//! serialized), [`error`], `embedded` (the templates compiled in, and their names), `check`
//! (the registries and the load-time checks), `samples` (the contexts every template is tried
//! with at load), `text` (subjects, plain text and error messages as they leave rendering).

mod check;
pub(crate) mod context;
mod embedded;
pub(crate) mod error;
mod samples;
mod text;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;

use crate::api::{Locale, NotificationKind};
use check::{check_elements, registry};
pub use context::{MessageContext, NumberView, RenderedMessage};
use embedded::{Key, Part, Source, embedded_sources, template_name};
pub use error::TemplateError;
use samples::{sample_empty, sample_full};
use text::{describe, scrub, single_line, tidy_text};

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

#[cfg(test)]
mod tests;
