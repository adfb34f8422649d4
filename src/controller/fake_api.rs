//! A scripted stand-in for the API server, for the unit tests of the branches a real server
//! makes hard to reach on demand (a create that finds the name taken, by whom). It answers the
//! requests it is told to expect, in order, records what it was asked, and fails the test on
//! anything else. The integration tests run against a real API server; these do not replace
//! them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::Value;

use super::caches::Wakers;
use super::context::Context;
use crate::telemetry::Metrics;
use crate::telemetry::queue::Waker;

/// One request the fake expects, and its answer.
pub(crate) struct Expect {
    /// The method.
    pub method: Method,
    /// The request path (without the query).
    pub path: String,
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's body.
    pub body: Value,
}

impl Expect {
    /// `method path` answered with `status` and `body`.
    pub fn new(method: Method, path: &str, status: u16, body: Value) -> Expect {
        Expect { method, path: path.into(), status: StatusCode::from_u16(status).expect("status"), body }
    }
}

/// A request the fake received: method, path, and the body as JSON.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub method: Method,
    pub path: String,
    pub body: Value,
}

/// The API server's `Status` for a failed request.
pub(crate) fn status(code: u16, reason: &str) -> Value {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason, "reason": reason, "code": code})
}

/// A client of a fake API answering `script` in order, and what it was asked.
pub(crate) fn client(script: Vec<Expect>) -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = tower::service_fn(move |req: Request<Body>| {
        let script = script.clone();
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.map_err(|e| std::io::Error::other(e.to_string()))?;
            let seen = Seen {
                method: parts.method.clone(),
                path: parts.uri.path().to_string(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            log.lock().expect("log").push(seen.clone());
            let next = script.lock().expect("script").pop_front();
            let Some(e) = next.filter(|e| e.method == seen.method && e.path == seen.path) else {
                panic!("the fake API server did not expect {} {}", seen.method, seen.path);
            };
            let body = serde_json::to_vec(&e.body).expect("json");
            Ok::<_, std::io::Error>(
                Response::builder()
                    .status(e.status)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("response"),
            )
        }
    });
    (kube::Client::new(service, "default"), seen)
}

/// A context over `client`, with empty caches and nothing to send e-mail with.
pub(crate) fn context(client: kube::Client) -> Context {
    let metrics = Arc::new(Metrics::new());
    let (tenants, _writer) = kube::runtime::reflector::store();
    let (users_tx, _) = tokio::sync::mpsc::unbounded_channel();
    let (tenants_tx, _) = tokio::sync::mpsc::unbounded_channel();
    Context {
        events: super::events::Events::new(client.clone(), metrics.clone()),
        client,
        tenants,
        index: Arc::default(),
        expectations: Arc::default(),
        backoff: Arc::default(),
        notifier: None,
        delivery: None,
        metrics: metrics.clone(),
        policy: Arc::new(crate::validation::ClusterPolicy::unrestricted()),
        wake: Wakers {
            users: Waker::new(users_tx, metrics.queue.clone(), "ConferencingUser"),
            tenants: Waker::new(tenants_tx, metrics.queue.clone(), "ConferencingTenant"),
        },
        email_caps: Arc::default(),
    }
}
