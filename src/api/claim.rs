//! `ConferenceIdClaim`: the object whose existence means "this conference ID is taken" in a
//! tenant's namespace. Written only by the operator.
//!
//! The object's name is the ID itself. Names are unique per namespace and `create` is atomic,
//! so the API server decides who gets an ID: across concurrent reconciles, replicas and leader
//! hand-overs. A kind of its own (rather than the ConfigMaps earlier versions used) means the
//! operator needs no rights on ConfigMaps, and a cluster administrator can grant or deny
//! claim rights separately from everything else.

// kube's `printcolumn(...)` attributes repeat `type_ = "string"` by design.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A conference ID taken by one user of the tenant.
#[derive(CustomResource, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "conferencing.io",
    version = "v1alpha1",
    kind = "ConferenceIdClaim",
    namespaced,
    shortname = "cidclaim",
    category = "conferencing",
    doc = "A conference ID held by one ConferencingUser of the namespace's tenant. Created and deleted by the operator; its name is the ID.",
    printcolumn(name = "ID", type_ = "string", description = "The conference ID", json_path = ".spec.conferenceId"),
    printcolumn(
        name = "Holder",
        type_ = "string",
        description = "The ConferencingUser holding it",
        json_path = ".spec.holder.name"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ConferenceIdClaimSpec {
    /// The conference ID (also the object's name).
    #[schemars(regex(pattern = r"^[0-9]{4,12}$"))]
    pub conference_id: String,
    /// The user holding it. The operator trusts the owner reference (which the garbage
    /// collector also acts on); this copy is for people and `kubectl get`.
    pub holder: ClaimHolder,
}

/// The user a claim belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimHolder {
    /// ConferencingUser name.
    pub name: String,
    /// ConferencingUser UID: a user deleted and re-created with the same name is another user.
    pub uid: String,
}
