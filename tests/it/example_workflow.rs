//! The example config repository's CI workflow is valid, as actionlint checks it.
//! actionlint is installed by `scripts/provision-python-tools` (run by `scripts/test` before
//! the tests start), never by the test itself: tests run in parallel.

use std::path::{Path, PathBuf};
use std::process::Command;

const WORKFLOW: &str = "examples/.github/workflows/conferencing.yml";

fn actionlint() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/provision-python-tools"))
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

fn lint(bin: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .args(["-no-color", "-oneline"])
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run actionlint");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_example_workflow_passes_actionlint() {
    let bin = actionlint();
    let (ok, out) = lint(&bin, Path::new(WORKFLOW));
    assert!(ok, "actionlint found problems in {WORKFLOW}:\n{out}");
}

#[test]
fn actionlint_would_catch_a_broken_workflow() {
    // Guards the test above against an actionlint that accepts anything.
    let bin = actionlint();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(WORKFLOW)).expect("workflow");
    let broken = text.replace("steps.plan.outputs.status", "steps.plna.outputs.status");
    assert_ne!(broken, text);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("conferencing.yml");
    std::fs::write(&file, broken).expect("write");
    let (ok, out) = lint(&bin, &file);
    assert!(!ok, "actionlint accepted a reference to an unknown step:\n{out}");
    assert!(out.contains("plna"), "{out}");
}

#[test]
fn the_example_workflow_runs_the_commands_it_documents() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(WORKFLOW)).expect("workflow");
    assert!(text.contains("validate --output github ."), "validate with GitHub annotations");
    assert!(text.contains("plan --from base --to head --output markdown --fail-on-emails"), "plan as a PR comment");
}
