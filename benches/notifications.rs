//! Sends 1,000 notifications to a local SMTP server and prints messages per second and peak
//! memory: the operator's path (render, compose, send through its relay connections, 16 at a
//! time as the delivery queue runs them, and one at a time on one connection) and a plain loop
//! of lettre's own pooled transport sending the same pre-built messages over one connection.
//!
//!     scripts/smtp-server up --name bench --port 2626
//!     SMTP_BENCH_URL=smtp://127.0.0.1:2626 cargo bench --bench notifications
//!
//! Without SMTP_BENCH_URL it prints how to run it and exits.

use std::time::{Duration, Instant};

use conferencing_operator::api::{ConferencingTenant, ConferencingUser, NotificationKind, PendingNotification};
use conferencing_operator::notification::mail::{SmtpConfig, StartTls, Transport, compose};
use conferencing_operator::notification::notifier::{Notifier, context};
use conferencing_operator::notification::templates::Templates;
use conferencing_operator::planning::outbox::Attempt;
use conferencing_operator::provisioning::pin::Pin;
use conferencing_operator::validation::{ClusterPolicy, validate_tenant, validate_user};
use futures::StreamExt;
use lettre::AsyncTransport;

const N: usize = 1000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn smtp(url: &str, pool: u32) -> Transport {
    Transport::smtp(&SmtpConfig {
        url: url.to_string(),
        starttls: StartTls::Never,
        credentials: None,
        ca_file: None,
        timeout: Duration::from_secs(30),
        pool_size: pool,
    })
    .expect("transport")
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("SMTP_BENCH_URL") else {
        eprintln!("set SMTP_BENCH_URL (e.g. start scripts/smtp-server up --name bench --port 2626 first)");
        return;
    };
    let tenant: ConferencingTenant =
        serde_yaml::from_str(include_str!("../examples/acme/tenant.yaml")).expect("tenant");
    let vt = validate_tenant(&tenant, &ClusterPolicy::unrestricted()).expect("valid tenant");
    let template: ConferencingUser =
        serde_yaml::from_str(include_str!("../examples/acme/users/alice.yaml")).expect("user");
    let mut users = Vec::with_capacity(N);
    for i in 0..N {
        let mut u = template.clone();
        u.metadata.name = Some(format!("user-{i}"));
        u.metadata.uid = Some(format!("uid-{i}"));
        u.spec.email = format!("user{i}@acme.example");
        let vu = validate_user(&u, &vt).expect("valid user");
        let st = conferencing_operator::api::record::UserMemory {
            conference_id: Some(format!("{}", 1_000_000 + i)),
            service_number: Some("+14255550100".into()),
            ..conferencing_operator::api::record::UserMemory::empty()
        };
        let entry = PendingNotification::owed(
            NotificationKind::LicenseAssigned,
            format!("<license-assigned.g1.t1.uid-{i}@conferencing-operator.invalid>"),
            format!("user{i}@acme.example"),
        );
        users.push((vu, st, entry));
    }
    let templates = Templates::embedded().expect("templates");
    let from: lettre::message::Mailbox = "Audio Conferencing <conferencing@ops.example>".parse().expect("from");

    // The operator's path.
    let before = peak_rss_kib();
    let notifier = Notifier { templates, transport: smtp(&url, 4), default_from: from.clone() };
    let start = Instant::now();
    let results: Vec<Attempt> = futures::stream::iter(users.iter())
        .map(|(vu, st, entry)| deliver(&notifier, entry, vu, &vt, st))
        .buffer_unordered(16)
        .collect()
        .await;
    let operator = start.elapsed();
    let delivered = results.iter().filter(|a| **a == Attempt::Delivered).count();
    let operator_peak = peak_rss_kib();

    // The operator's path like for like with the plain loop: one connection, one at a time.
    let single = Notifier {
        templates: Templates::embedded().expect("templates"),
        transport: smtp(&url, 1),
        default_from: from.clone(),
    };
    let start = Instant::now();
    let mut single_ok = 0;
    for (vu, st, entry) in &users {
        if deliver(&single, entry, vu, &vt, st).await == Attempt::Delivered {
            single_ok += 1;
        }
    }
    let single_time = start.elapsed();

    // A plain lettre loop: the same messages, built beforehand, over one pooled connection.
    let messages: Vec<_> = users
        .iter()
        .map(|(vu, st, entry)| {
            let ctx = context(entry, vu, &vt, st, Some(Pin::from_secret("839201".to_owned())));
            let r = notifier.templates.render(entry.kind, vu.locale, &ctx).expect("render");
            compose(&r, notifier.sender(&vt), entry.recipient.parse().expect("to"), &entry.message_id).expect("compose")
        })
        .collect();
    // lettre's own pooled transport, as the operator used before it opened its connections
    // itself (with TCP_NODELAY): the baseline.
    let parsed = url::Url::parse(&url).expect("url");
    let plain = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(
        parsed.host_str().expect("host").to_string(),
    )
    .port(parsed.port().unwrap_or(25))
    .tls(lettre::transport::smtp::client::Tls::None)
    .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(1))
    .build();
    let start = Instant::now();
    let mut plain_ok = 0;
    for m in messages {
        if plain.send(m).await.is_ok() {
            plain_ok += 1;
        }
    }
    let plain_time = start.elapsed();

    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "operator path : {delivered}/{N} delivered in {operator:.2?} = {:.0} msg/s (render+compose+send, 16 concurrent, pool 4)",
        rate(delivered, operator)
    );
    println!(
        "plain lettre  : {plain_ok}/{N} delivered in {plain_time:.2?} = {:.0} msg/s (pre-built, sequential, lettre's pool of 1)",
        rate(plain_ok, plain_time)
    );
    println!(
        "operator path : {single_ok}/{N} delivered in {single_time:.2?} = {:.0} msg/s (render+compose+send, sequential, pool 1)",
        rate(single_ok, single_time)
    );
    println!(
        "ratio, like for like (sequential, one connection) operator/plain: {:.2}",
        rate(single_ok, single_time) / rate(plain_ok, plain_time)
    );
    println!(
        "ratio, as the operator runs (16 concurrent, pool 4) operator/plain: {:.2}",
        rate(delivered, operator) / rate(plain_ok, plain_time)
    );
    println!("peak RSS: {before} KiB before, {operator_peak} KiB after the operator path");
}

/// The operator's delivery path for one e-mail: prepare from the spec and record, render
/// with the PIN, compose, send.
async fn deliver(
    notifier: &Notifier,
    entry: &PendingNotification,
    vu: &conferencing_operator::validation::ValidatedUser,
    vt: &conferencing_operator::validation::ValidatedTenant,
    st: &conferencing_operator::api::record::UserMemory,
) -> Attempt {
    let Some(email) = notifier.prepare(entry, vu, vt, st) else {
        return Attempt::Permanent("the recipient is no longer allowed".into());
    };
    match notifier.build(&email, Some(Pin::from_secret("839201".to_owned()))) {
        Ok(m) => notifier.send(m).await,
        Err(e) => Attempt::Permanent(e),
    }
}
