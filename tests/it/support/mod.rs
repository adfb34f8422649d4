//! Test harness: a namespace per test on the cluster named by KUBECONFIG (the project's local
//! control plane from `scripts/test`, or any cluster such as kind), the CRDs installed, and
//! the real `conferencing-operator run` binary as a child process whose log is kept.
//!
//! A test that needs a cluster is marked `#[ignore = "needs a cluster: scripts/test runs it"]`
//! (one that needs a private control plane, `#[ignore = "needs a private control plane:
//! scripts/test runs it"]`), so that a plain `cargo test` without a cluster reports it as
//! *ignored*, never as passed; `scripts/test` runs them with `--include-ignored`. Once a test
//! runs, a missing cluster fails it: nothing here skips a test silently.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conferencing_operator::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long a test waits for the operator to reach an expected state.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A test's namespace and operator.
pub struct TestEnv {
    pub client: Client,
    pub ns: String,
    operator: Option<Child>,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    /// The cluster's kubeconfig when it is not the one in KUBECONFIG (a private control plane).
    pub kubeconfig: Option<PathBuf>,
}

/// Connects to the cluster, or fails the test saying why. Only tests marked
/// `#[ignore = "needs a cluster: scripts/test runs it"]` call this, so it runs only when asked
/// for (`scripts/test`, or `--include-ignored`): a missing cluster is then a failure, under CI
/// or not, never a test reported as passed that did nothing.
pub async fn cluster() -> Client {
    let result = async {
        let client = Client::try_default().await.map_err(|e| e.to_string())?;
        client.apiserver_version().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(client)
    }
    .await;
    match result {
        Ok(c) => c,
        Err(e) => panic!(
            "this test needs a Kubernetes cluster and none is reachable ({e}): run it with scripts/test, \
             or set KUBECONFIG (a test that needs a cluster must be #[ignore]d, so that plain cargo test \
             reports it as ignored)"
        ),
    }
}

/// Under CI the tests that need a cluster must run, not be reported as ignored: a CI job that
/// ran plain `cargo test` (without `--include-ignored`, which `scripts/test` passes) would
/// otherwise pass without them. Part of the one integration-test binary (tests/it).
#[test]
fn under_ci_the_tests_that_need_a_cluster_are_run_not_ignored() {
    if std::env::var_os("CI").is_some() {
        let included = std::env::args().any(|a| a == "--include-ignored" || a == "--ignored");
        assert!(
            included,
            "CI is set but the tests that need a cluster are ignored: run the suite with scripts/test \
             (or pass --include-ignored to the test binaries)"
        );
    }
}

/// Installs the CRDs from the code if they are missing, and waits until they are served.
pub async fn ensure_crds(client: &Client) {
    install_crds(client, [ConferenceIdClaim::crd(), ConferencingTenant::crd(), ConferencingUser::crd()]).await;
}

/// Creates these CRDs where missing and waits until they are served.
pub async fn install_crds(client: &Client, crds: impl IntoIterator<Item = CustomResourceDefinition>) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd.name_any();
        // POST/PUT rather than server-side apply: API servers before 1.25 reject the CEL
        // rules in an apply patch but silently drop them from a plain write.
        // Created when missing, never replaced: `scripts/test` installs the current CRDs
        // before the tests run, and parallel tests must not fight over them.
        if api.get_opt(&name).await.expect("read CRD").is_none() {
            match api.create(&PostParams::default(), &crd).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => panic!("creating CRD {name}: {e}"),
            }
        }
        wait_until(&format!("CRD {name} established"), Duration::from_secs(30), || async {
            let crd = api.get(&name).await.ok()?;
            let ok = crd.status?.conditions?.iter().any(|c| c.type_ == "Established" && c.status == "True");
            ok.then_some(())
        })
        .await;
    }
}

impl TestEnv {
    /// A fresh namespace `t-<name>-<random>` with the CRDs installed; no operator yet. Fails
    /// the test when no cluster is reachable (see [`cluster`]).
    pub async fn new(name: &str) -> TestEnv {
        let client = cluster().await;
        ensure_crds(&client).await;
        Self::in_cluster(client, None, name).await
    }

    /// A fresh namespace on a private control plane (whose CRDs the test installs).
    pub async fn on(cluster: &private::PrivateCluster, name: &str) -> TestEnv {
        Self::in_cluster(cluster.client().await, Some(cluster.kubeconfig.clone()), name).await
    }

    async fn in_cluster(client: Client, kubeconfig: Option<PathBuf>, name: &str) -> TestEnv {
        let suffix: String = (0..5).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
        let ns = format!("t-{name}-{suffix}");
        let nsapi: Api<Namespace> = Api::all(client.clone());
        let mut n = Namespace::default();
        n.metadata.name = Some(ns.clone());
        nsapi.create(&PostParams::default(), &n).await.expect("create namespace");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("operator.log");
        TestEnv { client, ns, operator: None, log, _dir: dir, kubeconfig }
    }

    /// Starts the operator binary, watching only this test's namespace.
    pub fn start_operator(&mut self) {
        self.start_operator_with(&[]);
    }

    /// Starts the operator with extra arguments to `run`.
    pub fn start_operator_with(&mut self, extra: &[&str]) {
        self.start_operator_env(extra, &[]);
    }

    /// Starts the operator with extra arguments and environment.
    pub fn start_operator_env(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        assert!(self.operator.is_none(), "operator already running");
        let log = self.log.clone();
        self.operator = Some(self.spawn_operator(&log, extra, env));
    }

    /// The operator's process ID, while it runs.
    pub fn operator_pid(&self) -> Option<u32> {
        self.operator.as_ref().map(Child::id)
    }

    /// Whether the operator process is still running (it never exited or restarted).
    pub fn operator_running(&mut self) -> bool {
        self.operator.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The operator's exit code, once it has exited.
    pub fn operator_exit_code(&mut self) -> Option<i32> {
        self.operator.as_mut().and_then(|c| c.try_wait().ok().flatten()).and_then(|s| s.code())
    }

    /// The operator's metrics, as `name{labels}` -> value.
    pub async fn metrics(&self) -> std::collections::HashMap<String, f64> {
        // A test may ask right after starting the operator, before it serves.
        let port = wait_until("the operator to log its HTTP port", TIMEOUT, || async { http_port(&self.log()) }).await;
        let (status, body) = http_get(port, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        metric_samples(&body)
    }

    /// One metric sample, `name{labels}`; fails when the operator does not export it, so that a
    /// renamed metric fails the test rather than reading as 0.
    pub async fn metric(&self, key: &str) -> f64 {
        let m = self.metrics().await;
        match m.get(key) {
            Some(v) => *v,
            None => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                panic!("the operator exports no metric {key}; it exports {keys:?}")
            }
        }
    }

    /// Waits until the operator is idle: no e-mail owed or queued (its gauges at 0) and no API
    /// write for [`QUIET`], so that an e-mail sent twice or a late retry would have happened.
    /// Fails if it does not get there within [`TIMEOUT`].
    pub async fn wait_idle(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let pending = self.metric("conferencing_notifications_pending").await;
            let queued = self.metric("conferencing_delivery_queue").await;
            if pending == 0.0 && queued == 0.0 {
                self.wait_converged(QUIET).await;
                let pending = self.metric("conferencing_notifications_pending").await;
                let queued = self.metric("conferencing_delivery_queue").await;
                if pending == 0.0 && queued == 0.0 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the operator was not idle within {TIMEOUT:?}: {pending} e-mails owed, {queued} queued\n{}",
                tail(&self.log(), 30)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Spawns an operator process logging to `log`, with extra arguments and environment.
    pub fn spawn_operator(&self, log: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Child {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        let outbox = self.outbox();
        let mut args: Vec<String> = vec!["run".into(), "--namespace".into(), self.ns.clone()];
        if !extra.iter().any(|a| a.starts_with("--smtp-url") || a.starts_with("--outbox-dir")) {
            args.extend(["--outbox-dir".into(), outbox.display().to_string()]);
        }
        // Each test's operators elect a leader among themselves, in the test's namespace,
        // and serve HTTP on a free port (the log says which).
        if !extra.iter().any(|a| a.starts_with("--leader-election-namespace")) {
            args.extend(["--leader-election-namespace".into(), self.ns.clone()]);
        }
        if !extra.iter().any(|a| a.starts_with("--http-addr")) {
            args.extend(["--http-addr".into(), "127.0.0.1:0".into()]);
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_conferencing-operator"));
        if let Some(k) = &self.kubeconfig {
            cmd.env("KUBECONFIG", k);
        }
        cmd.args(&args)
            .args(extra)
            .env("RUST_LOG", "warn,conferencing_operator=info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start conferencing-operator")
    }

    /// A path for another operator's log in this test's directory.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self._dir.path().join(name)
    }

    /// Stops the operator with SIGTERM (as Kubernetes does) and waits for it to exit.
    pub fn stop_operator(&mut self) {
        if let Some(mut child) = self.operator.take() {
            // A test may have paused it (SIGSTOP); a paused process cannot handle SIGTERM.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    // Panicking again while a failed test unwinds would abort every test of
                    // the binary; the first failure is the one to report.
                    if !std::thread::panicking() {
                        panic!("operator did not stop within 20 s of SIGTERM");
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Kills the operator without warning (a crash).
    pub fn kill_operator(&mut self) {
        if let Some(mut child) = self.operator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Where the operator writes `.eml` files when no SMTP server is given.
    pub fn outbox(&self) -> PathBuf {
        self._dir.path().join("outbox")
    }

    /// The operator's log so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Number of `api write` lines the operator has logged.
    pub fn api_writes(&self) -> usize {
        self.log().lines().filter(|l| l.contains("api write")).count()
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Server-side applies `obj` into this namespace, as `kubectl apply --server-side` does.
    pub async fn apply<K>(&self, obj: &K) -> K
    where
        K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let mut obj = obj.clone();
        obj.meta_mut().namespace = Some(self.ns.clone());
        obj.meta_mut().resource_version = None;
        let name = obj.name_any();
        let mut value = serde_json::to_value(&obj).expect("json");
        if let Some(m) = value.as_object_mut() {
            m.remove("status");
        }
        self.api::<K>()
            .patch(&name, &PatchParams::apply("conferencing-tests").force(), &Patch::Apply(&value))
            .await
            .unwrap_or_else(|e| panic!("applying {name}: {e}"))
    }

    /// Applies the example tenant and users and waits until every user is Ready.
    pub async fn apply_examples(&self) -> (ConferencingTenant, Vec<ConferencingUser>) {
        let (tenant, users) = example_objects();
        self.apply(&tenant).await;
        for u in &users {
            self.apply(u).await;
        }
        for u in &users {
            self.wait_ready(&u.name_any()).await;
        }
        (tenant, users)
    }

    /// Deletes an object.
    pub async fn delete<K>(&self, name: &str)
    where
        K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        self.api::<K>().delete(name, &DeleteParams::default()).await.unwrap_or_else(|e| panic!("deleting {name}: {e}"));
    }

    pub async fn user(&self, name: &str) -> ConferencingUser {
        self.api::<ConferencingUser>().get(name).await.unwrap_or_else(|e| panic!("reading user {name}: {e}"))
    }

    /// Waits until `check` accepts the user, failing with its last status and the operator's
    /// log tail.
    pub async fn wait_user(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&ConferencingUser) -> bool,
    ) -> ConferencingUser {
        let api = self.api::<ConferencingUser>();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let last = api.get_opt(name).await.ok().flatten();
            if let Some(u) = &last
                && check(u)
            {
                return u.clone();
            }
            if Instant::now() > deadline {
                let status = last.map(|u| serde_yaml::to_string(&u.status).unwrap_or_default());
                panic!(
                    "timed out after {TIMEOUT:?} waiting for user {}/{name}: {what}\nlast status:\n{}\noperator log tail:\n{}",
                    self.ns,
                    status.unwrap_or_else(|| "(user not found)".into()),
                    tail(&self.log(), 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the user is Ready=True for its current generation.
    pub async fn wait_ready(&self, name: &str) -> ConferencingUser {
        self.wait_user(name, "Ready=True at its generation", is_ready).await
    }

    /// Waits until the user's Ready condition has `reason`.
    pub async fn wait_reason(&self, name: &str, reason: &str) -> ConferencingUser {
        self.wait_user(name, &format!("Ready reason {reason}"), |u| {
            ready_condition(u).is_some_and(|c| c.reason == reason)
                && u.status.as_ref().and_then(|s| s.observed_generation) == u.metadata.generation
        })
        .await
    }

    /// The user's PIN, read from its Secret.
    pub async fn pin(&self, user: &str) -> (String, String) {
        let s: Secret = self
            .api::<Secret>()
            .get(&format!("{user}-conferencing-pin"))
            .await
            .unwrap_or_else(|e| panic!("reading PIN Secret of {user}: {e}"));
        let bytes = s.data.as_ref().and_then(|d| d.get("pin")).expect("pin key").0.clone();
        (String::from_utf8(bytes).expect("utf8"), s.resource_version().unwrap_or_default())
    }

    /// Events about `object` with `reason`, from both Event APIs' shared storage.
    pub async fn events(&self, object: &str, reason: &str) -> Vec<CoreEvent> {
        let list = self.api::<CoreEvent>().list(&ListParams::default()).await.expect("list events");
        list.items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(object) && e.reason.as_deref() == Some(reason))
            .collect()
    }

    /// Sum of the counts of matching Events (a repeated Event is one object with a count).
    pub async fn event_count(&self, object: &str, reason: &str) -> i32 {
        self.events(object, reason)
            .await
            .iter()
            .map(|e| e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1).max(1))
            .sum()
    }

    /// Waits until at least `at_least` matching Events exist and returns their count. Events
    /// are written by the operator's background publisher, after the status that caused them,
    /// so a test that has just seen a condition must wait for its Event rather than read once.
    pub async fn wait_event_count(&self, object: &str, reason: &str, at_least: i32) -> i32 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let n = self.event_count(object, reason).await;
            if n >= at_least {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {TIMEOUT:?} waiting for {at_least} {reason} Event(s) about {object}; saw {n}\noperator log tail:\n{}",
                tail(&self.log(), 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until no `api write` line has been logged for `quiet`, so a test can measure
    /// from a converged state.
    pub async fn wait_converged(&self, quiet: Duration) {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = self.api_writes();
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.api_writes();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
            assert!(Instant::now() < deadline, "operator kept writing for {TIMEOUT:?}:\n{}", tail(&self.log(), 30));
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stop_operator();
        if std::thread::panicking() {
            eprintln!("operator log for {}:\n{}", self.ns, tail(&self.log(), 60));
            // The whole log, for a failure that needs more than its tail.
            if let Some(dir) = std::env::var_os("CONFERENCING_TEST_KEEP_LOGS") {
                let to = PathBuf::from(dir).join(format!("{}.log", self.ns));
                let _ = std::fs::copy(&self.log, &to);
                eprintln!("full operator log kept at {}", to.display());
            }
        }
    }
}

pub fn ready_condition(u: &ConferencingUser) -> Option<&conferencing_operator::api::Condition> {
    u.status.as_ref()?.conditions.iter().find(|c| c.type_ == "Ready")
}

pub fn is_ready(u: &ConferencingUser) -> bool {
    let Some(st) = &u.status else { return false };
    st.observed_generation == u.metadata.generation
        && ready_condition(u).is_some_and(|c| c.status == conferencing_operator::api::ConditionStatus::True)
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `f` until it returns `Some`, or fails naming `what`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The kubectl plugin's binary. The plugin is a package of its own in the workspace, and cargo
/// gives a package's tests the binaries of that package alone. `cargo test` in the workspace
/// builds it (the plugin's own integration tests need it); this asks cargo once more, with the
/// same packages, targets and so features, which does nothing unless the run was narrower (a
/// `-p conferencing-operator`), so that a test never runs a stale plugin.
pub fn plugin_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let profile_dir = std::path::Path::new(env!("CARGO_BIN_EXE_conferencing-operator"))
            .parent()
            .expect("the operator's binary is in a profile directory");
        let target_dir = profile_dir.parent().expect("a profile directory is in a target directory");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--workspace", "--tests"]).arg("--target-dir").arg(target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some(profile) => {
                cargo.args(["--profile", profile]);
            }
            None => panic!("profile directory {}", profile_dir.display()),
        }
        let status = cargo.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("running cargo");
        assert!(status.success(), "building the kubectl plugin: {status}");
        profile_dir.join("kubectl-conferencing")
    })
    .clone()
}

/// Parses the YAML documents of a file under the repo.
pub fn yaml_docs(path: &str) -> Vec<serde_yaml::Value> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("yaml"))
        .filter(|v| !v.is_null())
        .collect()
}

use serde::Deserialize;

/// The example tenant and users, typed.
pub fn example_objects() -> (ConferencingTenant, Vec<ConferencingUser>) {
    let tenant: ConferencingTenant =
        serde_yaml::from_value(yaml_docs("examples/acme/tenant.yaml").remove(0)).expect("tenant");
    let mut users = Vec::new();
    for f in ["alice", "bob", "chen", "dana", "eve"] {
        let u: ConferencingUser =
            serde_yaml::from_value(yaml_docs(&format!("examples/acme/users/{f}.yaml")).remove(0)).expect("user");
        users.push(u);
    }
    (tenant, users)
}

impl TestEnv {
    /// The resourceVersion of a user.
    pub async fn user_rv(&self, u: &ConferencingUser) -> Option<String> {
        self.user(&u.name_any()).await.resource_version()
    }
}
pub mod identity;
pub mod mail;
pub mod private;
pub mod smtp;

/// How long the operator must have been quiet before a test checks that something did *not*
/// happen: longer than the first retry of an e-mail (5 s, `planning::outbox::backoff`) and than
/// the first four retries of a failed reconcile (1 + 2 s), so that a retry that would send or
/// write again has had its chance.
pub const QUIET: Duration = Duration::from_secs(6);

/// E-mails of `kind` a user's status records, owed or delivered.
pub fn emails_of(u: &ConferencingUser, kind: conferencing_operator::api::NotificationKind) -> usize {
    u.status.as_ref().map_or(0, |s| {
        s.notifications.delivered.iter().filter(|d| d.kind == kind).count()
            + s.notifications.pending.iter().filter(|p| p.kind == kind).count()
    })
}

/// The port an operator logged it serves HTTP on: the last one logged, since a test that
/// restarts its operator appends to one log.
pub fn http_port(log: &str) -> Option<u16> {
    let line = log.lines().rev().find(|l| l.contains("serving /healthz"))?;
    let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
    addr.rsplit(':').next()?.trim_matches('"').parse().ok()
}

/// A plain HTTP GET on localhost: (status, body).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.expect("read");
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

/// The samples of an OpenMetrics text, `name{labels}` -> value; fails on a malformed line.
pub fn metric_samples(body: &str) -> std::collections::HashMap<String, f64> {
    let mut samples = std::collections::HashMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number in {line:?}"));
        let metric = name.split('{').next().unwrap_or_default();
        assert!(
            !metric.is_empty() && metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        samples.insert(name.to_string(), value);
    }
    samples
}
