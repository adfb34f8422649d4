//! The PIN Secret: `<user>-conferencing-pin` in the user's namespace, owned by the user so
//! that it is garbage-collected with it, labelled so that the operator's watch holds only
//! its own Secrets.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::pin::Pin;
use crate::api::{ConferencingUser, MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// Suffix of the PIN Secret name.
pub const PIN_SECRET_SUFFIX: &str = "-conferencing-pin";
/// Key of the PIN in the Secret's data.
pub const PIN_KEY: &str = "pin";
/// Annotation that says which PIN generation the Secret holds (see `status.pinGeneration`).
pub const PIN_GENERATION_ANNOTATION: &str = "conferencing.io/pin-generation";
/// Annotation on the PIN Secrets of operators that keep their memory of a user in a record
/// (`provisioning::record`): such a PIN Secret without a record means the record was lost (a
/// crash before its first write, or a deletion by hand), not that an older version, which kept
/// its memory in the status, provisioned the user.
pub const RECORDED_ANNOTATION: &str = "conferencing.io/recorded";

/// Label that says what an operator-owned object is for.
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// [`COMPONENT_LABEL`] value of PIN Secrets.
pub const PIN_COMPONENT: &str = "leader-pin";

/// Name of a user's PIN Secret.
pub fn pin_secret_name(user: &str) -> String {
    format!("{user}{PIN_SECRET_SUFFIX}")
}

/// The label selector of the operator's own Secrets: PIN Secrets and record Secrets, which
/// one watch serves.
pub fn operator_secret_selector() -> String {
    format!(
        "{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{COMPONENT_LABEL} in ({PIN_COMPONENT},{})",
        super::record::RECORD_COMPONENT
    )
}

/// The label that marks a Secret as holding a PIN to adopt (`"true"`): for a user taken over
/// from another system, under its PIN Secret's name or named by `spec.adopt.pinSecretRef`.
/// Without it the operator reads no Secret it did not write.
pub const ADOPT_PIN_LABEL: &str = "conferencing.io/adopt-pin";

/// The label selector of the Secrets holding PINs to adopt.
pub fn adopt_pin_selector() -> String {
    format!("{ADOPT_PIN_LABEL}=true")
}

/// Whether a Secret is labelled as holding a PIN to adopt.
pub fn is_adoptable(meta: &ObjectMeta) -> bool {
    meta.labels.as_ref().and_then(|l| l.get(ADOPT_PIN_LABEL)).is_some_and(|v| v == "true")
}

/// Whether a Secret carries the PIN Secret labels (the ones the operator's watch selects).
pub fn is_pin_secret(meta: &ObjectMeta) -> bool {
    let labels = meta.labels.as_ref();
    let has = |k: &str, v: &str| labels.and_then(|l| l.get(k)).is_some_and(|x| x == v);
    has(MANAGED_BY_LABEL, MANAGED_BY_VALUE) && has(COMPONENT_LABEL, PIN_COMPONENT)
}

/// Marks a PIN Secret as written by an operator that keeps a record of the user.
pub fn mark_recorded(meta: &mut ObjectMeta) {
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(RECORDED_ANNOTATION.to_string(), "true".to_string());
}

/// Puts the PIN Secret labels back on a Secret.
pub fn label_as_pin_secret(meta: &mut ObjectMeta) {
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string());
    labels.insert(COMPONENT_LABEL.to_string(), PIN_COMPONENT.to_string());
}

/// Builds the PIN Secret for `user`, holding `pin` for `generation`.
pub fn pin_secret(user: &ConferencingUser, pin: &Pin, generation: &str) -> Secret {
    let name = pin_secret_name(&user.name_any());
    Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: user.namespace(),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                (COMPONENT_LABEL.to_string(), PIN_COMPONENT.to_string()),
            ])),
            annotations: Some(BTreeMap::from([
                (PIN_GENERATION_ANNOTATION.to_string(), generation.to_string()),
                (RECORDED_ANNOTATION.to_string(), "true".to_string()),
            ])),
            owner_references: user.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(PIN_KEY.to_string(), ByteString(pin.expose().as_bytes().to_vec()))])),
        immutable: Some(false),
        ..Secret::default()
    }
}

/// What the operator knows of a PIN Secret from its metadata (the cache holds no PINs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMeta {
    /// The Secret's UID, for delete preconditions.
    pub uid: String,
    /// Its resourceVersion, for update preconditions.
    pub resource_version: String,
    /// UID of its controlling ConferencingUser, if any.
    pub owner_uid: Option<String>,
    /// Name of that ConferencingUser (finds the owner to wake without a scan).
    pub owner_name: Option<String>,
    /// The PIN generation its annotation names.
    pub generation: Option<String>,
    /// Whether it carries the PIN Secret labels (the operator's watch sees only those).
    pub labelled: bool,
    /// Whether it carries [`RECORDED_ANNOTATION`]: written (or, on upgrade, marked) by an
    /// operator that keeps a record of the user.
    pub recorded: bool,
}

impl SecretMeta {
    /// Reads what matters from a Secret's metadata.
    pub fn from_meta(meta: &ObjectMeta) -> SecretMeta {
        SecretMeta {
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            owner_uid: controller(meta).map(|o| o.uid.clone()),
            owner_name: controller(meta).map(|o| o.name.clone()),
            generation: meta.annotations.as_ref().and_then(|a| a.get(PIN_GENERATION_ANNOTATION)).cloned(),
            labelled: is_pin_secret(meta),
            recorded: meta.annotations.as_ref().and_then(|a| a.get(RECORDED_ANNOTATION)).is_some_and(|v| v == "true"),
        }
    }

    /// Whether the Secret belongs to the user with this UID. A Secret is adopted on its owner
    /// alone, never on its name or annotation: a user deleted and re-created with the same
    /// name is another user and must not inherit the old PIN.
    pub fn owned_by(&self, uid: &str) -> bool {
        self.owner_uid.as_deref() == Some(uid)
    }
}

fn controller(meta: &ObjectMeta) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    meta.owner_references.as_ref()?.iter().find(|o| o.controller == Some(true) && o.kind == "ConferencingUser")
}

/// The PIN a Secret holds.
pub fn secret_pin(secret: &Secret) -> Option<Pin> {
    let bytes = secret.data.as_ref()?.get(PIN_KEY)?;
    String::from_utf8(bytes.0.clone()).ok().filter(|p| p.bytes().all(|b| b.is_ascii_digit())).map(Pin::from_secret)
}
