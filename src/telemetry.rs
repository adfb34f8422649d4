//! Logging setup and the operator's own accounting of API writes.
//!
//! Every write the operator sends to the API server goes through [`record_write`], which logs
//! one `api write` line and counts it. That is how the steady-state promise (a converged
//! operator writes nothing) is measured, by the tests and by an operator's logs.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

static API_WRITES: AtomicU64 = AtomicU64::new(0);

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter
/// (`info` for the operator, `warn` for its dependencies).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,conferencing_operator=info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).init(),
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).init(),
    }
}

/// Records one write request to the API server.
pub fn record_write(verb: &'static str, kind: &'static str, namespace: &str, name: &str) {
    API_WRITES.fetch_add(1, Ordering::Relaxed);
    tracing::info!(verb, kind, namespace, name, "api write");
}

/// Writes sent since start.
pub fn api_writes() -> u64 {
    API_WRITES.load(Ordering::Relaxed)
}
