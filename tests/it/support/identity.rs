//! Identities for tests: `kubectl` as the cluster admin, and kubeconfigs that authenticate
//! as a ServiceAccount (a token from the TokenRequest API), so that the operator can be run
//! with exactly the rights a manifest grants.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_yaml::Value;

/// Runs kubectl (as the current kubeconfig's user), feeding `stdin`; fails the test on error.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl on PATH");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Objects as one multi-document YAML stream.
pub fn to_yaml(objects: &[Value]) -> String {
    objects.iter().map(|o| serde_yaml::to_string(o).expect("yaml")).collect::<Vec<_>>().join("---\n")
}

/// A kubeconfig for the same cluster as the current one, authenticated as `namespace/sa`.
pub fn kubeconfig_for(namespace: &str, sa: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let token = kubectl(&["create", "token", sa, "-n", namespace, "--duration", "1h"], None);
    let current: Value = serde_yaml::from_str(&kubectl(&["config", "view", "--minify", "--raw", "-o", "yaml"], None))
        .expect("kubeconfig");
    let cluster = current["clusters"][0]["cluster"].clone();
    let config = serde_yaml::to_string(&serde_yaml::from_str::<Value>(&format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {}}}]\nusers: [{{name: u, user: {{token: {}}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n",
        serde_json::to_string(&cluster).expect("json"),
        token.trim()
    )).expect("kubeconfig yaml"))
    .expect("yaml");
    let path = dir.join(format!("{sa}.kubeconfig"));
    std::fs::write(&path, config).expect("write kubeconfig");
    path
}
