//! Upgrades, each from the state an earlier version leaves behind, recreated before the
//! current operator starts on it.
//! - From a version that claimed conference IDs with ConfigMaps
//!   (tests/fixtures/upgrade-from-configmap-claims.yaml, recorded from it): no user's ID
//!   changes, no PIN changes, no e-mail is sent, and every ID gets a ConferenceIdClaim.
//! - From a version that kept its memory (requests handled, e-mails owed and delivered) in
//!   the status: the memory moves into the users' records, what was owed is sent once,
//!   nothing else is, and no request is handled twice or forgotten.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::*;
use conferencing_operator::api::{ConferenceIdClaim, ConferencingUser, ConferencingUserStatus, NotificationKind};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::PostParams;
use serde::Deserialize;

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn upgrading_from_configmap_claims_keeps_every_id_and_pin_and_sends_nothing() {
    let mut env = TestEnv::new("upgrade").await;
    let (tenant, users) = example_objects();
    env.apply(&tenant).await;
    for u in &users {
        env.apply(u).await;
    }
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upgrade-from-configmap-claims.yaml"
    ))
    .expect("fixture")
    .replace("NAMESPACE", &env.ns);
    for u in &users {
        let uid = env.user(&u.name_any()).await.uid().expect("uid");
        text = text.replace(&format!("UID-OF-{}", u.name_any()), &uid);
    }
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut pins: HashMap<String, Vec<u8>> = HashMap::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).expect("yaml");
        match v["kind"].as_str() {
            Some("ConferencingUser") => {
                let name = v["metadata"]["name"].as_str().expect("name").to_string();
                let old: ConferencingUserStatus = serde_yaml::from_value(v["status"].clone()).expect("status");
                let mut u = env.user(&name).await;
                u.status = Some(old.clone());
                env.api::<ConferencingUser>()
                    .replace_status(&name, &PostParams::default(), &u)
                    .await
                    .expect("write the old status");
                if let Some(id) = old.conference_id {
                    ids.insert(name, id);
                }
            }
            Some("Secret") => {
                let s: Secret = serde_yaml::from_value(v).expect("secret");
                pins.insert(s.name_any(), s.data.as_ref().and_then(|d| d.get("pin")).expect("pin").0.clone());
                env.api::<Secret>().create(&PostParams::default(), &s).await.expect("create Secret");
            }
            Some("ConfigMap") => {
                let c: ConfigMap = serde_yaml::from_value(v).expect("configmap");
                env.api::<ConfigMap>().create(&PostParams::default(), &c).await.expect("create ConfigMap");
            }
            other => panic!("unexpected kind {other:?} in the fixture"),
        }
    }
    assert_eq!(ids.len(), 4, "four Native users hold IDs");

    env.start_operator();
    for u in &users {
        env.wait_ready(&u.name_any()).await;
    }
    for (name, id) in &ids {
        let claim = wait_until(&format!("a claim of {id} for {name}"), TIMEOUT, || async {
            env.api::<ConferenceIdClaim>().get_opt(id).await.ok().flatten()
        })
        .await;
        assert_eq!(&claim.spec.holder.name, name);
    }
    env.wait_converged(Duration::from_secs(3)).await;
    for u in &users {
        let now = env.user(&u.name_any()).await;
        let st = now.status.clone().expect("status");
        assert_eq!(st.conference_id.as_ref(), ids.get(&u.name_any()), "{}'s ID did not change", u.name_any());
        assert!(st.notifications.pending.is_empty(), "nothing owed");
        for kind in NotificationKind::ALL {
            assert_eq!(env.event_count(&u.name_any(), kind.as_str()).await, 0, "no {kind} for {}", u.name_any());
        }
    }
    for (secret, pin) in &pins {
        let s = env.api::<Secret>().get(secret).await.expect("secret");
        assert_eq!(&s.data.expect("data")["pin"].0, pin, "{secret}: the PIN did not change");
    }
    let emails = std::fs::read_dir(env.outbox()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(emails, 0, "no e-mail");
    // The old ConfigMaps are left alone (the operator has no ConfigMap rights); the upgrade
    // notes say how to delete them.
    let cms = env.api::<ConfigMap>().list(&Default::default()).await.expect("list").items;
    assert_eq!(cms.iter().filter(|c| c.name_any().starts_with("conference-id-")).count(), 4);
}

/// What the version before records (0.1.0 at 7272ef8) kept in a user's status as its memory:
/// alice, enabled, her PIN reset by T1 then T2, an information e-mail for I1 owed and not yet
/// delivered; bob unlicensed, his information request S1 ignored.
#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn upgrading_from_status_held_memory_sends_only_what_was_owed_and_forgets_no_request() {
    use conferencing_operator::api::{DeliveredNotification, HandledToken, PendingNotification, RequestKind};
    use conferencing_operator::planning::message_id::{generation_cause, message_id, token_cause};
    use conferencing_operator::provisioning::{claim, pin::Pin, secret};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    let mut env = TestEnv::new("upgrade-status-memory").await;
    let server = crate::support::smtp::SmtpServer::start(&env.ns);
    let (tenant, users) = example_objects();
    env.apply(&tenant).await;
    let mut alice = users.iter().find(|u| u.name_any() == "alice").expect("alice").clone();
    alice.spec.conference_id = None;
    alice.spec.requests.reset_pin = Some("T2".into());
    alice.spec.requests.send_conferencing_info = Some("I1".into());
    let alice = env.apply(&alice).await;
    let mut bob = users.iter().find(|u| u.name_any() == "bob").expect("bob").clone();
    bob.spec.audio_conferencing_license = false;
    bob.spec.requests.send_conferencing_info = Some("S1".into());
    let bob = env.apply(&bob).await;

    let uid = alice.uid().expect("uid");
    let t = |s: i64| Time(Timestamp::from_second(1_700_000_000 + s).expect("time"));
    let owed = message_id(&uid, NotificationKind::ConferencingInfoRequested, &token_cause("I1"));
    let mut st = ConferencingUserStatus {
        observed_generation: alice.metadata.generation,
        licensed: Some(true),
        provider: Some(Default::default()),
        conference_id: Some("7788990".into()),
        conference_id_mode: Some(conferencing_operator::api::ConferenceIdMode::Static),
        service_number: Some("+14255550100".into()),
        toll_free_service_number: Some("+18005550199".into()),
        pin: Some("*****".into()),
        pin_secret_ref: Some(conferencing_operator::api::SecretKeyRef {
            name: "alice-conferencing-pin".into(),
            key: "pin".into(),
        }),
        pin_generation: Some("reset-pin.T2".into()),
        pin_last_reset_time: Some(t(20)),
        ..Default::default()
    };
    st.handled_requests.reset_pin = Some("T2".into());
    st.handled_requests.send_conferencing_info = Some("I1".into());
    st.handled_requests.previous.push(HandledToken { request: RequestKind::ResetPin, token: "T1".into() });
    for (kind, cause, at) in [
        (NotificationKind::LicenseAssigned, generation_cause(1, 1), 0),
        (NotificationKind::PinReset, token_cause("T1"), 10),
        (NotificationKind::PinReset, token_cause("T2"), 20),
    ] {
        st.notifications.delivered.push(DeliveredNotification {
            kind,
            message_id: message_id(&uid, kind, &cause),
            recipient: alice.spec.email.clone(),
            time: t(at),
        });
    }
    st.notifications.pending.push(PendingNotification {
        kind: NotificationKind::ConferencingInfoRequested,
        message_id: owed.clone(),
        recipient: alice.spec.email.clone(),
        provider_name: None,
        previous: None,
        one_off: false,
        attempts: 1,
        last_error: Some("451 try again later".into()),
        next_attempt_time: Some(t(30)),
        permanently_failed: false,
    });
    let mut a = env.user("alice").await;
    a.status = Some(st);
    env.api::<ConferencingUser>().replace_status("alice", &PostParams::default(), &a).await.expect("alice's status");
    let mut bst = ConferencingUserStatus {
        observed_generation: bob.metadata.generation,
        licensed: Some(false),
        provider: Some(Default::default()),
        ..Default::default()
    };
    bst.handled_requests.send_conferencing_info = Some("S1".into());
    let mut b = env.user("bob").await;
    b.status = Some(bst);
    env.api::<ConferencingUser>().replace_status("bob", &PostParams::default(), &b).await.expect("bob's status");
    // The objects that version created for alice: her PIN Secret and her ID's claim.
    let pin = "60917";
    let mut old_secret = secret::pin_secret(&alice, &Pin::from_secret(pin.into()), "reset-pin.T2");
    // That version did not mark its PIN Secrets as recorded: it kept no records.
    old_secret.metadata.annotations.as_mut().map(|a| a.remove(secret::RECORDED_ANNOTATION));
    env.api::<Secret>().create(&PostParams::default(), &old_secret).await.expect("PIN Secret");
    let id = conferencing_operator::domain::ConferenceId::parse("7788990").expect("id");
    env.api::<ConferenceIdClaim>()
        .create(&PostParams::default(), &claim::claim(&alice, &id, None))
        .await
        .expect("claim");

    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never"]);
    // What was owed is sent, once; nothing else.
    server.wait_for(1, TIMEOUT).await;
    for name in ["alice", "bob"] {
        env.wait_ready(name).await;
    }
    env.wait_converged(Duration::from_secs(6)).await;
    let ids: Vec<String> = server.mails().into_iter().map(|m| m.message_id).collect();
    assert_eq!(ids, vec![owed.clone()], "only the e-mail the old status owed");
    assert_eq!(env.pin("alice").await.0, pin, "the PIN did not change");
    let a = env.user("alice").await;
    let st = a.status.as_ref().expect("status");
    assert_eq!(st.conference_id.as_deref(), Some("7788990"), "the ID did not change");
    assert_eq!(st.handled_requests.reset_pin.as_deref(), Some("T2"));
    assert!(st.notifications.delivered.iter().any(|d| d.message_id == owed));
    // The memory moved into alice's record, which now decides: a token handled before is not
    // a new request, and a new one is.
    let record = env.api::<Secret>().get("alice-conferencing-record").await.expect("alice's record");
    let marked = wait_until("alice's PIN Secret marked as recorded", TIMEOUT, || async {
        let s = env.api::<Secret>().get("alice-conferencing-pin").await.ok()?;
        (s.metadata.annotations?.get("conferencing.io/recorded")?.as_str() == "true").then_some(())
    });
    marked.await;
    let text = record.metadata.annotations.as_ref().and_then(|a| a.get("conferencing.io/record")).expect("memory");
    assert!(text.contains("\"T1\"") && text.contains("\"T2\"") && text.contains("\"I1\""), "{text}");
    let mut again = alice.clone();
    again.metadata = kube::api::ObjectMeta { name: alice.metadata.name.clone(), ..Default::default() };
    again.spec.requests.reset_pin = Some("T1".into());
    env.apply(&again).await;
    env.wait_event_count("alice", "RequestTokenReused", 1).await;
    env.wait_converged(Duration::from_secs(3)).await;
    assert_eq!(env.pin("alice").await.0, pin, "T1 was handled before: no new PIN");
    again.spec.requests.reset_pin = Some("T3".into());
    env.apply(&again).await;
    server.wait_for(2, TIMEOUT).await;
    env.wait_converged(Duration::from_secs(3)).await;
    assert_ne!(env.pin("alice").await.0, pin, "T3 resets the PIN");
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "and is e-mailed once: {:?}", mails.iter().map(|m| &m.message_id).collect::<Vec<_>>());
    assert_eq!(mails[1].message_id, message_id(&uid, NotificationKind::PinReset, &token_cause("T3")));
    assert!(mails.iter().all(|m| !m.to.contains("bob")), "bob is sent nothing");
}
