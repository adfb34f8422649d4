//! Step 1: everything the user refers to, from the watch caches (no API reads).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::api::{ConferencingTenant, ConferencingUser};
use crate::controller::context::Context;
use crate::error::{Error, Result};
use crate::provisioning::claim::Holder;
use crate::provisioning::secret::pin_secret_name;
use crate::validation::ConferenceId;

/// What the user refers to.
pub struct Dereferenced {
    /// The tenant named by `spec.tenantRef`, in the user's namespace.
    pub tenant: Option<Arc<ConferencingTenant>>,
    /// The user's PIN Secret.
    pub pin_secret: Option<Arc<Secret>>,
    /// The IDs this user holds claims on.
    pub own_claims: Vec<ConferenceId>,
    /// The holder of the spec's static ID, when it is another user that still exists.
    pub static_id_holder: Option<Holder>,
}

/// Reads the caches. The one API read: a PIN Secret that the status references but the cache
/// lacks is looked up before it is taken as deleted, because the cache may simply not show
/// the operator's own recent write yet, and a missing Secret means generating a new PIN.
pub async fn dereference(user: &ConferencingUser, ctx: &Context) -> Result<Dereferenced> {
    let ns = user.namespace().unwrap_or_default();
    let uid = user.uid().unwrap_or_default();
    let tenant = ctx.tenants.get(&ObjectRef::new(&user.spec.tenant_ref.name).within(&ns));
    let secret_name = pin_secret_name(&user.name_any());
    let mut pin_secret = ctx.secrets.get(&ObjectRef::new(&secret_name).within(&ns));
    let referenced = user.status.as_ref().is_some_and(|s| s.pin_secret_ref.is_some());
    if pin_secret.is_none() && referenced {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        pin_secret = api
            .get_opt(&secret_name)
            .await
            .map_err(Error::kube(format!("reading PIN Secret {ns}/{secret_name}")))?
            .map(Arc::new);
    }
    let own_claims = ctx.claims.held_by(&uid);
    let static_id_holder = user
        .spec
        .conference_id
        .as_deref()
        .and_then(ConferenceId::parse)
        .and_then(|id| ctx.claims.holder(&ns, &id))
        // A claim left by a deleted user does not block anyone: it is taken over.
        .filter(|h| h.uid != uid && ctx.live_user(&ns, &h.name, &h.uid).is_some());
    Ok(Dereferenced { tenant, pin_secret, own_claims, static_id_holder })
}
