//! The Helm chart (`charts/conferencing-operator`), checked with real Helm.
//!
//! Helm is `scripts/helm`: Helm's v4 Go SDK from PyPI `helm-python-sdk`, installed by
//! `scripts/provision-python-tools` (run by `scripts/test` before the tests start, never by a
//! test: tests run in parallel). The chart is held to the kustomize manifests: the same RBAC
//! grants and the same Pod hardening, in both install modes; its CRDs are `crds/` without
//! drift; its schema rejects bad values; and it installs into the test cluster, where every
//! object it creates matches the rendering, and uninstalls cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value as Json;
use serde_yaml::Value;

const CHART: &str = "charts/conferencing-operator";
const CLUSTER_VALUES: &str = "charts/conferencing-operator/ci/cluster-values.yaml";
const NAMESPACED_VALUES: &str = "charts/conferencing-operator/ci/namespaced-values.yaml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/helm ARGS` in the repository; returns success and stdout + stderr.
fn helm_status(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(root().join("scripts/helm"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run scripts/helm (bash)");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(
        !stderr.contains("the Helm SDK is not installed"),
        "Helm is missing: run scripts/provision-python-tools (scripts/test does) before the tests\n{stderr}"
    );
    (out.status.success(), stdout, stderr)
}

fn helm(args: &[&str]) -> String {
    let (ok, stdout, stderr) = helm_status(args);
    assert!(ok, "scripts/helm {}: failed\n{stdout}{stderr}", args.join(" "));
    stdout
}

fn kubectl(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl on PATH (scripts/provision installs it)");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> String {
    let (ok, stdout, stderr) = kubectl(args, stdin);
    assert!(ok, "kubectl {}: {stderr}", args.join(" "));
    stdout
}

/// The objects of a YAML stream (empty documents dropped), as JSON values.
fn docs(yaml: &str) -> Vec<Json> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .filter(|v| !v.is_null())
        .map(|v| json(&v))
        .collect()
}

/// YAML to JSON with every number as a float: Helm's toYaml writes 12.0 as 12, and the API
/// server keeps numbers as JSON numbers, so 12 and 12.0 are the same value.
fn json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => serde_json::Number::from_f64(n.as_f64().expect("number")).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(s) => Json::Array(s.iter().map(json).collect()),
        Value::Mapping(m) => {
            Json::Object(m.iter().map(|(k, v)| (k.as_str().expect("string keys").to_string(), json(v))).collect())
        }
        Value::Tagged(t) => json(&t.value),
    }
}

fn normalize(v: &Json) -> Json {
    match v {
        Json::Number(n) => serde_json::Number::from_f64(n.as_f64().expect("number")).map_or(Json::Null, Json::Number),
        Json::Array(a) => Json::Array(a.iter().map(normalize).collect()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        other => other.clone(),
    }
}

/// `helm template` of the chart as release `conferencing-operator` in `conferencing-system`
/// (the names manifests/ uses), with a values file and extra `--set-json KEY=JSON`s.
fn render(values: &str, set_json: &[&str]) -> Vec<Json> {
    let mut args = vec!["template", "conferencing-operator", CHART, "-n", "conferencing-system", "-f", values];
    for s in set_json {
        args.extend(["--set-json", s]);
    }
    docs(&helm(&args))
}

fn kustomize(dir: &str) -> Vec<Json> {
    docs(&kubectl_ok(&["kustomize", &root().join(dir).display().to_string()], None))
}

fn kind(o: &Json) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Json) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace(o: &Json) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn only<'a>(objects: &'a [Json], k: &str) -> &'a Json {
    let found: Vec<&Json> = objects.iter().filter(|o| kind(o) == k).collect();
    assert_eq!(found.len(), 1, "exactly one {k}: {found:?}");
    found[0]
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// What a set of RBAC objects grants, as atoms: (where: a namespace or "<cluster>", who:
/// "namespace/serviceaccount", API group, resource, verb, resource name or "*"). Bindings are
/// joined with the roles they reference, so two renderings that group rules differently but
/// grant the same rights compare equal, and a role nobody is bound to grants nothing.
fn grants(objects: &[Json]) -> BTreeSet<(String, String, String, String, String, String)> {
    let roles: BTreeMap<(String, String, String), &Json> = objects
        .iter()
        .filter(|o| matches!(kind(o), "Role" | "ClusterRole"))
        .map(|o| ((kind(o).to_string(), namespace(o).to_string(), name(o).to_string()), o))
        .collect();
    let mut out = BTreeSet::new();
    for b in objects.iter().filter(|o| matches!(kind(o), "RoleBinding" | "ClusterRoleBinding")) {
        let role_kind = b["roleRef"]["kind"].as_str().expect("roleRef.kind");
        let role_ns = if role_kind == "Role" { namespace(b) } else { "" };
        let key =
            (role_kind.to_string(), role_ns.to_string(), b["roleRef"]["name"].as_str().expect("name").to_string());
        let role =
            roles.get(&key).unwrap_or_else(|| panic!("{} {} references {key:?}, not rendered", kind(b), name(b)));
        let scope = if kind(b) == "ClusterRoleBinding" { "<cluster>".to_string() } else { namespace(b).to_string() };
        for s in b["subjects"].as_array().expect("subjects") {
            assert_eq!(s["kind"], "ServiceAccount", "only ServiceAccounts are bound: {s}");
            let who = format!("{}/{}", s["namespace"].as_str().expect("ns"), s["name"].as_str().expect("name"));
            for rule in role["rules"].as_array().expect("rules") {
                let names = strings(&rule["resourceNames"]);
                let names = if names.is_empty() { vec!["*".to_string()] } else { names };
                for g in strings(&rule["apiGroups"]) {
                    for r in strings(&rule["resources"]) {
                        for v in strings(&rule["verbs"]) {
                            for n in &names {
                                out.insert((scope.clone(), who.clone(), g.clone(), r.clone(), v.clone(), n.clone()));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The Pod settings that must not differ: identity, token mounting, hardening, resources,
/// and how the container runs and is probed.
fn pod_security(objects: &[Json]) -> Json {
    let pod = &only(objects, "Deployment")["spec"]["template"]["spec"];
    let containers: BTreeMap<String, Json> = pod["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            let keep = ["securityContext", "resources", "command", "args", "ports", "livenessProbe", "readinessProbe"];
            (
                c["name"].as_str().expect("name").to_string(),
                keep.iter().map(|k| (k.to_string(), c[*k].clone())).collect(),
            )
        })
        .collect();
    serde_json::json!({
        "serviceAccountName": pod["serviceAccountName"],
        "automountServiceAccountToken": pod["automountServiceAccountToken"],
        "securityContext": pod["securityContext"],
        "hostNetwork": pod["hostNetwork"],
        "hostPID": pod["hostPID"],
        "containers": containers,
    })
}

fn env_value(objects: &[Json], var: &str) -> Option<String> {
    let c = &only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    c["env"].as_array()?.iter().find(|e| e["name"] == var).and_then(|e| e["value"].as_str().map(str::to_string))
}

fn assert_same_grants(chart: &[Json], kustomize: &[Json], what: &str) {
    let (a, b) = (grants(chart), grants(kustomize));
    assert!(!a.is_empty(), "the chart grants nothing ({what})");
    let only_chart: Vec<_> = a.difference(&b).collect();
    let only_kustomize: Vec<_> = b.difference(&a).collect();
    assert!(
        only_chart.is_empty() && only_kustomize.is_empty(),
        "{what}: the chart and kustomize grant different rights\nonly the chart: {only_chart:#?}\nonly kustomize: {only_kustomize:#?}"
    );
}

#[test]
fn the_chart_passes_helm_lint_in_both_modes() {
    for values in [CLUSTER_VALUES, NAMESPACED_VALUES] {
        let (ok, stdout, stderr) = helm_status(&["lint", CHART, "--strict", "-f", values]);
        assert!(ok, "helm lint --strict -f {values}:\n{stdout}{stderr}");
        assert!(stdout.contains("0 chart(s) failed"), "{stdout}");
    }
}

#[test]
fn helm_lint_catches_a_broken_chart() {
    // Guards the test above against a lint that accepts anything: a template that does not
    // parse must fail.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("conferencing-operator");
    copy_dir(&root().join(CHART), &copy);
    std::fs::write(copy.join("templates/broken.yaml"), "{{ if }}\n").expect("write");
    let (ok, stdout, _) = helm_status(&["lint", &copy.display().to_string(), "-f", CLUSTER_VALUES]);
    assert!(!ok, "helm lint accepted a template that does not parse:\n{stdout}");
    assert!(stdout.contains("broken.yaml"), "{stdout}");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("prefix"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn the_charts_crds_are_the_generated_ones_without_drift() {
    // The chart's copy is crds/, file for file and byte for byte (`make crds` writes both).
    let list = |dir: &Path| -> BTreeMap<String, String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .map(|p| {
                (
                    p.file_name().expect("name").to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).expect("read"),
                )
            })
            .collect()
    };
    let crds = list(&root().join("crds"));
    let copy = list(&root().join(CHART).join("files/crds"));
    assert_eq!(
        crds.keys().collect::<Vec<_>>(),
        copy.keys().collect::<Vec<_>>(),
        "charts/conferencing-operator/files/crds/ must hold exactly the files of crds/: run `make crds`"
    );
    for (file, text) in &crds {
        assert!(
            copy[file] == *text,
            "charts/conferencing-operator/files/crds/{file} differs from crds/{file}: run `make crds`"
        );
    }

    // What Helm renders (and installs) is those CRDs, plus the chart's labels and the keep
    // policy, and nothing else.
    let rendered: Vec<Json> =
        render(CLUSTER_VALUES, &[]).into_iter().filter(|o| kind(o) == "CustomResourceDefinition").collect();
    let expected: BTreeMap<String, Json> =
        crds.values().flat_map(|t| docs(t)).map(|c| (name(&c).to_string(), c)).collect();
    assert_eq!(rendered.len(), expected.len(), "every CRD is rendered once");
    for mut crd in rendered {
        let n = name(&crd).to_string();
        let meta = crd["metadata"].as_object_mut().expect("metadata");
        let annotations = meta.remove("annotations").unwrap_or_default();
        assert_eq!(
            annotations,
            serde_json::json!({"helm.sh/resource-policy": "keep"}),
            "{n}: `helm uninstall` must leave the CRD (deleting it deletes every object of its kind)"
        );
        let labels = meta.remove("labels").unwrap_or_default();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm", "{n}: {labels}");
        let want = expected.get(&n).unwrap_or_else(|| panic!("rendered CRD {n} is not in crds/"));
        assert!(crd == normalize(want), "the rendered CRD {n} differs from crds/");
    }

    let none = render(CLUSTER_VALUES, &["crds.install=false"]);
    assert!(!none.iter().any(|o| kind(o) == "CustomResourceDefinition"), "crds.install=false renders no CRD");
}

#[test]
fn the_values_schema_rejects_bad_values() {
    // Each case: a --set-json on top of the valid cluster values, and a fragment of Helm's
    // complaint. The valid values themselves render (the last case proves the harness).
    let bad: &[(&[&str], &str)] = &[
        (&["rbac.scope=\"namespaced\""], "/rbac/watchNamespaces"),
        (&["rbac.watchNamespaces=[\"acme\"]"], "/rbac/watchNamespaces"),
        (&["rbac.scope=\"everywhere\""], "/rbac/scope"),
        (&["rbac.scope=\"namespaced\"", "rbac.watchNamespaces=[\"Not_A_Namespace\"]"], "/rbac/watchNamespaces/0"),
        (&["mail.smtpUrl=\"\""], "/mail"),
        (&["mail.outbox={\"enabled\":true}"], "/mail"),
        (&["mail.smtpUrl=\"http://mail.example.com\""], "/mail/smtpUrl"),
        (&["mail.startTls=\"sometimes\""], "/mail/startTls"),
        (&["mail.password=\"hunter2\""], "password"),
        (&["mail.credentialsSecret=\"user:hunter2\""], "/mail/credentialsSecret"),
        (&["replicaCount=\"two\""], "/replicaCount"),
        (&["crds.install=\"yes\""], "/crds/install"),
        (&["networkPolicy.apiServer.cidrs=[]"], "/networkPolicy/apiServer/cidrs"),
        (&["networkPolicy.smtp.cidrs=[]"], "/networkPolicy/smtp/cidrs"),
        (&["networkPolicy.apiServer.cidrs=[\"10.0.0.10\"]"], "/networkPolicy/apiServer/cidrs/0"),
        (&["networkPolicy.apiServer.ports=[70000]"], "/networkPolicy/apiServer/ports/0"),
        (&["logFormat=\"xml\""], "/logFormat"),
        (&["image.pullPolicy=\"Sometimes\""], "/image/pullPolicy"),
        (&["resources.requests.memory=\"64 MB\""], "/resources/requests/memory"),
        (&["admissionPolicy.enabled=1"], "/admissionPolicy/enabled"),
        (&["unknownKey=true"], "unknownKey"),
    ];
    for (set, complaint) in bad {
        let mut args = vec!["template", "x", CHART, "-f", CLUSTER_VALUES];
        for s in *set {
            args.extend(["--set-json", s]);
        }
        let (ok, stdout, stderr) = helm_status(&args);
        assert!(!ok, "the schema accepted {set:?}:\n{stdout}");
        assert!(stderr.contains(complaint), "rejecting {set:?}, Helm should name {complaint}:\n{stderr}");
    }
    // Accepted: the other mode, the trial outbox without an SMTP URL (or its CIDRs), and the
    // NetworkPolicy off without any CIDR.
    for set in [
        &["rbac.scope=\"namespaced\"", "rbac.watchNamespaces=[\"acme\",\"globex\"]"][..],
        &["mail.smtpUrl=\"\"", "mail.outbox={\"enabled\":true}", "networkPolicy.smtp.cidrs=[]"][..],
        &["networkPolicy={\"enabled\":false}"][..],
    ] {
        let mut args = vec!["template", "x", CHART, "-f", CLUSTER_VALUES];
        for s in set {
            args.extend(["--set-json", s]);
        }
        helm(&args);
    }
    // The defaults alone are incomplete on purpose: no mail relay and no API server address
    // are guesses the chart must not make.
    let (ok, _, stderr) = helm_status(&["template", "x", CHART]);
    assert!(!ok && stderr.contains("/mail") && stderr.contains("/networkPolicy"), "{stderr}");
}

#[test]
fn cluster_mode_grants_the_same_rights_and_pod_security_as_the_kustomize_base() {
    let chart = render(CLUSTER_VALUES, &[]);
    let base = kustomize("manifests/base");
    assert_same_grants(&chart, &base, "rbac.scope=cluster vs manifests/base");
    assert!(grants(&chart).iter().any(|g| g.0 == "<cluster>"), "cluster mode grants cluster-wide");
    assert_eq!(pod_security(&chart), pod_security(&base), "Pod settings: chart vs manifests/base");
    assert_eq!(env_value(&chart, "CONFERENCING_NAMESPACE"), None, "cluster mode serves every namespace");

    // The NetworkPolicy has the base's shape; with overlays/example's addresses it is the same.
    let example = kustomize("manifests/overlays/example");
    let (a, b) = (&only(&chart, "NetworkPolicy")["spec"], &only(&example, "NetworkPolicy")["spec"]);
    for k in ["policyTypes", "ingress", "egress"] {
        assert_eq!(a[k], b[k], "NetworkPolicy spec.{k}: chart vs manifests/overlays/example");
    }
    for (k, v) in b["podSelector"]["matchLabels"].as_object().expect("podSelector") {
        assert_eq!(&a["podSelector"]["matchLabels"][k], v, "the chart's NetworkPolicy selects the operator's pods");
    }
}

#[test]
fn namespaced_mode_grants_the_same_rights_and_pod_security_as_the_namespaced_overlay() {
    // The overlay serves `acme`; so does ci/namespaced-values.yaml.
    let chart = render(NAMESPACED_VALUES, &[]);
    let overlay = kustomize("manifests/overlays/namespaced");
    assert_same_grants(&chart, &overlay, "rbac.scope=namespaced vs manifests/overlays/namespaced");
    for objects in [&chart, &overlay] {
        assert!(
            !objects.iter().any(|o| matches!(kind(o), "ClusterRole" | "ClusterRoleBinding")),
            "no cluster-wide right in namespaced mode"
        );
    }
    assert!(!grants(&chart).iter().any(|g| g.0 == "<cluster>"));
    assert_eq!(pod_security(&chart), pod_security(&overlay), "Pod settings: chart vs manifests/overlays/namespaced");
    assert_eq!(env_value(&chart, "CONFERENCING_NAMESPACE"), env_value(&overlay, "CONFERENCING_NAMESPACE"));

    // A Role and RoleBinding per served namespace, and the operator told to serve exactly those.
    let two = render(NAMESPACED_VALUES, &["rbac.watchNamespaces=[\"acme\",\"globex\"]"]);
    let scopes: BTreeSet<String> = grants(&two).into_iter().map(|g| g.0).collect();
    assert_eq!(scopes, ["acme", "conferencing-system", "globex"].map(String::from).into());
    assert_eq!(env_value(&two, "CONFERENCING_NAMESPACE").as_deref(), Some("acme,globex"));

    // The admission policy is manifests/policies' for this release's ServiceAccount.
    let policies = kustomize("manifests/policies");
    let (a, b) = (only(&chart, "ValidatingAdmissionPolicy"), only(&policies, "ValidatingAdmissionPolicy"));
    assert_eq!(squash(&a["spec"]), squash(&b["spec"]), "ValidatingAdmissionPolicy: chart vs manifests/policies");
    let (a, b) =
        (only(&chart, "ValidatingAdmissionPolicyBinding"), only(&policies, "ValidatingAdmissionPolicyBinding"));
    assert_eq!(a["spec"]["validationActions"], b["spec"]["validationActions"]);
}

#[test]
fn the_monitoring_objects_render_only_when_enabled_with_the_promtool_tested_rules() {
    let kinds = |objects: &[Json]| -> BTreeSet<String> {
        objects
            .iter()
            .map(kind)
            .filter(|k| matches!(*k, "ServiceMonitor" | "PrometheusRule"))
            .map(String::from)
            .collect()
    };
    for values in [CLUSTER_VALUES, NAMESPACED_VALUES] {
        assert!(kinds(&render(values, &[])).is_empty(), "off by default ({values})");
    }
    let on = render(
        CLUSTER_VALUES,
        &[
            "metrics.serviceMonitor={\"enabled\":true,\"interval\":\"15s\",\"labels\":{\"release\":\"prom\"}}",
            "metrics.prometheusRule={\"enabled\":true,\"labels\":{\"release\":\"prom\"}}",
        ],
    );
    let rules: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("integrations/prometheus/alerts.yaml")).expect("alerts.yaml"),
    )
    .expect("yaml");
    let rule = only(&on, "PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert!(rule["spec"] == json(&rules), "the PrometheusRule's spec is integrations/prometheus/alerts.yaml");
    assert_eq!(rule["metadata"]["labels"]["release"], "prom");

    // The ServiceMonitor scrapes the metrics Service's port, selecting that Service only.
    let sm = only(&on, "ServiceMonitor");
    let service = only(&on, "Service");
    assert_eq!(sm["metadata"]["labels"]["release"], "prom");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(sm["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(sm["spec"]["namespaceSelector"]["matchNames"], serde_json::json!([namespace(service)]));
    let selector = sm["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels");
    assert!(!selector.is_empty());
    for (k, v) in selector {
        assert_eq!(&service["metadata"]["labels"][k], v, "the ServiceMonitor selects the metrics Service ({k})");
    }

    // The schema: a ServiceMonitor needs the Service, and the new keys are checked.
    for (set, complaint) in [
        (&["metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false"][..], "/metrics/service/enabled"),
        (&["metrics.serviceMonitor.interval=\"often\""][..], "/metrics/serviceMonitor/interval"),
        (&["metrics.prometheusRule.enabled=\"yes\""][..], "/metrics/prometheusRule/enabled"),
        (&["metrics.prometheusRule.rules=[]"][..], "rules"),
    ] {
        let mut args = vec!["template", "x", CHART, "-f", CLUSTER_VALUES];
        for s in set {
            args.extend(["--set-json", s]);
        }
        let (ok, stdout, stderr) = helm_status(&args);
        assert!(!ok, "the schema accepted {set:?}:\n{stdout}");
        assert!(stderr.contains(complaint), "rejecting {set:?}, Helm should name {complaint}:\n{stderr}");
    }
}

#[test]
fn the_kustomize_monitoring_component_scrapes_the_base_and_carries_the_tested_rules() {
    // An overlay of the base with the component, as an installer writes it, in a scratch
    // directory (kustomize takes only relative paths: up to / and down to the repository).
    let dir = tempfile::tempdir().expect("tempdir");
    let up = "../".repeat(dir.path().components().count() - 1);
    let repo = root().canonicalize().expect("root");
    let repo = repo.strip_prefix("/").expect("absolute").display().to_string();
    let overlay = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {up}{repo}/manifests/base\ncomponents:\n  - {up}{repo}/manifests/components/monitoring\n"
    );
    std::fs::write(dir.path().join("kustomization.yaml"), overlay).expect("write");
    let objects = docs(&kubectl_ok(&["kustomize", &dir.path().display().to_string()], None));
    let rules: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("integrations/prometheus/alerts.yaml")).expect("alerts.yaml"),
    )
    .expect("yaml");
    assert!(only(&objects, "PrometheusRule")["spec"] == json(&rules), "the component's rules are alerts.yaml");
    let sm = only(&objects, "ServiceMonitor");
    let service = only(&objects, "Service");
    assert_eq!(namespace(sm), namespace(service));
    assert_eq!(sm["spec"]["endpoints"][0]["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(sm["spec"]["namespaceSelector"]["matchNames"], serde_json::json!([namespace(service)]));
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels") {
        assert_eq!(&service["metadata"]["labels"][k], v, "the ServiceMonitor selects the metrics Service ({k})");
    }
}

/// Whitespace runs as one space: the CEL expressions are folded YAML scalars, which kustomize
/// re-folds with extra blank lines; CEL ignores the difference.
fn squash(v: &Json) -> Json {
    match v {
        Json::String(s) => Json::String(s.split_whitespace().collect::<Vec<_>>().join(" ")),
        Json::Array(a) => Json::Array(a.iter().map(squash).collect()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), squash(v))).collect()),
        other => other.clone(),
    }
}

// ------------------------------------------------------------------ in the cluster

/// `subset(rendered, live)`: every field the chart set is in the live object with the same
/// value (the server adds defaults and status, and keeps list order).
fn subset(rendered: &Json, live: &Json, path: &str) -> Result<(), String> {
    match (rendered, live) {
        (Json::Object(a), Json::Object(b)) => a.iter().try_for_each(|(k, v)| {
            let p = format!("{path}.{k}");
            b.get(k).ok_or_else(|| format!("{p}: missing in the cluster")).and_then(|w| subset(v, w, &p))
        }),
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().try_for_each(|(i, (v, w))| subset(v, w, &format!("{path}[{i}]")))
        }
        (a, b) if normalize(a) == normalize(b) => Ok(()),
        (a, b) => Err(format!("{path}: the chart says {a}, the cluster has {b}")),
    }
}

fn random_suffix() -> String {
    (0..5).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect()
}

/// Whether the API server serves admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy
/// (Kubernetes 1.30+; not the project's 1.20 test API server, but kind).
fn serves_admission_policies() -> bool {
    let (ok, out, _) = kubectl(&["get", "--raw", "/apis/admissionregistration.k8s.io/v1"], None);
    ok && out.contains("\"validatingadmissionpolicies\"")
}

/// Installs the chart with real Helm into the test cluster, checks every object against the
/// rendering, and uninstalls. The CRDs are shared by every test in the cluster (scripts/test
/// installs them), so the release does not own them (`crds.install=false`): `scripts/kind-e2e`
/// installs, upgrades and uninstalls a release that does. No pod runs on the project's test
/// API server (no scheduler or kubelet), and none is wanted on a real one: replicaCount 0.
async fn install_check_uninstall(mode: &str) {
    crate::support::cluster().await;
    let suffix = random_suffix();
    let (release, ns, served) = (format!("t-helm-{suffix}"), format!("t-helm-{suffix}"), format!("t-helm-{suffix}-a"));
    for n in [&ns, &served] {
        kubectl_ok(&["create", "namespace", n], None);
    }
    let values = if mode == "cluster" { CLUSTER_VALUES } else { NAMESPACED_VALUES };
    let served_json = format!("rbac.watchNamespaces=[\"{served}\"]");
    let policy = format!("admissionPolicy.enabled={}", mode == "namespaced" && serves_admission_policies());
    let mut flags =
        vec!["-n", ns.as_str(), "-f", values, "--set-json", "crds.install=false", "--set-json", "replicaCount=0"];
    flags.extend(["--set-json", policy.as_str()]);
    if mode == "namespaced" {
        flags.extend(["--set-json", served_json.as_str()]);
    }

    let install: Vec<&str> = ["install", release.as_str(), CHART].into_iter().chain(flags.iter().copied()).collect();
    let out = helm(&install);
    assert!(out.contains("STATUS: deployed"), "{out}");

    // The release is what `helm template` renders with the same values.
    let manifest = helm(&["get", "manifest", &release, "-n", &ns]);
    let template: Vec<&str> = ["template", release.as_str(), CHART].into_iter().chain(flags.iter().copied()).collect();
    let key = |o: &Json| format!("{}/{}/{}", kind(o), namespace(o), name(o));
    let sorted = |mut v: Vec<Json>| {
        v.sort_by_key(key);
        v
    };
    let installed = sorted(docs(&manifest));
    let rendered = sorted(docs(&helm(&template)));
    assert_eq!(installed.iter().map(key).collect::<Vec<_>>(), rendered.iter().map(key).collect::<Vec<_>>());
    for (a, b) in installed.iter().zip(&rendered) {
        assert!(a == b, "the release's {} is not the chart's rendering:\n{a}\n{b}", key(a));
    }
    let kinds: BTreeSet<&str> = installed.iter().map(kind).collect();
    for k in ["ServiceAccount", "Deployment", "ConfigMap", "Service", "NetworkPolicy", "Role", "RoleBinding"] {
        assert!(kinds.contains(k), "the release has a {k}: {kinds:?}");
    }
    assert_eq!(kinds.contains("ClusterRole"), mode == "cluster", "{kinds:?}");

    // Every object exists in the cluster as rendered.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("manifest.yaml");
    std::fs::write(&file, &manifest).expect("write");
    let file_arg = file.display().to_string();
    let live: Json = serde_json::from_str(&kubectl_ok(&["get", "-f", &file_arg, "-o", "json"], None)).expect("json");
    let live = live["items"].as_array().cloned().unwrap_or_else(|| vec![live.clone()]);
    assert_eq!(live.len(), installed.len(), "every object of the release is in the cluster");
    for obj in &installed {
        let found =
            live.iter().find(|l| key(l) == key(obj)).unwrap_or_else(|| panic!("{} is not in the cluster", key(obj)));
        subset(obj, found, &key(obj)).unwrap_or_else(|e| panic!("the cluster's object differs from the chart's: {e}"));
        assert_eq!(found["metadata"]["annotations"]["meta.helm.sh/release-name"], Json::String(release.clone()));
    }

    // The rights, as the API server evaluates them.
    let sa = format!("system:serviceaccount:{ns}:{release}-conferencing-operator");
    let can = |verb: &str, resource: &str, n: &str| {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        let sub = format!("--subresource={sub}");
        let mut args = vec!["auth", "can-i", verb, resource, "-n", n, "--as", &sa];
        if sub.len() > "--subresource=".len() {
            args.push(&sub);
        }
        kubectl(&args, None).1.trim() == "yes"
    };
    assert!(can("create", "secrets", &served), "PIN Secrets in the served namespace");
    assert!(can("update", "conferencingusers.conferencing.io/status", &served), "user status");
    assert!(can("update", "leases.coordination.k8s.io", &ns), "leader election in the release namespace");
    assert!(!can("list", "configmaps", &served), "no ConfigMap rights");
    assert!(!can("patch", "conferencingusers.conferencing.io", &served), "the spec is the user's, not the operator's");
    assert_eq!(
        can("get", "secrets", "kube-system"),
        mode == "cluster",
        "{mode} mode: Secrets outside the served namespaces"
    );

    let out = helm(&["uninstall", &release, "-n", &ns]);
    assert!(out.contains("uninstalled"), "{out}");
    let left = kubectl_ok(&["get", "-f", &file_arg, "--ignore-not-found", "-o", "name"], None);
    assert!(left.trim().is_empty(), "helm uninstall left objects behind:\n{left}");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_chart_installs_and_uninstalls_cluster_wide() {
    install_check_uninstall("cluster").await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_chart_installs_and_uninstalls_namespaced() {
    install_check_uninstall("namespaced").await;
}
