//! Leader election on a `coordination.k8s.io/v1` Lease, with fencing.
//!
//! The holder renews the Lease every `retry`. Another replica may take it over once
//! `renewTime + duration` has passed on its own clock. The holder therefore stops being
//! allowed to write at `sent + (duration - grace)` on its monotonic clock, where `sent` is
//! when it sent its last successful renewal: `grace` covers clock skew between replicas and
//! the time a renewal spent in flight. The [`Fence`] enforces that deadline on every write
//! the operator sends, synchronously, so a leader that was paused (SIGSTOP, a long GC, a
//! partition) and resumes after its deadline cannot send a single write, even before its
//! watchdog notices and stops it. A renewal can only succeed against the resourceVersion the
//! holder last saw, so it never overwrites a takeover.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::client::Fence;
use crate::error::is_conflict;

/// How this replica takes part.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub duration: Duration,
    /// Safety margin before expiry (clock skew, request latency).
    pub grace: Duration,
}

impl LeaderConfig {
    /// How often the holder renews and a standby tries to acquire.
    pub fn retry(&self) -> Duration {
        (self.duration.saturating_sub(self.grace) / 3).max(Duration::from_millis(500))
    }

    /// How long after sending a successful renewal the holder may still write.
    pub fn valid_for(&self) -> Duration {
        self.duration.saturating_sub(self.grace)
    }
}

/// Why leadership ended.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// Another replica holds the Lease.
    #[error("another replica ({0}) took the leader lease")]
    TakenOver(String),
    /// The Lease could not be renewed before this replica's deadline.
    #[error("the leader lease could not be renewed in time")]
    Expired,
}

/// Takes part in the election on `client` (a client without the write fence).
pub struct Elector {
    api: Api<Lease>,
    config: LeaderConfig,
    fence: Fence,
}

fn now_micro() -> MicroTime {
    MicroTime(Timestamp::now())
}

impl Elector {
    /// An elector for `config`, opening `fence` while it leads.
    pub fn new(client: Client, config: LeaderConfig, fence: Fence) -> Self {
        Self { api: Api::namespaced(client, &config.namespace), config, fence }
    }

    /// Tries to take the Lease once: it is free, expired, or already ours.
    async fn try_acquire(&mut self) -> Result<bool, kube::Error> {
        let sent = Instant::now();
        let current = tokio::time::timeout(self.config.duration, self.api.get_opt(&self.config.name))
            .await
            .map_err(|_| timeout_error())??;
        let me = &self.config.identity;
        let duration = i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX);
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.config.name.clone()), ..ObjectMeta::default() },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(me.clone()),
                        lease_duration_seconds: Some(duration),
                        acquire_time: Some(now_micro()),
                        renew_time: Some(now_micro()),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
                let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
                    (Some(t), Some(d)) => {
                        t.0.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(d)))
                            .is_ok_and(|until| until < Timestamp::now())
                    }
                    _ => true,
                };
                if holder.as_deref() != Some(me.as_str()) && holder.is_some() && !expired {
                    return Ok(false);
                }
                if holder.as_deref() != Some(me.as_str()) {
                    spec.acquire_time = Some(now_micro());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.holder_identity = Some(me.clone());
                spec.lease_duration_seconds = Some(duration);
                spec.renew_time = Some(now_micro());
                self.api.replace(&self.config.name, &PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(_) => {
                self.fence.allow_until(sent + self.config.valid_for());
                Ok(true)
            }
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not read or take the leader lease; retrying"),
            }
            tokio::time::sleep(self.config.retry()).await;
        }
    }

    /// Renews the Lease until leadership is lost; returns why. The fence closes at the
    /// deadline whatever happens here.
    pub async fn keep(&mut self) -> Lost {
        loop {
            tokio::time::sleep(self.config.retry()).await;
            let Some(deadline) = self.fence.deadline() else { return Lost::Expired };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.fence.close();
                return Lost::Expired;
            }
            match tokio::time::timeout(left, self.renew()).await {
                Ok(Ok(())) => {}
                Ok(Err(Some(holder))) => {
                    self.fence.close();
                    return Lost::TakenOver(holder);
                }
                Ok(Err(None)) => tracing::warn!("could not renew the leader lease; retrying until it expires"),
                Err(_) => {
                    self.fence.close();
                    return Lost::Expired;
                }
            }
        }
    }

    /// One renewal. `Err(Some(holder))`: someone else holds the Lease now.
    async fn renew(&mut self) -> Result<(), Option<String>> {
        let sent = Instant::now();
        let mut lease = match self.api.get(&self.config.name).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "reading the leader lease failed");
                return Err(None);
            }
        };
        let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
        if holder != self.config.identity {
            return Err(Some(if holder.is_empty() { "(nobody)".into() } else { holder }));
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(now_micro());
        }
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => {
                self.fence.allow_until(sent + self.config.valid_for());
                Ok(())
            }
            Err(e) if is_conflict(&e) => Err(Some("(changed by another replica)".into())),
            Err(e) => {
                tracing::warn!(error = %e, "renewing the leader lease failed");
                Err(None)
            }
        }
    }

    /// Gives the Lease up at once (a clean stop), so that a standby need not wait for it to
    /// expire. Writes are fenced first: nothing this replica does may follow the hand-over.
    pub async fn release(&mut self) {
        self.fence.close();
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else { return };
        let ours =
            lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(self.config.identity.as_str());
        if !ours {
            return;
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
        }
        if let Err(e) = self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            tracing::warn!(error = %e, "could not release the leader lease; it expires on its own");
        }
    }
}

fn timeout_error() -> kube::Error {
    kube::Error::Service(Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "reading the leader lease timed out",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_stops_before_a_standby_may_start() {
        let c = LeaderConfig {
            namespace: "ns".into(),
            name: "l".into(),
            identity: "a".into(),
            duration: Duration::from_secs(15),
            grace: Duration::from_secs(5),
        };
        assert!(c.valid_for() < c.duration, "the fence closes before the lease expires");
        assert!(c.retry() * 3 <= c.valid_for(), "three renewals are tried before the fence closes");
    }
}
