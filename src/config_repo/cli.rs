//! The `validate` and `plan` commands: arguments, and the exit status that CI reads.

use std::io::Write as _;
use std::path::PathBuf;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::findings::{self, Finding};
use super::live::{self, LiveState};
use super::load::{self, Loaded};
use super::plan::plan_tree;
use super::render;
use super::schema::Schemas;
use super::simulate;
use super::validate::{Options, Report, validate};

/// Exit statuses, part of the commands' contract with CI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// No error; a plan was made.
    Ok = 0,
    /// Errors found (validate), or the `--to` tree does not validate (plan).
    Findings = 1,
    /// The input could not be read or parsed (or the cluster, with `--live`).
    BadInput = 2,
    /// More e-mails would be sent than `--fail-on-emails` allows.
    TooManyEmails = 3,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// How `validate` prints findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateOutput {
    /// `file:line:col: error[CODE]: message`, as compilers print.
    Text,
    /// One JSON document: findings and a summary.
    Json,
    /// GitHub Actions workflow annotations, shown on the pull request's lines.
    Github,
}

/// How `plan` prints the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanOutput {
    /// For a terminal.
    Text,
    /// The stable JSON schema (docs/gitops.md).
    Json,
    /// A pull-request comment.
    Markdown,
}

/// `conferencing-operator validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Files or directories to read, recursively (`*.yaml`, `*.yml`; hidden directories are
    /// skipped); `-` reads standard input, e.g. `kustomize build overlays/prod | ... validate -`.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateOutput::Text)]
    pub output: ValidateOutput,
    /// Also read the cluster in KUBECONFIG (get and list only): tenants a user may reference,
    /// conference IDs held, request tokens already used.
    #[arg(long)]
    pub live: bool,
    /// Namespace of objects that do not set metadata.namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
}

/// `conferencing-operator plan`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("before").required(true).args(["from", "live"])))]
pub struct PlanArgs {
    /// The tree before the change (e.g. the base branch's checkout), taken as converged.
    #[arg(long, value_name = "PATH", num_args = 1)]
    pub from: Vec<PathBuf>,
    /// The tree after the change (e.g. the pull request's checkout); `-` reads standard input.
    #[arg(long, value_name = "PATH", num_args = 1, required = true)]
    pub to: Vec<PathBuf>,
    /// Compare with the cluster in KUBECONFIG and its objects' status (get and list only).
    #[arg(long, conflicts_with = "from")]
    pub live: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanOutput::Text)]
    pub output: PlanOutput,
    /// Exit with status 3 when more than this many e-mails would be sent (so that a
    /// repository can require a second approval for mass e-mails).
    #[arg(long, value_name = "N")]
    pub fail_on_emails: Option<usize>,
    /// Namespace of objects that do not set metadata.namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// With --live: also list, per day, the PIN rotations (pin.lifetime, under the `--to`
    /// tree's policy) and e-mails due within this long: `30d`, `12h`.
    // (It conflicts with --from rather than requiring --live, which clap counts as given by its
    // default; --to needs one of the two.)
    #[arg(long, value_name = "DURATION", conflicts_with = "from", value_parser = parse_horizon)]
    pub horizon: Option<crate::schedule::Lifetime>,
}

fn parse_horizon(text: &str) -> Result<crate::schedule::Lifetime, String> {
    crate::schedule::Lifetime::parse(text)
        .filter(|h| h.get().as_secs() <= 366 * 86_400)
        .ok_or_else(|| format!("{text:?} is not a duration such as 30d or 12h (at least 10 s, at most 366d)"))
}

fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

fn load(paths: &[PathBuf]) -> Result<Loaded, Exit> {
    load::load_paths(paths).map_err(|e| {
        // The error names a file of the tree, whose name its author chose.
        eprintln!("error: {}", crate::domain::escape_for_terminal(&e.to_string()));
        Exit::BadInput
    })
}

fn schemas() -> Result<Schemas, Exit> {
    Schemas::generated().map_err(|e| {
        eprintln!("error: {e}");
        Exit::BadInput
    })
}

async fn read_live(loaded: &Loaded, default_namespace: &str) -> Result<LiveState, Exit> {
    let namespaces = super::validate::namespaces(loaded, default_namespace);
    live::read(&namespaces).await.map_err(|e| {
        eprintln!("error: {e}");
        Exit::BadInput
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateJson<'a> {
    findings: &'a [Finding],
    summary: ValidateSummary,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateSummary {
    files: usize,
    tenants: usize,
    users: usize,
    other_documents: usize,
    errors: usize,
    warnings: usize,
}

fn summary(r: &Report) -> ValidateSummary {
    let (errors, warnings) = findings::counts(&r.findings);
    ValidateSummary {
        files: r.tree.files,
        tenants: r.tree.tenants.len(),
        users: r.tree.users.len(),
        other_documents: r.tree.other_documents,
        errors,
        warnings,
    }
}

/// Runs `validate`; returns the exit status.
pub async fn validate_command(args: ValidateArgs) -> u8 {
    match run_validate(args).await {
        Ok(e) | Err(e) => e.code(),
    }
}

async fn run_validate(args: ValidateArgs) -> Result<Exit, Exit> {
    let loaded = load(&args.paths)?;
    let schemas = schemas()?;
    let live = if args.live { Some(read_live(&loaded, &args.namespace).await?) } else { None };
    let opts = Options { default_namespace: args.namespace };
    let report = validate(loaded, &schemas, &opts, live.as_ref());
    let s = summary(&report);
    match args.output {
        ValidateOutput::Text | ValidateOutput::Github => {
            let body = if args.output == ValidateOutput::Text {
                findings::text(&report.findings)
            } else {
                findings::github(&report.findings)
            };
            print(&body);
            print(&format!(
                "validated {} tenant(s) and {} user(s) in {} file(s) ({} other document(s) ignored): {} error(s), {} warning(s)\n",
                s.tenants, s.users, s.files, s.other_documents, s.errors, s.warnings
            ));
        }
        ValidateOutput::Json => {
            let json = serde_json::to_string_pretty(&ValidateJson { findings: &report.findings, summary: s })
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            print(&format!("{json}\n"));
        }
    }
    Ok(if report.has_errors() { Exit::Findings } else { Exit::Ok })
}

/// Runs `plan`; returns the exit status.
pub async fn plan_command(args: PlanArgs) -> u8 {
    match run_plan(args).await {
        Ok(e) | Err(e) => e.code(),
    }
}

async fn run_plan(args: PlanArgs) -> Result<Exit, Exit> {
    let schemas = schemas()?;
    let opts = Options { default_namespace: args.namespace.clone() };
    let now = Timestamp::now();
    let (prior, to) = if args.live {
        let to_loaded = load(&args.to)?;
        let live = read_live(&to_loaded, &args.namespace).await?;
        (simulate::from_live(&live), validate(to_loaded, &schemas, &opts, Some(&live)))
    } else {
        // The two trees are independent until planning: read and check them side by side.
        let (prior, to) = std::thread::scope(|s| {
            let from =
                s.spawn(|| load(&args.from).map(|l| simulate::converge(&validate(l, &schemas, &opts, None).tree, now)));
            let to = load(&args.to).map(|l| validate(l, &schemas, &opts, None));
            let from = from.join().unwrap_or(Err(Exit::BadInput));
            (from, to)
        });
        (prior?, to?)
    };
    let mut report = plan_tree(&to, &prior, now);
    if let Some(h) = args.horizon {
        report.horizon = super::plan::horizon(&to, &prior, now, h.get());
    }
    match args.output {
        PlanOutput::Text => print(&render::text(&report)),
        PlanOutput::Markdown => print(&render::markdown(&report)),
        PlanOutput::Json => {
            let json = serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            print(&format!("{json}\n"));
        }
    }
    if !report.valid {
        return Ok(Exit::Findings);
    }
    if let Some(n) = args.fail_on_emails
        && report.emails() > n
    {
        eprintln!(
            "this change sends {} e-mails, more than --fail-on-emails {n} allows: ask for a second approval",
            report.emails()
        );
        return Ok(Exit::TooManyEmails);
    }
    Ok(Exit::Ok)
}
