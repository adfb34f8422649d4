//! What cannot run here is at least checked here. Every shell script under
//! `scripts/` passes shellcheck, and every workflow under `.github/workflows/` passes
//! actionlint (which also runs shellcheck on each `run:` block). Docker and kind do not run on
//! the project's machines, so this is what keeps `scripts/kind-e2e` and `ci.yml` honest
//! between CI runs on GitHub.
//!
//! shellcheck is Debian's package, installed by `scripts/provision tools`; actionlint by
//! `scripts/provision-python-tools` (both run by `scripts/test` before the tests start).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shellcheck() -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("shellcheck"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("shellcheck is not installed: run scripts/provision tools (scripts/test does) before the tests")
    })
}

fn actionlint() -> PathBuf {
    let out = Command::new(root().join("scripts/provision-python-tools"))
        .arg("--print-bin-dir")
        .output()
        .expect("run scripts/provision-python-tools --print-bin-dir");
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("actionlint");
    assert!(
        bin.is_file(),
        "actionlint is not installed at {}: run scripts/provision-python-tools (scripts/test does) before the tests",
        bin.display()
    );
    bin
}

/// The shell scripts under scripts/: a bash or sh shebang, or a `.sh` file (sourced, no shebang).
fn shell_scripts() -> Vec<PathBuf> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root().join("scripts"))
        .expect("scripts/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let first = std::fs::read_to_string(p).ok().and_then(|t| t.lines().next().map(str::to_string));
            p.extension().is_some_and(|e| e == "sh")
                || first.is_some_and(|l| l.starts_with("#!") && (l.contains("bash") || l.ends_with("/sh")))
        })
        .collect();
    scripts.sort();
    scripts
}

/// Runs shellcheck on one script, following `source`d files; returns success and findings.
fn check(bin: &Path, script: &Path) -> (bool, String) {
    let mut cmd = Command::new(bin);
    // -x follows sourced files (scripts/lib.sh); a file without a shebang is bash here.
    cmd.args(["-x", "--shell=bash", "--format=gcc"]).arg(script).current_dir(root());
    let out = cmd.output().expect("run shellcheck");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn every_script_passes_shellcheck() {
    let bin = shellcheck();
    let scripts = shell_scripts();
    for expected in ["test", "provision", "kind-e2e", "helm", "lib.sh"] {
        assert!(scripts.iter().any(|p| p.ends_with(expected)), "scripts/{expected} is checked: {scripts:?}");
    }
    let mut findings = String::new();
    for script in &scripts {
        let (ok, out) = check(&bin, script.strip_prefix(root()).expect("under the repo"));
        if !ok {
            findings.push_str(&out);
        }
    }
    assert!(
        findings.is_empty(),
        "shellcheck findings (fix them, or disable one with a comment saying why):\n{findings}"
    );
}

#[test]
fn shellcheck_would_catch_a_broken_script() {
    // Guards the test above against a shellcheck that accepts anything.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("broken");
    std::fs::write(&script, "#!/usr/bin/env bash\nset -euo pipefail\ndir=$1\nrm -rf $dir/cache\n").expect("write");
    let (ok, out) = check(&shellcheck(), &script);
    assert!(!ok && out.contains("SC2086"), "shellcheck accepted an unquoted expansion:\n{out}");
}

#[test]
fn every_workflow_passes_actionlint() {
    let bin = actionlint();
    let dir = root().join(".github/workflows");
    let mut workflows: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect(".github/workflows")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    workflows.sort();
    assert!(workflows.iter().any(|p| p.ends_with("ci.yml")), "{workflows:?}");
    let shellcheck = shellcheck();
    for wf in &workflows {
        let out = Command::new(&bin)
            .args(["-no-color", "-oneline", "-shellcheck"])
            .arg(&shellcheck)
            .arg(wf.strip_prefix(root()).expect("under the repo"))
            .current_dir(root())
            .output()
            .expect("run actionlint");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "actionlint found problems in {}:\n{text}", wf.display());
    }
}

#[test]
fn the_ci_workflow_runs_the_test_command_and_kind_e2e() {
    let text = std::fs::read_to_string(root().join(".github/workflows/ci.yml")).expect("ci.yml");
    assert!(text.contains(".ci/run"), "the test job runs .ci/run (fmt, clippy, scripts/test)");
    assert!(text.contains("run: scripts/kind-e2e"), "the kind job runs scripts/kind-e2e");
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(ci.lines().any(|l| l.trim() == "scripts/test"), ".ci/run runs the README's test command");
}
