//! Patch targets: which resources a patch applies to, selected as kustomize selects them.

use serde_json::Value;

use super::{Resource, is_empty, namespace_of, refuse};
use crate::config_repo::load::{LoadError, Node, NodeKind};

/// A patch target: each field an anchored regular expression, as kustomize's selectors are.
pub(super) struct Selector {
    group: Option<regex::Regex>,
    version: Option<regex::Regex>,
    kind: Option<regex::Regex>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
}

impl Selector {
    pub(super) fn parse(node: &Node, file: &str, field: &str) -> Result<Self, LoadError> {
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

    pub(super) fn matches(&self, r: &Resource) -> bool {
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
