//! The scale benchmark of issue 11: for each N, N licensed users in one tenant, the release
//! operator started against them and a real SMTP server, and the time to convergence set
//! against the floor (a bare kube-rs client making the writes the operator needs), the
//! operator's peak RSS and API writes, its writes at steady state and after a restart, and a
//! tenant fan-out. Results go to stdout as Markdown and into docs/performance.md (between
//! markers) with docs/performance.png.
//!
//!     scripts/bench-scale 1000 10000 30000     # provisions, builds, runs
//!     cargo run --release -p bench-scale -- --help   # against the cluster in KUBECONFIG
//!
//! Phases per N (each with a timeout that grows with N, named in the error):
//! 1. set-up: namespaces `bench-N-<time>` (the operator's) and `...-floor`, the tenant (PIN
//!    length 6, 8-digit IDs, two Toll numbers), N users in each, before the operator starts;
//! 2. convergence: operator start to every user Ready with an ID and its licence e-mail in
//!    the SMTP server's Maildir and recorded as delivered in its status;
//! 3. steady state: the operator's writes over 30 s;
//! 4. restart: SIGTERM (VmHWM read just before), a new process, the time until it is idle
//!    (caches filled, then no reconcile and no write for 3 s) and its writes;
//! 5. fan-out: the tenant's default Toll number changed, to every user showing it and one
//!    ServiceNumberChanged e-mail each;
//! 6. the floors, with the operator stopped: per user the operator's writes with its verbs (a
//!    ConferenceIdClaim and a PIN Secret created, the record Secret created owing the e-mail
//!    and replaced with it delivered, the status of the operator's shape replaced; fan-out:
//!    the record replaced twice and the status once), at the same concurrency; API writes
//!    only.
//!
//! Timing reads a watch on the users and the Maildir, and counts from the operator's
//! `/metrics`, so the benchmark itself adds one watch to the API server's load.

mod cluster;
mod plot;
mod process;
mod report;
mod rotation;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use conferencing_operator::api::ConferencingUser;
use kube::{Api, Client};

use cluster::{Floor, Tracker};
use process::{Counters, CpuMeter, Operator, OperatorConfig, SmtpServer};
use report::Row;

/// Why a run failed; a timeout names its phase.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("phase `{phase}` did not finish within {}: {progress}", humantime::format_duration(*after))]
    Timeout { phase: String, after: Duration, progress: String },
    #[error("the operator exited unexpectedly ({status})")]
    OperatorExited { status: String },
    #[error("reading the operator's /metrics: {0}")]
    Metrics(String),
    #[error("no {what} in /proc/{pid}/status")]
    Proc { pid: u32, what: &'static str },
    #[error("SMTP server: {0}")]
    Smtp(String),
    #[error("setting up: {0}")]
    Setup(String),
    #[error("cleaning up: {0}")]
    Cleanup(String),
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
    #[error(transparent)]
    Marker(#[from] report::MarkerError),
}

impl BenchError {
    fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io { what: what.into(), source }
    }
}

/// Scale benchmark: times the operator converging N users against the floor of a bare client.
#[derive(Parser, Debug)]
#[command(name = "bench-scale")]
struct Args {
    /// Numbers of users, one run each (e.g. 1000 10000 30000).
    #[arg(required = true, value_parser = clap::value_parser!(u32).range(1..))]
    users: Vec<u32>,
    /// Keep the namespaces, the operator's logs and the Maildir for inspection.
    #[arg(long, env = "BENCH_KEEP")]
    keep: bool,
    /// Print the results only; leave docs/performance.md and docs/performance.png alone.
    #[arg(long, env = "BENCH_NO_DOC")]
    no_doc: bool,
    /// Take the users over instead of creating them: each brings its conference ID
    /// (`spec.adopt`) and PIN (a Secret labelled for adoption), the tenant e-mails nobody, and
    /// convergence is every user Ready with its ID and no e-mail sent; the floor makes a
    /// takeover's writes. Prints only (docs/performance.md's table is for creation).
    #[arg(long, conflicts_with = "rotation")]
    takeover: bool,
    /// After creating the users, give their tenant a PIN lifetime (`--rotation-lifetime`), a
    /// cap of automatic e-mails a minute (`--rotation-cap`) and a sending window open now, and
    /// time the rotations of PINs all expiring together: the writes before, during and after
    /// them, the busiest minute the SMTP server saw, the operator's memory. Prints only.
    #[arg(long)]
    rotation: bool,
    /// The PIN lifetime of `--rotation`: long enough that the users converge before the
    /// first PINs expire (at nine tenths of it), short enough to wait for.
    #[arg(long, default_value = "10m")]
    rotation_lifetime: String,
    /// The tenant's `maxEmailsPerMinute` under `--rotation`.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u32).range(1..))]
    rotation_cap: u32,
    /// Reconciles at once (`run --concurrency`), and the floor's writers at once.
    #[arg(long, default_value_t = 16)]
    concurrency: u16,
    /// Pooled SMTP connections of the operator.
    #[arg(long, default_value_t = 4)]
    smtp_pool_size: u32,
    /// How long the converged operator is watched for writes.
    #[arg(long, default_value_t = 30)]
    steady_seconds: u64,
    /// Without a reconcile or a write for this long, the operator is idle.
    #[arg(long, default_value_t = 3)]
    quiet_seconds: u64,
    /// Users created at once during set-up (not timed).
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// Multiplies every phase's timeout (a slow or busy machine).
    #[arg(long, env = "BENCH_TIMEOUT_SCALE", default_value_t = 1.0)]
    timeout_scale: f64,
    /// The operator binary; by default `conferencing-operator` beside this one, where
    /// scripts/bench-scale has cargo build it in the release profile.
    #[arg(long, env = "BENCH_OPERATOR_BIN")]
    operator_bin: Option<PathBuf>,
    /// The results document, relative to the repository; the PNG goes beside it.
    #[arg(long, default_value = "docs/performance.md")]
    doc: PathBuf,
}

/// Everything one N's run needs.
struct Bench {
    client: Client,
    args: Args,
    repo: PathBuf,
    operator_bin: PathBuf,
    stamp: String,
    cpu: CpuMeter,
    /// The log of the operator process most recently started, for the failure report.
    last_log: Option<PathBuf>,
}

/// The operator binary to measure: `--operator-bin`, or `conferencing-operator` beside this
/// binary (cargo puts both in the same profile directory).
fn operator_binary(given: Option<PathBuf>) -> Result<PathBuf, BenchError> {
    let bin = match given {
        Some(bin) => bin,
        None => {
            let me = std::env::current_exe().map_err(|e| BenchError::io("finding this binary", e))?;
            me.with_file_name("conferencing-operator")
        }
    };
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(BenchError::Setup(format!(
            "no operator binary at {}: build it with `cargo build --release --bin conferencing-operator` \
             (scripts/bench-scale does) or pass --operator-bin",
            bin.display()
        )))
    }
}

fn timeout(args: &Args, base_s: u64, per_user_ms: u64, n: usize) -> Duration {
    Duration::from_millis(base_s * 1000 + per_user_ms * n as u64).mul_f64(args.timeout_scale.max(0.01))
}

fn say(n: usize, msg: impl std::fmt::Display) {
    eprintln!("[{}] {msg}", report::thousands(n));
}

/// Polls `check` (and the operator's health) every 100 ms until it reports done; returns the
/// moment it did.
async fn wait_until(
    phase: &str,
    limit: Duration,
    op: &mut Operator,
    mut check: impl FnMut() -> (bool, String),
) -> Result<Instant, BenchError> {
    let deadline = Instant::now() + limit;
    loop {
        op.poll()?;
        let (done, progress) = check();
        if done {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(BenchError::Timeout { phase: phase.into(), after: limit, progress });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the operator has filled its caches and then neither reconciled nor written
/// for `quiet`; returns the moment of its last activity and its counters.
async fn wait_idle(
    phase: &str,
    limit: Duration,
    quiet: Duration,
    op: &mut Operator,
) -> Result<(Instant, Counters), BenchError> {
    let deadline = Instant::now() + limit;
    let mut last = op.counters().await?;
    let mut last_change = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        op.poll()?;
        let now = op.counters().await?;
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if let Some(filled) = op.caches_filled {
            let since = last_change.max(filled);
            if since.elapsed() >= quiet {
                return Ok((since, last));
            }
        }
        if Instant::now() > deadline {
            return Err(BenchError::Timeout {
                phase: phase.into(),
                after: limit,
                progress: format!(
                    "caches filled: {}; {} writes and {} reconciles so far, the last change {:.1} s ago",
                    op.caches_filled.is_some(),
                    last.total_writes(),
                    last.reconciles,
                    last_change.elapsed().as_secs_f64()
                ),
            });
        }
    }
}

async fn get_user(client: &Client, ns: &str, name: &str) -> Result<ConferencingUser, BenchError> {
    Api::<ConferencingUser>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .map_err(|source| BenchError::Kube { what: format!("reading user {ns}/{name}"), source })
}

/// "(secrets 3, events 1)", or nothing when there were no writes.
fn writes_line(w: &BTreeMap<String, u64>) -> String {
    if w.is_empty() {
        return String::new();
    }
    format!(" ({})", w.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "))
}

impl Bench {
    fn operator_config(&self, ns: &str, smtp_port: u16) -> OperatorConfig {
        OperatorConfig {
            binary: self.operator_bin.clone(),
            namespace: ns.into(),
            smtp_port,
            concurrency: self.args.concurrency,
            smtp_pool_size: self.args.smtp_pool_size,
        }
    }

    fn spawn(&mut self, config: &OperatorConfig, log: PathBuf) -> Result<Operator, BenchError> {
        self.last_log = Some(log.clone());
        Operator::spawn(config, &log)
    }

    /// One N, from set-up to the floors; the namespaces are cleaned up by the caller.
    /// `None` for `--rotation`, which prints what it measures.
    async fn run(&mut self, n: usize, work: &Path, namespaces: &mut Vec<String>) -> Result<Option<Row>, BenchError> {
        let conc = usize::from(self.args.concurrency.max(1));
        let quiet = Duration::from_secs(self.args.quiet_seconds);
        let client = self.client.clone();
        let takeover = self.args.takeover;
        let ns = format!("bench-{n}-{}", self.stamp);
        let floor_ns = format!("{ns}-floor");

        // 1. Set-up.
        let t = Instant::now();
        for name in [&ns, &floor_ns] {
            cluster::create_namespace(&client, name).await?;
            namespaces.push(name.clone());
        }
        cluster::create_tenant(&client, &ns).await?;
        let setup = async {
            cluster::create_users(&client, &ns, n, self.args.setup_concurrency, takeover).await?;
            cluster::create_users(&client, &floor_ns, n, self.args.setup_concurrency, takeover).await
        };
        let limit = timeout(&self.args, 60, 40, n);
        let floor_users = tokio::time::timeout(limit, setup).await.map_err(|_| BenchError::Timeout {
            phase: "set-up (creating users)".into(),
            after: limit,
            progress: "the API server did not accept the users in time".into(),
        })??;
        say(
            n,
            format_args!(
                "set-up: namespaces {ns} and {floor_ns}, {} users in {:.1} s",
                2 * n,
                t.elapsed().as_secs_f64()
            ),
        );

        let smtp = SmtpServer::start(&self.repo.join("scripts/smtp-server"), &work.join("smtp"), "bench")?;
        let tracker = Tracker::start(&client, &ns);
        let limit = timeout(&self.args, 60, 10, n);
        let t = Instant::now();
        while !tracker.synced() {
            if t.elapsed() > limit {
                return Err(BenchError::Timeout {
                    phase: "set-up (watching users)".into(),
                    after: limit,
                    progress: tracker.count(|_| true).1.unwrap_or_else(|| "no list yet".into()),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut others: Vec<(&str, u32)> = vec![("bench", std::process::id())];
        if let Some(pid) = smtp.pid {
            others.push(("smtp-server", pid));
        }

        // 2. Convergence.
        let config = self.operator_config(&ns, smtp.port);
        let cpu_before = self.cpu.sample(&others);
        let mut op = self.spawn(&config, work.join("operator-1.log"))?;
        op.wait_addr(Duration::from_secs(60)).await?;
        let (mut all_ready, mut all_mail) = (None, None);
        // Created users converge once told (the licence e-mail); taken-over ones once Ready
        // with nothing sent.
        let (converged_when, mails_due): (fn(&cluster::UserView) -> bool, usize) =
            if takeover { (cluster::UserView::taken_over, 0) } else { (cluster::UserView::converged, n) };
        let done = wait_until("convergence", timeout(&self.args, 120, 60, n), &mut op, || {
            let (converged, err) = tracker.count(converged_when);
            let (ready, _) = tracker.count(|v| v.ready && v.conference_id);
            let mails = smtp.count();
            if ready >= n && all_ready.is_none() {
                all_ready = Some(Instant::now());
            }
            if mails >= mails_due && all_mail.is_none() {
                all_mail = Some(Instant::now());
            }
            let err = err.map(|e| format!("; watch error: {e}")).unwrap_or_default();
            (
                converged >= n && mails >= mails_due,
                format!("{converged}/{n} users converged ({ready} Ready with an ID), {mails}/{mails_due} e-mails{err}"),
            )
        })
        .await?;
        let convergence = done - op.spawned;
        let mut others_op = others.clone();
        others_op.push(("operator", op.pid()));
        let convergence_cpu = CpuMeter::between(&cpu_before, &self.cpu.sample(&others_op));
        say(
            n,
            format_args!(
                "convergence: {:.2} s (caches filled at {}, all Ready with an ID at {}, all e-mails in the Maildir at {})",
                convergence.as_secs_f64(),
                since_of(&op, op.caches_filled),
                since_of(&op, all_ready),
                since_of(&op, all_mail),
            ),
        );
        let (_, settled) = wait_idle("convergence (settling)", timeout(&self.args, 60, 10, n), quiet, &mut op).await?;
        if takeover && smtp.count() > 0 {
            return Err(BenchError::Setup(format!(
                "the takeover e-mailed {} users; the tenant says none",
                smtp.count()
            )));
        }
        let writes = settled.writes.clone();
        say(
            n,
            format_args!(
                "convergence writes: {:.2} per user{}; reconciles: {}",
                settled.total_writes() as f64 / n as f64,
                writes_line(&writes),
                settled.reconciles
            ),
        );
        if self.args.rotation {
            self.rotation(n, &ns, &tracker, &smtp, &mut op).await?;
            let memory = op.stop().await?;
            say(n, format_args!("stopped the operator after the rotations: {memory}"));
            return Ok(None);
        }
        let converged_template = get_user(&client, &ns, &cluster::user_name(0)).await?;

        // 3. Steady state.
        let steady_window = Duration::from_secs(self.args.steady_seconds);
        let before = op.counters().await?;
        let end = Instant::now() + steady_window;
        while Instant::now() < end {
            op.poll()?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let after = op.counters().await?;
        let steady_writes = after.total_writes() - before.total_writes();
        say(
            n,
            format_args!(
                "steady state: {steady_writes} writes in {} s{}",
                steady_window.as_secs(),
                writes_line(&after.writes_since(&before))
            ),
        );

        // 4. Restart.
        let memory_1 = op.stop().await?;
        say(n, format_args!("stopped the converged operator: {memory_1}"));
        let mut op = self.spawn(&config, work.join("operator-2.log"))?;
        op.wait_addr(Duration::from_secs(60)).await?;
        let (idle_at, restarted) = wait_idle("restart to idle", timeout(&self.args, 60, 20, n), quiet, &mut op).await?;
        let restart_to_idle = idle_at - op.spawned;
        let restart_writes = restarted.total_writes();
        say(
            n,
            format_args!(
                "restart: idle {:.2} s after start (caches filled at {}), {restart_writes} writes{}, {} reconciles",
                restart_to_idle.as_secs_f64(),
                since_of(&op, op.caches_filled),
                writes_line(&restarted.writes),
                restarted.reconciles
            ),
        );

        // 5. Fan-out.
        let before = op.counters().await?;
        let mails_before = smtp.count();
        let mut others_op = others.clone();
        others_op.push(("operator", op.pid()));
        let cpu_before = self.cpu.sample(&others_op);
        let start = Instant::now();
        cluster::change_default_number(&client, &ns).await?;
        let done = wait_until("fan-out", timeout(&self.args, 120, 60, n), &mut op, || {
            let (moved, err) = tracker.count(|v| v.fanned_out(cluster::TOLL_B));
            let mails = smtp.count() - mails_before;
            let err = err.map(|e| format!("; watch error: {e}")).unwrap_or_default();
            (
                moved >= n && mails >= n,
                format!("{moved}/{n} users show the new number and were e-mailed, {mails}/{n} e-mails{err}"),
            )
        })
        .await?;
        let fan_out = done - start;
        let fan_out_cpu = CpuMeter::between(&cpu_before, &self.cpu.sample(&others_op));
        let (_, settled) = wait_idle("fan-out (settling)", timeout(&self.args, 60, 10, n), quiet, &mut op).await?;
        let fan_out_writes = settled.writes_since(&before);
        say(
            n,
            format_args!(
                "fan-out: {:.2} s, {} writes{}",
                fan_out.as_secs_f64(),
                fan_out_writes.values().sum::<u64>(),
                writes_line(&fan_out_writes)
            ),
        );
        let fanned_template = get_user(&client, &ns, &cluster::user_name(0)).await?;
        let memory_2 = op.stop().await?;
        say(n, format_args!("stopped the restarted operator after the fan-out: {memory_2}"));
        drop(tracker);
        drop(smtp);

        // 6. The floors, with no operator running.
        let mut floor = Floor::prepare(&client, &floor_ns, &floor_users, &converged_template, takeover)?;
        let limit = timeout(&self.args, 60, 30, n);
        let floor_writes = async { if takeover { floor.take_over(conc).await } else { floor.converge(conc).await } };
        let floor_time = tokio::time::timeout(limit, floor_writes).await.map_err(|_| BenchError::Timeout {
            phase: "floor (convergence)".into(),
            after: limit,
            progress: "the writes did not finish".into(),
        })??;
        let fan_out_floor =
            tokio::time::timeout(limit, floor.fan_out(conc, &fanned_template)).await.map_err(|_| {
                BenchError::Timeout {
                    phase: "floor (fan-out)".into(),
                    after: limit,
                    progress: "the writes did not finish".into(),
                }
            })??;
        say(
            n,
            format_args!(
                "floor: {:.2} s ({} users' claim, Secret, record and status writes at concurrency {conc}), fan-out floor {:.2} s",
                floor_time.as_secs_f64(),
                n,
                fan_out_floor.as_secs_f64()
            ),
        );

        Ok(Some(Row {
            users: n,
            takeover,
            convergence,
            floor: floor_time,
            peak_rss_kib: memory_1.peak_kib.max(memory_2.peak_kib),
            writes,
            steady_writes,
            steady_window,
            restart_to_idle,
            restart_writes,
            fan_out,
            fan_out_floor,
            fan_out_writes,
            convergence_cpu,
            fan_out_cpu,
        }))
    }

    /// The etcd database size the API server reports, if it does.
    async fn etcd_db_mib(&self) -> Option<f64> {
        let req = http::Request::get("/metrics").body(Vec::new()).ok()?;
        let text = self.client.request_text(req).await.ok()?;
        let sizes = report::metric_by_label(&text, "etcd_db_total_size_in_bytes", "endpoint");
        (!sizes.is_empty()).then(|| sizes.values().sum::<u64>() as f64 / (1024.0 * 1024.0))
    }
}

fn since_of(op: &Operator, t: Option<Instant>) -> String {
    t.map_or("-".into(), |t| format!("{:.1} s", (t - op.spawned).as_secs_f64()))
}

/// The machine and cluster the numbers come from.
async fn machine(client: &Client, repo: &Path) -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib = report::status_kib(&read("/proc/meminfo"), "MemTotal").unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let k8s = client.apiserver_version().await.map_or_else(|e| format!("unknown ({e})"), |v| v.git_version);
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--exclude", "*"])
        .current_dir(repo)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".into(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    format!(
        "{cores} cores ({cpu}), {:.1} GiB memory, Linux {kernel}; Kubernetes API server {k8s}; operator at commit {commit}",
        mem_kib as f64 / (1024.0 * 1024.0)
    )
}

fn section(args: &Args, machine: &str, rows: &[Row], png: &str) -> String {
    format!(
        "Measured {} on {machine}.\n\n\
         The operator ran as `run --concurrency {c} --smtp-pool-size {p} --leader-election=false` against \
         `scripts/smtp-server` on loopback. The floor is a bare kube-rs client at concurrency {c} making, per user, \
         the API writes the operator makes, with its verbs (create the ConferenceIdClaim, create the PIN Secret, \
         create the record Secret owing the licence e-mail, replace it with the e-mail delivered, replace the status \
         of the operator's shape; for the fan-out, the record replaced twice and the status once): API writes only, \
         no e-mail and no Event. Steady state is watched for {s} s; idle means no reconcile and no write for {q} s.\n\n\
         ![Time and peak RSS against users, operator and floor]({png})\n\n{}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        report::markdown(rows),
        c = args.concurrency,
        p = args.smtp_pool_size,
        s = args.steady_seconds,
        q = args.quiet_seconds,
    )
}

fn write_doc(repo: &Path, args: &Args, machine: &str, rows: &[Row]) -> Result<PathBuf, BenchError> {
    let doc = repo.join(&args.doc);
    let png = doc.with_extension("png");
    plot::render(rows, &png)?;
    let png_name = png.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
    let old = match std::fs::read_to_string(&doc) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "# Performance\n".into(),
        Err(e) => return Err(BenchError::io(format!("reading {}", doc.display()), e)),
    };
    let new = report::replace_section(&old, &section(args, machine, rows, &png_name))?;
    std::fs::write(&doc, new).map_err(|e| BenchError::io(format!("writing {}", doc.display()), e))?;
    Ok(doc)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // This package sits at benches/scale in the repository.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let operator_bin = match operator_binary(args.operator_bin.clone()) {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("bench-scale: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = match Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench-scale: no cluster: {e} (scripts/bench-scale starts the local control plane)");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = cluster::ensure_crds(&client).await {
        eprintln!("bench-scale: {e}");
        return ExitCode::FAILURE;
    }
    let machine = machine(&client, &repo).await;
    eprintln!("bench-scale: {machine}");
    let pids: Vec<(String, u32)> = [("kube-apiserver", "BENCH_APISERVER_PID"), ("etcd", "BENCH_ETCD_PID")]
        .into_iter()
        .filter_map(|(name, var)| Some((name.to_string(), std::env::var(var).ok()?.trim().parse().ok()?)))
        .collect();
    let users: Vec<usize> = args.users.iter().map(|&n| n as usize).collect();
    let mut bench = Bench {
        client,
        stamp: chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string(),
        cpu: CpuMeter::new(pids),
        args,
        repo: repo.clone(),
        operator_bin,
        last_log: None,
    };
    let mut rows = Vec::new();
    let mut failed = false;
    for n in users {
        let work = match tempfile::Builder::new().prefix(&format!("bench-scale-{n}-")).tempdir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("bench-scale: temporary directory: {e}");
                failed = true;
                break;
            }
        };
        let mut namespaces = Vec::new();
        let result = bench.run(n, work.path(), &mut namespaces).await;
        let keep = bench.args.keep || result.is_err();
        match &result {
            Ok(Some(row)) => {
                rows.push(row.clone());
                println!("\n{}", report::markdown(std::slice::from_ref(row)));
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("\nbench-scale: N={n} failed: {e}");
                if let Some(log) = &bench.last_log {
                    let (tail, warnings) = process::tail(log, 30);
                    if !warnings.is_empty() {
                        eprintln!("operator log {}, its last warnings and errors:\n{warnings}\n", log.display());
                    }
                    eprintln!("operator log {} ends:\n{tail}\n", log.display());
                }
            }
        }
        if keep {
            let dir = work.keep();
            eprintln!(
                "[{}] kept: namespaces {}, logs and Maildir in {}",
                report::thousands(n),
                namespaces.join(" "),
                dir.display()
            );
        } else {
            for ns in &namespaces {
                if let Err(e) = cluster::clean_up(&bench.client, ns).await {
                    eprintln!("bench-scale: {e}");
                }
            }
        }
        if let Some(mib) = bench.etcd_db_mib().await {
            say(n, format_args!("etcd database: {mib:.0} MiB"));
        }
        if result.is_err() {
            failed = true;
            break;
        }
    }
    if rows.len() > 1 {
        println!("\nAll runs:\n\n{}", report::markdown(&rows));
    }
    if failed {
        eprintln!("bench-scale: a run failed; {} left unchanged", bench.args.doc.display());
        return ExitCode::FAILURE;
    }
    if !bench.args.no_doc && !bench.args.takeover && !bench.args.rotation {
        match write_doc(&repo, &bench.args, &machine, &rows) {
            Ok(doc) => eprintln!("bench-scale: wrote {} and its plot", doc.display()),
            Err(e) => {
                eprintln!("bench-scale: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
