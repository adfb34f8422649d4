//! The Flux health-check expressions documented in docs/gitops.md (CEL, a
//! Kustomization's `healthCheckExprs`) judge the operator's objects as the Argo CD health
//! checks do. The expressions are taken from the page itself, so the documentation cannot
//! drift from what is tested, and evaluated with cel-rust against every object of the Argo CD
//! health tests (integrations/argocd/.../health_test.yaml): Healthy must be Flux's current,
//! Degraded its failed, Progressing its in progress.

use std::path::Path;

use serde_json::Value as Json;

const KINDS: [&str; 2] = ["ConferencingTenant", "ConferencingUser"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_file(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `healthCheckExprs` of the Kustomization in docs/gitops.md's Flux section.
fn documented_exprs() -> Vec<Json> {
    let doc = std::fs::read_to_string(root().join("docs/gitops.md")).expect("docs/gitops.md");
    let block = doc
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap_or_default())
        .find(|b| b.contains("healthCheckExprs:"))
        .expect("docs/gitops.md shows a Flux Kustomization with healthCheckExprs");
    let kustomization: Json = serde_yaml::from_str(block).expect("the Kustomization is YAML");
    assert_eq!(kustomization["kind"], "Kustomization");
    assert_eq!(kustomization["spec"]["wait"], true, "health checks run with wait: true");
    kustomization["spec"]["healthCheckExprs"].as_array().expect("healthCheckExprs").clone()
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Flux {
    InProgress,
    Failed,
    Current,
}

/// One expression on one object: Some(result), or None when it cannot be evaluated (Flux then
/// keeps the object in progress). The object's top-level fields are the variables, as Flux
/// binds them.
fn eval(expr: &str, obj: &Json) -> Option<bool> {
    let program = cel::Program::compile(expr).unwrap_or_else(|e| panic!("not CEL: {expr}\n{e}"));
    let mut ctx = cel::Context::default();
    for (k, v) in obj.as_object().expect("object") {
        ctx.add_variable(k.as_str(), cel::to_value(v).expect("to CEL value")).expect("variable");
    }
    match program.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => Some(b),
        Ok(other) => panic!("{expr} gave {other:?}, not a bool"),
        Err(_) => None,
    }
}

/// Flux's verdict; also checks that at most one expression holds, so the verdict does not
/// depend on the order Flux evaluates them in.
fn verdict(entry: &Json, obj: &Json, what: &str) -> Flux {
    let results: Vec<(Flux, Option<bool>)> =
        [(Flux::InProgress, "inProgress"), (Flux::Failed, "failed"), (Flux::Current, "current")]
            .into_iter()
            .map(|(f, key)| (f, eval(entry[key].as_str().unwrap_or_else(|| panic!("{key} is set")), obj)))
            .collect();
    if results.iter().any(|(_, r)| r.is_none()) {
        assert!(obj.get("status").is_none(), "{what}: an expression failed to evaluate on an object with a status");
        return Flux::InProgress;
    }
    let holding: Vec<Flux> = results.iter().filter(|(_, r)| *r == Some(true)).map(|(f, _)| *f).collect();
    assert!(holding.len() <= 1, "{what}: more than one expression holds: {holding:?}");
    holding.first().copied().unwrap_or(Flux::InProgress)
}

#[test]
fn both_kinds_have_expressions_and_they_are_the_same() {
    let exprs = documented_exprs();
    let kinds: Vec<&str> = exprs.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, KINDS, "one entry per kind");
    for e in &exprs {
        assert_eq!(e["apiVersion"], "conferencing.io/v1alpha1");
        for key in ["inProgress", "failed", "current"] {
            assert!(e[key].is_string(), "{} sets {key}", e["kind"]);
        }
    }
    for key in ["inProgress", "failed", "current"] {
        assert_eq!(exprs[0][key], exprs[1][key], "both kinds follow the same conditions contract ({key})");
    }
}

#[test]
fn flux_judges_every_argo_cd_test_object_as_argo_cd_does() {
    let exprs = documented_exprs();
    let mut checked = 0;
    for entry in &exprs {
        let kind = entry["kind"].as_str().expect("kind");
        let dir = root().join("integrations/argocd/resource_customizations/conferencing.io").join(kind);
        let tests = yaml_file(&dir.join("health_test.yaml"));
        for case in tests["tests"].as_array().expect("tests") {
            let input = case["inputPath"].as_str().expect("inputPath");
            let obj = yaml_file(&dir.join(input));
            let want = match case["healthStatus"]["status"].as_str().expect("status") {
                "Healthy" => Flux::Current,
                "Degraded" => Flux::Failed,
                "Progressing" => Flux::InProgress,
                // Flux has no Suspended: a paused object has nothing in progress to wait for.
                "Suspended" => Flux::Current,
                other => panic!("{kind}/{input}: Argo CD status {other} has no Flux counterpart"),
            };
            let what = format!("{kind}/{input}");
            assert_eq!(verdict(entry, &obj, &what), want, "{what}: Flux and Argo CD disagree");
            checked += 1;
        }
    }
    assert!(checked >= 12, "every Argo CD health case is checked ({checked})");
}

#[test]
fn the_contract_cases_the_argo_cd_tests_do_not_cover() {
    let exprs = documented_exprs();
    let user = &exprs[1];
    let obj = |conditions: Json| {
        serde_json::json!({
            "apiVersion": "conferencing.io/v1alpha1",
            "kind": "ConferencingUser",
            "metadata": {"name": "alice", "namespace": "acme", "generation": 2},
            "spec": {},
            "status": {"observedGeneration": 2, "conditions": conditions},
        })
    };
    let cond =
        |t: &str, s: &str, r: &str| serde_json::json!({"type": t, "status": s, "reason": r, "observedGeneration": 2});
    let cases = [
        // Ready, nothing pending.
        (vec![cond("Ready", "True", "Reconciled")], Flux::Current),
        // Ready, e-mails still queued: not done yet.
        (
            vec![cond("Ready", "True", "Reconciled"), cond("Reconciling", "True", "NotificationsPending")],
            Flux::InProgress,
        ),
        // Ready, but one e-mail refused for good: only a change helps.
        (vec![cond("Ready", "True", "Reconciled"), cond("Stalled", "True", "PermanentFailure")], Flux::Failed),
        // Stalled wins over Reconciling (one e-mail retried, another refused).
        (
            vec![
                cond("Ready", "True", "Reconciled"),
                cond("Reconciling", "True", "RetryingNotifications"),
                cond("Stalled", "True", "PermanentFailure"),
            ],
            Flux::Failed,
        ),
        // Each Stalled reason of the contract.
        (vec![cond("Ready", "False", "InvalidSpec"), cond("Stalled", "True", "InvalidSpec")], Flux::Failed),
        (vec![cond("Ready", "False", "TenantInvalid"), cond("Stalled", "True", "TenantInvalid")], Flux::Failed),
        (vec![cond("Ready", "False", "IdSpaceExhausted"), cond("Stalled", "True", "IdSpaceExhausted")], Flux::Failed),
        // An internal error the operator retries: neither failed nor current.
        (vec![cond("Ready", "False", "InternalError"), cond("Reconciling", "True", "InternalError")], Flux::InProgress),
        (vec![cond("Ready", "False", "InternalError")], Flux::InProgress),
    ];
    for (conditions, want) in cases {
        let o = obj(Json::Array(conditions.clone()));
        assert_eq!(verdict(user, &o, &format!("{conditions:?}")), want, "{conditions:?}");
    }
    // A Stalled condition of an older generation does not fail a new commit: it is in progress.
    let mut stale = obj(Json::Array(vec![cond("Stalled", "True", "InvalidSpec")]));
    stale["metadata"]["generation"] = 3.into();
    assert_eq!(verdict(user, &stale, "stale Stalled"), Flux::InProgress);
}
