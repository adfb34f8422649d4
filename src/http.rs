//! The HTTP endpoint: `/healthz` (the process serves), `/readyz` (a standby is ready; a
//! leader once its caches are filled), `/metrics` (OpenMetrics, or the Prometheus text format when asked for).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::controller::readiness::Readiness;
use crate::startup::StartupError;
use crate::telemetry::Metrics;

/// What the endpoint reports on.
#[derive(Default)]
pub struct Health {
    /// Caches of the running controllers.
    pub readiness: Arc<Readiness>,
    /// Whether this process leads (and so runs the controllers).
    pub leading: AtomicBool,
    /// The operator's metrics.
    pub metrics: Arc<Metrics>,
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    if !health.leading.load(Ordering::Relaxed) {
        (StatusCode::OK, "standby\n")
    } else if health.readiness.all_ready() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced\n")
    }
}

/// OpenMetrics unless the client asks for the Prometheus text format and not for OpenMetrics
/// (`Accept: text/plain`): Prometheus asks for both, preferring OpenMetrics; a bare client
/// (no Accept, or `*/*`) has always had OpenMetrics here, and keeps it.
async fn metrics(State(health): State<Arc<Health>>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("text/plain") && !accept.contains("application/openmetrics-text") {
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], health.metrics.encode_text())
    } else {
        (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            health.metrics.encode(),
        )
    }
}

/// Binds `addr` (failing at start-up if it cannot) and serves until the process ends.
pub async fn serve(addr: SocketAddr, health: Arc<Health>) -> Result<tokio::task::JoinHandle<()>, StartupError> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Io { action: format!("listening on {addr} (--http-addr)"), source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!(addr = %bound, "serving /healthz, /readyz and /metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    }))
}
