//! A private control plane for one test: its own etcd and kube-apiserver (the project's
//! `scripts/control-plane` with its own state directory and ports), for faults that would
//! disturb every other test on a shared one: the API server killed and restarted, etcd
//! compacted, CRDs replaced. Needs the project's local API server build (`scripts/control-plane
//! up` builds it once; or KUBE_APISERVER_BIN): these tests are marked
//! `#[ignore = "needs a private control plane: scripts/test runs it"]`, and once run, a missing
//! build fails them. On a cluster given by KUBECONFIG alone (kind) there is no build: there
//! `scripts/test` is told to leave them out (`CONFERENCING_TEST_PRIVATE_CONTROL_PLANE=skip`),
//! which cargo test reports as filtered out, not passed.

use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

pub struct PrivateCluster {
    dir: tempfile::TempDir,
    ports: (u16, u16, u16),
    pub kubeconfig: PathBuf,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/control-plane")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl PrivateCluster {
    /// Starts one, or fails the test where a private control plane cannot be run (no API server
    /// build), under CI or not: the test was asked for, and must not pass without running.
    pub fn start() -> PrivateCluster {
        let build = dirs_cache().join("conferencing-operator/kube-apiserver-1.20.2/kube-apiserver");
        let built = build.exists() || std::env::var_os("KUBE_APISERVER_BIN").is_some();
        assert!(
            built,
            "this test needs a private control plane, and the project's kube-apiserver build is missing \
             ({}): run scripts/test (or scripts/control-plane up once, which builds it), or set KUBE_APISERVER_BIN",
            build.display()
        );
        let dir = tempfile::Builder::new().prefix("cp-").tempdir().expect("tempdir");
        let ports = (free_port(), free_port(), free_port());
        let cluster = PrivateCluster { kubeconfig: dir.path().join("kubeconfig"), dir, ports };
        cluster.run(&["up"]);
        cluster
    }

    fn run(&self, args: &[&str]) {
        let status = Command::new(script())
            .args(args)
            .env("CONTROL_PLANE_DIR", self.dir.path())
            .env("CONTROL_PLANE_ETCD_PORT", self.ports.0.to_string())
            .env("CONTROL_PLANE_ETCD_PEER_PORT", self.ports.1.to_string())
            .env("CONTROL_PLANE_APISERVER_PORT", self.ports.2.to_string())
            .status()
            .expect("run scripts/control-plane");
        assert!(status.success(), "scripts/control-plane {args:?} failed");
    }

    /// A client of this cluster, as its administrator.
    pub async fn client(&self) -> Client {
        let kc = Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.expect("config");
        Client::try_from(config).expect("client")
    }

    /// Stops the API server; with `kill`, without warning (a crash).
    pub fn stop_apiserver(&self, kill: bool) {
        if kill { self.run(&["stop-apiserver", "--kill"]) } else { self.run(&["stop-apiserver"]) }
    }

    /// Starts it again on the same etcd.
    pub fn start_apiserver(&self) {
        self.run(&["start-apiserver"]);
    }

    /// Compacts etcd at its current revision: a watch resuming from before must relist.
    pub fn compact(&self) {
        self.run(&["compact"]);
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["down", "--purge"])
            .env("CONTROL_PLANE_DIR", self.dir.path())
            .env("CONTROL_PLANE_ETCD_PORT", self.ports.0.to_string())
            .env("CONTROL_PLANE_ETCD_PEER_PORT", self.ports.1.to_string())
            .env("CONTROL_PLANE_APISERVER_PORT", self.ports.2.to_string())
            .status();
    }
}

fn dirs_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"))
}

/// A CRD as an older release might have shipped it: without the `pattern` rules, so that
/// objects a current API server would refuse can be stored (as they are when they predate
/// the rule). Used to put hostile objects in front of the operator.
pub fn without_patterns(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("pattern");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(crd).expect("json");
    strip(&mut v);
    serde_json::from_value(v).expect("crd")
}
