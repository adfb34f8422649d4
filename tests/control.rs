//! Issue 21: operators' handles, against the real API server and SMTP server. Pause
//! (`conferencing.io/paused: "true"` on a user or its tenant): the operator writes nothing for
//! the object but the `ReconciliationPaused` condition and sends none of its e-mails; resumed,
//! it does what it would have done, once.

mod support;

use std::time::Duration;

use conferencing_operator::api::{ConditionStatus, ConferencingTenant, ConferencingUser};
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::smtp::SmtpServer;
use support::*;

const FROM: &str = "Audio Conferencing <conferencing@ops.example>";
const USER_RECONCILES: &str = "conferencing_reconciles_total{kind=\"ConferencingUser\",result=\"ok\"}";

fn person(name: &str) -> ConferencingUser {
    let mut u = example_objects().1.into_iter().find(|u| u.name_any() == "alice").expect("example alice");
    u.metadata.name = Some(name.into());
    u.spec.email = format!("{name}@acme.example");
    u.spec.display_name = format!("{name} Example");
    u.spec.conference_id = None;
    u
}

async fn start(name: &str) -> (TestEnv, SmtpServer) {
    let mut env = TestEnv::new(name).await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    env.apply(&example_objects().0).await;
    (env, server)
}

/// Sets or removes the pause annotation, as `kubectl annotate` would.
async fn set_paused<K>(env: &TestEnv, name: &str, paused: bool)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let value = if paused { json!("true") } else { json!(null) };
    env.api::<K>()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"conferencing.io/paused": value}}})),
        )
        .await
        .unwrap_or_else(|e| panic!("annotating {name}: {e}"));
}

fn is_paused(u: &ConferencingUser) -> bool {
    u.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|c| c.type_ == "ReconciliationPaused" && c.status == ConditionStatus::True)
    })
}

fn message_ids(server: &SmtpServer) -> Vec<String> {
    server
        .messages()
        .iter()
        .map(|raw| {
            let text = String::from_utf8_lossy(raw).to_string();
            text.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).unwrap_or_default().to_string()
        })
        .collect()
}

async fn reconciles(env: &TestEnv) -> f64 {
    *env.metrics().await.get(USER_RECONCILES).unwrap_or_else(|| panic!("{USER_RECONCILES} is exported"))
}

/// Asks for a PIN reset while paused; shows that the operator reconciled the change and wrote
/// and sent nothing; resumes with `resume` and checks that exactly one PIN reset follows.
async fn reset_while_paused_then_resume(env: &TestEnv, server: &SmtpServer, resume: impl AsyncFnOnce()) {
    let (pin_before, _) = env.pin("alice").await;
    let writes = env.api_writes();
    let before = reconciles(env).await;
    let mut alice = person("alice");
    alice.spec.requests.reset_pin = Some("while-paused".into());
    env.apply(&alice).await;
    // The operator demonstrably looked at the change: a reconcile ran after it.
    wait_until("the operator reconciled the paused user's change", TIMEOUT, || async {
        (reconciles(env).await > before).then_some(())
    })
    .await;
    env.wait_converged(Duration::from_secs(6)).await;
    assert_eq!(env.api_writes(), writes, "no write for a paused user:\n{}", tail(&env.log(), 20));
    assert_eq!(env.pin("alice").await.0, pin_before, "the PIN is not reset while paused");
    let u = env.user("alice").await;
    assert!(is_paused(&u), "still reported paused");
    assert_ne!(u.status.as_ref().and_then(|s| s.observed_generation), u.metadata.generation, "not observed");
    assert_eq!(server.messages().len(), 1, "no e-mail while paused: {:?}", message_ids(server));

    resume().await;
    env.wait_user("alice", "the PIN reset is handled after the resume", |u| {
        !is_paused(u) && u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("while-paused")
    })
    .await;
    server.wait_for(2, TIMEOUT).await;
    env.wait_converged(Duration::from_secs(6)).await;
    let ids = message_ids(server);
    assert_eq!(ids.len(), 2, "the licence e-mail, then one PIN reset: {ids:?}");
    assert!(ids.iter().filter(|i| i.contains("<pin-reset.")).count() == 1, "{ids:?}");
    let (pin_after, _) = env.pin("alice").await;
    assert_ne!(pin_after, pin_before, "the PIN was reset once resumed");
    let reset = server
        .messages()
        .into_iter()
        .map(|raw| String::from_utf8_lossy(&raw).to_string())
        .find(|m| m.contains("<pin-reset."))
        .expect("the PIN reset e-mail");
    assert!(reset.contains(&pin_after), "the PIN reset e-mail carries the new PIN");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_paused_user_gets_no_write_and_no_email_and_after_resume_exactly_one() {
    let (env, server) = start("pause-user").await;
    env.apply(&person("alice")).await;
    env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;
    env.wait_converged(Duration::from_secs(2)).await;

    set_paused::<ConferencingUser>(&env, "alice", true).await;
    let u = env.wait_user("alice", "ReconciliationPaused=True", is_paused).await;
    let c = u.status.as_ref().expect("status").conditions.iter().find(|c| c.type_ == "ReconciliationPaused").cloned();
    assert!(c.expect("condition").message.contains("on this user"));
    assert!(is_ready(&u), "Ready is left as it was");

    reset_while_paused_then_resume(&env, &server, async || set_paused::<ConferencingUser>(&env, "alice", false).await)
        .await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn pausing_a_tenant_pauses_its_users_and_resuming_it_sends_what_they_are_owed_once() {
    let (env, server) = start("pause-tenant").await;
    env.apply(&person("alice")).await;
    env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;
    env.wait_converged(Duration::from_secs(2)).await;

    set_paused::<ConferencingTenant>(&env, "acme", true).await;
    env.wait_user("alice", "ReconciliationPaused=True through its tenant", is_paused).await;
    wait_until("the tenant reports ReconciliationPaused", TIMEOUT, || async {
        let t = env.api::<ConferencingTenant>().get("acme").await.ok()?;
        t.status?
            .conditions
            .iter()
            .any(|c| c.type_ == "ReconciliationPaused" && c.status == ConditionStatus::True)
            .then_some(())
    })
    .await;
    env.wait_converged(Duration::from_secs(2)).await;

    reset_while_paused_then_resume(&env, &server, async || set_paused::<ConferencingTenant>(&env, "acme", false).await)
        .await;
}

/// Runs the kubectl plugin's binary (as `kubectl conferencing` would) in the test's namespace.
async fn plugin(env: &TestEnv, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-conferencing"))
        .args(args)
        .args(["-n", &env.ns])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("running kubectl-conferencing");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn annotated(meta: &kube::api::ObjectMeta) -> bool {
    meta.annotations.as_ref().is_some_and(|a| a.contains_key("conferencing.io/paused"))
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_plugins_pause_and_resume_verbs_pause_a_user_and_resume_it_once() {
    let (env, server) = start("pause-plugin").await;
    env.apply(&person("alice")).await;
    env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;
    env.wait_converged(Duration::from_secs(2)).await;

    // `pause` returns once the operator shows the condition, not merely once it wrote.
    let (code, out, err) = plugin(&env, &["pause", "alice"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(is_paused(&env.user("alice").await), "returned before ReconciliationPaused=True: {out}");
    assert!(out.contains("ReconciliationPaused=True"), "{out}");
    let (code, out, _) = plugin(&env, &["pause", "alice"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("already paused"), "{out}");

    reset_while_paused_then_resume(&env, &server, async || {
        let (code, out, err) = plugin(&env, &["resume", "alice"]).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(!annotated(&env.user("alice").await.metadata), "the annotation is removed");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_plugin_pauses_a_tenant_and_refuses_objects_a_gitops_tool_manages() {
    let (env, _server) = start("pause-plugin-gitops").await;
    env.apply(&person("alice")).await;
    env.wait_ready("alice").await;

    let (code, out, err) = plugin(&env, &["pause", "--tenant", "acme"]).await;
    assert_eq!(code, 0, "{out}{err}");
    env.wait_user("alice", "ReconciliationPaused=True through its tenant", is_paused).await;
    let (code, out, err) = plugin(&env, &["resume", "--tenant", "acme"]).await;
    assert_eq!(code, 0, "{out}{err}");
    env.wait_user("alice", "no longer paused", |u| !is_paused(u)).await;

    // A user Argo CD tracks: refused with the change to commit; nothing written.
    let mut gina = person("gina");
    gina.metadata.annotations = Some(
        [("argocd.argoproj.io/tracking-id".to_string(), "acme:conferencing.io/ConferencingUser:x/gina".to_string())]
            .into(),
    );
    env.apply(&gina).await;
    env.wait_ready("gina").await;
    let (code, out, err) = plugin(&env, &["pause", "gina"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("Argo CD") && err.contains("annotation argocd.argoproj.io/tracking-id"), "{err}");
    let change: serde_json::Value = serde_yaml::from_str(&out).expect("stdout is the YAML to commit");
    assert_eq!(change["metadata"]["annotations"]["conferencing.io/paused"], "true", "{out}");
    assert!(!annotated(&env.user("gina").await.metadata), "gina was annotated despite the refusal");

    let (code, out, err) = plugin(&env, &["pause", "gina", "--force"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("warning"), "{err}");
    assert!(is_paused(&env.user("gina").await));

    let (code, _, err) = plugin(&env, &["pause", "nobody"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("ConferencingUser") && err.contains("nobody") && err.contains("not found"), "{err}");
}
