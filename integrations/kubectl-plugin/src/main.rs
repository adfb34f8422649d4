//! `kubectl conferencing`: a kubectl plugin for the people who run the operator. kubectl finds
//! the `kubectl-conferencing` binary on PATH and passes every argument after `conferencing`
//! through unchanged, so the plugin reads the kubeconfig itself, as kubectl does.
//!
//! Verbs: `status`, `reset-pin`, `reset-conference-id`, `send-info`, `who-has`, `explain`,
//! `pause`, `resume`; one module each. A package of its own in the workspace, it uses the
//! operator library's `api` (and `domain`'s terminal escaping) alone.

mod advice;
mod error;
mod explain;
mod gitops;
mod kubeconfig;
mod pause;
mod progress;
mod request;
mod status;
mod terminal;
mod view;
mod who_has;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::PluginError;
use terminal::Terminal;

/// Field manager of the plugin's writes, so that `managedFields` shows who asked.
pub const FIELD_MANAGER: &str = "kubectl-conferencing";

/// How a run ended, as the process exit code. Documented in `kubectl conferencing --help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 0: done (or, for `who-has`, the claim and the users agree).
    Ok,
    /// 1: an error (API, kubeconfig, an object that does not exist), or `who-has` found no
    /// holder.
    Failed,
    /// 3: refused, because a GitOps tool manages the object (`--force` overrides).
    Refused,
    /// 4: the operator did not handle the request within `--timeout`.
    TimedOut,
    /// 5: the operator looked but could not do what was asked (the user is blocked, or the
    /// request was ignored), or `who-has` found the claim and the users' status disagreeing.
    NotDone,
}

impl Verdict {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Failed => 1,
            Verdict::Refused => 3,
            Verdict::TimedOut => 4,
            Verdict::NotDone => 5,
        }
    }
}

const AFTER_HELP: &str = "\
Exit codes:
  0  done; for who-has: one holder, and the users' status agrees
  1  error (API, kubeconfig, no such object); for who-has: nobody holds the ID
  2  wrong usage
  3  refused: a GitOps tool manages the object; commit the printed YAML instead, or use --force
  4  timed out waiting for the operator
  5  the operator could not do it (the user is blocked or the request was ignored);
     for who-has: the claim and the users' status disagree";

/// Manage dial-in audio conferencing users through the conferencing operator.
#[derive(Parser, Debug)]
#[command(name = "kubectl conferencing", bin_name = "kubectl conferencing", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Cluster connection, as kubectl's own flags.
    #[command(flatten)]
    pub connection: kubeconfig::ConnectionArgs,
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// The plugin's verbs.
#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Per tenant: users, how many are Ready, blocked users and why, e-mails pending or failed.
    Status {
        /// Every namespace.
        #[arg(short = 'A', long, conflicts_with = "namespace")]
        all_namespaces: bool,
        /// Only this tenant.
        tenant: Option<String>,
    },
    /// Ask the operator for a new leader PIN for USER, and wait until it is done.
    ResetPin(request::RequestArgs),
    /// Ask the operator for a new conference ID for USER, and wait until it is done.
    ResetConferenceId(request::RequestArgs),
    /// Ask the operator to e-mail USER their dial-in information, and wait until it is done.
    SendInfo(request::RequestArgs),
    /// Which user holds conference ID ID in the namespace.
    WhoHas {
        /// The conference ID (digits).
        #[arg(value_parser = who_has::parse_id)]
        id: String,
    },
    /// Why USER is not Ready, and what to change.
    Explain {
        /// The ConferencingUser.
        user: String,
    },
    /// Stop the operator changing NAME or sending its e-mails (annotation conferencing.io/paused).
    Pause(pause::PauseArgs),
    /// Let the operator carry on with NAME, doing once what it was owed.
    Resume(pause::PauseArgs),
}

/// Runs the plugin with the process's arguments.
fn main() -> ExitCode {
    main_with(std::env::args_os())
}

/// Runs the plugin with `args` (the first is the program name).
pub fn main_with(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints help and version to stdout with 0, and usage errors to stderr with 2.
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = Terminal::stderr().line(format!("error: starting the async runtime: {e}"));
            return ExitCode::from(Verdict::Failed.code());
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(verdict) => ExitCode::from(verdict.code()),
        Err(e) => {
            report_error(&e, &mut Terminal::stderr());
            ExitCode::from(Verdict::Failed.code())
        }
    }
}

/// Prints `error: ` and the error with its causes, on one line. It may quote the API server,
/// which may quote an object, so it is escaped like everything else.
pub fn report_error(e: &dyn std::error::Error, err: &mut Terminal<impl std::io::Write>) {
    // Nothing is left to tell the person if standard error itself fails.
    let _ = err.line(format!("error: {}", error::chain(e)));
}

/// Carries out one parsed command line.
pub async fn run(cli: Cli) -> Result<Verdict, PluginError> {
    let conn = kubeconfig::connect(&cli.connection).await?;
    let mut out = Terminal::stdout();
    match cli.verb {
        Verb::Status { all_namespaces, tenant } => {
            let scope = if all_namespaces { None } else { Some(conn.namespace.as_str()) };
            status::run(&conn.client, scope, tenant.as_deref(), &mut out).await
        }
        Verb::ResetPin(args) => request::run(&conn, request::Request::ResetPin, &args, &mut out).await,
        Verb::ResetConferenceId(args) => {
            request::run(&conn, request::Request::ResetConferenceId, &args, &mut out).await
        }
        Verb::SendInfo(args) => request::run(&conn, request::Request::SendConferencingInfo, &args, &mut out).await,
        Verb::WhoHas { id } => who_has::run(&conn.client, &conn.namespace, &id, &mut out).await,
        Verb::Explain { user } => explain::run(&conn.client, &conn.namespace, &user, &mut out).await,
        Verb::Pause(args) => pause::run(&conn, pause::Action::Pause, &args, &mut out).await,
        Verb::Resume(args) => pause::run(&conn, pause::Action::Resume, &args, &mut out).await,
    }
}

#[cfg(test)]
mod tests {
    use super::terminal::testing::*;
    use super::*;

    #[test]
    fn errors_are_printed_escaped_on_one_line() {
        let e = PluginError::UserNotFound { namespace: "acme".into(), name: hostile("bob") };
        let mut err = Terminal::new(Vec::new());
        report_error(&e, &mut err);
        let out = text(err.into_inner());
        assert_shown_safely(&out);
        assert!(out.starts_with("error: ConferencingUser acme/bob\\u{1b}]52;"), "{out}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }
}
