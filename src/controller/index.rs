//! The conference IDs in use, per namespace, and the IDs each user holds: an index kept
//! from the claim watch, updated event by event, so that no reconcile lists a namespace.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::runtime::watcher;

use crate::provisioning::claim::{self, Holder};
use crate::validation::ConferenceId;

#[derive(Default)]
struct Maps {
    /// namespace -> id -> holder
    by_namespace: HashMap<String, HashMap<ConferenceId, Holder>>,
    /// holder UID -> ids it holds
    by_holder: HashMap<String, BTreeSet<ConferenceId>>,
}

impl Maps {
    fn insert(&mut self, cm: &ConfigMap) {
        let Some((id, holder)) = claim::parse(cm) else {
            return;
        };
        let ns = cm.namespace().unwrap_or_default();
        if let Some(old) = self.by_namespace.entry(ns).or_default().insert(id.clone(), holder.clone()) {
            self.forget_holder(&old.uid, &id);
        }
        self.by_holder.entry(holder.uid).or_default().insert(id);
    }

    fn remove(&mut self, cm: &ConfigMap) {
        let Some((id, _)) = claim::parse(cm) else {
            return;
        };
        let ns = cm.namespace().unwrap_or_default();
        if let Some(ids) = self.by_namespace.get_mut(&ns)
            && let Some(old) = ids.remove(&id)
        {
            self.forget_holder(&old.uid, &id);
        }
    }

    fn forget_holder(&mut self, uid: &str, id: &ConferenceId) {
        if let Some(set) = self.by_holder.get_mut(uid) {
            set.remove(id);
            if set.is_empty() {
                self.by_holder.remove(uid);
            }
        }
    }
}

/// Conference-ID claims by namespace and by holder.
#[derive(Default)]
pub struct ClaimIndex {
    live: RwLock<Maps>,
    /// Filled during a watch (re)list, swapped in at its end, like the reflector's store.
    relist: RwLock<Maps>,
}

impl ClaimIndex {
    /// Applies one watch event.
    pub fn apply(&self, event: &watcher::Event<ConfigMap>) {
        match event {
            watcher::Event::Apply(cm) => write(&self.live).insert(cm),
            watcher::Event::Delete(cm) => write(&self.live).remove(cm),
            watcher::Event::Init => *write(&self.relist) = Maps::default(),
            watcher::Event::InitApply(cm) => write(&self.relist).insert(cm),
            watcher::Event::InitDone => {
                let fresh = std::mem::take(&mut *write(&self.relist));
                *write(&self.live) = fresh;
            }
        }
    }

    /// Whether `id` is claimed in `namespace`.
    pub fn contains(&self, namespace: &str, id: &str) -> bool {
        let Some(id) = ConferenceId::parse(id) else {
            return false;
        };
        read(&self.live).by_namespace.get(namespace).is_some_and(|m| m.contains_key(&id))
    }

    /// Who holds `id` in `namespace`.
    pub fn holder(&self, namespace: &str, id: &ConferenceId) -> Option<Holder> {
        read(&self.live).by_namespace.get(namespace)?.get(id).cloned()
    }

    /// The IDs held by the user with this UID.
    pub fn held_by(&self, uid: &str) -> Vec<ConferenceId> {
        read(&self.live).by_holder.get(uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Number of claims in `namespace`.
    pub fn count(&self, namespace: &str) -> usize {
        read(&self.live).by_namespace.get(namespace).map_or(0, HashMap::len)
    }
}

// A poisoned lock means a panic while updating plain maps; the maps are still usable, and
// the next relist replaces them, so recover rather than take the operator down.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::user;

    fn cm(user_name: &str, id: &str) -> ConfigMap {
        claim::claim(&user(user_name, "acme"), &ConferenceId::parse(id).expect("id"))
    }

    #[test]
    fn tracks_applies_deletes_and_relists() {
        let idx = ClaimIndex::default();
        idx.apply(&watcher::Event::Apply(cm("alice", "1234567")));
        idx.apply(&watcher::Event::Apply(cm("bob", "7654321")));
        assert!(idx.contains("ns1", "1234567"));
        assert!(!idx.contains("ns2", "1234567"));
        assert_eq!(idx.holder("ns1", &ConferenceId::parse("7654321").expect("id")).map(|h| h.name), Some("bob".into()));
        assert_eq!(idx.held_by("uid-alice").len(), 1);
        idx.apply(&watcher::Event::Delete(cm("alice", "1234567")));
        assert!(!idx.contains("ns1", "1234567"));
        assert!(idx.held_by("uid-alice").is_empty());

        idx.apply(&watcher::Event::Init);
        idx.apply(&watcher::Event::InitApply(cm("carol", "5555555")));
        assert!(idx.contains("ns1", "7654321"), "the old view serves until the relist is done");
        idx.apply(&watcher::Event::InitDone);
        assert!(!idx.contains("ns1", "7654321"));
        assert!(idx.contains("ns1", "5555555"));
        assert_eq!(idx.count("ns1"), 1);
    }

    #[test]
    fn a_claim_taken_over_moves_to_the_new_holder() {
        let idx = ClaimIndex::default();
        idx.apply(&watcher::Event::Apply(cm("alice", "1234567")));
        idx.apply(&watcher::Event::Apply(cm("bob", "1234567")));
        assert!(idx.held_by("uid-alice").is_empty());
        assert_eq!(idx.held_by("uid-bob").len(), 1);
    }
}
