//! docs/operations.md documents every flag of `conferencing-operator run`, and every reason
//! the operator writes in a condition or an Event.

#[test]
fn every_run_flag_is_in_the_operations_table() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_conferencing-operator"))
        .args(["run", "--help"])
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md")).expect("docs");
    let flags: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split([' ', '=']).next())
        .filter(|f| *f != "help")
        .collect();
    assert!(flags.len() >= 19, "{flags:?}");
    for f in flags {
        assert!(doc.contains(&format!("| `--{f}")), "--{f} is missing from the table in docs/operations.md");
    }
}

#[test]
fn every_condition_and_event_reason_is_in_the_operations_guide() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md")).expect("docs");
    let missing: Vec<String> = conferencing_operator::api::Reason::all()
        .map(|r| r.as_str())
        .filter(|r| !doc.contains(&format!("`{r}`")))
        .map(str::to_string)
        .collect();
    assert!(missing.is_empty(), "reasons docs/operations.md does not name: {missing:?}");
}
