//! The document tree: nodes that remember the line and column of each key and value, and
//! paths into them.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A 1-based line and column in a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
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
