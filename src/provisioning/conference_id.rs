//! Conference IDs: random candidates that avoid the IDs already in use. Uniqueness is not
//! decided here but by the API server, through the claim object (see [`super::claim`]).

use rand::{RngCore, TryRngCore, rngs::OsRng};

use super::pin::random_digits;
use crate::domain::{ConferenceId, IdLength};

/// A random ID of `length` digits not in `in_use`. The first digit is not 0, so that the ID
/// reads the same whether or not a phone system strips leading zeros.
pub(crate) fn candidate_with(rng: &mut impl RngCore, length: IdLength, in_use: &dyn Fn(&str) -> bool) -> ConferenceId {
    loop {
        let mut s = random_digits(rng, length.get());
        if s.starts_with('0') {
            continue;
        }
        if !in_use(&s) {
            // `length` is 6..=12 and every char is a digit, so this parses.
            if let Some(id) = ConferenceId::parse(&s) {
                return id;
            }
        }
        s.clear();
    }
}

/// A random ID from the OS's cryptographic RNG.
pub(crate) fn candidate(length: IdLength, in_use: &dyn Fn(&str) -> bool) -> ConferenceId {
    candidate_with(&mut OsRng.unwrap_err(), length, in_use)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates `n` IDs, each avoiding `in_use` and the ones allocated before it: what many
    /// concurrent allocations produce when each sees the others' claims.
    fn allocate_many(rng: &mut impl rand::RngCore, length: IdLength, n: usize) -> Vec<ConferenceId> {
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        (0..n)
            .map(|_| {
                let id = candidate_with(rng, length, &|s| taken.contains(s));
                taken.insert(id.as_str().to_string());
                id
            })
            .collect()
    }
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::StdRng};

    proptest! {
        #[test]
        fn allocated_ids_are_unique_and_of_the_length(seed: u64, len in 6u8..=12, n in 1usize..2000) {
            let mut rng = StdRng::seed_from_u64(seed);
            let ids = allocate_many(&mut rng, IdLength::new(len).expect("in range"), n);
            let distinct: std::collections::HashSet<_> = ids.iter().collect();
            prop_assert_eq!(distinct.len(), n);
            for id in &ids {
                prop_assert_eq!(id.as_str().len(), usize::from(len));
                prop_assert!(!id.as_str().starts_with('0'));
            }
        }
    }

    #[test]
    fn avoids_ids_in_use_even_when_nearly_full() {
        // Length 6 has 900,000 candidates; with all but a handful taken the generator must
        // still find a free one rather than return a taken one.
        let mut rng = StdRng::seed_from_u64(1);
        let free = ["314159", "271828"];
        let id = candidate_with(&mut rng, IdLength::new(6).expect("6"), &|s| !free.contains(&s));
        assert!(free.contains(&id.as_str()));
    }
}
