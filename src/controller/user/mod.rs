//! The user reconcile, as a pipeline of named steps, a file each:
//! [`dereference`] (tenant, PIN Secret, claims, from the caches) -> [`validate`] (a
//! `ValidatedUser`, or a reason the user is blocked) -> plan ([`crate::planning`], pure) ->
//! [`apply`] provision -> [`deliver`] (queue e-mails, merge results) -> [`status`] (one write)
//! -> [`apply`] clean-up.

pub mod apply;
pub mod deliver;
pub mod dereference;
pub mod recheck;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::context::Context;
use crate::api::ConferencingUser;
use crate::api::{ConditionType, ConferencingUserStatus};
use crate::error::{Error, Result};
use crate::notification::queue::UserKey;
use crate::planning::conditions::{INTERNAL_ERROR, settle};
use crate::planning::{self, Observed, Plan, PlannedEvent, describe};

/// How long a reconcile that found the cache older than its own last write waits for the
/// watch to catch up before trusting the cache anyway (the watch event wakes it earlier).
const CACHE_CATCH_UP: Duration = Duration::from_secs(15);

/// The kind, as the metrics name it.
const KIND: &str = "ConferencingUser";

/// The key of a user in the delivery ledger and the backoff.
pub fn key(user: &ConferencingUser) -> UserKey {
    UserKey {
        namespace: user.namespace().unwrap_or_default(),
        name: user.name_any(),
        uid: user.uid().unwrap_or_default(),
    }
}

/// Reconciles one user.
pub async fn reconcile(user: Arc<ConferencingUser>, ctx: Arc<Context>) -> Result<Action> {
    let who = key(&user);
    if user.metadata.deletion_timestamp.is_some() {
        // Its Secret and claims are owned by it and go with it.
        return Ok(Action::await_change());
    }
    if !ctx.expectations.satisfied(&who.uid, user.resource_version().as_deref()) {
        return Ok(ctx.metrics.queue.requeue(KIND, &who.namespace, &who.name, CACHE_CATCH_UP));
    }
    crate::fault::maybe_panic("reconcile", &who.namespace, &who.name);
    if let Some(message) = paused(&user, &ctx) {
        return write_paused(&ctx, &user, &message).await;
    }
    let deref = match dereference::dereference(&user, &ctx).await {
        Ok(d) => d,
        Err(e @ Error::SecretNameTaken { .. }) => {
            write_blocked(&ctx, &user, "SecretNameTaken", &e.to_string()).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let (vu, vt) = match validate::validate(&user, &deref, &ctx.policy) {
        Ok(v) => v,
        Err(blocked) => {
            write_blocked(&ctx, &user, blocked.reason, &blocked.message).await?;
            return Ok(Action::await_change());
        }
    };
    let observed = Observed {
        status: user.status.as_ref(),
        pin_secret: deref.pin_secret.as_ref().map(|s| s.generation.as_deref()),
        own_claims: &deref.own_claims,
        static_id_holder: deref.static_id_holder.as_ref(),
        current_id_holder: deref.current_id_holder.as_ref(),
        replacements: &deref.replacements,
    };
    let Plan { provision, mut status, ready, cleanup, events, outcomes } =
        planning::plan(&vu, &vt, &observed, Timestamp::now());

    let fresh_pin = match apply::provision(&ctx, &user, &deref, provision, &mut status).await {
        Ok(p) => p,
        // Another user took the ID between the cache read and the claim; the index now knows
        // the holder, and the next plan reports the conflict (or picks another ID). Retried
        // with the user's backoff, so that an index that keeps disagreeing with the API
        // cannot make a hot loop.
        Err(e @ Error::ConferenceIdConflict { .. }) => return Err(e),
        // Someone else's Secret under the PIN Secret's name: reported, retried with backoff
        // (the watch sees only labelled Secrets, so its removal wakes no one).
        Err(e @ Error::SecretNameTaken { .. }) => {
            write_blocked(&ctx, &user, "SecretNameTaken", &e.to_string()).await?;
            return Err(e);
        }
        Err(e @ Error::IdSpaceExhausted { .. }) => {
            write_blocked(&ctx, &user, "IdSpaceExhausted", &e.to_string()).await?;
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e),
    };

    let delivery = deliver::deliver(&ctx, &who, &vu, &vt, user.status.as_ref(), &mut status, fresh_pin.as_ref()).await;
    drop(fresh_pin);
    // An e-mail whose composition panicked is recorded as such and retried with the outbox's
    // backoff; settling reports it as `InternalError` until it is delivered.
    settle(&mut status, &ready, user.metadata.generation, Timestamp::now());

    if user.status.as_ref() != Some(&status) {
        status::write(&ctx, &user, &status).await?;
        let subject = crate::audit::Subject { namespace: &who.namespace, name: &who.name, uid: &who.uid };
        crate::audit::emit(&crate::audit::records(
            subject,
            user.status.as_ref(),
            &status,
            &delivery.delivered,
            Timestamp::now(),
        ));
        let emailed = |kind| {
            status
                .notifications
                .delivered
                .iter()
                .find(|d| d.kind == kind && delivery.delivered.contains(&d.message_id))
                .map(|d| d.recipient.clone())
        };
        let described = outcomes.iter().filter(|o| !o.by_tenant).map(|o| {
            let mut e = describe(o, &status);
            if let Some(to) = emailed(o.kind) {
                e.message.push_str(&format!("; e-mailed to {to}"));
            }
            e
        });
        let all: Vec<PlannedEvent> = described.chain(events).chain(delivery.events.iter().cloned()).collect();
        for e in &all {
            ctx.publish(&*user, e).await;
        }
    }
    if let Some(queue) = &ctx.delivery {
        let pending: Vec<String> = status.notifications.pending.iter().map(|n| n.message_id.clone()).collect();
        queue.written(&who, &delivery.recorded, &pending);
    }
    apply::cleanup(&ctx, &user, &deref, cleanup).await?;
    let owed = status.notifications.pending.iter().filter(|n| !n.permanently_failed).count();
    ctx.metrics.set_pending(&who.uid, owed);
    Ok(deliver::requeue_after(&status, &delivery)
        .map_or_else(Action::await_change, |after| ctx.metrics.queue.requeue(KIND, &who.namespace, &who.name, after)))
}

/// Why the user is paused, if it or its tenant is (`conferencing.io/paused: "true"`).
pub fn paused(user: &ConferencingUser, ctx: &Context) -> Option<String> {
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
/// recheck at send time, and stay owed in the status.
async fn write_paused(ctx: &Context, user: &ConferencingUser, message: &str) -> Result<Action> {
    let mut st = user.status.clone().unwrap_or_default();
    st.unreadable = Vec::new();
    // The generation the status last observed, not the current one: a spec change while paused
    // is not observed, and must not cost a write.
    let observed = st.observed_generation;
    crate::planning::conditions::paused(&mut st, message, observed, Timestamp::now());
    if user.status.as_ref() != Some(&st) {
        status::write(ctx, user, &st).await?;
    }
    Ok(Action::await_change())
}

/// Writes `Ready=False` with `reason`, keeping everything the user holds; a Warning Event
/// when the reason or message is new.
pub async fn write_blocked(ctx: &Context, user: &ConferencingUser, reason: &str, message: &str) -> Result<()> {
    let st =
        planning::blocked_status(user.status.as_ref(), user.metadata.generation, reason, message, Timestamp::now());
    if Some(&st) == user.status.as_ref() {
        return Ok(());
    }
    status::write(ctx, user, &st).await?;
    let before = user.status.as_ref().and_then(|s| crate::api::condition::find(&s.conditions, ConditionType::Ready));
    if before.is_none_or(|c| c.reason != reason || c.message != message) {
        ctx.publish(user, &PlannedEvent::warning(reason, message)).await;
    }
    Ok(())
}

/// Reports a reconcile that panicked on the user, as far as that is possible; a failure to
/// write is only logged (the error policy retries the reconcile with backoff anyway).
pub async fn report_internal_error(ctx: &Context, user: &ConferencingUser) {
    let message = "the reconcile failed unexpectedly (a bug; see the operator's log); retrying with backoff";
    let prev: Option<&ConferencingUserStatus> = user.status.as_ref();
    let st = planning::blocked_status(prev, user.metadata.generation, INTERNAL_ERROR, message, Timestamp::now());
    if prev != Some(&st)
        && let Err(e) = status::write(ctx, user, &st).await
    {
        tracing::warn!(user = %user.name_any(), error = %e, "could not report the internal error on the user");
    }
}

/// Retries after a failure: a stale view at once (the newer object is on its way), anything
/// else with per-object exponential backoff.
pub fn error_policy(user: Arc<ConferencingUser>, error: &Error, ctx: Arc<Context>) -> Action {
    let k = key(&user);
    if error.is_stale_view() {
        tracing::debug!(user = %k.name, namespace = %k.namespace, error = %error, "stale view; retrying");
        return ctx.metrics.queue.requeue(KIND, &k.namespace, &k.name, Duration::from_millis(500));
    }
    let delay = ctx.backoff.failed(&crate::controller::backoff::user_key(&k.namespace, &k.uid));
    tracing::warn!(user = %k.name, namespace = %k.namespace, error = %error, kind = error.metric_label(), retry_in = ?delay, "reconcile failed; retrying");
    ctx.metrics.queue.requeue(KIND, &k.namespace, &k.name, delay)
}
