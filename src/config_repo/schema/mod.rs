//! Checks a document against the CRD's openAPIV3Schema, as generated from the API types, so
//! that a change to `src/api/` changes what `validate` accepts without touching this file.
//!
//! What is checked is what the API server checks of a structural schema: unknown fields
//! (which it would silently prune), types, enums, minimum/maximum, minLength/maxLength,
//! minItems/maxItems, pattern and required. CEL rules (`x-kubernetes-validations`) are not
//! evaluated here: the operator's own validation, run next, checks the same rules with the
//! code the controller runs.

use kube::CustomResourceExt;
use regex::Regex;
use serde_json::Value;

use super::findings::Code;
use super::load::{Node, NodeKind, Pos};
use crate::api::{ConferencingTenant, ConferencingUser};

mod metadata;

use metadata::check_metadata;

/// A problem found against the schema, before it is tied to a file and object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Issue {
    /// Which rule.
    pub code: Code,
    /// Path of the field.
    pub path: String,
    /// Where it is written.
    pub pos: Pos,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A compiled schema node.
#[derive(Debug, Default)]
pub(crate) struct Schema {
    type_: Option<String>,
    nullable: bool,
    properties: Vec<(String, Schema)>,
    required: Vec<String>,
    additional: Option<Box<Schema>>,
    preserve_unknown: bool,
    items: Option<Box<Schema>>,
    enum_: Vec<Value>,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    pattern: Option<(String, Regex)>,
    int_or_string: bool,
}

/// The schema of one kind.
#[derive(Debug)]
pub(crate) struct KindSchema {
    /// `ConferencingTenant` or `ConferencingUser`.
    pub kind: &'static str,
    /// apiVersions served, e.g. `conferencing.io/v1alpha1`.
    pub api_versions: Vec<String>,
    /// The root schema.
    pub root: Schema,
}

/// The schemas of both kinds.
#[derive(Debug)]
pub(crate) struct Schemas {
    /// ConferencingTenant.
    pub tenant: KindSchema,
    /// ConferencingUser.
    pub user: KindSchema,
}

/// The generated CRD's schema cannot be used (a bug in the API types).
#[derive(Debug, thiserror::Error)]
#[error("the generated CRD schema of {kind} is unusable: {message}")]
pub(crate) struct SchemaError {
    kind: &'static str,
    message: String,
}

impl Schemas {
    /// Compiles the schemas of the generated CRDs.
    pub(crate) fn generated() -> Result<Self, SchemaError> {
        Ok(Schemas {
            tenant: compile_crd("ConferencingTenant", &ConferencingTenant::crd())?,
            user: compile_crd("ConferencingUser", &ConferencingUser::crd())?,
        })
    }
}

fn compile_crd(
    kind: &'static str,
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Result<KindSchema, SchemaError> {
    let err = |message: String| SchemaError { kind, message };
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.storage)
        .or_else(|| crd.spec.versions.first())
        .ok_or_else(|| err("no version".into()))?;
    let api_versions =
        crd.spec.versions.iter().filter(|v| v.served).map(|v| format!("{}/{}", crd.spec.group, v.name)).collect();
    let props = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .ok_or_else(|| err(format!("version {} has no openAPIV3Schema", version.name)))?;
    let json = serde_json::to_value(props).map_err(|e| err(e.to_string()))?;
    Ok(KindSchema { kind, api_versions, root: compile(&json).map_err(err)? })
}

fn compile(v: &Value) -> Result<Schema, String> {
    let mut s = Schema {
        type_: v.get("type").and_then(Value::as_str).map(str::to_string),
        nullable: v.get("nullable").and_then(Value::as_bool).unwrap_or(false),
        preserve_unknown: v.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false),
        int_or_string: v.get("x-kubernetes-int-or-string").and_then(Value::as_bool).unwrap_or(false),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        enum_: v.get("enum").and_then(Value::as_array).cloned().unwrap_or_default(),
        min_length: v.get("minLength").and_then(Value::as_u64),
        max_length: v.get("maxLength").and_then(Value::as_u64),
        min_items: v.get("minItems").and_then(Value::as_u64),
        max_items: v.get("maxItems").and_then(Value::as_u64),
        ..Schema::default()
    };
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    s.minimum = v.get("minimum").and_then(Value::as_f64).map(|m| (m, flag("exclusiveMinimum")));
    s.maximum = v.get("maximum").and_then(Value::as_f64).map(|m| (m, flag("exclusiveMaximum")));
    if let Some(p) = v.get("pattern").and_then(Value::as_str) {
        let re = Regex::new(p).map_err(|e| format!("pattern {p:?}: {e}"))?;
        s.pattern = Some((p.to_string(), re));
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (k, pv) in props {
            s.properties.push((k.clone(), compile(pv)?));
        }
    }
    if let Some(a) = v.get("additionalProperties") {
        if a.is_object() {
            s.additional = Some(Box::new(compile(a)?));
        } else if a.as_bool() == Some(true) {
            s.preserve_unknown = true;
        }
    }
    if let Some(items) = v.get("items") {
        s.items = Some(Box::new(compile(items)?));
    }
    Ok(s)
}

impl Schema {
    fn property(&self, key: &str) -> Option<&Schema> {
        self.properties.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }
}

/// Checks a whole object (`apiVersion`, `kind`, `metadata`, `spec`, ...) against its kind's
/// schema.
pub(crate) fn check_object(schema: &KindSchema, root: &Node) -> Vec<Issue> {
    let mut out = Vec::new();
    let mut path = String::new();
    let NodeKind::Map(entries) = &root.kind else {
        out.push(Issue {
            code: Code::WrongType,
            path: String::new(),
            pos: root.pos,
            message: format!("a {} must be a mapping", schema.kind),
        });
        return out;
    };
    for e in entries {
        if e.key == "metadata" {
            check_metadata(&e.value, &mut out);
        }
    }
    walk(&schema.root, root, root.pos, &mut path, &mut out, true);
    out
}

fn describe(n: &Node) -> &'static str {
    match &n.kind {
        NodeKind::Map(_) => "a mapping",
        NodeKind::Seq(_) => "a list",
        NodeKind::Scalar { value, .. } => match value {
            Value::Null => "empty",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            _ => "a value",
        },
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `at` is where the node's field is written (its key), where a missing child is reported.
fn walk(s: &Schema, n: &Node, at: Pos, path: &mut String, out: &mut Vec<Issue>, top: bool) {
    let issue = |code, path: &str, pos, message: String| Issue { code, path: path.to_string(), pos, message };
    if let NodeKind::Scalar { value: Value::Null, .. } = n.kind {
        // The API server prunes a null of a non-nullable field before validating, as if it
        // were absent; `required` is checked by the parent.
        return;
    }
    if !type_matches(s, n) {
        let expected = match s.type_.as_deref() {
            Some("object") => "a mapping (key: value)",
            Some("array") => "a list",
            Some("string") if s.int_or_string => "a string or an integer",
            Some("string") => "a string",
            Some("integer") => "an integer",
            Some("number") => "a number",
            Some("boolean") => "true or false",
            _ => "something else",
        };
        let mut message = format!("{} must be {expected}, not {}", display(path), describe(n));
        if let NodeKind::Scalar { value, plain: true } = &n.kind
            && s.type_.as_deref() == Some("string")
        {
            message.push_str(&format!("; quote it: \"{}\"", scalar_text(value)));
        }
        out.push(issue(Code::WrongType, path, n.pos, message));
        return;
    }
    match &n.kind {
        NodeKind::Map(entries) => {
            for e in entries {
                // Every object has these; CRD schemas leave them out (metadata is checked
                // by check_metadata).
                if top && matches!(e.key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let child = join(path, &e.key);
                match s.property(&e.key).or(s.additional.as_deref()) {
                    Some(cs) => {
                        let saved = path.len();
                        *path = child;
                        walk(cs, &e.value, e.key_pos, path, out, false);
                        path.truncate(saved);
                    }
                    None if s.preserve_unknown => {}
                    None => {
                        let known: Vec<&str> = s.properties.iter().map(|(k, _)| k.as_str()).collect();
                        let hint = match suggest(&e.key, &known) {
                            Some(k) => format!("did you mean {k}?"),
                            None if known.is_empty() => "remove it".to_string(),
                            None => format!("the fields here are {}", known.join(", ")),
                        };
                        out.push(issue(
                            Code::UnknownField,
                            &child,
                            e.key_pos,
                            format!(
                                "{} is not a field of the schema, so the API server would silently drop it; {hint}",
                                display(&child)
                            ),
                        ));
                    }
                }
            }
            for r in &s.required {
                let present = entries.iter().any(|e| &e.key == r && !is_null(&e.value));
                if !present {
                    let child = join(path, r);
                    out.push(issue(Code::MissingField, &child, at, format!("{} is required", display(&child))));
                }
            }
        }
        NodeKind::Seq(items) => {
            let len = items.len() as u64;
            if let Some(min) = s.min_items.filter(|m| len < *m) {
                out.push(issue(
                    Code::BadItemCount,
                    path,
                    n.pos,
                    format!("{} must have at least {min} item(s), not {len}", display(path)),
                ));
            }
            if let Some(max) = s.max_items.filter(|m| len > *m) {
                out.push(issue(
                    Code::BadItemCount,
                    path,
                    n.pos,
                    format!("{} must have at most {max} item(s), not {len}", display(path)),
                ));
            }
            if let Some(is) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    let saved = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(is, item, item.pos, path, out, false);
                    path.truncate(saved);
                }
            }
        }
        NodeKind::Scalar { value, .. } => check_scalar(s, value, n.pos, path, out),
    }
}

fn check_scalar(s: &Schema, value: &Value, pos: Pos, path: &str, out: &mut Vec<Issue>) {
    let issue = |code, message: String| Issue { code, path: path.to_string(), pos, message };
    if !s.enum_.is_empty() && !s.enum_.contains(value) {
        let allowed: Vec<String> = s.enum_.iter().map(scalar_text).collect();
        let text = scalar_text(value);
        let close = allowed.iter().find(|a| a.eq_ignore_ascii_case(&text));
        let hint = close.map(|c| format!("; did you mean {c}?")).unwrap_or_default();
        out.push(issue(
            Code::NotInEnum,
            format!("{} must be one of {}, not {text:?}{hint}", display(path), allowed.join(", ")),
        ));
    }
    if let Some(x) = value.as_f64() {
        if let Some((min, excl)) = s.minimum
            && (x < min || (excl && x == min))
        {
            let bound = if excl { "greater than" } else { "at least" };
            out.push(issue(Code::OutOfRange, format!("{} must be {bound} {min}, not {value}", display(path))));
        }
        if let Some((max, excl)) = s.maximum
            && (x > max || (excl && x == max))
        {
            let bound = if excl { "less than" } else { "at most" };
            out.push(issue(Code::OutOfRange, format!("{} must be {bound} {max}, not {value}", display(path))));
        }
    }
    if let Value::String(text) = value {
        // Kubernetes counts characters (runes), not bytes.
        let len = text.chars().count() as u64;
        if let Some(min) = s.min_length.filter(|m| len < *m) {
            let message = if len == 0 {
                format!("{} must not be empty", display(path))
            } else {
                format!("{} must be at least {min} characters, not {len}", display(path))
            };
            out.push(issue(Code::BadLength, message));
        }
        if let Some(max) = s.max_length.filter(|m| len > *m) {
            out.push(issue(Code::BadLength, format!("{} must be at most {max} characters, not {len}", display(path))));
        }
        if let Some((p, re)) = &s.pattern
            && !re.is_match(text)
        {
            let message = match forbidden_char(text) {
                Some(c) => format!(
                    "{} contains {}, which is not allowed in a name shown to people; remove it (a YAML block scalar such as | or > adds a line break at the end)",
                    display(path),
                    char_name(c)
                ),
                None if p == crate::domain::EMAIL_PATTERN => match crate::domain::EmailAddress::parse(text) {
                    Err(e) => format!("{} {text:?} {e}", display(path)),
                    Ok(_) => format!("{} {text:?} is not an address of the form name@domain.example", display(path)),
                },
                None if p.starts_with(r"^\+[1-9]") => {
                    format!("{} {text:?} is not an E.164 number such as \"+14255550100\"", display(path))
                }
                None => format!("{} {text:?} must match the pattern {p}", display(path)),
            };
            out.push(issue(Code::PatternMismatch, message));
        }
    }
}

fn type_matches(s: &Schema, n: &Node) -> bool {
    let Some(t) = s.type_.as_deref() else { return true };
    match (&n.kind, t) {
        (NodeKind::Map(_), "object") | (NodeKind::Seq(_), "array") => true,
        (NodeKind::Scalar { value, .. }, _) => match (value, t) {
            (Value::String(_), "string") | (Value::Bool(_), "boolean") => true,
            (Value::Number(_), "number") => true,
            (Value::Number(x), "integer") => x.is_i64() || x.is_u64() || x.as_f64().is_some_and(|f| f.fract() == 0.0),
            (Value::Number(x), "string") if s.int_or_string => x.is_i64(),
            (Value::Null, _) => s.nullable,
            _ => false,
        },
        _ => false,
    }
}

fn is_null(n: &Node) -> bool {
    matches!(n.kind, NodeKind::Scalar { value: Value::Null, .. })
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn display(path: &str) -> String {
    if path.is_empty() { "the object".into() } else { path.to_string() }
}

/// The closest known name to a misspelt field, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (k, strsim::levenshtein(&lower, &k.to_ascii_lowercase())))
        .filter(|(k, d)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| *k)
}

/// The first character the display-string pattern forbids, to name it in the message.
fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|c| {
        let u = u32::from(*c);
        u < 0x20 || (0x7f..=0x9f).contains(&u) || matches!(u, 0x2028 | 0x2029 | 0x202a..=0x202e | 0x2066..=0x2069)
    })
}

fn char_name(c: char) -> String {
    let name = match c {
        '\n' => " (line feed)",
        '\r' => " (carriage return)",
        '\t' => " (tab)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        '\u{202a}'..='\u{202e}' => " (a bidi override)",
        '\u{2066}'..='\u{2069}' => " (a bidi isolate)",
        _ => " (a control character)",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_repo::load::parse_str;

    fn issues(yaml: &str) -> Vec<Issue> {
        let schemas = Schemas::generated().expect("schemas");
        let doc = parse_str("t.yaml", yaml).expect("yaml").remove(0);
        check_object(&schemas.user, &doc.root)
    }

    const USER: &str = "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata:\n  name: alice\nspec:\n  tenantRef:\n    name: acme\n  displayName: Alice\n  email: alice@acme.example\n";

    #[test]
    fn a_valid_user_has_no_issues() {
        assert_eq!(issues(USER), vec![]);
    }

    #[test]
    fn each_rule_names_the_field_and_its_line() {
        let cases = [
            (
                "  servicenumber: \"+14255550100\"\n",
                Code::UnknownField,
                "spec.servicenumber",
                "did you mean serviceNumber?",
            ),
            ("  conferenceId: 4455667\n", Code::WrongType, "spec.conferenceId", "quote it: \"4455667\""),
            ("  provider:\n    type: native\n", Code::NotInEnum, "spec.provider.type", "did you mean Native?"),
            ("  conferenceId: \"12ab\"\n", Code::PatternMismatch, "spec.conferenceId", "pattern"),
            ("  requests:\n    resetPin: \"\"\n", Code::BadLength, "spec.requests.resetPin", "must not be empty"),
        ];
        for (extra, code, path, hint) in cases {
            let found = issues(&format!("{USER}{extra}"));
            assert_eq!(found.len(), 1, "{extra}: {found:?}");
            assert_eq!((found[0].code, found[0].path.as_str()), (code, path), "{found:?}");
            assert!(found[0].message.contains(hint), "{}", found[0].message);
            assert!(found[0].pos.line >= 10, "{:?}", found[0].pos);
        }
    }

    #[test]
    fn a_line_break_in_a_display_name_is_named() {
        let yaml = USER.replace("displayName: Alice", "displayName: \"Alice\\nMartin\"");
        let found = issues(&yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code, Code::PatternMismatch);
        assert!(found[0].message.contains("U+000A (line feed)"), "{}", found[0].message);
    }

    #[test]
    fn required_fields_and_metadata() {
        let yaml = USER.replace("  email: alice@acme.example\n", "").replace("name: alice", "name: Alice_M");
        let found = issues(&yaml);
        let codes: Vec<Code> = found.iter().map(|i| i.code).collect();
        assert!(codes.contains(&Code::MissingField), "{found:?}");
        assert!(codes.contains(&Code::InvalidName), "{found:?}");
    }
}
