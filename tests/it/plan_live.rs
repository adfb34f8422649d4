//! `plan --live` against a real API server after the operator has converged: the
//! e-mails it predicts for a commit are the e-mails the operator sends when the commit is
//! applied. Also `validate --live`: a conference ID held in the cluster, a token reused.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use crate::support::mail;
use crate::support::*;
use conferencing_operator::api::ConferencingUser;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::Value;

/// (user, kind, recipient)
type Mail = (String, String, String);

fn write_yaml<K: Serialize>(dir: &Path, file: &str, obj: &K) {
    let mut value = serde_json::to_value(obj).expect("json");
    if let Some(m) = value.as_object_mut() {
        m.remove("status");
    }
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, serde_yaml::to_string(&value).expect("yaml")).expect("write");
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_conferencing-operator")).args(args).output().expect("run cli");
    (
        out.status.code().expect("status"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every Message-ID a user's status records, pending or delivered.
fn message_ids(u: &ConferencingUser) -> HashSet<String> {
    u.status.as_ref().map_or_else(HashSet::new, |s| {
        s.notifications
            .pending
            .iter()
            .map(|n| n.message_id.clone())
            .chain(s.notifications.delivered.iter().map(|n| n.message_id.clone()))
            .collect()
    })
}

async fn users(env: &TestEnv) -> Vec<ConferencingUser> {
    env.api::<ConferencingUser>().list(&Default::default()).await.expect("list users").items
}

/// The operator is idle past its retry interval, every user Ready with nothing owed, and the
/// outbox holds exactly the e-mails the statuses record, each Message-ID once.
async fn settled(env: &TestEnv) {
    env.wait_idle().await;
    let all = users(env).await;
    let recorded: Vec<_> = all.iter().flat_map(mail::recorded).collect();
    mail::assert_exactly_once(&mail::outbox(&env.outbox()), &recorded);
    for u in all {
        env.wait_user(&u.name_any(), "Ready with every e-mail delivered", |u| {
            is_ready(u) && u.status.as_ref().is_some_and(|s| s.notifications.pending.is_empty())
        })
        .await;
    }
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn plan_live_predicts_exactly_the_emails_the_operator_then_sends() {
    let mut env = TestEnv::new("plan-live").await;
    env.start_operator();
    let (mut tenant, mut people) = example_objects();
    for u in &mut people {
        u.metadata.namespace = Some(env.ns.clone());
    }
    tenant.metadata.namespace = Some(env.ns.clone());
    env.apply(&tenant).await;
    for u in &people {
        env.apply(u).await;
    }
    settled(&env).await;

    // The commit: the tenant's default toll number moves from Redmond to Paris (alice and
    // chen use the default; bob and dana chose theirs), alice asks for a PIN reset, bob loses
    // his licence, dana asks for her conferencing information again, eve (another provider)
    // is left alone.
    for n in &mut tenant.spec.service_numbers {
        n.default = match n.number.as_str() {
            "+14255550100" => None,
            "+33175550100" => Some(true),
            _ => n.default,
        };
    }
    let by_name = |people: &mut Vec<ConferencingUser>, name: &str| -> usize {
        people.iter().position(|u| u.name_any() == name).expect("example user")
    };
    let alice = by_name(&mut people, "alice");
    people[alice].spec.requests.reset_pin = Some("2026-12-01 CHG-7".into());
    let bob = by_name(&mut people, "bob");
    people[bob].spec.audio_conferencing_license = false;
    let dana = by_name(&mut people, "dana");
    people[dana].spec.requests.send_conferencing_info = Some("2026-12-01".into());

    let dir = tempfile::tempdir().expect("tempdir");
    write_yaml(dir.path(), "tenant.yaml", &tenant);
    for u in &people {
        write_yaml(dir.path(), &format!("users/{}.yaml", u.name_any()), u);
    }
    let to = dir.path().to_str().expect("utf8");
    let (code, stdout, stderr) = cli(&["plan", "--live", "--to", to, "--output", "json"]);
    assert_eq!(code, 0, "plan --live: {stdout}{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("plan JSON");
    assert_eq!(plan["mode"], "live");
    let mut predicted: BTreeSet<Mail> = BTreeSet::new();
    for u in plan["users"].as_array().expect("users") {
        for e in u["emails"].as_array().expect("emails") {
            predicted.insert((
                u["name"].as_str().expect("name").into(),
                e["kind"].as_str().expect("kind").into(),
                e["recipient"].as_str().expect("recipient").into(),
            ));
        }
    }
    let expected: BTreeSet<Mail> = [
        ("alice", "PinReset", "alice.martin@acme.example"),
        ("alice", "ServiceNumberChanged", "alice.martin@acme.example"),
        ("bob", "LicenseRemoved", "bob.okafor@partner.example"),
        ("chen", "ServiceNumberChanged", "chen.jing@acme.example"),
        ("dana", "ConferencingInfoRequested", "dana.lefevre@acme.example"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(predicted, expected, "the plan's prediction");
    assert_eq!(
        plan["summary"]["fanOut"][0]["sentence"],
        "changing the default toll number of tenant acme re-sends a dial-in e-mail to 2 users",
        "{}",
        plan["summary"]
    );

    // What the operator knew and had sent before the commit.
    let before: HashMap<String, HashSet<String>> =
        users(&env).await.iter().map(|u| (u.name_any(), message_ids(u))).collect();
    let sent_before: HashSet<String> = mail::outbox(&env.outbox()).into_iter().map(|m| m.message_id).collect();

    // Apply the commit as the GitOps tool would, and let the operator do its work.
    env.apply(&tenant).await;
    for u in &people {
        env.apply(u).await;
    }
    env.wait_user("chen", "the new default number in effect", |u| {
        u.status.as_ref().and_then(|s| s.service_number.as_deref()) == Some("+33175550100")
    })
    .await;
    env.wait_user("alice", "the PIN reset handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("2026-12-01 CHG-7")
    })
    .await;
    env.wait_user("dana", "the info request handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.send_conferencing_info.as_deref()) == Some("2026-12-01")
    })
    .await;
    env.wait_user("bob", "the licence removed", |u| u.status.as_ref().and_then(|s| s.licensed) == Some(false)).await;
    settled(&env).await;

    // What the operator recorded in status...
    let mut recorded: BTreeSet<Mail> = BTreeSet::new();
    let mut uid_names: HashMap<String, String> = HashMap::new();
    for u in users(&env).await {
        let name = u.name_any();
        uid_names.insert(u.uid().unwrap_or_default(), name.clone());
        let known = before.get(&name).cloned().unwrap_or_default();
        let st = u.status.clone().unwrap_or_default();
        let entries = st
            .notifications
            .pending
            .iter()
            .map(|n| (n.kind, n.message_id.clone(), n.recipient.clone()))
            .chain(st.notifications.delivered.iter().map(|n| (n.kind, n.message_id.clone(), n.recipient.clone())));
        for (kind, id, to) in entries {
            if !known.contains(&id) {
                recorded.insert((name.clone(), kind.to_string(), to));
            }
        }
    }
    assert_eq!(recorded, predicted, "e-mails recorded in status differ from the plan");

    // ...and what it actually sent (the outbox the harness points it at).
    // (counted as a list, not a set: an e-mail sent twice must show as two)
    let mut sent: Vec<Mail> = Vec::new();
    for m in mail::outbox(&env.outbox()) {
        if sent_before.contains(&m.message_id) {
            continue;
        }
        let name = uid_names.get(&m.uid).unwrap_or_else(|| panic!("no user for {}", m.message_id));
        sent.push((name.clone(), m.kind.to_string(), m.to));
    }
    sent.sort();
    assert_eq!(sent, predicted.iter().cloned().collect::<Vec<_>>(), "e-mails sent differ from the plan");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn validate_live_reports_an_id_held_in_the_cluster_and_a_reused_token() {
    let mut env = TestEnv::new("validate-live").await;
    env.start_operator();
    let (mut tenant, people) = example_objects();
    tenant.metadata.namespace = Some(env.ns.clone());
    env.apply(&tenant).await;
    let mut alice = people.into_iter().find(|u| u.name_any() == "alice").expect("alice");
    alice.metadata.namespace = Some(env.ns.clone());
    env.apply(&alice).await;
    settled(&env).await;
    // Two PIN resets (a reset asked for with the first provisioning would be absorbed by it).
    alice.spec.requests.reset_pin = Some("ticket-1".into());
    env.apply(&alice).await;
    env.wait_user("alice", "ticket-1 handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("ticket-1")
    })
    .await;
    settled(&env).await;
    alice.spec.requests.reset_pin = Some("ticket-2".into());
    env.apply(&alice).await;
    env.wait_user("alice", "ticket-2 handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("ticket-2")
    })
    .await;
    settled(&env).await;
    let held = env.user("alice").await.status.and_then(|s| s.conference_id).expect("alice's ID");

    // The commit goes back to alice's first token, and gives a new user alice's ID.
    alice.spec.requests.reset_pin = Some("ticket-1".into());
    let mut zed = alice.clone();
    zed.metadata.name = Some("zed".into());
    zed.spec.requests.reset_pin = None;
    zed.spec.email = "zed@acme.example".into();
    zed.spec.conference_id = Some(held.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    write_yaml(dir.path(), "tenant.yaml", &tenant);
    write_yaml(dir.path(), "users/alice.yaml", &alice);
    write_yaml(dir.path(), "users/zed.yaml", &zed);
    let path = dir.path().to_str().expect("utf8");

    let (code, stdout, stderr) = cli(&["validate", "--live", path, "--output", "json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let found: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["object"]["name"].as_str().unwrap_or_default().to_string(),
                f["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> =
        [("alice", "CO407"), ("zed", "CO408")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(found, expected, "{stdout}");
    assert!(stdout.contains(&format!("spec.conferenceId {held} is held in the cluster by user alice")), "{stdout}");

    // Offline, neither can be known.
    let (code, stdout, _) = cli(&["validate", path]);
    assert_eq!(code, 0, "{stdout}");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn plan_live_horizon_lists_per_day_the_rotations_a_new_lifetime_brings() {
    let mut env = TestEnv::new("plan-horizon").await;
    env.start_operator();
    let (mut tenant, mut people) = example_objects();
    tenant.metadata.namespace = Some(env.ns.clone());
    for u in &mut people {
        u.metadata.namespace = Some(env.ns.clone());
    }
    env.apply(&tenant).await;
    for u in &people {
        env.apply(u).await;
    }
    settled(&env).await;
    let with_pins = users(&env).await.iter().filter(|u| u.status.as_ref().is_some_and(|s| s.pin.is_some())).count();
    assert!(with_pins >= 3, "{with_pins} users hold a PIN");

    // The commit gives PINs a 20-day lifetime: every PIN issued just now rotates on day 18, 19
    // or 20 (the last tenth of its lifetime, by its UID), none before, none twice.
    tenant.spec.pin.lifetime = Some("20d".into());
    let dir = tempfile::tempdir().expect("tempdir");
    write_yaml(dir.path(), "tenant.yaml", &tenant);
    for u in &people {
        write_yaml(dir.path(), &format!("users/{}.yaml", u.name_any()), u);
    }
    let to = dir.path().to_str().expect("utf8");
    let (code, stdout, stderr) = cli(&["plan", "--live", "--to", to, "--horizon", "30d", "--output", "json"]);
    assert_eq!(code, 0, "plan --live --horizon: {stdout}{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("plan JSON");
    let days = plan["horizon"].as_array().expect("horizon");
    assert_eq!(days.len(), 31, "today and the next 30 days");
    let rotations: Vec<u64> = days.iter().map(|d| d["rotations"].as_u64().expect("rotations")).collect();
    assert_eq!(rotations.iter().sum::<u64>(), with_pins as u64, "{rotations:?}");
    assert!(rotations[..18].iter().all(|r| *r == 0) && rotations[21..].iter().all(|r| *r == 0), "{rotations:?}");
    let emails: u64 = days.iter().map(|d| d["emails"].as_u64().expect("emails")).sum();
    assert_eq!(emails, with_pins as u64, "one PIN-reset e-mail per rotation, nothing else owed");
    // Nothing expires now: the commit itself mails no one.
    assert_eq!(plan["summary"]["emails"], 0, "{}", plan["summary"]);

    // A lifetime shorter than the horizon rotates each PIN again and again: with 7 days, at
    // 6.3 to 7 days and every such interval after, four times within 30 days.
    tenant.spec.pin.lifetime = Some("7d".into());
    write_yaml(dir.path(), "tenant.yaml", &tenant);
    let (code, stdout, stderr) = cli(&["plan", "--live", "--to", to, "--horizon", "30d", "--output", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("plan JSON");
    let rotations: u64 =
        plan["horizon"].as_array().expect("horizon").iter().map(|d| d["rotations"].as_u64().expect("n")).sum();
    assert_eq!(rotations, 4 * with_pins as u64);
    tenant.spec.pin.lifetime = Some("20d".into());
    write_yaml(dir.path(), "tenant.yaml", &tenant);

    // The text rendering says the same, per day.
    let (code, text, stderr) = cli(&["plan", "--live", "--to", to, "--horizon", "30d"]);
    assert_eq!(code, 0, "{text}{stderr}");
    assert!(text.contains("PIN rotations and e-mails due per day (UTC), over 31 day(s):"), "{text}");

    // A horizon needs --live: offline there is no issue time to count from.
    let (code, _, stderr) = cli(&["plan", "--from", to, "--to", to, "--horizon", "30d"]);
    assert_eq!(code, 2, "{stderr}");
}
