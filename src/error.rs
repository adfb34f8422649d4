//! The library's error type, grouped by where a failure happens: a reconcile step (each
//! naming the object it concerns) or start-up. No variant ever carries a PIN or a
//! credential: kube errors never echo request bodies, and the messages here are built from
//! names and actions only.

use crate::provisioning::claim::Holder;

/// Errors of the reconcilers and the CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading what an object refers to failed (step `dereference`).
    #[error("{object}: reading {what}: {source}")]
    Dereference {
        /// The object being reconciled, `Kind namespace/name`.
        object: String,
        /// What was being read, naming it.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Creating, changing or deleting an object the operator owns failed (step `apply`).
    #[error("{object}: {action}: {source}")]
    Apply {
        /// The object being reconciled.
        object: String,
        /// What was being done, e.g. `creating ConferenceIdClaim acme/4455667`.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed (step `status`).
    #[error("{object}: writing status: {source}")]
    Status {
        /// The object being reconciled.
        object: String,
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
    /// A Secret under the user's PIN Secret name that is neither labelled as a PIN Secret nor
    /// owned by the user: someone else's, never overwritten or deleted.
    #[error(
        "Secret {secret} exists and is not this operator's (it is not labelled as a PIN Secret and has no owner reference to this user); the operator does not overwrite it: delete or rename it to let the user be provisioned"
    )]
    SecretNameTaken {
        /// `namespace/name`.
        secret: String,
    },
    /// A reconcile panicked: a bug. Contained, reported on the object, retried with backoff.
    #[error("{object}: internal error (a bug; see the operator's log): {what}")]
    Internal {
        /// The object being reconciled.
        object: String,
        /// What failed, without the panic's message (it may hold anything).
        what: &'static str,
    },
    /// A command-line flag or its file is unusable (start-up).
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--smtp-url`.
        flag: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The e-mail templates could not be loaded (start-up).
    #[error("e-mail templates: {0}")]
    Templates(#[from] crate::notification::templates::TemplateError),
    /// No Kubernetes API server could be reached or configured (start-up).
    #[error("connecting to the Kubernetes API (KUBECONFIG or the in-cluster service account): {0}")]
    Connect(#[source] kube::Error),
    /// Leader election failed or the lease was lost.
    #[error("leader election: {0}")]
    Leadership(String),
    /// A watch stopped (a bug): its cache would no longer change, so the operator exits and
    /// is restarted with fresh caches rather than act on a stale view.
    #[error("the {kind} watch stopped{}; exiting so that the operator restarts with fresh caches", if *.panicked { " (it panicked: a bug; see the log)" } else { "" })]
    WatchStopped {
        /// The kind watched.
        kind: &'static str,
        /// Whether it panicked.
        panicked: bool,
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
    /// Serialising an object failed (a bug).
    #[error("serialising {what}: {source}")]
    Serialize {
        /// What was being serialised.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Input given on the command line (a YAML file, an event name) is unusable.
    #[error("{0}")]
    Input(String),
}

impl Error {
    /// A short label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Dereference { .. } => "dereference",
            Error::Apply { .. } => "apply",
            Error::Status { .. } => "status",
            Error::ConferenceIdConflict { .. } => "conference_id_conflict",
            Error::IdSpaceExhausted { .. } => "id_space_exhausted",
            Error::SecretNameTaken { .. } => "secret_name_taken",
            Error::Internal { .. } => "internal",
            Error::Flag { .. } => "flag",
            Error::Templates(_) => "templates",
            Error::Connect(_) => "connect",
            Error::Leadership(_) => "leadership",
            Error::WatchStopped { .. } => "watch_stopped",
            Error::Io { .. } => "io",
            Error::Serialize { .. } => "serialize",
            Error::Input(_) => "input",
        }
    }

    /// The API error underneath, if any.
    pub fn kube_error(&self) -> Option<&kube::Error> {
        match self {
            Error::Dereference { source, .. } | Error::Apply { source, .. } | Error::Status { source, .. } => {
                Some(source)
            }
            Error::Connect(e) => Some(e),
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

/// Whether a kube error is the API server's `409 AlreadyExists`/`Conflict`.
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Whether a kube error is the API server's `409 AlreadyExists` (a create found the name taken).
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

/// Whether a kube error is the API server's `404 NotFound`.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
