//! Attacks by people with the rights docs/security.md gives them (a namespace
//! editor, a status writer), against the real API server and SMTP server. Each test is named
//! for what the operator guarantees; each failed on the release before the fix.

use crate::support::smtp::SmtpServer;
use crate::support::*;
use conferencing_operator::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

const FROM: &str = "Audio Conferencing <conferencing@ops.example>";

/// A licensed Native user of the example tenant, named `name`.
fn person(name: &str) -> ConferencingUser {
    let mut u = example_objects().1.into_iter().find(|u| u.name_any() == "alice").expect("example alice");
    u.metadata.name = Some(name.into());
    u.spec.email = format!("{name}@acme.example");
    u.spec.display_name = format!("{name} Example");
    u.spec.conference_id = None;
    u
}

fn tenant() -> ConferencingTenant {
    example_objects().0
}

/// Server-side applies a user as an administrator would, returning the API server's answer.
async fn try_apply(env: &TestEnv, user: &ConferencingUser) -> Result<ConferencingUser, kube::Error> {
    let mut value = serde_json::to_value(user).expect("json");
    value["metadata"]["namespace"] = json!(env.ns);
    if let Some(m) = value.as_object_mut() {
        m.remove("status");
    }
    env.api::<ConferencingUser>()
        .patch(&user.name_any(), &PatchParams::apply("conferencing-tests").force(), &Patch::Apply(&value))
        .await
}

fn refused_as_invalid(result: Result<ConferencingUser, kube::Error>, what: &str) -> String {
    match result {
        Err(kube::Error::Api(s)) if s.code == 422 => s.message,
        other => panic!("{what}: expected the API server to refuse it (422), got {other:?}"),
    }
}

// ------------------------------------------------------------ one dialled ID, one holder

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_held_conference_id_cannot_be_taken_again_under_another_spelling() {
    let mut env = TestEnv::new("attack-id-spelling").await;
    env.start_operator();
    env.apply(&tenant()).await;
    let mut alice = person("alice");
    alice.spec.conference_id = Some("8885844".into());
    env.apply(&alice).await;
    env.wait_ready("alice").await;

    // A leading zero is stripped by phone systems, so "08885844" dials alice's meeting: the
    // API server refuses it (the CRD's pattern).
    let mut bob = person("bob");
    bob.spec.conference_id = Some("08885844".into());
    let message = refused_as_invalid(try_apply(&env, &bob).await, "a leading zero");
    assert!(message.contains("spec.conferenceId"), "{message}");

    // The CRD cannot know the tenant's length; the controller refuses it (it used to be a
    // `validate` finding only), and claims nothing for it.
    bob.spec.conference_id = Some("88858440".into());
    env.apply(&bob).await;
    let b = env.wait_reason("bob", "InvalidSpec").await;
    let ready = ready_condition(&b).expect("Ready");
    assert!(ready.message.contains("7-digit conference IDs"), "{}", ready.message);
    let claims = env.api::<ConferenceIdClaim>().list(&ListParams::default()).await.expect("claims").items;
    let held: Vec<String> = claims.iter().map(|c| c.name_any()).collect();
    assert_eq!(held, vec!["8885844".to_string()], "only alice's ID is claimed");
    assert!(is_ready(&env.user("alice").await), "alice keeps her ID");
}

// ------------------------------------------------------ addresses no relay can route around

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn recipients_that_relays_route_elsewhere_are_refused_at_admission() {
    let env = TestEnv::new("attack-percent-hack").await;
    let mut t = tenant();
    t.spec.notifications.allowed_recipient_domains = vec!["acme.example".into()];
    env.apply(&t).await;
    for (i, address) in [
        "attacker%evil.example@acme.example",
        "evil.example!attacker@acme.example",
        "\"attacker@evil.example\"@acme.example",
        "@acme.example:attacker@evil.example",
        "attacker@[192.0.2.1]",
    ]
    .into_iter()
    .enumerate()
    {
        let mut u = person(&format!("mallory{i}"));
        u.spec.send_email_to_address = Some(address.into());
        let message = refused_as_invalid(try_apply(&env, &u).await, address);
        assert!(message.contains("sendEmailToAddress"), "{address}: {message}");
        u.spec.send_email_to_address = None;
        u.spec.email = address.into();
        refused_as_invalid(try_apply(&env, &u).await, address);
    }
}

// -------------------------------------------------------- limits a tenant cannot widen

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_tenant_cannot_send_as_another_domain_or_widen_the_clusters_recipients() {
    let mut env = TestEnv::new("attack-cluster-domains").await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&[
        "--smtp-url",
        &url,
        "--smtp-starttls",
        "never",
        "--mail-from",
        FROM,
        "--allowed-sender-domains",
        "acme.example,ops.example",
        "--allowed-recipient-domains",
        "acme.example",
    ]);
    let api = env.api::<ConferencingTenant>();
    // Waits for Ready=False `want` with a message saying `says` (the message of an earlier
    // InvalidSpec must not count).
    let tenant_reason = |want: &'static str, says: &'static str| {
        let api = api.clone();
        async move {
            wait_until(&format!("tenant acme is Ready=False {want}: ...{says}..."), TIMEOUT, || async {
                let t = api.get("acme").await.ok()?;
                let ready = t.status?.conditions.into_iter().find(|c| c.type_ == "Ready")?;
                (ready.reason == want
                    && ready.status == conferencing_operator::api::ConditionStatus::False
                    && ready.message.contains(says))
                .then_some(ready.message)
            })
            .await
        }
    };

    // Sending as another organisation through the shared relay.
    let mut t = tenant();
    t.spec.notifications.send_email_from_address = Some("ceo@globex.example".into());
    env.apply(&t).await;
    let message = tenant_reason("InvalidSpec", "--allowed-sender-domains").await;
    assert!(message.contains("ceo@globex.example"), "{message}");
    env.apply(&person("alice")).await;
    env.wait_reason("alice", "TenantInvalid").await;

    // Widening the cluster's recipient domains from the tenant.
    let mut t = tenant();
    t.spec.notifications.allowed_recipient_domains = vec!["globex.example".into()];
    env.apply(&t).await;
    let message = tenant_reason("InvalidSpec", "can only narrow").await;
    assert!(message.contains("globex.example"), "{message}");

    // With no list of its own, the tenant still has the cluster's.
    env.apply(&tenant()).await;
    env.wait_ready("alice").await;
    let mut bob = person("bob");
    bob.spec.email = "bob@globex.example".into();
    env.apply(&bob).await;
    let b = env.wait_reason("bob", "InvalidSpec").await;
    assert!(ready_condition(&b).expect("Ready").message.contains("this cluster allows"), "{b:?}");

    // alice's licence e-mail is the only one, and it comes from the tenant's allowed sender.
    let received = server.wait_for(1, TIMEOUT).await;
    env.wait_converged(std::time::Duration::from_secs(6)).await;
    let received = if server.messages().len() > received.len() { server.messages() } else { received };
    assert_eq!(received.len(), 1, "one e-mail, alice's");
    let raw = String::from_utf8_lossy(&received[0]);
    assert!(raw.contains("To: alice@acme.example") || raw.contains("<alice@acme.example>"), "{raw}");
    assert!(!raw.contains("globex.example"), "{raw}");
}

#[test]
fn the_operator_refuses_to_start_with_a_sender_outside_the_clusters_domains() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conferencing-operator"))
        .args(["run", "--allowed-sender-domains", "acme.example", "--mail-from", "IT <it@globex.example>"])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run the operator");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--mail-from") && stderr.contains("--allowed-sender-domains"), "{stderr}");
}

// ------------------------------------------------------------- status writes are bounded

fn pending(kind: &str, message_id: &str, recipient: &str) -> serde_json::Value {
    json!({"kind": kind, "messageId": message_id, "recipient": recipient, "attempts": 0})
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_status_writer_gets_at_most_a_few_events_and_no_email_per_write() {
    let mut env = TestEnv::new("attack-event-flood").await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    env.apply(&tenant()).await;
    env.apply(&person("alice")).await;
    let alice = env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;
    let uid = alice.uid().expect("uid");
    let api = env.api::<ConferencingUser>();

    // A thousand forged entries in one write: the API server refuses the write (maxItems).
    let forged = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                pending(
                    "PinReset",
                    &format!("<pin-reset.r{i:04x}.{uid}@conferencing-operator.invalid>"),
                    "attacker@evil.example",
                )
            })
            .collect()
    };
    let refused = api
        .patch_status(
            "alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"notifications": {"pending": forged(1000)}}})),
        )
        .await;
    assert!(matches!(refused, Err(kube::Error::Api(ref s)) if s.code == 422), "{refused:?}");

    // As many as the CRD allows, in one write: one Warning, nothing sent.
    api.patch_status(
        "alice",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"notifications": {"pending": forged(32)}}})),
    )
    .await
    .expect("a status write within maxItems");
    wait_until("the operator rewrote alice's status", TIMEOUT, || async {
        let u = env.user("alice").await;
        u.status?.notifications.pending.iter().all(|n| !n.recipient.contains("evil")).then_some(())
    })
    .await;
    env.wait_converged(std::time::Duration::from_secs(6)).await;
    let about_alice = env
        .api::<k8s_openapi::api::core::v1::Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("alice") && e.type_.as_deref() == Some("Warning"))
        .count();
    assert_eq!(env.wait_event_count("alice", "NotificationDropped", 1).await, 1, "one Warning for the whole write");
    assert!(about_alice <= 2, "{about_alice} Warning Events about alice for one status write");
    assert_eq!(server.messages().len(), 1, "alice's licence e-mail only");
}

// ---------------------------------------------------------------- one spelling per e-mail

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn other_spellings_of_a_delivered_message_id_send_nothing() {
    let mut env = TestEnv::new("attack-message-id-spellings").await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    env.apply(&tenant()).await;
    env.apply(&person("alice")).await;
    let alice = env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;
    let uid = alice.uid().expect("uid");
    let (user_gen, tenant_gen) = (1, 1);
    let spellings: Vec<serde_json::Value> = [
        format!("g0{user_gen}.t{tenant_gen}"),
        format!("g00{user_gen}.t{tenant_gen}"),
        format!("g+{user_gen}.t{tenant_gen}"),
        format!("g{user_gen}.t0{tenant_gen}"),
        format!("g{user_gen}.t+{tenant_gen}"),
        format!("g000{user_gen}.t00{tenant_gen}"),
    ]
    .iter()
    .map(|cause| {
        pending(
            "LicenseAssigned",
            &format!("<license-assigned.{cause}.{uid}@conferencing-operator.invalid>"),
            "alice@acme.example",
        )
    })
    .collect();
    env.api::<ConferencingUser>()
        .patch_status(
            "alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"notifications": {"pending": spellings}}})),
        )
        .await
        .expect("patch status");
    wait_until("the operator rewrote alice's status", TIMEOUT, || async {
        let u = env.user("alice").await;
        u.status?.notifications.pending.is_empty().then_some(())
    })
    .await;
    env.wait_converged(std::time::Duration::from_secs(6)).await;
    let ids: Vec<String> = server
        .messages()
        .iter()
        .map(|raw| {
            let text = String::from_utf8_lossy(raw).to_string();
            text.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "the licence e-mail once, not once per spelling: {ids:?}");
    assert!(ids[0].contains(&format!("license-assigned.g{user_gen}.t{tenant_gen}.{uid}")), "{ids:?}");
}

// ------------------------------------------- the status is a mirror, never the operator's memory

/// An operator for the attacks on the status, with an SMTP server; alice enabled and her
/// licence e-mail delivered.
async fn alice_served(name: &str) -> (TestEnv, SmtpServer, ConferencingUser) {
    let mut env = TestEnv::new(name).await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    env.apply(&tenant()).await;
    env.apply(&person("alice")).await;
    env.wait_ready("alice").await;
    server.wait_for(1, TIMEOUT).await;
    let alice = env
        .wait_user("alice", "the licence e-mail recorded", |u| {
            u.status
                .as_ref()
                .is_some_and(|s| s.notifications.pending.is_empty() && !s.notifications.delivered.is_empty())
        })
        .await;
    env.wait_converged(std::time::Duration::from_secs(3)).await;
    (env, server, alice)
}

/// The Message-IDs of what the SMTP server received.
fn received_ids(server: &SmtpServer) -> Vec<String> {
    server.mails().into_iter().map(|m| m.message_id).collect()
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_delivered_message_id_written_back_into_the_status_is_never_sent_again() {
    let (env, server, alice) = alice_served("attack-redeliver").await;
    let delivered = alice.status.as_ref().expect("status").notifications.delivered[0].message_id.clone();
    assert!(delivered.contains(".g1.t1."), "{delivered}");
    // The delivered Message-ID, and twenty other spellings of it, put back as owed.
    let mut forged = vec![pending("LicenseAssigned", &delivered, "alice@acme.example")];
    for i in 1..=20 {
        let spelling = format!("g{}1.t{}1", "0".repeat(i % 5), "+".repeat(i / 5 % 2));
        forged.push(pending("LicenseAssigned", &delivered.replace("g1.t1", &spelling), "alice@acme.example"));
    }
    env.api::<ConferencingUser>()
        .patch_status(
            "alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"notifications": {"pending": forged}}})),
        )
        .await
        .expect("a status write within maxItems");
    wait_until("the operator rewrote alice's status", TIMEOUT, || async {
        env.user("alice").await.status?.notifications.pending.is_empty().then_some(())
    })
    .await;
    env.wait_converged(std::time::Duration::from_secs(6)).await;
    assert_eq!(received_ids(&server), vec![delivered], "the licence e-mail once, when it was owed");
    assert_eq!(env.wait_event_count("alice", "NotificationDropped", 1).await, 1, "one Warning for the write");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_status_the_operator_cannot_decode_resends_nothing_and_forgets_no_request() {
    let (env, server, _) = alice_served("attack-undecodable").await;
    let mut alice = person("alice");
    alice.spec.requests.send_conferencing_info = Some("info-1".into());
    env.apply(&alice).await;
    server.wait_for(2, TIMEOUT).await;
    env.wait_user("alice", "the information e-mail recorded", |u| {
        u.status.as_ref().is_some_and(|s| {
            s.handled_requests.send_conferencing_info.as_deref() == Some("info-1") && s.notifications.pending.is_empty()
        })
    })
    .await;
    env.wait_converged(std::time::Duration::from_secs(3)).await;
    let before = received_ids(&server);
    // 64 values the API server accepts and the operator's types do not (times with twelve
    // fractional digits): more than the lenient decoder salvages, so the status reads as
    // empty. The operator used to take that as "nothing provisioned, nothing handled".
    let bad = "2026-11-24T10:00:00.123456789123Z";
    let pendings: Vec<serde_json::Value> = (0..32)
        .map(|i| json!({"kind": "PinReset", "messageId": format!("<x{i}@evil.example>"), "recipient": "alice@acme.example", "attempts": 0, "nextAttemptTime": bad}))
        .collect();
    let delivered: Vec<serde_json::Value> = (0..32)
        .map(|i| json!({"kind": "PinReset", "messageId": format!("<y{i}@evil.example>"), "recipient": "alice@acme.example", "time": bad}))
        .collect();
    let raw: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        env.client.clone(),
        &env.ns,
        &kube::api::ApiResource::erase::<ConferencingUser>(&()),
    );
    raw.patch_status(
        "alice",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"notifications": {"pending": pendings, "delivered": delivered}}})),
    )
    .await
    .expect("the API server accepts it");
    wait_until("the operator rewrote alice's status", TIMEOUT, || async {
        let u = env.user("alice").await;
        let s = u.status?;
        (s.unreadable.is_empty() && s.notifications.pending.is_empty() && !s.notifications.delivered.is_empty())
            .then_some(())
    })
    .await;
    env.wait_converged(std::time::Duration::from_secs(6)).await;
    assert_eq!(received_ids(&server), before, "no licence e-mail, no information e-mail again");
    let u = env.user("alice").await;
    let st = u.status.expect("status");
    assert_eq!(st.handled_requests.send_conferencing_info.as_deref(), Some("info-1"), "the request stays handled");
    env.wait_event_count("alice", "StatusUnreadable", 1).await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_request_token_forged_into_the_status_history_is_still_carried_out() {
    let (env, server, _) = alice_served("attack-cancel-request").await;
    let (old_pin, _) = env.pin("alice").await;
    // The token an administrator is about to commit, and as many ticket numbers as the CRD
    // allows, written as handled before.
    let mut previous = vec![json!({"request": "ResetPin", "token": "2026-12-01"})];
    previous.extend((0..23).map(|i| json!({"request": "ResetPin", "token": format!("ticket-{i}")})));
    env.api::<ConferencingUser>()
        .patch_status(
            "alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"handledRequests": {"previous": previous}}})),
        )
        .await
        .expect("a status write within maxItems");
    wait_until("the operator rewrote alice's status", TIMEOUT, || async {
        env.user("alice").await.status?.handled_requests.previous.is_empty().then_some(())
    })
    .await;
    let mut alice = person("alice");
    alice.spec.requests.reset_pin = Some("2026-12-01".into());
    env.apply(&alice).await;
    let mails = server.wait_for(2, TIMEOUT).await;
    assert_eq!(mails.len(), 2, "the PIN-reset e-mail");
    env.wait_converged(std::time::Duration::from_secs(6)).await;
    let (new_pin, _) = env.pin("alice").await;
    assert_ne!(new_pin, old_pin, "the PIN was reset");
    let reset = server.mails().into_iter().find(|m| m.kind == conferencing_operator::api::NotificationKind::PinReset);
    crate::support::mail::assert_pin(&reset.expect("a PinReset e-mail"), &new_pin);
    assert_eq!(env.event_count("alice", "RequestTokenReused").await, 0);
}
