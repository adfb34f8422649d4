//! What each watch event does: which cache or index it updates, and whom it wakes. Only what
//! the operator reads is kept: managed fields and the last-applied annotation are dropped
//! from users and tenants, and Secrets and claims are watched as metadata only (a PIN is read
//! from the API when an e-mail that carries it is sent, never cached).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::backoff::{Backoff, tenant_key, user_key};
use super::expectations::Expectations;
use super::index::{Index, Wake};
use super::watch::{Present, Sink};
use crate::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};
use crate::notification::queue::DeliveryQueue;
use crate::provisioning::record::{RECORD_ANNOTATION, RECORD_SECRET_SUFFIX, is_record_secret};
use crate::provisioning::secret::{PIN_GENERATION_ANNOTATION, RECORDED_ANNOTATION};
use crate::telemetry::queue::Waker;
use crate::telemetry::{KindLabels, Metrics};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Where wake-ups go.
#[derive(Clone)]
pub(crate) struct Wakers {
    /// The user controller's queue.
    pub users: Waker<ConferencingUser>,
    /// The tenant controller's queue.
    pub tenants: Waker<ConferencingTenant>,
}

impl Wakers {
    /// Wakes what `wake` names.
    pub(crate) fn send(&self, wake: Wake) {
        for (ns, name) in wake.users {
            let _ = self.users.send(ObjectRef::new(&name).within(&ns));
        }
        for (ns, name) in wake.tenants {
            let _ = self.tenants.send(ObjectRef::new(&name).within(&ns));
        }
    }
}

/// A kube store fed object by object. Until every namespace has been listed, objects are
/// staged here and the store stays empty and not ready (nothing reads it yet: the
/// controllers start afterwards, and kube's controller waits for its store to be ready);
/// then they are handed over as one initial list, which makes the store ready.
///
/// Staged objects are boxed: a user is about 1 KiB inline, and a map of 10,000 of them
/// held inline grew by doubling a 20 MiB table, the operator's peak memory on a restart.
pub(crate) struct Staged<K: kube::Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    staged: Option<std::collections::HashMap<ObjectRef<K>, Box<K>>>,
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Staged<K> {
    /// Stages objects for `writer` until [`Staged::finish`].
    pub(crate) fn new(writer: Writer<K>) -> Self {
        Self { writer, staged: Some(std::collections::HashMap::new()) }
    }

    /// Whether the store is live (the first list is done).
    pub(crate) fn live(&self) -> bool {
        self.staged.is_none()
    }

    fn apply(&mut self, obj: K) {
        match &mut self.staged {
            Some(s) => {
                s.insert(ObjectRef::from_obj(&obj), Box::new(obj));
            }
            None => self.writer.apply_watcher_event(&watcher::Event::Apply(obj)),
        }
    }

    fn delete(&mut self, obj: K) {
        match &mut self.staged {
            Some(s) => {
                s.remove(&ObjectRef::from_obj(&obj));
            }
            None => self.writer.apply_watcher_event(&watcher::Event::Delete(obj)),
        }
    }

    fn remove_staged(&mut self, ns: &str, name: &str) {
        if let Some(s) = &mut self.staged {
            s.remove(&ObjectRef::new(name).within(ns));
        }
    }

    fn retain_staged(&mut self, namespace: Option<&str>, present: &Present) {
        if let Some(s) = &mut self.staged {
            s.retain(|k, _| {
                namespace.is_some_and(|ns| k.namespace.as_deref() != Some(ns))
                    || present.contains(&(k.namespace.clone().unwrap_or_default(), k.name.clone()))
            });
        }
    }

    /// Hands the staged objects over as the store's initial list.
    fn finish(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.writer.apply_watcher_event(&watcher::Event::Init);
            // One at a time: the writer keeps its own copy, and each staged one is freed
            // before the next is handed over.
            for (_, o) in staged {
                self.writer.apply_watcher_event(&watcher::Event::InitApply(*o));
            }
            self.writer.apply_watcher_event(&watcher::Event::InitDone);
        }
    }
}

fn strip(meta: &mut kube::api::ObjectMeta) {
    // Who asked for a request is read from the owners of `spec.requests`; the rest goes.
    crate::api::actor::keep_request_owners(meta);
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
        if a.is_empty() {
            meta.annotations = None;
        }
    }
}

/// Users: the store, the index, and wake-ups of the user, its tenant (the user count) and of
/// users waiting for an ID it let go of.
pub(crate) struct UserSink {
    /// The user store's writer.
    pub writer: Staged<ConferencingUser>,
    /// A reader of the same store.
    pub store: Store<ConferencingUser>,
    /// The index.
    pub index: Arc<Index>,
    /// Wake-ups.
    pub wake: Wakers,
    /// Forgets a deleted user's deliveries.
    pub delivery: Option<Arc<DeliveryQueue>>,
    /// Forgets a deleted user's pending count.
    pub metrics: Arc<Metrics>,
    /// Forgets a deleted user's expected status write.
    pub expectations: Arc<Expectations>,
    /// Forgets a deleted user's failures.
    pub backoff: Arc<Backoff>,
}

impl Sink<ConferencingUser> for UserSink {
    fn apply(&mut self, mut u: ConferencingUser) {
        crate::fault::maybe_panic("watch", &u.namespace().unwrap_or_default(), &u.name_any());
        strip(&mut u.metadata);
        self.metrics.users.observe(&u);
        let wake = self.index.apply_user(&u);
        let me = ObjectRef::from_obj(&u);
        self.writer.apply(u);
        // Before the controllers start, everything is reconciled once anyway.
        if self.writer.live() {
            let _ = self.wake.users.send(me);
            self.wake.send(wake);
        }
    }

    fn delete(&mut self, u: ConferencingUser) {
        let (ns, name, uid) = (u.namespace().unwrap_or_default(), u.name_any(), u.uid().unwrap_or_default());
        let wake = self.index.delete_user(&ns, &name);
        if let Some(d) = &self.delivery {
            d.forget_user(&ns, &uid);
        }
        self.metrics.set_pending(&uid, 0);
        self.metrics.users.forget(&ns, &name);
        self.expectations.forget(&uid);
        self.backoff.succeeded(&user_key(&ns, &uid));
        self.writer.delete(u);
        if self.writer.live() {
            self.wake.send(wake);
        }
    }

    fn retain(&mut self, namespace: Option<&str>, present: &Present) {
        for (ns, name) in self.index.user_names(namespace) {
            if !present.contains(&(ns.clone(), name.clone())) {
                match self.store.get(&ObjectRef::new(&name).within(&ns)) {
                    Some(u) => self.delete((*u).clone()),
                    None => {
                        self.metrics.users.forget(&ns, &name);
                        self.writer.remove_staged(&ns, &name);
                        self.wake.send(self.index.delete_user(&ns, &name));
                    }
                }
            }
        }
    }

    fn listed(&mut self) {
        self.writer.finish();
    }

    fn panicked(&mut self) {
        self.metrics.panics.get_or_create(&KindLabels { kind: "watch".into() }).inc();
    }
}

/// Tenants: the store, and wake-ups of the tenant and, when its spec changed or it was
/// deleted, of its users (found in the index, not by scanning).
pub(crate) struct TenantSink {
    /// The tenant store's writer.
    pub writer: Staged<ConferencingTenant>,
    /// A reader of the same store.
    pub store: Store<ConferencingTenant>,
    /// The index.
    pub index: Arc<Index>,
    /// Wake-ups.
    pub wake: Wakers,
    /// Forgets a deleted tenant's failures.
    pub backoff: Arc<Backoff>,
}

impl TenantSink {
    fn wake_users(&self, ns: &str, tenant: &str) {
        for name in self.index.users_of_tenant(ns, tenant) {
            let _ = self.wake.users.send(ObjectRef::new(&name).within(ns));
        }
    }
}

impl Sink<ConferencingTenant> for TenantSink {
    fn apply(&mut self, mut t: ConferencingTenant) {
        strip(&mut t.metadata);
        let me = ObjectRef::from_obj(&t);
        // A status write by the tenant reconcile is no reason to look at 10,000 users again.
        // Pausing or resuming a tenant is an annotation, not a spec change, but it changes what
        // every user of it may do.
        let spec_changed = self.store.get(&me).is_none_or(|old| {
            old.metadata.generation != t.metadata.generation
                || crate::api::is_paused(&old.metadata) != crate::api::is_paused(&t.metadata)
        });
        let (ns, name) = (t.namespace().unwrap_or_default(), t.name_any());
        self.writer.apply(t);
        if self.writer.live() {
            let _ = self.wake.tenants.send(me);
            if spec_changed {
                self.wake_users(&ns, &name);
            }
        }
    }

    fn delete(&mut self, t: ConferencingTenant) {
        let (ns, name) = (t.namespace().unwrap_or_default(), t.name_any());
        self.backoff.succeeded(&tenant_key(&ns, &t.uid().unwrap_or_default()));
        self.writer.delete(t);
        if self.writer.live() {
            self.wake_users(&ns, &name);
        }
    }

    fn retain(&mut self, namespace: Option<&str>, present: &Present) {
        self.writer.retain_staged(namespace, present);
        let gone: Vec<_> = self
            .store
            .state()
            .into_iter()
            .filter(|t| {
                namespace.is_none_or(|ns| t.namespace().as_deref() == Some(ns))
                    && !present.contains(&(t.namespace().unwrap_or_default(), t.name_any()))
            })
            .collect();
        for t in gone {
            self.delete((*t).clone());
        }
    }

    fn listed(&mut self) {
        self.writer.finish();
    }
}

/// The operator's Secrets (metadata): PIN Secrets and records, into the index, and a
/// wake-up of the owning user.
pub(crate) struct SecretSink {
    /// The index.
    pub index: Arc<Index>,
    /// Wake-ups.
    pub wake: Wakers,
}

impl Sink<PartialObjectMeta<Secret>> for SecretSink {
    fn apply(&mut self, mut s: PartialObjectMeta<Secret>) {
        s.metadata.managed_fields = None;
        let record = is_record_secret(&s.metadata);
        if let Some(a) = s.metadata.annotations.as_mut() {
            a.retain(|k, _| {
                if record { k == RECORD_ANNOTATION } else { k == PIN_GENERATION_ANNOTATION || k == RECORDED_ANNOTATION }
            });
        }
        let wake = if record { self.index.apply_record(&s) } else { self.index.apply_secret(&s) };
        self.wake.send(wake);
    }

    fn delete(&mut self, s: PartialObjectMeta<Secret>) {
        let (ns, name, uid) = (s.namespace().unwrap_or_default(), s.name_any(), s.uid());
        // By name, not labels: a Secret whose labels were removed by hand leaves the watch
        // with its new (unlabelled) metadata.
        let wake = if name.ends_with(RECORD_SECRET_SUFFIX) {
            self.index.delete_record(&ns, &name, uid.as_deref())
        } else {
            self.index.delete_secret(&ns, &name, uid.as_deref())
        };
        self.wake.send(wake);
    }

    fn retain(&mut self, namespace: Option<&str>, present: &Present) {
        for (ns, name) in self.index.secret_names(namespace) {
            if !present.contains(&(ns.clone(), name.clone())) {
                self.wake.send(self.index.delete_secret(&ns, &name, None));
            }
        }
        for (ns, name) in self.index.record_names(namespace) {
            if !present.contains(&(ns.clone(), name.clone())) {
                self.wake.send(self.index.delete_record(&ns, &name, None));
            }
        }
    }
}

/// Secrets labelled as holding a PIN to adopt (metadata): the index knows they exist, and
/// the users that may adopt one are woken when it appears, changes or goes.
pub(crate) struct AdoptableSink {
    /// The index.
    pub index: Arc<Index>,
    /// Wake-ups.
    pub wake: Wakers,
}

impl Sink<PartialObjectMeta<Secret>> for AdoptableSink {
    fn apply(&mut self, s: PartialObjectMeta<Secret>) {
        let wake = self.index.apply_adoptable(&s.namespace().unwrap_or_default(), &s.name_any());
        self.wake.send(wake);
    }

    fn delete(&mut self, s: PartialObjectMeta<Secret>) {
        let wake = self.index.delete_adoptable(&s.namespace().unwrap_or_default(), &s.name_any());
        self.wake.send(wake);
    }

    fn retain(&mut self, namespace: Option<&str>, present: &Present) {
        for (ns, name) in self.index.adoptable_names(namespace) {
            if !present.contains(&(ns.clone(), name.clone())) {
                self.wake.send(self.index.delete_adoptable(&ns, &name));
            }
        }
    }
}

/// Conference-ID claims (metadata): the index, and wake-ups of the holder and of the users
/// waiting for the ID.
pub(crate) struct ClaimSink {
    /// The index.
    pub index: Arc<Index>,
    /// Wake-ups.
    pub wake: Wakers,
}

impl Sink<PartialObjectMeta<ConferenceIdClaim>> for ClaimSink {
    fn apply(&mut self, c: PartialObjectMeta<ConferenceIdClaim>) {
        self.wake.send(self.index.apply_claim(&c));
    }

    fn delete(&mut self, c: PartialObjectMeta<ConferenceIdClaim>) {
        self.wake.send(self.index.delete_claim(&c.namespace().unwrap_or_default(), &c.name_any()));
    }

    fn retain(&mut self, namespace: Option<&str>, present: &Present) {
        for (ns, name) in self.index.claim_names(namespace) {
            if !present.contains(&(ns.clone(), name.clone())) {
                self.wake.send(self.index.delete_claim(&ns, &name));
            }
        }
    }
}
