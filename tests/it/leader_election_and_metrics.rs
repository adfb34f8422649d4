//! One leader among replicas (fenced when it loses its lease), and the metrics endpoint.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::support::mail;
use crate::support::*;
use conferencing_operator::api::{ConferencingUser, NotificationKind};
use kube::ResourceExt;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn writes(log: &str) -> usize {
    log.lines().filter(|l| l.contains("api write")).count()
}

/// Waits until the replica logging to `log` is idle: none of its e-mails owed or queued (its
/// metrics), and no API write for [`QUIET`].
async fn settle(log: &Path) {
    let port = http_port(&read(log)).expect("the replica logged its HTTP port");
    wait_until("the replica has nothing owed or queued", TIMEOUT, || async {
        let m = metric_samples(&http_get(port, "/metrics").await.1);
        let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no metric {k}"));
        (get("conferencing_notifications_pending") == 0.0 && get("conferencing_delivery_queue") == 0.0).then_some(())
    })
    .await;
    let mut last = writes(&read(log));
    let mut since = Instant::now();
    while since.elapsed() < QUIET {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = writes(&read(log));
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
}

fn stop(mut child: Child, signal: &str) {
    let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
    let _ = child.wait();
}

const FAST_LEASE: [&str; 4] = ["--lease-duration-seconds", "6", "--lease-grace-seconds", "2"];

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn one_of_two_replicas_acts_and_the_standby_takes_over_when_it_dies() {
    let env = TestEnv::new("replicas").await;
    let (a_log, b_log) = (env.log_path("a.log"), env.log_path("b.log"));
    let a = env.spawn_operator(&a_log, &FAST_LEASE, &[("POD_NAME", "replica-a")]);
    wait_until("replica a leads", TIMEOUT, || async {
        read(&a_log).contains("acquired the leader lease").then_some(())
    })
    .await;
    let b = env.spawn_operator(&b_log, &FAST_LEASE, &[("POD_NAME", "replica-b")]);
    wait_until("replica b stands by", TIMEOUT, || async {
        read(&b_log).contains("waiting for the leader lease").then_some(())
    })
    .await;

    let (_, users) = env.apply_examples().await;
    assert!(writes(&read(&a_log)) > 0, "the leader did the work");
    assert_eq!(writes(&read(&b_log)), 0, "the standby wrote nothing:\n{}", read(&b_log));
    assert!(!read(&b_log).contains("acquired the leader lease"));

    // The leader dies without a word; a request made meanwhile is handled by the new leader, once.
    stop(a, "-KILL");
    let killed = Instant::now();
    let mut alice: ConferencingUser = users[0].clone();
    alice.spec.requests.reset_pin = Some("after-failover".into());
    env.apply(&alice).await;
    wait_until("replica b takes over", Duration::from_secs(30), || async {
        read(&b_log).contains("acquired the leader lease").then_some(())
    })
    .await;
    let took = killed.elapsed();
    eprintln!("standby took over {took:?} after the leader was killed (lease 6 s)");
    let u = env
        .wait_user("alice", "reset handled by the new leader", |u| {
            u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("after-failover")
        })
        .await;
    assert_eq!(emails_of(&u, NotificationKind::PinReset), 1, "the request was handled once");
    // And sent once: the two replicas share the outbox; each recorded Message-ID is in it once.
    settle(&b_log).await;
    let users = env.api::<ConferencingUser>().list(&Default::default()).await.expect("users").items;
    let sent = mail::outbox(&env.outbox());
    mail::assert_exactly_once(&sent, &users.iter().flat_map(mail::recorded).collect::<Vec<_>>());
    let resets = mail::of(&sent, &u.uid().expect("uid"), NotificationKind::PinReset);
    assert_eq!(resets.len(), 1, "one PIN-reset e-mail");
    mail::assert_pin(resets[0], &env.pin("alice").await.0);
    assert_eq!(env.wait_event_count("alice", "PinReset", 1).await, 1);
    stop(b, "-TERM");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn metrics_parse_and_count_what_happened() {
    let mut env = TestEnv::new("metrics").await;
    env.start_operator();
    env.apply_examples().await;
    env.wait_idle().await;
    let port = http_port(&env.log()).expect("the operator logged its HTTP port");
    assert_eq!(http_get(port, "/healthz").await.0, 200);
    assert_eq!(http_get(port, "/readyz").await.0, 200);
    let (status, body) = http_get(port, "/metrics").await;
    assert_eq!(status, 200);
    let samples = metric_samples(&body);
    assert!(body.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
    // Four of the five example users are Native: four PINs, four IDs, four licence e-mails
    // plus Dana's on-request e-mail, all delivered to the outbox.
    assert_eq!(samples.get("conferencing_pins_issued_total"), Some(&4.0), "{body}");
    assert_eq!(samples.get("conferencing_conference_ids_issued_total"), Some(&4.0), "{body}");
    assert_eq!(samples.get("conferencing_notifications_total{result=\"sent\"}"), Some(&5.0), "{body}");
    assert_eq!(samples.get("conferencing_notifications_pending"), Some(&0.0), "{body}");
    assert_eq!(samples.get("conferencing_leader"), Some(&1.0), "{body}");
    let writes_metric: f64 =
        samples.iter().filter(|(k, _)| k.starts_with("conferencing_api_writes_total")).map(|(_, v)| v).sum();
    assert_eq!(writes_metric as usize, env.api_writes(), "the write counter matches the logged writes");
    assert!(
        samples
            .get("conferencing_reconciles_total{kind=\"ConferencingUser\",result=\"ok\"}")
            .is_some_and(|v| *v >= 5.0)
    );
    assert!(samples.keys().any(|k| k.starts_with("conferencing_reconcile_duration_seconds_bucket")));
}

/// The PIN-reset e-mails in the shared outbox, as (Message-ID, text).
fn pin_reset_emails(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let raw = std::fs::read(e.path()).unwrap_or_default();
        let Some(m) = mail_parser::MessageParser::default().parse(&raw) else { continue };
        let id = m.message_id().unwrap_or_default().to_string();
        if id.starts_with("pin-reset.") {
            out.push((id, m.body_text(0).map(|c| c.into_owned()).unwrap_or_default()));
        }
    }
    out
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_paused_leader_that_resumes_after_losing_its_lease_writes_nothing() {
    let env = TestEnv::new("fencing").await;
    let (a_log, b_log) = (env.log_path("a.log"), env.log_path("b.log"));
    // Bob's status writes wait 0.5 s in replica a, so that a pause at the PIN Secret write of
    // his reset lands with the status write still to be made. Shorter than the second the
    // operator gives in-flight work after losing the lease, so that the write is attempted
    // even when the pause lands before the Secret write's response arrives.
    let hold = format!("status:{}/bob:500", env.ns);
    let mut a = env.spawn_operator(
        &a_log,
        &FAST_LEASE,
        &[("POD_NAME", "replica-a"), ("CONFERENCING_FAULT_DELAY", hold.as_str())],
    );
    wait_until("replica a leads", TIMEOUT, || async {
        read(&a_log).contains("acquired the leader lease").then_some(())
    })
    .await;
    let b = env.spawn_operator(&b_log, &FAST_LEASE, &[("POD_NAME", "replica-b")]);
    let (_, users) = env.apply_examples().await;
    settle(&a_log).await;

    // The leader is paused (a long GC pause, a frozen VM, a partition) past its lease in the
    // middle of a request: at its first write for bob's reset (logged as it is sent), so that
    // the writes that follow it (the status, held back 0.5 s, and the Event) are still to be made.
    let pid = a.id().to_string();
    let mut bob: ConferencingUser = users[1].clone();
    bob.spec.requests.reset_pin = Some("as-a-pauses".into());
    let lines_before = read(&a_log).lines().count();
    env.apply(&bob).await;
    let deadline = Instant::now() + TIMEOUT;
    while !read(&a_log).lines().skip(lines_before).any(|l| l.contains("api write") && l.contains("name=bob")) {
        assert!(Instant::now() < deadline, "the leader wrote nothing for bob's reset:\n{}", tail(&read(&a_log), 20));
        std::thread::sleep(Duration::from_millis(1));
    }
    Command::new("kill").args(["-STOP", &pid]).status().expect("SIGSTOP");
    wait_until("replica b takes over", Duration::from_secs(30), || async {
        read(&b_log).contains("acquired the leader lease").then_some(())
    })
    .await;
    let mut alice: ConferencingUser = users[0].clone();
    alice.spec.requests.reset_pin = Some("while-a-is-paused".into());
    env.apply(&alice).await;
    env.wait_user("alice", "reset handled by the new leader", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("while-a-is-paused")
    })
    .await;
    env.wait_user("bob", "bob's reset handled", |u| {
        u.status.as_ref().and_then(|s| s.handled_requests.reset_pin.as_deref()) == Some("as-a-pauses")
    })
    .await;
    let writes_before = writes(&read(&a_log));

    // It resumes, with in-flight work and a view of the world that is seconds old.
    Command::new("kill").args(["-CONT", &pid]).status().expect("SIGCONT");
    let resumed = Instant::now();
    let deadline = resumed + Duration::from_secs(30);
    let exit = loop {
        if let Ok(Some(status)) = a.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "the old leader did not stop within 30 s of SIGCONT");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stopped_after = resumed.elapsed();
    let log = read(&a_log);
    let refused = log.lines().filter(|l| l.contains("write refused")).count();
    eprintln!(
        "the old leader stopped {stopped_after:?} after SIGCONT ({exit}); writes after resuming: {}; writes refused: {refused}",
        writes(&log) - writes_before,
    );
    // The precondition: it did hold work and tried to write after resuming; the fence refused
    // it. Without a refused write, "no write after resuming" would say nothing.
    assert!(refused >= 1, "the old leader attempted no write after resuming:\n{}", tail(&log, 30));
    assert_eq!(writes(&log), writes_before, "no API write after resuming:\n{}", tail(&log, 20));
    assert!(!exit.success(), "it exits (to restart as a standby)");
    assert!(log.contains("lost the leader lease"));

    settle(&b_log).await;
    let resets = pin_reset_emails(&env.outbox());
    let for_user = |uid: String| -> Vec<(String, String)> {
        resets.iter().filter(|(id, _)| id.ends_with(&format!("{uid}@conferencing-operator.invalid"))).cloned().collect()
    };
    // The request made after the takeover: exactly one e-mail, with the PIN in the Secret.
    let alice_uid = env.user("alice").await.uid().expect("uid");
    let (alice_pin, _) = env.pin("alice").await;
    let to_alice = for_user(alice_uid);
    assert_eq!(to_alice.len(), 1, "exactly one PIN-reset e-mail: {to_alice:?}");
    assert!(to_alice[0].1.contains(&alice_pin), "whose PIN is the one in the Secret");
    // The request in flight when the leader froze: the old leader may have sent it before
    // freezing, and the new one, finding no record, sends it again (at least once; the same
    // Message-ID, the same PIN: the Secret the old leader wrote is adopted, never replaced).
    let bob_uid = env.user("bob").await.uid().expect("uid");
    let (bob_pin, _) = env.pin("bob").await;
    let to_bob = for_user(bob_uid);
    assert!((1..=2).contains(&to_bob.len()), "{to_bob:?}");
    assert!(to_bob.iter().all(|(id, text)| *id == to_bob[0].0 && text.contains(&bob_pin)), "{to_bob:?}");
    stop(b, "-TERM");
}
