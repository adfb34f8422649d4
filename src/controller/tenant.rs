//! The tenant reconcile: validate the spec, count the users, report `Ready` (and `Stalled`
//! while the spec is invalid), and announce a change of the default dial-in numbers with one
//! Event on the tenant rather than one per user.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::context::Context;
use crate::api::Reason;
use crate::api::condition::{DesiredCondition, merge_conditions, remove_conditions};
use crate::api::{ConditionType, ConferencingTenant, ConferencingTenantStatus};
use crate::error::{ReconcileError as Error, Result};
use crate::planning::PlannedEvent;
use crate::planning::conditions::INTERNAL_ERROR;
use crate::validation::validate_tenant;

/// The tenant's status for `ready`: `Stalled` mirrors an invalid spec, `Reconciling` an
/// internal error being retried; both are absent otherwise (kstatus' abnormal-true style).
pub(crate) fn settle(
    prev: &ConferencingTenantStatus,
    ready: DesiredCondition,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<crate::api::Condition> {
    let mut desired = vec![ready.clone()];
    if ready.reason == Reason::InvalidSpec {
        desired.push(DesiredCondition::true_(ConditionType::Stalled, Reason::InvalidSpec, ready.message.clone()));
    }
    if ready.reason == INTERNAL_ERROR {
        desired.push(DesiredCondition::true_(ConditionType::Reconciling, INTERNAL_ERROR, ready.message.clone()));
    }
    let mut conditions = prev.conditions.clone();
    let absent: Vec<ConditionType> =
        [ConditionType::Reconciling, ConditionType::Stalled, ConditionType::ReconciliationPaused]
            .into_iter()
            .filter(|t| !desired.iter().any(|d| d.type_ == *t))
            .collect();
    remove_conditions(&mut conditions, &absent);
    merge_conditions(&conditions, &desired, generation, now)
}

/// Reconciles one tenant.
pub(crate) async fn reconcile(tenant: Arc<ConferencingTenant>, ctx: Arc<Context>) -> Result<Action> {
    if tenant.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = tenant.namespace().unwrap_or_default();
    let name = tenant.name_any();
    let generation = tenant.metadata.generation;
    let prev = tenant.status.clone().unwrap_or_default();
    if crate::api::is_paused(&tenant.metadata) {
        // Only the condition: no count, no default-number Event, nothing for its users (their
        // own reconciles see the annotation).
        let paused = DesiredCondition::true_(
            ConditionType::ReconciliationPaused,
            Reason::ReconciliationPaused,
            format!(
                "{} is \"true\" on this tenant: the operator changes nothing and sends no e-mail for it or its users until the annotation is removed",
                crate::api::PAUSED_ANNOTATION
            ),
        );
        let status = ConferencingTenantStatus {
            // The generation last observed: a spec change while paused is not observed.
            conditions: merge_conditions(&prev.conditions, &[paused], prev.observed_generation, Timestamp::now()),
            unreadable: Vec::new(),
            ..prev.clone()
        };
        if status != prev {
            let mut next = (*tenant).clone();
            next.status = Some(status);
            super::apply_status::write_status(&ctx.client, &next).await?;
        }
        return Ok(Action::await_change());
    }
    let users = u32::try_from(ctx.index.user_count(&ns, &name)).unwrap_or(u32::MAX);
    let mut events = Vec::new();
    if !prev.unreadable.is_empty() {
        events.push(PlannedEvent::warning(
            Reason::StatusUnreadable,
            crate::planning::unreadable_message(&prev.unreadable),
        ));
    }
    let status = match validate_tenant(&tenant, &ctx.policy) {
        Ok(vt) => {
            let toll = Some(vt.default_toll.number.clone());
            let toll_free = vt.default_toll_free.as_ref().map(|n| n.number.clone());
            for (label, before, after) in [
                ("Toll", &prev.default_service_number, &toll),
                ("TollFree", &prev.default_toll_free_service_number, &toll_free),
            ] {
                if before.is_some() && before != after {
                    let automatic = if vt.automatic_emails { ", and e-mailed," } else { "" };
                    events.push(PlannedEvent::normal(Reason::DefaultNumberChanged,
                        format!(
                            "the default {label} number changed from {} to {}: users who do not choose a number ({users} user(s) reference this tenant) are given the new one{automatic} as they are reconciled",
                            before.as_deref().unwrap_or("(none)"),
                            after.as_deref().unwrap_or("(none)")
                        ),
                    ));
                }
            }
            ConferencingTenantStatus {
                conditions: settle(
                    &prev,
                    DesiredCondition::true_(
                        ConditionType::Ready,
                        Reason::Reconciled,
                        "the tenant's settings are valid",
                    ),
                    generation,
                    Timestamp::now(),
                ),
                observed_generation: generation,
                users,
                default_service_number: toll,
                default_toll_free_service_number: toll_free,
                unreadable: Vec::new(),
            }
        }
        Err(e) => {
            let was = crate::api::condition::find(&prev.conditions, ConditionType::Ready);
            if was.is_none_or(|c| Reason::InvalidSpec != c.reason.as_str() || c.message != e.to_string()) {
                events.push(PlannedEvent::warning(Reason::InvalidSpec, e.to_string()));
            }
            ConferencingTenantStatus {
                conditions: settle(
                    &prev,
                    DesiredCondition::false_(ConditionType::Ready, Reason::InvalidSpec, e.to_string()),
                    generation,
                    Timestamp::now(),
                ),
                observed_generation: generation,
                users,
                unreadable: Vec::new(),
                ..prev.clone()
            }
        }
    };
    if status != prev {
        let mut next = (*tenant).clone();
        next.status = Some(status);
        super::apply_status::write_status(&ctx.client, &next).await?;
        for e in &events {
            ctx.publish(&*tenant, e).await;
        }
    }
    Ok(Action::await_change())
}

/// Reports a reconcile that panicked on the tenant, as far as that is possible.
pub(crate) async fn report_internal_error(ctx: &Context, tenant: &ConferencingTenant) {
    let prev = tenant.status.clone().unwrap_or_default();
    let ready = DesiredCondition::false_(
        ConditionType::Ready,
        INTERNAL_ERROR,
        "the reconcile failed unexpectedly (a bug; see the operator's log); retrying with backoff",
    );
    let status = ConferencingTenantStatus {
        conditions: settle(&prev, ready, tenant.metadata.generation, Timestamp::now()),
        unreadable: Vec::new(),
        ..prev.clone()
    };
    let mut next = tenant.clone();
    next.status = Some(status.clone());
    if status != prev
        && let Err(e) = super::apply_status::write_status(&ctx.client, &next).await
    {
        tracing::warn!(tenant = %tenant.name_any(), error = %e, "could not report the internal error on the tenant");
    }
}

/// Retries after a failure with per-object exponential backoff.
pub(crate) fn error_policy(tenant: Arc<ConferencingTenant>, error: &Error, ctx: Arc<Context>) -> Action {
    let (ns, name) = (tenant.namespace().unwrap_or_default(), tenant.name_any());
    if error.is_stale_view() {
        return ctx.metrics.queue.requeue("ConferencingTenant", &ns, &name, Duration::from_millis(500));
    }
    let key = super::backoff::tenant_key(&ns, &tenant.uid().unwrap_or_default());
    let delay = ctx.backoff.failed(&key);
    tracing::warn!(tenant = %tenant.name_any(), namespace = ?tenant.namespace(), error = %error, retry_in = ?delay, "tenant reconcile failed; retrying");
    ctx.metrics.queue.requeue("ConferencingTenant", &ns, &name, delay)
}
