//! E-mail delivery runs off the reconcile path: a mail server that accepts
//! connections and then never answers (a black hole) does not hold provisioning back.

use std::time::{Duration, Instant};

use crate::support::smtp::SmtpServer;
use crate::support::*;
use conferencing_operator::api::ConferencingUser;
use futures::future::join_all;
use kube::api::ListParams;

/// A TCP listener that accepts connections and never says a word: lettre waits for the SMTP
/// greeting until its timeout.
fn black_hole() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    (port, handle)
}

/// Applies 200 users and returns how long until every one is Ready with a PIN and an ID.
async fn provision_200(env: &TestEnv) -> Duration {
    env.apply(&example_objects().0).await;
    let users: Vec<ConferencingUser> = (0..200)
        .map(|i| {
            let mut u = example_objects().1.remove(0);
            u.metadata.name = Some(format!("user-{i:03}"));
            u.spec.email = format!("user{i}@acme.example");
            u
        })
        .collect();
    let start = Instant::now();
    for chunk in users.chunks(25) {
        join_all(chunk.iter().map(|u| env.apply(u))).await;
    }
    let api = env.api::<ConferencingUser>();
    wait_until("200 users Ready with a PIN and an ID", Duration::from_secs(300), || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        (list.items.len() == 200
            && list.items.iter().all(|u| {
                is_ready(u) && u.status.as_ref().is_some_and(|s| s.pin.is_some() && s.conference_id.is_some())
            }))
        .then_some(())
    })
    .await;
    start.elapsed()
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn a_black_holed_mail_server_does_not_hold_provisioning_back() {
    let mut healthy = TestEnv::new("smtp-healthy").await;
    let server = SmtpServer::start(&healthy.ns);
    let url = server.url();
    healthy.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never"]);
    let with_server = provision_200(&healthy).await;
    server.wait_for(200, TIMEOUT).await;
    healthy.stop_operator();

    let mut blocked = TestEnv::new("smtp-black-hole").await;
    let (port, _hole) = black_hole();
    let url = format!("smtp://127.0.0.1:{port}");
    blocked.start_operator_with(&["--smtp-url", &url, "--smtp-starttls", "never", "--smtp-timeout-seconds", "30"]);
    let with_hole = provision_200(&blocked).await;
    eprintln!("200 users Ready: {with_server:?} with a healthy mail server, {with_hole:?} with a black hole");
    assert!(
        with_hole <= with_server.mul_f64(1.5) + Duration::from_secs(5),
        "provisioning waited for the mail server: {with_hole:?} against {with_server:?}"
    );
    // The e-mails are owed, not lost.
    let owed = blocked
        .api::<ConferencingUser>()
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .filter(|u| u.status.as_ref().is_some_and(|s| !s.notifications.pending.is_empty()))
        .count();
    assert_eq!(owed, 200, "every licence e-mail is still owed");
}
