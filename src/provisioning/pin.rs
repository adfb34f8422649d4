//! Leader PINs: uniformly random digits from the OS's cryptographic RNG, never weak.

use std::fmt;

use rand::{RngCore, TryRngCore, rngs::OsRng};

use crate::domain::PinLength;

/// A leader PIN, the only type that holds one. Its `Debug` and `Display` print `*****` so that
/// it cannot reach a log line, an Event or an error by accident; [`Pin::expose`] is the one
/// way to read it. It is not `Serialize`: nothing that holds a PIN can be serialized (into
/// JSON, an API object, a log) except the e-mail's template context, through its own
/// serializer (`notification::templates::context`).
///
/// ```compile_fail
/// fn serializable<T: serde::Serialize>() {}
/// serializable::<conferencing_operator::provisioning::pin::Pin>();
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// Wraps digits read back from the PIN Secret.
    pub fn from_secret(digits: String) -> Self {
        Self(digits)
    }
    /// The digits, for the Secret and the e-mail only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::api::PIN_MASK)
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::api::PIN_MASK)
    }
}

/// One uniformly distributed decimal digit. Bytes of 250 and above are rejected and drawn
/// again, because 256 is not a multiple of 10 and `byte % 10` would favour 0 to 5.
pub fn random_digit(rng: &mut impl RngCore) -> u8 {
    loop {
        let mut b = [0u8; 1];
        rng.fill_bytes(&mut b);
        if b[0] < 250 {
            return b'0' + b[0] % 10;
        }
    }
}

/// `n` uniformly random digits.
pub fn random_digits(rng: &mut impl RngCore, n: usize) -> String {
    (0..n).map(|_| char::from(random_digit(rng))).collect()
}

/// A PIN is weak when it is guessable: all one digit, a run up or down (12345, 54321), or
/// the same as the user's conference ID.
pub fn is_weak(pin: &str, conference_id: Option<&str>) -> bool {
    let b = pin.as_bytes();
    let all_same = b.windows(2).all(|w| w[0] == w[1]);
    let ascending = b.windows(2).all(|w| w[1] == w[0] + 1);
    let descending = b.windows(2).all(|w| w[0] == w[1] + 1);
    all_same || ascending || descending || conference_id == Some(pin)
}

/// The rule a PIN brought from another system breaks, never naming the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdoptionRule {
    /// Not 4 to 12 ASCII digits (surrounding white space aside).
    Digits,
    /// Guessable: one digit repeated, a run, or the conference ID.
    Weak,
}

impl fmt::Display for AdoptionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdoptionRule::Digits => "it is not 4 to 12 digits",
            AdoptionRule::Weak => {
                "it is guessable (one digit repeated, a run such as 12345, or the user's conference ID), which the operator never issues"
            }
        })
    }
}

/// A PIN brought from another system (a Secret's value), if it meets the rules the operator's
/// own PINs meet: digits, 4 to 12 of them (the tenant's length applies to new PINs only, as
/// for PINs kept across a length change), not weak. White space around it (a file's final
/// line break) is dropped.
pub fn adopt(value: &[u8], conference_id: Option<&str>) -> Result<Pin, AdoptionRule> {
    let text = std::str::from_utf8(value).map_err(|_| AdoptionRule::Digits)?.trim();
    if !(4..=12).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AdoptionRule::Digits);
    }
    if is_weak(text, conference_id) {
        return Err(AdoptionRule::Weak);
    }
    Ok(Pin(text.to_string()))
}

/// Generates a PIN of `length` digits that is not weak, from `rng`.
pub fn generate_with(rng: &mut impl RngCore, length: PinLength, conference_id: Option<&str>) -> Pin {
    loop {
        let candidate = random_digits(rng, length.get());
        if !is_weak(&candidate, conference_id) {
            return Pin(candidate);
        }
    }
}

/// Generates a PIN from the OS's cryptographic RNG.
pub fn generate(length: PinLength, conference_id: Option<&str>) -> Pin {
    generate_with(&mut OsRng.unwrap_err(), length, conference_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn weak_pins() {
        for weak in ["00000", "11111", "12345", "54321", "0123", "9876543210", "3456789"] {
            assert!(is_weak(weak, None), "{weak}");
        }
        for ok in ["12346", "90817", "11112", "13579"] {
            assert!(!is_weak(ok, None), "{ok}");
        }
        assert!(is_weak("7391046", Some("7391046")));
    }

    #[test]
    fn digits_are_uniform() {
        // 1,000,000 digits, so each count is 100,000 with a standard deviation of 300. A
        // `byte % 10` generator gives 0..=5 about 101,560 each and 6..=9 about 97,660, far
        // outside the ±1,000 bound; the seed is fixed, so this cannot flake.
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0u32; 10];
        for _ in 0..1_000_000 {
            counts[usize::from(random_digit(&mut rng) - b'0')] += 1;
        }
        for c in counts {
            assert!((99_000..=101_000).contains(&c), "{counts:?}");
        }
    }

    /// An RNG that yields the given bytes in order.
    struct Scripted(Vec<u8>);
    impl rand::RngCore for Scripted {
        fn next_u32(&mut self) -> u32 {
            unimplemented!()
        }
        fn next_u64(&mut self) -> u64 {
            unimplemented!()
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            for d in dst {
                *d = self.0.remove(0);
            }
        }
    }

    #[test]
    fn bytes_above_249_are_rejected_not_folded() {
        // 255 % 10 would be 5; it must be skipped and the next byte (3) used.
        assert_eq!(random_digit(&mut Scripted(vec![255, 250, 3])), b'3');
    }

    #[test]
    fn debug_and_display_hide_the_pin() {
        let p = Pin::from_secret("90817".into());
        assert_eq!(format!("{p:?} {p}"), "***** *****");
        assert_eq!(p.expose(), "90817");
    }

    /// The guessable PINs of `len` digits, written out from their definition (ten repeated
    /// digits, the runs up and down within 0123456789 and 9876543210) rather than by calling
    /// `is_weak`, which is what is under test.
    fn known_weak(len: usize) -> Vec<String> {
        let mut weak: Vec<String> = (b'0'..=b'9').map(|d| char::from(d).to_string().repeat(len)).collect();
        for run in ["0123456789", "9876543210"] {
            weak.extend((0..=10 - len).map(|start| run[start..start + len].to_string()));
        }
        weak
    }

    #[test]
    fn known_weak_pins_are_weak() {
        assert_eq!(known_weak(5)[..3], ["00000", "11111", "22222"]);
        assert!(known_weak(5).contains(&"56789".to_string()) && known_weak(5).contains(&"43210".to_string()));
        for len in 4..=10 {
            for pin in known_weak(len) {
                assert!(is_weak(&pin, None), "{pin}");
            }
        }
    }

    #[test]
    fn weak_candidates_are_drawn_again() {
        // The RNG first yields 12345 (a run), then 00000 (one digit), then the conference ID,
        // then 90817: the generator must reject the first three and return the fourth.
        let digits = [1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 7, 3, 9, 1, 0, 9, 0, 8, 1, 7];
        let pin = generate_with(&mut Scripted(digits.to_vec()), PinLength::new(5).expect("5"), Some("73910"));
        assert_eq!(pin.expose(), "90817");
    }

    proptest! {
        #[test]
        fn generated_pins_have_the_length_and_are_none_of_the_known_weak_ones(seed: u64, len in 4u8..=12, id in "[0-9]{4,12}") {
            let mut rng = StdRng::seed_from_u64(seed);
            let length = PinLength::new(len).expect("in range");
            let pin = generate_with(&mut rng, length, Some(&id));
            prop_assert_eq!(pin.expose().len(), usize::from(len));
            prop_assert!(pin.expose().bytes().all(|b| b.is_ascii_digit()));
            let weak = if usize::from(len) <= 10 { known_weak(usize::from(len)) } else {
                (b'0'..=b'9').map(|d| char::from(d).to_string().repeat(usize::from(len))).collect()
            };
            prop_assert!(!weak.iter().any(|w| w == pin.expose()), "a known-weak PIN: {}", pin.expose());
            prop_assert_ne!(pin.expose(), id.as_str());
        }
    }
}
