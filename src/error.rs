//! The library's one error type. Every variant says which object it concerns and never
//! carries a PIN or a credential.

use crate::provisioning::claim::Holder;

/// Errors of the reconcilers and the CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the operator was doing, naming the object, e.g. `writing status of ConferencingUser ns/alice`.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A conference ID is held by another user (found while claiming it).
    #[error("conference ID {id} is already held by user {}", holder.name)]
    ConferenceIdConflict {
        /// The contested ID.
        id: String,
        /// Who holds it.
        holder: Holder,
    },
    /// No free conference ID was found after many attempts.
    #[error(
        "no free conference ID of {length} digits found in namespace {namespace} after {attempts} attempts; raise spec.conferenceIds.length"
    )]
    IdSpaceExhausted {
        /// Namespace (tenant).
        namespace: String,
        /// Digits.
        length: usize,
        /// Attempts made.
        attempts: usize,
    },
    /// Serialising an object failed (a bug).
    #[error("serialising {what}: {source}")]
    Serialize {
        /// What was being serialised.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Reading or writing a local file failed.
    #[error("{action}: {source}")]
    Io {
        /// What the operator was doing, naming the file.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// Wraps a kube error with what was being done.
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }

    /// A short label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::ConferenceIdConflict { .. } => "conference_id_conflict",
            Error::IdSpaceExhausted { .. } => "id_space_exhausted",
            Error::Serialize { .. } => "serialize",
            Error::Io { .. } => "io",
            Error::Config(_) => "config",
        }
    }
}

/// Whether a kube error is the API server's `409 AlreadyExists`/`Conflict`.
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Whether a kube error is the API server's `404 NotFound`.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
