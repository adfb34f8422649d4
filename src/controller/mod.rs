//! Controller wiring: one watch per kind and namespace, the caches and indexes they fill,
//! and the two controllers, which start once every cache has been filled.
//!
//! - Users and tenants are cached (managed fields dropped); PIN Secrets and conference-ID
//!   claims are watched as metadata only and kept in the index.
//! - Every change wakes exactly the objects it concerns ([`caches`]): the object itself, a
//!   tenant's users when its spec changes (from the index, no scan), the holder of a claim
//!   and the users waiting for an ID that became free, the owner of a PIN Secret.
//! - A reconcile that panics is contained: logged without its message, counted, reported on
//!   the object (`Ready=False InternalError`) and retried with backoff; every other object
//!   keeps being served.

pub(crate) mod apply_status;
pub(crate) mod backoff;
pub(crate) mod caches;
pub(crate) mod context;
pub(crate) mod email_cap;
pub(crate) mod events;
pub(crate) mod expectations;
#[cfg(test)]
mod fake_api;
pub(crate) mod index;
pub mod readiness;
pub(crate) mod tenant;
pub(crate) mod user;
pub(crate) mod watch;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt, future, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};
use crate::client::Clients;
use crate::error::{ObjectKey, ReconcileError, Result};
use crate::notification::notifier::Notifier;
use crate::notification::queue::{DeliveryQueue, Workers};
use crate::provisioning::secret::{adopt_pin_selector, operator_secret_selector};
use crate::startup::StartupError;
use crate::telemetry::queue::Waker;
use crate::telemetry::{ErrorReason, KindLabels, Metrics, ReconcileErrorLabels, ReconcileLabels};
use caches::{AdoptableSink, ClaimSink, SecretSink, TenantSink, UserSink, Wakers};
use context::Context;
use index::Index;
use readiness::{Cache, Readiness};

/// How the controllers run.
#[derive(Clone)]
pub struct RunConfig {
    /// The namespaces to serve; all namespaces when empty.
    pub namespaces: Vec<String>,
    /// Users reconciled at once.
    pub concurrency: u16,
    /// Sends the e-mails users are owed; none are sent without it.
    pub notifier: Option<Arc<Notifier>>,
    /// E-mails sent at once.
    pub delivery_workers: usize,
    /// E-mails waiting to be sent, at most.
    pub delivery_queue: usize,
    /// Sender and recipient domains allowed cluster-wide.
    pub policy: Arc<crate::validation::ClusterPolicy>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn watchers<K>(
    client: &Client,
    namespaces: &[Option<String>],
    config: &watcher::Config,
) -> Vec<watch::NamespaceWatcher<K>>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    namespaces
        .iter()
        .map(|ns| (ns.clone(), watcher(api::<K>(client, ns.as_deref()), config.clone()).default_backoff().boxed()))
        .collect()
}

/// Counts and times a reconcile, and contains a panic in it.
async fn guarded<K, F, R>(kind: &'static str, obj: Arc<K>, ctx: Arc<Context>, f: F, report: R) -> Result<Action>
where
    K: kube::Resource + Send + Sync + 'static,
    F: Future<Output = Result<Action>>,
    R: AsyncFnOnce(&Context, &K),
{
    let start = std::time::Instant::now();
    // Starting consumes every request kube-runtime held for the object.
    ctx.metrics.queue.taken(kind, &obj.namespace().unwrap_or_default(), &obj.name_any());
    let result = match AssertUnwindSafe(f).catch_unwind().await {
        Ok(r) => r,
        Err(_) => {
            ctx.metrics.panics.get_or_create(&KindLabels { kind: kind.to_string() }).inc();
            tracing::error!(kind, namespace = ?obj.namespace(), name = %obj.name_any(), "reconcile panicked (a bug); reported on the object and retried with backoff");
            report(&ctx, &obj).await;
            Err(ReconcileError::Internal {
                object: ObjectKey { kind, namespace: obj.namespace().unwrap_or_default(), name: obj.name_any() },
                what: "the reconcile panicked",
            })
        }
    };
    let label = match &result {
        Ok(_) => {
            let (ns, uid) = (obj.namespace().unwrap_or_default(), obj.uid().unwrap_or_default());
            let key =
                if kind == "ConferencingUser" { backoff::user_key(&ns, &uid) } else { backoff::tenant_key(&ns, &uid) };
            ctx.backoff.succeeded(&key);
            "ok"
        }
        Err(e) => {
            ctx.metrics
                .reconcile_errors
                .get_or_create(&ReconcileErrorLabels { kind, reason: ErrorReason::of(e) })
                .inc();
            e.metric_label()
        }
    };
    ctx.metrics.reconciles.get_or_create(&ReconcileLabels { kind, result: label }).inc();
    ctx.metrics
        .reconcile_seconds
        .get_or_create(&KindLabels { kind: kind.to_string() })
        .observe(start.elapsed().as_secs_f64());
    result
}

async fn reconcile_user(u: Arc<ConferencingUser>, ctx: Arc<Context>) -> Result<Action> {
    let work = user::reconcile(u.clone(), ctx.clone());
    guarded("ConferencingUser", u, ctx, work, async |ctx: &Context, u: &ConferencingUser| {
        user::report_internal_error(ctx, u).await
    })
    .await
}

async fn reconcile_tenant(t: Arc<ConferencingTenant>, ctx: Arc<Context>) -> Result<Action> {
    let work = tenant::reconcile(t.clone(), ctx.clone());
    guarded("ConferencingTenant", t, ctx, work, async |ctx: &Context, t: &ConferencingTenant| {
        tenant::report_internal_error(ctx, t).await
    })
    .await
}

/// Runs both controllers until `shutdown` resolves; in-flight reconciles finish first.
/// `readiness` is filled as the watches list their objects (and read by `/readyz`). Fails
/// if a watch stops (it never does unless something panicked in it).
pub async fn run(
    clients: Clients,
    config: RunConfig,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::result::Result<(), StartupError> {
    let namespaces: Vec<Option<String>> =
        if config.namespaces.is_empty() { vec![None] } else { config.namespaces.iter().cloned().map(Some).collect() };
    let (user_tx, user_rx) = mpsc::unbounded_channel::<ObjectRef<ConferencingUser>>();
    let (tenant_tx, tenant_rx) = mpsc::unbounded_channel::<ObjectRef<ConferencingTenant>>();
    // Every request to the controllers goes through these, which count the queue.
    let user_tx = Waker::new(user_tx, metrics.queue.clone(), "ConferencingUser");
    let tenant_tx = Waker::new(tenant_tx, metrics.queue.clone(), "ConferencingTenant");
    let wakers = Wakers { users: user_tx.clone(), tenants: tenant_tx.clone() };
    let index = Arc::new(Index::default());
    let (users, user_writer) = reflector::store::<ConferencingUser>();
    let (tenants, tenant_writer) = reflector::store::<ConferencingTenant>();
    let delivery = config.notifier.as_ref().map(|n| {
        let workers = Workers {
            notifier: n.clone(),
            client: clients.api.clone(),
            recheck: user::recheck::rechecker(
                users.clone(),
                tenants.clone(),
                index.clone(),
                n.clone(),
                config.policy.clone(),
            ),
            fence: clients.fence.clone(),
            wake: user_tx.clone(),
        };
        DeliveryQueue::start(workers, config.delivery_workers, config.delivery_queue, metrics.clone())
    });

    let plain = watcher::Config::default();
    // Shared with the watches, which forget a deleted object's entries.
    let expectations = Arc::new(expectations::Expectations::default());
    let backoff = Arc::new(backoff::Backoff::default());
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let kinds = ["ConferencingUser", "ConferencingTenant", "Secret", "ConferenceIdClaim", "Secret (PIN to adopt)"];
    let r = readiness.clone();
    tasks.push(tokio::spawn(watch::run(
        "ConferencingUser",
        watchers::<ConferencingUser>(&clients.watch, &namespaces, &plain),
        UserSink {
            writer: caches::Staged::new(user_writer),
            store: users.clone(),
            index: index.clone(),
            wake: wakers.clone(),
            delivery: delivery.clone(),
            metrics: metrics.clone(),
            expectations: expectations.clone(),
            backoff: backoff.clone(),
        },
        move || r.mark(Cache::Users),
    )));
    let r = readiness.clone();
    tasks.push(tokio::spawn(watch::run(
        "ConferencingTenant",
        watchers::<ConferencingTenant>(&clients.watch, &namespaces, &plain),
        TenantSink {
            writer: caches::Staged::new(tenant_writer),
            store: tenants.clone(),
            index: index.clone(),
            wake: wakers.clone(),
            backoff: backoff.clone(),
        },
        move || r.mark(Cache::Tenants),
    )));
    let r = readiness.clone();
    tasks.push(tokio::spawn(watch::run(
        "Secret",
        watchers::<PartialObjectMeta<Secret>>(
            &clients.watch,
            &namespaces,
            &plain.clone().labels(&operator_secret_selector()),
        ),
        SecretSink { index: index.clone(), wake: wakers.clone() },
        move || r.mark(Cache::Secrets),
    )));
    let r = readiness.clone();
    tasks.push(tokio::spawn(watch::run(
        "ConferenceIdClaim",
        watchers::<PartialObjectMeta<ConferenceIdClaim>>(&clients.watch, &namespaces, &plain),
        ClaimSink { index: index.clone(), wake: wakers.clone() },
        move || r.mark(Cache::Claims),
    )));
    // Secrets holding PINs of users taken over from another system. Before this cache is
    // filled, a user about to be taken over could be given a new PIN in place of its own.
    let r = readiness.clone();
    tasks.push(tokio::spawn(watch::run(
        "Secret (PIN to adopt)",
        watchers::<PartialObjectMeta<Secret>>(
            &clients.watch,
            &namespaces,
            &plain.clone().labels(&adopt_pin_selector()),
        ),
        AdoptableSink { index: index.clone(), wake: wakers.clone() },
        move || r.mark(Cache::AdoptablePins),
    )));

    let (stop_wait, stop_users, stop_tenants) = shutdown_triple(shutdown);
    let described = if config.namespaces.is_empty() { "(all)".to_string() } else { config.namespaces.join(",") };
    tracing::info!(namespaces = %described, "waiting for the caches to fill");
    tokio::select! {
        () = readiness.wait() => {}
        () = stop_wait => {
            tasks.iter().for_each(tokio::task::JoinHandle::abort);
            tracing::info!("stopped before the caches were filled");
            return Ok(());
        }
        e = first_stopped(&mut tasks, &kinds) => return Err(e),
    }
    // Everything is reconciled once at start: after a restart, that is how work left half
    // done is found (it is also why the watches need not replay the first list to the
    // controllers).
    for (ns, name) in index.user_names(None) {
        let _ = user_tx.send(ObjectRef::new(&name).within(&ns));
    }
    for t in tenants.state() {
        let _ = tenant_tx.send(ObjectRef::from_obj(&*t));
    }

    let ctx = Arc::new(Context {
        events: events::Events::new(clients.api.clone(), metrics.clone()),
        client: clients.api.clone(),
        tenants: tenants.clone(),
        index,
        expectations: expectations.clone(),
        backoff: backoff.clone(),
        notifier: config.notifier.clone(),
        delivery,
        metrics,
        policy: config.policy.clone(),
        wake: wakers.clone(),
        email_caps: Default::default(),
    });

    let queue = ctx.metrics.queue.clone();
    let user_controller = Controller::for_stream(stream::pending::<Result<ConferencingUser, watcher::Error>>(), users)
        .with_config(ControllerConfig::default().concurrency(config.concurrency))
        .reconcile_on(UnboundedReceiverStream::new(user_rx))
        .graceful_shutdown_on(stop_users)
        .run(reconcile_user, user::error_policy, ctx.clone())
        .for_each(|res| {
            log_controller_error("ConferencingUser", res.err(), &queue);
            future::ready(())
        });

    // Debounced: a burst of user changes (a Git sync creating hundreds) becomes one count.
    let tenant_controller =
        Controller::for_stream(stream::pending::<Result<ConferencingTenant, watcher::Error>>(), tenants)
            .with_config(ControllerConfig::default().debounce(Duration::from_millis(500)))
            .reconcile_on(UnboundedReceiverStream::new(tenant_rx))
            .graceful_shutdown_on(stop_tenants)
            .run(reconcile_tenant, tenant::error_policy, ctx)
            .for_each(|res| {
                log_controller_error("ConferencingTenant", res.err(), &queue);
                future::ready(())
            });

    tracing::info!(namespaces = %described, "caches filled; controllers started");
    let result = tokio::select! {
        _ = future::join(user_controller, tenant_controller) => Ok(()),
        e = first_stopped(&mut tasks, &kinds) => Err(e),
    };
    tasks.iter().for_each(tokio::task::JoinHandle::abort);
    match &result {
        Ok(()) => tracing::info!("controllers stopped"),
        Err(e) => tracing::error!(error = %e, "stopping"),
    }
    result
}

/// Resolves when the first watch task ends, naming it.
async fn first_stopped(tasks: &mut [tokio::task::JoinHandle<()>], kinds: &[&'static str]) -> StartupError {
    let (result, i, _) = future::select_all(tasks.iter_mut()).await;
    StartupError::WatchStopped {
        kind: kinds.get(i).copied().unwrap_or("?"),
        panicked: result.is_err_and(|e| e.is_panic()),
    }
}

/// Logs what the controller machinery reports. Reconcile failures are logged by the error
/// policies; a request for an object that has just been deleted is routine.
fn log_controller_error<E: std::error::Error + 'static>(
    kind: &'static str,
    error: Option<kube::runtime::controller::Error<ReconcileError, E>>,
    queue: &crate::telemetry::queue::ReconcileQueue,
) {
    use kube::runtime::controller::Error as E2;
    match error {
        // Its request is consumed without a reconcile.
        Some(E2::ObjectNotFound(r)) => queue.taken(kind, r.namespace.as_deref().unwrap_or_default(), &r.name),
        None | Some(E2::ReconcilerFailed(_, _)) => {}
        Some(e) => tracing::warn!(kind, error = %e, "controller queue error"),
    }
}

/// Three futures that resolve when `shutdown` does.
fn shutdown_triple(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (
    impl Future<Output = ()> + Send + Sync + 'static,
    impl Future<Output = ()> + Send + Sync + 'static,
    impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    (wait(rx.clone()), wait(rx.clone()), wait(rx))
}
