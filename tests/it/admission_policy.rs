//! manifests/policies (the ValidatingAdmissionPolicy that limits the operator's writes to its
//! own Secrets) evaluated offline with cel-rust: the project's API server (1.20) cannot run
//! it. Its variables and validations are read from the file, so what is tested is what ships
//! (tests/it/helm_chart.rs checks the chart's copy is the same).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value as Json, json};

fn policy() -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/policies/secret-policy.yaml");
    let text = std::fs::read_to_string(&path).expect("policy file");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .find(|v: &Json| v["kind"] == "ValidatingAdmissionPolicy")
        .expect("a ValidatingAdmissionPolicy")
}

fn eval(expr: &str, vars: &HashMap<&str, Json>) -> bool {
    let program = cel::Program::compile(expr).unwrap_or_else(|e| panic!("not CEL: {expr}\n{e}"));
    let mut ctx = cel::Context::default();
    for (k, v) in vars {
        ctx.add_variable(*k, cel::to_value(v).expect("to CEL value")).expect("variable");
    }
    match program.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => b,
        other => panic!("{expr} gave {other:?}"),
    }
}

/// Whether the policy admits `operation` by the operator on `old` -> `new`.
fn admits(operation: &str, old: Option<Json>, new: Option<Json>) -> bool {
    let p = policy();
    let mut vars: HashMap<&str, Json> = HashMap::new();
    vars.insert("request", json!({"operation": operation, "userInfo": {"username": "system:serviceaccount:conferencing-system:conferencing-operator"}}));
    vars.insert("object", new.unwrap_or(Json::Null));
    vars.insert("oldObject", old.unwrap_or(Json::Null));
    for m in p["spec"]["matchConditions"].as_array().expect("matchConditions") {
        assert!(eval(m["expression"].as_str().expect("expression"), &vars), "the request is the operator's");
    }
    let mut variables = serde_json::Map::new();
    for v in p["spec"]["variables"].as_array().expect("variables") {
        let value = eval(v["expression"].as_str().expect("expression"), &vars);
        variables.insert(v["name"].as_str().expect("name").to_string(), Json::Bool(value));
    }
    vars.insert("variables", Json::Object(variables));
    p["spec"]["validations"]
        .as_array()
        .expect("validations")
        .iter()
        .all(|v| eval(v["expression"].as_str().expect("expression"), &vars))
}

fn secret(name: &str, component: Option<&str>) -> Json {
    let mut labels = serde_json::Map::new();
    if let Some(c) = component {
        labels.insert("app.kubernetes.io/managed-by".into(), json!("conferencing-operator"));
        labels.insert("app.kubernetes.io/component".into(), json!(c));
    }
    json!({"metadata": {"name": name, "labels": labels}})
}

#[test]
fn the_operator_writes_its_pin_secrets_and_records_and_nothing_else() {
    let pin = || secret("alice-conferencing-pin", Some("leader-pin"));
    let record = || secret("alice-conferencing-record", Some("user-record"));
    assert!(admits("CREATE", None, Some(pin())));
    assert!(admits("CREATE", None, Some(record())));
    assert!(admits("UPDATE", Some(pin()), Some(pin())));
    assert!(admits("UPDATE", Some(record()), Some(record())));
    assert!(admits("DELETE", Some(pin()), None));
    assert!(admits("DELETE", Some(record()), None));

    // Anything else is refused: another Secret, a name and label that do not go together,
    // a Secret relabelled into one of the operator's, and deleting a Secret not its own.
    let other = || secret("db-password", None);
    assert!(!admits("CREATE", None, Some(other())));
    assert!(!admits("CREATE", None, Some(secret("db-password", Some("leader-pin")))));
    assert!(!admits("CREATE", None, Some(secret("alice-conferencing-pin", Some("user-record")))));
    assert!(!admits("CREATE", None, Some(secret("alice-conferencing-record", Some("leader-pin")))));
    assert!(!admits("CREATE", None, Some(secret("alice-conferencing-record", None))));
    assert!(!admits("UPDATE", Some(other()), Some(record())));
    assert!(!admits("UPDATE", Some(secret("alice-conferencing-record", None)), Some(record())));
    assert!(!admits("UPDATE", Some(record()), Some(other())));
    assert!(!admits("DELETE", Some(other()), None));
}

/// Adoption in place: a Secret someone labelled `conferencing.io/adopt-pin: "true"` under a
/// user's PIN Secret name (a previous bridge's PIN, put there by External Secrets, say) may
/// become the operator's PIN Secret; no other Secret may, and none may be deleted.
#[test]
fn the_operator_takes_over_only_a_pin_labelled_for_adoption_under_a_pin_secret_name() {
    let brought = |name: &str| json!({"metadata": {"name": name, "labels": {"conferencing.io/adopt-pin": "true"}}});
    let pin = secret("alice-conferencing-pin", Some("leader-pin"));
    assert!(admits("UPDATE", Some(brought("alice-conferencing-pin")), Some(pin.clone())));
    assert!(!admits("UPDATE", Some(brought("legacy-pins")), Some(pin.clone())), "another name");
    assert!(!admits(
        "UPDATE",
        Some(brought("alice-conferencing-record")),
        Some(secret("alice-conferencing-record", Some("user-record")))
    ));
    assert!(!admits("DELETE", Some(brought("alice-conferencing-pin")), None), "never deleted");
    let unlabelled =
        json!({"metadata": {"name": "alice-conferencing-pin", "labels": {"conferencing.io/adopt-pin": "false"}}});
    assert!(!admits("UPDATE", Some(unlabelled), Some(pin)));
}
