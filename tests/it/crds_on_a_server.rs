//! The CRDs as a real API server serves them: what it admits and refuses, and a user and a
//! tenant reconciled by the operator.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;
use conferencing_operator::api::{ConditionStatus, ConferencingTenant, ConferencingUser};
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

fn kubectl(args: &[&str]) -> String {
    let out = Command::new("kubectl").args(args).output().expect("kubectl on PATH");
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn wait_tenant(env: &TestEnv, name: &str, what: &str, check: impl Fn(&ConferencingTenant) -> bool) {
    let api = env.api::<ConferencingTenant>();
    wait_until(what, TIMEOUT, || async { api.get(name).await.ok().filter(|t| check(t)) }).await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn examples_become_ready_and_show_their_columns() {
    let mut env = TestEnv::new("examples").await;
    env.start_operator();
    let (tenant, users) = example_objects();
    env.apply(&tenant).await;
    for u in &users {
        env.apply(u).await;
    }
    for u in &users {
        let got = env.wait_ready(&u.name_any()).await;
        assert_eq!(got.status.as_ref().and_then(|s| s.observed_generation), got.metadata.generation);
    }
    wait_tenant(&env, "acme", "tenant Ready with 5 users", |t| {
        t.status.as_ref().is_some_and(|s| {
            s.users == 5
                && s.observed_generation == t.metadata.generation
                && s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
        })
    })
    .await;

    let users_table = kubectl(&["get", "cuser", "-n", &env.ns]);
    let header = users_table.lines().next().unwrap_or_default();
    for col in ["NAME", "TENANT", "PROVIDER", "LICENSED", "CONFERENCE ID", "READY", "AGE"] {
        assert!(header.contains(col), "column {col} missing from `kubectl get cuser`:\n{users_table}");
    }
    let bob = users_table.lines().find(|l| l.starts_with("bob ")).expect("bob listed");
    assert!(bob.contains("4455667") && bob.contains("True"), "{bob}");
    let tenants_table = kubectl(&["get", "ctenant", "-n", &env.ns]);
    for col in ["NUMBERS", "PIN LENGTH", "AUTO E-MAIL", "READY", "AGE"] {
        assert!(tenants_table.contains(col), "column {col} missing from `kubectl get ctenant`:\n{tenants_table}");
    }

    let explain = kubectl(&["explain", "conferencingusers.spec.requests"]);
    for text in ["resetPin", "resetConferenceId", "sendConferencingInfo", "asks for the action once"] {
        assert!(explain.contains(text), "`kubectl explain` lacks {text:?}:\n{explain}");
    }
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_user_becomes_ready_within_seconds_of_its_tenant_appearing() {
    let mut env = TestEnv::new("late-tenant").await;
    env.start_operator();
    let (tenant, users) = example_objects();
    env.apply(&users[0]).await;
    let u = env.wait_reason("alice", "TenantNotFound").await;
    let c = ready_condition(&u).expect("Ready");
    assert_eq!(c.status, ConditionStatus::False);
    assert!(c.message.contains("acme"), "{}", c.message);

    let started = Instant::now();
    env.apply(&tenant).await;
    let api = env.api::<ConferencingUser>();
    wait_until("alice Ready within 10 s of the tenant's creation", Duration::from_secs(10), || async {
        api.get("alice").await.ok().filter(is_ready)
    })
    .await;
    eprintln!("alice became Ready {:?} after the tenant was created", started.elapsed());
}

/// Each fixture names the field its error must mention. The API server rejects what the
/// schema can express; what only CEL can express is accepted by API servers older than 1.25
/// and must then be reported by the operator as InvalidSpec, naming the field.
#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn invalid_input_is_rejected_or_reported_naming_the_field() {
    let mut env = TestEnv::new("invalid").await;
    env.start_operator();
    let (tenant, _) = example_objects();
    env.apply(&tenant).await;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("fixtures").map(|e| e.expect("entry").path()).collect();
    files.sort();
    assert!(files.len() >= 10);
    let (mut rejected, mut reported) = (Vec::new(), Vec::new());
    for path in files {
        let doc = yaml_docs(path.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("in repo").to_str().expect("utf8"))
            .remove(0);
        let kind = doc["kind"].as_str().expect("kind").to_string();
        let name = doc["metadata"]["name"].as_str().expect("name").to_string();
        let field = doc["metadata"]["annotations"]["test.conferencing.io/expect-field"]
            .as_str()
            .expect("annotation")
            .to_string();
        let mut value: serde_json::Value = serde_json::to_value(&doc).expect("json");
        value["metadata"]["namespace"] = serde_json::Value::String(env.ns.clone());
        let params = PatchParams::apply("conferencing-tests").force();
        let result = match kind.as_str() {
            "ConferencingTenant" => {
                env.api::<ConferencingTenant>().patch(&name, &params, &Patch::Apply(&value)).await.map(|_| ())
            }
            _ => env.api::<ConferencingUser>().patch(&name, &params, &Patch::Apply(&value)).await.map(|_| ()),
        };
        match result {
            Err(kube::Error::Api(status)) => {
                assert!(
                    status.message.contains(&field),
                    "{}: the API server's message does not name {field}: {}",
                    path.display(),
                    status.message
                );
                rejected.push(name);
            }
            Err(e) => panic!("{}: unexpected error {e}", path.display()),
            Ok(()) if kind == "ConferencingTenant" => {
                wait_tenant(&env, &name, &format!("tenant {name} InvalidSpec naming {field}"), |t| {
                    t.status.as_ref().is_some_and(|s| {
                        s.conditions.iter().any(|c| {
                            c.type_ == "Ready"
                                && c.status == ConditionStatus::False
                                && c.reason == "InvalidSpec"
                                && c.message.contains(&field)
                        })
                    })
                })
                .await;
                reported.push(name);
            }
            Ok(()) => {
                let u = env.wait_reason(&name, "InvalidSpec").await;
                let c = ready_condition(&u).expect("Ready");
                assert!(c.message.contains(&field), "{}: message does not name {field}: {}", path.display(), c.message);
                reported.push(name);
            }
        }
    }
    eprintln!("rejected by the API server: {rejected:?}\nreported as InvalidSpec: {reported:?}");
    // bad-email: the CRDs carry the address grammar now, so the API server refuses it.
    for must_reject in ["pin-too-long", "bad-number", "bad-mode", "no-email", "long-token", "bad-provider", "bad-email"]
    {
        assert!(rejected.iter().any(|n| n == must_reject), "{must_reject} should be rejected by the schema");
    }
    for must_report in ["unknown-number", "third-party-without-name"] {
        assert!(reported.iter().any(|n| n == must_report), "{must_report} should be reported by the operator");
    }
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn sigterm_stops_the_operator_cleanly() {
    let mut env = TestEnv::new("sigterm").await;
    env.start_operator();
    let (tenant, users) = example_objects();
    env.apply(&tenant).await;
    env.apply(&users[0]).await;
    env.wait_ready("alice").await;
    env.stop_operator();
    let log = env.log();
    assert!(log.contains("shutdown requested") && log.contains("controllers stopped"), "{}", tail(&log, 10));
}
