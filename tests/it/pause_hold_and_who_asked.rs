//! Operators' handles, against the real API server and SMTP server. Pause
//! (`conferencing.io/paused: "true"` on a user or its tenant): the operator writes nothing for
//! the object but the `ReconciliationPaused` condition and sends none of its e-mails; resumed,
//! it does what it would have done, once.

use std::time::Duration;

use crate::support::smtp::SmtpServer;
use crate::support::*;
use conferencing_operator::api::{ConditionStatus, ConferencingTenant, ConferencingUser};
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;

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
    let out = tokio::process::Command::new(plugin_binary())
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

/// The audit lines of the operator's log, parsed.
fn audit_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| l.starts_with("{\"audit\":"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("an audit line is not JSON ({e}): {l}")))
        .collect()
}

/// The example records of docs/operations.md ("Who asked, and the audit log"), by action.
fn documented_audit_records() -> std::collections::HashMap<String, serde_json::Value> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md")).expect("docs");
    let block =
        doc.split("```json audit-schema\n").nth(1).and_then(|b| b.split("```").next()).expect("the schema block");
    block
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a documented record is JSON"))
        .map(|v| (v["action"].as_str().expect("action").to_string(), v))
        .collect()
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_pin_reset_names_who_asked_in_status_the_event_and_the_audit_log() {
    let (env, server) = start("who-asked").await;
    env.apply(&person("alice")).await;
    env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;

    // As `kubectl patch cuser alice --type merge --field-manager jane.doe -p ...` writes it.
    let params = PatchParams { field_manager: Some("jane.doe".into()), ..PatchParams::default() };
    env.api::<ConferencingUser>()
        .patch("alice", &params, &Patch::Merge(json!({"spec": {"requests": {"resetPin": "CHG-42"}}})))
        .await
        .expect("patch");
    let u = env
        .wait_user("alice", "the reset handled", |u| {
            u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("CHG-42")
        })
        .await;
    let by = u.status.as_ref().and_then(|s| s.handled_requests.reset_pin_by.clone()).expect("resetPinBy in status");
    assert_eq!(by.manager, "jane.doe");
    assert_eq!(by.operation.as_deref(), Some("Update"));
    assert!(by.time.is_some(), "{by:?}");
    server.wait_for(2, TIMEOUT).await;

    env.wait_event_count("alice", "PinReset", 1).await;
    let events = env.events("alice", "PinReset").await;
    assert!(
        events.iter().any(|e| e.message.as_deref().is_some_and(|m| m.contains("asked by jane.doe at "))),
        "{:?}",
        events.iter().map(|e| e.message.clone()).collect::<Vec<_>>()
    );

    let (pin, _) = env.pin("alice").await;
    let documented = documented_audit_records();
    let alice = |v: &&serde_json::Value| v["user"] == "alice" && v["namespace"] == env.ns.as_str();
    let find = |action: &str| -> serde_json::Value {
        let mut found = None;
        wait_until_sync(|| {
            found = audit_lines(&env.log())
                .into_iter()
                .filter(|v| alice(&v))
                .find(|v| v["action"] == action && v["askedBy"]["manager"] == "jane.doe");
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("no {action} audit line naming jane.doe:\n{}", tail(&env.log(), 30)))
    };
    let handled = find("RequestHandled");
    assert_eq!(handled["request"], "resetPin");
    assert_eq!(handled["token"], "CHG-42");
    assert_eq!(find("PinIssued")["generation"], "reset-pin.CHG-42");
    assert_eq!(find("EmailSent")["kind"], "PinReset");

    // Every audit line has exactly the documented keys of its action, and none holds a PIN.
    let lines = audit_lines(&env.log());
    assert!(
        lines.iter().any(|v| v["action"] == "EmailSent" && v["kind"] == "LicenseAssigned" && v["askedBy"].is_null())
    );
    for v in &lines {
        let action = v["action"].as_str().expect("action");
        let doc = documented.get(action).unwrap_or_else(|| panic!("undocumented action {action}"));
        assert_eq!(keys(v), keys(doc), "the keys of {action}");
        assert_eq!(v["audit"], doc["audit"]);
        if v["askedBy"].is_object() {
            let allowed = keys(&documented["RequestHandled"]["askedBy"]);
            assert!(keys(&v["askedBy"]).is_subset(&allowed), "{v}");
        }
    }
    for l in env.log().lines().filter(|l| l.starts_with("{\"audit\":")) {
        assert!(!l.contains(&pin), "an audit line holds the PIN: {l}");
    }
}

/// Polls `f` until it holds, for up to TIMEOUT.
fn wait_until_sync(mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out after {TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The example tenant with `notifications.hold` and `requests.discardHeldEmails` as given.
fn tenant_holding(hold: bool, discard: Option<&str>) -> ConferencingTenant {
    let mut t = example_objects().0;
    t.spec.notifications.hold = hold;
    t.spec.requests.discard_held_emails = discard.map(Into::into);
    t
}

fn message_ids_by_user(server: &SmtpServer) -> Vec<(String, String)> {
    server.mails().into_iter().map(|m| (m.to, m.message_id)).collect()
}

fn held(u: &ConferencingUser) -> usize {
    let held = u
        .status
        .as_ref()
        .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "NotificationDelivered" && c.reason == "Held"));
    if held { u.status.as_ref().map_or(0, |s| s.notifications.pending.len()) } else { 0 }
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_tenant_hold_keeps_what_is_owed_across_a_restart_sends_each_once_on_release_and_a_discard_sends_none() {
    let (mut env, server) = start("hold").await;
    env.apply(&tenant_holding(true, None)).await;
    for name in ["alice", "bob", "carol"] {
        env.apply(&person(name)).await;
    }
    for name in ["alice", "bob", "carol"] {
        env.wait_user(name, "its licence e-mail held", |u| is_ready(u) && held(u) == 1).await;
    }
    env.wait_converged(Duration::from_secs(3)).await;
    assert_eq!(server.transactions(), 0, "nothing sent while the tenant holds its e-mails");

    // Held e-mails are in the operator's records, not in its process: a restart loses none.
    env.stop_operator();
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    env.wait_converged(Duration::from_secs(6)).await;
    assert_eq!(server.transactions(), 0, "nor after a restart");
    for name in ["alice", "bob", "carol"] {
        assert_eq!(held(&env.user(name).await), 1, "{name}'s e-mail is still held");
    }

    // Released: each is sent once.
    env.apply(&tenant_holding(false, None)).await;
    server.wait_for(3, TIMEOUT).await;
    for name in ["alice", "bob", "carol"] {
        env.wait_user(name, "its licence e-mail delivered", |u| {
            u.status
                .as_ref()
                .is_some_and(|s| s.notifications.pending.is_empty() && !s.notifications.delivered.is_empty())
        })
        .await;
    }
    env.wait_converged(Duration::from_secs(6)).await;
    let sent = message_ids_by_user(&server);
    assert_eq!(sent.len(), 3, "{sent:?}");
    for name in ["alice", "bob", "carol"] {
        assert_eq!(sent.iter().filter(|(to, _)| to.starts_with(name)).count(), 1, "{name}: {sent:?}");
    }

    // Held again, an information e-mail is asked for alice, and the held e-mails discarded:
    // none is sent, then or after the release.
    env.apply(&tenant_holding(true, None)).await;
    let mut alice = person("alice");
    alice.spec.requests.send_conferencing_info = Some("held-info".into());
    env.apply(&alice).await;
    env.wait_user("alice", "the information e-mail held", |u| held(u) == 1).await;
    env.apply(&tenant_holding(true, Some("drop-1"))).await;
    env.wait_user("alice", "the held e-mail dropped", |u| {
        u.status.as_ref().is_some_and(|s| s.notifications.pending.is_empty())
    })
    .await;
    assert_eq!(env.wait_event_count("alice", "HeldNotificationsDiscarded", 1).await, 1);
    env.apply(&tenant_holding(false, Some("drop-1"))).await;
    env.wait_converged(Duration::from_secs(6)).await;
    assert_eq!(message_ids_by_user(&server).len(), 3, "the discarded e-mail is never sent");
    for name in ["bob", "carol"] {
        assert_eq!(env.event_count(name, "HeldNotificationsDiscarded").await, 0, "{name} had nothing held");
    }
}
