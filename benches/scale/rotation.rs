//! `bench-scale --rotation N`: N users created together, given a PIN lifetime afterwards, so
//! that their PINs expire together (each at its user's point in the last tenth of the
//! lifetime), under a cap of automatic e-mails per minute and inside a sending window. Shows
//! what applying the policy writes, that nothing is written between the policy and the first
//! rotation, that the mail server never sees more than the cap in any minute, what a rotation
//! writes, that nothing is written after the rotations, and the operator's memory.

use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::jiff::Timestamp;

use super::cluster::{self, Tracker};
use super::process::{Operator, SmtpServer};
use super::{Bench, BenchError, say, timeout, wait_idle, wait_until, writes_line};

/// The most messages that arrived within any `window` (sliding, by arrival time).
pub(crate) fn max_in_window(mut arrivals: Vec<SystemTime>, window: Duration) -> usize {
    arrivals.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..arrivals.len() {
        while arrivals[end].duration_since(arrivals[start]).unwrap_or_default() >= window {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

/// A UTC window open now: from the last full hour to three hours later (`HH:MM`).
fn open_window() -> (String, String) {
    let hour = Timestamp::now().to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).hour();
    (format!("{:02}:00", hour), format!("{:02}:00", (hour + 3) % 24))
}

impl Bench {
    /// The rotation phase, on users converged by `op`.
    pub(crate) async fn rotation(
        &mut self,
        n: usize,
        ns: &str,
        tracker: &Tracker,
        smtp: &SmtpServer,
        op: &mut Operator,
    ) -> Result<(), BenchError> {
        let quiet = Duration::from_secs(self.args.quiet_seconds);
        let cap = self.args.rotation_cap;
        let lifetime = self.args.rotation_lifetime.clone();
        let (start, end) = open_window();

        // The policy: every user's status shows when its PIN expires.
        let before = op.counters().await?;
        let applied = SystemTime::now();
        cluster::set_pin_policy(&self.client, ns, &lifetime, cap, (&start, &end)).await?;
        wait_until("policy (pinExpiresAt shown)", timeout(&self.args, 60, 20, n), op, || {
            let (shown, _) = tracker.count(|v| v.pin_expires_at.is_some());
            (shown >= n, format!("{shown}/{n} users show pinExpiresAt"))
        })
        .await?;
        let (_, settled) = wait_idle("policy (settling)", timeout(&self.args, 60, 10, n), quiet, op).await?;
        let policy_writes = settled.writes_since(&before);
        let (first, last) = tracker
            .range(|v| v.pin_expires_at)
            .ok_or_else(|| BenchError::Setup("no user shows pinExpiresAt".into()))?;
        say(
            n,
            format_args!(
                "PIN policy (lifetime {lifetime}, at most {cap} automatic e-mails a minute, window {start}-{end} UTC): {} writes{}; rotations due from {first} to {last} ({:.0} s apart)",
                policy_writes.values().sum::<u64>(),
                writes_line(&policy_writes),
                (last - first).get_seconds()
            ),
        );

        // Between the policy and the first rotation: nothing to do, nothing written.
        let before = op.counters().await?;
        let wait = first.duration_since(Timestamp::now()).unsigned_abs().saturating_sub(Duration::from_secs(2));
        let watched = Instant::now();
        let end_of_wait = watched + wait;
        while Instant::now() < end_of_wait && first > Timestamp::now() {
            op.poll()?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let idle_writes = op.counters().await?.writes_since(&before);
        say(
            n,
            format_args!(
                "before the first rotation: {} writes in {:.0} s{}",
                idle_writes.values().sum::<u64>(),
                watched.elapsed().as_secs_f64(),
                writes_line(&idle_writes)
            ),
        );

        // The rotations, under the cap.
        let before = op.counters().await?;
        let mails_before = smtp.count();
        let started = Instant::now();
        let spread = (last - first).get_seconds().max(0) as u64;
        let floor_minutes = (n as u64).div_ceil(u64::from(cap.max(1)));
        let limit = timeout(&self.args, 120 + spread + 90 * floor_minutes, 0, n);
        let done = wait_until("rotation", limit, op, || {
            let (rotated, err) = tracker.count(cluster::UserView::rotated);
            let mails = smtp.count() - mails_before;
            let err = err.map(|e| format!("; watch error: {e}")).unwrap_or_default();
            (rotated >= n && mails >= n, format!("{rotated}/{n} users rotated and told, {mails}/{n} e-mails{err}"))
        })
        .await?;
        let (_, settled) = wait_idle("rotation (settling)", timeout(&self.args, 60, 10, n), quiet, op).await?;
        let rotation_writes = settled.writes_since(&before);
        let arrivals: Vec<SystemTime> = smtp.arrivals().into_iter().filter(|t| *t >= applied).collect();
        let per_minute = max_in_window(arrivals.clone(), Duration::from_secs(60));
        say(
            n,
            format_args!(
                "rotation: {n} PINs rotated and e-mailed in {:.1} s (at least {floor_minutes} min at the cap); \
                 the most e-mails the SMTP server saw in any 60 s: {per_minute} (cap {cap}); {:.2} writes per rotation{}",
                (done - started).as_secs_f64(),
                rotation_writes.values().sum::<u64>() as f64 / n as f64,
                writes_line(&rotation_writes)
            ),
        );
        if per_minute > cap as usize {
            return Err(BenchError::Setup(format!("{per_minute} e-mails within a minute; the cap is {cap}")));
        }
        if arrivals.len() != n {
            return Err(BenchError::Setup(format!("{} e-mails for {n} rotations", arrivals.len())));
        }

        // After the rotations, until the next lifetime: nothing written.
        let steady = Duration::from_secs(self.args.steady_seconds);
        let before = op.counters().await?;
        let end = Instant::now() + steady;
        while Instant::now() < end {
            op.poll()?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let after = op.counters().await?.writes_since(&before);
        say(
            n,
            format_args!(
                "after the rotations: {} writes in {} s{}",
                after.values().sum::<u64>(),
                steady.as_secs(),
                writes_line(&after)
            ),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_minute_is_counted_by_arrival_whatever_the_order() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(max_in_window(vec![], Duration::from_secs(60)), 0);
        // 3 in the first minute, then 4 within [70, 129], in no order.
        let arrivals = vec![at(125), at(0), at(70), at(10), at(59), at(100), at(129)];
        assert_eq!(max_in_window(arrivals, Duration::from_secs(60)), 4);
        // Exactly 60 s apart are two minutes.
        assert_eq!(max_in_window(vec![at(0), at(60)], Duration::from_secs(60)), 1);
    }
}
