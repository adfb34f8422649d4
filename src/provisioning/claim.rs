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

/// On a claim allocated because its holder lost its ID to another user: the lost ID. It lets
/// a reassignment whose status write did not happen (a crash) be finished, e-mail included,
/// after a restart, and tells it apart from a status that merely names another user's ID
/// (written by someone else), which must e-mail no one. The claim, not the status, says so.
pub const REPLACES_ANNOTATION: &str = "conferencing.io/replaces";

/// Builds the claim of `id` for `user`; `replaces` is the ID it replaces, if it was
/// allocated because the user lost that one.
pub fn claim(user: &ConferencingUser, id: &ConferenceId, replaces: Option<&ConferenceId>) -> ConferenceIdClaim {
    ConferenceIdClaim {
        metadata: ObjectMeta {
            name: Some(id.to_string()),
            namespace: user.namespace(),
            labels: Some(BTreeMap::from([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())])),
            annotations: replaces.map(|r| BTreeMap::from([(REPLACES_ANNOTATION.to_string(), r.to_string())])),
            owner_references: user.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: ConferenceIdClaimSpec {
            conference_id: id.to_string(),
            holder: ClaimHolder { name: user.name_any(), uid: user.uid().unwrap_or_default() },
        },
    }
}

/// The ID a claim replaces (see [`REPLACES_ANNOTATION`]).
pub fn replaces(meta: &ObjectMeta) -> Option<ConferenceId> {
    meta.annotations.as_ref()?.get(REPLACES_ANNOTATION).and_then(|r| ConferenceId::parse(r))
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
