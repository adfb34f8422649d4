//! Step 6: delivers the e-mails the status owes. Each was recorded in the same status write
//! as the change that caused it, so none is lost if the operator stops; this sends them,
//! then records the result. A crash between sending and recording re-sends the same
//! Message-ID once (at-least-once delivery); nothing else can produce a duplicate.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::api::{ConferencingUser, ConferencingUserStatus};
use crate::controller::context::Context;
use crate::error::{Error, Result};
use crate::notification::templates::Pin;
use crate::planning::outbox::{self, Attempt};
use crate::planning::{PlannedEvent, Severity};
use crate::provisioning::secret::{pin_secret_name, secret_pin};
use crate::telemetry::{METRICS, NotificationLabels};
use crate::validation::{ValidatedTenant, ValidatedUser};

/// Sends what is due; returns when to come back for retries.
pub async fn deliver(
    ctx: &Context,
    user: &ConferencingUser,
    vu: &ValidatedUser,
    vt: &ValidatedTenant,
    status: &ConferencingUserStatus,
) -> Result<Option<Duration>> {
    let Some(notifier) = ctx.notifier.as_ref() else { return Ok(None) };
    let due = outbox::due(status, Timestamp::now());
    let mut st = status.clone();
    let mut events = Vec::new();
    for entry in &due {
        let pin = if entry.kind.carries_pin() { read_pin(ctx, user).await? } else { None };
        let attempt = if entry.kind.carries_pin() && pin.is_none() {
            Attempt::Permanent("the PIN no longer exists (the user was disabled before the e-mail was sent)".into())
        } else {
            notifier.deliver(entry, vu, vt, &st, pin).await
        };
        match &attempt {
            Attempt::Delivered => {
                tracing::info!(user = %vu.name, namespace = %vu.namespace, kind = %entry.kind, message_id = %entry.message_id, "e-mail delivered");
                events.push(PlannedEvent {
                    severity: Severity::Normal,
                    reason: "NotificationSent".into(),
                    message: format!("{} e-mail sent to {}", entry.kind, entry.recipient),
                });
            }
            Attempt::Transient(e) => {
                tracing::warn!(user = %vu.name, namespace = %vu.namespace, kind = %entry.kind, error = %e, "e-mail delivery failed; will retry");
            }
            Attempt::Permanent(e) => {
                tracing::warn!(user = %vu.name, namespace = %vu.namespace, kind = %entry.kind, error = %e, "e-mail refused permanently");
                events.push(PlannedEvent {
                    severity: Severity::Warning,
                    reason: "NotificationFailed".into(),
                    message: format!("{} e-mail to {} failed permanently: {e}", entry.kind, entry.recipient),
                });
            }
        }
        let result = match &attempt {
            Attempt::Delivered => "sent",
            Attempt::Transient(_) => "retried",
            Attempt::Permanent(_) => "failed",
        };
        METRICS.notifications.get_or_create(&NotificationLabels { result }).inc();
        outbox::record(&mut st, &entry.message_id, &attempt, Timestamp::now());
    }
    let owed = st.notifications.pending.iter().filter(|n| !n.permanently_failed).count();
    METRICS.set_pending(&vu.uid, owed);
    outbox::set_condition(&mut st, user.metadata.generation, Timestamp::now());
    if &st != status {
        super::status::write(ctx, user, &st).await?;
        for e in &events {
            ctx.publish(user, e).await;
        }
    }
    Ok(outbox::next_due(&st).map(|t| {
        let wait = t.duration_since(Timestamp::now()).as_millis().max(0);
        Duration::from_millis(u64::try_from(wait).unwrap_or(0)) + Duration::from_millis(100)
    }))
}

async fn read_pin(ctx: &Context, user: &ConferencingUser) -> Result<Option<Pin>> {
    let ns = user.namespace().unwrap_or_default();
    let name = pin_secret_name(&user.name_any());
    let cached: Option<Arc<Secret>> = ctx.secrets.get(&ObjectRef::new(&name).within(&ns));
    let secret = match cached {
        Some(s) => Some((*s).clone()),
        None => Api::<Secret>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&name)
            .await
            .map_err(Error::kube(format!("reading PIN Secret {ns}/{name}")))?,
    };
    Ok(secret.as_ref().and_then(secret_pin).map(|p| Pin::new(p.expose())))
}
