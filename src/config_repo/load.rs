//! Reading a config repository: every YAML document under the given files and directories,
//! as a tree that remembers the line and column of each key and value, so that a finding
//! about `spec.serviceNumbers[2].number` can point at that line.
//!
//! serde_yaml does not expose positions, so documents are built from `yaml-rust2`'s event
//! parser, which reports a marker for every event. Building the tree ourselves also lets us
//! see what a deserialiser silently drops: a key written twice in one mapping.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::kustomize;
use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl Pos {
    fn from_marker(m: Marker) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos { line: clamp(m.line()).max(1), col: clamp(m.col()).saturating_add(1) }
    }
}

impl Pos {
    /// The position `lines` further down (an inline patch's lines, within its kustomization).
    pub(crate) fn shifted(self, lines: u32) -> Self {
        Pos { line: self.line.saturating_add(lines), col: self.col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: NodeKind,
}

/// The three shapes of a YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar, resolved by the YAML 1.2 core schema; `plain` when it was written unquoted
    /// (so that a finding can suggest quoting it).
    Scalar {
        /// The resolved value.
        value: Value,
        /// Written without quotes.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order, keys as strings (as Kubernetes' YAML-to-JSON does).
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Where the key is written.
    pub key_pos: Pos,
    /// Its value.
    pub value: Node,
}

/// One segment of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// `.name`
    Key(String),
    /// `[i]`
    Index(usize),
}

/// Parses `spec.serviceNumbers[2].number` into segments.
pub fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(Segment::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                if let Ok(n) = stripped[..end].parse() {
                    out.push(Segment::Index(n));
                }
                rest = &stripped[end + 1..];
            }
        } else {
            out.push(Segment::Key(rest.to_string()));
        }
    }
    out
}

impl Node {
    /// The child under `key`, for a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry under `key`, for a mapping (the last one when the key is written twice, as
    /// Kubernetes reads it).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().rev().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The scalar string value, if this is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value: Value::String(s), .. } => Some(s),
            _ => None,
        }
    }

    /// Where the field at `path` is written: the value's position, or the key's for a key
    /// whose value is a nested block, or the nearest ancestor that exists.
    pub fn locate(&self, path: &str) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in parse_path(path) {
            let next = match (&seg, &node.kind) {
                (Segment::Key(k), NodeKind::Map(_)) => node.entry(k).map(|e| {
                    let p = match e.value.kind {
                        NodeKind::Scalar { .. } => e.value.pos,
                        _ => e.key_pos,
                    };
                    (&e.value, p)
                }),
                (Segment::Index(i), NodeKind::Seq(items)) => items.get(*i).map(|n| (n, n.pos)),
                _ => None,
            };
            match next {
                Some((n, p)) => {
                    node = n;
                    pos = p;
                }
                None => break,
            }
        }
        pos
    }

    /// The node as JSON, as the API server would receive it.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar { value, .. } => value.clone(),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                let mut m = serde_json::Map::with_capacity(entries.len());
                for e in entries {
                    m.insert(e.key.clone(), e.value.to_json());
                }
                Value::Object(m)
            }
        }
    }
}

/// A key written twice in one mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicateKey {
    /// Path of the mapping's field, e.g. `spec.requests.resetPin`.
    pub path: String,
    /// The later occurrence (the one that wins).
    pub pos: Pos,
    /// The first occurrence.
    pub first: Pos,
}

/// A plain scalar that YAML 1.1 readers (kubectl's) take as a boolean but YAML 1.2 as a string.
#[derive(Clone, Debug, PartialEq)]
pub struct Yaml11Boolean {
    /// Path of the field.
    pub path: String,
    /// Where it is written.
    pub pos: Pos,
    /// As written.
    pub text: String,
}

/// One YAML document of a file.
#[derive(Clone, Debug)]
pub struct Document {
    /// The file as given (relative paths stay relative, so annotations match the repository).
    pub file: Arc<str>,
    /// Its root node.
    pub root: Node,
    /// Keys written twice.
    pub duplicate_keys: Vec<DuplicateKey>,
    /// Scalars a YAML 1.1 reader takes as booleans.
    pub yaml11_booleans: Vec<Yaml11Boolean>,
}

/// Input that could not be read or parsed: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be walked.
    #[error("{file}: cannot list: {source}")]
    Walk {
        /// The directory.
        file: String,
        /// The cause.
        #[source]
        source: walkdir::Error,
    },
    /// A file is not YAML.
    #[error("{file}:{pos}: invalid YAML: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// Where the parser stopped.
        pos: Pos,
        /// What it expected.
        message: String,
    },
    /// A path does not exist.
    #[error("{file}: no such file or directory")]
    Missing {
        /// The path.
        file: String,
    },
    /// A file exceeds a bound that keeps a hostile file from exhausting memory or the stack
    /// (an alias bomb, or thousands of nested collections).
    #[error("{file}:{pos}: refused: {message}")]
    TooComplex {
        /// The file.
        file: String,
        /// Where the bound was crossed.
        pos: Pos,
        /// Which bound.
        message: String,
    },
    /// A Kustomization that cannot be rendered exactly as kustomize renders it (a field not
    /// rendered in-process, a path leaving the repository, a patch kustomize would fail on).
    #[error("{file}:{pos}: {field}: {message}")]
    Kustomize {
        /// The kustomization (or patch) file.
        file: String,
        /// Where the field is written.
        pos: Pos,
        /// The field, e.g. `configMapGenerator` or `patches[0].target`.
        field: String,
        /// Why, and what to do instead.
        message: String,
    },
}

/// Deepest nesting of collections accepted. Kubernetes objects are a few levels deep; the
/// bound keeps the recursive code that walks a document (to JSON, schema checks, drop) far
/// from the stack's end on input such as 20,000 nested `- `.
pub const MAX_DEPTH: usize = 64;

/// Most nodes that aliases may add to one document. A YAML anchor for shared defaults is a
/// handful of nodes; without a bound, nine nested anchors of ten aliases each ("billion
/// laughs", 700 bytes) expand to a billion nodes.
pub const MAX_ALIAS_NODES: usize = 10_000;

/// What was read: the documents, and how many files held them.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every non-empty document, in file order (files sorted by path within a directory).
    pub documents: Vec<Document>,
    /// Files read.
    pub files: usize,
}

/// Reads every YAML document under `paths`: files, directories (recursively, `*.yaml` and
/// `*.yml`, skipping hidden directories such as `.git` and `.github`), or `-` for standard
/// input.
///
/// A directory holding a kustomization file is read as kustomize builds it (see
/// [`super::kustomize`]): its files are read only as the kustomization lists them, and a
/// kustomization directory another one lists as a resource is read only through it. A
/// Kustomization anywhere else (on standard input, in a file of another name) is refused, so
/// that no Kustomization is ever read as an ignored document.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_read, true) {
                continue;
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| LoadError::Read { file: "<stdin>".into(), source })?;
            let documents = parse_str("<stdin>", &text)?;
            refuse_kustomizations(&documents)?;
            loaded.documents.extend(documents);
            loaded.files += 1;
            continue;
        }
        if !path.exists() {
            return Err(LoadError::Missing { file: path.display().to_string() });
        }
        if path.is_file() {
            let is_kustomization = path.file_name().is_some_and(|n| kustomize::FILE_NAMES.iter().any(|k| n == *k));
            match path.parent() {
                Some(dir) if is_kustomization => {
                    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                    load_kustomization(dir, &kustomize::repository_root(dir)?, &mut loaded)?;
                }
                _ => load_file(path, &mut loaded)?,
            }
            continue;
        }
        load_dir(path, &mut loaded)?;
    }
    Ok(loaded)
}

/// What a directory walk found, in walk order.
enum Found {
    File(PathBuf),
    Kustomization(PathBuf),
}

fn load_dir(path: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    let root = kustomize::repository_root(path)?;
    let mut found = Vec::new();
    let mut kustomization_dirs: Vec<PathBuf> = Vec::new();
    let walker = walkdir::WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|source| LoadError::Walk { file: path.display().to_string(), source })?;
        let p = entry.path();
        if entry.file_type().is_dir() {
            if kustomize::kustomization_file(p)?.is_some() {
                kustomization_dirs.push(p.to_path_buf());
                found.push(Found::Kustomization(p.to_path_buf()));
            }
            continue;
        }
        // A kustomization's files are what it lists, not what its directory holds (patches,
        // for one, are not objects).
        if kustomization_dirs.iter().any(|d| p.starts_with(d)) {
            continue;
        }
        let yaml = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
        if entry.file_type().is_file() && yaml {
            found.push(Found::File(p.to_path_buf()));
        }
    }
    let mut rendered = Vec::new();
    let mut bases = std::collections::BTreeSet::new();
    for f in &found {
        if let Found::Kustomization(dir) = f {
            let r = kustomize::render(dir, &root)?;
            bases.extend(r.bases.iter().cloned());
            let canonical =
                dir.canonicalize().map_err(|source| LoadError::Read { file: dir.display().to_string(), source })?;
            rendered.push((canonical, r));
        }
    }
    let mut rendered = rendered.into_iter();
    for f in found {
        match f {
            Found::File(p) => load_file(&p, loaded)?,
            Found::Kustomization(_) => {
                let Some((canonical, r)) = rendered.next() else { continue };
                // A base is read through the overlays that list it, not a second time.
                if !bases.contains(&canonical) {
                    loaded.files += r.files.len();
                    loaded.documents.extend(r.documents);
                }
            }
        }
    }
    Ok(())
}

fn load_kustomization(dir: &Path, root: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    let r = kustomize::render(dir, root)?;
    loaded.files += r.files.len();
    loaded.documents.extend(r.documents);
    Ok(())
}

/// A Kustomization outside a kustomization file cannot be rendered (its paths are relative to
/// a directory this input does not have) and must not be ignored either.
fn refuse_kustomizations(documents: &[Document]) -> Result<(), LoadError> {
    match documents.iter().find(|d| kustomize::is_kustomize_kind(&d.root)) {
        None => Ok(()),
        Some(d) => Err(LoadError::Kustomize {
            file: d.file.to_string(),
            pos: d.root.locate("apiVersion"),
            field: "apiVersion".into(),
            message: "refused: a kustomize Kustomization here is neither rendered nor ignored (only a directory's kustomization.yaml, kustomization.yml or Kustomization is rendered): pass its directory, or pipe `kustomize build DIR` output".into(),
        }),
    }
}

fn load_file(path: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    // `validate .` walks `./acme/...`; annotations must name `acme/...`, as the repository does.
    let file = path.strip_prefix(".").unwrap_or(path).display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { file: file.clone(), source })?;
    let documents = parse_str(&file, &text)?;
    refuse_kustomizations(&documents)?;
    loaded.documents.extend(documents);
    loaded.files += 1;
    Ok(())
}

/// Parses a multi-document YAML text; empty documents are dropped.
///
/// The parser is driven one event at a time rather than through `Parser::load`, which
/// recurses once per nesting level (and so overflows the stack on deep input before any
/// bound of ours could apply); the first error, or crossed bound, stops reading at once.
pub fn parse_str(file: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    let file: Arc<str> = Arc::from(file);
    let mut builder = Builder { file: file.clone(), ..Builder::default() };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| LoadError::Syntax {
            file: file.to_string(),
            pos: Pos::from_marker(*e.marker()),
            message: e.info().to_string(),
        })?;
        let end = ev == Event::StreamEnd;
        builder.on_event(ev, mark);
        match builder.error.take() {
            Some(BuildError::Syntax(pos, message)) => {
                return Err(LoadError::Syntax { file: file.to_string(), pos, message });
            }
            Some(BuildError::Limit(pos, message)) => {
                return Err(LoadError::TooComplex { file: file.to_string(), pos, message });
            }
            None => {}
        }
        if end {
            return Ok(builder.documents);
        }
    }
}

/// Why building a document stopped.
#[derive(Debug)]
enum BuildError {
    /// The YAML is well-formed but not a tree we can read (e.g. a mapping as a key).
    Syntax(Pos, String),
    /// A bound was crossed.
    Limit(Pos, String),
}

/// Nodes and height (levels of collections) of a node.
fn measure(node: &Node) -> (usize, usize) {
    match &node.kind {
        NodeKind::Scalar { .. } => (1, 0),
        NodeKind::Seq(items) => items.iter().map(measure).fold((1, 1), |(n, h), (cn, ch)| (n + cn, h.max(ch + 1))),
        NodeKind::Map(entries) => {
            entries.iter().map(|e| measure(&e.value)).fold((1, 1), |(n, h), (cn, ch)| (n + cn + 1, h.max(ch + 1)))
        }
    }
}

/// A container being built.
#[derive(Debug)]
enum Open {
    Seq { pos: Pos, anchor: usize, items: Vec<Node> },
    Map { pos: Pos, anchor: usize, entries: Vec<Entry>, key: Option<(String, Pos)> },
}

#[derive(Debug, Default)]
struct Builder {
    file: Arc<str>,
    stack: Vec<Open>,
    /// Anchored nodes, with their node count and height (see [`measure`]).
    anchors: std::collections::HashMap<usize, (Node, usize, usize)>,
    /// Nodes aliases added to the current document.
    alias_nodes: usize,
    documents: Vec<Document>,
    duplicate_keys: Vec<DuplicateKey>,
    yaml11_booleans: Vec<Yaml11Boolean>,
    error: Option<BuildError>,
}

impl Builder {
    /// The field path of the value about to be added, for findings about it.
    fn path(&self) -> String {
        let mut out = String::new();
        for open in &self.stack {
            match open {
                Open::Seq { items, .. } => out.push_str(&format!("[{}]", items.len())),
                Open::Map { key: Some((k, _)), .. } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Open::Map { key: None, .. } => {}
            }
        }
        out
    }

    fn add(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if !matches!(&node.kind, NodeKind::Scalar { value: Value::Null, .. }) {
                    self.documents.push(Document {
                        file: self.file.clone(),
                        root: node,
                        duplicate_keys: std::mem::take(&mut self.duplicate_keys),
                        yaml11_booleans: std::mem::take(&mut self.yaml11_booleans),
                    });
                }
            }
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { key: key @ None, .. }) => {
                let text = match &node.kind {
                    NodeKind::Scalar { value: Value::String(s), .. } => s.clone(),
                    NodeKind::Scalar { value, .. } => value.to_string(),
                    _ => {
                        self.error.get_or_insert(BuildError::Syntax(node.pos, "a mapping key must be a scalar".into()));
                        return;
                    }
                };
                *key = Some((text, node.pos));
            }
            Some(Open::Map { key: key @ Some(_), .. }) => {
                let Some((k, key_pos)) = key.take() else { return };
                if k == "<<" {
                    self.merge(node);
                    return;
                }
                let mut dup = None;
                if let Some(Open::Map { entries, .. }) = self.stack.last_mut() {
                    if let Some(i) = entries.iter().position(|e| e.key == k) {
                        let first = entries.remove(i);
                        dup = Some(first.key_pos);
                    }
                    entries.push(Entry { key: k.clone(), key_pos, value: node });
                }
                if let Some(first) = dup {
                    let parent = self.path();
                    let path = if parent.is_empty() { k } else { format!("{parent}.{k}") };
                    self.duplicate_keys.push(DuplicateKey { path, pos: key_pos, first });
                }
            }
        }
    }

    /// A YAML merge key (`<<: *defaults`): the merged mapping's keys apply where the mapping
    /// does not set them, as Kubernetes' YAML reader does.
    fn merge(&mut self, node: Node) {
        let sources = match node.kind {
            NodeKind::Map(entries) => vec![entries],
            NodeKind::Seq(items) => items
                .into_iter()
                .filter_map(|n| match n.kind {
                    NodeKind::Map(e) => Some(e),
                    _ => None,
                })
                .collect(),
            NodeKind::Scalar { .. } => {
                self.error.get_or_insert(BuildError::Syntax(node.pos, "a merge key (<<) must name a mapping".into()));
                return;
            }
        };
        if let Some(Open::Map { entries, .. }) = self.stack.last_mut() {
            for source in sources {
                for e in source {
                    if !entries.iter().any(|x| x.key == e.key) {
                        entries.push(e);
                    }
                }
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            let (nodes, height) = measure(node);
            self.anchors.insert(anchor, (node.clone(), nodes, height));
        }
    }

    /// Opens a collection, unless that nests deeper than [`MAX_DEPTH`].
    fn open(&mut self, pos: Pos, open: Open) {
        if self.stack.len() >= MAX_DEPTH {
            self.error = Some(BuildError::Limit(pos, format!("collections nested deeper than {MAX_DEPTH} levels")));
            return;
        }
        self.stack.push(open);
    }

    fn alias(&mut self, id: usize, pos: Pos) {
        let Some((node, nodes, height)) = self.anchors.get(&id) else {
            self.error = Some(BuildError::Syntax(pos, "alias to an unknown anchor".into()));
            return;
        };
        if self.stack.len() + height > MAX_DEPTH {
            self.error =
                Some(BuildError::Limit(pos, format!("this alias nests collections deeper than {MAX_DEPTH} levels")));
            return;
        }
        self.alias_nodes = self.alias_nodes.saturating_add(*nodes);
        if self.alias_nodes > MAX_ALIAS_NODES {
            self.error = Some(BuildError::Limit(
                pos,
                format!(
                    "aliases expand this document by more than {MAX_ALIAS_NODES} nodes (an alias bomb?); write the values out"
                ),
            ));
            return;
        }
        let mut n = node.clone();
        n.pos = pos;
        self.add(n);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::from_marker(mark);
        match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
            Event::DocumentEnd => {
                self.stack.clear();
                self.anchors.clear();
                self.alias_nodes = 0;
            }
            Event::Alias(id) => self.alias(id, pos),
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                let value = resolve(&text, plain, tag.as_ref());
                if plain && value.is_string() && is_yaml11_boolean(&text) {
                    let is_key = matches!(self.stack.last(), Some(Open::Map { key: None, .. }));
                    if !is_key {
                        let path = self.path();
                        self.yaml11_booleans.push(Yaml11Boolean { path, pos, text: text.clone() });
                    }
                }
                let node = Node { pos, kind: NodeKind::Scalar { value, plain } };
                self.remember(anchor, &node);
                self.add(node);
            }
            Event::SequenceStart(anchor, _) => self.open(pos, Open::Seq { pos, anchor, items: Vec::new() }),
            Event::MappingStart(anchor, _) => self.open(pos, Open::Map { pos, anchor, entries: Vec::new(), key: None }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq { pos, anchor, items }) => (Node { pos, kind: NodeKind::Seq(items) }, anchor),
                    Some(Open::Map { pos, anchor, entries, .. }) => {
                        (Node { pos, kind: NodeKind::Map(entries) }, anchor)
                    }
                    None => return,
                };
                self.remember(anchor, &node);
                self.add(node);
            }
        }
    }
}

/// Resolves a scalar by the YAML 1.2 core schema (what `kustomize`, Argo CD and Flux read);
/// quoted scalars and `!!str` are strings.
fn resolve(text: &str, plain: bool, tag: Option<&Tag>) -> Value {
    if let Some(t) = tag
        && t.handle == "tag:yaml.org,2002:"
    {
        match t.suffix.as_str() {
            "str" => return Value::String(text.to_string()),
            "int" => {
                if let Ok(i) = text.parse::<i64>() {
                    return Value::from(i);
                }
            }
            "bool" => match text {
                "true" => return Value::Bool(true),
                "false" => return Value::Bool(false),
                _ => {}
            },
            _ => {}
        }
    }
    if !plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let int = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = text.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if text.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && (b == b'+' || b == b'-')))
        && text.bytes().any(|b| b.is_ascii_digit())
    {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Value::from(i);
    }
    let float = match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => None,
        _ if is_core_float(text) => text.parse::<f64>().ok(),
        _ => None,
    };
    match float.and_then(serde_json::Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_string()),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// The words YAML 1.1 (and so `kubectl apply -f`, which reads YAML 1.1) takes as booleans but
/// YAML 1.2 does not: `country: NO` is Norway to one and `false` to the other.
fn is_yaml11_boolean(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Document {
        let mut d = parse_str("t.yaml", text).expect("parses");
        assert_eq!(d.len(), 1);
        d.remove(0)
    }

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let d = one("a: 1\nspec:\n  serviceNumbers:\n    - number: \"+1425\"\n    - number: x\n");
        assert_eq!(d.root.locate("a"), Pos { line: 1, col: 4 });
        assert_eq!(d.root.locate("spec.serviceNumbers[1].number"), Pos { line: 5, col: 15 });
        assert_eq!(d.root.locate("spec.serviceNumbers"), Pos { line: 3, col: 3 });
        // A path that goes past what exists falls back to the deepest node found.
        assert_eq!(d.root.locate("spec.serviceNumbers[7].city"), Pos { line: 3, col: 3 });
    }

    #[test]
    fn core_schema_scalars() {
        let d = one("a: +14255550100\nb: \"+14255550100\"\nc: 2026-11-20\nd: 6\ne: true\nf: ~\ng: 1.5\nh: NO\n");
        let j = d.root.to_json();
        assert_eq!(j["a"], Value::from(14_255_550_100_i64));
        assert_eq!(j["b"], "+14255550100");
        assert_eq!(j["c"], "2026-11-20");
        assert_eq!(j["d"], 6);
        assert_eq!(j["e"], true);
        assert!(j["f"].is_null());
        assert_eq!(j["g"], 1.5);
        assert_eq!(j["h"], "NO");
        assert_eq!(d.yaml11_booleans.len(), 1);
        assert_eq!(d.yaml11_booleans[0].path, "h");
    }

    #[test]
    fn duplicate_keys_are_recorded_and_the_last_wins() {
        let d = one("spec:\n  requests:\n    resetPin: a\n    resetPin: b\n");
        assert_eq!(d.root.to_json()["spec"]["requests"]["resetPin"], "b");
        assert_eq!(d.duplicate_keys.len(), 1);
        let k = &d.duplicate_keys[0];
        assert_eq!(k.path, "spec.requests.resetPin");
        assert_eq!((k.first.line, k.pos.line), (3, 4));
    }

    #[test]
    fn anchors_merge_keys_and_multiple_documents() {
        let docs = parse_str("t.yaml", "---\nx: &d {a: 1, b: 2}\ny:\n  <<: *d\n  b: 3\n---\n---\nz: 1\n").expect("ok");
        assert_eq!(docs.len(), 2, "the empty document is dropped");
        let j = docs[0].root.to_json();
        assert_eq!(j["y"]["a"], 1);
        assert_eq!(j["y"]["b"], 3);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_str("bad.yaml", "a: 1\nb: [1, 2\nc: 3\n").expect_err("invalid");
        let LoadError::Syntax { pos, .. } = &err else { panic!("{err}") };
        assert!(pos.line >= 2, "{err}");
        assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
    }

    /// Nine levels of ten aliases each: a billion leaves if expanded.
    pub(crate) fn billion_laughs() -> String {
        let mut text = String::from("a0: &a0 [\"lol\"]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn an_alias_bomb_is_refused_at_its_line() {
        let text = billion_laughs();
        assert!(text.len() < 800, "{}", text.len());
        let err = parse_str("bomb.yaml", &text).expect_err("refused");
        let LoadError::TooComplex { pos, message, .. } = &err else { panic!("{err}") };
        // a0..a3 expand to 1 + 10 + 100 + 1,000 + 10 x 1,111 nodes: the budget runs out in a4.
        assert_eq!(pos.line, 5, "{err}");
        assert!(message.contains("alias"), "{err}");
        assert!(err.to_string().starts_with("bomb.yaml:5:"), "{err}");
    }

    #[test]
    fn small_aliases_are_still_read() {
        let docs = parse_str("t.yaml", "d: &d {a: 1, b: [1, 2]}\nx: [*d, *d, *d]\n").expect("ok");
        assert_eq!(docs[0].root.to_json()["x"][2]["b"][1], 2);
        // The budget is per document.
        let each = format!("a: &a [{}]\nb: [{}]\n", vec!["1"; 1000].join(","), ["*a"; 9].join(","));
        let two = format!("{each}---\n{each}");
        assert_eq!(parse_str("t.yaml", &two).expect("within budget").len(), 2);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let block = "- ".repeat(20_000) + "x\n";
        let err = parse_str("deep.yaml", &block).expect_err("refused");
        assert!(matches!(err, LoadError::TooComplex { pos: Pos { line: 1, .. }, .. }), "{err}");
        assert!(err.to_string().contains("deeper than 64 levels"), "{err}");
        // yaml-rust2's scanner refuses flow collections nested past 256 levels itself.
        let flow = "[".repeat(20_000);
        assert!(parse_str("deep.yaml", &flow).is_err());
        let map = (0..20_000).map(|i| format!("{}k:\n", "  ".repeat(i))).collect::<String>();
        assert!(matches!(parse_str("deep.yaml", &map), Err(LoadError::TooComplex { .. })));
        // 64 levels are fine.
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_str("ok.yaml", &ok).is_ok());
        let over = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse_str("over.yaml", &over).is_err());
    }

    #[test]
    fn an_alias_cannot_nest_deeper_than_the_bound() {
        let inner = "[".repeat(40) + &"]".repeat(40);
        let text = format!("a: &a {inner}\nb: {}*a{}\n", "[".repeat(30), "]".repeat(30));
        let err = parse_str("t.yaml", &text).expect_err("refused");
        assert!(matches!(err, LoadError::TooComplex { pos: Pos { line: 2, .. }, .. }), "{err}");
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("spec.serviceNumbers[2].number"),
            vec![
                Segment::Key("spec".into()),
                Segment::Key("serviceNumbers".into()),
                Segment::Index(2),
                Segment::Key("number".into())
            ]
        );
    }
}
