//! Conference-ID claims. A claim is a ConfigMap named `conference-id-<id>` in the tenant's
//! namespace. Object names are unique per namespace and `create` is atomic, so the API server
//! itself guarantees that no two users hold the same ID: across concurrent reconciles, across
//! operator replicas, and across a leader hand-over. The claim is owned by its user, so it is
//! garbage-collected (the ID released) when the user is deleted.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::secret::COMPONENT_LABEL;
use crate::api::{ConferencingUser, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::validation::ConferenceId;

/// Prefix of claim names.
pub const CLAIM_PREFIX: &str = "conference-id-";
/// [`COMPONENT_LABEL`] value of claims.
pub const CLAIM_COMPONENT: &str = "conference-id-claim";
/// Label holding the UID of the user that holds the claim.
pub const HOLDER_UID_LABEL: &str = "conferencing.io/holder-uid";
/// Data key holding the name of the user that holds the claim.
pub const HOLDER_NAME_KEY: &str = "holder";
/// Data key holding the ID.
pub const ID_KEY: &str = "conferenceId";

/// Name of the claim of `id`.
pub fn claim_name(id: &ConferenceId) -> String {
    format!("{CLAIM_PREFIX}{id}")
}

/// Builds the claim of `id` for `user`.
pub fn claim(user: &ConferencingUser, id: &ConferenceId) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(claim_name(id)),
            namespace: user.namespace(),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                (COMPONENT_LABEL.to_string(), CLAIM_COMPONENT.to_string()),
                (HOLDER_UID_LABEL.to_string(), user.uid().unwrap_or_default()),
            ])),
            owner_references: user.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (ID_KEY.to_string(), id.to_string()),
            (HOLDER_NAME_KEY.to_string(), user.name_any()),
        ])),
        ..ConfigMap::default()
    }
}

/// Who holds a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// User name.
    pub name: String,
    /// User UID.
    pub uid: String,
}

/// Reads the ID and holder of a claim; `None` for a ConfigMap that is not a well-formed claim.
pub fn parse(cm: &ConfigMap) -> Option<(ConferenceId, Holder)> {
    let data = cm.data.as_ref()?;
    let id = ConferenceId::parse(data.get(ID_KEY)?)?;
    let name = data.get(HOLDER_NAME_KEY)?.clone();
    let uid = cm.labels().get(HOLDER_UID_LABEL)?.clone();
    Some((id, Holder { name, uid }))
}
