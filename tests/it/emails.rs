//! The e-mails the reference system sends, when it sends them, as a real SMTP server (Debian's
//! aiosmtpd) receives them: headers, languages, PINs only where they belong.

use std::time::Duration;

use crate::support::mail::{self, Mail};
use crate::support::smtp::SmtpServer;
use crate::support::*;
use conferencing_operator::api::NotificationKind;
use conferencing_operator::api::{ConditionStatus, ConferencingTenant, ConferencingUser};
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

const FROM: &str = "Audio Conferencing <conferencing@ops.example>";

/// The sender's display name and address.
fn from(m: &Mail) -> (String, String) {
    let p = m.parsed();
    let a = p.from().and_then(|f| f.first()).expect("From");
    (a.name().unwrap_or_default().to_string(), a.address().unwrap_or_default().to_string())
}

/// The envelope recipient the server recorded.
fn envelope_to(m: &Mail) -> String {
    let raw = String::from_utf8_lossy(&m.raw);
    raw.lines().find_map(|l| l.strip_prefix("X-Envelope-To:")).unwrap_or_default().trim().to_string()
}

async fn mails(server: &SmtpServer, n: usize) -> Vec<Mail> {
    server.wait_for(n, TIMEOUT).await;
    server.mails()
}

/// What was received, once the operator is idle past its retry interval: exactly the
/// e-mails the users' statuses record, each Message-ID once, and nothing else.
async fn received_exactly_once(env: &TestEnv, server: &SmtpServer) -> Vec<Mail> {
    env.wait_idle().await;
    let users = env.api::<ConferencingUser>().list(&Default::default()).await.expect("list users").items;
    let recorded: Vec<_> = users.iter().flat_map(mail::recorded).collect();
    let received = server.mails();
    mail::assert_exactly_once(&received, &recorded);
    received
}

/// Reconciles of users so far, whatever their result; fails if the operator exports none.
async fn reconciles(env: &TestEnv) -> f64 {
    let m = env.metrics().await;
    let prefix = "conferencing_reconciles_total{kind=\"ConferencingUser\",";
    let samples: Vec<f64> = m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| *v).collect();
    assert!(!samples.is_empty(), "the operator exports no {prefix}..}} metric");
    samples.iter().sum()
}

fn user(name: &str) -> ConferencingUser {
    example_objects().1.into_iter().find(|u| u.name_any() == name).expect("example user")
}

fn tenant(automatic: bool, override_sender: bool) -> ConferencingTenant {
    let mut t = example_objects().0;
    t.spec.notifications.automatically_send_emails_to_users = automatic;
    if !override_sender {
        t.spec.notifications.send_email_override = false;
        t.spec.notifications.send_email_from_address = None;
        t.spec.notifications.send_email_from_display_name = None;
    }
    t
}

async fn start(name: &str) -> (TestEnv, SmtpServer) {
    let mut env = TestEnv::new(name).await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    (env, server)
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn licence_email_with_the_tenant_sender_and_the_recipient_override() {
    let (env, server) = start("mail-override").await;
    env.apply(&tenant(true, true)).await;
    env.apply(&user("bob")).await;
    let bob = env.wait_ready("bob").await;
    let mail = mails(&server, 1).await.remove(0);
    let (pin, _) = env.pin("bob").await;

    assert_eq!(mail.kind, NotificationKind::LicenseAssigned);
    assert_eq!(from(&mail), ("Acme IT Helpdesk".to_string(), "it-helpdesk@acme.example".to_string()));
    assert_eq!(mail.to, "bob.okafor@partner.example", "sendEmailToAddress wins over email");
    assert_eq!(envelope_to(&mail), "bob.okafor@partner.example");
    assert!(mail.is_multipart_alternative());
    assert!(mail.text.contains(&pin) && mail.html.contains(&pin), "the licence e-mail carries the PIN");
    assert!(mail.text.contains("4455667") && mail.text.contains("+442075550123"));
    assert!(mail.text.contains("Bob Okafor"));
    let delivered = env
        .wait_user("bob", "delivery recorded", |u| {
            u.status.as_ref().is_some_and(|s| !s.notifications.delivered.is_empty())
        })
        .await;
    let record = &delivered.status.as_ref().expect("status").notifications.delivered[0];
    assert_eq!(mail.message_id, record.message_id);
    assert!(record.message_id.contains(bob.uid().as_deref().unwrap_or("?")), "derived from the user's UID");
    let c = delivered.status.as_ref().expect("status").conditions.iter().find(|c| c.type_ == "NotificationDelivered");
    assert_eq!(c.map(|c| c.status), Some(ConditionStatus::True));
    assert!(!env.log().contains(&pin), "the PIN is not in the operator's log");
    assert_eq!(received_exactly_once(&env, &server).await.len(), 1, "the licence e-mail, once");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn default_sender_language_and_the_pin_only_where_it_belongs() {
    let (env, server) = start("mail-default").await;
    env.apply(&tenant(true, false)).await;
    // Dana: French, and asks for the information e-mail in the same commit.
    env.apply(&user("dana")).await;
    env.wait_ready("dana").await;
    mails(&server, 2).await;
    let all = received_exactly_once(&env, &server).await;
    assert_eq!(all.len(), 2, "the licence and the information e-mails");
    let (pin, _) = env.pin("dana").await;
    for m in &all {
        assert_eq!(from(m), ("Audio Conferencing".to_string(), "conferencing@ops.example".to_string()));
        assert_eq!(m.to, "dana.lefevre@acme.example");
        mail::assert_pin(m, &pin);
    }
    let licence = all.iter().find(|m| m.kind == NotificationKind::LicenseAssigned).expect("the licence e-mail");
    assert!(licence.text.contains("Bonjour"), "French body: {}", licence.text);
    let info =
        all.iter().find(|m| m.kind == NotificationKind::ConferencingInfoRequested).expect("the information e-mail");
    assert!(info.text.contains("+33175550100"), "it has the numbers");

    // A PIN reset e-mails the new PIN; the old one appears nowhere in it.
    let mut dana = user("dana");
    dana.spec.requests.reset_pin = Some("t1".into());
    env.apply(&dana).await;
    mails(&server, 3).await;
    let all = received_exactly_once(&env, &server).await;
    assert_eq!(all.len(), 3, "and the PIN-reset e-mail");
    let (new_pin, _) = env.pin("dana").await;
    let reset = all.iter().find(|m| m.kind == NotificationKind::PinReset).expect("the PIN-reset e-mail");
    mail::assert_pin(reset, &new_pin);
    assert!(!reset.contains(&pin), "the old PIN appears nowhere in it");
    assert!(
        !reset.subject.is_empty() && !reset.subject.is_ascii(),
        "French subject, RFC 2047 decoded: {}",
        reset.subject
    );
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn automatic_emails_off_sends_only_the_requested_information() {
    let (env, server) = start("mail-auto-off").await;
    env.apply(&tenant(false, false)).await;
    let mut alice = user("alice");
    env.apply(&alice).await;
    env.wait_ready("alice").await;
    alice.spec.requests.reset_pin = Some("t1".into());
    env.apply(&alice).await;
    env.wait_user("alice", "reset handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("t1")
    })
    .await;
    // The operator has decided about both e-mails (one Event each) and is idle past its retry
    // interval before their absence is checked.
    wait_until("both e-mails suppressed", TIMEOUT, || async {
        (env.event_count("alice", "NotificationSuppressed").await >= 2).then_some(())
    })
    .await;
    env.wait_idle().await;
    assert!(server.messages().is_empty(), "licence and PIN reset e-mails are not sent when automatic e-mails are off");
    assert_eq!(server.transactions(), 0, "nor attempted");
    let u = env.user("alice").await;
    let ready = ready_condition(&u).expect("Ready");
    assert!(ready.message.contains("alice-conferencing-pin"), "status says where the PIN is: {}", ready.message);

    alice.spec.requests.send_conferencing_info = Some("i1".into());
    env.apply(&alice).await;
    mails(&server, 1).await;
    // Only that e-mail, then nothing else.
    let all = received_exactly_once(&env, &server).await;
    assert_eq!(
        all.len(),
        1,
        "only the requested information e-mail: {:?}",
        all.iter().map(|m| m.kind).collect::<Vec<_>>()
    );
    let m = &all[0];
    assert_eq!(m.kind, NotificationKind::ConferencingInfoRequested);
    let (pin, _) = env.pin("alice").await;
    mail::assert_pin(m, &pin);
    assert!(m.text.contains("Alice Martin"));
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn mail_server_down_then_back_delivers_exactly_once() {
    let (env, server) = start("mail-down").await;
    env.apply(&tenant(true, false)).await;
    let mut alice = user("alice");
    env.apply(&alice).await;
    mails(&server, 1).await;
    server.down();
    alice.spec.requests.reset_pin = Some("while-down".into());
    env.apply(&alice).await;
    let u = env
        .wait_user("alice", "a pending e-mail with an error", |u| {
            u.status
                .as_ref()
                .is_some_and(|s| s.notifications.pending.iter().any(|n| n.attempts > 0 && n.last_error.is_some()))
        })
        .await;
    let c = u.status.as_ref().expect("status").conditions.iter().find(|c| c.type_ == "NotificationDelivered").cloned();
    assert_eq!(c.map(|c| (c.status, c.reason)), Some((ConditionStatus::False, "Pending".to_string())));
    server.up();
    server.wait_for(2, Duration::from_secs(90)).await;
    let all = received_exactly_once(&env, &server).await;
    let kinds: Vec<NotificationKind> = all.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [NotificationKind::LicenseAssigned, NotificationKind::PinReset],
        "the licence e-mail, then exactly one PIN-reset e-mail after the server came back"
    );
    mail::assert_pin(&all[1], &env.pin("alice").await.0);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_permanent_refusal_is_reported_and_not_retried() {
    let (env, server) = start("mail-550").await;
    server.mode("reject-permanent");
    env.apply(&tenant(true, false)).await;
    env.apply(&user("alice")).await;
    let u = env
        .wait_user("alice", "NotificationDelivered=False PermanentFailure", |u| {
            u.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| c.type_ == "NotificationDelivered" && c.reason == "PermanentFailure")
            })
        })
        .await;
    assert!(is_ready(&u), "a refused e-mail does not block the user's reconciliation");
    let before = server.transactions();
    assert!(before >= 1, "the refusal is in the server's log");
    // Its chance to retry: alice is reconciled again (an annotation; counted), and the
    // operator then stays quiet past its retry interval.
    let reconciled = reconciles(&env).await;
    env.api::<ConferencingUser>()
        .patch(
            "alice",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"poke": "1"}}})),
        )
        .await
        .expect("annotate");
    wait_until("alice reconciled again", TIMEOUT, || async { (reconciles(&env).await > reconciled).then_some(()) })
        .await;
    env.wait_converged(QUIET).await;
    assert_eq!(server.transactions(), before, "no retry after a 550");
    env.wait_event_count("alice", "NotificationFailed", 1).await;
    assert!(server.messages().is_empty());
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn pending_emails_survive_an_operator_crash() {
    let (mut env, server) = start("mail-crash").await;
    env.apply(&tenant(true, false)).await;
    server.down();
    env.apply_examples().await;
    // The precondition: e-mails are owed (recorded, undelivered) when the operator dies.
    let pending = wait_until("e-mails owed", TIMEOUT, || async {
        let p = env.metric("conferencing_notifications_pending").await;
        (p >= 5.0).then_some(p)
    })
    .await;
    env.kill_operator();
    assert!(server.messages().is_empty(), "nothing could be delivered before the crash");
    eprintln!("{pending} e-mails owed at the crash");
    server.up();
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    // Four licence e-mails and Dana's information e-mail, each once.
    server.wait_for(5, Duration::from_secs(120)).await;
    let all = received_exactly_once(&env, &server).await;
    assert_eq!(all.len(), 5);
    let licences = all.iter().filter(|m| m.kind == NotificationKind::LicenseAssigned).count();
    assert_eq!(licences, 4, "{:?}", all.iter().map(|m| m.kind).collect::<Vec<_>>());
    for u in env.api::<ConferencingUser>().list(&Default::default()).await.expect("users").items {
        let uid = u.uid().expect("uid");
        for m in all.iter().filter(|m| m.uid == uid) {
            mail::assert_pin(m, &env.pin(&u.name_any()).await.0);
        }
    }
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn starttls_and_auth_with_the_password_from_a_file() {
    let mut env = TestEnv::new("mail-tls").await;
    let server = SmtpServer::start_with(&env.ns, &["--require-auth"]);
    let password_file = env.log_path("smtp-password");
    std::fs::write(&password_file, format!("{}\n", server.password)).expect("password file");
    let username_file = env.log_path("smtp-username");
    std::fs::write(&username_file, "conferencing\n").expect("username file");
    let (url, ca, pw) = (server.url(), server.ca.display().to_string(), password_file.display().to_string());
    let user_file = username_file.display().to_string();
    env.start_operator_with(&[
        "--smtp-url",
        &url,
        "--smtp-starttls",
        "required",
        "--smtp-ca-file",
        &ca,
        "--smtp-username-file",
        &user_file,
        "--smtp-password-file",
        &pw,
        "--mail-from",
        FROM,
    ]);
    env.apply(&tenant(true, false)).await;
    env.apply(&user("alice")).await;
    let m = mails(&server, 1).await.remove(0);
    assert_eq!(m.to, "alice.martin@acme.example");
    assert!(!env.log().contains(&server.password), "the SMTP password is not logged");
}
