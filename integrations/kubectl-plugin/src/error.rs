//! The plugin's errors. Each says what the plugin was doing and, where one exists, what the
//! person at the terminal can do about it.

/// Errors of `kubectl conferencing`.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No usable kubeconfig or context (and not running in a cluster).
    #[error(
        "reading the kubeconfig: {source}; check KUBECONFIG or --kubeconfig, and the context (`kubectl config get-contexts`)"
    )]
    Kubeconfig {
        /// Why the kubeconfig could not be used.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The kubeconfig named a context or cluster the client cannot use.
    #[error("connecting to the cluster of context {context}: {source}")]
    Connect {
        /// The context in use.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// An API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the plugin was doing, naming the object.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The user named on the command line does not exist.
    #[error("ConferencingUser {namespace}/{name} not found; `kubectl get cuser -n {namespace}` lists the users")]
    UserNotFound {
        /// Namespace searched.
        namespace: String,
        /// The name given.
        name: String,
    },
    /// The tenant named on the command line neither exists nor is referenced by a user.
    #[error(
        "ConferencingTenant {namespace}/{name} not found, and no user references it; `kubectl get ctenant -n {namespace}` lists the tenants"
    )]
    TenantNotFound {
        /// Namespace searched.
        namespace: String,
        /// The name given.
        name: String,
    },
    /// The object named on the command line does not exist.
    #[error("{kind} {namespace}/{name} not found; `kubectl get {kind} -n {namespace}` lists them")]
    ObjectNotFound {
        /// The object's kind.
        kind: String,
        /// Namespace searched.
        namespace: String,
        /// The name given.
        name: String,
    },
    /// The conferencing CRDs are not installed.
    #[error(
        "the conferencing.io CRDs are not installed in this cluster; install them with `kubectl apply -f crds/` (see the README)"
    )]
    CrdsMissing,
    /// Writing to the terminal failed.
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
    /// Rendering YAML failed (a bug).
    #[error("rendering {what} as YAML: {source}")]
    Yaml {
        /// What was being rendered.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_yaml::Error,
    },
}

impl PluginError {
    /// Wraps a kube error with what was being done; an API server that does not know the
    /// conferencing.io resources becomes [`PluginError::CrdsMissing`].
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> PluginError {
        let action = action.into();
        move |source| {
            if is_unknown_resource(&source) { PluginError::CrdsMissing } else { PluginError::Kube { action, source } }
        }
    }
}

/// Whether the API server answered 404 for the resource type itself (not for one object):
/// its Status then carries no object name.
fn is_unknown_resource(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 && s.details.as_ref().is_none_or(|d| d.name.is_empty()))
}

/// Whether an API error is 404 Not Found.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// The error and its causes, `: `-separated, the way kubectl prints errors. Causes that
/// merely repeat the previous message (thiserror's `{source}` already includes them) are
/// left out.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
