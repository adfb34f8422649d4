//! At send time: a queued e-mail is looked at again just before it is sent, because it may
//! have waited (a slow relay) while the user changed. It is sent only if the user's record
//! still owes it and it still follows from the user's spec as the caches show them now, to
//! the recipient and from the sender they name now, with a PIN that is still the user's.
//! Otherwise it is not sent, and the user's next reconcile decides again from the same
//! caches, so the two never disagree for long.

use std::sync::Arc;

use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::{ConferencingTenant, ConferencingUser};
use crate::controller::email_cap::EmailCaps;
use crate::controller::index::Index;
use crate::notification::notifier::Notifier;
use crate::notification::queue::{Job, PinSource, Recheck, Rechecker};
use crate::planning::provenance::{self, Evidence};
use crate::provisioning::record::record_secret_name;
use crate::provisioning::secret::pin_secret_name;
use crate::validation::{ClusterPolicy, validate_tenant, validate_user};

/// The recheck the delivery workers run, over the operator's caches.
pub(crate) fn rechecker(
    users: Store<ConferencingUser>,
    tenants: Store<ConferencingTenant>,
    index: Arc<Index>,
    notifier: Arc<Notifier>,
    policy: Arc<ClusterPolicy>,
) -> Rechecker {
    // The tenants' caps as the mail server sees them: counted as each e-mail is about to go,
    // over 61 s for a margin (see `controller::email_cap`).
    let sending = EmailCaps::over(k8s_openapi::jiff::SignedDuration::from_secs(61));
    Arc::new(move |job: &Job| match recheck(&users, &tenants, &index, &notifier, &policy, job) {
        Checked::Send(email, Some((namespace, tenant, cap))) => {
            match sending.take(&namespace, &tenant, cap, k8s_openapi::jiff::Timestamp::now()) {
                Ok(()) => Recheck::Send(email),
                Err(room) => Recheck::Later(room),
            }
        }
        Checked::Send(email, None) => Recheck::Send(email),
        Checked::Stale(reason) => Recheck::Stale(reason),
    })
}

/// What [`recheck`] decided: send, under this tenant's cap (namespace, tenant, per minute)
/// when the e-mail is a scheduled one; or not.
enum Checked {
    Send(Box<crate::notification::notifier::PreparedEmail>, Option<(String, String, u32)>),
    Stale(&'static str),
}

fn recheck(
    users: &Store<ConferencingUser>,
    tenants: &Store<ConferencingTenant>,
    index: &Index,
    notifier: &Notifier,
    policy: &ClusterPolicy,
    job: &Job,
) -> Checked {
    let who = &job.user;
    let Some(user) = users
        .get(&ObjectRef::new(&who.name).within(&who.namespace))
        .filter(|u| u.metadata.uid.as_deref() == Some(who.uid.as_str()))
    else {
        return Checked::Stale("the user was deleted");
    };
    if user.metadata.deletion_timestamp.is_some() {
        return Checked::Stale("the user is being deleted");
    }
    let Some(tenant) = tenants.get(&ObjectRef::new(&user.spec.tenant_ref.name).within(&who.namespace)) else {
        return Checked::Stale("the user's tenant is gone");
    };
    if crate::api::is_paused(&user.metadata) || crate::api::is_paused(&tenant.metadata) {
        return Checked::Stale("the user or its tenant is paused");
    }
    let Ok(vt) = validate_tenant(&tenant, policy) else { return Checked::Stale("the tenant's spec is invalid now") };
    if vt.hold {
        return Checked::Stale("the tenant holds its e-mails (notifications.hold)");
    }
    let Ok(vu) = validate_user(&user, &vt) else { return Checked::Stale("the user's spec is invalid now") };
    let owed = index
        .record(&who.namespace, &record_secret_name(&who.name))
        .filter(|r| r.owned_by(&who.uid))
        .and_then(|r| r.memory)
        .and_then(|m| m.notifications.pending.iter().find(|n| n.message_id == job.email.message_id).cloned());
    let Some(entry) = owed else {
        return Checked::Stale("the user's record no longer owes it");
    };
    if vt.send_window.as_ref().is_some_and(|w| !w.contains(k8s_openapi::jiff::Timestamp::now()))
        && crate::planning::outbox::scheduled(&entry)
    {
        return Checked::Stale("the tenant's send window closed while it waited (it goes when it opens)");
    }
    let Some(to) = crate::notification::notifier::recipient(&entry, &vu, &vt) else {
        return Checked::Stale("its one-off recipient (requests.sendEmailToAddress) is no longer allowed");
    };

    let secret = index.secret(&who.namespace, &pin_secret_name(&who.name)).filter(|s| s.owned_by(&who.uid));
    let replacements = index.replacements_of(&who.namespace, &who.uid);
    let evidence = Evidence {
        secret_generation: secret.as_ref().and_then(|s| s.generation.as_deref()),
        replacements: &replacements,
    };
    if !provenance::derivable(&entry, &vu, &vt, evidence) {
        return Checked::Stale("it no longer follows from the user's spec");
    }
    if let PinSource::Known { generation, .. } = &job.pin
        && evidence.secret_generation != Some(generation.as_str())
    {
        return Checked::Stale("a newer PIN replaced the one it carries");
    }
    let mut email = job.email.clone();
    email.to = to;
    email.from = notifier.sender(&vt);
    email.locale = vu.locale;
    let cap = vt
        .email_cap
        .filter(|_| crate::planning::outbox::scheduled(&entry))
        .map(|cap| (who.namespace.clone(), vt.name.clone(), cap));
    Checked::Send(Box::new(email), cap)
}
