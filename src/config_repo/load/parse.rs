//! YAML text to document trees, one parser event at a time, within bounds on nesting and on
//! what aliases may add.

use std::sync::Arc;

use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{Document, DuplicateKey, Entry, LoadError, Node, NodeKind, Pos, Yaml11Boolean};

impl Pos {
    fn from_marker(m: Marker) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos { line: clamp(m.line()).max(1), col: clamp(m.col()).saturating_add(1) }
    }
}

/// Deepest nesting of collections accepted. Kubernetes objects are a few levels deep; the
/// bound keeps the recursive code that walks a document (to JSON, schema checks, drop) far
/// from the stack's end on input such as 20,000 nested `- `.
pub const MAX_DEPTH: usize = 64;

/// Most nodes that aliases may add to one document. A YAML anchor for shared defaults is a
/// handful of nodes; without a bound, nine nested anchors of ten aliases each ("billion
/// laughs", 700 bytes) expand to a billion nodes.
pub const MAX_ALIAS_NODES: usize = 10_000;

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
