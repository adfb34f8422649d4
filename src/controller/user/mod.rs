//! The user reconcile, as a pipeline of named steps: [`dereference`] (tenant, PIN Secret,
//! record, claims, from the caches) -> admission (a `ValidatedUser`, or a reason the user is
//! blocked; `planning::admission`) -> recall (what the operator remembers;
//! `planning::memory`) -> plan (`crate::planning`, pure) -> the one interpreter
//! (`planning::interpreter`) carrying the plan out through [`effects`].

pub(crate) mod adopt;
pub(crate) mod apply;
pub(crate) mod dereference;
pub(crate) mod effects;
pub(crate) mod recheck;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::context::Context;
use crate::api::{ConferencingUser, ConferencingUserStatus, Reason};
use crate::error::{ReconcileError as Error, Result};
use crate::notification::queue::UserKey;
use crate::planning::conditions::INTERNAL_ERROR;
use crate::planning::interpreter::execute;
use crate::planning::memory::{self, Recalled};
use crate::planning::{self, Observed};
use dereference::Dereferenced;
use effects::KubeEffects;

/// How long a reconcile that found the cache older than its own last write waits for the
/// watch to catch up before trusting the cache anyway (the watch event wakes it earlier).
const CACHE_CATCH_UP: Duration = Duration::from_secs(15);

/// The kind, as the metrics name it.
const KIND: &str = "ConferencingUser";

/// The key of a user in the delivery ledger and the backoff.
pub(crate) fn key(user: &ConferencingUser) -> UserKey {
    UserKey {
        namespace: user.namespace().unwrap_or_default(),
        name: user.name_any(),
        uid: user.uid().unwrap_or_default(),
    }
}

/// What the planner observes of `user`, given what it refers to, what is remembered, and the
/// PIN it brings if it is about to be taken over.
fn observed<'a>(
    user: &'a ConferencingUser,
    deref: &'a Dereferenced,
    recalled: &'a Recalled,
    adoptable_pin: Option<&'a planning::AdoptablePin>,
) -> Observed<'a> {
    Observed {
        memory: recalled,
        status: user.status.as_ref(),
        pin_secret: deref.pin_secret.as_ref().map(|s| s.generation.as_deref()),
        pin_secret_unlabelled: deref.pin_secret.as_ref().is_some_and(|s| !s.labelled),
        pin_secret_recorded: deref.pin_secret.as_ref().is_some_and(|s| s.recorded),
        own_claims: &deref.own_claims,
        static_id_holder: deref.static_id_holder.as_ref(),
        adopt_id_holder: deref.adopt_id_holder.as_ref(),
        adoptable_pin,
        rotation_deferred: None,
        current_id_holder: deref.current_id_holder.as_ref(),
        replacements: &deref.replacements,
    }
}

/// What the operator remembers of `user`.
fn recall(user: &ConferencingUser, deref: &Dereferenced) -> Recalled {
    let mut recalled = memory::recall(deref.record(), deref.pin_secret_state(), user.status.as_ref());
    // A record whose labels were removed by hand is written back whole, labels included.
    recalled.stored &= !deref.record_unlabelled;
    recalled
}

/// Reconciles one user.
pub(crate) async fn reconcile(user: Arc<ConferencingUser>, ctx: Arc<Context>) -> Result<Action> {
    let who = key(&user);
    if user.metadata.deletion_timestamp.is_some() {
        // Its Secrets and claims are owned by it and go with it.
        return Ok(Action::await_change());
    }
    if !ctx.expectations.satisfied(&who.uid, user.resource_version().as_deref()) {
        return Ok(ctx.metrics.queue.requeue(KIND, &who.namespace, &who.name, CACHE_CATCH_UP));
    }
    crate::fault::maybe_panic("reconcile", &who.namespace, &who.name);
    if let Some(message) = paused(&user, &ctx) {
        return write_paused(&ctx, &user, &message).await;
    }
    let now = Timestamp::now();
    let deref = match dereference::dereference(&user, &ctx).await {
        Ok(d) => d,
        Err(e @ Error::SecretNameTaken { .. }) => {
            block(&ctx, &user, &Dereferenced::record_only(&user, &ctx), Reason::SecretNameTaken, &e.to_string(), now)
                .await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let recalled = recall(&user, &deref);
    let admitted = planning::admission::admit(&user, deref.tenant.as_deref(), &ctx.policy);
    let (vu, vt) = match admitted {
        Ok(v) => v,
        Err(blocked) => {
            block(&ctx, &user, &deref, blocked.reason, &blocked.message, now).await?;
            return Ok(Action::await_change());
        }
    };
    let found =
        if planning::takes_over(&vu, &recalled.memory) { adopt::inspect(&ctx, &user, &vu, &vt).await? } else { None };
    let mut seen = observed(&user, &deref, &recalled, found.as_ref().map(|f| &f.verdict));
    let mut plan = planning::plan(&vu, &vt, &seen, now);
    // A rotation is an e-mail: it takes room under the tenant's cap before the new PIN is
    // made, or waits for room (planned again, which is cheap and pure). Users waiting for the
    // same room are spread over the seconds after it by their UID, so that they do not all
    // wake together to find only some of it.
    if let Some(cap) = vt.email_cap
        && plan.rotates()
        && let Err(room) = ctx.email_caps.take(&who.namespace, &vt.name, cap, now)
    {
        seen.rotation_deferred = Some(room.checked_add(spread(&who.uid)).unwrap_or(room));
        plan = planning::plan(&vu, &vt, &seen, now);
    }
    let mut fx = KubeEffects::new(&ctx, &user, &deref, Some((&vu, &vt))).adopting(found);
    let done = match execute(plan, &mut fx).await {
        Ok(done) => done,
        // Another user took the ID between the cache read and the claim; the index now knows
        // the holder, and the next plan reports the conflict (or picks another ID). Retried
        // with the user's backoff, so that an index that keeps disagreeing with the API
        // cannot make a hot loop.
        Err(e @ Error::ConferenceIdConflict { .. }) => return Err(e),
        // Someone else's Secret under the PIN Secret's or the record's name: reported,
        // retried with backoff (the watch sees only labelled Secrets, so its removal wakes no
        // one).
        Err(e @ Error::SecretNameTaken { .. }) => {
            block(&ctx, &user, &deref, Reason::SecretNameTaken, &e.to_string(), now).await?;
            return Err(e);
        }
        Err(e @ Error::IdSpaceExhausted { .. }) => {
            block(&ctx, &user, &deref, Reason::IdSpaceExhausted, &e.to_string(), now).await?;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e),
    };
    let owed = done.memory.notifications.pending.iter().filter(|n| !n.permanently_failed).count();
    ctx.metrics.set_pending(&who.uid, owed);
    Ok(done
        .requeue_after
        .map_or_else(Action::await_change, |after| ctx.metrics.queue.requeue(KIND, &who.namespace, &who.name, after)))
}

/// Up to 10 s, from the UID: where in the seconds after the cap has room a waiting user looks
/// again.
fn spread(uid: &str) -> k8s_openapi::jiff::SignedDuration {
    let h = uid.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    k8s_openapi::jiff::SignedDuration::from_millis(i64::from(h % 10_000))
}

/// Carries out the plan of a blocked user: the status says why (with a Warning when that is
/// new); what the operator remembers, and holds, is kept.
async fn block(
    ctx: &Context,
    user: &ConferencingUser,
    deref: &Dereferenced,
    reason: Reason,
    message: &str,
    now: Timestamp,
) -> Result<()> {
    let recalled = recall(user, deref);
    let plan = planning::blocked(
        &observed(user, deref, &recalled, None),
        &user.name_any(),
        user.metadata.generation,
        reason,
        message,
        now,
    );
    execute(plan, &mut KubeEffects::new(ctx, user, deref, None)).await.map(drop)
}

/// Why the user is paused, if it or its tenant is (`conferencing.io/paused: "true"`).
pub(crate) fn paused(user: &ConferencingUser, ctx: &Context) -> Option<String> {
    if crate::api::is_paused(&user.metadata) {
        return Some(format!(
            "{} is \"true\" on this user: the operator changes nothing and sends no e-mail for it until the annotation is removed",
            crate::api::PAUSED_ANNOTATION
        ));
    }
    let ns = user.namespace().unwrap_or_default();
    let tenant = ctx.tenants.get(&kube::runtime::reflector::ObjectRef::new(&user.spec.tenant_ref.name).within(&ns))?;
    crate::api::is_paused(&tenant.metadata).then(|| {
        format!(
            "{} is \"true\" on tenant {}: the operator changes nothing and sends no e-mail for its users until the annotation is removed",
            crate::api::PAUSED_ANNOTATION,
            crate::domain::escape_for_terminal(&user.spec.tenant_ref.name)
        )
    })
}

/// Writes only the `ReconciliationPaused` condition, once; no Event (pausing is asked for, and
/// a paused object gets no writes but this one). E-mails already queued are held back by the
/// recheck at send time, and stay owed in the record.
async fn write_paused(ctx: &Context, user: &ConferencingUser, message: &str) -> Result<Action> {
    let stored = user.status.clone().unwrap_or_default();
    // The record's mirror, as at any write (a status written by someone else is not kept); a
    // user an older version provisioned has no record yet, and keeps its status.
    let record = Dereferenced::record_only(user, ctx).record.and_then(|r| r.memory);
    let mut st = match record {
        Some(memory) => memory.mirror(&user.name_any(), stored.conditions.clone()),
        None => ConferencingUserStatus { unreadable: Vec::new(), ..stored },
    };
    // The generation the operator last acted on, not the current one: a spec change while
    // paused is not observed, and must not cost a write.
    let observed = st.observed_generation;
    crate::planning::conditions::paused(&mut st, message, observed, Timestamp::now());
    if user.status.as_ref() != Some(&st) {
        let mut next = user.clone();
        next.status = Some(st);
        let written = super::apply_status::write_status(&ctx.client, &next).await?;
        ctx.expectations.expect(&key(user).uid, written.metadata.resource_version.as_deref());
    }
    Ok(Action::await_change())
}

/// Reports a reconcile that panicked on the user, as far as that is possible; a failure to
/// write is only logged (the error policy retries the reconcile with backoff anyway).
pub(crate) async fn report_internal_error(ctx: &Context, user: &ConferencingUser) {
    let message = "the reconcile failed unexpectedly (a bug; see the operator's log); retrying with backoff";
    // From the caches alone: the reconcile that panicked may have panicked reading the rest.
    let deref = Dereferenced::record_only(user, ctx);
    if let Err(e) = block(ctx, user, &deref, INTERNAL_ERROR, message, Timestamp::now()).await {
        tracing::warn!(user = %user.name_any(), error = %e, "could not report the internal error on the user");
    }
}

/// Retries after a failure: a stale view at once (the newer object is on its way), anything
/// else with per-object exponential backoff.
pub(crate) fn error_policy(user: Arc<ConferencingUser>, error: &Error, ctx: Arc<Context>) -> Action {
    let k = key(&user);
    if error.is_stale_view() {
        tracing::debug!(user = %k.name, namespace = %k.namespace, error = %error, "stale view; retrying");
        return ctx.metrics.queue.requeue(KIND, &k.namespace, &k.name, Duration::from_millis(500));
    }
    let delay = ctx.backoff.failed(&crate::controller::backoff::user_key(&k.namespace, &k.uid));
    tracing::warn!(user = %k.name, namespace = %k.namespace, error = %error, kind = error.metric_label(), retry_in = ?delay, "reconcile failed; retrying");
    ctx.metrics.queue.requeue(KIND, &k.namespace, &k.name, delay)
}
