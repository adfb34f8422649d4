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

use super::load::{self, Document, Entry, LoadError, MAX_ALIAS_NODES, Node, NodeKind, Pos};

mod json_patch;
mod selector;

use json_patch::{apply, leading_zero, parse_ops};
use selector::Selector;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_paths_resolve_dots_lexically() {
        assert_eq!(shown(Path::new("./overlays/prod/../../base/a.yaml")), "base/a.yaml");
        assert_eq!(shown(Path::new("../x")), "../x");
        assert_eq!(shown(Path::new(".")), ".");
    }
}
