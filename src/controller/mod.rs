//! Controller wiring: one watch and one cache per kind, shared by the two controllers.
//!
//! - Users: one watch feeds the user cache and the user controller, and tells the tenant
//!   controller which tenants' user counts may have changed.
//! - Tenants: one watch feeds the tenant cache and the tenant controller, and enqueues the
//!   users of a changed tenant (found in the user cache, no API read per user).
//! - Secrets and conference-ID claims: label-selected watches, so the caches hold only the
//!   operator's own objects; changes to them wake their owning user.

pub mod apply_status;
pub mod context;
pub mod expectations;
pub mod index;
pub mod readiness;
pub mod tenant;
pub mod user;

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, future};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::api::{ConferencingTenant, ConferencingUser};
use crate::provisioning::secret::managed_selector;
use context::Context;
use index::ClaimIndex;
use readiness::{Cache, Readiness};

/// How the controllers run.
#[derive(Clone)]
pub struct RunConfig {
    /// Watch only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Users reconciled at once.
    pub concurrency: u16,
    /// Sends the e-mails users are owed.
    pub notifier: Option<Arc<crate::notification::notifier::Notifier>>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Counts and times a reconcile.
async fn measured<F>(kind: &'static str, f: F) -> crate::Result<kube::runtime::controller::Action>
where
    F: Future<Output = crate::Result<kube::runtime::controller::Action>>,
{
    use crate::telemetry::{KindLabels, METRICS, ReconcileLabels};
    let start = std::time::Instant::now();
    let result = f.await;
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.metric_label(),
    };
    METRICS.reconciles.get_or_create(&ReconcileLabels { kind, result: label }).inc();
    METRICS
        .reconcile_seconds
        .get_or_create(&KindLabels { kind: kind.to_string() })
        .observe(start.elapsed().as_secs_f64());
    result
}

async fn reconcile_user(
    u: Arc<ConferencingUser>,
    ctx: Arc<Context>,
) -> crate::Result<kube::runtime::controller::Action> {
    measured("ConferencingUser", user::reconcile(u, ctx)).await
}

async fn reconcile_tenant(
    t: Arc<ConferencingTenant>,
    ctx: Arc<Context>,
) -> crate::Result<kube::runtime::controller::Action> {
    measured("ConferencingTenant", tenant::reconcile(t, ctx)).await
}

/// Runs both controllers until `shutdown` resolves; in-flight reconciles finish first.
/// `readiness` is filled as the watches list their objects (and read by `/readyz`).
pub async fn run(
    client: Client,
    config: RunConfig,
    readiness: Arc<Readiness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let ns = config.namespace.as_deref();
    let selector = managed_selector();

    let (users, user_writer) = reflector::store::<ConferencingUser>();
    let (tenants, tenant_writer) = reflector::store::<ConferencingTenant>();
    let (secrets, secret_writer) = reflector::store::<Secret>();
    let claims = Arc::new(ClaimIndex::default());

    let (tenant_tx, tenant_rx) = mpsc::unbounded_channel::<ObjectRef<ConferencingTenant>>();
    let (user_tx, user_rx) = mpsc::unbounded_channel::<ObjectRef<ConferencingUser>>();

    let ready = readiness.clone();
    let user_stream = watcher(api::<ConferencingUser>(&client, ns), watcher::Config::default())
        .default_backoff()
        .reflect(user_writer)
        .inspect_ok(move |event| {
            ready.observe(Cache::Users, event);
            // Any user change may change its tenant's user count (and a deleted user is
            // only seen here, not by the user controller).
            for u in touched(event) {
                if let Some(ns) = u.namespace() {
                    let _ = tenant_tx.send(ObjectRef::new(&u.spec.tenant_ref.name).within(&ns));
                }
            }
        })
        .applied_objects();

    let users_for_tenants = users.clone();
    let ready = readiness.clone();
    let tenant_stream = watcher(api::<ConferencingTenant>(&client, ns), watcher::Config::default())
        .default_backoff()
        .reflect(tenant_writer)
        .inspect_ok(move |event| {
            ready.observe(Cache::Tenants, event);
            for t in touched(event) {
                let (Some(tns), tname) = (t.namespace(), t.name_any()) else {
                    continue;
                };
                for u in users_for_tenants.state() {
                    if u.namespace().as_deref() == Some(tns.as_str()) && u.spec.tenant_ref.name == tname {
                        let _ = user_tx.send(ObjectRef::from_obj(&*u));
                    }
                }
            }
        })
        .applied_objects();

    let ready = readiness.clone();
    let secret_stream = watcher(api::<Secret>(&client, ns), watcher::Config::default().labels(&selector))
        .default_backoff()
        .reflect(secret_writer)
        .inspect_ok(move |event| ready.observe(Cache::Secrets, event))
        .touched_objects();

    let claim_index = claims.clone();
    let ready = readiness.clone();
    let claim_stream = watcher(api::<ConfigMap>(&client, ns), watcher::Config::default().labels(&selector))
        .default_backoff()
        .inspect_ok(move |event| {
            claim_index.apply(event);
            ready.observe(Cache::Claims, event);
        })
        .touched_objects();

    let ctx = Arc::new(Context::new(
        client.clone(),
        users.clone(),
        tenants.clone(),
        secrets,
        claims,
        readiness,
        config.notifier.clone(),
    ));
    let (stop_users, stop_tenants) = shutdown_pair(shutdown);

    let user_controller = Controller::for_stream(user_stream, users)
        .with_config(ControllerConfig::default().concurrency(config.concurrency))
        .owns_stream(secret_stream)
        .owns_stream(claim_stream)
        .reconcile_on(UnboundedReceiverStream::new(user_rx))
        .graceful_shutdown_on(stop_users)
        .run(reconcile_user, user::error_policy, ctx.clone())
        .for_each(|res| {
            log_controller_error("ConferencingUser", res.err());
            future::ready(())
        });

    // Debounced: a burst of user changes (a Git sync creating hundreds) becomes one count.
    let tenant_controller = Controller::for_stream(tenant_stream, tenants)
        .with_config(ControllerConfig::default().debounce(Duration::from_millis(500)))
        .reconcile_on(UnboundedReceiverStream::new(tenant_rx))
        .graceful_shutdown_on(stop_tenants)
        .run(reconcile_tenant, tenant::error_policy, ctx)
        .for_each(|res| {
            log_controller_error("ConferencingTenant", res.err());
            future::ready(())
        });

    tracing::info!(namespace = ns.unwrap_or("(all)"), "controllers started");
    future::join(user_controller, tenant_controller).await;
    tracing::info!("controllers stopped");
}

/// Logs what the controller machinery reports. A watch that fails (most often: the
/// operator's role lacks a permission) is a warning naming the cause; a request for an object
/// that has just been deleted is routine.
fn log_controller_error<E: std::error::Error + 'static>(
    kind: &'static str,
    error: Option<kube::runtime::controller::Error<crate::Error, E>>,
) {
    use kube::runtime::controller::Error as E2;
    match error {
        None | Some(E2::ObjectNotFound(_)) => {}
        Some(E2::ReconcilerFailed(_, _)) => {} // logged by the error policy
        Some(e) => {
            // The Display of these errors omits their cause; the cause is what a person needs.
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::warn!(kind, error = %chain, "watch or queue error; retrying with backoff");
        }
    }
}

/// The objects an event adds, changes or deletes.
fn touched<K>(event: &watcher::Event<K>) -> Vec<&K> {
    match event {
        watcher::Event::Apply(o) | watcher::Event::Delete(o) | watcher::Event::InitApply(o) => {
            vec![o]
        }
        watcher::Event::Init | watcher::Event::InitDone => vec![],
    }
}

/// Two futures that resolve when `shutdown` does.
fn shutdown_pair(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (impl Future<Output = ()> + Send + Sync + 'static, impl Future<Output = ()> + Send + Sync + 'static) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    (wait(rx.clone()), wait(rx))
}
