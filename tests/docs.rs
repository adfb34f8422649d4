//! docs/operations.md documents every flag of `conferencing-operator run`.

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
