//! The plugin's binary as kubectl and krew see it: its name, its help and its exit codes.
//! Having an integration test also makes `cargo test` build the binary itself, which the
//! operator's integration tests run against a cluster (tests/it/support: `plugin_binary`).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-conferencing");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env("KUBECONFIG", "/nonexistent").output().expect("running the plugin");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn yaml_docs(path: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()));
    serde_yaml::Deserializer::from_str(&text).map(|d| serde_yaml::Value::deserialize(d).expect("yaml")).collect()
}

/// The krew manifest template installs this package's binary on every platform, with only its
/// placeholders left to fill in.
#[test]
fn krew_manifest_template_names_the_plugin_binary() {
    let docs = yaml_docs("integrations/krew/conferencing.yaml");
    let m = &docs[0];
    assert_eq!(m["apiVersion"].as_str(), Some("krew.googlecontainertools.github.com/v1alpha2"));
    assert_eq!(m["kind"].as_str(), Some("Plugin"));
    // krew names the installed command kubectl-<name>, which is this package's binary.
    assert_eq!(m["metadata"]["name"].as_str(), Some("conferencing"));
    assert!(BIN.ends_with("/kubectl-conferencing"), "{BIN}");
    assert_eq!(m["spec"]["version"].as_str(), Some("{{VERSION}}"));
    let platforms = m["spec"]["platforms"].as_sequence().expect("platforms");
    assert!(!platforms.is_empty());
    for p in platforms {
        assert_eq!(p["bin"].as_str(), Some("kubectl-conferencing"), "{p:?}");
        for key in ["uri", "sha256"] {
            let v = p[key].as_str().unwrap_or_default();
            assert!(v.starts_with("{{") && v.ends_with("}}"), "{key} must be a placeholder: {v}");
        }
        assert!(p["selector"]["matchLabels"]["os"].as_str().is_some(), "{p:?}");
    }
}

/// `--help` names every verb and documents every exit code, as kubectl users read it.
#[test]
fn help_names_every_verb_and_exit_code() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0, "{stdout}");
    for verb in ["status", "reset-pin", "reset-conference-id", "send-info", "who-has", "explain", "pause", "resume"] {
        assert!(stdout.contains(&format!("  {verb}")), "{verb} missing from:\n{stdout}");
    }
    for code in ["0", "1", "3", "4", "5"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(code)), "exit code {code} undocumented:\n{stdout}");
    }
}

/// A verb that does not exist is a usage error (2), said on stderr; a missing kubeconfig is
/// an error (1) that names it, never a panic.
#[test]
fn usage_and_kubeconfig_errors_have_their_exit_codes() {
    let (code, _, stderr) = run(&["no-such-verb"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no-such-verb"), "{stderr}");
    let (code, _, stderr) = run(&["status"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
}
