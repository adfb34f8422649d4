//! The PIN lifecycle under a tenant's policy, against the real API server and SMTP server:
//! rotation once per lifetime with an "expired" e-mail and never a repeated PIN; a cap of N
//! automatic e-mails a minute the SMTP server never sees exceeded; a send window outside which
//! only on-request e-mails arrive.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::mail::Mail;
use crate::support::smtp::SmtpServer;
use crate::support::*;
use conferencing_operator::api::{ConferencingTenant, ConferencingUser, NotificationKind, SendWindow};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;

async fn start(name: &str) -> (TestEnv, SmtpServer) {
    let mut env = TestEnv::new(name).await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never"]);
    (env, server)
}

fn tenant() -> ConferencingTenant {
    let mut t = example_objects().0;
    t.spec.notifications.send_email_override = false;
    t.spec.notifications.send_email_from_address = None;
    t.spec.notifications.send_email_from_display_name = None;
    t
}

fn user(name: &str) -> ConferencingUser {
    let mut u = example_objects().1.into_iter().find(|u| u.name_any() == "alice").expect("alice");
    u.metadata.name = Some(name.into());
    u.spec.email = format!("{name}@acme.example");
    u.spec.send_email_to_address = None;
    u.spec.conference_id = None;
    u.spec.requests = Default::default();
    u.spec.locale = Some(conferencing_operator::api::Locale::En);
    u
}

fn by_user(mails: &[Mail]) -> BTreeMap<String, Vec<&Mail>> {
    let mut m: BTreeMap<String, Vec<&Mail>> = BTreeMap::new();
    for mail in mails {
        m.entry(mail.to.clone()).or_default().push(mail);
    }
    m
}

/// The PIN an e-mail carries (the licence and PIN-reset e-mails' "PIN: 123456" line).
fn pin_in(m: &Mail) -> String {
    let line = m.text.lines().find(|l| l.contains("PIN:")).unwrap_or_default();
    line.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn every_pin_is_rotated_once_per_lifetime_with_an_expired_email_and_never_repeats() {
    let (env, server) = start("pin-lifetime").await;
    let mut t = tenant();
    t.spec.pin.lifetime = Some("30s".into());
    t.spec.pin.history_count = 5;
    let length = t.spec.pin.length;
    env.apply(&t).await;
    let names = ["u1", "u2", "u3", "u4"];
    for n in names {
        env.apply(&user(n)).await;
    }
    for n in names {
        let u = env.wait_ready(n).await;
        assert!(u.status.as_ref().and_then(|s| s.pin_expires_at.as_ref()).is_some(), "{n}: pinExpiresAt");
    }
    let started = Instant::now();
    // Two lifetimes: each user's PIN is rotated twice (its rotation point lies in the last
    // tenth of each lifetime), with one "expired" e-mail each time.
    server.wait_for(names.len() * 3, Duration::from_secs(90)).await;
    let elapsed = started.elapsed();
    env.wait_idle().await;
    let mails = server.mails();
    for (to, mine) in by_user(&mails) {
        let resets: Vec<&&Mail> = mine.iter().filter(|m| m.kind == NotificationKind::PinReset).collect();
        let expected = (elapsed.as_secs() + 5) / 30;
        assert!(
            (2..=expected.max(2) as usize + 1).contains(&resets.len()),
            "{to}: {} rotations in {elapsed:?}",
            resets.len()
        );
        for r in &resets {
            assert!(r.subject.contains("expired"), "the e-mail says why: {}", r.subject);
            assert!(r.text.contains("expired"), "{}", r.text);
        }
        let pins: Vec<String> = mine.iter().map(|m| pin_in(m)).collect();
        let distinct: BTreeSet<&String> = pins.iter().collect();
        assert_eq!(distinct.len(), pins.len(), "{to}: a PIN repeated: {pins:?}");
        assert!(pins.iter().all(|p| p.len() == usize::from(length)), "the tenant's length: {pins:?}");
    }
    // The history is hashes in the PIN Secret, never the PINs.
    let (pin, _) = env.pin("u1").await;
    let secret: k8s_openapi::api::core::v1::Secret = env.api().get("u1-conferencing-pin").await.expect("secret");
    let history =
        secret.data.as_ref().and_then(|d| d.get("pin-history")).map(|b| String::from_utf8_lossy(&b.0).to_string());
    let history = history.expect("a history");
    assert!(history.starts_with("pbkdf2-sha256:"), "{history}");
    for m in by_user(&mails).get("u1@acme.example").into_iter().flatten() {
        assert!(!history.contains(&pin_in(m)), "a PIN in the history");
    }
    assert!(!history.contains(&pin));
    assert!(
        env.events("u1", "PinRotated")
            .await
            .iter()
            .any(|e| e.message.as_deref().is_some_and(|m| m.contains("expired")))
    );
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_cap_of_n_emails_a_minute_is_never_exceeded_and_requests_are_not_held_back() {
    let (env, server) = start("pin-cap").await;
    let mut t = tenant();
    t.spec.notifications.max_emails_per_minute = Some(3);
    env.apply(&t).await;
    for i in 0..6 {
        env.apply(&user(&format!("c{i}"))).await;
    }
    server.wait_for(3, TIMEOUT).await;
    let first = Instant::now();
    // The others wait, owed and recorded.
    let users = env.api::<ConferencingUser>().list(&Default::default()).await.expect("users").items;
    let owed = users.iter().filter(|u| u.status.as_ref().is_some_and(|s| !s.notifications.pending.is_empty())).count();
    assert!(owed >= 3, "{owed} users owe their licence e-mail");
    // An on-request e-mail is not held back by the cap.
    env.api::<ConferencingUser>()
        .patch(
            "c0",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "requests": { "sendConferencingInfo": "t1" } } })),
        )
        .await
        .expect("patch");
    wait_until("the information e-mail", TIMEOUT, || async {
        server.mails().iter().any(|m| m.kind == NotificationKind::ConferencingInfoRequested).then_some(())
    })
    .await;
    let licences = || server.mails().iter().filter(|m| m.kind == NotificationKind::LicenseAssigned).count();
    while first.elapsed() < Duration::from_secs(50) {
        assert!(licences() <= 3, "{} licence e-mails within the first minute", licences());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The next minute has room for the other three.
    wait_until("the rest of the licence e-mails", Duration::from_secs(45), || async {
        (licences() == 6).then_some(())
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn outside_the_send_window_only_on_request_emails_arrive() {
    let (env, server) = start("pin-window").await;
    // A one-hour window twelve hours from now, in UTC.
    let hour = Timestamp::now().to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).hour();
    let at = |h: i8| format!("{:02}:00", (h + 24) % 24);
    let closed = SendWindow { start: at(hour + 12), end: at(hour + 13), time_zone: "UTC".into() };
    let mut t = tenant();
    t.spec.notifications.send_window = Some(closed);
    env.apply(&t).await;
    let mut u = user("w1");
    u.spec.requests.send_conferencing_info = Some("now".into());
    env.apply(&u).await;
    env.wait_ready("w1").await;
    server.wait_for(1, TIMEOUT).await;
    // Not idle: the licence e-mail is owed until the window opens.
    env.wait_converged(QUIET).await;
    let kinds: Vec<NotificationKind> = server.mails().iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [NotificationKind::ConferencingInfoRequested], "the licence e-mail waits for the window");
    let owed = env.user("w1").await;
    let pending: Vec<NotificationKind> =
        owed.status.as_ref().map(|s| s.notifications.pending.iter().map(|n| n.kind).collect()).unwrap_or_default();
    assert_eq!(pending, [NotificationKind::LicenseAssigned], "owed and recorded");
    // The window opened (here: moved to now): it goes, once.
    let open = SendWindow { start: at(hour), end: at(hour + 1), time_zone: "UTC".into() };
    env.api::<ConferencingTenant>()
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "notifications": { "sendWindow": open } } })),
        )
        .await
        .expect("patch");
    server.wait_for(2, TIMEOUT).await;
    env.wait_idle().await;
    let licences = server.mails().iter().filter(|m| m.kind == NotificationKind::LicenseAssigned).count();
    assert_eq!(licences, 1);
}
