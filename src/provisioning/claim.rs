//! Conference-ID claims: a `ConferenceIdClaim` named after the ID in the tenant's namespace.
//! Object names are unique per namespace and `create` is atomic, so the API server itself
//! guarantees that no two users hold the same claim: across concurrent reconciles, across
//! operator replicas, and across a leader hand-over. The claim is owned by its user, so the
//! garbage collector releases the ID when the user is deleted.

use std::collections::BTreeMap;

use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::api::{
    ClaimHolder, ConferenceIdClaim, ConferenceIdClaimSpec, ConferencingUser, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
};
use crate::domain::ConferenceId;

/// Builds the claim of `id` for `user`.
pub fn claim(user: &ConferencingUser, id: &ConferenceId) -> ConferenceIdClaim {
    ConferenceIdClaim {
        metadata: ObjectMeta {
            name: Some(id.to_string()),
            namespace: user.namespace(),
            labels: Some(BTreeMap::from([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())])),
            owner_references: user.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: ConferenceIdClaimSpec {
            conference_id: id.to_string(),
            holder: ClaimHolder { name: user.name_any(), uid: user.uid().unwrap_or_default() },
        },
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

/// The ID and holder of a claim, from its metadata alone (the operator caches only claims'
/// metadata): the ID is the name, the holder is the controlling owner reference. `None` for
/// an object that is not a well-formed claim (edited by hand), which then holds nothing.
pub fn parse(meta: &ObjectMeta) -> Option<(ConferenceId, Holder)> {
    let id = ConferenceId::parse(meta.name.as_deref()?)?;
    let owner =
        meta.owner_references.as_ref()?.iter().find(|o| o.controller == Some(true) && o.kind == "ConferencingUser")?;
    Some((id, Holder { name: owner.name.clone(), uid: owner.uid.clone() }))
}
