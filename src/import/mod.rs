//! `conferencing-operator import`: an organisation's existing dial-in conferencing, as the
//! reference service exports it, to a config repository tree that `validate` accepts. Every
//! user keeps its conference ID (`spec.adopt.conferenceId`: claimed on first sight without
//! becoming static), numbers, toll-free setting, display name, e-mail, licence and provider;
//! the tenant says what the takeover e-mails (`notifications.takeoverEmail`, none by
//! default), so that `plan --from <empty> --to <tree>` shows exactly who is e-mailed before
//! anything is applied.
//!
//! Nothing is written unless every row imports (or `--skip-invalid`, which lists what it
//! skipped); a row that cannot be imported is reported with its file, line and reason.

mod error;
mod mapping;
mod names;
mod source;
mod tenant;
mod tree;
mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;

use serde_yaml::{Mapping as YamlMap, Value};

use crate::api::{
    Adopt, ConferencingTenant, ConferencingTenantSpec, ConferencingUser, ConferencingUserSpec, ProviderType, Requests,
    TakeoverEmail, TenantRef,
};
use crate::domain::escape_for_terminal;
use crate::validation::{ClusterPolicy, ValidatedTenant, validate_tenant, validate_tenant_ref, validate_user};
use error::{ImportError, RowProblem};
use users::ImportedUser;

/// What a takeover e-mails, as `--takeover-email` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TakeoverEmailArg {
    /// Nobody is e-mailed.
    None,
    /// One e-mail per user with the details the operator now manages (and the PIN, where a
    /// new one was generated).
    Welcome,
}

/// `conferencing-operator import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The users: `Get-CsOnlineDialInConferencingUser` piped to `Export-Csv` or
    /// `ConvertTo-Json`.
    #[arg(long, value_name = "FILE")]
    pub users: PathBuf,
    /// The bridge: `Get-CsOnlineDialInConferencingBridge | ConvertTo-Json -Depth 3`. Without
    /// it, the tenant's numbers are the users' (the most common being the defaults).
    #[arg(long, value_name = "FILE")]
    pub bridge: Option<PathBuf>,
    /// The tenant settings: `Get-CsOnlineDialInConferencingTenantSettings` piped to
    /// `ConvertTo-Json` or `Export-Csv` (PIN length, automatic e-mails, sender override,
    /// dynamic IDs, PSTN-only meetings).
    #[arg(long, value_name = "FILE")]
    pub tenant_settings: Option<PathBuf>,
    /// The namespace the tenant and its users go in.
    #[arg(long)]
    pub namespace: String,
    /// The directory of the tree (created; an earlier import's tree is updated in place).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// What the takeover e-mails each user when the operator first provisions them.
    #[arg(long, value_enum, default_value_t = TakeoverEmailArg::None)]
    pub takeover_email: TakeoverEmailArg,
    /// The ConferencingTenant's name; the namespace's when unset.
    #[arg(long)]
    pub tenant: Option<String>,
    /// The organisation's name, which signs the e-mails; the settings' sender display name
    /// when unset.
    #[arg(long)]
    pub organization: Option<String>,
    /// Fill a field from another column: `--map Mail=email` (repeatable). Fields:
    /// signInAddress, email, displayName, conferenceId, serviceNumber, tollFreeServiceNumber,
    /// allowTollFreeDialIn, allowPstnOnlyMeetings, locale, audioConferencingLicense, provider.
    #[arg(long, value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// Import the rows that can be, and list those skipped.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Remove the files of users the tree has but the export no longer does.
    #[arg(long)]
    pub prune: bool,
}

/// Runs `import`; the exit status: 0 written, 1 rows or the tenant cannot be imported
/// (nothing written), 2 unreadable input or a wrong flag.
pub fn command(args: ImportArgs) -> u8 {
    let started = std::time::Instant::now();
    match import(&args) {
        Ok(report) => {
            print(&report.lines(&args, started.elapsed()));
            0
        }
        Err(e) => {
            let mut err = std::io::stderr().lock();
            if let ImportError::Rows(problems) = &e {
                for p in problems {
                    let _ = writeln!(err, "error: {}", escape_for_terminal(&p.to_string()));
                }
            }
            let _ = writeln!(err, "error: {}", escape_for_terminal(&e.to_string()));
            match e {
                ImportError::Rows(_) | ImportError::Tenant(_) => 1,
                _ => 2,
            }
        }
    }
}

fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// What an import did, for its report.
struct Report {
    rows: usize,
    users: usize,
    skipped: Vec<RowProblem>,
    collisions: Vec<String>,
    written: tree::Written,
    tenant: ConferencingTenantSpec,
    tenant_name: String,
    without_toll_free: usize,
}

impl Report {
    fn lines(&self, args: &ImportArgs, took: std::time::Duration) -> String {
        let mut s = String::new();
        let t = &self.tenant;
        let defaults: Vec<&str> =
            t.service_numbers.iter().filter(|n| n.default == Some(true)).map(|n| n.number.as_str()).collect();
        s.push_str(&format!(
            "import: {} rows read from {} in {:.2} s\n",
            self.rows,
            args.users.display(),
            took.as_secs_f64()
        ));
        s.push_str(&format!(
            "import: tenant {} in namespace {}: {} dial-in numbers (defaults {}), PIN length {}, {}-digit conference IDs for new users, takeover e-mail: {:?}\n",
            self.tenant_name,
            args.namespace,
            t.service_numbers.len(),
            defaults.join(", "),
            t.pin.length,
            t.conference_ids.length,
            t.notifications.takeover_email,
        ));
        let w = &self.written;
        s.push_str(&format!(
            "import: {} users; files: {} created, {} changed, {} unchanged\n",
            self.users, w.created, w.changed, w.unchanged
        ));
        if self.without_toll_free > 0 {
            s.push_str(&format!(
                "import: {} users had no toll-free number and keep none (allowTollFreeDialIn: false)\n",
                self.without_toll_free
            ));
        }
        for c in &self.collisions {
            s.push_str(&format!("import: name collision: {c}\n"));
        }
        for p in &self.skipped {
            s.push_str(&format!("import: skipped {p}\n"));
        }
        if !w.stale.is_empty() {
            let verb = if w.pruned { "removed" } else { "left in place (--prune removes them)" };
            s.push_str(&format!(
                "import: {} users in the tree are not in the export, {verb}: {}\n",
                w.stale.len(),
                w.stale.join(", ")
            ));
        }
        s.push_str(&format!(
            "import: next: review with `conferencing-operator plan --from <empty directory> --to {}` (who is e-mailed, before anything is applied)\n",
            args.out.display()
        ));
        escape_for_terminal(&s).into_owned()
    }
}

fn import(args: &ImportArgs) -> Result<Report, ImportError> {
    let usage = |flag: &'static str, message: String| ImportError::Usage { flag, message };
    validate_tenant_ref(&args.namespace).map_err(|e| usage("--namespace", e.message))?;
    let tenant_name = args.tenant.clone().unwrap_or_else(|| args.namespace.clone());
    validate_tenant_ref(&tenant_name).map_err(|e| usage("--tenant", e.message))?;
    let mapping = mapping::Mapping::with_overrides(&args.map)?;
    let table = source::read(&args.users)?;
    let (read, mut problems) = users::read(&table, &mapping);
    let read = without_duplicates(read, &table.file, &mut problems);
    let bridge = args.bridge.as_deref().map(source::read).transpose()?.map(|t| tenant::bridge(&t)).transpose()?;
    let settings = args
        .tenant_settings
        .as_deref()
        .map(source::read)
        .transpose()?
        .map(|t| tenant::settings(&t))
        .transpose()?
        .unwrap_or_default();
    let choices = tenant::Choices {
        organization_name: args.organization.clone(),
        takeover_email: match args.takeover_email {
            TakeoverEmailArg::None => TakeoverEmail::None,
            TakeoverEmailArg::Welcome => TakeoverEmail::Welcome,
        },
    };
    let spec = tenant::spec(bridge.as_ref(), &settings, &read, &choices)?;
    let tenant_object =
        ConferencingTenant { metadata: object_meta(&tenant_name, &args.namespace), spec: spec.clone(), status: None };
    let vt = validate_tenant(&tenant_object, &ClusterPolicy::unrestricted())
        .map_err(|e| ImportError::Tenant(e.to_string()))?;

    let existing = tree::existing(&args.out)?;
    let names = names::assign(read.iter().map(|u| u.sign_in.as_str()), &existing.names);
    let mut accepted = Vec::with_capacity(read.len());
    let mut without_toll_free = 0;
    for u in read {
        let name = names.by_sign_in.get(&u.sign_in).cloned().unwrap_or_default();
        let (object, no_toll_free) = user_object(&u, &name, &args.namespace, &tenant_name, &vt);
        match validate_user(&object, &vt) {
            Ok(_) => {
                without_toll_free += usize::from(no_toll_free);
                accepted.push((name, u.sign_in.clone(), object));
            }
            Err(e) => problems.push(RowProblem { file: table.file.clone(), line: u.line, reason: e.to_string() }),
        }
    }
    problems.sort();
    if !problems.is_empty() && !args.skip_invalid {
        return Err(ImportError::Rows(problems));
    }

    let mut files = vec![tree::File::yaml("tenant.yaml".into(), &tenant_yaml(&tenant_object))];
    let mut written_names = BTreeSet::new();
    for (name, sign_in, object) in &accepted {
        files.push(tree::File::yaml(format!("users/{name}.yaml"), &user_yaml(object, sign_in)));
        written_names.insert(name.clone());
    }
    let written = tree::write(&args.out, &args.namespace, files, &written_names, &existing, args.prune)?;
    Ok(Report {
        rows: table.rows.len(),
        users: accepted.len(),
        skipped: problems,
        collisions: names.collisions,
        written,
        tenant: spec,
        tenant_name,
        without_toll_free,
    })
}

/// Drops the rows that repeat a user (the same sign-in address) or share a conference ID,
/// each reported with the lines involved: two users cannot keep one ID, and which of them the
/// export meant is not the import's to guess.
fn without_duplicates(users: Vec<ImportedUser>, file: &str, problems: &mut Vec<RowProblem>) -> Vec<ImportedUser> {
    let mut by_sign_in: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut by_id: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for u in &users {
        by_sign_in.entry(&u.sign_in).or_default().push(u.line);
        if let Some(id) = &u.conference_id {
            by_id.entry(id.as_str()).or_default().push(u.line);
        }
    }
    let mut bad: BTreeMap<u64, String> = BTreeMap::new();
    for (address, lines) in by_sign_in.iter().filter(|(_, l)| l.len() > 1) {
        for line in &lines[1..] {
            bad.insert(*line, format!("{address} is already line {}'s user", lines[0]));
        }
    }
    for (id, lines) in by_id.iter().filter(|(_, l)| l.len() > 1) {
        for line in lines {
            let others: Vec<String> = lines.iter().filter(|l| *l != line).map(u64::to_string).collect();
            bad.entry(*line).or_insert_with(|| {
                format!("conference ID {id} is also on line(s) {}: two users cannot keep one ID", others.join(", "))
            });
        }
    }
    problems.extend(bad.iter().map(|(line, reason)| RowProblem {
        file: file.to_string(),
        line: *line,
        reason: reason.clone(),
    }));
    users.into_iter().filter(|u| !bad.contains_key(&u.line)).collect()
}

fn object_meta(name: &str, namespace: &str) -> kube::api::ObjectMeta {
    kube::api::ObjectMeta { name: Some(name.to_string()), namespace: Some(namespace.to_string()), ..Default::default() }
}

/// The user as the tree declares it, leaving out what the tenant gives anyway (its default
/// numbers, its PSTN-only default), so that a later change of a default reaches the user as it
/// would in the reference; and whether a toll-free number had to be turned off to keep the
/// user without one.
fn user_object(
    u: &ImportedUser,
    name: &str,
    namespace: &str,
    tenant: &str,
    vt: &ValidatedTenant,
) -> (ConferencingUser, bool) {
    let default_toll_free = vt.default_toll_free.as_ref().map(|n| n.number.clone());
    let no_toll_free = u.toll_free_service_number.is_none() && default_toll_free.is_some();
    let allow_toll_free_dial_in = match (u.allow_toll_free_dial_in, no_toll_free) {
        (Some(false), _) | (_, true) => Some(false),
        _ => None,
    };
    let spec = ConferencingUserSpec {
        tenant_ref: TenantRef { name: tenant.to_string() },
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        send_email_to_address: None,
        locale: u.locale,
        audio_conferencing_license: u.licensed,
        provider: u.provider.clone(),
        service_number: u.service_number.clone().filter(|n| *n != vt.default_toll.number),
        toll_free_service_number: u.toll_free_service_number.clone().filter(|n| Some(n) != default_toll_free.as_ref()),
        conference_id: None,
        allow_pstn_only_meetings: u.allow_pstn_only_meetings.filter(|p| *p != vt.allow_pstn_only_meetings_by_default),
        allow_toll_free_dial_in,
        requests: Requests::default(),
        adopt: u.conference_id.as_ref().map(|id| Adopt { conference_id: Some(id.to_string()), pin_secret_ref: None }),
    };
    let object = ConferencingUser { metadata: object_meta(name, namespace), spec, status: None };
    (object, no_toll_free && u.allow_toll_free_dial_in != Some(false))
}

fn yaml_of<T: serde::Serialize>(value: &T) -> Value {
    // Plain data with string keys always serializes.
    serde_yaml::to_value(value).unwrap_or(Value::Null)
}

fn header(kind: &str, name: &str, namespace: &str) -> YamlMap {
    let mut doc = YamlMap::new();
    doc.insert("apiVersion".into(), "conferencing.io/v1alpha1".into());
    doc.insert("kind".into(), kind.into());
    let mut meta = YamlMap::new();
    meta.insert("name".into(), name.into());
    meta.insert("namespace".into(), namespace.into());
    doc.insert("metadata".into(), Value::Mapping(meta));
    doc
}

fn tenant_yaml(t: &ConferencingTenant) -> Value {
    let mut doc = header(
        "ConferencingTenant",
        t.metadata.name.as_deref().unwrap_or_default(),
        t.metadata.namespace.as_deref().unwrap_or_default(),
    );
    doc.insert("spec".into(), yaml_of(&t.spec));
    Value::Mapping(doc)
}

fn user_yaml(u: &ConferencingUser, sign_in: &str) -> Value {
    let mut doc = header(
        "ConferencingUser",
        u.metadata.name.as_deref().unwrap_or_default(),
        u.metadata.namespace.as_deref().unwrap_or_default(),
    );
    if let Some(Value::Mapping(meta)) = doc.get_mut("metadata") {
        let mut annotations = YamlMap::new();
        annotations.insert(tree::SIGN_IN_ANNOTATION.into(), sign_in.into());
        meta.insert("annotations".into(), Value::Mapping(annotations));
    }
    let mut spec = match yaml_of(&u.spec) {
        Value::Mapping(m) => m,
        _ => YamlMap::new(),
    };
    // What every user has by default is left out, so that a file says what is particular.
    if u.spec.audio_conferencing_license {
        spec.remove("audioConferencingLicense");
    }
    if u.spec.provider.type_ == ProviderType::Native {
        spec.remove("provider");
    }
    spec.remove("requests");
    doc.insert("spec".into(), Value::Mapping(spec));
    Value::Mapping(doc)
}

#[cfg(test)]
mod tests;
