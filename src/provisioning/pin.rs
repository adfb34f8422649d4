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

/// The rules a PIN the operator issues (generates, or adopts from another system) meets,
/// from the tenant's `pin` policy. It is never weak ([`is_weak`]); unless common patterns are
/// allowed, it has none of the patterns Skype for Business refuses either.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinRules {
    /// `allowCommonPatterns`.
    pub allow_common_patterns: bool,
    /// The last four digits of each of the tenant's dial-in numbers.
    pub number_endings: Vec<String>,
}

/// A rule a PIN breaks, named without the PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinRule {
    /// Not 4 to 12 ASCII digits (surrounding white space aside).
    Digits,
    /// One digit repeated, a full run such as 12345, or the conference ID.
    Weak,
    /// A digit repeated four or more times in a row.
    Repeated,
    /// Four or more consecutive ascending or descending digits.
    Sequence,
    /// Contains the user's conference ID, or is part of it.
    ConferenceId,
    /// Contains the last four digits of one of the tenant's dial-in numbers.
    NumberEnding,
    /// One of the user's last PINs (`historyCount`).
    History,
}

impl fmt::Display for PinRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinRule::Digits => "it is not 4 to 12 digits",
            PinRule::Weak => {
                "it is guessable (one digit repeated, a run such as 12345, or the user's conference ID), which the operator never issues"
            }
            PinRule::Repeated => "it repeats a digit four or more times in a row (pin.allowCommonPatterns is false)",
            PinRule::Sequence => {
                "it has four or more consecutive ascending or descending digits (pin.allowCommonPatterns is false)"
            }
            PinRule::ConferenceId => "it contains the user's conference ID, or is part of it (pin.allowCommonPatterns is false)",
            PinRule::NumberEnding => {
                "it contains the last four digits of one of the tenant's dial-in numbers (pin.allowCommonPatterns is false)"
            }
            PinRule::History => "it is one of the user's last PINs (pin.historyCount)",
        })
    }
}

impl PinRules {
    /// Whether `pin` (digits) meets the rules for a user holding `conference_id`.
    pub fn check(&self, pin: &str, conference_id: Option<&str>) -> Result<(), PinRule> {
        if is_weak(pin, conference_id) {
            return Err(PinRule::Weak);
        }
        if self.allow_common_patterns {
            return Ok(());
        }
        let b = pin.as_bytes();
        if b.windows(4).any(|w| w.iter().all(|d| *d == w[0])) {
            return Err(PinRule::Repeated);
        }
        let step = |w: &[u8], up: bool| w.windows(2).all(|p| if up { p[1] == p[0] + 1 } else { p[0] == p[1] + 1 });
        if b.windows(4).any(|w| step(w, true) || step(w, false)) {
            return Err(PinRule::Sequence);
        }
        if let Some(id) = conference_id.filter(|id| !id.is_empty())
            && (pin.contains(id) || id.contains(pin))
        {
            return Err(PinRule::ConferenceId);
        }
        if self.number_endings.iter().any(|e| !e.is_empty() && pin.contains(e.as_str())) {
            return Err(PinRule::NumberEnding);
        }
        Ok(())
    }
}

/// A PIN brought from another system (a Secret's value), if it meets the rules: digits, 4 to
/// 12 of them (the tenant's length applies to new PINs only, as for PINs kept across a length
/// change), and `rules`. White space around it (a file's final line break) is dropped.
pub fn adopt(value: &[u8], conference_id: Option<&str>, rules: &PinRules) -> Result<Pin, PinRule> {
    let text = std::str::from_utf8(value).map_err(|_| PinRule::Digits)?.trim();
    if !(4..=12).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinRule::Digits);
    }
    rules.check(text, conference_id)?;
    Ok(Pin(text.to_string()))
}

/// Generates a PIN of `length` digits meeting `rules`, and not one of `history`, from `rng`.
/// It ends: the rules refuse a small share of the PINs of any length (at most 200 number
/// endings, one conference ID, the patterns), and a history holds at most
/// [`super::pin_history::MAX_HASHES`].
pub fn generate_with(
    rng: &mut impl RngCore,
    length: PinLength,
    conference_id: Option<&str>,
    rules: &PinRules,
    history: Option<&super::pin_history::PinHistory>,
) -> Pin {
    loop {
        let candidate = random_digits(rng, length.get());
        if rules.check(&candidate, conference_id).is_ok() && !history.is_some_and(|h| h.contains(&candidate)) {
            return Pin(candidate);
        }
    }
}

/// Generates a PIN from the OS's cryptographic RNG.
pub fn generate(
    length: PinLength,
    conference_id: Option<&str>,
    rules: &PinRules,
    history: Option<&super::pin_history::PinHistory>,
) -> Pin {
    generate_with(&mut OsRng.unwrap_err(), length, conference_id, rules, history)
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
        let pin = generate_with(
            &mut Scripted(digits.to_vec()),
            PinLength::new(5).expect("5"),
            Some("73910"),
            &PinRules::default(),
            None,
        );
        assert_eq!(pin.expose(), "90817");
    }

    #[test]
    fn the_common_patterns_are_refused_unless_allowed_and_named() {
        let rules = PinRules { allow_common_patterns: false, number_endings: vec!["0100".into()] };
        for (pin, rule) in [
            ("11112", PinRule::Repeated),
            ("91234", PinRule::Sequence),
            ("987651", PinRule::Sequence),
            ("5739104", PinRule::ConferenceId),
            ("39104", PinRule::ConferenceId),
            ("90100", PinRule::NumberEnding),
            ("12345", PinRule::Weak),
        ] {
            assert_eq!(rules.check(pin, Some("739104")), Err(rule), "{pin}");
        }
        assert_eq!(rules.check("90817", Some("739104")), Ok(()));
        let lax = PinRules { allow_common_patterns: true, ..rules };
        assert_eq!(lax.check("11112", Some("739104")), Ok(()));
        assert_eq!(lax.check("12345", None), Err(PinRule::Weak), "never issued, allowed or not");
        for rule in [PinRule::Repeated, PinRule::Sequence, PinRule::NumberEnding, PinRule::History] {
            assert!(rule.to_string().contains("pin."), "names the policy field: {rule}");
        }
    }

    proptest! {
        #[test]
        fn generated_pins_have_the_length_and_are_none_of_the_known_weak_ones(seed: u64, len in 4u8..=12, id in "[0-9]{4,12}") {
            let mut rng = StdRng::seed_from_u64(seed);
            let length = PinLength::new(len).expect("in range");
            let pin = generate_with(&mut rng, length, Some(&id), &PinRules::default(), None);
            prop_assert_eq!(pin.expose().len(), usize::from(len));
            prop_assert!(pin.expose().bytes().all(|b| b.is_ascii_digit()));
            let weak = if usize::from(len) <= 10 { known_weak(usize::from(len)) } else {
                (b'0'..=b'9').map(|d| char::from(d).to_string().repeat(usize::from(len))).collect()
            };
            prop_assert!(!weak.iter().any(|w| w == pin.expose()), "a known-weak PIN: {}", pin.expose());
            prop_assert_ne!(pin.expose(), id.as_str());
        }
    }

    /// The Skype rules, written out from their definition rather than by calling
    /// `PinRules::check`, which is what is under test.
    fn breaks_a_rule(pin: &str, id: &str, endings: &[String]) -> bool {
        let b = pin.as_bytes();
        let repeated = b.windows(4).any(|w| w.iter().all(|d| *d == w[0]));
        let up = b.windows(4).any(|w| (1..4).all(|i| w[i] == w[0] + i as u8));
        let down = b.windows(4).any(|w| (1..4).all(|i| w[0] == w[i] + i as u8));
        repeated
            || up
            || down
            || pin.contains(id)
            || id.contains(pin)
            || endings.iter().any(|e| pin.contains(e.as_str()))
    }

    proptest! {
        #[test]
        fn no_generated_pin_breaks_the_policy_or_repeats_the_history(
            seed: u64,
            len in 4u8..=12,
            id in "[1-9][0-9]{5,11}",
            allow: bool,
            endings in proptest::collection::vec("[0-9]{4}", 0..4),
            old in proptest::collection::vec("[0-9]{4,12}", 0..6),
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let rules = PinRules { allow_common_patterns: allow, number_endings: endings.clone() };
            let mut history = crate::provisioning::pin_history::PinHistory::cheap(2);
            for o in &old {
                history.push(o, 20);
            }
            let pin = generate_with(&mut rng, PinLength::new(len).expect("in range"), Some(&id), &rules, Some(&history));
            let p = pin.expose();
            prop_assert_eq!(p.len(), usize::from(len));
            prop_assert!(!old.iter().any(|o| o == p), "repeats an old PIN");
            prop_assert!(!is_weak(p, Some(&id)));
            if !allow {
                prop_assert!(!breaks_a_rule(p, &id, &endings), "{} breaks a rule", p);
            }
        }
    }
}
