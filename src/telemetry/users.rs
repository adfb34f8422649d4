//! What the served users' status says, for alerts: how many are stalled, and how old the
//! oldest PIN is.
//!
//! Fed from the user watch (the status as the API server has it, whoever wrote it), one
//! entry per user, and summed at scrape time: a scrape every 30 seconds over 30,000 entries
//! costs less than keeping running totals right through every watch event, relist and
//! deletion.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::api::{ConditionStatus, ConditionType, ConferencingUser};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct UserState {
    stalled: bool,
    /// When the current PIN was generated, Unix seconds.
    pin_reset: Option<i64>,
    /// When the current PIN is to be rotated (`status.pinExpiresAt`), Unix seconds.
    pin_expires: Option<i64>,
}

/// Per served user, keyed by `namespace/name`.
#[derive(Debug, Default)]
pub struct UserStates {
    users: Mutex<HashMap<String, UserState>>,
}

impl UserStates {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserState>> {
        self.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records what a user's status says (called for every watch event of the user).
    pub fn observe(&self, user: &ConferencingUser) {
        let key = format!(
            "{}/{}",
            user.metadata.namespace.as_deref().unwrap_or_default(),
            user.metadata.name.as_deref().unwrap_or_default()
        );
        let status = user.status.as_ref();
        let state = UserState {
            stalled: status
                .and_then(|s| crate::api::condition::find(&s.conditions, ConditionType::Stalled))
                .is_some_and(|c| c.status == ConditionStatus::True),
            pin_reset: status.and_then(|s| s.pin_last_reset_time.as_ref()).map(|t| t.0.as_second()),
            pin_expires: status.and_then(|s| s.pin_expires_at.as_ref()).map(|t| t.0.as_second()),
        };
        let mut m = self.lock();
        // A user with nothing to report takes no room.
        if state == UserState::default() {
            m.remove(&key);
        } else {
            m.insert(key, state);
        }
    }

    /// Forgets a user that is gone.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.lock().remove(&format!("{namespace}/{name}"));
    }

    /// (stalled users, the oldest PIN's generation time in Unix seconds).
    pub fn summary(&self) -> (usize, Option<i64>) {
        let m = self.lock();
        (m.values().filter(|s| s.stalled).count(), m.values().filter_map(|s| s.pin_reset).min())
    }

    /// At `now` (Unix seconds): (PINs to be rotated within 7 days, PINs past their rotation
    /// point and not rotated yet).
    pub fn expiry(&self, now: i64) -> (usize, usize) {
        let m = self.lock();
        let expires = || m.values().filter_map(|s| s.pin_expires);
        (expires().filter(|t| *t >= now && *t < now + 7 * 86_400).count(), expires().filter(|t| *t < now).count())
    }
}

/// Exports [`UserStates::summary`] at scrape time.
#[derive(Debug)]
pub(crate) struct UserCollector(pub Arc<UserStates>);

impl Collector for UserCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (stalled, oldest) = self.0.summary();
        let g = ConstGauge::new(i64::try_from(stalled).unwrap_or(i64::MAX));
        g.encode(encoder.encode_descriptor(
            "users_stalled",
            "Users whose Stalled condition is True: they cannot progress until their spec, tenant or environment changes",
            None,
            MetricType::Gauge,
        )?)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let (soon, overdue) = self.0.expiry(now);
        ConstGauge::new(i64::try_from(soon).unwrap_or(i64::MAX)).encode(encoder.encode_descriptor(
            "pins_expiring_soon",
            "PINs whose rotation (pin.lifetime) falls within the next 7 days",
            None,
            MetricType::Gauge,
        )?)?;
        ConstGauge::new(i64::try_from(overdue).unwrap_or(i64::MAX)).encode(encoder.encode_descriptor(
            "pins_overdue",
            "PINs past their rotation point and not rotated yet (waiting for the send window or the e-mail cap, or failing)",
            None,
            MetricType::Gauge,
        )?)?;
        // No PIN, no series: a zero would read as a PIN generated in 1970.
        if let Some(t) = oldest {
            ConstGauge::new(t).encode(encoder.encode_descriptor(
                "pin_oldest_reset_timestamp_seconds",
                "When the oldest PIN among the served users was generated (status.pinLastResetTime), Unix seconds",
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, stalled: bool, pin: Option<&str>) -> ConferencingUser {
        let stalled = if stalled {
            "[{type: Stalled, status: 'True', reason: TenantNotFound, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}]"
        } else {
            "[]"
        };
        let pin = pin.map(|t| format!(", pinLastResetTime: '{t}'")).unwrap_or_default();
        serde_yaml::from_str(&format!(
            "{{apiVersion: conferencing.io/v1alpha1, kind: ConferencingUser, metadata: {{name: {name}, namespace: acme}}, \
             spec: {{tenantRef: {{name: acme}}, displayName: d, email: a@example.com}}, status: {{conditions: {stalled}{pin}}}}}"
        ))
        .expect("user")
    }

    #[test]
    fn stalled_users_are_counted_and_the_oldest_pin_found_as_users_change_and_go() {
        let s = UserStates::default();
        assert_eq!(s.summary(), (0, None));
        s.observe(&user("a", true, Some("2026-01-02T00:00:00Z")));
        s.observe(&user("b", true, Some("2026-01-01T00:00:00Z")));
        s.observe(&user("c", false, None));
        assert_eq!(s.summary(), (2, Some(1_767_225_600)));
        s.observe(&user("b", false, Some("2026-03-01T00:00:00Z")));
        assert_eq!(s.summary(), (1, Some(1_767_312_000)), "b recovered and has a new PIN");
        s.forget("acme", "a");
        assert_eq!(s.summary(), (0, Some(1_772_323_200)));
        s.observe(&user("b", false, None));
        assert_eq!(s.summary(), (0, None));
        assert!(s.lock().is_empty(), "nothing kept for users with nothing to report");
    }
}
