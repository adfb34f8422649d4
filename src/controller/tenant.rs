//! The tenant reconcile: validate the spec, count the users, report `Ready`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::context::Context;
use crate::api::condition::{DesiredCondition, merge_conditions};
use crate::api::{ConditionType, ConferencingTenant, ConferencingTenantStatus};
use crate::error::{Error, Result};
use crate::planning::{PlannedEvent, Severity};
use crate::validation::validate_tenant;

/// Number of users in `namespace` that reference tenant `name`, from the user cache.
pub fn user_count(ctx: &Context, namespace: &str, name: &str) -> u32 {
    let n = ctx
        .users
        .state()
        .iter()
        .filter(|u| u.namespace().as_deref() == Some(namespace) && u.spec.tenant_ref.name == name)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reconciles one tenant.
pub async fn reconcile(tenant: Arc<ConferencingTenant>, ctx: Arc<Context>) -> Result<Action> {
    if !ctx.caches_ready().await {
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    if tenant.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = tenant.namespace().unwrap_or_default();
    let name = tenant.name_any();
    let generation = tenant.metadata.generation;
    let prev = tenant.status.clone().unwrap_or_default();
    let (condition, invalid) = match validate_tenant(&tenant) {
        Ok(_) => (DesiredCondition::true_(ConditionType::Ready, "Reconciled", "the tenant's settings are valid"), None),
        Err(e) => (DesiredCondition::false_(ConditionType::Ready, "InvalidSpec", e.to_string()), Some(e)),
    };
    let status = ConferencingTenantStatus {
        conditions: merge_conditions(&prev.conditions, &[condition], generation, Timestamp::now()),
        observed_generation: generation,
        users: user_count(&ctx, &ns, &name),
    };
    if status != prev {
        super::apply_status::apply_status(&ctx.client, &*tenant, &status).await?;
        let became_invalid = prev.conditions.iter().all(|c| {
            c.reason != "InvalidSpec" || c.message != invalid.as_ref().map(ToString::to_string).unwrap_or_default()
        });
        if let Some(e) = invalid.filter(|_| became_invalid) {
            ctx.publish(
                &*tenant,
                &PlannedEvent { severity: Severity::Warning, reason: "InvalidSpec".into(), message: e.to_string() },
            )
            .await;
        }
    }
    Ok(Action::await_change())
}

/// Requeue after a failure.
pub fn error_policy(tenant: Arc<ConferencingTenant>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(tenant = %tenant.name_any(), namespace = ?tenant.namespace(), error = %error, "tenant reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
