//! The config-repository commands' budgets, measured end to end (the release binary, files on
//! disk, as CI runs it): 10,000 users `validate` in under a second and `plan` in under two;
//! 10,000 exported rows `import` in under two (a first import, and a re-run over its tree).
//!
//! `cargo bench --bench config_repo` generates a tenant and 10,000 users (one file each, as a
//! config repository holds them) in a temporary directory, then a commit that changes the
//! tenant's default toll number and resets 100 PINs, and a 10,000-row export as Windows
//! PowerShell's `Export-Csv` writes it; and prints the timings. Exits non-zero when a budget
//! is exceeded.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const USERS: usize = 10_000;
const RUNS: usize = 3;

fn tenant(default_toll: &str) -> String {
    let mark = |n: &str| if n == default_toll { "\n      default: true" } else { "" };
    format!(
        "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingTenant\nmetadata:\n  name: acme\n  namespace: acme\nspec:\n  serviceNumbers:\n    - number: \"+14255550100\"\n      type: Toll\n      city: Redmond\n      country: US{}\n    - number: \"+33175550100\"\n      type: Toll\n      city: Paris\n      country: FR{}\n    - number: \"+18005550199\"\n      type: TollFree\n      country: US\n  pin:\n    length: 6\n  conferenceIds:\n    length: 8\n",
        mark("+14255550100"),
        mark("+33175550100")
    )
}

fn user(i: usize, reset: bool) -> String {
    let mut extra = String::new();
    match i % 20 {
        0 => extra.push_str(&format!("  conferenceId: \"{}\"\n", 40_000_000 + i)),
        1 => extra.push_str("  serviceNumber: \"+33175550100\"\n"),
        2 => extra.push_str("  provider:\n    type: ThirdParty\n    name: Contoso Audio\n"),
        3 => extra.push_str("  locale: fr\n  sendEmailToAddress: user@home.example\n"),
        _ => {}
    }
    if reset {
        extra.push_str("  requests:\n    resetPin: \"2026-12-01 CHG-1\"\n");
    }
    format!(
        "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata:\n  name: user-{i:05}\n  namespace: acme\n  labels:\n    team: t{}\nspec:\n  tenantRef:\n    name: acme\n  displayName: User Number {i}\n  email: user-{i:05}@acme.example\n{extra}",
        i % 37
    )
}

fn write(dir: &Path, default_toll: &str, resets: usize) {
    std::fs::create_dir_all(dir.join("users")).expect("mkdir");
    std::fs::write(dir.join("tenant.yaml"), tenant(default_toll)).expect("write");
    for i in 0..USERS {
        std::fs::write(dir.join(format!("users/user-{i:05}.yaml")), user(i, i < resets)).expect("write");
    }
}

/// `Get-CsOnlineDialInConferencingUser | Export-Csv -Encoding UTF8`, 10,000 users.
fn export(path: &Path) {
    let mut csv = String::from(
        "\u{feff}#TYPE Deserialized.Microsoft.Rtc.Management.Hosted.Bridge.DialInConferencingUser\r\n\
         \"Identity\",\"AllowPstnOnlyMeetings\",\"AllowTollFreeDialIn\",\"BridgeName\",\"ConferenceId\",\"DisplayName\",\"LeaderPin\",\"ServiceNumber\",\"SipAddress\",\"TollFreeServiceNumber\"\r\n",
    );
    for i in 0..USERS {
        let (toll, toll_free) = if i % 5 == 0 { ("33175550100", "") } else { ("14255550100", "18005550199") };
        csv.push_str(&format!(
            "\"{i:08x}-1f2e-4d3c-9b8a-0123456789ab\",\"False\",\"True\",\"Conference Bridge\",\"{}\",\"User Number {i}\",\"*****\",\"{toll}\",\"sip:user.{i}@acme.example\",\"{toll_free}\"\r\n",
            30_000_000 + i
        ));
    }
    std::fs::write(path, csv).expect("write export");
}

fn time(args: &[&str], expect: i32) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_conferencing-operator")).args(args).output().expect("run");
        let took = start.elapsed();
        assert_eq!(
            out.status.code(),
            Some(expect),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        best = best.min(took);
    }
    best
}

/// One run of a command that must not be repeated in place (a first import).
fn time_once(args: &[&str], expect: i32) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_conferencing-operator")).args(args).output().expect("run");
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(expect), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    took
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = dir.path().join("from");
    let to = dir.path().join("to");
    write(&from, "+14255550100", 0);
    write(&to, "+33175550100", 100);
    let (from, to) = (from.to_str().expect("utf8"), to.to_str().expect("utf8"));

    let validate = time(&["validate", to, "--output", "json"], 0);
    let plan = time(&["plan", "--from", from, "--to", to, "--output", "json"], 0);
    let out = Command::new(env!("CARGO_BIN_EXE_conferencing-operator"))
        .args(["plan", "--from", from, "--to", to])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = text.lines().rev().take(2).collect();

    println!("config_repo: {USERS} users, best of {RUNS} runs, end to end");
    println!("  validate: {:>7.3} s (budget 1 s)", validate.as_secs_f64());
    println!("  plan:     {:>7.3} s (budget 2 s)", plan.as_secs_f64());
    for l in summary.iter().rev() {
        println!("  {l}");
    }

    let csv = dir.path().join("users.csv");
    export(&csv);
    let csv = csv.to_str().expect("utf8");
    let out_dir = |run: usize| dir.path().join(format!("imported-{run}"));
    let mut first = Duration::MAX;
    for run in 0..RUNS {
        let out = out_dir(run);
        let out = out.to_str().expect("utf8");
        first = first.min(time_once(&["import", "--users", csv, "--namespace", "acme", "--out", out], 0));
    }
    let tree = out_dir(0);
    let tree = tree.to_str().expect("utf8");
    let rerun = time(&["import", "--users", csv, "--namespace", "acme", "--out", tree], 0);
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let takeover = time(&["plan", "--from", empty.to_str().expect("utf8"), "--to", tree, "--output", "json"], 0);
    println!(
        "  import:   {:>7.3} s (budget 2 s; a re-run over its tree {:.3} s)",
        first.as_secs_f64(),
        rerun.as_secs_f64()
    );
    println!("  plan of the takeover (--from an empty tree): {:>7.3} s", takeover.as_secs_f64());
    let over = validate > Duration::from_secs(1)
        || plan > Duration::from_secs(2)
        || first > Duration::from_secs(2)
        || rerun > Duration::from_secs(2);
    if over {
        eprintln!("config_repo: over budget");
        std::process::exit(1);
    }
}
