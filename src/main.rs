//! `conferencing-operator`: the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use conferencing_operator::client::{Clients, Fence};
use conferencing_operator::config_repo::{
    self,
    cli::{PlanArgs, ValidateArgs},
};
use conferencing_operator::controller::readiness::Readiness;
use conferencing_operator::controller::{self, RunConfig};
use conferencing_operator::crd;
use conferencing_operator::domain::normalise_domain;
use conferencing_operator::http::{self, Health};
use conferencing_operator::import::{self, ImportArgs};
use conferencing_operator::leader::{Elector, LeaderConfig};
use conferencing_operator::notification::mail::{SmtpConfig, StartTls, Transport};
use conferencing_operator::notification::notifier::Notifier;
use conferencing_operator::notification::templates::Templates;
use conferencing_operator::startup::StartupError as Error;
use conferencing_operator::telemetry::{self, LogFormat, Metrics};
use conferencing_operator::validation::ClusterPolicy;
use tokio::sync::watch;

/// Manages dial-in audio conferencing declaratively: ConferencingTenant and ConferencingUser
/// custom resources in, PINs, conference IDs and notification e-mails out.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the operator against the cluster in KUBECONFIG (or the in-cluster config).
    Run(Box<RunArgs>),
    /// Print an e-mail as it would be sent (with a placeholder PIN), to review templates.
    Render(RenderArgs),
    /// Print both CustomResourceDefinitions as YAML, or write them into a directory.
    Crd {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Check a config repository's tenants and users before merge (exit 0: no error, 1:
    /// errors, 2: unreadable input).
    Validate(ValidateArgs),
    /// Show what applying a tree will do to people: actions and e-mails per user (exit 0: a
    /// plan, 1: the tree does not validate, 2: bad input, 3: more e-mails than
    /// --fail-on-emails).
    Plan(PlanArgs),
    /// Turn the reference service's exports (users, bridge, tenant settings) into a config
    /// repository tree that keeps every user's conference ID and numbers and e-mails no one
    /// unless asked (exit 0: written, 1: rows or the tenant cannot be imported, nothing
    /// written, 2: unreadable input).
    Import(ImportArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Serve only these namespaces (comma-separated, or repeat the flag); one watch per
    /// namespace and kind. Default: all namespaces.
    #[arg(long, env = "CONFERENCING_NAMESPACE", value_delimiter = ',')]
    namespace: Vec<String>,
    /// Log line format.
    #[arg(long, env = "CONFERENCING_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Users reconciled at once.
    #[arg(long, env = "CONFERENCING_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    /// Address of the /healthz, /readyz and /metrics endpoint.
    #[arg(long, env = "CONFERENCING_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: std::net::SocketAddr,
    /// Act only while holding the leader Lease, so that one of several replicas acts.
    #[arg(long, env = "CONFERENCING_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader Lease (default: POD_NAMESPACE, else "default").
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    leader_election_namespace: String,
    /// Name of the leader Lease.
    #[arg(long, env = "CONFERENCING_LEADER_ELECTION_LEASE", default_value = "conferencing-operator")]
    leader_election_lease: String,
    /// Seconds a leader's Lease stays valid without renewal; a standby takes over at most this
    /// long after the leader dies (immediately when it stops cleanly).
    #[arg(long, env = "CONFERENCING_LEASE_DURATION_SECONDS", default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Seconds before expiry by which the leader must have renewed, else it stops writing and
    /// exits; also the clock skew tolerated between replicas.
    #[arg(long, env = "CONFERENCING_LEASE_GRACE_SECONDS", default_value_t = 5)]
    lease_grace_seconds: u64,
    #[command(flatten)]
    mail: MailArgs,
}

#[derive(clap::Args, Debug)]
struct MailArgs {
    /// Mail server: smtp://host[:port] (STARTTLS) or smtps://host[:port] (implicit TLS).
    /// Required when running in a cluster, unless --outbox-dir is given.
    #[arg(long, env = "CONFERENCING_SMTP_URL")]
    smtp_url: Option<String>,
    /// STARTTLS policy for smtp:// URLs. `opportunistic` and `never` can send PINs in clear
    /// and are logged as a warning at start-up.
    #[arg(long, env = "CONFERENCING_SMTP_STARTTLS", value_enum, default_value_t = StartTls::Required)]
    smtp_starttls: StartTls,
    /// File holding the SMTP AUTH user name (a mounted Secret); AUTH is used when the file
    /// exists, and then --smtp-password-file must name the password's file.
    #[arg(long, env = "CONFERENCING_SMTP_USERNAME_FILE")]
    smtp_username_file: Option<PathBuf>,
    /// File holding the SMTP AUTH password (a mounted Secret). Never logged.
    #[arg(long, env = "CONFERENCING_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust for the mail server.
    #[arg(long, env = "CONFERENCING_SMTP_CA_FILE")]
    smtp_ca_file: Option<PathBuf>,
    /// Timeout of each SMTP connection and command, in seconds.
    #[arg(long, env = "CONFERENCING_SMTP_TIMEOUT_SECONDS", default_value_t = 30)]
    smtp_timeout_seconds: u64,
    /// Pooled SMTP connections; also the number of e-mails sent at once.
    #[arg(long, env = "CONFERENCING_SMTP_POOL_SIZE", default_value_t = 4)]
    smtp_pool_size: u32,
    /// E-mails that may wait for delivery at once; beyond it, reconciles come back later.
    #[arg(long, env = "CONFERENCING_DELIVERY_QUEUE", default_value_t = 1024)]
    delivery_queue: usize,
    /// Default sender, e.g. "Audio Conferencing <conferencing@example.com>"; a tenant's
    /// sendEmailOverride replaces it.
    #[arg(long, env = "CONFERENCING_MAIL_FROM", default_value = "Audio Conferencing <no-reply@conferencing.invalid>")]
    mail_from: String,
    /// Write e-mails as .eml files into this directory instead of sending them (local use
    /// and demos). Without --smtp-url outside a cluster, "outbox".
    #[arg(long, env = "CONFERENCING_OUTBOX_DIR")]
    outbox_dir: Option<PathBuf>,
    /// Directory of template overrides (<locale>/<event>.<part>.hbs), e.g. a mounted ConfigMap.
    #[arg(long, env = "CONFERENCING_TEMPLATES_DIR")]
    templates_dir: Option<PathBuf>,
    /// Domains (comma-separated; subdomains included) that tenants' sendEmailFromAddress and
    /// --mail-from must be in. A tenant sending from elsewhere is InvalidSpec. Default: any.
    #[arg(long, env = "CONFERENCING_ALLOWED_SENDER_DOMAINS", value_delimiter = ',')]
    allowed_sender_domains: Vec<String>,
    /// Domains (comma-separated; subdomains included) that every e-mail's recipient must be
    /// in, whatever a tenant's notifications.allowedRecipientDomains says (a tenant can only
    /// narrow this list). Default: any.
    #[arg(long, env = "CONFERENCING_ALLOWED_RECIPIENT_DOMAINS", value_delimiter = ',')]
    allowed_recipient_domains: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct RenderArgs {
    /// The e-mail: license-assigned, pin-reset, conference-id-reset, license-removed,
    /// provider-changed-away, provider-changed-to-native, service-number-changed, conferencing-info.
    #[arg(long)]
    event: String,
    /// en, fr or zh-CN (default: the user's, else the tenant's).
    #[arg(long)]
    locale: Option<String>,
    /// The ConferencingUser YAML.
    #[arg(short = 'f', long = "file")]
    user: PathBuf,
    /// The ConferencingTenant YAML (default: a sample tenant).
    #[arg(short = 't', long = "tenant")]
    tenant: Option<PathBuf>,
    /// Template overrides to preview.
    #[arg(long)]
    templates_dir: Option<PathBuf>,
    /// Sender used when the tenant does not override it.
    #[arg(long, default_value = "Audio Conferencing <no-reply@conferencing.invalid>")]
    mail_from: String,
}

// jemalloc, returning freed pages at once: listing 10,000 users leaves a burst of short-lived
// garbage (the wire form of each object) between the long-lived cache entries, and glibc's
// per-thread arenas kept it resident: 105 MiB peak after a restart against 77 MiB here, with
// less CPU (docs/performance.md, "Memory"). `_RJEM_MALLOC_CONF` still overrides these settings.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 34] = b"dirty_decay_ms:0,muzzy_decay_ms:0\0";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // Their exit statuses are part of their contract with CI, so they are returned as is.
        Command::Validate(args) => return ExitCode::from(config_repo::cli::validate_command(args).await),
        Command::Plan(args) => return ExitCode::from(config_repo::cli::plan_command(args).await),
        Command::Import(args) => return ExitCode::from(import::command(args)),
        Command::Run(args) => run(*args).await,
        Command::Render(args) => render(args),
        Command::Crd { output_dir } => print_crds(output_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The cluster-wide domain limits, checked against the operator's own sender.
fn cluster_policy(mail: &MailArgs) -> Result<ClusterPolicy, Error> {
    let policy = ClusterPolicy::new(&mail.allowed_sender_domains, &mail.allowed_recipient_domains).map_err(|e| {
        Error::Flag { flag: "--allowed-sender-domains/--allowed-recipient-domains", message: e.to_string() }
    })?;
    let from = mailbox(&mail.mail_from)?;
    let domain = normalise_domain(from.email.domain()).unwrap_or_else(|| from.email.domain().to_ascii_lowercase());
    if !policy.allows_sender(&domain) {
        return Err(Error::Flag {
            flag: "--mail-from",
            message: format!(
                "{} is outside --allowed-sender-domains ({}); the operator's own sender must be allowed too",
                from.email,
                policy.sender_domains.join(", ")
            ),
        });
    }
    Ok(policy)
}

async fn run(args: RunArgs) -> Result<(), Error> {
    telemetry::init(args.log_format);
    telemetry::install_panic_hook();
    let metrics = Arc::new(Metrics::new());
    let notifier = notifier(&args.mail)?;
    let policy = cluster_policy(&args.mail)?;
    let fence = if args.leader_election { Fence::closed() } else { Fence::open() };
    let clients = Clients::from_env(metrics.clone(), fence.clone()).await.map_err(Error::Connect)?;
    let config = RunConfig {
        namespaces: args.namespace.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect(),
        concurrency: args.concurrency.max(1),
        delivery_workers: usize::try_from(args.mail.smtp_pool_size.max(1)).unwrap_or(1),
        delivery_queue: args.mail.delivery_queue.max(1),
        notifier: Some(Arc::new(notifier)),
        policy: Arc::new(policy),
    };
    let readiness = Arc::new(Readiness::default());
    let health = Arc::new(Health {
        readiness: readiness.clone(),
        leading: AtomicBool::new(!args.leader_election),
        metrics: metrics.clone(),
    });
    http::serve(args.http_addr, health.clone()).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    if !args.leader_election {
        // Acting alone is leading: without this, a "no leader" alert would fire for an
        // operator that runs without election on purpose.
        metrics.leader.set(1);
        let work = controller::run(clients, config, metrics.clone(), readiness, stopped(stop_rx.clone()));
        bounded(work, stopped(stop_rx)).await?;
        tracing::info!(api_writes = metrics.api_writes_total(), "stopped");
        return Ok(());
    }

    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let lease = LeaderConfig {
        namespace: args.leader_election_namespace.clone(),
        name: args.leader_election_lease.clone(),
        identity: identity.clone(),
        duration: Duration::from_secs(args.lease_duration_seconds.max(2)),
        grace: Duration::from_secs(args.lease_grace_seconds.min(args.lease_duration_seconds.saturating_sub(1))),
    };
    let mut elector = Elector::new(clients.lease.clone(), lease, fence.clone());
    tracing::info!(lease = %args.leader_election_lease, namespace = %args.leader_election_namespace, identity = %identity, "waiting for the leader lease");
    tokio::select! {
        () = elector.acquire() => {}
        () = stopped(stop_rx.clone()) => {
            tracing::info!("stopped while standing by");
            return Ok(());
        }
    }
    health.leading.store(true, Ordering::Relaxed);
    metrics.leader.set(1);
    tracing::info!(identity = %identity, "acquired the leader lease; starting controllers");

    let work = controller::run(clients, config, metrics.clone(), readiness, stopped(stop_rx.clone()));
    let mut work = std::pin::pin!(bounded(work, stopped(stop_rx)));
    let result = tokio::select! {
        result = &mut work => result,
        lost = elector.keep() => {
            // The fence already refuses every API write and every e-mail. Work that was in
            // flight when the lease was lost (a leader paused mid-reconcile) runs into it for
            // a moment, so that the refused writes are counted and logged; then the
            // controllers are dropped, cancelling the rest, and the process exits so that it
            // restarts as a standby.
            metrics.leader.set(0);
            let _ = tokio::time::timeout(LOST_LEASE_DRAIN, &mut work).await;
            tracing::error!(reason = %lost, fenced_writes = metrics.fenced_writes.get(), api_writes = metrics.api_writes_total(), "lost the leader lease; stopping so that the new leader acts alone");
            return Err(Error::Leadership(lost.to_string()));
        }
    };
    // A stop (clean, or a watch that failed) hands the lease over at once instead of
    // letting it expire.
    elector.release().await;
    metrics.leader.set(0);
    tracing::info!(api_writes = metrics.api_writes_total(), "stopped");
    result
}

/// How long in-flight work may run into the fence after the lease was lost.
const LOST_LEASE_DRAIN: Duration = Duration::from_secs(1);

/// How long in-flight work may take after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs `work` until it ends, or until [`SHUTDOWN_GRACE`] after `stop`: a reconcile that
/// cannot finish (an API server that does not answer) must not keep the process from
/// exiting. Kubernetes' default termination grace is 30 s.
async fn bounded(work: impl Future<Output = Result<(), Error>>, stop: impl Future<Output = ()>) -> Result<(), Error> {
    let deadline = async {
        stop.await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = work => result,
        () = deadline => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "in-flight work did not finish after the shutdown request; exiting");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight reconciles");
}

fn print_crds(output_dir: Option<PathBuf>) -> Result<(), Error> {
    match output_dir {
        None => {
            print!("{}", crd::crds_yaml().map_err(Error::Crds)?);
            Ok(())
        }
        Some(dir) => {
            for (file, yaml) in crd::crds().map_err(Error::Crds)? {
                let path = dir.join(file);
                std::fs::write(&path, yaml)
                    .map_err(|source| Error::Io { action: format!("writing {}", path.display()), source })?;
            }
            Ok(())
        }
    }
}

fn templates(dir: Option<&PathBuf>) -> Result<Templates, Error> {
    Ok(match dir {
        Some(d) => Templates::with_overrides(d)?,
        None => Templates::embedded()?,
    })
}

fn mailbox(s: &str) -> Result<lettre::message::Mailbox, Error> {
    s.parse().map_err(|e| Error::Flag { flag: "--mail-from", message: format!("{s:?} is not a mailbox: {e}") })
}

/// Reads a credential file: the whole file, trailing newline removed.
fn read_secret_file(flag: &'static str, path: &PathBuf) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|e| Error::Flag { flag, message: format!("cannot read {}: {e}", path.display()) })
}

/// Where the ServiceAccount token is mounted in a pod; its presence means "in a cluster".
fn service_account_dir() -> PathBuf {
    std::env::var_os("CONFERENCING_SERVICE_ACCOUNT_DIR")
        .map_or_else(|| PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount"), PathBuf::from)
}

/// Builds the notifier; a broken template override or mail setting fails here, at start-up.
fn notifier(args: &MailArgs) -> Result<Notifier, Error> {
    let templates = templates(args.templates_dir.as_ref())?;
    let transport = match (&args.smtp_url, &args.outbox_dir) {
        (Some(_), Some(_)) => {
            return Err(Error::Flag {
                flag: "--outbox-dir",
                message: "give either --smtp-url (send e-mails) or --outbox-dir (write them to files), not both".into(),
            });
        }
        (None, Some(dir)) => {
            let t = Transport::outbox(dir.clone())?;
            tracing::warn!(dir = %dir.display(), "e-mails are written as .eml files into this directory and NOT sent; they hold PINs, so protect it");
            t
        }
        (None, None) if service_account_dir().join("token").exists() => {
            return Err(Error::Flag {
                flag: "--smtp-url",
                message: "is required when running in a cluster: without it, PIN e-mails would be written into the pod's filesystem, where nobody reads them. Set --smtp-url (CONFERENCING_SMTP_URL), or choose files explicitly with --outbox-dir".into(),
            });
        }
        (None, None) => {
            let dir = PathBuf::from("outbox");
            let t = Transport::outbox(dir.clone())?;
            tracing::warn!(dir = %dir.display(), "no --smtp-url: e-mails are written as .eml files into this directory and NOT sent");
            t
        }
        (Some(url), None) => {
            match args.smtp_starttls {
                StartTls::Required => {}
                StartTls::Opportunistic => tracing::warn!(
                    "--smtp-starttls opportunistic: if the mail server (or anyone on the path) does not offer STARTTLS, e-mails carrying PINs are sent in clear"
                ),
                StartTls::Never => tracing::warn!(
                    "--smtp-starttls never: e-mails carrying PINs are sent to smtp:// servers in clear; use it only for a relay on a trusted link"
                ),
            }
            // The password is read only when a user name is set: the manifests always point
            // at mounted files, which are absent for an unauthenticated relay.
            let credentials = match &args.smtp_username_file {
                None => None,
                // The manifests always point at the optional mounted Secret: without its
                // `username` key the relay is used without AUTH.
                Some(user_file) if !user_file.exists() => {
                    tracing::info!(file = %user_file.display(), "no SMTP user name file: sending without AUTH");
                    None
                }
                Some(user_file) => {
                    let user = read_secret_file("--smtp-username-file", user_file)?;
                    let Some(password_file) = &args.smtp_password_file else {
                        return Err(Error::Flag {
                            flag: "--smtp-password-file",
                            message: "is required with --smtp-username-file".into(),
                        });
                    };
                    Some((user, read_secret_file("--smtp-password-file", password_file)?))
                }
            };
            Transport::smtp(&SmtpConfig {
                url: url.clone(),
                starttls: args.smtp_starttls,
                credentials,
                ca_file: args.smtp_ca_file.clone(),
                timeout: Duration::from_secs(args.smtp_timeout_seconds.max(1)),
                pool_size: args.smtp_pool_size,
            })?
        }
    };
    tracing::info!(transport = %transport.describe(), "e-mail delivery configured");
    Ok(Notifier { templates, transport, default_from: mailbox(&args.mail_from)? })
}

fn render(args: RenderArgs) -> Result<(), Error> {
    let preview = conferencing_operator::notification::preview::Preview {
        event: args.event,
        locale: args.locale,
        user: read(&args.user)?,
        tenant: args.tenant.as_ref().map(read).transpose()?,
    };
    let templates = templates(args.templates_dir.as_ref())?;
    let message = preview.render(&templates, mailbox(&args.mail_from)?)?;
    print!("{message}");
    Ok(())
}

fn read(path: &PathBuf) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io { action: format!("reading {}", path.display()), source })
}
