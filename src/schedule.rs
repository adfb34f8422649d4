//! When things may happen: a PIN's lifetime and the point at which each user's PIN is
//! rotated, and a tenant's daily send window in its time zone. Pure: the time is always
//! passed in, so that the planner's tests move a clock through a lifetime and a window
//! without sleeping.

use std::fmt;

use k8s_openapi::jiff::civil::Time;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The shortest lifetime accepted: rotating faster than a PIN can be read and e-mailed helps
/// no one.
pub const MIN_LIFETIME: SignedDuration = SignedDuration::from_secs(10);

/// The share of a lifetime, at its end, over which users' rotations are spread.
const SPREAD_PERMILLE: i64 = 100;

/// A PIN lifetime: `90d`, `12h`, `30s`, or sums such as `1d12h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime(SignedDuration);

impl Lifetime {
    /// Parses a lifetime; `None` for anything else, or shorter than [`MIN_LIFETIME`].
    pub fn parse(text: &str) -> Option<Lifetime> {
        let mut total: i64 = 0;
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit: i64 = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
            let n: i64 = std::mem::take(&mut digits).parse().ok()?;
            total = total.checked_add(n.checked_mul(unit)?)?;
        }
        let d = SignedDuration::from_secs(total);
        (digits.is_empty() && d >= MIN_LIFETIME && total <= 100 * 365 * 86_400).then_some(Lifetime(d))
    }

    /// The duration.
    pub fn get(self) -> SignedDuration {
        self.0
    }

    /// When the PIN issued at `issued` to the user with `uid` is rotated: at a point of the
    /// lifetime's last tenth derived from the UID, so that users given PINs together (a bulk
    /// creation, a takeover) are rotated over that tenth, not in one minute.
    pub fn rotation_at(self, issued: Timestamp, uid: &str) -> Timestamp {
        let total = self.0.as_millis();
        let spread = total * i128::from(SPREAD_PERMILLE) / 1000;
        let offset = if spread > 0 { i128::from(fnv1a(uid.as_bytes())) % spread } else { 0 };
        let at = total - spread + offset;
        let at = SignedDuration::from_millis(i64::try_from(at).unwrap_or(i64::MAX));
        issued.checked_add(at).unwrap_or(Timestamp::MAX)
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

/// FNV-1a, 64 bits: the same point for a UID on every version and platform.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A daily window, in a time zone: `08:00`–`18:00` `Europe/Paris`. `end` before `start` is a
/// window across midnight.
#[derive(Clone, Debug, PartialEq)]
pub struct SendWindow {
    start: Time,
    end: Time,
    zone: TimeZone,
    name: String,
}

/// Why a window is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A time that is not `HH:MM`.
    #[error("{0:?} is not a time of day HH:MM (24-hour)")]
    Time(String),
    /// An unknown time zone.
    #[error("{0:?} is not an IANA time zone such as Europe/Paris")]
    Zone(String),
    /// An empty window.
    #[error("start and end are the same: the window would never open")]
    Empty,
}

impl SendWindow {
    /// A window from its spec.
    pub fn new(start: &str, end: &str, zone: &str) -> Result<SendWindow, WindowError> {
        let time = |t: &str| {
            let (h, m) = t.split_once(':').ok_or_else(|| WindowError::Time(t.into()))?;
            let (h, m): (i8, i8) = (
                h.parse().map_err(|_| WindowError::Time(t.into()))?,
                m.parse().map_err(|_| WindowError::Time(t.into()))?,
            );
            Time::new(h, m, 0, 0).map_err(|_| WindowError::Time(t.into()))
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(WindowError::Empty);
        }
        let tz = TimeZone::get(zone).map_err(|_| WindowError::Zone(zone.into()))?;
        Ok(SendWindow { start, end, zone: tz, name: zone.to_string() })
    }

    /// Whether `now` is inside the window.
    pub fn contains(&self, now: Timestamp) -> bool {
        let t = now.to_zoned(self.zone.clone()).time();
        if self.start < self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }

    /// `now` if inside the window, else when it next opens.
    pub fn next_open(&self, now: Timestamp) -> Timestamp {
        if self.contains(now) {
            return now;
        }
        let zoned = now.to_zoned(self.zone.clone());
        let mut day = zoned.date();
        // Today's opening, or tomorrow's (two days covers any DST gap at the opening time).
        for _ in 0..3 {
            if let Ok(open) = day.to_datetime(self.start).to_zoned(self.zone.clone())
                && open.timestamp() > now
            {
                return open.timestamp();
            }
            day = day.tomorrow().unwrap_or(day);
        }
        now
    }
}

impl fmt::Display for SendWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{} {}", self.start.strftime("%H:%M"), self.end.strftime("%H:%M"), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    #[test]
    fn lifetimes_parse_as_written() {
        assert_eq!(Lifetime::parse("90d").map(|l| l.get()), Some(SignedDuration::from_hours(90 * 24)));
        assert_eq!(Lifetime::parse("1d12h").map(|l| l.get()), Some(SignedDuration::from_hours(36)));
        assert_eq!(Lifetime::parse("30s").map(|l| l.get()), Some(SignedDuration::from_secs(30)));
        for bad in ["", "9s", "90", "d", "1w", "-1d", "1.5d", "99999999999999999999d"] {
            assert_eq!(Lifetime::parse(bad), None, "{bad}");
        }
        assert_eq!(Lifetime::parse("2160h").map(|l| l.to_string()).as_deref(), Some("90d"));
    }

    #[test]
    fn rotations_spread_over_the_last_tenth_and_stay_put() {
        let l = Lifetime::parse("100d").expect("lifetime");
        let issued = at("2026-01-01T00:00:00Z");
        let earliest = issued.checked_add(SignedDuration::from_hours(90 * 24)).expect("t");
        let latest = issued.checked_add(SignedDuration::from_hours(100 * 24)).expect("t");
        let points: Vec<Timestamp> = (0..1000).map(|i| l.rotation_at(issued, &format!("uid-{i}"))).collect();
        assert!(points.iter().all(|p| *p >= earliest && *p < latest));
        // Spread: no day of the ten holds more than a fifth of them.
        let mut per_day = [0; 10];
        for p in &points {
            let day = (p.duration_since(earliest).as_secs() / 86_400) as usize;
            per_day[day.min(9)] += 1;
        }
        assert!(per_day.iter().all(|n| *n < 200), "{per_day:?}");
        assert_eq!(l.rotation_at(issued, "uid-7"), l.rotation_at(issued, "uid-7"), "deterministic");
    }

    #[test]
    fn a_window_follows_its_time_zone_and_crosses_midnight() {
        let paris = SendWindow::new("08:00", "18:00", "Europe/Paris").expect("window");
        // 07:30 UTC in January is 08:30 in Paris.
        assert!(paris.contains(at("2026-01-15T07:30:00Z")));
        assert!(!paris.contains(at("2026-01-15T17:30:00Z")), "18:30 in Paris");
        // In July Paris is UTC+2: 06:30 UTC is 08:30 there.
        assert!(paris.contains(at("2026-07-15T06:30:00Z")));
        assert_eq!(paris.next_open(at("2026-01-15T17:30:00Z")), at("2026-01-16T07:00:00Z"));
        assert_eq!(paris.next_open(at("2026-01-15T07:30:00Z")), at("2026-01-15T07:30:00Z"));
        let night = SendWindow::new("22:00", "02:00", "UTC").expect("window");
        assert!(night.contains(at("2026-01-15T23:00:00Z")) && night.contains(at("2026-01-15T01:00:00Z")));
        assert!(!night.contains(at("2026-01-15T12:00:00Z")));
        assert_eq!(night.next_open(at("2026-01-15T12:00:00Z")), at("2026-01-15T22:00:00Z"));
        assert!(matches!(SendWindow::new("8:00", "18:00", "Mars/Olympus"), Err(WindowError::Zone(_))));
        assert!(matches!(SendWindow::new("25:00", "18:00", "UTC"), Err(WindowError::Time(_))));
        assert_eq!(SendWindow::new("08:00", "08:00", "UTC"), Err(WindowError::Empty));
    }
}
