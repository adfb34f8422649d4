//! What can go wrong in a reconcile, by pipeline step, each naming the object it concerns (a
//! typed [`ObjectKey`]). Start-up failures are `startup::StartupError`. No variant ever
//! carries a PIN or a credential: kube errors never echo request bodies, and the messages
//! here are built from names and actions only.

use std::fmt;

use kube::{Resource, ResourceExt};

use crate::provisioning::claim::Holder;

/// The object a reconcile is about: its kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKey {
    /// `ConferencingUser` or `ConferencingTenant`.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `obj`.
    pub fn of<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectKey {
        ObjectKey { kind: kind_name::<K>(), namespace: obj.namespace().unwrap_or_default(), name: obj.name_any() }
    }
}

fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    // The operator's kinds have static names; anything else is named generically.
    match K::kind(&()).as_ref() {
        "ConferencingUser" => "ConferencingUser",
        "ConferencingTenant" => "ConferencingTenant",
        _ => "object",
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// The step of a reconcile an API call belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Reading what the object refers to.
    Dereference,
    /// Claiming the conference ID, writing the PIN Secret.
    Provision,
    /// Writing the operator's record of the user.
    Record,
    /// Writing the status.
    Mirror,
    /// Deleting what the record no longer references, marking a PIN Secret.
    CleanUp,
}

impl Step {
    /// The label in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Dereference => "dereference",
            Step::Provision => "provision",
            Step::Record => "record",
            Step::Mirror => "status",
            Step::CleanUp => "clean_up",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// An API call of a step failed.
    #[error("{object}: {action}: {source}")]
    Api {
        /// The object being reconciled.
        object: ObjectKey,
        /// The step.
        step: Step,
        /// What was being done, naming the object acted on, e.g. `creating ConferenceIdClaim
        /// acme/4455667`.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A conference ID is held by another user (found while claiming it).
    #[error("conference ID {id} is already held by user {}", holder.name)]
    ConferenceIdConflict {
        /// The object being reconciled.
        object: ObjectKey,
        /// The contested ID.
        id: String,
        /// Who holds it.
        holder: Holder,
    },
    /// No free conference ID was found after many attempts.
    #[error(
        "no free conference ID of {length} digits found in namespace {} after {attempts} attempts; raise spec.conferenceIds.length",
        object.namespace
    )]
    IdSpaceExhausted {
        /// The object being reconciled.
        object: ObjectKey,
        /// Digits.
        length: usize,
        /// Attempts made.
        attempts: usize,
    },
    /// A Secret under one of the user's Secret names (its PIN Secret or its record) that is
    /// neither labelled as the operator's nor owned by the user: someone else's, never
    /// overwritten or deleted.
    #[error(
        "Secret {secret} exists and is not this operator's (it is not labelled as one of its Secrets and has no owner reference to this user); the operator does not overwrite it: delete or rename it to let the user be provisioned"
    )]
    SecretNameTaken {
        /// The object being reconciled.
        object: ObjectKey,
        /// `namespace/name`.
        secret: String,
    },
    /// A reconcile panicked: a bug. Contained, reported on the object, retried with backoff.
    #[error("{object}: internal error (a bug; see the operator's log): {what}")]
    Internal {
        /// The object being reconciled.
        object: ObjectKey,
        /// What failed, without the panic's message (it may hold anything).
        what: &'static str,
    },
}

impl ReconcileError {
    /// A short label for metrics and logs: `dereference`, `apply` (provisioning, the record,
    /// clean-up: writes of the operator's own objects), `status`, or the failure's own.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ReconcileError::Api { step: Step::Dereference, .. } => "dereference",
            ReconcileError::Api { step: Step::Mirror, .. } => "status",
            ReconcileError::Api { step: Step::Provision | Step::Record | Step::CleanUp, .. } => "apply",
            ReconcileError::ConferenceIdConflict { .. } => "conference_id_conflict",
            ReconcileError::IdSpaceExhausted { .. } => "id_space_exhausted",
            ReconcileError::SecretNameTaken { .. } => "secret_name_taken",
            ReconcileError::Internal { .. } => "internal",
        }
    }

    /// The API error underneath, if any.
    pub fn kube_error(&self) -> Option<&kube::Error> {
        match self {
            ReconcileError::Api { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether the failure is a stale view (`409 Conflict` on a precondition): the newer
    /// object is on its way through the watch, and the reconcile it triggers will redo the
    /// work. Not counted as a failure for backoff.
    pub fn is_stale_view(&self) -> bool {
        self.kube_error().is_some_and(|e| matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"))
    }
}

/// Builds the error of an API call of `step` on behalf of `object`.
pub(crate) fn api_error(
    object: &ObjectKey,
    step: Step,
    action: String,
) -> impl FnOnce(kube::Error) -> ReconcileError + use<> {
    let object = object.clone();
    move |source| ReconcileError::Api { object, step, action, source }
}

/// Whether a kube error is the API server's `409 AlreadyExists`/`Conflict`.
pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Whether a kube error is the API server's `409 AlreadyExists` (a create found the name taken).
pub(crate) fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

/// Whether a kube error is the API server's `404 NotFound`.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Result with [`ReconcileError`].
pub(crate) type Result<T, E = ReconcileError> = std::result::Result<T, E>;
