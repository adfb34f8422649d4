//! What is remembered of a user's earlier PINs, so that a new one never repeats one of the
//! last N (`pin.historyCount`): a salted PBKDF2-HMAC-SHA256 hash of each, never the PIN. The
//! salt is one per PIN Secret, random, so that no table computed for one user serves another;
//! the iteration count makes each guess slow. It is a speed bump: a PIN has few digits, so
//! someone who can read the history (and so the PIN Secret, and so the current PIN) can still
//! recover an old PIN by trying them all (docs/security.md states how long that takes).
//!
//! Stored in the PIN Secret under [`HISTORY_KEY`], as text:
//! `pbkdf2-sha256:<iterations>:<salt hex>:<hash hex>,<hash hex>,...` (oldest first).

use std::num::NonZeroU32;

use rand::{TryRngCore, rngs::OsRng};
use ring::pbkdf2;

/// The PIN Secret's key holding the history.
pub const HISTORY_KEY: &str = "pin-history";

/// PBKDF2 iterations of a new history (an old one keeps its own count, within
/// [`STORED_ITERATIONS`]).
pub const ITERATIONS: u32 = 100_000;

/// The iteration counts a stored history may have; anything else was not written by the
/// operator (a hand-edited `4294967295` would make each check take a quarter of an hour) and
/// is read as no history.
const STORED_ITERATIONS: std::ops::RangeInclusive<u32> = 10_000..=1_000_000;

/// The most hashes a stored history may hold: `pin.historyCount` is at most 20, and one more
/// is the current PIN's. A longer list was not written by the operator (the hashes of every
/// 4-digit PIN would leave nothing to draw) and is read as no history.
pub const MAX_HASHES: usize = 21;

const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
const SCHEME: &str = "pbkdf2-sha256";

/// The hashes of a user's earlier PINs.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHistory {
    iterations: NonZeroU32,
    salt: [u8; SALT_LEN],
    hashes: Vec<[u8; HASH_LEN]>,
}

/// Shows how many hashes it holds, never the hashes.
impl std::fmt::Debug for PinHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinHistory({} hashes)", self.hashes.len())
    }
}

impl PinHistory {
    /// An empty history with a new random salt.
    pub fn new() -> PinHistory {
        let mut salt = [0u8; SALT_LEN];
        // The OS's RNG failing is not something a PIN can be made without either.
        let _ = OsRng.try_fill_bytes(&mut salt);
        PinHistory { iterations: NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN), salt, hashes: Vec::new() }
    }

    /// An empty history whose hashes cost `iterations` (tests: the scheme is the same, the
    /// cost is not what they test).
    #[cfg(test)]
    pub(crate) fn cheap(iterations: u32) -> PinHistory {
        PinHistory { iterations: NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN), ..PinHistory::new() }
    }

    /// Reads a stored history; `None` for anything this version did not write (a fresh one
    /// is started: an unreadable history forbids nothing).
    pub fn parse(text: &str) -> Option<PinHistory> {
        let mut parts = text.trim().split(':');
        if parts.next()? != SCHEME {
            return None;
        }
        let iterations = parts.next()?.parse().ok().filter(|i| STORED_ITERATIONS.contains(i))?;
        let iterations = NonZeroU32::new(iterations)?;
        let salt: [u8; SALT_LEN] = unhex(parts.next()?)?.try_into().ok()?;
        let hashes = match parts.next()? {
            "" => Vec::new(),
            list => list.split(',').map(|h| unhex(h)?.try_into().ok()).collect::<Option<Vec<_>>>()?,
        };
        (parts.next().is_none() && hashes.len() <= MAX_HASHES).then_some(PinHistory { iterations, salt, hashes })
    }

    /// The stored form.
    pub fn to_text(&self) -> String {
        let hashes: Vec<String> = self.hashes.iter().map(|h| hex(h)).collect();
        format!("{SCHEME}:{}:{}:{}", self.iterations, hex(&self.salt), hashes.join(","))
    }

    fn hash(&self, pin: &str) -> [u8; HASH_LEN] {
        let mut out = [0u8; HASH_LEN];
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, self.iterations, &self.salt, pin.as_bytes(), &mut out);
        out
    }

    /// Whether `pin` is one of the remembered PINs. One derivation, whatever the length.
    pub fn contains(&self, pin: &str) -> bool {
        if self.hashes.is_empty() {
            return false;
        }
        let h = self.hash(pin);
        // Not constant-time: the comparison is against hashes, not secrets an attacker probes.
        self.hashes.contains(&h)
    }

    /// Remembers `pin`, keeping the last `keep`.
    pub fn push(&mut self, pin: &str, keep: usize) {
        let h = self.hash(pin);
        self.hashes.push(h);
        let excess = self.hashes.len().saturating_sub(keep);
        self.hashes.drain(..excess);
    }

    /// How many PINs it remembers.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

impl Default for PinHistory {
    fn default() -> Self {
        PinHistory::new()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PinHistory {
        PinHistory::cheap(10)
    }

    #[test]
    fn it_remembers_the_last_n_and_round_trips() {
        // The fewest iterations a stored history may have, so that it reads back.
        let mut h = PinHistory::cheap(10_000);
        for pin in ["11223", "44556", "77889", "90817"] {
            h.push(pin, 3);
        }
        assert_eq!(h.len(), 3);
        assert!(!h.contains("11223"), "forgotten: the oldest beyond 3");
        assert!(h.contains("44556") && h.contains("90817"));
        assert!(!h.contains("55555"));
        let stored = h.to_text();
        assert!(!stored.contains("90817") && !stored.contains("44556"), "{stored}");
        assert_eq!(PinHistory::parse(&stored), Some(h));
    }

    #[test]
    fn each_secret_has_its_own_salt() {
        let (mut a, mut b) = (cheap(), cheap());
        a.push("90817", 5);
        b.push("90817", 5);
        assert_ne!(a.to_text().rsplit(':').next(), b.to_text().rsplit(':').next(), "same PIN, different hashes");
    }

    #[test]
    fn anything_else_is_not_a_history() {
        for bad in [
            "",
            "90817",
            "pbkdf2-sha256:0:00:",
            "pbkdf2-sha256:10:zz:",
            "md5:1:00:",
            "pbkdf2-sha256:10:00112233445566778899aabbccddeeff:abc",
        ] {
            assert_eq!(PinHistory::parse(bad), None, "{bad}");
        }
        let salt = "00112233445566778899aabbccddeeff";
        assert!(PinHistory::parse(&format!("pbkdf2-sha256:100000:{salt}:")).is_some_and(|h| h.is_empty()));
        // Hand-edited to stall or starve the operator: a cost it did not choose, more hashes
        // than a history holds.
        let hash = "00".repeat(32);
        for hostile in [
            format!("pbkdf2-sha256:4294967295:{salt}:{hash}"),
            format!("pbkdf2-sha256:10:{salt}:{hash}"),
            format!("pbkdf2-sha256:100000:{salt}:{}", vec![hash.as_str(); MAX_HASHES + 1].join(",")),
        ] {
            assert_eq!(PinHistory::parse(&hostile), None, "{}", &hostile[..40]);
        }
        let full = format!("pbkdf2-sha256:100000:{salt}:{}", vec![hash.as_str(); MAX_HASHES].join(","));
        assert_eq!(PinHistory::parse(&full).map(|h| h.len()), Some(MAX_HASHES));
        assert_eq!(format!("{:?}", cheap()), "PinHistory(0 hashes)");
    }
}
