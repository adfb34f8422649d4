//! What can stop the operator (or one of its commands) before or outside a reconcile: a flag
//! or a file it names, the templates, the connection to the API server, leadership, a watch
//! that stops. Reconcile failures are `error::ReconcileError`, retried per object.

use crate::notification::mail::TransportError;
use crate::notification::templates::TemplateError;

/// Why the operator could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A command-line flag or its file is unusable.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--mail-from`.
        flag: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The mail transport could not be set up.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The e-mail templates could not be loaded.
    #[error("e-mail templates: {0}")]
    Templates(#[from] TemplateError),
    /// No Kubernetes API server could be reached or configured.
    #[error("connecting to the Kubernetes API (KUBECONFIG or the in-cluster service account): {0}")]
    Connect(#[source] kube::Error),
    /// The leader lease was lost.
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
    /// Reading or writing a local file, or listening, failed.
    #[error("{action}: {source}")]
    Io {
        /// What the operator was doing, naming the file or address.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Rendering the CRDs as YAML failed (a bug).
    #[error("rendering the CRDs as YAML (a bug): {0}")]
    Crds(#[source] serde_yaml::Error),
    /// `render`: the input it was given is unusable.
    #[error(transparent)]
    Preview(#[from] crate::notification::preview::PreviewError),
}
