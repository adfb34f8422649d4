//! The planner's tests, by behaviour; the plans are carried out by the interpreter in an
//! in-memory world (`planning::world`), which can stop between any two effects.

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::{
    ConditionType, ConferencingUserStatus, NotificationKind, PendingNotification, ProviderType, Reason, RequestKind,
};
use crate::api::{
    ConferenceIdMode, ConferencingTenant, ConferencingUser, HandledToken, Locale, PIN_MASK, ProviderSpec, SecretKeyRef,
};
use crate::domain::{ConferenceId, IdLength, PinLength};
use crate::fixtures::{TenantBuilder, UserBuilder, tenant, user};
use crate::provisioning::claim::Holder;
use crate::validation::{ClusterPolicy, validate_tenant, validate_user};
use crate::validation::{ValidatedTenant, ValidatedUser};

mod crashes;
mod forged_status;
mod held_emails;
mod licences_and_providers;
mod lifecycle;
mod provisioning;
mod requests;
mod status_mirror;
mod takeover;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("valid")
}

fn id(s: &str) -> ConferenceId {
    ConferenceId::parse(s).expect("valid id")
}

/// The world the planner's plans are carried out in, by the one interpreter, with the mail
/// server answering nothing (so that what is owed stays visible), and plans made at `now()`.
/// A test stops it between any two effects with [`W::apply`].
struct W(world::World);

impl std::ops::Deref for W {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.0
    }
}

impl std::ops::DerefMut for W {
    fn deref_mut(&mut self) -> &mut world::World {
        &mut self.0
    }
}

fn validated(u: &ConferencingUser, t: &ConferencingTenant) -> (ValidatedUser, ValidatedTenant) {
    let t = validate_tenant(t, &ClusterPolicy::unrestricted()).expect("valid tenant");
    let u = validate_user(u, &t).expect("valid user");
    (u, t)
}

impl W {
    fn default() -> W {
        let mut w = world::World::new(now());
        w.mail = world::Mail::Hold;
        w.ids.base = Some(7_000_001);
        W(w)
    }

    fn plan(&self, u: &ConferencingUser, t: &ConferencingTenant) -> Plan {
        let (u, t) = validated(u, t);
        self.0.plan(&u, &t)
    }

    fn plan_with(&self, u: &ConferencingUser, t: &ConferencingTenant, holder: Option<&Holder>) -> Plan {
        let mut w = self.0.clone();
        w.static_holder = holder.cloned();
        let (u, t) = validated(u, t);
        w.plan(&u, &t)
    }

    /// Carries out the plan's first `steps` effects (the provisioning ones, the record write,
    /// the status write, the clean-up ones, in that order; all of them with `usize::MAX`),
    /// then stops; returns the plan as it was carried out (its allocated ID filled in).
    fn apply(&mut self, plan: Plan, steps: usize) -> Plan {
        self.0.budget = (steps != usize::MAX).then_some(steps);
        let done = self.0.execute(plan.clone());
        self.0.budget = None;
        match done {
            Ok(done) => Plan { memory: done.memory, ..plan },
            Err(world::Crashed) => plan,
        }
    }

    fn run(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> Plan {
        let p = self.plan(u, t);
        self.apply(p, usize::MAX)
    }

    /// Runs once and says whether the plan was a no-op.
    fn run_is_noop(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> bool {
        self.run(u, t).is_noop()
    }

    fn status(&self) -> &ConferencingUserStatus {
        self.0.status.as_ref().expect("status written")
    }

    fn pending_kinds(&self) -> Vec<NotificationKind> {
        self.status().notifications.pending.iter().map(|n| n.kind).collect()
    }

    /// Runs until the plan is a no-op and returns how many passes it took.
    fn converge(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> usize {
        let (vu, vt) = validated(u, t);
        self.0.converge(&vu, &vt, 10).unwrap_or_else(|| panic!("did not converge: {:?}", self.plan(u, t)))
    }
}

/// The status a plan mirrors its memory into.
fn mirror(p: &Plan) -> ConferencingUserStatus {
    interpreter::mirror_of(p, p.memory())
}

/// A PIN step of the fixture tenant: its rules (its numbers' endings), no history.
fn pin_step(generation: &str, length: u8) -> Option<PinStep> {
    let rules = validate_tenant(&tenant("acme"), &ClusterPolicy::unrestricted()).expect("valid tenant").pin_rules;
    let how = Generation { length: PinLength::new(length).expect("length"), rules, history: 0 };
    Some(PinStep { generation: generation.into(), pin: NewPin::Generate(how) })
}

fn kinds(p: &Plan) -> Vec<NotificationKind> {
    p.outcomes().iter().map(|o| o.kind).collect()
}

fn enabled_world(u: &ConferencingUser, t: &ConferencingTenant) -> W {
    let mut w = W::default();
    w.converge(u, t);
    w
}

fn ready(st: &ConferencingUserStatus) -> &crate::api::Condition {
    crate::api::condition::find(&st.conditions, ConditionType::Ready).expect("Ready condition")
}
