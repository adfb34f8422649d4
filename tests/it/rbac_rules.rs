//! The ClusterRole in `manifests/` is sufficient (the whole example flow works as
//! the operator's ServiceAccount) and necessary (without one of its rules the failure is
//! plain in the log).

use std::process::Command;
use std::time::Duration;

use crate::support::identity::{kubeconfig_for, kubectl, to_yaml};
use crate::support::*;
use conferencing_operator::api::ConferencingUser;
use kube::ResourceExt;
use serde_yaml::Value;

/// The RBAC objects of the rendered base: Namespace, ServiceAccount, roles and bindings.
fn rbac_objects() -> Vec<Value> {
    let rendered = kubectl(&["kustomize", concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/base")], None);
    serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .filter(|v| {
            matches!(
                v["kind"].as_str(),
                Some("Namespace" | "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding")
            )
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_manifests_role_is_sufficient_and_each_rule_is_needed() {
    let env = TestEnv::new("rbac").await;
    let objects = rbac_objects();
    let find = |kind: &str| objects.iter().find(|o| o["kind"].as_str() == Some(kind)).cloned();
    let sa = find("ServiceAccount").expect("the base has a ServiceAccount");
    let (sa_ns, sa_name) = (
        sa["metadata"]["namespace"].as_str().expect("ns").to_string(),
        sa["metadata"]["name"].as_str().expect("name").to_string(),
    );
    kubectl(&["apply", "-f", "-"], Some(&to_yaml(&objects)));

    // Sufficient: the example flow as the operator's own identity.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = kubeconfig_for(&sa_ns, &sa_name, dir.path());
    let lease = format!("conferencing-operator-{}", env.ns);
    let log = env.log_path("rbac.log");
    let config_str = config.display().to_string();
    let mut child = env.spawn_operator(
        &log,
        &["--leader-election-namespace", &sa_ns, "--leader-election-lease", &lease],
        &[("KUBECONFIG", config_str.as_str())],
    );
    let (_, users) = env.apply_examples().await;
    let mut dana = users.iter().find(|u| u.name_any() == "dana").expect("dana").clone();
    dana.spec.requests.reset_pin = Some("rbac".into());
    dana.spec.requests.reset_conference_id = Some("rbac".into());
    env.apply(&dana).await;
    env.wait_user("dana", "requests handled", |u| {
        u.status.as_ref().is_some_and(|s| s.handled_requests.reset_conference_id.as_deref() == Some("rbac"))
    })
    .await;
    let mut eve = users.iter().find(|u| u.name_any() == "eve").expect("eve").clone();
    eve.spec.provider = Default::default();
    env.apply(&eve).await;
    env.wait_user("eve", "provisioned", |u| u.status.as_ref().is_some_and(|s| s.pin.is_some())).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("forbidden"), "the operator met a forbidden call:\n{}", tail(&text, 20));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();

    // Necessary: for each rule in turn, a scratch copy of the role without that one rule, for a
    // scratch identity; the operator run with it meets the missing permission, and says so
    // naming the resource the rule grants.
    let role = find("ClusterRole").expect("the base has a ClusterRole");
    let rules = role["rules"].as_sequence().expect("rules").clone();
    assert!(rules.len() >= 5, "the role's rules: {rules:?}");
    let sa: Value = serde_yaml::from_str(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: scratch, namespace: {}}}\n",
        env.ns
    ))
    .expect("sa");
    kubectl(&["apply", "-f", "-"], Some(&to_yaml(&[sa])));
    let config = kubeconfig_for(&env.ns, "scratch", dir.path());
    let config_str = config.display().to_string();
    for (i, rule) in rules.iter().enumerate() {
        let resources: Vec<String> = rule["resources"]
            .as_sequence()
            .expect("resources")
            .iter()
            .map(|r| r.as_str().expect("resource").to_string())
            .collect();
        let mut without = role.clone();
        without["rules"].as_sequence_mut().expect("rules").remove(i);
        let scratch = format!("scratch-{}-{i}", env.ns);
        without["metadata"] = serde_yaml::from_str(&format!("{{name: {scratch}}}")).expect("meta");
        let binding: Value = serde_yaml::from_str(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {scratch}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {scratch}}}\nsubjects: [{{kind: ServiceAccount, name: scratch, namespace: {}}}]\n",
            env.ns
        ))
        .expect("binding");
        kubectl(&["apply", "-f", "-"], Some(&to_yaml(&[without, binding])));
        let log = env.log_path(&format!("scratch-{i}.log"));
        let mut child = env.spawn_operator(&log, &["--leader-election=false"], &[("KUBECONFIG", config_str.as_str())]);
        // Work that needs every rule: a new user to provision (a claim, a Secret, a status,
        // Events).
        let mut frank = users[0].clone();
        frank.metadata.name = Some(format!("frank-{i}"));
        frank.spec.email = format!("frank{i}@acme.example");
        env.apply(&frank).await;
        let line = wait_until(
            &format!("the missing permission on {resources:?} in the log"),
            Duration::from_secs(60),
            || async {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                text.lines()
                    .find(|l| l.contains("forbidden") && resources.iter().any(|r| l.contains(r.as_str())))
                    .map(str::to_string)
            },
        )
        .await;
        eprintln!("without the rule for {resources:?} the operator says: {line}");
        if resources.iter().any(|r| r == "secrets") {
            assert!(!is_ready(&env.user(&format!("frank-{i}")).await), "no PIN, so not Ready, without Secrets");
        }
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
        kubectl(&["delete", "clusterrole,clusterrolebinding", &scratch, "--ignore-not-found"], None);
        env.delete::<ConferencingUser>(&format!("frank-{i}")).await;
    }
}

/// The rendered namespaced overlay, with its namespaces renamed: `conferencing-system` (the
/// operator's own) to `system`, and its one tenant namespace `acme` to each of `tenants`
/// (the overlay's Role and RoleBinding copied per tenant, as its README says to do).
fn namespaced_overlay(system: &str, tenants: &[&str]) -> Vec<Value> {
    let rendered = kubectl(&["kustomize", concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/overlays/namespaced")], None);
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .collect();
    let mut out = Vec::new();
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        if !matches!(
            kind.as_str(),
            "Namespace" | "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
        ) {
            continue;
        }
        let text = serde_yaml::to_string(&o).expect("yaml").replace("conferencing-system", system);
        if text.contains("namespace: acme") {
            for t in tenants {
                out.push(
                    serde_yaml::from_str(&text.replace("namespace: acme", &format!("namespace: {t}"))).expect("yaml"),
                );
            }
        } else if kind != "Namespace" {
            out.push(serde_yaml::from_str(&text).expect("yaml"));
        }
    }
    out
}

fn can_i(verb: &str, resource: &str, namespace: &str, sa: &str) -> bool {
    let out = Command::new("kubectl")
        .args(["auth", "can-i", verb, resource, "-n", namespace, "--as", sa])
        .output()
        .expect("kubectl auth can-i");
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_namespaced_overlay_opens_nothing_outside_its_namespaces_and_suffices() {
    let env = TestEnv::new("rbac-ns").await;
    let second = TestEnv::new("rbac-ns2").await;
    let system = format!("{}-sys", env.ns);
    kubectl(&["create", "namespace", &system], None);
    let objects = namespaced_overlay(&system, &[&env.ns, &second.ns]);
    for o in &objects {
        assert!(
            !matches!(o["kind"].as_str(), Some("ClusterRole" | "ClusterRoleBinding")),
            "the namespaced overlay holds no cluster-wide right: {o:?}"
        );
        for rule in o["rules"].as_sequence().into_iter().flatten() {
            let resources = serde_yaml::to_string(&rule["resources"]).expect("yaml");
            assert!(!resources.contains("configmaps"), "no ConfigMap rights: {rule:?}");
        }
    }
    kubectl(&["apply", "-f", "-"], Some(&to_yaml(&objects)));
    let sa = format!("system:serviceaccount:{system}:conferencing-operator");
    assert!(!can_i("get", "secrets", "kube-system", &sa), "no Secret in kube-system");
    assert!(!can_i("list", "secrets", "default", &sa), "no Secret in a namespace it does not serve");
    assert!(!can_i("list", "configmaps", &env.ns, &sa), "no ConfigMaps at all");
    assert!(can_i("create", "secrets", &env.ns, &sa) && can_i("create", "secrets", &second.ns, &sa));

    // The whole flow, in both namespaces, as that ServiceAccount with exactly these rights.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = kubeconfig_for(&system, "conferencing-operator", dir.path());
    let config_str = config.display().to_string();
    let log = env.log_path("namespaced.log");
    let namespaces = format!("{},{}", env.ns, second.ns);
    let mut child = env.spawn_operator(
        &log,
        &["--namespace", &namespaces, "--leader-election-namespace", &system],
        &[("KUBECONFIG", config_str.as_str())],
    );
    let (_, users) = env.apply_examples().await;
    second.apply_examples().await;
    let mut dana = users.iter().find(|u| u.name_any() == "dana").expect("dana").clone();
    dana.spec.requests.reset_pin = Some("rbac".into());
    dana.spec.requests.reset_conference_id = Some("rbac".into());
    env.apply(&dana).await;
    env.wait_user("dana", "requests handled", |u| {
        u.status.as_ref().is_some_and(|s| s.handled_requests.reset_conference_id.as_deref() == Some("rbac"))
    })
    .await;
    env.delete::<conferencing_operator::api::ConferencingUser>("alice").await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("forbidden"), "the operator met a forbidden call:\n{}", tail(&text, 20));
    for ns in [&env.ns, &second.ns] {
        assert!(
            text.lines().any(|l| l.contains("api write") && l.contains(&format!("namespace={ns} "))),
            "one operator serves both namespaces; nothing written in {ns}:\n{}",
            tail(&text, 30)
        );
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}
