//! `conferencing-operator`: the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use conferencing_operator::controller::{self, RunConfig};
use conferencing_operator::notification::mail::{SmtpConfig, StartTls, Transport};
use conferencing_operator::notification::notifier::Notifier;
use conferencing_operator::notification::templates::Templates;
use conferencing_operator::telemetry::{self, LogFormat};
use conferencing_operator::{Error, crd};

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
    Run(RunArgs),
    /// Print an e-mail as it would be sent (with a placeholder PIN), to review templates.
    Render(RenderArgs),
    /// Print both CustomResourceDefinitions as YAML, or write them into a directory.
    Crd {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "CONFERENCING_NAMESPACE")]
    namespace: Option<String>,
    /// Log line format.
    #[arg(long, env = "CONFERENCING_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Users reconciled at once.
    #[arg(long, env = "CONFERENCING_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    #[command(flatten)]
    mail: MailArgs,
}

#[derive(clap::Args, Debug)]
struct MailArgs {
    /// Mail server: smtp://host[:port] (STARTTLS when offered) or smtps://host[:port]
    /// (implicit TLS). Without it, e-mails are written as .eml files into --outbox-dir.
    #[arg(long, env = "CONFERENCING_SMTP_URL")]
    smtp_url: Option<String>,
    /// STARTTLS policy for smtp:// URLs.
    #[arg(long, env = "CONFERENCING_SMTP_STARTTLS", value_enum, default_value_t = StartTls::Opportunistic)]
    smtp_starttls: StartTls,
    /// SMTP AUTH user name.
    #[arg(long, env = "CONFERENCING_SMTP_USERNAME")]
    smtp_username: Option<String>,
    /// File holding the SMTP AUTH password (a mounted Secret). SMTP_PASSWORD in the
    /// environment is used when this is not given. Never logged.
    #[arg(long, env = "CONFERENCING_SMTP_PASSWORD_FILE")]
    smtp_password_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust for the mail server.
    #[arg(long, env = "CONFERENCING_SMTP_CA_FILE")]
    smtp_ca_file: Option<PathBuf>,
    /// Timeout of each SMTP connection and command, in seconds.
    #[arg(long, env = "CONFERENCING_SMTP_TIMEOUT_SECONDS", default_value_t = 30)]
    smtp_timeout_seconds: u64,
    /// Pooled SMTP connections.
    #[arg(long, env = "CONFERENCING_SMTP_POOL_SIZE", default_value_t = 4)]
    smtp_pool_size: u32,
    /// Default sender, e.g. "Audio Conferencing <conferencing@example.com>"; a tenant's
    /// sendEmailOverride replaces it.
    #[arg(long, env = "CONFERENCING_MAIL_FROM", default_value = "Audio Conferencing <no-reply@conferencing.invalid>")]
    mail_from: String,
    /// Where .eml files go when no --smtp-url is given.
    #[arg(long, env = "CONFERENCING_OUTBOX_DIR", default_value = "outbox")]
    outbox_dir: PathBuf,
    /// Directory of template overrides (<locale>/<event>.<part>.hbs), e.g. a mounted ConfigMap.
    #[arg(long, env = "CONFERENCING_TEMPLATES_DIR")]
    templates_dir: Option<PathBuf>,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
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

async fn run(args: RunArgs) -> Result<(), Error> {
    telemetry::init(args.log_format);
    let client = kube::Client::try_default()
        .await
        .map_err(|e| Error::Config(format!("no Kubernetes API server configured (KUBECONFIG or in-cluster): {e}")))?;
    let notifier = notifier(&args.mail)?;
    tracing::info!(transport = %notifier.transport.describe(), "e-mail delivery configured");
    let config = RunConfig {
        namespace: args.namespace,
        concurrency: args.concurrency.max(1),
        notifier: Some(Arc::new(notifier)),
    };
    controller::run(client, config, shutdown_signal()).await;
    tracing::info!(api_writes = telemetry::api_writes(), "stopped");
    Ok(())
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
            print!("{}", crd::crds_yaml()?);
            Ok(())
        }
        Some(dir) => {
            for (file, yaml) in crd::crds()? {
                let path = dir.join(file);
                std::fs::write(&path, yaml)
                    .map_err(|source| Error::Io { action: format!("writing {}", path.display()), source })?;
            }
            Ok(())
        }
    }
}

fn templates(dir: Option<&PathBuf>) -> Result<Templates, Error> {
    match dir {
        Some(d) => Templates::with_overrides(d),
        None => Templates::embedded(),
    }
    .map_err(|e| Error::Config(format!("e-mail templates: {e}")))
}

fn mailbox(s: &str) -> Result<lettre::message::Mailbox, Error> {
    s.parse().map_err(|e| Error::Config(format!("--mail-from {s:?}: {e}")))
}

/// Builds the notifier; a broken template override or mail setting fails here, at start-up.
fn notifier(args: &MailArgs) -> Result<Notifier, Error> {
    let templates = templates(args.templates_dir.as_ref())?;
    let transport = match &args.smtp_url {
        None => Transport::outbox(args.outbox_dir.clone())?,
        Some(url) => {
            let password = match &args.smtp_password_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|source| Error::Io { action: format!("reading {}", path.display()), source })?
                        .trim_end()
                        .to_string(),
                ),
                None => std::env::var("SMTP_PASSWORD").ok(),
            };
            let credentials = match (&args.smtp_username, password) {
                (Some(u), Some(p)) => Some((u.clone(), p)),
                (Some(_), None) => {
                    return Err(Error::Config(
                        "--smtp-username needs a password: --smtp-password-file or SMTP_PASSWORD".into(),
                    ));
                }
                (None, _) => None,
            };
            Transport::smtp(&SmtpConfig {
                url: url.clone(),
                starttls: args.smtp_starttls,
                credentials,
                ca_file: args.smtp_ca_file.clone(),
                timeout: std::time::Duration::from_secs(args.smtp_timeout_seconds.max(1)),
                pool_size: args.smtp_pool_size,
            })?
        }
    };
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
