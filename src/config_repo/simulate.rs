//! The state `plan` compares against: either the `--from` tree as the operator would leave it
//! once converged (synthesised by running the controller's own planner on each user until it
//! has nothing left to do), or the cluster's objects and their status (`--live`).

use std::collections::{HashMap, HashSet};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::live::LiveState;
use super::validate::Tree;
use crate::api::{ConferencingTenantSpec, ConferencingUserSpec, ConferencingUserStatus};
use crate::domain::ConferenceId;
use crate::planning::{Cleanup, Observed, Provision, outbox, plan};
use crate::validation::{ClusterPolicy, ValidatedTenant, validate_tenant};

/// What the planner observes of one user before the change.
#[derive(Clone, Debug, Default)]
pub struct PriorUser {
    /// Status.
    pub status: Option<ConferencingUserStatus>,
    /// `Some(generation)` when the PIN Secret exists.
    pub pin_secret: Option<Option<String>>,
    /// IDs the user holds claims on.
    pub claims: Vec<ConferenceId>,
    /// UID (synthetic offline: only Message-IDs use it, and the same one is used on both sides).
    pub uid: String,
    /// metadata.generation.
    pub generation: i64,
    /// The spec, to tell whether the new tree changes it (and so bumps the generation).
    pub spec: Option<ConferencingUserSpec>,
}

/// A tenant before the change.
#[derive(Clone, Debug, Default)]
pub struct PriorTenant {
    /// metadata.generation.
    pub generation: i64,
    /// The spec.
    pub spec: Option<ConferencingTenantSpec>,
    /// The tenant as validated, when valid.
    pub validated: Option<ValidatedTenant>,
}

/// The state before the change.
#[derive(Clone, Debug, Default)]
pub struct Prior {
    /// Users by (namespace, name).
    pub users: HashMap<(String, String), PriorUser>,
    /// Tenants by (namespace, name).
    pub tenants: HashMap<(String, String), PriorTenant>,
    /// Whether this is the cluster's state.
    pub live: bool,
}

/// The UID used for a user that has none (offline, or not created yet): stable, so that the
/// Message-IDs of the two sides of an offline plan agree.
pub fn synthetic_uid(namespace: &str, name: &str) -> String {
    format!("offline.{namespace}.{name}")
}

/// Passes after which a user that still plans work is taken as converged; the planner
/// converges in two or three.
const MAX_PASSES: usize = 8;

/// The `--from` tree, converged: every valid user planned and "applied" until the planner has
/// nothing left to do, with distinct synthetic conference IDs for users without a static one
/// and the PIN Secret holding the generation the planner chose.
pub fn converge(tree: &Tree, now: Timestamp) -> Prior {
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
    let mut used: HashMap<String, HashSet<String>> = HashMap::new();
    for u in &tree.users {
        if let Some(id) = u.object.as_ref().and_then(|o| o.spec.conference_id.clone()) {
            used.entry(u.id.namespace.clone()).or_default().insert(id);
        }
    }
    let mut counters: HashMap<String, u64> = HashMap::new();
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
            for _ in 0..MAX_PASSES {
                let observed = Observed {
                    status: p.status.as_ref(),
                    pin_secret: p.pin_secret.as_ref().map(|g| g.as_deref()),
                    own_claims: &p.claims,
                    ..Default::default()
                };
                let mut planned = plan(&v, &t, &observed, now);
                if planned.is_noop(p.status.as_ref()) {
                    break;
                }
                for step in planned.provision.clone() {
                    match step {
                        Provision::ClaimId(id) => {
                            if !p.claims.contains(&id) {
                                p.claims.push(id);
                            }
                        }
                        Provision::AllocateId { length: len, .. } => {
                            let taken = used.entry(ns.clone()).or_default();
                            let counter = counters.entry(ns.clone()).or_insert(0);
                            let id = synthetic_id(len.get(), counter, taken);
                            planned.status.conference_id = Some(id.to_string());
                            p.claims.push(id);
                        }
                        Provision::GeneratePin { generation, .. } => p.pin_secret = Some(Some(generation)),
                    }
                }
                // Converged means every e-mail owed was delivered: what plan compares with
                // is a tree the operator has finished with.
                let mut st = planned.status.clone();
                let owed: Vec<String> = st.notifications.pending.iter().map(|n| n.message_id.clone()).collect();
                for id in owed {
                    outbox::record(&mut st, &id, &outbox::Attempt::Delivered, now);
                }
                crate::planning::conditions::settle(&mut st, &planned.ready, Some(v.generation), now);
                p.status = Some(st);
                for step in planned.cleanup.clone() {
                    match step {
                        Cleanup::DeletePinSecret => p.pin_secret = None,
                        Cleanup::ReleaseIds(ids) => p.claims.retain(|c| !ids.contains(c)),
                    }
                }
            }
        }
        prior.users.insert((ns, u.id.name.clone()), p);
    }
    prior
}

/// A free ID of `len` digits: sequential from 10^(len-1), skipping IDs in use.
fn synthetic_id(len: usize, counter: &mut u64, taken: &mut HashSet<String>) -> ConferenceId {
    let base = 10u64.saturating_pow(u32::try_from(len.saturating_sub(1)).unwrap_or(0));
    loop {
        let s = (base + *counter).to_string();
        *counter += 1;
        if !taken.contains(&s)
            && let Some(id) = ConferenceId::parse(&s)
        {
            taken.insert(s);
            return id;
        }
    }
}

/// The cluster's state: each user's status, PIN Secret generation and claims, as read.
pub fn from_live(live: &LiveState) -> Prior {
    let mut prior = Prior { live: true, ..Prior::default() };
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
            pin_secret: live.pin_secret(&ns, &name, &uid).map(|g| g.map(str::to_string)),
            claims,
            uid,
            generation: u.metadata.generation.unwrap_or(1),
            spec: Some(u.spec.clone()),
        };
        prior.users.insert((ns, name), p);
    }
    prior
}
