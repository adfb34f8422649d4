//! Taking over an organisation that already has dial-in conferencing: its export imported
//! (`conferencing-operator import`), the takeover planned (`plan --live`), applied, and the
//! operator adopting every user's conference ID and the PINs brought along, e-mailing exactly
//! what the plan predicted; an adopted ID is not static; the PIN sources the operator may read.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use crate::support::mail::{self, Mail};
use crate::support::smtp::SmtpServer;
use crate::support::*;
use conferencing_operator::api::{
    Adopt, ConditionStatus, ConferencingTenant, ConferencingUser, NotificationKind, PinSourceRef, TakeoverEmail,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::json;

const USERS: usize = 200;

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_conferencing-operator")).args(args).output().expect("run cli");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// An export of `USERS` users as Windows PowerShell's `Export-Csv` writes it: user `i` has
/// conference ID `4_100_000 + i`; every third has a toll-free number.
fn export(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from(
        "\u{feff}#TYPE Deserialized.Microsoft.Rtc.Management.Hosted.Bridge.DialInConferencingUser\r\n\
         \"Identity\",\"AllowPstnOnlyMeetings\",\"AllowTollFreeDialIn\",\"ConferenceId\",\"DisplayName\",\"LeaderPin\",\"ServiceNumber\",\"SipAddress\",\"TollFreeServiceNumber\"\r\n",
    );
    for i in 0..USERS {
        let toll_free = if i.is_multiple_of(3) { "18005550100" } else { "" };
        csv.push_str(&format!(
            "\"id-{i}\",\"False\",\"True\",\"{}\",\"User {i}\",\"*****\",\"14255550100\",\"sip:user{i}@contoso.example\",\"{toll_free}\"\r\n",
            4_100_000 + i
        ));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, csv).expect("write export");
    path
}

/// A PIN the previous bridge gave user `i` (5 digits, not a run or a repeat).
fn old_pin(i: usize) -> String {
    format!("{}", 52_817 + i * 131)
}

/// The Secret a previous bridge's PIN arrives in (External Secrets, say): under the user's
/// PIN Secret name, labelled for adoption.
fn adoptable(name: &str, pin: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([("conferencing.io/adopt-pin".to_string(), "true".to_string())].into()),
            ..ObjectMeta::default()
        },
        data: Some([("pin".to_string(), ByteString(format!("{pin}\n").into_bytes()))].into()),
        ..Secret::default()
    }
}

/// The tree's objects, typed.
fn tree(out: &Path) -> (ConferencingTenant, Vec<ConferencingUser>) {
    let read = |p: &Path| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(p).expect("read")).expect("yaml")
    };
    let tenant = ConferencingTenant::deserialize(read(&out.join("tenant.yaml"))).expect("tenant");
    let mut users = Vec::new();
    for entry in std::fs::read_dir(out.join("users")).expect("users dir") {
        users.push(ConferencingUser::deserialize(read(&entry.expect("entry").path())).expect("user"));
    }
    (tenant, users)
}

/// The plan's summary as JSON.
fn planned(out: &Path, ns: &str) -> serde_json::Value {
    let (code, stdout, stderr) =
        cli(&["plan", "--live", "--to", &out.display().to_string(), "--namespace", ns, "--output", "json"]);
    assert_eq!(code, 0, "plan:\n{stdout}\n{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).expect("plan JSON")["summary"].clone()
}

/// Imports the export into `env`'s namespace, brings the previous PINs of the even users,
/// checks the plan's prediction, applies the tree and waits until every user is Ready.
async fn take_over(env: &TestEnv, takeover_email: &str) -> (Vec<ConferencingUser>, serde_json::Value) {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("tree");
    let (code, stdout, stderr) = cli(&[
        "import",
        "--users",
        &export(dir.path()).display().to_string(),
        "--namespace",
        &env.ns,
        "--tenant",
        "contoso",
        "--organization",
        "Contoso",
        "--takeover-email",
        takeover_email,
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, 0, "import:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("{USERS} users")), "{stdout}");
    let (tenant, users) = tree(&out);
    assert_eq!(users.len(), USERS);
    for i in (0..USERS).step_by(2) {
        env.api::<Secret>()
            .create(&PostParams::default(), &adoptable(&format!("user{i}-conferencing-pin"), &old_pin(i)))
            .await
            .expect("a PIN to adopt");
    }
    let summary = planned(&out, &env.ns);
    env.apply(&tenant).await;
    for u in &users {
        env.apply(u).await;
    }
    let mut ready = Vec::new();
    for u in &users {
        ready.push(env.wait_ready(&u.name_any()).await);
    }
    (ready, summary)
}

fn index(name: &str) -> usize {
    name.trim_start_matches("user").parse().expect("userN")
}

/// Every user holds its exported ID; the even users their old PINs, unchanged, in a PIN
/// Secret now theirs; the odd users a new PIN. No PIN in any status or Event.
/// Whether `text` holds `digits` as a number of its own (not inside a longer run of digits,
/// such as a resourceVersion or a timestamp).
fn holds_number(text: &str, digits: &str) -> bool {
    text.match_indices(digits).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + digits.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

async fn kept_ids_and_pins(env: &TestEnv, users: &[ConferencingUser]) -> HashMap<usize, String> {
    let mut pins = HashMap::new();
    for u in users {
        let i = index(&u.name_any());
        let st = u.status.as_ref().expect("status");
        assert_eq!(st.conference_id.as_deref(), Some((4_100_000 + i).to_string().as_str()), "{}", u.name_any());
        let (pin, _) = env.pin(&u.name_any()).await;
        if i.is_multiple_of(2) {
            assert_eq!(pin, old_pin(i), "user{i} keeps the PIN it brought");
        } else {
            assert_ne!(pin, old_pin(i));
        }
        let secret: Secret = env.api().get(&format!("{}-conferencing-pin", u.name_any())).await.expect("PIN Secret");
        assert!(secret.owner_references().iter().any(|o| o.uid == u.uid().unwrap_or_default()), "owned by the user");
        assert!(!secret.labels().contains_key("conferencing.io/adopt-pin"), "no longer waiting to be adopted");
        let status = serde_json::to_string(&u.status).expect("json");
        assert!(!holds_number(&status, &pin), "the PIN is not in the status");
        pins.insert(i, pin);
    }
    let events = env.api::<k8s_openapi::api::core::v1::Event>().list(&Default::default()).await.expect("events");
    // What the operator writes into Events: their messages (the rest is the API server's:
    // resourceVersions and counts, which a 5-digit PIN can equal by chance).
    let text: String = events.items.iter().filter_map(|e| e.message.clone()).collect::<Vec<_>>().join("\n");
    let log = env.log();
    for pin in pins.values() {
        assert!(!holds_number(&text, pin), "a PIN in an Event");
        assert!(!holds_number(&log, pin), "a PIN in the log");
    }
    pins
}

async fn start(name: &str) -> (TestEnv, SmtpServer) {
    let mut env = TestEnv::new(name).await;
    let server = SmtpServer::start(&env.ns);
    let url = server.url();
    env.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never"]);
    (env, server)
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn two_hundred_users_taken_over_keep_their_ids_and_pins_and_nobody_is_mailed() {
    let (env, server) = start("takeover-none").await;
    let (users, summary) = take_over(&env, "none").await;
    assert_eq!(summary["emails"], json!(0), "the plan predicts no e-mail: {summary}");
    kept_ids_and_pins(&env, &users).await;
    env.wait_idle().await;
    assert_eq!(server.mails().len(), 0, "nobody is e-mailed, as planned");
    // Every user's record says it was taken over (so spec.adopt is never read again); the
    // Events of a bulk change are limited, so some users' TakenOver Events are summed up.
    let records = env.api::<Secret>().list(&Default::default()).await.expect("secrets").items;
    for u in &users {
        let record = records.iter().find(|s| s.name_any() == format!("{}-conferencing-record", u.name_any()));
        let memory = record.and_then(|r| r.annotations().get("conferencing.io/record").cloned()).unwrap_or_default();
        assert!(memory.contains("\"takenOver\":true"), "{}: {memory}", u.name_any());
    }
    let events = env.api::<k8s_openapi::api::core::v1::Event>().list(&Default::default()).await.expect("events");
    // One TakenOver Event per user: written one by one, or summed up ("N more TakenOver
    // Events ...").
    let mut seen = 0;
    for e in events.items.iter().filter(|e| e.reason.as_deref() == Some("TakenOver")) {
        let message = e.message.clone().unwrap_or_default();
        if let Some(n) = summed_up(&message) {
            seen += n;
            continue;
        }
        let i = index(e.involved_object.name.as_deref().unwrap_or_default());
        assert!(message.contains(&format!("conference ID {} kept", 4_100_000 + i)), "{message}");
        assert!(message.contains("nobody is e-mailed"), "{message}");
        seen += usize::try_from(e.count.unwrap_or(1)).unwrap_or(1);
    }
    assert_eq!(seen, USERS, "one TakenOver Event per user");
}

/// N of "N more TakenOver Events in this namespace ...", the summary of a bulk change.
fn summed_up(message: &str) -> Option<usize> {
    let (n, rest) = message.split_once(' ')?;
    rest.starts_with("more TakenOver Events").then(|| n.replace(',', "").parse().ok())?
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_welcome_takeover_sends_what_the_plan_said_with_a_pin_only_where_it_is_new() {
    let (env, server) = start("takeover-welcome").await;
    let (users, summary) = take_over(&env, "welcome").await;
    let by_kind = &summary["emailsByKind"];
    assert_eq!(summary["emails"], json!(USERS), "{summary}");
    assert_eq!(by_kind["TakeoverWelcome"], json!(USERS / 2), "{summary}");
    assert_eq!(by_kind["TakeoverWelcomeNewPin"], json!(USERS / 2), "{summary}");
    let pins = kept_ids_and_pins(&env, &users).await;
    server.wait_for(USERS, TIMEOUT).await;
    env.wait_idle().await;
    let received = server.mails();
    let recorded: Vec<_> = env.api::<ConferencingUser>().list(&Default::default()).await.expect("users").items;
    let recorded: Vec<_> = recorded.iter().flat_map(mail::recorded).collect();
    mail::assert_exactly_once(&received, &recorded);
    let uid_to_index: BTreeMap<String, usize> =
        users.iter().map(|u| (u.uid().unwrap_or_default(), index(&u.name_any()))).collect();
    let mut kinds: BTreeMap<NotificationKind, usize> = BTreeMap::new();
    for m in &received {
        let i = uid_to_index[&m.uid];
        *kinds.entry(m.kind).or_default() += 1;
        let pin = &pins[&i];
        match m.kind {
            NotificationKind::TakeoverWelcome => {
                assert!(i.is_multiple_of(2), "user{i} brought a PIN");
                assert!(
                    !m.text.contains(pin.as_str()) && !m.html.contains(pin.as_str()),
                    "the kept PIN is not e-mailed"
                );
            }
            NotificationKind::TakeoverWelcomeNewPin => {
                assert!(!i.is_multiple_of(2), "user{i} brought no PIN");
                assert!(m.text.contains(pin.as_str()), "the new PIN is e-mailed");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(m.text.contains(&(4_100_000 + i).to_string()), "the kept conference ID");
        assert!(m.text.contains("The Contoso IT team"), "signed with the organisation's name:\n{}", m.text);
        assert_eq!(m.to, format!("user{i}@contoso.example"));
    }
    assert_eq!(kinds.values().sum::<usize>(), USERS, "{kinds:?}");
}

fn mini_tenant() -> ConferencingTenant {
    let mut t = example_objects().0;
    t.spec.organization_name = Some("Contoso".into());
    t.spec.notifications.send_email_override = false;
    t.spec.notifications.send_email_from_address = None;
    t.spec.notifications.send_email_from_display_name = None;
    t.spec.notifications.takeover_email = TakeoverEmail::Welcome;
    t.spec.notifications.allowed_recipient_domains = vec!["contoso.example".into()];
    t
}

fn mini_user(name: &str, adopt: Option<Adopt>) -> ConferencingUser {
    let mut u = example_objects().1.into_iter().find(|u| u.name_any() == "alice").expect("alice");
    u.metadata.name = Some(name.into());
    u.spec.email = format!("{name}@contoso.example");
    u.spec.send_email_to_address = None;
    u.spec.conference_id = None;
    u.spec.requests = Default::default();
    u.spec.adopt = adopt;
    u
}

async fn patch_spec(env: &TestEnv, name: &str, spec: serde_json::Value) {
    env.api::<ConferencingUser>()
        .patch(name, &PatchParams::default(), &Patch::Merge(json!({ "spec": spec })))
        .await
        .expect("patch");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn an_adopted_id_is_reset_on_request_and_a_static_one_is_not() {
    let (env, server) = start("takeover-reset").await;
    env.apply(&mini_tenant()).await;
    let adopted = Adopt { conference_id: Some("7654321".into()), pin_secret_ref: None };
    env.apply(&mini_user("ann", Some(adopted))).await;
    let mut stat = mini_user("sam", None);
    stat.spec.conference_id = Some("7777123".into());
    env.apply(&stat).await;
    assert_eq!(env.wait_ready("ann").await.status.and_then(|s| s.conference_id).as_deref(), Some("7654321"));
    env.wait_ready("sam").await;
    server.wait_for(2, TIMEOUT).await; // ann's welcome (new PIN), sam's licence e-mail

    patch_spec(&env, "ann", json!({ "requests": { "resetConferenceId": "ticket-1" } })).await;
    patch_spec(&env, "sam", json!({ "requests": { "resetConferenceId": "ticket-2" } })).await;
    let ann = env
        .wait_user("ann", "a new ID", |u| {
            is_ready(u) && u.status.as_ref().and_then(|s| s.conference_id.as_deref()).is_some_and(|id| id != "7654321")
        })
        .await;
    let new_id = ann.status.and_then(|s| s.conference_id).expect("id");
    env.wait_event_count("sam", "ConferenceIdResetIgnored", 1).await;
    assert_eq!(env.user("sam").await.status.and_then(|s| s.conference_id).as_deref(), Some("7777123"));
    server.wait_for(3, TIMEOUT).await;
    env.wait_idle().await;
    let resets: Vec<Mail> =
        server.mails().into_iter().filter(|m| m.kind == NotificationKind::ConferenceIdReset).collect();
    assert_eq!(resets.len(), 1, "ann's reset e-mail, and none for sam");
    assert!(resets[0].text.contains(&new_id) && resets[0].to == "ann@contoso.example");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_pin_source_is_read_only_when_labelled_and_a_bad_pin_is_replaced_and_mailed() {
    let (env, server) = start("takeover-source").await;
    env.apply(&mini_tenant()).await;
    // Another credential in the namespace, not labelled: naming it reads nothing.
    let mut db = adoptable("database", "31415");
    db.metadata.labels = None;
    env.api::<Secret>().create(&PostParams::default(), &db).await.expect("secret");
    let from = |name: &str, key: &str| Adopt {
        conference_id: None,
        pin_secret_ref: Some(PinSourceRef { name: name.into(), key: key.into() }),
    };
    env.apply(&mini_user("eve", Some(from("database", "pin")))).await;
    let eve = env.wait_reason("eve", "AdoptedPinMissing").await;
    let message = ready_condition(&eve).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("lacks the label conferencing.io/adopt-pin"), "{message}");
    assert!(!message.contains("31415"));
    assert!(env.api::<Secret>().get_opt("eve-conferencing-pin").await.expect("get").is_none(), "nothing provisioned");

    // A source that does not exist yet: the user waits for it, then adopts it, e-mailing
    // the welcome without the PIN.
    env.apply(&mini_user("fay", Some(from("legacy-fay", "value")))).await;
    env.wait_reason("fay", "AdoptedPinMissing").await;
    let mut source = adoptable("legacy-fay", "86420");
    source.data = Some([("value".to_string(), ByteString(b"86429".to_vec()))].into());
    env.api::<Secret>().create(&PostParams::default(), &source).await.expect("source");
    env.wait_ready("fay").await;
    assert_eq!(env.pin("fay").await.0, "86429");

    // A value that is not a PIN: replaced, with a Warning naming the rule, and e-mailed.
    let mut bad = adoptable("legacy-gus", "12");
    bad.data = Some([("pin".to_string(), ByteString(b"12".to_vec()))].into());
    env.api::<Secret>().create(&PostParams::default(), &bad).await.expect("source");
    env.apply(&mini_user("gus", Some(from("legacy-gus", "pin")))).await;
    env.wait_ready("gus").await;
    let (gus_pin, _) = env.pin("gus").await;
    assert_ne!(gus_pin, "12");
    let warnings = env.events("gus", "AdoptedPinReplaced").await;
    assert_eq!(warnings.len(), 1);
    let note = warnings[0].message.clone().unwrap_or_default();
    assert!(note.contains("is not 4 to 12 digits") && !note.contains("\"12\""), "{note}");

    server.wait_for(2, TIMEOUT).await;
    env.wait_idle().await;
    let mails = server.mails();
    let to = |who: &str| mails.iter().filter(|m| m.to == format!("{who}@contoso.example")).collect::<Vec<_>>();
    assert_eq!(to("fay").iter().map(|m| m.kind).collect::<Vec<_>>(), [NotificationKind::TakeoverWelcome]);
    assert!(!to("fay")[0].text.contains("86429"));
    assert_eq!(to("gus").iter().map(|m| m.kind).collect::<Vec<_>>(), [NotificationKind::TakeoverWelcomeNewPin]);
    assert!(to("gus")[0].text.contains(&gus_pin));
    assert!(to("eve").is_empty());
    let eve = env.user("eve").await;
    assert_eq!(ready_condition(&eve).map(|c| c.status), Some(ConditionStatus::False));
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_removed_licence_shows_the_previous_details_and_a_one_off_recipient_gets_one_request() {
    let (env, server) = start("takeover-emails").await;
    env.apply(&mini_tenant()).await;
    env.apply(&mini_user("hal", None)).await;
    let hal = env.wait_ready("hal").await;
    let id = hal.status.as_ref().and_then(|s| s.conference_id.clone()).expect("id");
    let toll = hal.status.as_ref().and_then(|s| s.service_number.clone()).expect("number");
    server.wait_for(1, TIMEOUT).await;

    // A one-off recipient: this request's e-mail only.
    patch_spec(
        &env,
        "hal",
        json!({ "requests": { "sendConferencingInfo": "t1", "sendEmailToAddress": "hal.home@contoso.example" } }),
    )
    .await;
    let hal = env
        .wait_user("hal", "the request handled", |u| {
            u.status.as_ref().is_some_and(|s| s.handled_requests.send_conferencing_info.as_deref() == Some("t1"))
        })
        .await;
    assert_eq!(
        hal.status.as_ref().and_then(|s| s.handled_requests.send_conferencing_info_to.as_deref()),
        Some("hal.home@contoso.example")
    );
    server.wait_for(2, TIMEOUT).await;
    // An address outside the tenant's domains is refused, naming the field.
    patch_spec(&env, "hal", json!({ "requests": { "sendEmailToAddress": "hal@evil.example" } })).await;
    let refused = env.wait_reason("hal", "InvalidSpec").await;
    let message = ready_condition(&refused).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("spec.requests.sendEmailToAddress"), "{message}");
    patch_spec(&env, "hal", json!({ "requests": { "sendEmailToAddress": null }, "audioConferencingLicense": false }))
        .await;
    env.wait_user("hal", "deprovisioned", |u| {
        is_ready(u) && u.status.as_ref().is_some_and(|s| s.conference_id.is_none())
    })
    .await;
    server.wait_for(3, TIMEOUT).await;
    env.wait_idle().await;
    let mails = server.mails();
    let info: Vec<&Mail> = mails.iter().filter(|m| m.kind == NotificationKind::ConferencingInfoRequested).collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].to, "hal.home@contoso.example", "the one-off recipient");
    let removed: Vec<&Mail> = mails.iter().filter(|m| m.kind == NotificationKind::LicenseRemoved).collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].to, "hal@contoso.example", "later e-mails go to the user again");
    let text = &removed[0].text;
    assert!(text.contains("For reference, your previous dial-in details were"), "{text}");
    assert!(text.contains(&id) && text.contains(&toll), "the previous ID and number:\n{text}");
    assert!(text.contains("The Contoso IT team"), "{text}");
}
