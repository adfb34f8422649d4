//! What the reconciles look up without asking the API server: conference-ID claims, PIN
//! Secrets (metadata only), records (the operator's memory of each user), and for each user
//! the tenant it references and the conference IDs its memory and spec name. Fed by the
//! watches event by event, pure, tested without a server. Every key includes the namespace:
//! nothing in one namespace can change what the operator believes about another. Users here;
//! claims in `claims.rs`; PIN Secrets and records in `secrets.rs`.
//!
//! Each update returns the users (and tenants) it affects, which the caller wakes: a deleted
//! claim wakes its holder (to claim it again) and the users waiting for that ID; a user whose
//! ID changes or who is deleted frees the ID for those waiting for it.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use crate::api::{ConferencingUser, ProviderType};
use crate::domain::ConferenceId;
use crate::provisioning::claim::Holder;
use crate::provisioning::record::{RecordMeta, record_secret_name};
use crate::provisioning::secret::SecretMeta;

mod claims;
mod secrets;

type Ns = String;

/// What the index keeps of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UserEntry {
    uid: String,
    tenant: String,
    /// The ID the user's status names: what a version before records remembered.
    status_id: Option<ConferenceId>,
    /// The ID the user holds as far as the operator knows: its record's, or, for a user with
    /// no record (provisioned by a version before records), its status's.
    held: Option<ConferenceId>,
    /// The ID the spec asks for: `spec.conferenceId`, else `spec.adopt.conferenceId`.
    spec_id: Option<ConferenceId>,
    /// The Secret `spec.adopt.pinSecretRef` names.
    pin_source: Option<String>,
    created: Option<Timestamp>,
    /// Licensed, with this operator as provider: the only users that hold a conference ID.
    native: bool,
}

/// What the index keeps of a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ClaimEntry {
    holder: Holder,
    /// The claim object's UID (for delete preconditions).
    uid: String,
    /// The ID this one was allocated to replace.
    replaces: Option<ConferenceId>,
}

#[derive(Default)]
struct Maps {
    /// Per namespace, per ID.
    claims: HashMap<Ns, HashMap<ConferenceId, ClaimEntry>>,
    claims_by_holder: HashMap<(Ns, String), BTreeSet<ConferenceId>>,
    secrets: HashMap<(Ns, String), SecretMeta>,
    /// Record Secrets, by (namespace, Secret name).
    records: HashMap<(Ns, String), RecordMeta>,
    users: HashMap<(Ns, String), UserEntry>,
    by_tenant: HashMap<(Ns, String), BTreeSet<String>>,
    /// Users by the ID they hold (see `UserEntry::held`).
    held_ids: HashMap<(Ns, ConferenceId), BTreeSet<String>>,
    wanted: HashMap<(Ns, ConferenceId), BTreeSet<String>>,
    /// Users by the Secret their `spec.adopt.pinSecretRef` names.
    pin_sources: HashMap<(Ns, String), BTreeSet<String>>,
    /// Secrets labelled `conferencing.io/adopt-pin: "true"` (PINs to adopt).
    adoptable: std::collections::HashSet<(Ns, String)>,
}

/// Users and tenants to wake after an update: `(namespace, name)` each.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Wake {
    /// Users to reconcile.
    pub users: BTreeSet<(String, String)>,
    /// Tenants to reconcile (their user count may have changed).
    pub tenants: BTreeSet<(String, String)>,
}

impl Maps {
    fn add_to<K: Ord + Clone + std::hash::Hash + Eq>(map: &mut HashMap<K, BTreeSet<String>>, key: K, name: &str) {
        map.entry(key).or_default().insert(name.to_string());
    }

    fn remove_from<K: Ord + Clone + std::hash::Hash + Eq>(map: &mut HashMap<K, BTreeSet<String>>, key: &K, name: &str) {
        if let Some(set) = map.get_mut(key) {
            set.remove(name);
            if set.is_empty() {
                map.remove(key);
            }
        }
    }

    fn unindex_user(&mut self, ns: &str, name: &str, e: &UserEntry) {
        Self::remove_from(&mut self.by_tenant, &(ns.to_string(), e.tenant.clone()), name);
        if let Some(id) = &e.held {
            Self::remove_from(&mut self.held_ids, &(ns.to_string(), id.clone()), name);
        }
        if let Some(id) = &e.spec_id {
            Self::remove_from(&mut self.wanted, &(ns.to_string(), id.clone()), name);
        }
        if let Some(s) = &e.pin_source {
            Self::remove_from(&mut self.pin_sources, &(ns.to_string(), s.clone()), name);
        }
    }

    fn index_user(&mut self, ns: &str, name: &str, e: &UserEntry) {
        Self::add_to(&mut self.by_tenant, (ns.to_string(), e.tenant.clone()), name);
        if let Some(id) = &e.held {
            Self::add_to(&mut self.held_ids, (ns.to_string(), id.clone()), name);
        }
        if let Some(id) = &e.spec_id {
            Self::add_to(&mut self.wanted, (ns.to_string(), id.clone()), name);
        }
        if let Some(s) = &e.pin_source {
            Self::add_to(&mut self.pin_sources, (ns.to_string(), s.clone()), name);
        }
    }

    /// The ID the user `name` with `uid` holds: its record's, or without a record of its own,
    /// `status_id` (a user provisioned by a version before records).
    fn held_by(&self, ns: &str, name: &str, uid: &str, status_id: Option<&ConferenceId>) -> Option<ConferenceId> {
        match self.records.get(&(ns.to_string(), record_secret_name(name))).filter(|r| r.owned_by(uid)) {
            Some(r) => r.memory.as_ref()?.conference_id.as_deref().and_then(ConferenceId::parse),
            None => status_id.cloned(),
        }
    }

    /// Recomputes the ID user `name` holds after its record changed; wakes who waits for an
    /// ID it let go of.
    fn rehold(&mut self, ns: &str, name: &str, wake: &mut Wake) {
        let key = (ns.to_string(), name.to_string());
        let Some(e) = self.users.get(&key) else { return };
        let held = self.held_by(ns, name, &e.uid, e.status_id.as_ref());
        if held == e.held {
            return;
        }
        let old = e.held.clone();
        if let Some(id) = &old {
            Self::remove_from(&mut self.held_ids, &(ns.to_string(), id.clone()), name);
            self.waiting_for(ns, id, name, wake);
        }
        if let Some(id) = &held {
            Self::add_to(&mut self.held_ids, (ns.to_string(), id.clone()), name);
        }
        if let Some(e) = self.users.get_mut(&key) {
            e.held = held;
        }
    }

    /// The users to wake when `id` may have become free: those whose spec asks for it, and
    /// those who hold it as far as the operator knows (they may be waiting to claim it again).
    fn waiting_for(&self, ns: &str, id: &ConferenceId, except: &str, wake: &mut Wake) {
        let key = (ns.to_string(), id.clone());
        for set in [self.wanted.get(&key), self.held_ids.get(&key)].into_iter().flatten() {
            for n in set.iter().filter(|n| n.as_str() != except) {
                wake.users.insert((ns.to_string(), n.clone()));
            }
        }
    }

    fn live(&self, ns: &str, holder: &Holder) -> bool {
        self.users.get(&(ns.to_string(), holder.name.clone())).is_some_and(|u| u.uid == holder.uid)
    }

    fn has_claims(&self, ns: &str, uid: &str) -> bool {
        self.claims_by_holder.get(&(ns.to_string(), uid.to_string())).is_some_and(|s| !s.is_empty())
    }

    fn insert_claim(&mut self, ns: &str, id: ConferenceId, entry: ClaimEntry) -> Option<Holder> {
        let holder_uid = entry.holder.uid.clone();
        self.claims_by_holder.entry((ns.to_string(), holder_uid.clone())).or_default().insert(id.clone());
        let old = self.claims.entry(ns.to_string()).or_default().insert(id.clone(), entry).map(|o| o.holder);
        if let Some(o) = &old
            && o.uid != holder_uid
        {
            self.forget_holder(ns, &o.uid, &id);
        }
        old
    }

    fn remove_claim(&mut self, ns: &str, id: &ConferenceId) -> Option<Holder> {
        let old = self.claims.get_mut(ns)?.remove(id)?.holder;
        if self.claims.get(ns).is_some_and(HashMap::is_empty) {
            self.claims.remove(ns);
        }
        self.forget_holder(ns, &old.uid, id);
        Some(old)
    }

    fn forget_holder(&mut self, ns: &str, uid: &str, id: &ConferenceId) {
        let key = (ns.to_string(), uid.to_string());
        if let Some(set) = self.claims_by_holder.get_mut(&key) {
            set.remove(id);
            if set.is_empty() {
                self.claims_by_holder.remove(&key);
            }
        }
    }
}

/// The operator's lookups, shared by every reconcile.
#[derive(Default)]
pub(crate) struct Index {
    maps: RwLock<Maps>,
}

fn ns_name(meta: &ObjectMeta) -> (String, String) {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

impl Index {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        // A poisoned lock means a panic while updating plain maps; they are still usable and
        // the next relist corrects them, so recover rather than take the operator down.
        self.maps.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ------------------------------------------------------------------ users

    /// A user was added or changed.
    pub(crate) fn apply_user(&self, u: &ConferencingUser) -> Wake {
        let (ns, name) = ns_name(&u.metadata);
        let uid = u.uid().unwrap_or_default();
        let status_id = u.status.as_ref().and_then(|s| s.conference_id.as_deref()).and_then(ConferenceId::parse);
        let mut wake = Wake::default();
        let mut m = self.write();
        let entry = UserEntry {
            held: m.held_by(&ns, &name, &uid, status_id.as_ref()),
            uid,
            tenant: u.spec.tenant_ref.name.clone(),
            status_id,
            spec_id: u
                .spec
                .conference_id
                .as_deref()
                .or_else(|| u.spec.adopt.as_ref().and_then(|a| a.conference_id.as_deref()))
                .and_then(ConferenceId::parse),
            pin_source: u.spec.adopt.as_ref().and_then(|a| a.pin_secret_ref.as_ref()).map(|r| r.name.clone()),
            created: u.metadata.creation_timestamp.as_ref().map(|t| t.0),
            native: u.spec.audio_conferencing_license && u.spec.provider.type_ == ProviderType::Native,
        };
        let old = m.users.insert((ns.clone(), name.clone()), entry.clone());
        if let Some(old) = &old {
            m.unindex_user(&ns, &name, old);
            if old.tenant != entry.tenant {
                wake.tenants.insert((ns.clone(), old.tenant.clone()));
            }
            if let Some(freed) = &old.held
                && old.held != entry.held
            {
                m.waiting_for(&ns, freed, &name, &mut wake);
            }
        }
        m.index_user(&ns, &name, &entry);
        if old.is_none_or(|o| o.tenant != entry.tenant) {
            wake.tenants.insert((ns, entry.tenant));
        }
        wake
    }

    /// A user was deleted.
    pub(crate) fn delete_user(&self, ns: &str, name: &str) -> Wake {
        let mut wake = Wake::default();
        let mut m = self.write();
        if let Some(old) = m.users.remove(&(ns.to_string(), name.to_string())) {
            m.unindex_user(ns, name, &old);
            for id in [&old.held, &old.spec_id].into_iter().flatten() {
                m.waiting_for(ns, id, name, &mut wake);
            }
            wake.tenants.insert((ns.to_string(), old.tenant));
        }
        wake
    }

    /// The users of `namespace` the index knows.
    pub(crate) fn user_names(&self, namespace: Option<&str>) -> Vec<(String, String)> {
        self.read().users.keys().filter(|(ns, _)| namespace.is_none_or(|w| w == ns)).cloned().collect()
    }

    /// The names of the users of tenant `tenant` in `namespace`.
    pub(crate) fn users_of_tenant(&self, namespace: &str, tenant: &str) -> Vec<String> {
        self.read()
            .by_tenant
            .get(&(namespace.to_string(), tenant.to_string()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many users reference tenant `tenant` in `namespace`.
    pub(crate) fn user_count(&self, namespace: &str, tenant: &str) -> usize {
        self.read().by_tenant.get(&(namespace.to_string(), tenant.to_string())).map_or(0, BTreeSet::len)
    }

    /// Whether the user with this name and UID exists.
    pub(crate) fn is_live(&self, namespace: &str, holder: &Holder) -> bool {
        self.read().live(namespace, holder)
    }
}

/// A resourceVersion as the etcd revision it is; 0 for one that is not a number.
fn version(rv: &str) -> u64 {
    rv.parse().unwrap_or(0)
}

fn owner_name(meta: &ObjectMeta) -> Option<String> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "ConferencingUser")
        .map(|o| o.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConferenceIdClaim;
    use crate::fixtures::user;
    use crate::provisioning::claim;
    use crate::provisioning::secret::pin_secret_name;
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::core::PartialObjectMeta;

    fn claim_meta(holder: &ConferencingUser, id: &str, ns: &str) -> PartialObjectMeta<ConferenceIdClaim> {
        let mut c = claim::claim(holder, &ConferenceId::parse(id).expect("id"), None);
        c.metadata.namespace = Some(ns.into());
        PartialObjectMeta { types: None, metadata: c.metadata, _phantom: std::marker::PhantomData }
    }

    fn with_status_id(mut u: ConferencingUser, id: &str, created: i64) -> ConferencingUser {
        u.status = Some(crate::api::ConferencingUserStatus { conference_id: Some(id.into()), ..Default::default() });
        u.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).expect("t")));
        u
    }

    fn id(s: &str) -> ConferenceId {
        ConferenceId::parse(s).expect("id")
    }

    /// The PIN Secret the operator writes for `u`, as its watch shows it.
    fn pin_secret_of(u: &ConferencingUser) -> PartialObjectMeta<Secret> {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let metadata = ObjectMeta {
            name: Some(pin_secret_name(&u.name_any())),
            namespace: u.namespace(),
            uid: Some(format!("secret-{}", u.name_any())),
            resource_version: Some("1".into()),
            owner_references: Some(vec![OwnerReference {
                kind: "ConferencingUser".into(),
                name: u.name_any(),
                uid: u.uid().unwrap_or_default(),
                controller: Some(true),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        };
        PartialObjectMeta { types: None, metadata, _phantom: std::marker::PhantomData }
    }

    /// A user the operator provisioned: its status names `id`, and it has its PIN Secret.
    fn provisioned(idx: &Index, u: &ConferencingUser) {
        idx.apply_user(u);
        idx.apply_secret(&pin_secret_of(u));
    }

    #[test]
    fn keys_include_the_namespace() {
        let idx = Index::default();
        let alice = user("alice", "acme");
        idx.apply_user(&alice);
        idx.apply_claim(&claim_meta(&alice, "1234567", "ns1"));
        // The same UID and ID in another namespace (a hostile or copied object).
        idx.apply_claim(&claim_meta(&alice, "7654321", "ns2"));
        assert_eq!(idx.claims_of("ns1", "uid-alice"), vec![id("1234567")]);
        assert_eq!(idx.claims_of("ns2", "uid-alice"), vec![id("7654321")]);
        assert!(idx.is_taken("ns1", "1234567") && !idx.is_taken("ns2", "1234567"));
    }

    #[test]
    fn a_deleted_claim_wakes_its_holder_and_who_waits_for_the_id() {
        let idx = Index::default();
        let bob = with_status_id(user("bob", "acme"), "4455667", 1);
        let mut dave = user("dave", "acme");
        dave.spec.conference_id = Some("4455667".into());
        idx.apply_user(&bob);
        idx.apply_user(&dave);
        idx.apply_claim(&claim_meta(&bob, "4455667", "ns1"));
        let wake = idx.delete_claim("ns1", "4455667");
        let users: Vec<_> = wake.users.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(users, vec!["bob", "dave"]);
        assert!(idx.claims_of("ns1", "uid-bob").is_empty());
    }

    #[test]
    fn an_id_leaving_a_status_wakes_who_waits_for_it() {
        let idx = Index::default();
        let bob = with_status_id(user("bob", "acme"), "4455667", 1);
        let mut dave = user("dave", "acme");
        dave.spec.conference_id = Some("4455667".into());
        idx.apply_user(&bob);
        idx.apply_user(&dave);
        let moved = with_status_id(user("bob", "acme"), "9999999", 1);
        let wake = idx.apply_user(&moved);
        assert!(wake.users.contains(&("ns1".into(), "dave".into())));
        let wake = idx.delete_user("ns1", "bob");
        assert!(wake.users.is_empty(), "9999999 is wanted by nobody");
        assert!(wake.tenants.contains(&("ns1".into(), "acme".into())));
    }

    #[test]
    fn ownership_of_a_contested_id() {
        let idx = Index::default();
        let alice = with_status_id(user("alice", "acme"), "1111111", 10);
        let carol = with_status_id(user("carol", "acme"), "1111111", 20);
        provisioned(&idx, &alice);
        provisioned(&idx, &carol);
        // alice's claim was deleted by hand; carol claimed the ID since.
        idx.apply_claim(&claim_meta(&carol, "1111111", "ns1"));
        let owner = idx.owner("ns1", &id("1111111"), "uid-carol").map(|h| h.name);
        assert_eq!(owner.as_deref(), Some("alice"), "the earlier holder owns it");
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-alice"), None);
        // With alice's claim restored, the claim decides.
        idx.apply_claim(&claim_meta(&alice, "2222222", "ns1"));
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-alice").map(|h| h.name).as_deref(), Some("carol"));
        // A claim of a deleted user owns nothing.
        idx.delete_user("ns1", "carol");
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-alice"), None);
    }

    #[test]
    fn two_status_only_holders_the_first_created_owns() {
        let idx = Index::default();
        provisioned(&idx, &with_status_id(user("zed", "acme"), "1111111", 5));
        provisioned(&idx, &with_status_id(user("amy", "acme"), "1111111", 9));
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-amy").map(|h| h.name).as_deref(), Some("zed"));
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-zed"), None);
    }

    #[test]
    fn a_status_written_by_someone_else_takes_no_id_from_its_holder() {
        let idx = Index::default();
        let carol = with_status_id(user("carol", "acme"), "1111111", 20);
        provisioned(&idx, &carol);
        idx.apply_claim(&claim_meta(&carol, "1111111", "ns1"));
        // A status writer names carol's ID on users created earlier that hold no claim:
        // one unlicensed, one with a third-party provider, one licensed with no PIN Secret,
        // one whose "PIN Secret" is controlled by another UID.
        let mut unlicensed = with_status_id(user("u1", "acme"), "1111111", 1);
        unlicensed.spec.audio_conferencing_license = false;
        let mut third = with_status_id(user("u2", "acme"), "1111111", 2);
        third.spec.provider.type_ = ProviderType::ThirdParty;
        let no_secret = with_status_id(user("u3", "acme"), "1111111", 3);
        let foreign = with_status_id(user("u4", "acme"), "1111111", 4);
        for u in [&unlicensed, &third] {
            provisioned(&idx, u);
        }
        idx.apply_user(&no_secret);
        idx.apply_user(&foreign);
        let mut s = pin_secret_of(&foreign);
        s.metadata.owner_references.as_mut().expect("refs")[0].uid = "uid-someone-else".into();
        idx.apply_secret(&s);
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-carol"), None, "carol keeps her ID");
        assert_eq!(idx.owner("ns1", &id("1111111"), "uid-u3").map(|h| h.name).as_deref(), Some("carol"));
    }

    #[test]
    fn a_deleted_pin_secret_wakes_its_owner_only_if_the_owner_is_that_user() {
        let idx = Index::default();
        let alice = user("alice", "acme");
        provisioned(&idx, &alice);
        let wake = idx.delete_secret("ns1", &pin_secret_name("alice"), None);
        assert!(wake.users.contains(&("ns1".into(), "alice".into())));
        // Re-created alice (another UID) is not woken for the old alice's Secret.
        idx.apply_secret(&pin_secret_of(&alice));
        let mut again = user("alice", "acme");
        again.metadata.uid = Some("uid-alice-2".into());
        idx.apply_user(&again);
        assert!(idx.delete_secret("ns1", &pin_secret_name("alice"), None).users.is_empty());
    }

    /// The record Secret the operator writes for `u`, naming `id`, at `version`.
    fn record_of(u: &ConferencingUser, id: Option<&str>, version: &str) -> PartialObjectMeta<Secret> {
        let memory = crate::api::record::UserMemory {
            conference_id: id.map(Into::into),
            ..crate::api::record::UserMemory::empty()
        };
        let mut s = crate::provisioning::record::record_secret(u, &memory);
        s.metadata.uid = Some(format!("record-{}", u.name_any()));
        s.metadata.resource_version = Some(version.into());
        PartialObjectMeta { types: None, metadata: s.metadata, _phantom: std::marker::PhantomData }
    }

    #[test]
    fn a_user_letting_go_of_an_id_by_its_own_record_wakes_who_waits_for_it() {
        let idx = Index::default();
        let alice = user("alice", "acme");
        let mut bob = user("bob", "acme");
        bob.spec.conference_id = Some("4455667".into());
        idx.apply_user(&alice);
        idx.apply_user(&bob);
        idx.apply_record(&record_of(&alice, Some("4455667"), "10"));
        assert!(idx.is_taken("ns1", "4455667"), "held by alice's record, with no claim");
        // alice's licence is removed: the operator's own write of her record drops the ID.
        let written = crate::provisioning::record::RecordMeta::from_meta(&record_of(&alice, None, "11").metadata);
        let wake = idx.record_record("ns1", "alice-conferencing-record", written);
        assert!(wake.users.contains(&("ns1".into(), "bob".into())), "{wake:?}");
        assert!(!idx.is_taken("ns1", "4455667"));
    }

    #[test]
    fn a_replayed_older_record_event_does_not_take_the_index_back() {
        let idx = Index::default();
        let alice = user("alice", "acme");
        idx.apply_user(&alice);
        let newer = record_of(&alice, Some("7000002"), "12");
        let _ = idx.record_record("ns1", "alice-conferencing-record", RecordMeta::from_meta(&newer.metadata));
        let wake = idx.apply_record(&record_of(&alice, Some("7000001"), "11"));
        assert!(wake.users.is_empty());
        assert_eq!(idx.held_id("ns1", "alice").map(|i| i.to_string()).as_deref(), Some("7000002"));
        // A newer event (someone else's write) is taken.
        idx.apply_record(&record_of(&alice, Some("7000003"), "13"));
        assert_eq!(idx.held_id("ns1", "alice").map(|i| i.to_string()).as_deref(), Some("7000003"));
    }

    #[test]
    fn users_by_tenant() {
        let idx = Index::default();
        idx.apply_user(&user("alice", "acme"));
        idx.apply_user(&user("bob", "acme"));
        idx.apply_user(&user("eve", "other"));
        assert_eq!(idx.users_of_tenant("ns1", "acme"), vec!["alice", "bob"]);
        assert_eq!(idx.user_count("ns1", "other"), 1);
        let wake = idx.apply_user(&user("eve", "acme"));
        assert!(
            wake.tenants.contains(&("ns1".into(), "other".into()))
                && wake.tenants.contains(&("ns1".into(), "acme".into()))
        );
    }
}
