//! The custom resources: `ConferencingTenant` and `ConferencingUser`, which users write in Git,
//! and `ConferenceIdClaim`, which only the operator writes (group `conferencing.io`, version
//! `v1alpha1`, all namespaced).
//!
//! These types are the wire format. Cross-field rules that only CEL can express are both
//! declared in the schema (`x-kubernetes-validations`) and re-checked by
//! [`crate::validation`], because API servers older than 1.25 ignore CEL.

pub mod actor;
pub mod claim;
pub mod condition;
pub mod lenient;
pub mod reason;
pub mod record;
pub mod tenant;
pub mod user;

pub use claim::*;
pub use condition::{Condition, ConditionStatus, ConditionType};
pub use reason::Reason;
pub use tenant::*;
pub use user::*;

/// API group of both kinds.
pub const GROUP: &str = "conferencing.io";
/// Field manager of the operator's writes (the status replacements name it).
pub const FIELD_MANAGER: &str = "conferencing-operator";
/// Label put on every object the operator creates, so that its watches can select only them.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "conferencing-operator";

/// Set to `"true"` on a user or a tenant (which pauses all its users) to stop the operator
/// touching it during an incident or a migration, as Strimzi's
/// `strimzi.io/pause-reconciliation` does: the operator writes nothing for it but the
/// `ReconciliationPaused` condition, and sends none of its e-mails. Removing it resumes the
/// object, which then gets exactly what it would have got, once.
pub const PAUSED_ANNOTATION: &str = "conferencing.io/paused";

/// Whether `meta` carries [`PAUSED_ANNOTATION`] set to `"true"` (any other value: not paused,
/// so that a typo cannot silently stop the operator).
pub fn is_paused(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    meta.annotations.as_ref().and_then(|a| a.get(PAUSED_ANNOTATION)).is_some_and(|v| v == "true")
}

/// The locales the bundled e-mail templates are written in.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub enum Locale {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// French.
    #[serde(rename = "fr")]
    Fr,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    /// Every supported locale.
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Fr, Locale::ZhCn];

    /// The tag used in the API and as the template directory name.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// Parses a tag as written in the API.
    pub fn parse(tag: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.as_str() == tag)
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
