//! One logical watch per kind, over every namespace the operator serves: a watcher per
//! namespace (or one cluster-wide), whose events a [`Sink`] applies to the caches and turns
//! into wake-ups.
//!
//! Why not kube's shared reflector streams: the operator's wake-ups need deletions (a claim
//! or a PIN Secret deleted by hand must wake its user; a deleted holder must wake the users
//! waiting for its ID), which kube's shared dispatch does not broadcast; a subscriber that
//! joins after the first list misses it; and one kube store cannot be fed from several
//! namespaces' watchers, because each watcher's relist would wipe the others' objects. Here
//! every watcher's relist is turned into applies plus the deletions the relist implies for
//! that namespace alone, and the cache is reported ready once every namespace was listed.

use std::collections::HashSet;

use futures::stream::{BoxStream, SelectAll};
use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::watcher;

/// Receives the changes of one kind.
pub(crate) trait Sink<K> {
    /// An object was added or changed (or listed).
    fn apply(&mut self, obj: K);
    /// An object was deleted.
    fn delete(&mut self, obj: K);
    /// A relist of `namespace` (`None`: all namespaces) found exactly `present`
    /// (namespace, name): every other object of the namespace the sink knows was deleted
    /// meanwhile. Keyed by namespace too, because a cluster-wide relist holds the same name
    /// in many namespaces.
    fn retain(&mut self, namespace: Option<&str>, present: &Present);
    /// Every namespace has been listed once.
    fn listed(&mut self) {}
    /// Handling an event panicked (a bug); the event was skipped.
    fn panicked(&mut self) {}
}

/// The objects a relist found, as (namespace, name).
pub(crate) type Present = HashSet<(String, String)>;

/// A watcher of one namespace (`None`: all), as kube's `watcher` yields it.
pub(crate) type NamespaceWatcher<K> = (Option<String>, BoxStream<'static, watcher::Result<watcher::Event<K>>>);

/// Drives the watchers (one per namespace) into `sink` until they end.
/// `ready` is called once, when every watcher has completed its first list.
pub(crate) async fn run<K, S>(kind: &'static str, watchers: Vec<NamespaceWatcher<K>>, mut sink: S, ready: impl FnOnce())
where
    K: kube::Resource + Send + 'static,
    S: Sink<K>,
{
    let namespaces: Vec<Option<String>> = watchers.iter().map(|(ns, _)| ns.clone()).collect();
    let mut relists: Vec<Option<Present>> = vec![None; namespaces.len()];
    let mut listed = vec![false; namespaces.len()];
    let mut ready = Some(ready);
    let mut all: SelectAll<BoxStream<'static, (usize, watcher::Result<watcher::Event<K>>)>> = SelectAll::new();
    for (i, (_, stream)) in watchers.into_iter().enumerate() {
        all.push(tagged(i, stream));
    }
    while let Some((i, event)) = all.next().await {
        match event {
            Ok(watcher::Event::Apply(o)) => contained(kind, &mut sink, o, S::apply),
            Ok(watcher::Event::Delete(o)) => contained(kind, &mut sink, o, S::delete),
            Ok(watcher::Event::Init) => relists[i] = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(o)) => {
                if let Some(seen) = relists[i].as_mut() {
                    seen.insert((o.namespace().unwrap_or_default(), o.name_any()));
                }
                contained(kind, &mut sink, o, S::apply);
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(seen) = relists[i].take() {
                    if listed[i] {
                        // Not the first list: the watch could not resume (410 Gone after a
                        // compaction, say). Logged so that a relist can be seen to happen.
                        tracing::info!(
                            kind,
                            namespace = namespaces[i].as_deref().unwrap_or("(all)"),
                            objects = seen.len(),
                            "relisted"
                        );
                    }
                    sink.retain(namespaces[i].as_deref(), &seen);
                }
                listed[i] = true;
                if listed.iter().all(|l| *l)
                    && let Some(r) = ready.take()
                {
                    sink.listed();
                    tracing::info!(kind, "cache filled");
                    r();
                }
            }
            Err(e) => {
                // Most often a missing permission; the watcher retries with backoff. The
                // Display of watcher errors omits their cause, which is what a person needs.
                let mut chain = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    source = s.source();
                }
                tracing::warn!(kind, namespace = namespaces[i].as_deref().unwrap_or("(all)"), error = %chain, "watch error; retrying with backoff");
            }
        }
    }
}

/// Applies one event, containing a panic (a bug) to that event: the object is skipped
/// (logged by kind, namespace and name) and every other object keeps flowing. A panic that
/// escaped would end the watch, and the operator with it, on every restart: one object
/// would take every tenant down.
fn contained<K: kube::Resource, S: Sink<K>>(kind: &'static str, sink: &mut S, obj: K, f: fn(&mut S, K)) {
    let (ns, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(sink, obj))).is_err() {
        tracing::error!(kind, namespace = %ns, name = %name, "handling a watch event panicked (a bug); the object is skipped until it changes");
        sink.panicked();
    }
}

fn tagged<T: Send + 'static>(
    i: usize,
    stream: impl Stream<Item = T> + Send + 'static,
) -> BoxStream<'static, (usize, T)> {
    stream.map(move |e| (i, e)).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::BTreeSet;

    #[derive(Default)]
    struct Recorder {
        objects: BTreeSet<(String, String)>,
        deleted: Vec<(String, String)>,
    }

    impl Sink<ConfigMap> for Recorder {
        fn apply(&mut self, o: ConfigMap) {
            self.objects.insert((o.namespace().unwrap_or_default(), o.name_any()));
        }
        fn delete(&mut self, o: ConfigMap) {
            let key = (o.namespace().unwrap_or_default(), o.name_any());
            self.objects.remove(&key);
            self.deleted.push(key);
        }
        fn retain(&mut self, namespace: Option<&str>, present: &Present) {
            let gone: Vec<_> = self
                .objects
                .iter()
                .filter(|k| namespace.is_none_or(|want| want == k.0) && !present.contains(*k))
                .cloned()
                .collect();
            for k in gone {
                self.objects.remove(&k);
                self.deleted.push(k);
            }
        }
    }

    fn cm(ns: &str, name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some(ns.into());
        c
    }

    #[tokio::test]
    async fn a_relist_deletes_only_within_its_own_namespace_and_readiness_waits_for_all() {
        use watcher::Event::*;
        let a = vec![
            Ok(Init),
            Ok(InitApply(cm("a", "one"))),
            Ok(InitApply(cm("a", "two"))),
            Ok(InitDone),
            // A relist (after 410 Gone) that no longer has "two".
            Ok(Init),
            Ok(InitApply(cm("a", "one"))),
            Ok(InitDone),
        ];
        let b = vec![Ok(Init), Ok(InitApply(cm("b", "two"))), Ok(InitDone), Ok(Apply(cm("b", "three")))];
        let ready = std::cell::Cell::new(0);
        let mut rec = Recorder::default();
        run(
            "ConfigMap",
            vec![(Some("a".into()), stream::iter(a).boxed()), (Some("b".into()), stream::iter(b).boxed())],
            &mut rec,
            || ready.set(ready.get() + 1),
        )
        .await;
        assert_eq!(ready.get(), 1);
        assert_eq!(rec.deleted, vec![("a".to_string(), "two".to_string())]);
        let left: Vec<_> = rec.objects.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
        assert_eq!(left, vec!["a/one", "b/three", "b/two"]);
    }

    #[tokio::test]
    async fn a_cluster_wide_relist_deletes_a_name_that_is_gone_from_one_namespace_only() {
        use watcher::Event::*;
        // One watcher over all namespaces; "x" exists in both, then is deleted from "a"
        // while the watch was down: the relist still has "b/x", which must not keep "a/x".
        let all = vec![
            Ok(Init),
            Ok(InitApply(cm("a", "x"))),
            Ok(InitApply(cm("b", "x"))),
            Ok(InitDone),
            Ok(Init),
            Ok(InitApply(cm("b", "x"))),
            Ok(InitDone),
        ];
        let mut rec = Recorder::default();
        run("ConfigMap", vec![(None, stream::iter(all).boxed())], &mut rec, || ()).await;
        assert_eq!(rec.deleted, vec![("a".to_string(), "x".to_string())]);
        let left: Vec<_> = rec.objects.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
        assert_eq!(left, vec!["b/x"]);
    }

    /// The fake [`Recorder`] above checks `run`'s bookkeeping; this drives `run` into the
    /// operator's real claim sink (`caches::ClaimSink`, over the real index), so that its
    /// `retain` is what a relist exercises.
    #[tokio::test]
    async fn a_relist_drops_from_the_real_claim_index_only_the_claims_gone_from_its_namespace() {
        use crate::api::ConferenceIdClaim;
        use crate::controller::caches::{ClaimSink, Wakers};
        use crate::controller::index::Index;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
        use kube::core::PartialObjectMeta;
        use watcher::Event::*;

        fn claim(ns: &str, id: &str, holder: &str) -> PartialObjectMeta<ConferenceIdClaim> {
            let metadata = ObjectMeta {
                name: Some(id.into()),
                namespace: Some(ns.into()),
                uid: Some(format!("claim-{ns}-{id}")),
                owner_references: Some(vec![OwnerReference {
                    api_version: "conferencing.io/v1alpha1".into(),
                    kind: "ConferencingUser".into(),
                    name: holder.into(),
                    uid: format!("uid-{holder}"),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            };
            PartialObjectMeta { types: None, metadata, _phantom: std::marker::PhantomData }
        }

        let index = std::sync::Arc::new(Index::default());
        let (users_tx, mut users_rx) = tokio::sync::mpsc::unbounded_channel();
        let (tenants_tx, _tenants_rx) = tokio::sync::mpsc::unbounded_channel();
        let queue = std::sync::Arc::new(crate::telemetry::queue::ReconcileQueue::default());
        let sink = ClaimSink {
            index: index.clone(),
            wake: Wakers {
                users: crate::telemetry::queue::Waker::new(users_tx, queue.clone(), "ConferencingUser"),
                tenants: crate::telemetry::queue::Waker::new(tenants_tx, queue, "ConferencingTenant"),
            },
        };
        // Namespace a: bob's claim is deleted while the watch is down; the relist lacks it.
        // Namespace b holds the same ID for someone else and is not relisted.
        let a = vec![
            Ok(Init),
            Ok(InitApply(claim("a", "1234567", "alice"))),
            Ok(InitApply(claim("a", "7654321", "bob"))),
            Ok(InitDone),
            Ok(Init),
            Ok(InitApply(claim("a", "1234567", "alice"))),
            Ok(InitDone),
        ];
        let b = vec![Ok(Init), Ok(InitApply(claim("b", "7654321", "carol"))), Ok(InitDone)];
        run(
            "ConferenceIdClaim",
            vec![(Some("a".into()), stream::iter(a).boxed()), (Some("b".into()), stream::iter(b).boxed())],
            sink,
            || (),
        )
        .await;
        let mut left = index.claim_names(None);
        left.sort();
        let want = [("a", "1234567"), ("b", "7654321")].map(|(n, i)| (n.to_string(), i.to_string()));
        assert_eq!(left, want.to_vec());
        let id = crate::domain::ConferenceId::parse("7654321").expect("id");
        assert_eq!(index.claim_holder("a", &id), None, "bob's claim is gone from namespace a");
        assert_eq!(index.claim_holder("b", &id).map(|h| h.name), Some("carol".to_string()));
        // The holder whose claim vanished is woken, to find out.
        let mut woken = Vec::new();
        while let Ok(r) = users_rx.try_recv() {
            woken.push((r.namespace.unwrap_or_default(), r.name));
        }
        assert!(woken.contains(&("a".to_string(), "bob".to_string())), "bob is woken: {woken:?}");
    }

    impl<K, T: Sink<K>> Sink<K> for &mut T {
        fn apply(&mut self, obj: K) {
            (**self).apply(obj)
        }
        fn delete(&mut self, obj: K) {
            (**self).delete(obj)
        }
        fn retain(&mut self, namespace: Option<&str>, present: &Present) {
            (**self).retain(namespace, present)
        }
        fn listed(&mut self) {
            (**self).listed()
        }
    }
}
