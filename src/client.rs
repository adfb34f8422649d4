//! The Kubernetes clients the operator uses, and the one place every write passes through.
//!
//! - Writes and reads get connect and read timeouts, so that a paused or partitioned API
//!   connection cannot hold a reconcile (or a leader that must give up) indefinitely.
//! - Watches get a connect timeout only: they are long-lived streams with their own idle
//!   timeout in kube's watcher.
//! - Every write request (POST, PUT, PATCH, DELETE) goes through [`WriteLayer`], which counts
//!   it, logs one `api write` line, and refuses it when this process may no longer act as
//!   the leader ([`Fence`]): a leader that was paused past its lease must not write beside
//!   the new leader, even in the instant before its watchdog stops it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Method, Request};
use kube::client::ClientBuilder;
use kube::{Client, Config};
use tower::{Layer, Service};

use crate::telemetry::{KindLabels, Metrics};

/// Connect timeout of every client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Read timeout of requests other than watches.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether this process may write, as of now. Unfenced (always allowed) without leader
/// election; with it, allowed only until a deadline the lease renewals push forward.
#[derive(Clone)]
pub struct Fence {
    origin: Instant,
    /// Nanoseconds after `origin` until which writes are allowed; `u64::MAX`: always.
    deadline_ns: Arc<AtomicU64>,
}

impl Default for Fence {
    fn default() -> Self {
        Self::open()
    }
}

/// A write refused by the [`Fence`].
#[derive(Debug, thiserror::Error)]
#[error("write refused: this process's leader lease was not renewed in time, so another replica may be acting")]
pub struct Fenced;

impl Fence {
    /// A fence that never closes (leader election off).
    pub fn open() -> Self {
        Self { origin: Instant::now(), deadline_ns: Arc::new(AtomicU64::new(u64::MAX)) }
    }

    /// A fence that is closed until [`Fence::allow_until`] opens it.
    pub fn closed() -> Self {
        Self { origin: Instant::now(), deadline_ns: Arc::new(AtomicU64::new(0)) }
    }

    /// Allows writes until `deadline` (a monotonic instant, which keeps counting while the
    /// process is paused, so a resumed process finds it passed).
    pub fn allow_until(&self, deadline: Instant) {
        let ns = deadline.saturating_duration_since(self.origin).as_nanos();
        self.deadline_ns.store(u64::try_from(ns).unwrap_or(u64::MAX - 1), Ordering::SeqCst);
    }

    /// Refuses writes from now on.
    pub fn close(&self) {
        self.deadline_ns.store(0, Ordering::SeqCst);
    }

    /// Whether a write may be sent now.
    pub fn allows(&self) -> bool {
        let limit = self.deadline_ns.load(Ordering::SeqCst);
        limit == u64::MAX || u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX) < limit
    }

    /// The instant writes stop being allowed, if any.
    pub fn deadline(&self) -> Option<Instant> {
        match self.deadline_ns.load(Ordering::SeqCst) {
            u64::MAX => None,
            ns => Some(self.origin + Duration::from_nanos(ns)),
        }
    }
}

/// Counts, logs and fences write requests.
#[derive(Clone)]
pub struct WriteLayer {
    metrics: Arc<Metrics>,
    fence: Fence,
}

impl WriteLayer {
    /// A layer reporting to `metrics` and refusing writes when `fence` is closed.
    pub fn new(metrics: Arc<Metrics>, fence: Fence) -> Self {
        Self { metrics, fence }
    }
}

impl<S> Layer<S> for WriteLayer {
    type Service = WriteService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        WriteService { inner, metrics: self.metrics.clone(), fence: self.fence.clone() }
    }
}

/// The service [`WriteLayer`] builds.
#[derive(Clone)]
pub struct WriteService<S> {
    inner: S,
    metrics: Arc<Metrics>,
    fence: Fence,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> Service<Request<B>> for WriteService<S>
where
    S: Service<Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if is_write(req.method()) {
            let target = Target::of(req.uri().path());
            if !self.fence.allows() {
                self.metrics.fenced_writes.inc();
                tracing::warn!(verb = %req.method(), resource = %target.resource, namespace = %target.namespace, name = %target.name, "write refused: not the leader any more");
                return Box::pin(std::future::ready(Err(Box::new(Fenced) as BoxError)));
            }
            self.metrics.api_writes.get_or_create(&KindLabels { kind: target.resource.clone() }).inc();
            tracing::info!(verb = %req.method(), resource = %target.resource, namespace = %target.namespace, name = %target.name, "api write");
        }
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

fn is_write(m: &Method) -> bool {
    matches!(*m, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// What a request path names.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    resource: String,
    namespace: String,
    name: String,
}

impl Target {
    /// Parses `/api/v1/namespaces/NS/RES[/NAME[/SUB]]` and `/apis/G/V/namespaces/NS/RES[/...]`.
    fn of(path: &str) -> Target {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let rest = match parts.first() {
            Some(&"api") => parts.get(2..).unwrap_or_default(),
            Some(&"apis") => parts.get(3..).unwrap_or_default(),
            _ => &[][..],
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, tail @ ..] if !tail.is_empty() => ((*ns).to_string(), tail),
            _ => (String::new(), rest),
        };
        let resource = match rest {
            [res, _, sub, ..] => format!("{res}/{sub}"),
            [res, ..] => (*res).to_string(),
            [] => String::new(),
        };
        Target { resource, namespace, name: rest.get(1).map(|s| (*s).to_string()).unwrap_or_default() }
    }
}

/// The clients of one operator process.
#[derive(Clone)]
pub struct Clients {
    /// Reads and writes: timeouts, writes counted and fenced.
    pub api: Client,
    /// Watches: connect timeout only.
    pub watch: Client,
    /// The leader Lease: timeouts, neither counted nor fenced (renewing is how the fence
    /// opens).
    pub lease: Client,
    /// The fence on `api`.
    pub fence: Fence,
}

impl Clients {
    /// Builds the clients from the kubeconfig or in-cluster configuration.
    pub async fn from_env(metrics: Arc<Metrics>, fence: Fence) -> Result<Clients, kube::Error> {
        let config = Config::infer().await.map_err(kube::Error::InferConfig)?;
        let mut watch_config = config.clone();
        watch_config.connect_timeout = Some(CONNECT_TIMEOUT);
        let mut api_config = config;
        api_config.connect_timeout = Some(CONNECT_TIMEOUT);
        api_config.read_timeout = Some(READ_TIMEOUT);
        api_config.reset_reader_on_write = true;
        let api =
            ClientBuilder::try_from(api_config.clone())?.with_layer(&WriteLayer::new(metrics, fence.clone())).build();
        let lease = Client::try_from(api_config)?;
        let watch = Client::try_from(watch_config)?;
        Ok(Clients { api, watch, lease, fence })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_target() {
        assert_eq!(
            Target::of("/api/v1/namespaces/acme/secrets/alice-conferencing-pin"),
            Target { resource: "secrets".into(), namespace: "acme".into(), name: "alice-conferencing-pin".into() }
        );
        assert_eq!(
            Target::of("/apis/conferencing.io/v1alpha1/namespaces/acme/conferencingusers/alice/status"),
            Target { resource: "conferencingusers/status".into(), namespace: "acme".into(), name: "alice".into() }
        );
        assert_eq!(
            Target::of("/apis/conferencing.io/v1alpha1/namespaces/acme/conferenceidclaims"),
            Target { resource: "conferenceidclaims".into(), namespace: "acme".into(), name: String::new() }
        );
    }

    #[test]
    fn the_fence_closes_at_its_deadline() {
        let f = Fence::closed();
        assert!(!f.allows());
        f.allow_until(Instant::now() + Duration::from_secs(60));
        assert!(f.allows());
        f.allow_until(Instant::now() - Duration::from_millis(1));
        assert!(!f.allows());
        assert!(Fence::open().allows());
        let g = Fence::open();
        g.close();
        assert!(!g.allows());
    }
}
