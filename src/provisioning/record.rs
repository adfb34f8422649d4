//! The record Secret: `<user>-conferencing-record` in the user's namespace, holding the
//! operator's memory of the user ([`UserMemory`]) in an annotation. A Secret, so that only
//! someone who may write Secrets there (and so could read the user's PIN anyway) can change
//! what the operator remembers; the status subresource, which others may be granted, is only
//! its mirror. The memory is in an annotation, not in `data`, so that the operator's
//! metadata-only watch of its Secrets sees it; it holds no secret. Owned by the user, so that
//! it goes with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::secret::COMPONENT_LABEL;
use crate::api::record::UserMemory;
use crate::api::{ConferencingUser, MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// Suffix of the record Secret's name.
pub const RECORD_SECRET_SUFFIX: &str = "-conferencing-record";
/// The annotation that holds the memory, as JSON.
pub const RECORD_ANNOTATION: &str = "conferencing.io/record";
/// [`COMPONENT_LABEL`] value of record Secrets.
pub const RECORD_COMPONENT: &str = "user-record";
/// The record Secret's `type`.
pub const RECORD_TYPE: &str = "conferencing.io/record";

/// Name of a user's record Secret.
pub fn record_secret_name(user: &str) -> String {
    format!("{user}{RECORD_SECRET_SUFFIX}")
}

/// Whether a Secret's labels say it is a record Secret.
pub fn is_record_secret(meta: &ObjectMeta) -> bool {
    let labels = meta.labels.as_ref();
    let has = |k: &str, v: &str| labels.and_then(|l| l.get(k)).is_some_and(|x| x == v);
    has(MANAGED_BY_LABEL, MANAGED_BY_VALUE) && has(COMPONENT_LABEL, RECORD_COMPONENT)
}

/// Builds `user`'s record Secret holding `memory`.
pub fn record_secret(user: &ConferencingUser, memory: &UserMemory) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(record_secret_name(&user.name_any())),
            namespace: user.namespace(),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                (COMPONENT_LABEL.to_string(), RECORD_COMPONENT.to_string()),
            ])),
            annotations: Some(BTreeMap::from([(RECORD_ANNOTATION.to_string(), memory.to_json())])),
            owner_references: user.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        type_: Some(RECORD_TYPE.into()),
        ..Secret::default()
    }
}

/// What the operator knows of a record Secret, from its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordMeta {
    /// The Secret's UID.
    pub uid: String,
    /// Its resourceVersion, for update preconditions.
    pub resource_version: String,
    /// UID of its controlling ConferencingUser, if any.
    pub owner_uid: Option<String>,
    /// Name of that ConferencingUser.
    pub owner_name: Option<String>,
    /// The memory it holds; `None` when it cannot be read (edited by hand, or written by a
    /// newer version).
    pub memory: Option<Arc<UserMemory>>,
    /// Whether it carries the record labels (the operator's watch sees only those).
    pub labelled: bool,
}

impl RecordMeta {
    /// Reads a record Secret's metadata.
    pub fn from_meta(meta: &ObjectMeta) -> RecordMeta {
        let owner = meta
            .owner_references
            .as_ref()
            .and_then(|o| o.iter().find(|o| o.controller == Some(true) && o.kind == "ConferencingUser"));
        RecordMeta {
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            owner_uid: owner.map(|o| o.uid.clone()),
            owner_name: owner.map(|o| o.name.clone()),
            memory: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(RECORD_ANNOTATION))
                .and_then(|text| UserMemory::parse(text))
                .map(Arc::new),
            labelled: is_record_secret(meta),
        }
    }

    /// Whether the record belongs to the user with this UID (a record is never adopted on
    /// its name: a user re-created with the same name starts with no memory).
    pub fn owned_by(&self, uid: &str) -> bool {
        self.owner_uid.as_deref() == Some(uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::record::RECORD_VERSION;
    use crate::fixtures::user;

    #[test]
    fn a_record_secret_reads_back_its_memory_and_owner() {
        let u = user("alice", "acme");
        let memory =
            UserMemory { version: RECORD_VERSION, conference_id: Some("7000001".into()), ..Default::default() };
        let s = record_secret(&u, &memory);
        assert_eq!(s.metadata.name.as_deref(), Some("alice-conferencing-record"));
        assert!(is_record_secret(&s.metadata));
        assert!(s.data.is_none() && s.string_data.is_none(), "no secret in it");
        let meta = RecordMeta::from_meta(&s.metadata);
        assert!(meta.owned_by("uid-alice"));
        assert_eq!(meta.memory.as_deref(), Some(&memory));
        let mut edited = s.metadata.clone();
        edited.annotations = Some(BTreeMap::from([(RECORD_ANNOTATION.to_string(), "{not json".to_string())]));
        assert_eq!(RecordMeta::from_meta(&edited).memory, None);
    }
}
