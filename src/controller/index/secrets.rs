//! The index's Secrets: each user's PIN Secret and record (the operator's memory), from
//! their metadata.

use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;

use crate::provisioning::record::RecordMeta;
use crate::provisioning::secret::SecretMeta;

use super::*;

impl Index {
    /// A PIN Secret was added or changed (from its metadata). Wakes its owner, unless the
    /// index already knew exactly this version (the operator's own write).
    pub(crate) fn apply_secret(&self, s: &PartialObjectMeta<Secret>) -> Wake {
        let (ns, name) = ns_name(&s.metadata);
        let meta = SecretMeta::from_meta(&s.metadata);
        let mut wake = Wake::default();
        let mut m = self.write();
        let key = (ns.clone(), name);
        if m.secrets.get(&key) == Some(&meta) {
            return wake;
        }
        if let Some(owner) = owner_name(&s.metadata) {
            wake.users.insert((ns, owner));
        }
        m.secrets.insert(key, meta);
        wake
    }

    /// A PIN Secret was deleted. Wakes its owner.
    /// With `uid`, only that Secret: the deletion event of a Secret can arrive after the
    /// operator created its successor under the same name, which must stay.
    pub(crate) fn delete_secret(&self, ns: &str, name: &str, uid: Option<&str>) -> Wake {
        let mut wake = Wake::default();
        let mut m = self.write();
        let key = (ns.to_string(), name.to_string());
        if uid.is_some_and(|u| m.secrets.get(&key).is_some_and(|s| s.uid != u)) {
            return wake;
        }
        if let Some(old) = m.secrets.remove(&key)
            && let (Some(uid), Some(owner)) = (old.owner_uid, old.owner_name)
            && m.users.get(&(ns.to_string(), owner.clone())).is_some_and(|e| e.uid == uid)
        {
            wake.users.insert((ns.to_string(), owner));
        }
        wake
    }

    /// Records a Secret the operator just wrote, before its watch event arrives.
    pub(crate) fn record_secret(&self, ns: &str, name: &str, meta: SecretMeta) {
        self.write().secrets.insert((ns.to_string(), name.to_string()), meta);
    }

    /// Forgets a Secret the operator just deleted.
    pub(crate) fn forget_secret(&self, ns: &str, name: &str) {
        self.write().secrets.remove(&(ns.to_string(), name.to_string()));
    }

    /// The PIN Secret `name` in `namespace`, from its metadata.
    pub(crate) fn secret(&self, namespace: &str, name: &str) -> Option<SecretMeta> {
        self.read().secrets.get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// The Secrets of `namespace` the index knows.
    pub(crate) fn secret_names(&self, namespace: Option<&str>) -> Vec<(String, String)> {
        self.read().secrets.keys().filter(|(ns, _)| namespace.is_none_or(|w| w == ns)).cloned().collect()
    }
    /// A record Secret was added or changed (from its metadata). Wakes its owner, unless the
    /// index already knew exactly this version (the operator's own write), and who waits for
    /// an ID the record no longer names.
    pub(crate) fn apply_record(&self, s: &PartialObjectMeta<Secret>) -> Wake {
        let (ns, name) = ns_name(&s.metadata);
        let meta = RecordMeta::from_meta(&s.metadata);
        let mut wake = Wake::default();
        let mut m = self.write();
        let key = (ns.clone(), name);
        // A watch event can arrive after the operator recorded its own newer write of the same
        // record (the event of an earlier write, replayed): going back to it would make the
        // operator plan from a memory it has already moved on from (and owe an e-mail again).
        // resourceVersions are etcd revisions, which only grow (see `expectations.rs`).
        let older = m.records.get(&key).is_some_and(|known| {
            known.uid == meta.uid && version(&meta.resource_version) < version(&known.resource_version)
        });
        if older || m.records.get(&key) == Some(&meta) {
            return wake;
        }
        let owner = meta.owner_name.clone();
        m.records.insert(key, meta);
        if let Some(owner) = owner {
            m.rehold(&ns, &owner, &mut wake);
            wake.users.insert((ns, owner));
        }
        wake
    }

    /// A record Secret was deleted. Wakes its owner. With `uid`, only that Secret (its
    /// deletion event may arrive after the operator wrote its successor).
    pub(crate) fn delete_record(&self, ns: &str, name: &str, uid: Option<&str>) -> Wake {
        let mut wake = Wake::default();
        let mut m = self.write();
        let key = (ns.to_string(), name.to_string());
        if uid.is_some_and(|u| m.records.get(&key).is_some_and(|r| r.uid != u)) {
            return wake;
        }
        if let Some(old) = m.records.remove(&key)
            && let Some(owner) = old.owner_name
        {
            m.rehold(ns, &owner, &mut wake);
            if m.users.get(&(ns.to_string(), owner.clone())).is_some_and(|e| old.owner_uid.as_deref() == Some(&e.uid)) {
                wake.users.insert((ns.to_string(), owner));
            }
        }
        wake
    }

    /// Records a record Secret the operator just wrote, before its watch event arrives (which
    /// then changes nothing); returns who waits for an ID the record no longer names.
    #[must_use]
    pub(crate) fn record_record(&self, ns: &str, name: &str, meta: RecordMeta) -> Wake {
        let owner = meta.owner_name.clone();
        let mut m = self.write();
        m.records.insert((ns.to_string(), name.to_string()), meta);
        let mut wake = Wake::default();
        if let Some(owner) = owner {
            m.rehold(ns, &owner, &mut wake);
            wake.users.remove(&(ns.to_string(), owner));
        }
        wake
    }

    /// Forgets a record Secret found gone (deleted while the watch could not see it).
    pub(crate) fn forget_record(&self, ns: &str, name: &str) {
        let mut m = self.write();
        if let Some(owner) = m.records.remove(&(ns.to_string(), name.to_string())).and_then(|r| r.owner_name) {
            m.rehold(ns, &owner, &mut Wake::default());
        }
    }

    /// The record Secret `name` in `namespace`.
    pub(crate) fn record(&self, namespace: &str, name: &str) -> Option<RecordMeta> {
        self.read().records.get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// The record Secrets of `namespace` the index knows.
    pub(crate) fn record_names(&self, namespace: Option<&str>) -> Vec<(String, String)> {
        self.read().records.keys().filter(|(ns, _)| namespace.is_none_or(|w| w == ns)).cloned().collect()
    }

    /// A Secret labelled `conferencing.io/adopt-pin: "true"` appeared or changed: wakes the
    /// user whose PIN Secret name it has and the users whose `spec.adopt.pinSecretRef` names
    /// it (each may be waiting to be taken over).
    pub(crate) fn apply_adoptable(&self, ns: &str, name: &str) -> Wake {
        let mut m = self.write();
        m.adoptable.insert((ns.to_string(), name.to_string()));
        adoptable_wake(&m, ns, name)
    }

    /// A Secret labelled for adoption was deleted (or lost its label).
    pub(crate) fn delete_adoptable(&self, ns: &str, name: &str) -> Wake {
        let mut m = self.write();
        m.adoptable.remove(&(ns.to_string(), name.to_string()));
        adoptable_wake(&m, ns, name)
    }

    /// Whether Secret `name` in `namespace` is labelled for adoption.
    pub(crate) fn is_adoptable(&self, namespace: &str, name: &str) -> bool {
        self.read().adoptable.contains(&(namespace.to_string(), name.to_string()))
    }

    /// The Secrets labelled for adoption the index knows, in `namespace` (`None`: all).
    pub(crate) fn adoptable_names(&self, namespace: Option<&str>) -> Vec<(String, String)> {
        self.read().adoptable.iter().filter(|(ns, _)| namespace.is_none_or(|w| w == ns)).cloned().collect()
    }
}

fn adoptable_wake(m: &Maps, ns: &str, name: &str) -> Wake {
    let mut wake = Wake::default();
    if let Some(user) = name.strip_suffix(crate::provisioning::secret::PIN_SECRET_SUFFIX)
        && m.users.contains_key(&(ns.to_string(), user.to_string()))
    {
        wake.users.insert((ns.to_string(), user.to_string()));
    }
    for user in m.pin_sources.get(&(ns.to_string(), name.to_string())).into_iter().flatten() {
        wake.users.insert((ns.to_string(), user.clone()));
    }
    wake
}
