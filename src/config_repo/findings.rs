//! Findings: a stable code, a severity, where (file, line, column, object, field) and a
//! message that says how to fix it; and the three ways to print them.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use super::load::Pos;
use crate::domain::escape_for_terminal;

/// How bad a finding is. Only errors fail `validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The commit must not be merged as it is.
    Error,
    /// Probably a mistake; the operator would accept it.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Every finding code. The numbers are stable: documented in docs/gitops.md, matched by CI
/// scripts; a code is never reused for another meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// A key written twice in one mapping.
    DuplicateKey,
    /// A plain `yes`/`no`/`on`/`off`/`y`/`n`: a string in YAML 1.2, a boolean to kubectl.
    Yaml11Boolean,
    /// apiVersion of a conferencing kind that is not served.
    UnsupportedVersion,
    /// metadata.name or metadata.namespace missing or not a valid object name.
    InvalidName,
    /// A field the schema does not have.
    UnknownField,
    /// A value of the wrong type.
    WrongType,
    /// A value outside the schema's enum.
    NotInEnum,
    /// A number outside minimum/maximum.
    OutOfRange,
    /// A string outside minLength/maxLength.
    BadLength,
    /// A list outside minItems/maxItems.
    BadItemCount,
    /// A string that does not match the schema's pattern.
    PatternMismatch,
    /// A required field is missing.
    MissingField,
    /// The operator's tenant validation rejects the tenant.
    InvalidTenant,
    /// The operator's user validation rejects the user.
    InvalidUser,
    /// The user's tenantRef names no tenant in its namespace.
    TenantNotFound,
    /// Two users of a namespace have the same static conference ID.
    DuplicateConferenceId,
    /// A static conference ID whose length is not the tenant's.
    ConferenceIdLength,
    /// A chosen service number that is not one of the tenant's.
    ServiceNumberNotInTenant,
    /// A chosen service number of the wrong type.
    ServiceNumberWrongType,
    /// Two documents define the same object.
    DuplicateObject,
    /// A request token used again for a second request of the same kind.
    TokenReused,
    /// (--live) the static conference ID is held in the cluster by another user.
    ConferenceIdHeld,
}

impl Code {
    /// Every code, in number order.
    pub const ALL: [Code; 22] = [
        Code::DuplicateKey,
        Code::Yaml11Boolean,
        Code::UnsupportedVersion,
        Code::InvalidName,
        Code::UnknownField,
        Code::WrongType,
        Code::NotInEnum,
        Code::OutOfRange,
        Code::BadLength,
        Code::BadItemCount,
        Code::PatternMismatch,
        Code::MissingField,
        Code::InvalidTenant,
        Code::InvalidUser,
        Code::TenantNotFound,
        Code::DuplicateConferenceId,
        Code::ConferenceIdLength,
        Code::ServiceNumberNotInTenant,
        Code::ServiceNumberWrongType,
        Code::DuplicateObject,
        Code::TokenReused,
        Code::ConferenceIdHeld,
    ];

    /// The stable code, e.g. `CO201`.
    pub fn id(self) -> &'static str {
        match self {
            Code::DuplicateKey => "CO101",
            Code::Yaml11Boolean => "CO102",
            Code::UnsupportedVersion => "CO103",
            Code::InvalidName => "CO104",
            Code::UnknownField => "CO201",
            Code::WrongType => "CO202",
            Code::NotInEnum => "CO203",
            Code::OutOfRange => "CO204",
            Code::BadLength => "CO205",
            Code::BadItemCount => "CO206",
            Code::PatternMismatch => "CO207",
            Code::MissingField => "CO208",
            Code::InvalidTenant => "CO301",
            Code::InvalidUser => "CO302",
            Code::TenantNotFound => "CO401",
            Code::DuplicateConferenceId => "CO402",
            Code::ConferenceIdLength => "CO403",
            Code::ServiceNumberNotInTenant => "CO404",
            Code::ServiceNumberWrongType => "CO405",
            Code::DuplicateObject => "CO406",
            Code::TokenReused => "CO407",
            Code::ConferenceIdHeld => "CO408",
        }
    }

    /// A short kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Code::DuplicateKey => "duplicate-key",
            Code::Yaml11Boolean => "yaml11-boolean",
            Code::UnsupportedVersion => "unsupported-version",
            Code::InvalidName => "invalid-name",
            Code::UnknownField => "unknown-field",
            Code::WrongType => "wrong-type",
            Code::NotInEnum => "not-in-enum",
            Code::OutOfRange => "out-of-range",
            Code::BadLength => "bad-length",
            Code::BadItemCount => "bad-item-count",
            Code::PatternMismatch => "pattern-mismatch",
            Code::MissingField => "missing-field",
            Code::InvalidTenant => "invalid-tenant",
            Code::InvalidUser => "invalid-user",
            Code::TenantNotFound => "tenant-not-found",
            Code::DuplicateConferenceId => "duplicate-conference-id",
            Code::ConferenceIdLength => "conference-id-length",
            Code::ServiceNumberNotInTenant => "service-number-not-in-tenant",
            Code::ServiceNumberWrongType => "service-number-wrong-type",
            Code::DuplicateObject => "duplicate-object",
            Code::TokenReused => "token-reused",
            Code::ConferenceIdHeld => "conference-id-held",
        }
    }

    /// The severity every finding of this code has.
    pub fn severity(self) -> Severity {
        match self {
            Code::Yaml11Boolean => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// The object a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    /// `ConferencingTenant` or `ConferencingUser`.
    pub kind: String,
    /// Namespace (the document's, else `--namespace`).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable code, e.g. `CO201`.
    pub code: Code,
    /// Kebab-case name of the code.
    pub name: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The file, as given on the command line (or `<stdin>`).
    #[serde(serialize_with = "serialize_file")]
    pub file: Arc<str>,
    /// 1-based line of the offending field.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The object, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Path of the offending field, e.g. `spec.serviceNumbers[2].number`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn serialize_file<S: serde::Serializer>(file: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(file)
}

impl Finding {
    /// A finding of `code` at `pos` in `file`.
    pub fn new(code: Code, file: &Arc<str>, pos: Pos, message: impl Into<String>) -> Self {
        Finding {
            code,
            name: code.name(),
            severity: code.severity(),
            file: file.clone(),
            line: pos.line,
            column: pos.col,
            object: None,
            field: None,
            message: message.into(),
        }
    }

    /// About `object`.
    pub fn object(mut self, object: Option<&ObjectRef>) -> Self {
        self.object = object.cloned();
        self
    }

    /// About `field`.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        self.field = (!f.is_empty()).then_some(f);
        self
    }
}

/// Sorts findings by file, line, column and code, so output is stable.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code, &a.message).cmp(&(&b.file, b.line, b.column, b.code, &b.message))
    });
}

/// Counts of errors and warnings.
pub fn counts(findings: &[Finding]) -> (usize, usize) {
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    (errors, findings.len() - errors)
}

/// `file:line:col: error[CO201]: message (ConferencingUser acme/alice)`, the format editors
/// and terminals turn into links.
pub fn text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        // File names and messages come from the tree: a terminal must not run their escapes.
        let _ = write!(
            out,
            "{}:{}:{}: {}[{}]: {}",
            escape_for_terminal(&f.file),
            f.line,
            f.column,
            f.severity.as_str(),
            f.code.id(),
            escape_for_terminal(&f.message)
        );
        if let Some(o) = &f.object {
            let _ = write!(out, " ({})", escape_for_terminal(&o.to_string()));
        }
        out.push('\n');
    }
    out
}

/// GitHub Actions workflow commands, so that each finding is an annotation on the pull
/// request's line.
pub fn github(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let title = format!("{} {}", f.code.id(), f.code.name());
        let mut message = f.message.clone();
        if let Some(o) = &f.object {
            message.push_str(&format!(" ({o})"));
        }
        let _ = writeln!(
            out,
            "::{} file={},line={},col={},title={}::{}",
            f.severity.as_str(),
            escape_property(&f.file),
            f.line,
            f.column,
            escape_property(&title),
            escape_data(&message)
        );
    }
    out
}

/// Escapes a workflow-command message (the runner's own rules: `%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow-command property (also `:` and `,`, which delimit properties).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_complete() {
        let mut ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        ids.sort_unstable();
        ids.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!(ids.len(), Code::ALL.len());
        assert_eq!(names.len(), Code::ALL.len());
    }

    #[test]
    fn text_output_shows_control_characters_as_escapes() {
        let file: Arc<str> = Arc::from("users/a\u{1b}[2J\nb.yaml");
        let o = ObjectRef { kind: "ConferencingUser".into(), namespace: "acme".into(), name: "x\ry".into() };
        let f = Finding::new(Code::UnknownField, &file, Pos { line: 3, col: 5 }, "bad\u{202e}value").object(Some(&o));
        let out = text(&[f]);
        assert_eq!(
            out,
            "users/a\\u{1b}[2J\\u{a}b.yaml:3:5: error[CO201]: bad\\u{202e}value (ConferencingUser acme/x\\u{d}y)\n"
        );
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn github_annotations_cannot_be_split_or_end_a_property() {
        let file: Arc<str> = Arc::from("a:b,c%0A\r\n::error::x.yaml");
        let o = ObjectRef { kind: "ConferencingUser".into(), namespace: "acme".into(), name: "n".into() };
        let f =
            Finding::new(Code::UnknownField, &file, Pos { line: 1, col: 2 }, "m\n::warning::fake%").object(Some(&o));
        let out = github(&[f]);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(
            out,
            "::error file=a%3Ab%2Cc%250A%0D%0A%3A%3Aerror%3A%3Ax.yaml,line=1,col=2,title=CO201 unknown-field::m%0A::warning::fake%25 (ConferencingUser acme/n)\n"
        );
        assert_eq!(escape_data("%\r\n:,"), "%25%0D%0A:,");
        assert_eq!(escape_property("%\r\n:,"), "%25%0D%0A%3A%2C");
    }

    #[test]
    fn github_annotations_escape_what_the_runner_parses() {
        let file: Arc<str> = Arc::from("users/a,b.yaml");
        let f = Finding::new(Code::UnknownField, &file, Pos { line: 3, col: 5 }, "100% wrong\nreally");
        let out = github(&[f]);
        assert_eq!(
            out,
            "::error file=users/a%2Cb.yaml,line=3,col=5,title=CO201 unknown-field::100%25 wrong%0Areally\n"
        );
    }
}
