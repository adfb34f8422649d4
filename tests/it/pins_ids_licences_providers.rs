//! PINs, conference IDs, licence and provider changes, carried out against a real API server.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::mail::{self, Mail};
use crate::support::*;
use conferencing_operator::api::ConferenceIdClaim;
use conferencing_operator::api::{
    ConferencingTenant, ConferencingUser, NotificationKind, PIN_MASK, ProviderSpec, ProviderType,
};
use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::ListParams;

fn alice() -> ConferencingUser {
    example_objects().1.remove(0)
}

async fn env_with_tenant(name: &str) -> (TestEnv, ConferencingTenant) {
    let mut env = TestEnv::new(name).await;
    env.start_operator();
    let (tenant, _) = example_objects();
    env.apply(&tenant).await;
    (env, tenant)
}

/// The guessable six-digit PINs, written out rather than computed (the operator's own rule
/// is not copied here): one repeated digit, a run up or down.
const WEAK_SIX_DIGIT_PINS: [&str; 20] = [
    "000000", "111111", "222222", "333333", "444444", "555555", "666666", "777777", "888888", "999999", "012345",
    "123456", "234567", "345678", "456789", "987654", "876543", "765432", "654321", "543210",
];

fn assert_not_weak(pin: &str, id: &str) {
    assert!(pin.bytes().all(|b| b.is_ascii_digit()), "PIN has non-digits");
    assert!(!WEAK_SIX_DIGIT_PINS.contains(&pin), "a guessable PIN");
    assert_ne!(pin, id, "PIN equals the conference ID");
}

/// The e-mails in the operator's outbox, checked to be exactly those the statuses record,
/// each once, after the operator has been idle past its retry interval.
async fn sent_exactly_once(env: &TestEnv) -> Vec<Mail> {
    env.wait_idle().await;
    let users = env.api::<ConferencingUser>().list(&ListParams::default()).await.expect("list users").items;
    let recorded: Vec<_> = users.iter().flat_map(mail::recorded).collect();
    let sent = mail::outbox(&env.outbox());
    mail::assert_exactly_once(&sent, &recorded);
    sent
}

/// The operator's log must never contain a PIN it generated.
fn assert_no_pin_in_log(env: &TestEnv, pins: &[String]) {
    let log = env.log();
    assert!(!log.is_empty(), "the operator logged nothing");
    for pin in pins {
        assert!(!log.contains(pin.as_str()), "a PIN appears in the operator's log");
    }
}

const RECONCILED_OK: &str = "conferencing_reconciles_total{kind=\"ConferencingUser\",result=\"ok\"}";

async fn claims(env: &TestEnv) -> Vec<String> {
    env.api::<ConferenceIdClaim>()
        .list(&ListParams::default())
        .await
        .expect("list claims")
        .items
        .iter()
        .map(|c| c.spec.conference_id.clone())
        .collect()
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn enabling_a_user_generates_a_pin_secret_and_an_id() {
    let (env, _) = env_with_tenant("enable").await;
    env.apply(&alice()).await;
    let u = env.wait_ready("alice").await;
    let st = u.status.clone().expect("status");
    assert_eq!(st.pin.as_deref(), Some(PIN_MASK));
    assert_eq!(st.pin_secret_ref.as_ref().map(|r| r.name.as_str()), Some("alice-conferencing-pin"));
    assert!(st.pin_last_reset_time.is_some());
    let id = st.conference_id.clone().expect("conference ID");
    assert_eq!(id.len(), 7, "the tenant's ID length");
    assert_eq!(st.service_number.as_deref(), Some("+14255550100"));
    assert_eq!(st.toll_free_service_number.as_deref(), Some("+18005550199"));

    let (pin, _) = env.pin("alice").await;
    assert_eq!(pin.len(), 6, "the tenant's PIN length");
    assert_not_weak(&pin, &id);
    let secret: Secret = env.api::<Secret>().get("alice-conferencing-pin").await.expect("secret");
    let owner = &secret.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("ConferencingUser", u.uid().as_deref().unwrap_or("")));
    assert_eq!(secret.labels().get("app.kubernetes.io/managed-by").map(String::as_str), Some("conferencing-operator"));
    assert_eq!(claims(&env).await, vec![id]);
    assert_eq!(emails_of(&u, NotificationKind::LicenseAssigned), 1);
    let sent = sent_exactly_once(&env).await;
    assert_eq!(sent.len(), 1, "the licence e-mail only");
    assert_eq!(sent[0].kind, NotificationKind::LicenseAssigned);
    mail::assert_pin(&sent[0], &pin);
    assert_eq!(env.wait_event_count("alice", "LicenseAssigned", 1).await, 1);
    assert!(!serde_json::to_string(&u).expect("json").contains(&pin), "the PIN is in the user object");
    assert_no_pin_in_log(&env, &[pin]);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn reset_pin_by_token_once_and_seeing_the_same_token_again_writes_nothing() {
    let (env, _) = env_with_tenant("reset-pin").await;
    let mut user = alice();
    env.apply(&user).await;
    let before = env.wait_ready("alice").await;
    let (pin1, rv1) = env.pin("alice").await;

    user.spec.requests.reset_pin = Some("2026-11-22-ticket-1".into());
    env.apply(&user).await;
    let after = env
        .wait_user("alice", "resetPin handled", |u| {
            is_ready(u)
                && u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref())
                    == Some("2026-11-22-ticket-1")
        })
        .await;
    let (pin2, rv2) = env.pin("alice").await;
    assert_ne!(pin1, pin2, "a new PIN");
    assert_ne!(rv1, rv2, "a new Secret version");
    assert_eq!(
        after.status.as_ref().and_then(|s| s.conference_id.clone()),
        before.status.and_then(|s| s.conference_id)
    );
    assert_eq!(emails_of(&after, NotificationKind::PinReset), 1);

    // Re-applying the same YAML is a no-op at the API server (no new resourceVersion, so no
    // event reaches the operator). What must hold is the operator's side: an event for alice
    // whose spec carries the token already handled. An annotation changes the object (a new
    // resourceVersion, an event) but not its spec: the operator reconciles (counted) and
    // writes nothing, issues no PIN, sends no e-mail.
    env.wait_idle().await;
    let writes = env.api_writes();
    let rv = env.user("alice").await.resource_version();
    env.apply(&user).await;
    assert_eq!(env.user("alice").await.resource_version(), rv, "re-applying the same YAML moved the object");
    let before = env.metric(RECONCILED_OK).await;
    let mut annotated = user.clone();
    annotated.metadata.annotations = Some([("note".to_string(), "seen again".to_string())].into());
    env.apply(&annotated).await;
    wait_until("alice reconciled after the annotation", TIMEOUT, || async {
        (env.metric(RECONCILED_OK).await > before).then_some(())
    })
    .await;
    env.wait_idle().await;
    assert_eq!(env.api_writes(), writes, "the operator wrote on seeing the handled token again");
    assert_eq!(env.pin("alice").await.0, pin2);
    assert_eq!(env.wait_event_count("alice", "PinReset", 1).await, 1);
    let sent = sent_exactly_once(&env).await;
    let resets: Vec<&Mail> = sent.iter().filter(|m| m.kind == NotificationKind::PinReset).collect();
    assert_eq!(resets.len(), 1, "one PIN-reset e-mail");
    mail::assert_pin(resets[0], &pin2);
    assert_no_pin_in_log(&env, &[pin1, pin2]);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_static_id_held_by_another_user_is_a_conflict_until_released() {
    let (env, _) = env_with_tenant("conflict").await;
    let (_, users) = example_objects();
    let bob = users.iter().find(|u| u.name_any() == "bob").expect("bob").clone();
    env.apply(&bob).await;
    env.wait_ready("bob").await;

    let mut carol = alice();
    carol.metadata.name = Some("carol".into());
    carol.spec.conference_id = bob.spec.conference_id.clone();
    env.apply(&carol).await;
    let c = env.wait_reason("carol", "ConferenceIdConflict").await;
    let msg = &ready_condition(&c).expect("Ready").message;
    assert!(msg.contains("bob") && msg.contains("4455667"), "{msg}");
    let st = c.status.expect("status");
    assert!(st.pin.is_none() && st.conference_id.is_none(), "nothing else changes for carol");
    assert!(env.api::<Secret>().get_opt("carol-conferencing-pin").await.expect("get").is_none());
    env.wait_event_count("carol", "ConferenceIdConflict", 1).await;

    // Deleting bob releases the ID (here without a garbage collector: the operator takes
    // over a claim whose holder no longer exists).
    env.delete::<ConferencingUser>("bob").await;
    let c = env.wait_ready("carol").await;
    assert_eq!(c.status.and_then(|s| s.conference_id).as_deref(), Some("4455667"));
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn two_hundred_users_created_at_once_get_distinct_ids() {
    let (env, _) = env_with_tenant("two-hundred").await;
    let users: Vec<ConferencingUser> = (0..200)
        .map(|i| {
            let mut u = alice();
            u.metadata.name = Some(format!("user-{i:03}"));
            u.spec.email = format!("user{i}@acme.example");
            u
        })
        .collect();
    for chunk in users.chunks(25) {
        join_all(chunk.iter().map(|u| env.apply(u))).await;
    }
    let api = env.api::<ConferencingUser>();
    let all = wait_until("200 users Ready", Duration::from_secs(240), || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        (list.items.len() == 200 && list.items.iter().all(is_ready)).then_some(list.items)
    })
    .await;
    let ids: HashSet<String> = all.iter().filter_map(|u| u.status.as_ref()?.conference_id.clone()).collect();
    assert_eq!(ids.len(), 200, "every user has a distinct conference ID");
    let claimed: HashSet<String> = claims(&env).await.into_iter().collect();
    assert_eq!(claimed, ids, "exactly one claim per ID in use");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn licence_off_deprovisions_and_on_again_gives_a_new_pin_and_id() {
    let (env, _) = env_with_tenant("licence").await;
    let mut user = alice();
    env.apply(&user).await;
    let first = env.wait_ready("alice").await;
    let first_id = first.status.as_ref().and_then(|s| s.conference_id.clone()).expect("id");
    let (pin1, _) = env.pin("alice").await;

    user.spec.audio_conferencing_license = false;
    env.apply(&user).await;
    let off = env
        .wait_user("alice", "licence removed", |u| {
            is_ready(u) && u.status.as_ref().is_some_and(|s| s.licensed == Some(false))
        })
        .await;
    let st = off.status.clone().expect("status");
    assert!(st.pin.is_none() && st.conference_id.is_none() && st.pin_secret_ref.is_none());
    assert_eq!(emails_of(&off, NotificationKind::LicenseRemoved), 1);
    wait_until("PIN Secret deleted", TIMEOUT, || async {
        env.api::<Secret>().get_opt("alice-conferencing-pin").await.ok()?.is_none().then_some(())
    })
    .await;
    wait_until("claim released", TIMEOUT, || async { claims(&env).await.is_empty().then_some(()) }).await;

    user.spec.audio_conferencing_license = true;
    env.apply(&user).await;
    let on = env
        .wait_user("alice", "licence back", |u| is_ready(u) && u.status.as_ref().is_some_and(|s| s.pin.is_some()))
        .await;
    let second_id = on.status.as_ref().and_then(|s| s.conference_id.clone()).expect("id");
    let (pin2, _) = env.pin("alice").await;
    assert_ne!(first_id, second_id, "a new conference ID");
    assert_ne!(pin1, pin2, "a new PIN");
    assert_eq!(emails_of(&on, NotificationKind::LicenseAssigned), 2);
    let sent = sent_exactly_once(&env).await;
    let kinds: Vec<NotificationKind> = sent.iter().map(|m| m.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == NotificationKind::LicenseAssigned).count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == NotificationKind::LicenseRemoved).count(), 1, "{kinds:?}");
    for pin in [&pin1, &pin2] {
        let with = sent.iter().filter(|m| m.kind == NotificationKind::LicenseAssigned && m.text.contains(pin.as_str()));
        assert_eq!(with.count(), 1, "each licence e-mail carries the PIN of its time");
    }
    assert_no_pin_in_log(&env, &[pin1, pin2]);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn provider_change_away_and_back() {
    let (env, _) = env_with_tenant("provider").await;
    let mut user = alice();
    env.apply(&user).await;
    env.wait_ready("alice").await;

    user.spec.provider = ProviderSpec { type_: ProviderType::ThirdParty, name: Some("Contoso Audio".into()) };
    env.apply(&user).await;
    let away = env
        .wait_user("alice", "provider away", |u| {
            is_ready(u) && emails_of(u, NotificationKind::ProviderChangedAway) == 1
        })
        .await;
    let st = away.status.clone().expect("status");
    assert!(st.pin.is_none() && st.conference_id.is_none());
    env.wait_event_count("alice", "ProviderChangedAway", 1).await;
    let events = env.events("alice", "ProviderChangedAway").await;
    assert!(
        events.iter().any(|e| e.message.as_deref().unwrap_or_default().contains("Contoso Audio")),
        "the Event names the new provider: {events:?}"
    );
    wait_until("PIN Secret deleted", TIMEOUT, || async {
        env.api::<Secret>().get_opt("alice-conferencing-pin").await.ok()?.is_none().then_some(())
    })
    .await;

    user.spec.provider = ProviderSpec::default();
    env.apply(&user).await;
    let back = env
        .wait_user("alice", "provider back", |u| {
            is_ready(u) && emails_of(u, NotificationKind::ProviderChangedToNative) == 1
        })
        .await;
    assert!(back.status.as_ref().is_some_and(|s| s.pin.is_some() && s.conference_id.is_some()));
    assert_eq!(env.wait_event_count("alice", "ProviderChangedToNative", 1).await, 1);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn tenant_pin_length_change_keeps_pins_and_applies_to_resets() {
    let (env, mut tenant) = env_with_tenant("pin-length").await;
    let mut user = alice();
    env.apply(&user).await;
    env.wait_ready("alice").await;
    let (pin1, rv1) = env.pin("alice").await;
    assert_eq!(pin1.len(), 6);

    env.wait_idle().await;
    let before = env.metric(RECONCILED_OK).await;
    tenant.spec.pin.length = 9;
    env.apply(&tenant).await;
    // The tenant change reaches alice (her reconcile is counted) before her PIN is checked.
    wait_until("alice reconciled after the tenant change", TIMEOUT, || async {
        (env.metric(RECONCILED_OK).await > before).then_some(())
    })
    .await;
    env.wait_idle().await;
    assert_eq!(env.pin("alice").await, (pin1.clone(), rv1), "the existing PIN is untouched");

    user.spec.requests.reset_pin = Some("after-length-change".into());
    env.apply(&user).await;
    env.wait_user("alice", "reset handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("after-length-change")
    })
    .await;
    let (pin2, _) = env.pin("alice").await;
    assert_eq!(pin2.len(), 9, "a reset uses the new length");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn tenant_default_number_change_follows_in_status() {
    let (env, mut tenant) = env_with_tenant("numbers").await;
    env.apply(&alice()).await;
    env.wait_ready("alice").await;
    for n in &mut tenant.spec.service_numbers {
        n.default = (n.number == "+442075550123" || n.number == "+18005550199").then_some(true);
    }
    env.apply(&tenant).await;
    let u = env
        .wait_user("alice", "new default number", |u| {
            u.status.as_ref().and_then(|s| s.service_number.as_deref()) == Some("+442075550123")
        })
        .await;
    assert_eq!(emails_of(&u, NotificationKind::ServiceNumberChanged), 1);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn requests_are_handled_exactly_once_across_operator_restarts() {
    let (mut env, _) = env_with_tenant("restart").await;
    let mut user = alice();
    env.apply(&user).await;
    env.wait_ready("alice").await;
    let mut pins = vec![env.pin("alice").await.0];

    user.spec.requests.reset_pin = Some("r1".into());
    env.apply(&user).await;
    env.wait_user("alice", "r1 handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("r1")
    })
    .await;
    pins.push(env.pin("alice").await.0);
    env.stop_operator();

    // Requests made while the operator is down are handled once it is back.
    user.spec.requests.reset_pin = Some("r2".into());
    user.spec.requests.reset_conference_id = Some("c1".into());
    env.apply(&user).await;
    let lines_before = env.log().lines().count();
    env.start_operator();
    // Kill it without warning in the middle of that work: at its first write of a claim or a
    // Secret (logged as the request is sent), before the status can record what was done.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = env.log();
        let writing = log.lines().skip(lines_before).any(|l| {
            l.contains("api write") && (l.contains("resource=conferenceidclaims") || l.contains("resource=secrets"))
        });
        if writing {
            break;
        }
        assert!(Instant::now() < deadline, "the restarted operator wrote no claim or Secret:\n{}", tail(&log, 20));
        std::thread::sleep(Duration::from_millis(1));
    }
    env.kill_operator();
    let at_kill = env.user("alice").await.status.map(|s| s.handled_requests).unwrap_or_default();
    eprintln!("at the kill the status recorded {at_kill:?}");
    assert!(
        at_kill.reset_pin.as_deref() != Some("r2") || at_kill.reset_conference_id.as_deref() != Some("c1"),
        "the precondition: the kill landed before the work was recorded ({at_kill:?})"
    );
    env.start_operator();
    let u = env
        .wait_user("alice", "r2 and c1 handled", |u| {
            is_ready(u)
                && u.status.as_ref().is_some_and(|s| {
                    s.handled_requests.reset_pin.as_deref() == Some("r2")
                        && s.handled_requests.reset_conference_id.as_deref() == Some("c1")
                })
        })
        .await;
    pins.push(env.pin("alice").await.0);
    assert_eq!(emails_of(&u, NotificationKind::PinReset), 2, "r1 and r2, each once");
    assert_eq!(emails_of(&u, NotificationKind::ConferenceIdReset), 1);
    // Counted in what was sent: each recorded Message-ID once, and each PIN-reset e-mail with
    // the PIN of its own reset.
    let sent = sent_exactly_once(&env).await;
    let resets: Vec<&Mail> = sent.iter().filter(|m| m.kind == NotificationKind::PinReset).collect();
    assert_eq!(resets.len(), 2, "r1 and r2, each once");
    for pin in &pins[1..] {
        assert_eq!(resets.iter().filter(|m| m.text.contains(pin.as_str())).count(), 1, "one reset e-mail per new PIN");
    }
    assert_eq!(sent.iter().filter(|m| m.kind == NotificationKind::ConferenceIdReset).count(), 1);
    assert_eq!(env.wait_event_count("alice", "ConferenceIdReset", 1).await, 1);
    let secret: Secret = env.api::<Secret>().get("alice-conferencing-pin").await.expect("secret");
    assert_eq!(secret.annotations().get("conferencing.io/pin-generation").map(String::as_str), Some("reset-pin.r2"));
    assert_eq!(claims(&env).await.len(), 1, "the old ID was released");
    assert_no_pin_in_log(&env, &pins);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_deleted_tenant_blocks_its_users_who_keep_their_pin_and_id() {
    let (env, tenant) = env_with_tenant("tenant-gone").await;
    env.apply(&alice()).await;
    let before = env.wait_ready("alice").await;
    let (pin, _) = env.pin("alice").await;
    env.delete::<ConferencingTenant>("acme").await;
    let blocked = env.wait_reason("alice", "TenantNotFound").await;
    assert_eq!(
        blocked.status.as_ref().and_then(|s| s.conference_id.clone()),
        before.status.as_ref().and_then(|s| s.conference_id.clone())
    );
    assert_eq!(env.pin("alice").await.0, pin);
    env.apply(&tenant).await;
    let again = env.wait_ready("alice").await;
    assert_eq!(again.status.and_then(|s| s.conference_id), before.status.and_then(|s| s.conference_id));
    assert_eq!(env.pin("alice").await.0, pin);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn converged_examples_cause_no_writes_for_30_seconds() {
    let (env, _) = env_with_tenant("steady").await;
    let (_, users) = env.apply_examples().await;
    env.wait_idle().await;
    let writes = env.api_writes();
    let versions: Vec<_> = join_all(users.iter().map(|u| env.user_rv(u))).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(env.api_writes(), writes, "the operator wrote after convergence:\n{}", tail(&env.log(), 10));
    let after: Vec<_> = join_all(users.iter().map(|u| env.user_rv(u))).await;
    assert_eq!(versions, after, "a user object changed after convergence");
    eprintln!("after convergence: {} writes in 30 s", env.api_writes() - writes);
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn kstatus_conditions_appear_while_they_hold_and_clear() {
    use conferencing_operator::api::ConditionType;
    use conferencing_operator::api::condition::find;
    let (env, _) = env_with_tenant("kstatus").await;
    let cond = |u: &ConferencingUser, t: ConditionType| {
        u.status.as_ref().and_then(|s| find(&s.conditions, t).map(|c| (c.reason.clone(), c.observed_generation)))
    };
    // Stalled: a static ID another user holds, until it is freed.
    let (_, users) = example_objects();
    let bob = users.iter().find(|u| u.name_any() == "bob").expect("bob").clone();
    env.apply(&bob).await;
    env.wait_ready("bob").await;
    let mut carol = alice();
    carol.metadata.name = Some("carol".into());
    carol.spec.conference_id = bob.spec.conference_id.clone();
    env.apply(&carol).await;
    let c = env.wait_reason("carol", "ConferenceIdConflict").await;
    assert_eq!(cond(&c, ConditionType::Stalled), Some(("ConferenceIdConflict".into(), c.metadata.generation)));
    assert_eq!(cond(&c, ConditionType::Reconciling), None);
    env.delete::<ConferencingUser>("bob").await;
    let c = env.wait_ready("carol").await;
    assert_eq!(cond(&c, ConditionType::Stalled), None, "cleared once it can progress");
    // Stalled for an invalid spec, cleared when fixed.
    let mut dave = alice();
    dave.metadata.name = Some("dave".into());
    dave.spec.service_number = Some("+19995550100".into());
    env.apply(&dave).await;
    let d = env.wait_reason("dave", "InvalidSpec").await;
    assert_eq!(cond(&d, ConditionType::Stalled).map(|c| c.0), Some("InvalidSpec".into()));
    dave.spec.service_number = None;
    env.apply(&dave).await;
    let d = env.wait_ready("dave").await;
    assert_eq!(cond(&d, ConditionType::Stalled), None);
    assert_eq!(cond(&d, ConditionType::Reconciling), None, "e-mails delivered: nothing under way");
}
