//! JSON 6902 patches: their operations parsed from a patch document, and applied to a node
//! tree within the loader's bounds, keeping the lines of the values they replace.

use serde_json::Value;

use super::refuse;
use crate::config_repo::load::{Document, Entry, LoadError, MAX_ALIAS_NODES, MAX_DEPTH, Node, NodeKind, Pos};

/// One JSON 6902 operation.
#[derive(Debug)]
pub(super) struct Op {
    pub(super) name: String,
    pub(super) path_text: String,
    path: Vec<String>,
    from: Option<Vec<String>>,
    value: Option<Node>,
    pub(super) pos: Pos,
}

pub(super) fn parse_ops(doc: &Document, source: &str, field: &str) -> Result<Vec<Op>, LoadError> {
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
pub(super) fn leading_zero(text: &str) -> Option<String> {
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

pub(super) fn apply(root: &mut Node, op: &Op, budget: &mut usize) -> Result<(), String> {
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
    use crate::config_repo::load;

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
}
