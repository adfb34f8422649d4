//! E-mail delivery off the reconcile path: a bounded queue served by its own workers.
//!
//! A reconcile records what a user is owed in its record and hands the e-mails to this
//! queue; it never waits for a mail server longer than a short grace period, and not at all
//! while the server is slow, so an unreachable relay cannot hold provisioning back.
//!
//! The ledger ([`super::ledger`]) remembers what was queued or sent until the user's stored
//! record shows it, so a failed record write never makes the operator send an e-mail again.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{mpsc, oneshot};

use super::ledger::Ledger;
pub(crate) use super::ledger::Progress;
use super::notifier::{Notifier, PreparedEmail};
use crate::api::ConferencingUser;
use crate::client::Fence;
use crate::planning::conditions::DELIVERY_INTERNAL_ERROR;
use crate::planning::outbox::Attempt;
use crate::provisioning::pin::Pin;
use crate::provisioning::secret::{SecretMeta, secret_pin};
use crate::telemetry::{KindLabels, Metrics, NotificationLabels};

/// The user an e-mail is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct UserKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID: a user re-created with the same name is another user.
    pub uid: String,
}

/// Where the PIN of an e-mail that carries one comes from.
pub(crate) enum PinSource {
    /// The e-mail carries no PIN.
    None,
    /// The PIN the reconcile just generated, under this generation (sent only if the user's
    /// Secret still holds that generation when the e-mail goes out).
    Known {
        /// The PIN.
        pin: Pin,
        /// Its generation.
        generation: String,
    },
    /// The user's PIN Secret, read from the API when the e-mail is sent (PINs are not cached).
    Secret {
        /// Secret name.
        name: String,
    },
}

/// One e-mail to send.
pub(crate) struct Job {
    /// Whose.
    pub user: UserKey,
    /// What.
    pub email: PreparedEmail,
    /// Its PIN.
    pub pin: PinSource,
}

/// What a worker learns when it looks at a job again just before sending it.
pub(crate) enum Recheck {
    /// Still owed: send this (addressed as the user's spec says now).
    Send(Box<PreparedEmail>),
    /// No longer owed as queued, for this reason: not sent, and forgotten, so that the
    /// user's next reconcile decides again.
    Stale(&'static str),
    /// Still owed, but the tenant's cap has no room until then: looked at again then.
    Later(k8s_openapi::jiff::Timestamp),
}

/// How long a worker waits for room under a tenant's cap before it leaves the e-mail to the
/// user's next reconcile.
const MAX_CAP_WAIT: Duration = Duration::from_secs(10);

/// Looks at a job again just before it is sent (see `controller::user::recheck`).
pub(crate) type Rechecker = Arc<dyn Fn(&Job) -> Recheck + Send + Sync>;

/// What the workers need besides the jobs.
pub(crate) struct Workers {
    /// Renders and sends.
    pub notifier: Arc<Notifier>,
    /// Reads PIN Secrets.
    pub client: kube::Client,
    /// Looks at each job again before sending it.
    pub recheck: Rechecker,
    /// Nothing is sent while this process may not write (another replica may be leading).
    pub fence: Fence,
    /// Wakes the user of a finished e-mail.
    pub wake: crate::telemetry::queue::Waker<ConferencingUser>,
}

/// Whether a job was taken.
pub(crate) enum Submitted {
    /// Queued; the receiver resolves when it is done.
    Queued(oneshot::Receiver<()>),
    /// The queue is full; try again later.
    Full,
}

/// The queue, its workers and the ledger.
pub(crate) struct DeliveryQueue {
    tx: mpsc::Sender<(Job, oneshot::Sender<()>)>,
    ledger: Mutex<Ledger>,
    /// A queued e-mail older than this means the mail server is slow: reconciles stop waiting.
    slow_after: Duration,
    metrics: Arc<Metrics>,
}

/// How long a reconcile waits for the e-mails it just queued, while the server is quick.
pub(crate) const GRACE: Duration = Duration::from_millis(1500);

impl DeliveryQueue {
    /// Starts `workers` workers, with room for `capacity` queued e-mails. A finished e-mail
    /// wakes its user.
    pub(crate) fn start(deps: Workers, workers: usize, capacity: usize, metrics: Arc<Metrics>) -> Arc<DeliveryQueue> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        metrics.delivery_queue_capacity.set(i64::try_from(capacity.max(1)).unwrap_or(i64::MAX));
        let queue = Arc::new(DeliveryQueue {
            tx,
            ledger: Mutex::new(Ledger::default()),
            slow_after: GRACE,
            metrics: metrics.clone(),
        });
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let deps = Arc::new(deps);
        for _ in 0..workers.max(1) {
            let (rx, queue, deps) = (rx.clone(), Arc::downgrade(&queue), deps.clone());
            tokio::spawn(async move {
                loop {
                    let Some((job, done)) = rx.lock().await.recv().await else { return };
                    let Some(q) = queue.upgrade() else { return };
                    work(&q, &deps, job).await;
                    let _ = done.send(());
                }
            });
        }
        queue
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set(&self, user: &UserKey, message_id: &str, progress: Progress) {
        self.lock().set(&key(user), message_id, progress, Instant::now());
    }

    fn finish(&self, user: &UserKey, message_id: &str, progress: Progress) {
        self.lock().finish(&key(user), message_id, progress, Instant::now());
    }

    /// What the ledger knows of an e-mail.
    pub(crate) fn progress(&self, user: &UserKey, message_id: &str) -> Option<Progress> {
        self.lock().progress(&key(user), message_id)
    }

    /// Queues an e-mail, unless the queue is full. It is marked in flight at once, so it is
    /// never queued twice.
    pub(crate) fn submit(&self, job: Job) -> Submitted {
        let user = job.user.clone();
        let message_id = job.email.message_id.clone();
        let (done_tx, done_rx) = oneshot::channel();
        // Marked before it is handed over: a worker may finish it before `try_send` returns,
        // and its result must not be overwritten by a late `InFlight`.
        let before = self.progress(&user, &message_id);
        self.set(&user, &message_id, Progress::InFlight);
        self.metrics.delivery_queue.inc();
        match self.tx.try_send((job, done_tx)) {
            Ok(()) => Submitted::Queued(done_rx),
            Err(_) => {
                self.metrics.delivery_queue.dec();
                match before {
                    Some(p) => self.set(&user, &message_id, p),
                    None => self.lock().drop_message(&key(&user), &message_id),
                }
                Submitted::Full
            }
        }
    }

    /// Whether the mail server is slow: some e-mail has been in flight for longer than the
    /// grace period. Reconciles then record what is owed and return without waiting.
    pub(crate) fn congested(&self) -> bool {
        self.lock().stuck(self.slow_after, Instant::now())
    }

    /// See [`Ledger::written`].
    pub(crate) fn written(&self, user: &UserKey, recorded: &[String], pending: &[String]) {
        self.lock().written(&key(user), recorded, pending);
    }

    /// See [`Ledger::observe`].
    pub(crate) fn observe(&self, user: &UserKey, record: Option<&crate::api::NotificationRecord>) {
        self.lock().observe(&key(user), record, Instant::now());
    }

    /// Forgets a deleted user's e-mails.
    pub(crate) fn forget_user(&self, namespace: &str, uid: &str) {
        self.lock().forget_user(&(namespace.to_string(), uid.to_string()));
    }
}

/// One job: looked at again, sent, and its result recorded.
async fn work(queue: &DeliveryQueue, deps: &Workers, job: Job) {
    let user = job.user.clone();
    let message_id = job.email.message_id.clone();
    let kind = job.email.kind;
    let wake = || {
        let _ = deps.wake.send(ObjectRef::new(&user.name).within(&user.namespace));
    };
    queue.metrics.delivery_queue.dec();
    // Checked first, and again by the fence on every API write: a paused leader that
    // resumes after its lease expired sends nothing.
    let recheck_now = || {
        if deps.fence.allows() {
            std::panic::catch_unwind(AssertUnwindSafe(|| (deps.recheck)(&job)))
        } else {
            Ok(Recheck::Stale("this replica is no longer sure to be the leader"))
        }
    };
    // Over the tenant's cap, a worker waits a little for room (the reconciles already pace
    // e-mails to the cap, so the wait is short); longer, and it leaves the e-mail to the
    // user's next reconcile rather than hold a worker other tenants share.
    let patience = Instant::now() + MAX_CAP_WAIT;
    let mut recheck = recheck_now();
    while let Ok(Recheck::Later(room)) = &recheck {
        let wait = room.duration_since(k8s_openapi::jiff::Timestamp::now()).unsigned_abs();
        if Instant::now() + wait > patience {
            break;
        }
        tokio::time::sleep(wait).await;
        recheck = recheck_now();
    }
    let email = match recheck {
        Ok(Recheck::Send(email)) => *email,
        Ok(stale @ (Recheck::Stale(_) | Recheck::Later(_))) => {
            let reason = match stale {
                Recheck::Stale(reason) => reason,
                _ => "the tenant's e-mail cap has no room yet (sent when it has)",
            };
            tracing::info!(user = %user.name, namespace = %user.namespace, %kind, reason, "queued e-mail not sent: no longer owed as queued");
            queue.metrics.notifications.get_or_create(&NotificationLabels { result: "superseded" }).inc();
            queue.lock().drop_message(&key(&user), &message_id);
            wake();
            return;
        }
        Err(_) => {
            record(queue, &user, &message_id, kind, panicked(queue, &user, kind));
            wake();
            return;
        }
    };
    let started = Instant::now();
    let attempt = match AssertUnwindSafe(send(&deps.notifier, &deps.client, &user, email, job.pin)).catch_unwind().await
    {
        Ok(a) => a,
        Err(_) => panicked(queue, &user, kind),
    };
    let result = match &attempt {
        Attempt::Delivered => "sent",
        Attempt::Transient(_) => "retried",
        Attempt::Permanent(_) => "failed",
    };
    queue.metrics.send_seconds.get_or_create(&NotificationLabels { result }).observe(started.elapsed().as_secs_f64());
    record(queue, &user, &message_id, kind, attempt);
    wake();
}

/// A panic while handling an e-mail (a bug): counted, logged without its message, and
/// recorded as a transient failure, so that it is retried with backoff.
fn panicked(queue: &DeliveryQueue, user: &UserKey, kind: crate::api::NotificationKind) -> Attempt {
    queue.metrics.panics.get_or_create(&KindLabels { kind: "delivery".into() }).inc();
    tracing::error!(user = %user.name, namespace = %user.namespace, %kind, "e-mail delivery panicked (a bug); retrying with backoff");
    Attempt::Transient(format!("{DELIVERY_INTERNAL_ERROR} the {kind} e-mail (a bug; see the operator's log); retrying"))
}

fn record(
    queue: &DeliveryQueue,
    user: &UserKey,
    message_id: &str,
    kind: crate::api::NotificationKind,
    attempt: Attempt,
) {
    let result = match &attempt {
        Attempt::Delivered => "sent",
        Attempt::Transient(_) => "retried",
        Attempt::Permanent(_) => "failed",
    };
    queue.metrics.notifications.get_or_create(&NotificationLabels { result }).inc();
    match &attempt {
        Attempt::Delivered => {
            tracing::info!(user = %user.name, namespace = %user.namespace, %kind, message_id = %message_id, "e-mail delivered")
        }
        Attempt::Transient(e) => {
            tracing::warn!(user = %user.name, namespace = %user.namespace, %kind, error = %e, "e-mail delivery failed; will retry")
        }
        Attempt::Permanent(e) => {
            tracing::warn!(user = %user.name, namespace = %user.namespace, %kind, error = %e, "e-mail refused permanently")
        }
    }
    queue.finish(user, message_id, Progress::Done { attempt, at: Timestamp::now() });
}

fn key(user: &UserKey) -> (String, String) {
    (user.namespace.clone(), user.uid.clone())
}

/// Sends one e-mail: its PIN from where the job says, then render, compose, send.
async fn send(
    notifier: &Notifier,
    client: &kube::Client,
    user: &UserKey,
    email: PreparedEmail,
    pin: PinSource,
) -> Attempt {
    let pin = match pin {
        PinSource::None => None,
        PinSource::Known { pin, .. } => Some(pin),
        PinSource::Secret { name } => {
            let api: Api<Secret> = Api::namespaced(client.clone(), &user.namespace);
            match api.get_opt(&name).await {
                Err(e) => return Attempt::Transient(format!("reading PIN Secret {}/{name}: {e}", user.namespace)),
                Ok(None) => {
                    return Attempt::Transient(format!(
                        "PIN Secret {}/{name} is missing; the operator generates a new PIN and then sends this e-mail",
                        user.namespace
                    ));
                }
                // Only the user's own Secret: one with the right name but another owner may
                // hold anything.
                Ok(Some(s)) if !SecretMeta::from_meta(&s.metadata).owned_by(&user.uid) => {
                    return Attempt::Transient(format!(
                        "Secret {}/{name} does not belong to this user; the operator replaces it and then sends this e-mail",
                        user.namespace
                    ));
                }
                Ok(Some(s)) => match secret_pin(&s) {
                    Some(p) => Some(p),
                    None => {
                        return Attempt::Transient(format!(
                            "PIN Secret {}/{name} holds no PIN; the operator replaces it and then sends this e-mail",
                            user.namespace
                        ));
                    }
                },
            }
        }
    };
    crate::fault::maybe_panic("delivery", &user.namespace, &user.name);
    match notifier.build(&email, pin) {
        Ok(message) => notifier.send(message).await,
        Err(e) => Attempt::Permanent(e),
    }
}
