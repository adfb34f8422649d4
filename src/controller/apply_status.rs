//! The one way the operator writes a status: a replace of the status subresource, carrying
//! the resourceVersion the status was computed from.
//!
//! - A replace, not a patch: status is the operator's output, written whole. With a patch (or
//!   a server-side apply), a field another writer put there and the operator omits would
//!   stay: a forged outbox entry, say, which the operator has dropped, would remain in the
//!   object for ever.
//! - Conditioned on the resourceVersion: a writer with a stale view (a slow replica, a
//!   resumed ex-leader, a reconcile racing another writer) fails with a conflict instead of
//!   overwriting a newer status, and cannot make a handled request look new again.

use kube::api::{Api, PostParams};
use kube::core::NamespaceResourceScope;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::FIELD_MANAGER;
use crate::error::{ObjectKey, ReconcileError, Result, Step};

/// Replaces the status of `obj` with the status it carries, if the object is still at the
/// resourceVersion it carries; returns the object as written. The API server ignores every
/// other change on the status subresource.
pub(crate) async fn write_status<K>(client: &Client, obj: &K) -> Result<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
    api.replace_status(&name, &pp, obj).await.map_err(|source| ReconcileError::Api {
        object: ObjectKey::of(obj),
        step: Step::Mirror,
        action: "writing status".into(),
        source,
    })
}
