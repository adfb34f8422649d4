//! At send time: a queued e-mail is looked at again just before it is sent, because it may
//! have waited (a slow relay) while the user changed. It is sent only if the user's record
//! still owes it and it still follows from the user's spec as the caches show them now, to
//! the recipient and from the sender they name now, with a PIN that is still the user's.
//! Otherwise it is not sent, and the user's next reconcile decides again from the same
//! caches, so the two never disagree for long.

use std::sync::Arc;

use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::{ConferencingTenant, ConferencingUser};
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
    Arc::new(move |job: &Job| recheck(&users, &tenants, &index, &notifier, &policy, job))
}

fn recheck(
    users: &Store<ConferencingUser>,
    tenants: &Store<ConferencingTenant>,
    index: &Index,
    notifier: &Notifier,
    policy: &ClusterPolicy,
    job: &Job,
) -> Recheck {
    let who = &job.user;
    let Some(user) = users
        .get(&ObjectRef::new(&who.name).within(&who.namespace))
        .filter(|u| u.metadata.uid.as_deref() == Some(who.uid.as_str()))
    else {
        return Recheck::Stale("the user was deleted");
    };
    if user.metadata.deletion_timestamp.is_some() {
        return Recheck::Stale("the user is being deleted");
    }
    let Some(tenant) = tenants.get(&ObjectRef::new(&user.spec.tenant_ref.name).within(&who.namespace)) else {
        return Recheck::Stale("the user's tenant is gone");
    };
    if crate::api::is_paused(&user.metadata) || crate::api::is_paused(&tenant.metadata) {
        return Recheck::Stale("the user or its tenant is paused");
    }
    let Ok(vt) = validate_tenant(&tenant, policy) else { return Recheck::Stale("the tenant's spec is invalid now") };
    if vt.hold {
        return Recheck::Stale("the tenant holds its e-mails (notifications.hold)");
    }
    let Ok(vu) = validate_user(&user, &vt) else { return Recheck::Stale("the user's spec is invalid now") };
    let owed = index
        .record(&who.namespace, &record_secret_name(&who.name))
        .filter(|r| r.owned_by(&who.uid))
        .and_then(|r| r.memory)
        .and_then(|m| m.notifications.pending.iter().find(|n| n.message_id == job.email.message_id).cloned());
    let Some(entry) = owed else {
        return Recheck::Stale("the user's record no longer owes it");
    };
    if vt.send_window.as_ref().is_some_and(|w| !w.contains(k8s_openapi::jiff::Timestamp::now()))
        && crate::planning::outbox::scheduled(&entry)
    {
        return Recheck::Stale("the tenant's send window closed while it waited (it goes when it opens)");
    }
    let Some(to) = crate::notification::notifier::recipient(&entry, &vu, &vt) else {
        return Recheck::Stale("its one-off recipient (requests.sendEmailToAddress) is no longer allowed");
    };

    let secret = index.secret(&who.namespace, &pin_secret_name(&who.name)).filter(|s| s.owned_by(&who.uid));
    let replacements = index.replacements_of(&who.namespace, &who.uid);
    let evidence = Evidence {
        secret_generation: secret.as_ref().and_then(|s| s.generation.as_deref()),
        replacements: &replacements,
    };
    if !provenance::derivable(&entry, &vu, &vt, evidence) {
        return Recheck::Stale("it no longer follows from the user's spec");
    }
    if let PinSource::Known { generation, .. } = &job.pin
        && evidence.secret_generation != Some(generation.as_str())
    {
        return Recheck::Stale("a newer PIN replaced the one it carries");
    }
    let mut email = job.email.clone();
    email.to = to;
    email.from = notifier.sender(&vt);
    email.locale = vu.locale;
    Recheck::Send(Box::new(email))
}
