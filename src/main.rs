//! `conferencing-operator`: the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conferencing_operator::controller::{self, RunConfig};
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
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
    let config = RunConfig { namespace: args.namespace, concurrency: args.concurrency.max(1) };
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
