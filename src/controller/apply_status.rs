//! The one way the operator writes a status: server-side apply of `status` alone, under the
//! operator's field manager, so that fields it no longer sets are removed and no other
//! manager's fields are touched.

use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::api::FIELD_MANAGER;
use crate::error::{Error, Result};

/// Applies `status` to `obj`; returns the object as written.
pub async fn apply_status<K, S>(client: &Client, obj: &K, status: &S) -> Result<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let kind = K::kind(&());
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let patch = json!({ "apiVersion": K::api_version(&()), "kind": kind, "status": status });
    crate::telemetry::record_write("apply-status", &kind, &ns, &name);
    api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .map_err(Error::kube(format!("writing status of {kind} {ns}/{name}")))
}
