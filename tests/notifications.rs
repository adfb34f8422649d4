//! Issue 5: notification e-mails against a real SMTP server (Debian's aiosmtpd).

mod support;

use std::time::Duration;

use conferencing_operator::api::{ConditionStatus, ConferencingTenant, ConferencingUser};
use kube::ResourceExt;
use mail_parser::{Message, MessageParser, MimeHeaders};
use support::smtp::SmtpServer;
use support::*;

const FROM: &str = "Audio Conferencing <conferencing@ops.example>";

struct Mail {
    raw: Vec<u8>,
}

impl Mail {
    fn parsed(&self) -> Message<'_> {
        MessageParser::default().parse(&self.raw).expect("a MIME message")
    }
    fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }
    fn text(&self) -> String {
        self.parsed().body_text(0).map(|c| c.into_owned()).unwrap_or_default()
    }
    fn html(&self) -> String {
        self.parsed().body_html(0).map(|c| c.into_owned()).unwrap_or_default()
    }
    fn from(&self) -> (String, String) {
        let m = self.parsed();
        let a = m.from().and_then(|f| f.first()).expect("From");
        (a.name().unwrap_or_default().to_string(), a.address().unwrap_or_default().to_string())
    }
    fn to(&self) -> String {
        let m = self.parsed();
        m.to().and_then(|t| t.first()).and_then(|a| a.address()).unwrap_or_default().to_string()
    }
    fn message_id(&self) -> String {
        format!("<{}>", self.parsed().message_id().unwrap_or_default())
    }
    fn envelope_to(&self) -> String {
        let raw = String::from_utf8_lossy(&self.raw);
        raw.lines().find_map(|l| l.strip_prefix("X-Envelope-To:")).unwrap_or_default().trim().to_string()
    }
    fn is_multipart_alternative(&self) -> bool {
        let m = self.parsed();
        let ct = m.content_type().expect("Content-Type");
        ct.ctype() == "multipart"
            && ct.subtype() == Some("alternative")
            && m.text_body.len() == 1
            && m.html_body.len() == 1
    }
    fn contains(&self, needle: &str) -> bool {
        self.subject().contains(needle) || self.text().contains(needle) || self.html().contains(needle)
    }
}

async fn mails(server: &SmtpServer, n: usize) -> Vec<Mail> {
    server.wait_for(n, TIMEOUT).await.into_iter().map(|raw| Mail { raw }).collect()
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

async fn start(name: &str) -> Option<(TestEnv, SmtpServer)> {
    let mut env = TestEnv::new(name).await?;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    Some((env, server))
}

#[tokio::test]
async fn licence_email_with_the_tenant_sender_and_the_recipient_override() {
    let Some((env, server)) = start("mail-override").await else { return };
    env.apply(&tenant(true, true)).await;
    env.apply(&user("bob")).await;
    let bob = env.wait_ready("bob").await;
    let mail = mails(&server, 1).await.remove(0);
    let (pin, _) = env.pin("bob").await;

    assert_eq!(mail.from(), ("Acme IT Helpdesk".to_string(), "it-helpdesk@acme.example".to_string()));
    assert_eq!(mail.to(), "bob.okafor@partner.example", "sendEmailToAddress wins over email");
    assert_eq!(mail.envelope_to(), "bob.okafor@partner.example");
    assert!(mail.is_multipart_alternative());
    assert!(mail.text().contains(&pin) && mail.html().contains(&pin), "the licence e-mail carries the PIN");
    assert!(mail.text().contains("4455667") && mail.text().contains("+442075550123"));
    assert!(mail.text().contains("Bob Okafor"));
    let delivered = env
        .wait_user("bob", "delivery recorded", |u| {
            u.status.as_ref().is_some_and(|s| !s.notifications.delivered.is_empty())
        })
        .await;
    let record = &delivered.status.as_ref().expect("status").notifications.delivered[0];
    assert_eq!(mail.message_id(), record.message_id);
    assert!(record.message_id.contains(bob.uid().as_deref().unwrap_or("?")), "derived from the user's UID");
    let c = delivered.status.as_ref().expect("status").conditions.iter().find(|c| c.type_ == "NotificationDelivered");
    assert_eq!(c.map(|c| c.status), Some(ConditionStatus::True));
    assert!(!env.log().contains(&pin), "the PIN is not in the operator's log");
}

#[tokio::test]
async fn default_sender_language_and_the_pin_only_where_it_belongs() {
    let Some((env, server)) = start("mail-default").await else { return };
    env.apply(&tenant(true, false)).await;
    // Dana: French, and asks for the information e-mail in the same commit.
    env.apply(&user("dana")).await;
    env.wait_ready("dana").await;
    let all = mails(&server, 2).await;
    let (pin, _) = env.pin("dana").await;
    for m in &all {
        assert_eq!(m.from(), ("Audio Conferencing".to_string(), "conferencing@ops.example".to_string()));
        assert_eq!(m.to(), "dana.lefevre@acme.example");
    }
    let licence = all.iter().find(|m| m.contains(&pin)).expect("the licence e-mail has the PIN");
    assert!(licence.text().contains("Bonjour"), "French body: {}", licence.text());
    let info = all.iter().find(|m| !m.contains(&pin)).expect("the information e-mail has no PIN");
    assert!(info.text().contains("+33175550100"), "it has the numbers");
    assert_ne!(licence.message_id(), info.message_id());

    // A PIN reset e-mails the new PIN; the old one appears nowhere in it.
    let mut dana = user("dana");
    dana.spec.requests.reset_pin = Some("t1".into());
    env.apply(&dana).await;
    let all = mails(&server, 3).await;
    let (new_pin, _) = env.pin("dana").await;
    let reset = &all[2];
    assert!(reset.contains(&new_pin) && !reset.contains(&pin));
    assert!(
        !reset.subject().is_empty() && !reset.subject().is_ascii(),
        "French subject, RFC 2047 decoded: {}",
        reset.subject()
    );
}

#[tokio::test]
async fn automatic_emails_off_sends_only_the_requested_information() {
    let Some((env, server)) = start("mail-auto-off").await else { return };
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(server.messages().is_empty(), "licence and PIN reset e-mails are not sent when automatic e-mails are off");
    let u = env.user("alice").await;
    let ready = ready_condition(&u).expect("Ready");
    assert!(ready.message.contains("alice-conferencing-pin"), "status says where the PIN is: {}", ready.message);
    env.wait_event_count("alice", "NotificationSuppressed", 2).await;

    alice.spec.requests.send_conferencing_info = Some("i1".into());
    env.apply(&alice).await;
    let m = mails(&server, 1).await.remove(0);
    let (pin, _) = env.pin("alice").await;
    assert!(!m.contains(&pin), "the information e-mail never has the PIN");
    assert!(m.text().contains("Alice Martin"));
}

#[tokio::test]
async fn mail_server_down_then_back_delivers_exactly_once() {
    let Some((env, server)) = start("mail-down").await else { return };
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
    let all = server.wait_for(2, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.messages().len(), 2, "exactly one PIN-reset e-mail after the server came back");
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn a_permanent_refusal_is_reported_and_not_retried() {
    let Some((env, server)) = start("mail-550").await else { return };
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
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(server.transactions(), before, "no retry storm after a 550");
    env.wait_event_count("alice", "NotificationFailed", 1).await;
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn pending_emails_survive_an_operator_crash() {
    let Some((mut env, server)) = start("mail-crash").await else { return };
    env.apply(&tenant(true, false)).await;
    server.down();
    env.apply_examples().await;
    env.kill_operator();
    server.up();
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--mail-from", FROM]);
    // Four licence e-mails and Dana's information e-mail, each once.
    let all = server.wait_for(5, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: std::collections::HashSet<String> = all.iter().map(|raw| Mail { raw: raw.clone() }.message_id()).collect();
    assert_eq!(server.messages().len(), 5);
    assert_eq!(ids.len(), 5, "no Message-ID twice");
}

#[tokio::test]
async fn starttls_and_auth_with_the_password_from_a_file() {
    let Some(mut env) = TestEnv::new("mail-tls").await else { return };
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
    assert_eq!(m.to(), "alice.martin@acme.example");
    assert!(!env.log().contains(&server.password), "the SMTP password is not logged");
}
