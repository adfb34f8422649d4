//! Step 5: hands the e-mails the stored status owes to the delivery queue and merges the
//! results it already has into the status about to be written. A reconcile waits for the e-mails it just
//! queued only briefly, and not at all while the mail server is slow, so that a slow or
//! unreachable relay never holds provisioning back; later results wake the user again.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::jiff::Timestamp;

use crate::api::ConferencingUserStatus;
use crate::controller::context::Context;
use crate::notification::queue::{GRACE, Job, PinSource, Progress, Submitted, UserKey};
use crate::notification::templates::Pin as TemplatePin;
use crate::planning::outbox::{self, Attempt};
use crate::planning::{PlannedEvent, Severity};
use crate::provisioning::pin::Pin;
use crate::provisioning::secret::pin_secret_name;
use crate::validation::{ValidatedTenant, ValidatedUser};

/// What delivery did to the status.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Message-IDs whose results were merged into the status (to forget once written).
    pub recorded: Vec<String>,
    /// Message-IDs merged as delivered.
    pub delivered: Vec<String>,
    /// Some e-mail is still being sent; its result wakes the user.
    pub in_flight: bool,
    /// The queue was full; come back later.
    pub queue_full: bool,
    /// Warning Events for e-mails refused for good.
    pub events: Vec<PlannedEvent>,
}

/// Merges known results, queues what is due, and waits briefly for what it queued.
/// `observed` is the status as the cache shows it (to forget deliveries it records).
pub async fn deliver(
    ctx: &Context,
    user: &UserKey,
    vu: &ValidatedUser,
    vt: &ValidatedTenant,
    observed: Option<&ConferencingUserStatus>,
    status: &mut ConferencingUserStatus,
    fresh_pin: Option<&Pin>,
) -> Delivery {
    let mut d = Delivery::default();
    let (Some(queue), Some(notifier)) = (ctx.delivery.as_ref(), ctx.notifier.as_ref()) else { return d };
    queue.observe(user, observed);
    merge(ctx, user, status, &mut d);
    // An e-mail goes out only once the status that owes it is stored. Sending first and
    // recording after could lose the record to a status write that conflicts (the user's spec
    // changed meanwhile); the next plan, of the new generation, would then owe the same change
    // again under another Message-ID, and the person would get it twice. An e-mail first owed
    // in this pass is sent by the reconcile that the watch event of this status write wakes.
    let stored: HashSet<&str> =
        observed.map(|s| s.notifications.pending.iter().map(|n| n.message_id.as_str()).collect()).unwrap_or_default();
    let mut waiting = Vec::new();
    for entry in outbox::due(status, Timestamp::now()) {
        if !stored.contains(entry.message_id.as_str()) || queue.progress(user, &entry.message_id).is_some() {
            continue;
        }
        let pin = match (entry.kind.carries_pin(), fresh_pin) {
            (false, _) => PinSource::None,
            // The PIN generated in this pass is the one the Secret now holds.
            (true, Some(p)) => PinSource::Known {
                pin: TemplatePin::new(p.expose()),
                generation: status.pin_generation.clone().unwrap_or_default(),
            },
            (true, None) => PinSource::Secret { name: pin_secret_name(&vu.name) },
        };
        let job = Job { user: user.clone(), email: notifier.prepare(&entry, vu, vt, status), pin };
        match queue.submit(job) {
            Submitted::Queued(done) => waiting.push(done),
            Submitted::Full => d.queue_full = true,
        }
    }
    if !waiting.is_empty() && !queue.congested() {
        let _ = tokio::time::timeout(GRACE, join_all(waiting)).await;
        merge(ctx, user, status, &mut d);
    }
    d.in_flight = status
        .notifications
        .pending
        .iter()
        .any(|n| matches!(queue.progress(user, &n.message_id), Some(Progress::InFlight)));
    d
}

/// Merges the ledger's finished results into the status.
fn merge(ctx: &Context, user: &UserKey, status: &mut ConferencingUserStatus, d: &mut Delivery) {
    let Some(queue) = ctx.delivery.as_ref() else { return };
    let ids: Vec<String> = status.notifications.pending.iter().map(|n| n.message_id.clone()).collect();
    for id in ids {
        if d.recorded.contains(&id) {
            continue;
        }
        let Some(Progress::Done { attempt, at }) = queue.progress(user, &id) else { continue };
        let entry = status.notifications.pending.iter().find(|n| n.message_id == id).cloned();
        outbox::record(status, &id, &attempt, at);
        d.recorded.push(id.clone());
        match (&attempt, entry) {
            (Attempt::Delivered, _) => d.delivered.push(id),
            (Attempt::Permanent(e), Some(n)) => d.events.push(PlannedEvent {
                severity: Severity::Warning,
                reason: "NotificationFailed".into(),
                message: format!(
                    "{} e-mail to {} was refused for good: {e}; fix the recipient and it is sent again",
                    n.kind, n.recipient
                ),
            }),
            _ => {}
        }
    }
}

/// When to come back: the earliest retry due, or soon when the queue was full.
pub fn requeue_after(status: &ConferencingUserStatus, d: &Delivery) -> Option<Duration> {
    let retry = outbox::next_due(status).map(|t| {
        let wait = t.duration_since(Timestamp::now()).as_millis().max(0);
        Duration::from_millis(u64::try_from(wait).unwrap_or(0)) + Duration::from_millis(100)
    });
    let full = d.queue_full.then_some(Duration::from_secs(10));
    // An e-mail in flight wakes the user when it is done; the timer only guards against a
    // lost wake-up.
    let in_flight = d.in_flight.then_some(Duration::from_secs(60));
    [retry, full, in_flight].into_iter().flatten().min()
}
