//! The user reconcile, as a pipeline of named steps, a file each:
//! [`dereference`] (tenant, PIN Secret, claims, from the caches) -> [`validate`] (a
//! `ValidatedUser`, or a reason the user is blocked) -> plan ([`crate::planning`], pure) ->
//! [`apply`] (carry the plan out) -> [`status`] (server-side apply of the status).

pub mod apply;
pub mod deliver;
pub mod dereference;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::context::Context;
use crate::api::ConferencingUser;
use crate::error::{Error, Result};
use crate::planning::{self, Observed, PlannedEvent};

/// Reconciles one user.
pub async fn reconcile(user: Arc<ConferencingUser>, ctx: Arc<Context>) -> Result<Action> {
    tracing::debug!(user = %user.name_any(), "reconcile start");
    if !ctx.caches_ready().await {
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    tracing::debug!(user = %user.name_any(), "caches ready");
    if user.metadata.deletion_timestamp.is_some() {
        // Its Secret and claim are owned by it and go with it.
        return Ok(Action::await_change());
    }
    if !ctx.expectations.satisfied(&user.uid().unwrap_or_default(), user.resource_version().as_deref()) {
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let deref = dereference::dereference(&user, &ctx).await?;
    let (vu, vt) = match validate::validate(&user, &deref) {
        Ok(v) => v,
        Err(blocked) => {
            let st = planning::blocked_status(
                user.status.as_ref(),
                user.metadata.generation,
                blocked.reason,
                &blocked.message,
                Timestamp::now(),
            );
            if Some(&st) != user.status.as_ref() {
                status::write(&ctx, &user, &st).await?;
                ctx.publish(
                    &*user,
                    &PlannedEvent {
                        severity: planning::Severity::Warning,
                        reason: blocked.reason.into(),
                        message: blocked.message,
                    },
                )
                .await;
            }
            return Ok(Action::await_change());
        }
    };
    let observed = Observed {
        status: user.status.as_ref(),
        pin_secret: deref.pin_secret.as_ref().map(|s| crate::provisioning::secret::secret_generation(s)),
        own_claims: &deref.own_claims,
        static_id_holder: deref.static_id_holder.as_ref(),
    };
    let plan = planning::plan(&vu, &vt, &observed, Timestamp::now());
    let status = match apply::apply(&ctx, &user, plan).await {
        Err(Error::ConferenceIdConflict { holder, .. }) => {
            // Another user claimed the ID between our cache read and our claim: plan again
            // knowing the holder, which only reports the conflict.
            let observed = Observed { static_id_holder: Some(&holder), ..observed };
            let plan = planning::plan(&vu, &vt, &observed, Timestamp::now());
            apply::apply(&ctx, &user, plan).await?
        }
        other => other?,
    };
    match deliver::deliver(&ctx, &user, &vu, &vt, &status).await? {
        Some(retry) => Ok(Action::requeue(retry)),
        None => Ok(Action::await_change()),
    }
}

/// Transient failures back off (the controller's per-object exponential backoff); this is
/// the requeue after it.
pub fn error_policy(user: Arc<ConferencingUser>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(user = %user.name_any(), namespace = ?user.namespace(), error = %error, kind = error.metric_label(), "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
