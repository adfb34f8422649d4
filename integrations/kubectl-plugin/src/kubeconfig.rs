//! The cluster connection, chosen as kubectl chooses it: `--kubeconfig`, else `KUBECONFIG`
//! (a list of files, merged), else `~/.kube/config`, else the in-cluster service account;
//! `--context` picks the context; the namespace is `-n`, else the context's, else `default`.

use std::path::PathBuf;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use super::PluginError;

/// kubectl's connection flags that the plugin understands. kubectl hands them to the plugin
/// as they were typed, after the plugin's name.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ConnectionArgs {
    /// Path to the kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else "default").
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
}

/// A client and the namespace to work in.
pub(crate) struct Connection {
    /// The API client.
    pub client: Client,
    /// `-n`, or the context's namespace.
    pub namespace: String,
}

/// Builds the client from the kubeconfig as kubectl would.
pub(crate) async fn connect(args: &ConnectionArgs) -> Result<Connection, PluginError> {
    let options = KubeConfigOptions { context: args.context.clone(), cluster: None, user: None };
    let config = match &args.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|source| PluginError::Kubeconfig { source })?;
            Config::from_custom_kubeconfig(file, &options).await
        }
        None => Config::from_kubeconfig(&options).await,
    };
    let config = match config {
        Ok(c) => c,
        // Like kubectl inside a Pod: no kubeconfig at all means the in-cluster account.
        Err(source) if args.context.is_none() && args.kubeconfig.is_none() && no_kubeconfig_file() => {
            Config::incluster().map_err(|_| PluginError::Kubeconfig { source })?
        }
        Err(source) => return Err(PluginError::Kubeconfig { source }),
    };
    let namespace = args.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let context = args.context.clone().unwrap_or_else(|| "(current)".into());
    let client = Client::try_from(config).map_err(|source| PluginError::Connect { context, source })?;
    Ok(Connection { client, namespace })
}

/// Whether neither KUBECONFIG nor the default file exists.
fn no_kubeconfig_file() -> bool {
    if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    std::env::var_os("HOME").is_none_or(|home| !PathBuf::from(home).join(".kube").join("config").exists())
}
