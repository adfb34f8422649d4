//! The state `plan` compares against: either the `--from` tree as the operator would leave it
//! once converged (synthesised by carrying the controller's own plans out in a world in
//! memory, with the same interpreter, until there is nothing left to do), or the cluster's
//! objects and the operator's records (`--live`).

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::live::LiveState;
use super::validate::Tree;
use crate::api::record::UserMemory;
use crate::api::{ConferencingTenantSpec, ConferencingUserSpec, ConferencingUserStatus};
use crate::domain::ConferenceId;
use crate::planning::memory::{self, Recalled};
use crate::planning::world::{Ids, World};
use crate::planning::{AdoptablePin, Observed, PinSource};
use crate::validation::{ClusterPolicy, ValidatedTenant, ValidatedUser, validate_tenant};

/// What the planner observes of one user before the change.
#[derive(Clone, Debug, Default)]
pub(crate) struct PriorUser {
    /// Status.
    pub status: Option<ConferencingUserStatus>,
    /// The operator's record: `None` when there is none, `Some(None)` when it is unreadable.
    pub record: Option<Option<UserMemory>>,
    /// `Some(generation)` when the PIN Secret exists.
    pub pin_secret: Option<Option<String>>,
    /// Whether it carries the mark of an operator that keeps records.
    pub pin_secret_recorded: bool,
    /// IDs the user holds claims on.
    pub claims: Vec<ConferenceId>,
    /// UID (synthetic offline: only Message-IDs use it, and the same one is used on both sides).
    pub uid: String,
    /// metadata.generation.
    pub generation: i64,
    /// The spec, to tell whether the new tree changes it (and so bumps the generation).
    pub spec: Option<ConferencingUserSpec>,
    /// Whether a Secret labelled for adoption has the user's PIN Secret name (`--live`).
    pub adoptable_in_place: bool,
}

impl PriorUser {
    /// What the operator would remember of the user.
    pub(crate) fn recall(&self) -> Recalled {
        let record = match &self.record {
            None => memory::Record::Absent,
            Some(None) => memory::Record::Unreadable,
            Some(Some(m)) => memory::Record::Read(m),
        };
        let pin_secret = match (&self.pin_secret, self.pin_secret_recorded) {
            (None, _) => memory::PinSecret::Absent,
            (Some(_), true) => memory::PinSecret::Recorded,
            (Some(_), false) => memory::PinSecret::Unrecorded,
        };
        memory::recall(record, pin_secret, self.status.as_ref())
    }

    /// The PIN user `v` brings, as `plan` assumes it: one `spec.adopt.pinSecretRef` names,
    /// or (with `--live`) one labelled under its PIN Secret's name, taken to be a valid PIN
    /// (`plan` never reads a PIN); the operator replaces one that is not, with an e-mail and a
    /// Warning.
    pub(crate) fn adoptable(&self, v: &ValidatedUser) -> Option<AdoptablePin> {
        match v.adoption.as_ref().and_then(|a| a.pin_source.clone()) {
            Some(r) => Some(AdoptablePin::Valid(PinSource::Secret(r))),
            None => self.adoptable_in_place.then_some(AdoptablePin::Valid(PinSource::InPlace)),
        }
    }

    /// What the planner observes of the user, remembering `recalled`, bringing `adoptable`.
    pub(crate) fn observed<'a>(&'a self, recalled: &'a Recalled, adoptable: Option<&'a AdoptablePin>) -> Observed<'a> {
        Observed {
            memory: recalled,
            status: self.status.as_ref(),
            pin_secret: self.pin_secret.as_ref().map(|g| g.as_deref()),
            pin_secret_unlabelled: false,
            pin_secret_recorded: self.pin_secret_recorded,
            own_claims: &self.claims,
            static_id_holder: None,
            adopt_id_holder: None,
            adoptable_pin: adoptable,
            rotation_deferred: None,
            current_id_holder: None,
            replacements: &[],
        }
    }
}

/// A tenant before the change.
#[derive(Clone, Debug, Default)]
pub(crate) struct PriorTenant {
    /// metadata.generation.
    pub generation: i64,
    /// The spec.
    pub spec: Option<ConferencingTenantSpec>,
    /// The tenant as validated, when valid.
    pub validated: Option<ValidatedTenant>,
}

/// The state before the change.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prior {
    /// Users by (namespace, name).
    pub users: HashMap<(String, String), PriorUser>,
    /// Tenants by (namespace, name).
    pub tenants: HashMap<(String, String), PriorTenant>,
    /// Whether this is the cluster's state.
    pub live: bool,
    /// With `--live`: the Secrets labelled as holding a PIN to adopt, by (namespace, name).
    pub adoptable: std::collections::BTreeSet<(String, String)>,
}

/// The UID used for a user that has none (offline, or not created yet): stable, so that the
/// Message-IDs of the two sides of an offline plan agree.
pub(crate) fn synthetic_uid(namespace: &str, name: &str) -> String {
    format!("offline.{namespace}.{name}")
}

/// Passes after which a user that still plans work is taken as converged; the planner
/// converges in two or three.
const MAX_PASSES: usize = 8;

/// The `--from` tree, converged: every valid user planned and carried out in a world in
/// memory until the planner has nothing left to do (every e-mail owed delivered), with
/// distinct synthetic conference IDs for users without a static one.
pub(crate) fn converge(tree: &Tree, now: Timestamp) -> Prior {
    let mut prior = Prior::default();
    for t in &tree.tenants {
        let generation = 1;
        let validated = t.validated.clone().map(|mut v| {
            v.generation = generation;
            v
        });
        prior.tenants.insert(
            (t.id.namespace.clone(), t.id.name.clone()),
            PriorTenant { generation, spec: t.object.as_ref().map(|o| o.spec.clone()), validated },
        );
    }
    // Allocated IDs must not collide with any static ID of the namespace.
    let mut ids: HashMap<String, Ids> = HashMap::new();
    for u in &tree.users {
        let spec = u.object.as_ref().map(|o| &o.spec);
        let adopted = spec.and_then(|s| s.adopt.as_ref()).and_then(|a| a.conference_id.clone());
        for id in spec.and_then(|s| s.conference_id.clone()).into_iter().chain(adopted) {
            ids.entry(u.id.namespace.clone()).or_default().taken.insert(id);
        }
    }
    for u in &tree.users {
        let ns = u.id.namespace.clone();
        let uid = synthetic_uid(&ns, &u.id.name);
        let mut p = PriorUser {
            uid: uid.clone(),
            generation: 1,
            spec: u.object.as_ref().map(|o| o.spec.clone()),
            ..PriorUser::default()
        };
        if let (Some(v), Some(t)) = (&u.validated, &u.tenant) {
            let mut v = v.clone();
            v.uid = uid;
            v.generation = 1;
            let mut t = t.clone();
            t.generation = 1;
            let mut world = World::new(now);
            world.adoptable = p.adoptable(&v);
            world.ids = ids.remove(&ns).unwrap_or_default();
            // A user that does not settle within the passes is taken as it is then.
            let _ = world.converge(&v, &t, MAX_PASSES);
            ids.insert(ns.clone(), std::mem::take(&mut world.ids));
            p.status = world.status;
            p.record = world.record.map(Some);
            p.pin_secret = world.secret.map(Some);
            p.pin_secret_recorded = world.secret_recorded;
            p.claims = world.claims;
        }
        prior.users.insert((ns, u.id.name.clone()), p);
    }
    prior
}

/// The cluster's state: each user's status, record, PIN Secret generation and claims, as read.
pub(crate) fn from_live(live: &LiveState) -> Prior {
    let mut prior = Prior { live: true, adoptable: live.adoptable.clone(), ..Prior::default() };
    for t in &live.tenants {
        let key = (t.namespace().unwrap_or_default(), t.name_any());
        prior.tenants.insert(
            key,
            PriorTenant {
                generation: t.metadata.generation.unwrap_or(1),
                spec: Some(t.spec.clone()),
                validated: validate_tenant(t, &ClusterPolicy::unrestricted()).ok(),
            },
        );
    }
    for u in &live.users {
        let ns = u.namespace().unwrap_or_default();
        let name = u.name_any();
        let uid = u.metadata.uid.clone().unwrap_or_default();
        let claims = live.claims_of(&ns, &uid).iter().filter_map(|c| ConferenceId::parse(&c.conference_id)).collect();
        let p = PriorUser {
            status: u.status.clone(),
            record: live.record(&ns, &name, &uid).map(|m| m.cloned()),
            pin_secret: live.pin_secret(&ns, &name, &uid).map(|g| g.map(str::to_string)),
            pin_secret_recorded: live.pin_secret_recorded(&ns, &name, &uid),
            claims,
            uid,
            generation: u.metadata.generation.unwrap_or(1),
            spec: Some(u.spec.clone()),
            adoptable_in_place: live.adoptable_in_place(&ns, &name),
        };
        prior.users.insert((ns, name), p);
    }
    prior
}
