//! Rendering kustomize Kustomizations in-process, so that `validate` and `plan` read what Argo
//! CD, Flux or `kubectl apply -k` apply rather than the raw files (issue 17, attack 5: a JSON
//! patch in `kustomization.yaml` redirected every user's e-mail and reset their PINs, and the
//! plan said "No user changes" because the Kustomization was an ignored document).
//!
//! Only what can be rendered exactly as kustomize (v5) renders it is rendered: `resources`
//! (and the deprecated `bases`), `namespace`, and JSON 6902 patches (`patchesJson6902`, and
//! `patches` whose content is a list of operations) selected by group, version, kind, name
//! and namespace. Every other field is refused, naming the file and the field, because a
//! field read as if it were absent is exactly the bypass this module closes. Documents keep
//! the file and line they were written at, so findings still point at the pull request's
//! lines; a value a patch wrote is placed at the line of the value it replaced.
//!
//! Paths never leave the repository: absolute paths and remote URLs are refused, and every
//! path is resolved through symlinks and must stay under the repository root. Files (resources
//! and patches) must also stay under their kustomization's directory, as kustomize's default
//! load restriction requires.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::load::{self, Document, Entry, LoadError, MAX_ALIAS_NODES, MAX_DEPTH, Node, NodeKind, Pos};

/// The names kustomize reads as a directory's kustomization.
pub(crate) const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The API group of kustomize's own kinds (Kustomization, Component).
pub(crate) const API_GROUP: &str = "kustomize.config.k8s.io";

/// Fields of a Kustomization that are rendered.
const RENDERED: [&str; 7] = ["apiVersion", "kind", "metadata", "resources", "bases", "namespace", "patchesJson6902"];

/// Kinds the namespace transformer leaves alone. Only the operator's kinds are read
/// afterwards, so the list matters only for which other objects a later patch selects.
const CLUSTER_SCOPED: [&str; 16] = [
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "Node",
    "CSIDriver",
    "IngressClass",
    "RuntimeClass",
];

/// Where an error about a whole file points.
const START: Pos = Pos { line: 1, col: 1 };

/// Whether a document is one of kustomize's own kinds (which no API server serves).
pub(crate) fn is_kustomize_kind(root: &Node) -> bool {
    root.get("apiVersion").and_then(Node::as_str).is_some_and(|v| v.split('/').next() == Some(API_GROUP))
}

/// The kustomization file of `dir`, if it has one.
pub(crate) fn kustomization_file(dir: &Path) -> Result<Option<PathBuf>, LoadError> {
    let mut found: Vec<PathBuf> = FILE_NAMES.iter().map(|n| dir.join(n)).filter(|p| p.is_file()).collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(refuse(
            &shown(dir),
            START,
            "kustomization",
            "more than one kustomization file in this directory (kustomize refuses this too): keep one",
        )),
    }
}

/// A path as findings and errors name it: `.` and `..` resolved lexically, no leading `./`.
pub(crate) fn shown(path: &Path) -> String {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() { ".".to_string() } else { out.display().to_string() }
}

/// The repository a path belongs to: the nearest ancestor holding `.git`, or else the path
/// itself (its directory, for a file). Nothing a kustomization reads may be outside it.
pub(crate) fn repository_root(path: &Path) -> Result<PathBuf, LoadError> {
    let canonical = canonical(path, &shown(path))?;
    let start =
        if canonical.is_dir() { canonical.clone() } else { canonical.parent().unwrap_or(&canonical).to_path_buf() };
    Ok(start.ancestors().find(|a| a.join(".git").exists()).unwrap_or(&start).to_path_buf())
}

fn canonical(path: &Path, shown: &str) -> Result<PathBuf, LoadError> {
    path.canonicalize().map_err(|source| LoadError::Read { file: shown.to_string(), source })
}

fn refuse(file: &str, pos: Pos, field: &str, message: impl Into<String>) -> LoadError {
    LoadError::Kustomize { file: file.to_string(), pos, field: field.to_string(), message: message.into() }
}

/// What rendering one kustomization directory produced.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    /// The kustomization document itself, then the resources, in kustomize's order.
    pub(crate) documents: Vec<Document>,
    /// Every file read (canonical paths), the kustomization files included.
    pub(crate) files: BTreeSet<PathBuf>,
    /// Kustomization directories rendered as resources of another (canonical paths).
    pub(crate) bases: BTreeSet<PathBuf>,
}

/// Renders the kustomization in `dir`, as `kustomize build dir` would, reading nothing
/// outside `root` (see [`repository_root`]).
pub(crate) fn render(dir: &Path, root: &Path) -> Result<Rendered, LoadError> {
    let mut r = Renderer { root: root.to_path_buf(), stack: Vec::new(), out: Rendered::default() };
    let canonical_dir = canonical(dir, &shown(dir))?;
    let (kustomization, resources) = r.directory(dir, &canonical_dir)?;
    let mut out = r.out;
    out.documents.push(kustomization);
    out.documents.extend(resources.into_iter().map(|r| r.doc));
    Ok(out)
}

/// A resource being rendered.
struct Resource {
    doc: Document,
    /// The namespace it was first read with: kustomize selects patch targets by it as well as
    /// by the current one.
    original_namespace: String,
}

impl Resource {
    fn new(doc: Document) -> Self {
        let original_namespace = namespace_of(&doc.root).unwrap_or_default().to_string();
        Resource { doc, original_namespace }
    }
}

fn namespace_of(root: &Node) -> Option<&str> {
    root.get("metadata").and_then(|m| m.get("namespace")).and_then(Node::as_str)
}

/// The identity a patch must not change (kustomize refuses, or needs `options` we refuse).
fn identity(root: &Node) -> [Option<Value>; 4] {
    let meta = root.get("metadata");
    [
        root.get("apiVersion").map(Node::to_json),
        root.get("kind").map(Node::to_json),
        meta.and_then(|m| m.get("name")).map(Node::to_json),
        meta.and_then(|m| m.get("namespace")).map(Node::to_json),
    ]
}

struct Renderer {
    root: PathBuf,
    /// Kustomization directories being rendered (canonical), to refuse a cycle.
    stack: Vec<PathBuf>,
    out: Rendered,
}

/// The sequence under `field`, or nothing; anything else is refused.
fn seq<'a>(k: &'a Node, field: &str, file: &str) -> Result<&'a [Node], LoadError> {
    match k.entry(field) {
        None => Ok(&[]),
        Some(e) => match &e.value.kind {
            NodeKind::Seq(items) => Ok(items),
            NodeKind::Scalar { value: Value::Null, .. } => Ok(&[]),
            _ => Err(refuse(file, e.key_pos, field, "must be a list")),
        },
    }
}

fn is_empty(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Scalar { value, .. } => value.is_null(),
        NodeKind::Seq(items) => items.is_empty(),
        NodeKind::Map(entries) => entries.is_empty(),
    }
}

impl Renderer {
    /// Renders one kustomization directory: its kustomization document and its resources.
    fn directory(&mut self, dir: &Path, canonical_dir: &Path) -> Result<(Document, Vec<Resource>), LoadError> {
        let Some(kfile) = kustomization_file(dir)? else {
            return Err(refuse(&shown(dir), START, "kustomization", "no kustomization file in this directory"));
        };
        let file = shown(&kfile);
        if self.stack.iter().any(|d| d == canonical_dir) {
            return Err(refuse(
                &file,
                START,
                "resources",
                "this kustomization includes itself (a cycle of directories): remove the cycle",
            ));
        }
        let canonical_file = canonical(&kfile, &file)?;
        self.inside_root(&canonical_file, &file, START, "kustomization")?;
        self.stack.push(canonical_dir.to_path_buf());
        let text = std::fs::read_to_string(&kfile).map_err(|source| LoadError::Read { file: file.clone(), source })?;
        self.out.files.insert(canonical_file);
        let mut docs = load::parse_str(&file, &text)?;
        if docs.len() != 1 || !matches!(docs[0].root.kind, NodeKind::Map(_)) {
            return Err(refuse(&file, START, "kustomization", "a kustomization file must be one YAML mapping"));
        }
        let kdoc = docs.remove(0);
        if let Some(d) = kdoc.duplicate_keys.first() {
            // kustomize refuses a key written twice; reading either one could differ from it.
            return Err(refuse(
                &file,
                d.pos,
                &d.path,
                format!("refused: written twice (first at line {}): keep one", d.first.line),
            ));
        }
        let k = &kdoc.root;
        check_header(k, &file)?;
        if let NodeKind::Map(entries) = &k.kind {
            for e in entries {
                if RENDERED.contains(&e.key.as_str()) || is_empty(&e.value) {
                    continue;
                }
                let why = match e.key.as_str() {
                    "patches" => continue,
                    "patchesStrategicMerge" => {
                        "strategic-merge patches are not rendered in-process (their list semantics depend on schemas kustomize has and this tool does not): write the change as a JSON 6902 patch, or render with `kustomize build DIR | conferencing-operator plan --to -`"
                    }
                    "configMapGenerator"
                    | "secretGenerator"
                    | "generators"
                    | "helmCharts"
                    | "helmChartInflationGenerator"
                    | "helmGlobals"
                    | "transformers"
                    | "validators"
                    | "components"
                    | "replacements"
                    | "vars"
                    | "namePrefix"
                    | "nameSuffix"
                    | "commonLabels"
                    | "labels"
                    | "commonAnnotations"
                    | "images"
                    | "replicas"
                    | "configurations"
                    | "crds"
                    | "openapi"
                    | "generatorOptions"
                    | "buildMetadata"
                    | "sortOptions"
                    | "nameReference" => {
                        "this kustomize field is not rendered in-process, and reading the tree without it would plan something other than what is applied: render with `kustomize build DIR | conferencing-operator plan --to -`, or remove the field"
                    }
                    _ => {
                        "not a Kustomization field (kustomize refuses unknown fields too): remove it or fix its spelling"
                    }
                };
                return Err(refuse(&file, e.key_pos, &e.key, format!("refused: {why}")));
            }
        }

        let mut resources = Vec::new();
        // kustomize appends `bases` to `resources`.
        let listed: Vec<(&str, &Node)> = seq(k, "resources", &file)?
            .iter()
            .map(|n| ("resources", n))
            .chain(seq(k, "bases", &file)?.iter().map(|n| ("bases", n)))
            .collect();
        for (field, entry) in listed {
            self.resource(dir, canonical_dir, &file, field, entry, &mut resources)?;
        }
        // kustomize's order of built-in transformers: patches, then namespace, then
        // patchesJson6902 (which therefore selects by the new namespace as well).
        for (i, p) in seq(k, "patches", &file)?.iter().enumerate() {
            self.patch(dir, &file, &format!("patches[{i}]"), p, false, &mut resources)?;
        }
        if let Some(e) = k.entry("namespace")
            && !is_empty(&e.value)
        {
            let Some(ns) = e.value.as_str() else {
                return Err(refuse(&file, e.value.pos, "namespace", "must be a string"));
            };
            for r in &mut resources {
                set_namespace(&mut r.doc.root, ns);
            }
        }
        for (i, p) in seq(k, "patchesJson6902", &file)?.iter().enumerate() {
            self.patch(dir, &file, &format!("patchesJson6902[{i}]"), p, true, &mut resources)?;
        }
        self.stack.pop();
        Ok((kdoc, resources))
    }

    fn inside_root(&self, canonical: &Path, file: &str, pos: Pos, field: &str) -> Result<(), LoadError> {
        if canonical.starts_with(&self.root) {
            return Ok(());
        }
        Err(refuse(
            file,
            pos,
            field,
            format!(
                "refused: resolves to {} (through `..` or a symlink), outside the repository {}; a config repository's kustomizations read only its own files",
                canonical.display(),
                self.root.display()
            ),
        ))
    }

    /// Resolves a path written in a kustomization: local, relative, inside the repository.
    fn resolve(&self, dir: &Path, file: &str, field: &str, entry: &Node) -> Result<(PathBuf, PathBuf), LoadError> {
        let Some(text) = entry.as_str() else {
            return Err(refuse(file, entry.pos, field, "must be a path (a string)"));
        };
        if text.contains("://") || text.starts_with("git@") || text.contains("?ref=") {
            return Err(refuse(
                file,
                entry.pos,
                field,
                format!(
                    "refused: {text} is a remote resource; validate and plan never fetch (their result would depend on what a server returns that day): vendor it into the repository"
                ),
            ));
        }
        let path = Path::new(text);
        if path.is_absolute() {
            return Err(refuse(
                file,
                entry.pos,
                field,
                format!("refused: {text} is an absolute path; write it relative to the kustomization"),
            ));
        }
        let joined = dir.join(path);
        let canonical = joined.canonicalize().map_err(|e| {
            refuse(
                file,
                entry.pos,
                field,
                format!("{text}: {e} (kustomize would try it as a remote URL, which validate and plan never fetch)"),
            )
        })?;
        self.inside_root(&canonical, file, entry.pos, field)?;
        Ok((joined, canonical))
    }

    /// Reads a file that must be under the kustomization's directory (kustomize's default
    /// load restriction).
    fn read_local_file(
        &mut self,
        kdir: &Path,
        file: &str,
        field: &str,
        entry: &Node,
    ) -> Result<(String, String), LoadError> {
        let kcanonical = canonical(kdir, file)?;
        let (joined, resolved) = self.resolve(kdir, file, field, entry)?;
        if !resolved.starts_with(&kcanonical) {
            return Err(refuse(
                file,
                entry.pos,
                field,
                "refused: a file outside the kustomization's directory (kustomize's load restriction refuses it too): move it under the directory, or give that directory its own kustomization",
            ));
        }
        if resolved.is_dir() {
            return Err(refuse(file, entry.pos, field, "a directory, where a file is expected"));
        }
        let name = shown(&joined);
        let text = std::fs::read_to_string(&joined).map_err(|source| LoadError::Read { file: name.clone(), source })?;
        self.out.files.insert(resolved);
        Ok((name, text))
    }

    fn resource(
        &mut self,
        kdir: &Path,
        kcanonical: &Path,
        file: &str,
        field: &str,
        entry: &Node,
        out: &mut Vec<Resource>,
    ) -> Result<(), LoadError> {
        let (joined, canonical) = self.resolve(kdir, file, field, entry)?;
        if canonical.is_dir() {
            if kustomization_file(&joined)?.is_none() {
                return Err(refuse(
                    file,
                    entry.pos,
                    field,
                    "a directory listed as a resource must hold a kustomization file (kustomize refuses it otherwise): add one, or list the directory's files",
                ));
            }
            self.out.bases.insert(canonical.clone());
            let (_, resources) = self.directory(&joined, &canonical)?;
            out.extend(resources);
            return Ok(());
        }
        if !canonical.starts_with(kcanonical) {
            return Err(refuse(
                file,
                entry.pos,
                field,
                "refused: a file outside the kustomization's directory (kustomize's load restriction refuses it too): move it under the directory, or give that directory its own kustomization",
            ));
        }
        let name = shown(&joined);
        let text = std::fs::read_to_string(&joined).map_err(|source| LoadError::Read { file: name.clone(), source })?;
        self.out.files.insert(canonical);
        for doc in load::parse_str(&name, &text)? {
            if is_kustomize_kind(&doc.root) {
                return Err(refuse(
                    &name,
                    doc.root.pos,
                    "apiVersion",
                    "refused: a kustomize kind listed as a resource; list its directory instead",
                ));
            }
            let kind = doc.root.get("kind").and_then(Node::as_str);
            // kustomize expands a List into its items, which patches then select one by one.
            if kind == Some("List")
                && let Some(Node { kind: NodeKind::Seq(items), .. }) = doc.root.get("items")
            {
                for item in items {
                    out.push(Resource::new(Document {
                        file: doc.file.clone(),
                        root: item.clone(),
                        duplicate_keys: Vec::new(),
                        yaml11_booleans: Vec::new(),
                    }));
                }
                continue;
            }
            out.push(Resource::new(doc));
        }
        Ok(())
    }

    /// One entry of `patches` (`json6902_only` false) or `patchesJson6902` (true).
    fn patch(
        &mut self,
        kdir: &Path,
        file: &str,
        field: &str,
        p: &Node,
        json6902_only: bool,
        resources: &mut [Resource],
    ) -> Result<(), LoadError> {
        let NodeKind::Map(entries) = &p.kind else {
            return Err(refuse(file, p.pos, field, "must be a mapping with path or patch, and target"));
        };
        for e in entries {
            match e.key.as_str() {
                "path" | "patch" | "target" => {}
                "options" if is_empty(&e.value) => {}
                "options" => {
                    return Err(refuse(
                        file,
                        e.key_pos,
                        &format!("{field}.options"),
                        "refused: patch options (allowNameChange, allowKindChange) are not rendered: a patch may not change what it patches",
                    ));
                }
                other => {
                    return Err(refuse(
                        file,
                        e.key_pos,
                        &format!("{field}.{other}"),
                        "not a field of a patch: remove it",
                    ));
                }
            }
        }
        // Lines of an inline patch are counted from the kustomization's `patch:` line.
        let (source, text, offset) = match (p.entry("path"), p.entry("patch")) {
            (Some(path), None) => {
                let (source, text) = self.read_local_file(kdir, file, &format!("{field}.path"), &path.value)?;
                (source, text, 0)
            }
            (None, Some(inline)) => match inline.value.as_str() {
                // The scalar's position is its text's first line (for a block scalar too).
                Some(t) => (file.to_string(), t.to_string(), inline.value.pos.line.saturating_sub(1)),
                None => return Err(refuse(file, inline.value.pos, &format!("{field}.patch"), "must be a string")),
            },
            _ => {
                return Err(refuse(
                    file,
                    p.pos,
                    field,
                    "needs exactly one of path and patch (kustomize refuses both or neither)",
                ));
            }
        };
        let Some(target) = p.entry("target") else {
            let why = if json6902_only {
                "needs a target (kustomize refuses a JSON 6902 patch without one)"
            } else {
                "refused: a patch without a target is a strategic-merge patch, which is not rendered in-process (its list semantics depend on schemas kustomize has and this tool does not): write it as a JSON 6902 patch with a target, or render with `kustomize build DIR | conferencing-operator plan --to -`"
            };
            return Err(refuse(file, p.pos, field, why));
        };
        let selector = Selector::parse(&target.value, file, &format!("{field}.target"))?;
        let mut docs = load::parse_str(&source, &text).map_err(|e| shift(e, offset))?;
        for d in &mut docs {
            relocate_lines(&mut d.root, offset);
        }
        if let Some(d) = docs.iter().flat_map(|d| &d.duplicate_keys).next() {
            return Err(refuse(
                &source,
                d.pos.shifted(offset),
                field,
                format!("refused: {} is written twice in the patch: keep one", d.path),
            ));
        }
        if let Some(n) = leading_zero(&text) {
            return Err(refuse(
                file,
                p.pos,
                field,
                format!(
                    "refused: {n} is octal to the YAML 1.1 reader kustomize converts JSON patches with, and decimal here: quote it, or write it without the leading zero"
                ),
            ));
        }
        let ops = match docs.as_slice() {
            [d] if matches!(d.root.kind, NodeKind::Seq(_)) => parse_ops(d, &source, field)?,
            [] => Vec::new(),
            _ if json6902_only => {
                return Err(refuse(file, p.pos, field, "a JSON 6902 patch must be one list of operations"));
            }
            _ => {
                return Err(refuse(
                    file,
                    p.pos,
                    field,
                    "refused: a strategic-merge patch, which is not rendered in-process (its list semantics depend on schemas kustomize has and this tool does not): write it as a JSON 6902 patch, or render with `kustomize build DIR | conferencing-operator plan --to -`",
                ));
            }
        };
        for r in resources.iter_mut() {
            if !selector.matches(r) {
                continue;
            }
            let before = identity(&r.doc.root);
            let mut budget = MAX_ALIAS_NODES;
            for op in &ops {
                apply(&mut r.doc.root, op, &mut budget).map_err(|why| {
                    let target =
                        r.doc.root.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or("?");
                    refuse(
                        &source,
                        op.pos,
                        field,
                        format!(
                            "{} {} on {target} ({}): {why}; kustomize fails on this too",
                            op.name, op.path_text, r.doc.file
                        ),
                    )
                })?;
            }
            if identity(&r.doc.root) != before {
                return Err(refuse(
                    file,
                    p.pos,
                    field,
                    format!(
                        "refused: the patch changes the apiVersion, kind, name or namespace of {} ({}): patch fields of the object, not what identifies it",
                        r.doc.root.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or("?"),
                        r.doc.file
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn check_header(k: &Node, file: &str) -> Result<(), LoadError> {
    if let Some(e) = k.entry("apiVersion")
        && e.value.as_str() != Some("kustomize.config.k8s.io/v1beta1")
    {
        return Err(refuse(
            file,
            e.value.pos,
            "apiVersion",
            "refused: only kustomize.config.k8s.io/v1beta1 Kustomizations are rendered",
        ));
    }
    if let Some(e) = k.entry("kind") {
        match e.value.as_str() {
            Some("Kustomization") => {}
            Some("Component") => {
                return Err(refuse(
                    file,
                    e.value.pos,
                    "kind",
                    "refused: kustomize Components are not rendered in-process: render with `kustomize build DIR | conferencing-operator plan --to -`",
                ));
            }
            _ => {
                return Err(refuse(file, e.value.pos, "kind", "refused: a kustomization file must be a Kustomization"));
            }
        }
    }
    Ok(())
}

/// kustomize's namespace transformer: every namespaced object gets the namespace, replacing
/// the one it had.
fn set_namespace(root: &mut Node, ns: &str) {
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or_default();
    if CLUSTER_SCOPED.contains(&kind) {
        return;
    }
    let NodeKind::Map(entries) = &mut root.kind else { return };
    let Some(meta) = entries.iter_mut().rev().find(|e| e.key == "metadata") else { return };
    let meta_pos = meta.value.pos;
    let NodeKind::Map(fields) = &mut meta.value.kind else { return };
    let value = |pos| Node { pos, kind: NodeKind::Scalar { value: Value::String(ns.to_string()), plain: false } };
    match fields.iter_mut().rev().find(|f| f.key == "namespace") {
        Some(f) => f.value = value(f.value.pos),
        None => fields.push(Entry { key: "namespace".into(), key_pos: meta_pos, value: value(meta_pos) }),
    }
}

/// Moves a parse error of an inline patch to the kustomization's lines.
fn shift(e: LoadError, offset: u32) -> LoadError {
    match e {
        LoadError::Syntax { file, pos, message } => LoadError::Syntax { file, pos: pos.shifted(offset), message },
        LoadError::TooComplex { file, pos, message } => {
            LoadError::TooComplex { file, pos: pos.shifted(offset), message }
        }
        e => e,
    }
}

fn relocate_lines(node: &mut Node, offset: u32) {
    node.pos = node.pos.shifted(offset);
    match &mut node.kind {
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| relocate_lines(n, offset)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|e| {
            e.key_pos = e.key_pos.shifted(offset);
            relocate_lines(&mut e.value, offset);
        }),
    }
}

/// A patch target: each field an anchored regular expression, as kustomize's selectors are.
struct Selector {
    group: Option<regex::Regex>,
    version: Option<regex::Regex>,
    kind: Option<regex::Regex>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
}

impl Selector {
    fn parse(node: &Node, file: &str, field: &str) -> Result<Self, LoadError> {
        let NodeKind::Map(entries) = &node.kind else {
            return Err(refuse(file, node.pos, field, "must be a mapping (group, version, kind, name, namespace)"));
        };
        let mut s = Selector { group: None, version: None, kind: None, name: None, namespace: None };
        for e in entries {
            let slot = match e.key.as_str() {
                "group" => &mut s.group,
                "version" => &mut s.version,
                "kind" => &mut s.kind,
                "name" => &mut s.name,
                "namespace" => &mut s.namespace,
                "labelSelector" | "annotationSelector" if is_empty(&e.value) => continue,
                "labelSelector" | "annotationSelector" => {
                    return Err(refuse(
                        file,
                        e.key_pos,
                        &format!("{field}.{}", e.key),
                        "refused: label and annotation selectors are not rendered in-process: select by kind, name and namespace",
                    ));
                }
                other => {
                    return Err(refuse(
                        file,
                        e.key_pos,
                        &format!("{field}.{other}"),
                        "not a field of a patch target: remove it",
                    ));
                }
            };
            let text = match &e.value.kind {
                NodeKind::Scalar { value: Value::String(t), .. } => t.clone(),
                NodeKind::Scalar { value: Value::Null, .. } => continue,
                _ => return Err(refuse(file, e.value.pos, &format!("{field}.{}", e.key), "must be a string")),
            };
            if text.is_empty() {
                continue;
            }
            let re = regex::Regex::new(&format!("^(?:{text})$")).map_err(|err| {
                refuse(file, e.value.pos, &format!("{field}.{}", e.key), format!("not a regular expression: {err}"))
            })?;
            *slot = Some(re);
        }
        Ok(s)
    }

    fn matches(&self, r: &Resource) -> bool {
        let root = &r.doc.root;
        let api_version = root.get("apiVersion").and_then(Node::as_str).unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or_default();
        let name = root.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str).unwrap_or_default();
        // kustomize compares the effective namespace, "default" for none.
        let effective = |ns: &str| if ns.is_empty() { "default".to_string() } else { ns.to_string() };
        let current = effective(namespace_of(root).unwrap_or_default());
        let original = effective(&r.original_namespace);
        let is = |re: &Option<regex::Regex>, v: &str| re.as_ref().is_none_or(|re| re.is_match(v));
        is(&self.group, group)
            && is(&self.version, version)
            && is(&self.kind, kind)
            && is(&self.name, name)
            && (is(&self.namespace, &original) || is(&self.namespace, &current))
    }
}

/// One JSON 6902 operation.
#[derive(Debug)]
struct Op {
    name: String,
    path_text: String,
    path: Vec<String>,
    from: Option<Vec<String>>,
    value: Option<Node>,
    pos: Pos,
}

fn parse_ops(doc: &Document, source: &str, field: &str) -> Result<Vec<Op>, LoadError> {
    let NodeKind::Seq(items) = &doc.root.kind else { return Ok(Vec::new()) };
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        let err = |why: String| refuse(source, item.pos, field, why);
        let name = item.get("op").and_then(Node::as_str).ok_or_else(|| err("an operation needs op".into()))?;
        if !matches!(name, "add" | "remove" | "replace" | "move" | "copy" | "test") {
            return Err(err(format!("op {name} is not a JSON 6902 operation")));
        }
        let path_text = item.get("path").and_then(Node::as_str).ok_or_else(|| err(format!("{name} needs a path")))?;
        let path = pointer(path_text).map_err(&err)?;
        if path.is_empty() {
            return Err(err("refused: an operation on the whole object (path \"\"); patch its fields".into()));
        }
        let from = match name {
            "move" | "copy" => {
                let f = item.get("from").and_then(Node::as_str).ok_or_else(|| err(format!("{name} needs from")))?;
                Some(pointer(f).map_err(&err)?)
            }
            _ => None,
        };
        let value = match name {
            "add" | "replace" | "test" => {
                let v = item.get("value").ok_or_else(|| err(format!("{name} needs a value")))?;
                if let Some(text) = ambiguous_scalar(v) {
                    return Err(err(format!(
                        "refused: {text:?} is read differently by the YAML 1.1 reader kustomize converts JSON patches with (yes/no/on/off are booleans, 0123 is octal): quote it, or write the value plainly (true, 83)"
                    )));
                }
                Some(v.clone())
            }
            _ => None,
        };
        ops.push(Op { name: name.to_string(), path_text: path_text.to_string(), path, from, value, pos: item.pos });
    }
    Ok(ops)
}

/// A plain scalar under `node` that YAML 1.1 (sigs.k8s.io/yaml, with which kustomize reads
/// JSON patches) and YAML 1.2 (this loader) resolve differently.
fn ambiguous_scalar(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::Scalar { value: Value::String(s), plain: true } => {
            let t = s.trim_start_matches(['+', '-']);
            let yaml11_bool = matches!(
                s.as_str(),
                "y" | "Y"
                    | "yes"
                    | "Yes"
                    | "YES"
                    | "n"
                    | "N"
                    | "no"
                    | "No"
                    | "NO"
                    | "on"
                    | "On"
                    | "ON"
                    | "off"
                    | "Off"
                    | "OFF"
            );
            let digits = t.trim_start_matches("0x").trim_start_matches("0o").trim_start_matches("0b");
            let go_int = (t.starts_with("0b") || t.contains('_'))
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
            (yaml11_bool || go_int).then(|| s.clone())
        }
        NodeKind::Scalar { .. } => None,
        NodeKind::Seq(items) => items.iter().find_map(ambiguous_scalar),
        NodeKind::Map(entries) => entries.iter().find_map(|e| ambiguous_scalar(&e.value)),
    }
}

/// A plain integer written with a leading zero (`0123`, `-007`): 123 to this loader, octal
/// (83) to YAML 1.1. Resolved scalars keep no source text, so the patch's text is scanned; a
/// quoted `"0123"` does not match (the quote precedes it).
fn leading_zero(text: &str) -> Option<String> {
    static RE: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?m)(?:^|[\s,\[{])([-+]?0[0-9_]+)\s*(?:$|[,\]}#])").ok());
    RE.as_ref()?.captures(text).and_then(|c| c.get(1)).map(|m| m.as_str().to_string())
}

/// An RFC 6901 JSON pointer, as tokens.
fn pointer(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Err(format!("path {text:?} is not a JSON pointer (it starts with /)"));
    };
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("path {text:?}: ~ must be followed by 0 or 1")),
                }
            }
            Ok(out)
        })
        .collect()
}

/// Nodes and height of a node (a mapping's keys counted), as the loader measures aliases.
fn measure(node: &Node) -> (usize, usize) {
    match &node.kind {
        NodeKind::Scalar { .. } => (1, 0),
        NodeKind::Seq(items) => items.iter().map(measure).fold((1, 1), |(n, h), (cn, ch)| (n + cn, h.max(ch + 1))),
        NodeKind::Map(entries) => {
            entries.iter().map(|e| measure(&e.value)).fold((1, 1), |(n, h), (cn, ch)| (n + cn + 1, h.max(ch + 1)))
        }
    }
}

/// Places a value a patch wrote at `pos`: the line of what it replaced, in the object's file.
fn relocate(node: &mut Node, pos: Pos) {
    node.pos = pos;
    match &mut node.kind {
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| relocate(n, pos)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|e| {
            e.key_pos = pos;
            relocate(&mut e.value, pos);
        }),
    }
}

/// An array index: decimal without a leading zero. Negative indices, which the JSON patch
/// library kustomize uses accepts as counting from the end, are refused rather than guessed.
fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid =
        !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    if !valid {
        return Err(if token.starts_with('-') {
            format!("index {token}: negative indices are refused")
        } else {
            format!("index {token} is not an array index")
        });
    }
    let i: usize = token.parse().map_err(|_| format!("index {token} is too large"))?;
    let max = if allow_end { len } else { len.saturating_sub(1) };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("index {i} is out of range (the list has {len} items)"));
    }
    Ok(i)
}

fn get<'a>(node: &'a Node, path: &[String]) -> Result<&'a Node, String> {
    let mut n = node;
    for t in path {
        n = match &n.kind {
            NodeKind::Map(_) => n.get(t).ok_or_else(|| format!("no field {t:?}"))?,
            NodeKind::Seq(items) => &items[index(t, items.len(), false)?],
            NodeKind::Scalar { .. } => return Err(format!("{t:?} is below a scalar")),
        };
    }
    Ok(n)
}

fn get_mut<'a>(node: &'a mut Node, path: &[String]) -> Result<&'a mut Node, String> {
    let mut n = node;
    for t in path {
        n = match &mut n.kind {
            NodeKind::Map(entries) => {
                &mut entries.iter_mut().rev().find(|e| &e.key == t).ok_or_else(|| format!("no field {t:?}"))?.value
            }
            NodeKind::Seq(items) => {
                let i = index(t, items.len(), false)?;
                &mut items[i]
            }
            NodeKind::Scalar { .. } => return Err(format!("{t:?} is below a scalar")),
        };
    }
    Ok(n)
}

fn split(path: &[String]) -> (&[String], &str) {
    match path.split_last() {
        Some((last, parent)) => (parent, last.as_str()),
        None => (&[], ""),
    }
}

fn add(root: &mut Node, path: &[String], mut value: Node) -> Result<(), String> {
    let (parent, last) = split(path);
    if parent.len() + 1 + measure(&value).1 > MAX_DEPTH {
        return Err(format!("the value would nest collections deeper than {MAX_DEPTH} levels"));
    }
    let p = get_mut(root, parent)?;
    let pos = p.pos;
    match &mut p.kind {
        NodeKind::Map(entries) => {
            // Kubernetes reads the last of a key written twice; a patch sets that one and
            // removes the others, so that the object holds what the patch says.
            let mut found = None;
            for (i, e) in entries.iter().enumerate() {
                if e.key == last {
                    found = Some(i);
                }
            }
            match found {
                Some(i) => {
                    relocate(&mut value, entries[i].value.pos);
                    entries[i].value = value;
                    let keep = i;
                    let mut j = 0;
                    entries.retain(|e| {
                        let r = e.key != last || j == keep;
                        j += 1;
                        r
                    });
                }
                None => {
                    relocate(&mut value, pos);
                    entries.push(Entry { key: last.to_string(), key_pos: pos, value });
                }
            }
        }
        NodeKind::Seq(items) => {
            let i = index(last, items.len(), true)?;
            relocate(&mut value, items.get(i).map_or(pos, |n| n.pos));
            items.insert(i, value);
        }
        NodeKind::Scalar { .. } => return Err(format!("{last:?} is below a scalar")),
    }
    Ok(())
}

fn remove(root: &mut Node, path: &[String]) -> Result<Node, String> {
    let (parent, last) = split(path);
    let p = get_mut(root, parent)?;
    match &mut p.kind {
        NodeKind::Map(entries) => {
            let i = entries.iter().rposition(|e| e.key == last).ok_or_else(|| format!("no field {last:?}"))?;
            let removed = entries.remove(i);
            entries.retain(|e| e.key != last);
            Ok(removed.value)
        }
        NodeKind::Seq(items) => {
            let i = index(last, items.len(), false)?;
            Ok(items.remove(i))
        }
        NodeKind::Scalar { .. } => Err(format!("{last:?} is below a scalar")),
    }
}

fn apply(root: &mut Node, op: &Op, budget: &mut usize) -> Result<(), String> {
    let value = || op.value.clone().ok_or_else(|| "no value".to_string());
    match op.name.as_str() {
        "add" => add(root, &op.path, value()?),
        "replace" => {
            let target = get_mut(root, &op.path)?;
            let mut v = value()?;
            let (parent, _) = split(&op.path);
            if parent.len() + 1 + measure(&v).1 > MAX_DEPTH {
                return Err(format!("the value would nest collections deeper than {MAX_DEPTH} levels"));
            }
            relocate(&mut v, target.pos);
            *target = v;
            Ok(())
        }
        "remove" => remove(root, &op.path).map(|_| ()),
        "test" => {
            let have = get(root, &op.path)?.to_json();
            if have == value()?.to_json() { Ok(()) } else { Err("the test failed".into()) }
        }
        "move" | "copy" => {
            let from = op.from.as_deref().unwrap_or_default();
            if op.name == "move" && op.path.starts_with(from) && op.path.len() > from.len() {
                return Err("cannot move a value into itself".into());
            }
            let v = if op.name == "move" {
                remove(root, from)?
            } else {
                let v = get(root, from)?.clone();
                // Copies are how a patch could double an object again and again.
                let (nodes, _) = measure(&v);
                *budget = budget
                    .checked_sub(nodes)
                    .ok_or_else(|| format!("copies would add more than {MAX_ALIAS_NODES} nodes to the object"))?;
                v
            };
            add(root, &op.path, v)
        }
        other => Err(format!("op {other} is not a JSON 6902 operation")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        load::parse_str("t.yaml", text).expect("yaml").remove(0).root
    }

    fn ops(text: &str) -> Vec<Op> {
        let d = load::parse_str("p.yaml", text).expect("yaml").remove(0);
        parse_ops(&d, "p.yaml", "patches[0]").expect("ops")
    }

    #[test]
    fn json_pointers_unescape_and_reject_bad_escapes() {
        assert_eq!(pointer("/a~1b/c~0d").expect("ok"), ["a/b", "c~d"]);
        assert!(pointer("/a~2").is_err());
        assert!(pointer("a").is_err());
        assert!(pointer("").expect("root").is_empty());
    }

    #[test]
    fn indices_are_canonical_and_never_negative() {
        assert_eq!(index("-", 3, true), Ok(3));
        assert!(index("-1", 3, false).expect_err("negative").contains("negative"));
        assert!(index("01", 3, false).is_err());
        assert!(index("3", 3, false).is_err());
        assert_eq!(index("3", 3, true), Ok(3));
    }

    #[test]
    fn operations_apply_as_rfc_6902_says() {
        let mut root = doc("spec:\n  email: a@x.example\n  list: [1, 2]\n");
        let mut budget = MAX_ALIAS_NODES;
        let patch = "- {op: replace, path: /spec/email, value: b@x.example}\n- {op: add, path: /spec/list/-, value: 3}\n- {op: add, path: /spec/list/0, value: 0}\n- {op: remove, path: /spec/list/1}\n- {op: copy, from: /spec/email, path: /spec/cc}\n- {op: move, from: /spec/cc, path: /spec/bcc}\n- {op: test, path: /spec/bcc, value: b@x.example}\n";
        for op in ops(patch) {
            apply(&mut root, &op, &mut budget).expect("applies");
        }
        assert_eq!(
            root.to_json(),
            serde_json::json!({"spec": {"email": "b@x.example", "list": [0, 2, 3], "bcc": "b@x.example"}})
        );
        // The replaced value sits where the old one was written.
        assert_eq!(root.locate("spec.email").line, 2);
        for bad in [
            "- {op: replace, path: /spec/nosuch, value: 1}",
            "- {op: test, path: /spec/email, value: c}",
            "- {op: remove, path: /nosuch}",
        ] {
            assert!(apply(&mut root, &ops(bad)[0], &mut budget).is_err(), "{bad}");
        }
    }

    #[test]
    fn copies_cannot_double_an_object_without_bound() {
        let mut root = doc("a: [1, 2, 3, 4, 5, 6, 7, 8]\n");
        let mut budget = MAX_ALIAS_NODES;
        let copy = ops("- {op: copy, from: /a, path: /a/-}").pop().expect("op");
        let err = (0..64).find_map(|_| apply(&mut root, &copy, &mut budget).err()).expect("the budget runs out");
        assert!(err.contains("more than 10000 nodes"), "{err}");
    }

    #[test]
    fn values_yaml_1_1_reads_differently_are_found() {
        assert_eq!(leading_zero("- op: add\n  value: 0123\n").as_deref(), Some("0123"));
        assert_eq!(leading_zero("- op: add\n  value: \"0123\"\n  path: /a/0\n"), None);
        assert_eq!(leading_zero("value: 2026-12-01\n"), None);
        assert_eq!(ambiguous_scalar(&doc("v: off\n")).as_deref(), Some("off"));
        assert_eq!(ambiguous_scalar(&doc("v: 1_000\n")).as_deref(), Some("1_000"));
        assert_eq!(ambiguous_scalar(&doc("v: \"off\"\n")), None);
        assert_eq!(ambiguous_scalar(&doc("v: attacker@evil.example\n")), None);
    }

    #[test]
    fn shown_paths_resolve_dots_lexically() {
        assert_eq!(shown(Path::new("./overlays/prod/../../base/a.yaml")), "base/a.yaml");
        assert_eq!(shown(Path::new("../x")), "../x");
        assert_eq!(shown(Path::new(".")), ".");
    }
}
