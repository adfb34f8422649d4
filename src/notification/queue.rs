//! E-mail delivery off the reconcile path: a bounded queue served by its own workers.
//!
//! A reconcile records what a user is owed in the status and hands the e-mails to this queue;
//! it never waits for a mail server longer than a short grace period, and not at all while
//! the server is slow, so an unreachable relay cannot hold provisioning back.
//!
//! The ledger ([`super::ledger`]) remembers what was queued or sent until the user's status,
//! as the cache shows it, records it, so a failed or not-yet-visible status write never
//! makes the operator send an e-mail again.

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
pub use super::ledger::Progress;
use super::notifier::{Notifier, PreparedEmail};
use super::templates::Pin;
use crate::api::ConferencingUser;
use crate::planning::conditions::DELIVERY_INTERNAL_ERROR;
use crate::planning::outbox::Attempt;
use crate::provisioning::secret::{SecretMeta, secret_pin};
use crate::telemetry::{KindLabels, Metrics, NotificationLabels};

/// The user an e-mail is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID: a user re-created with the same name is another user.
    pub uid: String,
}

/// Where the PIN of an e-mail that carries one comes from.
pub enum PinSource {
    /// The e-mail carries no PIN.
    None,
    /// The PIN the reconcile just generated.
    Known(Pin),
    /// The user's PIN Secret, read from the API when the e-mail is sent (PINs are not cached).
    Secret {
        /// Secret name.
        name: String,
    },
}

/// One e-mail to send.
pub struct Job {
    /// Whose.
    pub user: UserKey,
    /// What.
    pub email: PreparedEmail,
    /// Its PIN.
    pub pin: PinSource,
}

/// Whether a job was taken.
pub enum Submitted {
    /// Queued; the receiver resolves when it is done.
    Queued(oneshot::Receiver<()>),
    /// The queue is full; try again later.
    Full,
}

/// The queue, its workers and the ledger.
pub struct DeliveryQueue {
    tx: mpsc::Sender<(Job, oneshot::Sender<()>)>,
    ledger: Mutex<Ledger>,
    /// A queued e-mail older than this means the mail server is slow: reconciles stop waiting.
    slow_after: Duration,
    metrics: Arc<Metrics>,
}

/// How long a reconcile waits for the e-mails it just queued, while the server is quick.
pub const GRACE: Duration = Duration::from_millis(1500);

impl DeliveryQueue {
    /// Starts `workers` workers sending through `notifier`, with room for `capacity` queued
    /// e-mails. A finished e-mail wakes its user through `wake`.
    pub fn start(
        notifier: Arc<Notifier>,
        client: kube::Client,
        workers: usize,
        capacity: usize,
        metrics: Arc<Metrics>,
        wake: mpsc::UnboundedSender<ObjectRef<ConferencingUser>>,
    ) -> Arc<DeliveryQueue> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let queue = Arc::new(DeliveryQueue {
            tx,
            ledger: Mutex::new(Ledger::default()),
            slow_after: GRACE,
            metrics: metrics.clone(),
        });
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..workers.max(1) {
            let (rx, queue, notifier, client, wake) =
                (rx.clone(), Arc::downgrade(&queue), notifier.clone(), client.clone(), wake.clone());
            tokio::spawn(async move {
                loop {
                    let Some((job, done)) = rx.lock().await.recv().await else { return };
                    let Job { user, email, pin } = job;
                    let message_id = email.message_id.clone();
                    let kind = email.kind;
                    let outcome = AssertUnwindSafe(send(&notifier, &client, &user, email, pin)).catch_unwind().await;
                    let (attempt, panicked) = match outcome {
                        Ok(a) => (a, false),
                        Err(_) => (
                            Attempt::Transient(format!(
                                "{DELIVERY_INTERNAL_ERROR} the {kind} e-mail (a bug; see the operator's log); retrying"
                            )),
                            true,
                        ),
                    };
                    let Some(queue) = queue.upgrade() else { return };
                    if panicked {
                        queue.metrics.panics.get_or_create(&KindLabels { kind: "delivery".into() }).inc();
                        tracing::error!(user = %user.name, namespace = %user.namespace, %kind, "e-mail delivery panicked (a bug); retrying with backoff");
                    }
                    let result = match &attempt {
                        Attempt::Delivered => "sent",
                        Attempt::Transient(_) => "retried",
                        Attempt::Permanent(_) => "failed",
                    };
                    queue.metrics.notifications.get_or_create(&NotificationLabels { result }).inc();
                    queue.metrics.delivery_queue.dec();
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
                    queue.finish(&user, &message_id, Progress::Done { attempt, at: Timestamp::now() });
                    let _ = done.send(());
                    let _ = wake.send(ObjectRef::new(&user.name).within(&user.namespace));
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
    pub fn progress(&self, user: &UserKey, message_id: &str) -> Option<Progress> {
        self.lock().progress(&key(user), message_id)
    }

    /// Queues an e-mail, unless the queue is full. It is marked in flight at once, so it is
    /// never queued twice.
    pub fn submit(&self, job: Job) -> Submitted {
        let user = job.user.clone();
        let message_id = job.email.message_id.clone();
        let (done_tx, done_rx) = oneshot::channel();
        match self.tx.try_send((job, done_tx)) {
            Ok(()) => {
                self.set(&user, &message_id, Progress::InFlight);
                self.metrics.delivery_queue.inc();
                Submitted::Queued(done_rx)
            }
            Err(_) => Submitted::Full,
        }
    }

    /// Whether the mail server is slow: some e-mail has been in flight for longer than the
    /// grace period. Reconciles then record what is owed and return without waiting.
    pub fn congested(&self) -> bool {
        self.lock().stuck(self.slow_after, Instant::now())
    }

    /// See [`Ledger::written`].
    pub fn written(&self, user: &UserKey, recorded: &[String], pending: &[String]) {
        self.lock().written(&key(user), recorded, pending);
    }

    /// See [`Ledger::observe`].
    pub fn observe(&self, user: &UserKey, status: Option<&crate::api::ConferencingUserStatus>) {
        self.lock().observe(&key(user), status, Instant::now());
    }

    /// Forgets a deleted user's e-mails.
    pub fn forget_user(&self, namespace: &str, uid: &str) {
        self.lock().forget_user(&(namespace.to_string(), uid.to_string()));
    }
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
        PinSource::Known(p) => Some(p),
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
                    Some(p) => Some(Pin::new(p.expose())),
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
