//! Who asked for a request: read from the object's `managedFields`, which the API server keeps
//! per field manager. Only the entries that own a field under `spec.requests` matter, so the
//! caches keep those (trimmed to that subtree) and drop the rest, which are most of an
//! object's size.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, ObjectMeta};
use serde_json::Value;

use super::{RequestActor, RequestKind};
use crate::domain::escape_for_terminal;

/// Annotations and labels GitOps tools put on the objects they manage, with the tool, in the
/// order they are looked for. Each is looked for as
/// both, since a tool's tracking method is configurable; whichever it is, the sign names it.
pub const GITOPS_MARKERS: [(&str, &str); 7] = [
    // Argo CD's annotation tracking (its default from 3.0): `<app>:<group>/<kind>:<ns>/<name>`.
    ("argocd.argoproj.io/tracking-id", "Argo CD"),
    // Argo CD's label tracking, its default before 3.0 (`application.instanceLabelKey`):
    // the Application's name in the standard instance label. Helm sets that label too, and
    // a Helm release reverts a hand edit on its next upgrade just the same.
    ("app.kubernetes.io/instance", "Argo CD"),
    // Label tracking with the instance label key Argo CD's documentation suggests instead.
    ("argocd.argoproj.io/instance", "Argo CD"),
    // Flux labels every object a Kustomization or a HelmRelease applies with its owner.
    ("kustomize.toolkit.fluxcd.io/name", "Flux"),
    ("kustomize.toolkit.fluxcd.io/namespace", "Flux"),
    ("helm.toolkit.fluxcd.io/name", "Flux"),
    ("helm.toolkit.fluxcd.io/namespace", "Flux"),
];

/// The longest manager name kept (the API server's own limit is 128).
const MAX_MANAGER: usize = 128;
/// The longest `gitops` value kept.
const MAX_GITOPS: usize = 400;

fn requests_subtree(entry: &ManagedFieldsEntry) -> Option<&Value> {
    entry.fields_v1.as_ref()?.0.get("f:spec")?.get("f:requests")
}

/// Keeps only the `managedFields` entries that own a field under `spec.requests`, with
/// `fieldsV1` trimmed to that subtree: what [`asked_by`] reads, at a fraction of the size.
pub fn keep_request_owners(meta: &mut ObjectMeta) {
    let Some(entries) = meta.managed_fields.take() else { return };
    let kept: Vec<ManagedFieldsEntry> = entries
        .into_iter()
        .filter_map(|mut e| {
            let sub = requests_subtree(&e)?.clone();
            e.fields_v1 = Some(FieldsV1(serde_json::json!({ "f:spec": { "f:requests": sub } })));
            Some(e)
        })
        .collect();
    meta.managed_fields = (!kept.is_empty()).then_some(kept);
}

/// Who wrote `spec.requests.<request>` last, by `managedFields`, and the GitOps marker on the
/// object. Strings are escaped for terminals and bounded, since a client may write any
/// manager name it likes.
pub fn asked_by(meta: &ObjectMeta, request: RequestKind) -> Option<RequestActor> {
    let key = format!("f:{}", request.field());
    let owner = meta
        .managed_fields
        .iter()
        .flatten()
        .filter(|e| requests_subtree(e).is_some_and(|sub| sub.get(&key).is_some()))
        .max_by_key(|e| e.time.as_ref().map(|t| t.0))?;
    Some(RequestActor {
        manager: bounded(owner.manager.as_deref().unwrap_or("(unknown)"), MAX_MANAGER),
        operation: owner.operation.as_deref().map(|o| bounded(o, 16)),
        time: owner.time.clone(),
        gitops: gitops_marker(meta),
    })
}

fn gitops_marker(meta: &ObjectMeta) -> Option<String> {
    GITOPS_MARKERS.iter().find_map(|(key, _)| {
        let value = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(*key))
            .or_else(|| meta.labels.as_ref().and_then(|l| l.get(*key)))?;
        Some(bounded(&format!("{key}={value}"), MAX_GITOPS))
    })
}

/// `s` escaped, and cut to at most `max` characters (the schema's `maxLength`), the last an
/// ellipsis when cut.
fn bounded(s: &str, max: usize) -> String {
    let escaped = escape_for_terminal(s);
    if escaped.chars().count() <= max {
        return escaped.into_owned();
    }
    let cut = escaped.char_indices().nth(max.saturating_sub(1)).map_or(escaped.len(), |(i, _)| i);
    format!("{}…", &escaped[..cut])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn entry(manager: &str, at: i64, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some("Update".into()),
            time: Some(Time(Timestamp::from_second(at).expect("time"))),
            fields_v1: Some(FieldsV1(fields)),
            ..ManagedFieldsEntry::default()
        }
    }

    fn meta() -> ObjectMeta {
        ObjectMeta {
            managed_fields: Some(vec![
                entry("argocd-controller", 100, serde_json::json!({"f:spec": {"f:email": {}, "f:displayName": {}}})),
                entry("jane.doe", 200, serde_json::json!({"f:spec": {"f:requests": {"f:resetPin": {}}}})),
                entry(
                    "kubectl-conferencing",
                    300,
                    serde_json::json!({"f:spec": {"f:requests": {"f:sendConferencingInfo": {}}}}),
                ),
                entry("conferencing-operator", 400, serde_json::json!({"f:status": {}})),
            ]),
            annotations: Some(BTreeMap::from([(
                "argocd.argoproj.io/tracking-id".to_string(),
                "acme:conferencing.io/ConferencingUser:acme/alice".to_string(),
            )])),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn the_manager_owning_the_request_field_asked_for_it() {
        let m = meta();
        let pin = asked_by(&m, RequestKind::ResetPin).expect("an owner");
        assert_eq!(pin.manager, "jane.doe");
        assert_eq!(pin.operation.as_deref(), Some("Update"));
        assert_eq!(pin.time.map(|t| t.0.as_second()), Some(200));
        assert_eq!(
            pin.gitops.as_deref(),
            Some("argocd.argoproj.io/tracking-id=acme:conferencing.io/ConferencingUser:acme/alice")
        );
        assert_eq!(asked_by(&m, RequestKind::SendConferencingInfo).expect("owner").manager, "kubectl-conferencing");
        assert_eq!(asked_by(&m, RequestKind::ResetConferenceId), None);
    }

    #[test]
    fn the_cache_keeps_only_the_request_owners_trimmed() {
        let mut m = meta();
        keep_request_owners(&mut m);
        let kept = m.managed_fields.clone().expect("kept");
        let managers: Vec<_> = kept.iter().filter_map(|e| e.manager.as_deref()).collect();
        assert_eq!(managers, ["jane.doe", "kubectl-conferencing"]);
        assert_eq!(asked_by(&m, RequestKind::ResetPin).expect("owner").manager, "jane.doe");
        let mut none = ObjectMeta {
            managed_fields: Some(vec![entry("x", 1, serde_json::json!({"f:status": {}}))]),
            ..ObjectMeta::default()
        };
        keep_request_owners(&mut none);
        assert_eq!(none.managed_fields, None);
    }

    #[test]
    fn hostile_manager_names_are_escaped_and_bounded() {
        let m = ObjectMeta {
            managed_fields: Some(vec![entry(
                &format!("evil\u{1b}]52;c;x\u{7}{}", "a".repeat(300)),
                1,
                serde_json::json!({"f:spec": {"f:requests": {"f:resetPin": {}}}}),
            )]),
            ..ObjectMeta::default()
        };
        let a = asked_by(&m, RequestKind::ResetPin).expect("owner");
        assert!(!a.manager.chars().any(char::is_control), "{:?}", a.manager);
        assert!(a.manager.starts_with("evil\\u{1b}]52"), "{}", a.manager);
        assert_eq!(a.manager.chars().count(), MAX_MANAGER);
    }
}
