//! `validate`: every ConferencingTenant and ConferencingUser of a tree, checked against the
//! CRD schema, the operator's own validation (the same functions the controller runs), and
//! across objects. The result is also the model `plan` works on: each object with its
//! validated form, or why the controller would block it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::findings::{Code, Finding, ObjectRef, Severity};
use super::live::LiveState;
use super::load::{Document, Loaded, Node, NodeKind, Pos};
use super::schema::{self, KindSchema, Schemas};
use crate::api::Reason;
use crate::api::{ConferencingTenant, ConferencingUser, NotificationKind, NumberType, ProviderType};
use crate::planning::message_id::{message_id, token_cause};
use crate::validation::{
    ClusterPolicy, DesiredService, InvalidSpec, ValidatedTenant, ValidatedUser, validate_tenant, validate_user,
};

mod across;
mod objects;

/// How `validate` reads the tree.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Namespace of objects that do not set one (as `kubectl apply -n` or kustomize's
    /// `namespace:` would give them).
    pub default_namespace: String,
}

/// Why the controller would not reconcile a user (its `Ready=False` reason): the controller's
/// own type, with messages that also say what to fix in the tree.
pub(crate) use crate::planning::admission::Blocked;

/// A tenant of the tree.
#[derive(Clone, Debug)]
pub(crate) struct TenantEntry {
    /// Identity.
    pub id: ObjectRef,
    /// Source file.
    pub file: Arc<str>,
    /// The document.
    pub root: Node,
    /// The object, when it could be read as one.
    pub object: Option<ConferencingTenant>,
    /// The validated tenant, when the tenant has no error.
    pub validated: Option<ValidatedTenant>,
}

/// A user of the tree.
#[derive(Clone, Debug)]
pub(crate) struct UserEntry {
    /// Identity.
    pub id: ObjectRef,
    /// Source file.
    pub file: Arc<str>,
    /// The document.
    pub root: Node,
    /// The object, when it could be read as one.
    pub object: Option<ConferencingUser>,
    /// The validated user (uid and generation filled in by whoever plans it).
    pub validated: Option<ValidatedUser>,
    /// The tenant it was validated against (from the tree, or with `--live` the cluster).
    pub tenant: Option<ValidatedTenant>,
    /// Why the controller would block it, if it would.
    pub blocked: Option<Blocked>,
}

/// A validated tree.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tree {
    /// Tenants, in document order.
    pub tenants: Vec<TenantEntry>,
    /// Users, in document order.
    pub users: Vec<UserEntry>,
    /// Documents of other kinds (Namespaces, Kustomizations, ...), ignored.
    pub other_documents: usize,
    /// Files read.
    pub files: usize,
}

impl Tree {
    /// The tenant `name` in `namespace`.
    pub(crate) fn tenant(&self, namespace: &str, name: &str) -> Option<&TenantEntry> {
        self.tenants.iter().find(|t| t.id.namespace == namespace && t.id.name == name)
    }

    /// Every namespace an object of the tree is in.
    pub(crate) fn namespaces(&self) -> BTreeSet<String> {
        self.tenants
            .iter()
            .map(|t| &t.id)
            .chain(self.users.iter().map(|u| &u.id))
            .map(|i| i.namespace.clone())
            .collect()
    }
}

/// The result of `validate`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Report {
    /// The tree, with what validation learnt.
    pub tree: Tree,
    /// Every finding, sorted.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is an error.
    pub(crate) fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// The namespaces of the conferencing objects of `loaded`, to read with `--live` before
/// validating.
pub(crate) fn namespaces(loaded: &Loaded, default_namespace: &str) -> BTreeSet<String> {
    fn visit(root: &Node, default_namespace: &str, out: &mut BTreeSet<String>) {
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or_default();
        if kind == "List"
            && let Some(Node { kind: NodeKind::Seq(items), .. }) = root.get("items")
        {
            for i in items {
                visit(i, default_namespace, out);
            }
        } else if kind == TENANT || kind == USER {
            let ns = root.get("metadata").and_then(|m| m.get("namespace")).and_then(Node::as_str);
            out.insert(ns.unwrap_or(default_namespace).to_string());
        }
    }
    let mut out = BTreeSet::new();
    for d in &loaded.documents {
        visit(&d.root, default_namespace, &mut out);
    }
    out
}

const TENANT: &str = "ConferencingTenant";
const USER: &str = "ConferencingUser";

/// Validates the documents. `live` is the cluster's state, for `--live`.
pub(crate) fn validate(loaded: Loaded, schemas: &Schemas, opts: &Options, live: Option<&LiveState>) -> Report {
    let mut v = Validator { schemas, opts, live, findings: Vec::new(), tree: Tree::default() };
    v.tree.files = loaded.files;
    let mut seen: HashMap<(String, String, String), (Arc<str>, Pos)> = HashMap::new();
    for doc in loaded.documents {
        v.document(doc, &mut seen);
    }
    v.tenants();
    v.users();
    let mut findings = v.findings;
    super::findings::sort(&mut findings);
    Report { tree: v.tree, findings }
}

struct Validator<'a> {
    schemas: &'a Schemas,
    opts: &'a Options,
    live: Option<&'a LiveState>,
    findings: Vec<Finding>,
    tree: Tree,
}

impl Validator<'_> {
    fn document(&mut self, doc: Document, seen: &mut HashMap<(String, String, String), (Arc<str>, Pos)>) {
        let kind = doc.root.get("kind").and_then(Node::as_str).unwrap_or_default().to_string();
        let api_version = doc.root.get("apiVersion").and_then(Node::as_str).unwrap_or_default().to_string();
        if kind == "List"
            && let Some(Node { kind: NodeKind::Seq(items), .. }) = doc.root.get("items")
        {
            for item in items.clone() {
                let d = Document {
                    file: doc.file.clone(),
                    root: item,
                    duplicate_keys: Vec::new(),
                    yaml11_booleans: Vec::new(),
                };
                self.document(d, seen);
            }
            return;
        }
        let schema = match kind.as_str() {
            TENANT => &self.schemas.tenant,
            USER => &self.schemas.user,
            _ => {
                self.tree.other_documents += 1;
                return;
            }
        };
        let group = api_version.split('/').next().unwrap_or_default();
        if group != crate::api::GROUP {
            // Another API's kind of the same name is not ours.
            self.tree.other_documents += 1;
            return;
        }
        let name = doc.root.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or_default();
        let namespace = doc
            .root
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(Node::as_str)
            .unwrap_or(&self.opts.default_namespace);
        let id = ObjectRef { kind: kind.clone(), namespace: namespace.to_string(), name: name.to_string() };
        let file = doc.file.clone();
        let before = self.findings.len();

        if !schema.api_versions.contains(&api_version) {
            let pos = doc.root.locate("apiVersion");
            self.push(
                Finding::new(
                    Code::UnsupportedVersion,
                    &file,
                    pos,
                    format!("apiVersion {api_version} is not served; use {}", schema.api_versions.join(" or ")),
                )
                .object(Some(&id))
                .field("apiVersion"),
            );
            return;
        }
        let key = (kind.clone(), id.namespace.clone(), id.name.clone());
        if let Some((first_file, first_pos)) = seen.get(&key) {
            let pos = doc.root.locate("metadata.name");
            let message = format!(
                "{id} is already defined at {first_file}:{first_pos}; an object may be defined once (remove one, or give it another name)"
            );
            self.push(
                Finding::new(Code::DuplicateObject, &file, pos, message).object(Some(&id)).field("metadata.name"),
            );
            return;
        }
        seen.insert(key, (file.clone(), doc.root.locate("metadata.name")));

        for d in &doc.duplicate_keys {
            let finding = if let Some(request) = d.path.strip_prefix("spec.requests.") {
                Finding::new(
                    Code::TokenReused,
                    &file,
                    d.pos,
                    format!(
                        "a second {request} request in the same object (also at line {}); the operator keeps one token per request kind, so only the last is seen: replace the old token with the new one instead of adding a line",
                        d.first.line
                    ),
                )
            } else {
                Finding::new(
                    Code::DuplicateKey,
                    &file,
                    d.pos,
                    format!(
                        "{} is written twice in this mapping (first at line {}); tools disagree on which wins: keep one",
                        d.path, d.first.line
                    ),
                )
            };
            self.push(finding.object(Some(&id)).field(d.path.clone()));
        }
        for b in &doc.yaml11_booleans {
            self.push(
                Finding::new(
                    Code::Yaml11Boolean,
                    &file,
                    b.pos,
                    format!(
                        "{} is {:?}, a string here but a boolean to YAML 1.1 readers such as kubectl apply -f; quote it (\"{}\") or write true/false",
                        b.path, b.text, b.text
                    ),
                )
                .object(Some(&id))
                .field(b.path.clone()),
            );
        }
        for issue in schema::check_object(schema, &doc.root) {
            self.push(Finding::new(issue.code, &file, issue.pos, issue.message).object(Some(&id)).field(issue.path));
        }

        let mut json = doc.root.to_json();
        if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut)
            && !meta.contains_key("namespace")
        {
            meta.insert("namespace".into(), Value::String(id.namespace.clone()));
        }
        // Status is the operator's: a tree never sets it, and the API server ignores it.
        if let Some(m) = json.as_object_mut() {
            m.remove("status");
        }
        let root = doc.root;
        match kind.as_str() {
            TENANT => {
                let object = self.read_object::<ConferencingTenant>(json, schema, &file, &root, &id, before);
                self.tree.tenants.push(TenantEntry { id, file, root, object, validated: None });
            }
            _ => {
                let object = self.read_object::<ConferencingUser>(json, schema, &file, &root, &id, before);
                self.tree.users.push(UserEntry {
                    id,
                    file,
                    root,
                    object,
                    validated: None,
                    tenant: None,
                    blocked: None,
                });
            }
        }
    }

    /// Deserialises the object. The schema check usually explains why it cannot be; when it
    /// did not, the deserialiser's message becomes the finding.
    fn read_object<K: serde::de::DeserializeOwned>(
        &mut self,
        json: Value,
        schema: &KindSchema,
        file: &Arc<str>,
        root: &Node,
        id: &ObjectRef,
        before: usize,
    ) -> Option<K> {
        match serde_json::from_value::<K>(json) {
            Ok(k) => Some(k),
            Err(e) => {
                if !self.findings[before..].iter().any(|f| f.severity == Severity::Error) {
                    self.push(
                        Finding::new(
                            Code::WrongType,
                            file,
                            root.pos,
                            format!("cannot be read as a {}: {e}", schema.kind),
                        )
                        .object(Some(id)),
                    );
                }
                None
            }
        }
    }

    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    /// Whether a schema finding already covers `field` of `id`, so the operator's validation
    /// does not report the same mistake twice.
    fn covered(&self, id: &ObjectRef, field: &str) -> bool {
        self.findings.iter().any(|f| {
            f.object.as_ref() == Some(id)
                && f.severity == Severity::Error
                && f.field.as_deref().is_some_and(|g| {
                    g == field || g.starts_with(&format!("{field}.")) || g.starts_with(&format!("{field}["))
                })
        })
    }

    fn has_errors(&self, id: &ObjectRef) -> Option<String> {
        self.findings
            .iter()
            .find(|f| f.object.as_ref() == Some(id) && f.severity == Severity::Error)
            .map(|f| format!("{}: {}", f.code.id(), f.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_repo::load::{Loaded, parse_str};

    fn run(files: &[(&str, &str)]) -> Report {
        let mut loaded = Loaded::default();
        for (f, t) in files {
            loaded.documents.extend(parse_str(f, t).expect("yaml"));
            loaded.files += 1;
        }
        let schemas = Schemas::generated().expect("schemas");
        validate(loaded, &schemas, &Options { default_namespace: "default".into() }, None)
    }

    const TENANT_YAML: &str = "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingTenant\nmetadata:\n  name: acme\n  namespace: acme\nspec:\n  serviceNumbers:\n    - number: \"+14255550100\"\n      type: Toll\n    - number: \"+18005550199\"\n      type: TollFree\n";

    fn user(name: &str, extra: &str) -> String {
        format!(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata:\n  name: {name}\n  namespace: acme\nspec:\n  tenantRef:\n    name: acme\n  displayName: {name}\n  email: {name}@acme.example\n{extra}"
        )
    }

    fn codes(r: &Report) -> Vec<&'static str> {
        r.findings.iter().map(|f| f.code.id()).collect()
    }

    #[test]
    fn a_valid_tree_validates_and_resolves() {
        let r = run(&[("t.yaml", TENANT_YAML), ("a.yaml", &user("alice", ""))]);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert!(r.tree.users[0].validated.is_some());
    }

    #[test]
    fn every_user_error_is_reported_not_only_the_first() {
        let extra = "  sendEmailToAddress: \"nope\"\n  serviceNumber: \"+18005550199\"\n  tollFreeServiceNumber: \"+14255550199\"\n";
        let r = run(&[("t.yaml", TENANT_YAML), ("a.yaml", &user("alice", extra))]);
        // The address is refused by the CRD's pattern now (CO207), before the operator's rules.
        assert_eq!(codes(&r), vec!["CO207", "CO405", "CO404"], "{:?}", r.findings);
        assert!(r.findings[0].message.contains("name@domain.example"), "{}", r.findings[0].message);
        assert_eq!(r.findings[1].line, 12);
        assert_eq!(r.tree.users[0].blocked.as_ref().map(|b| b.reason), Some(Reason::InvalidSpec));
    }

    #[test]
    fn a_duplicate_static_id_is_reported_even_when_the_user_has_another_mistake() {
        let bob = user("bob", "  conferenceId: \"4455667\"\n");
        let frank = user("frank", "  conferenceId: \"4455667\"\n  tollFreeServiceNumber: \"+14255550100\"\n");
        let r = run(&[("t.yaml", TENANT_YAML), ("b.yaml", &bob), ("f.yaml", &frank)]);
        assert_eq!(codes(&r), vec!["CO402", "CO405"], "{:?}", r.findings);
    }
}
