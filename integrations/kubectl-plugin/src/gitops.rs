//! Recognising objects that a GitOps tool keeps in sync with Git. Writing a request token into
//! such an object behind the tool's back leaves Git and the cluster disagreeing: when the
//! manifest in Git sets the same field, the next sync puts Git's value back (the operator
//! recognises a token it handled before and does nothing but warn, `RequestTokenReused`), and
//! the request is not recorded where the team reviews changes. So the plugin refuses and
//! prints the change to commit instead.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Field managers of GitOps controllers that apply objects from Git.
pub(crate) const GITOPS_MANAGERS: [(&str, &str); 4] = [
    ("argocd-controller", "Argo CD"),
    ("argocd-application-controller", "Argo CD"),
    ("kustomize-controller", "Flux"),
    ("helm-controller", "Flux"),
];

/// Annotations and labels GitOps tools put on the objects they manage, with the tool: the
/// operator records the same markers as who asked (see [`conferencing_operator::api::actor`]).
pub(crate) use conferencing_operator::api::actor::GITOPS_MARKERS;

/// One sign that a GitOps tool manages the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// The tool, for people: `Argo CD` or `Flux`.
    pub tool: &'static str,
    /// What gave it away, e.g. `annotation argocd.argoproj.io/tracking-id`.
    pub sign: String,
}

/// Every sign that a GitOps tool manages the object; empty when none does.
pub(crate) fn detect(meta: &ObjectMeta) -> Vec<Evidence> {
    let mut found = Vec::new();
    for (manager, tool) in GITOPS_MANAGERS {
        let manages = meta.managed_fields.iter().flatten().any(|m| m.manager.as_deref() == Some(manager));
        if manages {
            found.push(Evidence { tool, sign: format!("field manager {manager}") });
        }
    }
    for (key, tool) in GITOPS_MARKERS {
        if meta.annotations.as_ref().is_some_and(|a| a.contains_key(key)) {
            found.push(Evidence { tool, sign: format!("annotation {key}") });
        }
        if meta.labels.as_ref().is_some_and(|l| l.contains_key(key)) {
            found.push(Evidence { tool, sign: format!("label {key}") });
        }
    }
    found
}

/// The tools named by `evidence`, deduplicated, for a sentence (`Argo CD`, `Argo CD and Flux`).
pub(crate) fn tools(evidence: &[Evidence]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for e in evidence {
        if !names.contains(&e.tool) {
            names.push(e.tool);
        }
    }
    names.join(" and ")
}

/// What a verb says when a GitOps tool manages the object it would write.
pub(crate) struct Guard<'a> {
    /// Printed after "Refusing to ": the action and the object, e.g. `change ConferencingUser acme/bob`.
    pub refusing: String,
    /// Why, after the tools and their signs; ends by asking for the change to be committed.
    pub why: &'a str,
    /// Printed after the tools and their signs with `--force`.
    pub forced: &'a str,
    /// The object, for the `--force` warning, e.g. `ConferencingUser acme/bob`.
    pub object: String,
}

/// Refuses a write to an object a GitOps tool manages (`Some(Verdict::Refused)`, with the
/// change to commit on `out`), or, with `force`, warns and shows the change on standard
/// error (`None`: go on). `None` too when no tool manages it.
pub(crate) fn guard(
    meta: &ObjectMeta,
    force: bool,
    guard: &Guard<'_>,
    change: &str,
    out: &mut super::Terminal<impl std::io::Write>,
) -> Result<Option<super::Verdict>, super::PluginError> {
    let evidence = detect(meta);
    if evidence.is_empty() {
        return Ok(None);
    }
    let tools = tools(&evidence);
    let signs: Vec<&str> = evidence.iter().map(|e| e.sign.as_str()).collect();
    let mut err = super::Terminal::stderr();
    if !force {
        err.line(format!("Refusing to {}: {tools} manages it ({}). {}", guard.refusing, signs.join(", "), guard.why))?;
        out.lines(change)?;
        return Ok(Some(super::Verdict::Refused));
    }
    err.line(format!("warning: {tools} manages {} ({}); {}", guard.object, signs.join(", "), guard.forced))?;
    err.lines(change)?;
    Ok(None)
}

/// The YAML to merge into the object's manifest in Git: `spec.requests.<field>: <token>`.
pub(crate) fn manifest_change(field: &str, token: &str) -> Result<String, serde_yaml::Error> {
    let mut requests = serde_yaml::Mapping::new();
    requests.insert(field.into(), token.into());
    let mut spec = serde_yaml::Mapping::new();
    spec.insert("requests".into(), serde_yaml::Value::Mapping(requests));
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("spec".into(), serde_yaml::Value::Mapping(spec));
    serde_yaml::to_string(&doc)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    use super::*;

    fn managed_by(manager: &str) -> ObjectMeta {
        ObjectMeta {
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some(manager.into()),
                operation: Some("Apply".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn recognises_gitops_field_managers() {
        for (manager, tool) in GITOPS_MANAGERS {
            assert_eq!(detect(&managed_by(manager)), vec![Evidence { tool, sign: format!("field manager {manager}") }]);
        }
        assert!(detect(&managed_by("kubectl-client-side-apply")).is_empty());
        assert!(detect(&managed_by("kubectl-conferencing")).is_empty());
        assert!(detect(&ObjectMeta::default()).is_empty());
    }

    #[test]
    fn recognises_annotations_and_labels() {
        let meta = ObjectMeta {
            annotations: Some(BTreeMap::from([(
                "argocd.argoproj.io/tracking-id".to_string(),
                "app:conferencing.io/ConferencingUser:acme/alice".to_string(),
            )])),
            labels: Some(BTreeMap::from([("kustomize.toolkit.fluxcd.io/name".to_string(), "acme".to_string())])),
            ..Default::default()
        };
        let found = detect(&meta);
        assert_eq!(found.len(), 2);
        assert_eq!(tools(&found), "Argo CD and Flux");
        let only_label = ObjectMeta {
            labels: Some(BTreeMap::from([("argocd.argoproj.io/instance".into(), "acme".into())])),
            ..meta
        };
        assert!(detect(&only_label).iter().any(|e| e.sign == "label argocd.argoproj.io/instance"));
    }

    fn labelled(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    fn annotated(annotations: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            annotations: Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    /// Argo CD before 3.0 tracks with the `app.kubernetes.io/instance` label alone: no
    /// annotation, and a field manager that a client-side sync does not leave.
    #[test]
    fn recognises_argocd_label_tracking() {
        let found = detect(&labelled(&[("app.kubernetes.io/instance", "conferencing-acme")]));
        assert_eq!(found, vec![Evidence { tool: "Argo CD", sign: "label app.kubernetes.io/instance".into() }]);
        // Other standard labels are no sign.
        assert!(detect(&labelled(&[("app.kubernetes.io/name", "x"), ("app.kubernetes.io/part-of", "y")])).is_empty());
    }

    #[test]
    fn recognises_argocd_annotation_tracking() {
        let found = detect(&annotated(&[(
            "argocd.argoproj.io/tracking-id",
            "conferencing-acme:conferencing.io/ConferencingUser:acme/alice",
        )]));
        assert_eq!(found, vec![Evidence { tool: "Argo CD", sign: "annotation argocd.argoproj.io/tracking-id".into() }]);
    }

    #[test]
    fn recognises_flux_kustomization_labels() {
        for key in ["kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace"] {
            let found = detect(&labelled(&[(key, "acme")]));
            assert_eq!(found, vec![Evidence { tool: "Flux", sign: format!("label {key}") }]);
        }
        let both = detect(&labelled(&[
            ("kustomize.toolkit.fluxcd.io/name", "acme"),
            ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
        ]));
        assert_eq!((both.len(), tools(&both).as_str()), (2, "Flux"));
    }

    #[test]
    fn recognises_flux_helm_release_labels() {
        for key in ["helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace"] {
            let found = detect(&labelled(&[(key, "conferencing")]));
            assert_eq!(found, vec![Evidence { tool: "Flux", sign: format!("label {key}") }]);
        }
    }

    #[test]
    fn the_change_to_commit_is_a_mergeable_spec_fragment() {
        let yaml = manifest_change("resetPin", "kubectl-2026-11-24T10:00:00Z-0a1b").expect("yaml");
        let back: serde_json::Value = serde_yaml::from_str(&yaml).expect("parses");
        assert_eq!(back, serde_json::json!({"spec": {"requests": {"resetPin": "kubectl-2026-11-24T10:00:00Z-0a1b"}}}));
    }
}
