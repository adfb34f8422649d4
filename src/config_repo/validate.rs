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

    fn tenants(&mut self) {
        let mut tenants = std::mem::take(&mut self.tree.tenants);
        for t in &mut tenants {
            let Some(obj) = &t.object else { continue };
            let mut obj = obj.clone();
            let mut first_error = None;
            for _ in 0..16 {
                match validate_tenant(&obj, &ClusterPolicy::unrestricted()) {
                    Ok(v) => {
                        if first_error.is_none() {
                            t.validated = Some(v);
                        }
                        break;
                    }
                    Err(e) => {
                        if !self.covered(&t.id, &e.field) {
                            let pos = t.root.locate(&e.field);
                            let f = Finding::new(Code::InvalidTenant, &t.file, pos, tenant_message(&e))
                                .object(Some(&t.id))
                                .field(e.field.clone());
                            self.push(f);
                        }
                        first_error.get_or_insert(e.clone());
                        if !neutralize_tenant(&mut obj, &e.field) {
                            break;
                        }
                    }
                }
            }
            if t.validated.is_some() && self.has_errors(&t.id).is_some() {
                // A schema error means the API server rejects the tenant: it stays as it was.
                t.validated = None;
            }
        }
        self.tree.tenants = tenants;
    }

    fn users(&mut self) {
        let mut users = std::mem::take(&mut self.tree.users);
        for u in &mut users {
            self.user(u);
        }
        self.static_ids(&mut users);
        for u in &mut users {
            if u.blocked.is_none()
                && let Some(message) = self.has_errors(&u.id)
            {
                u.blocked = Some(Blocked { reason: Reason::InvalidSpec, message });
                u.validated = None;
            }
        }
        self.tree.users = users;
    }

    fn user(&mut self, u: &mut UserEntry) {
        let Some(obj) = u.object.clone() else {
            u.blocked = Some(Blocked {
                reason: Reason::InvalidSpec,
                message: self.has_errors(&u.id).unwrap_or_else(|| "the object cannot be read".into()),
            });
            return;
        };
        let tenant_name = obj.spec.tenant_ref.name.clone();
        let ns = u.id.namespace.clone();
        let tenant: Option<ValidatedTenant> = match self.tree.tenant(&ns, &tenant_name) {
            Some(t) => match &t.validated {
                Some(v) => Some(v.clone()),
                None => {
                    u.blocked = Some(Blocked {
                        reason: Reason::TenantInvalid,
                        message: format!("tenant {tenant_name} is invalid; fix the tenant's findings first"),
                    });
                    return;
                }
            },
            None => self.live_tenant(&ns, &tenant_name),
        };
        let Some(tenant) = tenant else {
            let elsewhere: Vec<&str> = self
                .tree
                .tenants
                .iter()
                .filter(|t| t.id.name == tenant_name && t.id.namespace != ns)
                .map(|t| t.id.namespace.as_str())
                .collect();
            let hint = if !elsewhere.is_empty() {
                format!(
                    "; a tenant {tenant_name} exists in namespace {}, but a user can only reference a tenant in its own namespace: move the user to that namespace",
                    elsewhere.join(", ")
                )
            } else if self.live.is_some() {
                "; it is neither in the tree nor in the cluster: add the tenant or fix the name".to_string()
            } else {
                "; add the tenant to the tree or fix the name (with --live, tenants already in the cluster count too)"
                    .to_string()
            };
            let message = format!("spec.tenantRef.name: no ConferencingTenant {tenant_name} in namespace {ns}{hint}");
            let pos = u.root.locate("spec.tenantRef.name");
            self.push(
                Finding::new(Code::TenantNotFound, &u.file, pos, message.clone())
                    .object(Some(&u.id))
                    .field("spec.tenantRef.name"),
            );
            u.blocked = Some(Blocked { reason: Reason::TenantNotFound, message });
            return;
        };

        u.tenant = Some(tenant.clone());
        let mut candidate = obj.clone();
        let mut first_error: Option<InvalidSpec> = None;
        for _ in 0..16 {
            match validate_user(&candidate, &tenant) {
                Ok(v) => {
                    if first_error.is_none() {
                        u.validated = Some(v);
                    }
                    break;
                }
                Err(e) => {
                    if !self.covered(&u.id, &e.field) {
                        let (code, message) = user_message(&e, &obj, &tenant);
                        let pos = u.root.locate(&e.field);
                        self.push(Finding::new(code, &u.file, pos, message).object(Some(&u.id)).field(e.field.clone()));
                    }
                    first_error.get_or_insert(e.clone());
                    if !neutralize_user(&mut candidate, &e.field) {
                        break;
                    }
                }
            }
        }
        if let Some(e) = first_error {
            u.blocked = Some(Blocked { reason: Reason::InvalidSpec, message: e.to_string() });
            u.validated = None;
            return;
        }
        self.reused_tokens(u, &obj);
    }

    fn live_tenant(&self, ns: &str, name: &str) -> Option<ValidatedTenant> {
        let t = self.live?.tenant(ns, name)?;
        validate_tenant(t, &ClusterPolicy::unrestricted()).ok()
    }

    /// With `--live`, a request token the user already used for an earlier request of the same
    /// kind: the operator would act on it again, but its e-mail would carry the same
    /// Message-ID as the earlier one, which mail systems discard as a duplicate.
    fn reused_tokens(&mut self, u: &UserEntry, obj: &ConferencingUser) {
        let Some(live) = self.live.and_then(|l| l.user(&u.id.namespace, &u.id.name)) else { return };
        let (Some(uid), Some(st)) = (live.metadata.uid.as_deref(), live.status.as_ref()) else { return };
        let r = &obj.spec.requests;
        let h = &st.handled_requests;
        for (field, token, handled, kind) in [
            ("spec.requests.resetPin", &r.reset_pin, &h.reset_pin, NotificationKind::PinReset),
            (
                "spec.requests.resetConferenceId",
                &r.reset_conference_id,
                &h.reset_conference_id,
                NotificationKind::ConferenceIdReset,
            ),
            (
                "spec.requests.sendConferencingInfo",
                &r.send_conferencing_info,
                &h.send_conferencing_info,
                NotificationKind::ConferencingInfoRequested,
            ),
        ] {
            let Some(t) = token else { continue };
            if Some(t) == handled.as_ref() {
                continue;
            }
            let id = message_id(uid, kind, &token_cause(t));
            let n = &st.notifications;
            let used = n.pending.iter().any(|p| p.message_id == id) || n.delivered.iter().any(|d| d.message_id == id);
            if used {
                let pos = u.root.locate(field);
                self.push(
                    Finding::new(
                        Code::TokenReused,
                        &u.file,
                        pos,
                        format!(
                            "{field} {t:?} was already used for an earlier request of this user; the new e-mail would repeat that request's Message-ID and be discarded as a duplicate: use a token never used before (a date and a ticket number)"
                        ),
                    )
                    .object(Some(&u.id))
                    .field(field),
                );
            }
        }
    }

    /// Static conference IDs: unique within a namespace (claims are per namespace, so two
    /// tenants of one namespace share the ID space), and, with `--live`, not held in the
    /// cluster by a user who keeps it.
    fn static_ids(&mut self, users: &mut [UserEntry]) {
        let mut first: HashMap<(String, String), usize> = HashMap::new();
        for i in 0..users.len() {
            let Some(id) = static_id(&users[i]) else { continue };
            let key = (users[i].id.namespace.clone(), id.clone());
            if let Some(&j) = first.get(&key) {
                let holder = users[j].id.name.clone();
                let at = format!("{}:{}", users[j].file, users[j].root.locate("spec.conferenceId"));
                let message = format!(
                    "spec.conferenceId {id} is also the static ID of user {holder} ({at}); conference IDs are unique within a namespace: choose another, or remove spec.conferenceId to have one allocated"
                );
                let pos = users[i].root.locate("spec.conferenceId");
                self.push(
                    Finding::new(Code::DuplicateConferenceId, &users[i].file, pos, message.clone())
                        .object(Some(&users[i].id))
                        .field("spec.conferenceId"),
                );
                if users[i].blocked.is_none() {
                    users[i].blocked = Some(Blocked { reason: Reason::ConferenceIdConflict, message });
                }
                users[i].validated = None;
                continue;
            }
            first.insert(key, i);
            if let Some(holder) = self.live_holder(users, i, &id) {
                let message = format!(
                    "spec.conferenceId {id} is held in the cluster by user {holder}, who keeps it; choose another ID, or free it on {holder} first"
                );
                let pos = users[i].root.locate("spec.conferenceId");
                self.push(
                    Finding::new(Code::ConferenceIdHeld, &users[i].file, pos, message.clone())
                        .object(Some(&users[i].id))
                        .field("spec.conferenceId"),
                );
                if users[i].blocked.is_none() {
                    users[i].blocked = Some(Blocked { reason: Reason::ConferenceIdConflict, message });
                }
                users[i].validated = None;
            }
        }
    }

    /// The live holder of `id` other than user `i`, when that holder will still hold it after
    /// the tree is applied.
    fn live_holder(&self, users: &[UserEntry], i: usize, id: &str) -> Option<String> {
        let live = self.live?;
        let ns = &users[i].id.namespace;
        let claim = live.claims.iter().find(|c| &c.namespace == ns && c.conference_id == id)?;
        if claim.holder_name == users[i].id.name {
            return None;
        }
        let in_tree = users.iter().find(|u| &u.id.namespace == ns && u.id.name == claim.holder_name);
        match in_tree {
            None => live.user(ns, &claim.holder_name).map(|_| claim.holder_name.clone()),
            Some(h) => {
                let keeps = match h.validated.as_ref().map(|v| &v.service) {
                    Some(DesiredService::Native(svc)) => match &svc.static_id {
                        Some(s) => s.as_str() == id,
                        None => {
                            let live_user = live.user(ns, &claim.holder_name);
                            let current = live_user.and_then(|u| u.status.as_ref()?.conference_id.clone());
                            let resets = h.object.as_ref().and_then(|o| o.spec.requests.reset_conference_id.clone());
                            let handled =
                                live_user.and_then(|u| u.status.as_ref()?.handled_requests.reset_conference_id.clone());
                            current.as_deref() == Some(id) && resets == handled
                        }
                    },
                    _ => false,
                };
                keeps.then(|| claim.holder_name.clone())
            }
        }
    }
}

/// The static ID a user will hold: from the spec, so that a user with another mistake is
/// still checked (its ID is reported now, not after the other fix), but only for a user the
/// spec enables (a disabled user holds no ID).
fn static_id(u: &UserEntry) -> Option<String> {
    let spec = &u.object.as_ref()?.spec;
    let enabled = spec.audio_conferencing_license && spec.provider.type_ == ProviderType::Native;
    spec.conference_id.clone().filter(|_| enabled)
}

fn tenant_message(e: &InvalidSpec) -> String {
    format!("{e} (the operator would mark the tenant and its users Ready=False)")
}

/// The finding for a user-validation error: the chosen-number errors get their own codes
/// and say which field the number belongs in.
fn user_message(e: &InvalidSpec, obj: &ConferencingUser, tenant: &ValidatedTenant) -> (Code, String) {
    // The controller refuses a static ID of another length too (validate_user); the finding
    // keeps its own code so that CI rules keyed on CO403 go on working.
    if e.field == "spec.conferenceId"
        && let Some(s) = obj.spec.conference_id.as_deref()
        && s.len() != tenant.id_length.get()
        && crate::domain::ConferenceId::parse(s).is_some()
    {
        return (Code::ConferenceIdLength, e.to_string());
    }
    let (number, wanted, other, other_field) = match e.field.as_str() {
        "spec.serviceNumber" => {
            (obj.spec.service_number.as_deref(), NumberType::Toll, NumberType::TollFree, "spec.tollFreeServiceNumber")
        }
        "spec.tollFreeServiceNumber" => {
            (obj.spec.toll_free_service_number.as_deref(), NumberType::TollFree, NumberType::Toll, "spec.serviceNumber")
        }
        _ => return (Code::InvalidUser, e.to_string()),
    };
    let Some(n) = number else { return (Code::InvalidUser, e.to_string()) };
    if tenant.number(n, other).is_some() {
        return (
            Code::ServiceNumberWrongType,
            format!(
                "{}: {n} is a {other:?} number of tenant {}, not a {wanted:?} one; move it to {other_field}",
                e.field, tenant.name
            ),
        );
    }
    let choices: Vec<&str> = tenant.numbers.iter().filter(|x| x.type_ == wanted).map(|x| x.number.as_str()).collect();
    (
        Code::ServiceNumberNotInTenant,
        format!(
            "{}: {n} is not a number of tenant {}; its {wanted:?} numbers are {} (or remove the field to get the default)",
            e.field,
            tenant.name,
            if choices.is_empty() { "none".to_string() } else { choices.join(", ") }
        ),
    )
}

/// Replaces the field an error names with a valid value, so that validation can go on and
/// report every error of the object rather than the first. `false` when the field is not
/// one we know how to stand in for.
fn neutralize_user(u: &mut ConferencingUser, field: &str) -> bool {
    let s = &mut u.spec;
    match field {
        "spec.displayName" => s.display_name = "x".into(),
        "spec.email" => s.email = "placeholder@example.invalid".into(),
        "spec.sendEmailToAddress" => s.send_email_to_address = None,
        "spec.requests.resetPin" => s.requests.reset_pin = None,
        "spec.requests.resetConferenceId" => s.requests.reset_conference_id = None,
        "spec.requests.sendConferencingInfo" => s.requests.send_conferencing_info = None,
        "spec.provider.name" => s.provider.name = Some("x".into()),
        "spec.serviceNumber" => s.service_number = None,
        "spec.tollFreeServiceNumber" => s.toll_free_service_number = None,
        "spec.conferenceId" => s.conference_id = None,
        _ => return false,
    }
    true
}

fn neutralize_tenant(t: &mut ConferencingTenant, field: &str) -> bool {
    let s = &mut t.spec;
    if let Some(rest) = field.strip_prefix("spec.serviceNumbers[")
        && let Some((i, sub)) = rest.split_once("].")
        && let Ok(i) = i.parse::<usize>()
        && let Some(n) = s.service_numbers.get_mut(i)
    {
        match sub {
            "number" => n.number = format!("+1999{i:07}"),
            "country" => n.country = None,
            _ => return false,
        }
        return true;
    }
    match field {
        "spec.pin.length" => s.pin.length = 5,
        "spec.conferenceIds.length" => s.conference_ids.length = 7,
        "spec.notifications.sendEmailFromAddress" => s.notifications.send_email_override = false,
        _ => return false,
    }
    true
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
