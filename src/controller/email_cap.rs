//! Each tenant's `notifications.maxEmailsPerMinute`: room for at most N automatic e-mails
//! (PIN rotations included) in any 60 seconds. Counted twice: when they are handed to the
//! delivery queue (which paces the reconciles, and lets a rotation wait before its PIN is
//! made), and by the delivery workers just before each is sent, over 61 seconds (which is
//! what the mail server sees: the delay between the two varies with the API writes in
//! between, and a first count alone let 1,510 through in one minute under a cap of 1,500). A sliding log rather than a token bucket, because a bucket lets a burst of N follow
//! a minute of N, and the promise is "never more than N a minute". The time is passed in.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

const MINUTE: SignedDuration = SignedDuration::from_secs(60);

/// The e-mails handed over in the last minute, per tenant.
pub(crate) struct EmailCaps {
    sent: Mutex<HashMap<(String, String), VecDeque<Timestamp>>>,
    window: SignedDuration,
}

impl Default for EmailCaps {
    fn default() -> Self {
        EmailCaps::over(MINUTE)
    }
}

impl EmailCaps {
    /// Counts over `window` rather than a minute: the workers' count keeps a margin.
    pub(crate) fn over(window: SignedDuration) -> EmailCaps {
        EmailCaps { sent: Mutex::default(), window }
    }

    /// Takes room for one automatic e-mail of tenant `tenant` in `namespace` under a cap of
    /// `cap` a minute: `Ok` (counted), or `Err(when)` there will be room.
    pub(crate) fn take(&self, namespace: &str, tenant: &str, cap: u32, now: Timestamp) -> Result<(), Timestamp> {
        let mut all = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Tenants with nothing in the last minute are forgotten (a deleted tenant, a tenant
        // gone quiet): the map holds only the tenants mailing now.
        all.retain(|_, log| log.back().is_some_and(|t| t.checked_add(self.window).unwrap_or(Timestamp::MAX) > now));
        let log = all.entry((namespace.to_string(), tenant.to_string())).or_default();
        while log.front().is_some_and(|t| t.checked_add(self.window).unwrap_or(Timestamp::MAX) <= now) {
            log.pop_front();
        }
        if log.len() < cap as usize {
            log.push_back(now);
            return Ok(());
        }
        // Full: room when the oldest of the last minute's falls out of it.
        Err(log.front().and_then(|t| t.checked_add(self.window).ok()).unwrap_or(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).expect("valid")
    }

    #[test]
    fn never_more_than_the_cap_in_any_minute() {
        let caps = EmailCaps::default();
        let mut taken = Vec::new();
        // Ask every second for five minutes, three at a time, under a cap of 10 a minute.
        for s in 0..300 {
            for _ in 0..3 {
                if caps.take("ns", "acme", 10, t(s)).is_ok() {
                    taken.push(s);
                }
            }
        }
        for start in 0..300 {
            let in_minute = taken.iter().filter(|s| (start..start + 60).contains(*s)).count();
            assert!(in_minute <= 10, "{in_minute} in the minute from {start}");
        }
        assert_eq!(taken.len(), 50, "and the cap is used: 10 a minute for five minutes");
    }

    #[test]
    fn a_full_minute_says_when_there_is_room_and_tenants_are_apart() {
        let caps = EmailCaps::default();
        for _ in 0..2 {
            caps.take("ns", "acme", 2, t(5)).expect("room");
        }
        assert_eq!(caps.take("ns", "acme", 2, t(30)), Err(t(65)));
        caps.take("ns", "globex", 2, t(30)).expect("another tenant has its own room");
        caps.take("other", "acme", 2, t(30)).expect("and another namespace");
        caps.take("ns", "acme", 2, t(65)).expect("room again");
    }

    #[test]
    fn the_workers_count_keeps_a_second_of_margin() {
        let caps = EmailCaps::over(SignedDuration::from_secs(61));
        caps.take("ns", "acme", 1, t(0)).expect("room");
        assert_eq!(caps.take("ns", "acme", 1, t(60)), Err(t(61)), "a minute later is not yet room");
        caps.take("ns", "acme", 1, t(61)).expect("61 s later is");
    }

    #[test]
    fn tenants_quiet_for_a_minute_are_forgotten() {
        let caps = EmailCaps::default();
        for i in 0..100 {
            caps.take("ns", &format!("t{i}"), 5, t(0)).expect("room");
        }
        caps.take("ns", "acme", 5, t(61)).expect("room");
        let all = caps.sent.lock().expect("lock");
        assert_eq!(all.len(), 1);
    }
}
