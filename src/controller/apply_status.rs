//! The one way the operator writes a status: server-side apply of `status` alone, under the
//! operator's field manager, so that fields it no longer sets are removed and no other
//! manager's fields are touched; conditioned on the resourceVersion the status was computed
//! from, so that a writer with a stale view (a slow replica, a resumed ex-leader, a reconcile
//! racing another writer) fails instead of overwriting a newer status, and cannot make a
//! handled request look new again.

use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::api::FIELD_MANAGER;
use crate::error::{Error, Result};

/// Applies `status` to `obj`, if `obj` is still at the resourceVersion it was read at;
/// returns the object as written.
pub async fn apply_status<K, S>(client: &Client, obj: &K, status: &S) -> Result<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let kind = K::kind(&());
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": kind,
        "metadata": { "resourceVersion": obj.resource_version() },
        "status": status,
    });
    api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .map_err(|source| Error::Status { object: format!("{kind} {ns}/{name}"), source })
}
