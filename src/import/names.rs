//! Kubernetes names for imported users, derived from their sign-in addresses: the address's
//! local part as a DNS label (`Alice.Smith@contoso.com` -> `alice-smith`). A user the tree
//! already has keeps its name, so that re-running an import never renames (deletes and
//! re-creates) anyone; a name two new addresses would share goes to the first address in
//! order, and the others get a suffix derived from their address, reported.

use std::collections::{BTreeMap, BTreeSet};

/// Longest name given: a label (labels and label values hold at most 63 characters).
const MAX_NAME: usize = 63;
/// Room kept for the suffix of a colliding name (`-` and up to 16 hex digits).
const SUFFIX_ROOM: usize = 17;

/// The names of a set of users, and what was done about names two addresses shared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Names {
    /// Sign-in address -> name.
    pub(crate) by_sign_in: BTreeMap<String, String>,
    /// One line per address that could not have its plain name.
    pub(crate) collisions: Vec<String>,
}

/// Names `sign_ins` (lower-cased addresses, each once), keeping those of `existing` (sign-in
/// address -> name, from the tree being re-imported into).
pub(crate) fn assign<'a>(sign_ins: impl IntoIterator<Item = &'a str>, existing: &BTreeMap<String, String>) -> Names {
    let sign_ins: BTreeSet<&str> = sign_ins.into_iter().collect();
    let mut taken: BTreeMap<String, String> = existing.iter().map(|(a, n)| (n.clone(), a.clone())).collect();
    let mut names = Names::default();
    for address in sign_ins {
        if let Some(name) = existing.get(address) {
            names.by_sign_in.insert(address.to_string(), name.clone());
            continue;
        }
        let base = base_name(address);
        let name = if taken.contains_key(&base) {
            let hash = format!("{:016x}", fnv1a(address.as_bytes()));
            let name = (6..=16)
                .map(|n| format!("{base}-{}", &hash[..n]))
                .find(|n| !taken.contains_key(n))
                .unwrap_or_else(|| format!("{base}-{hash}-{}", taken.len()));
            let holder = taken.get(&base).cloned().unwrap_or_default();
            names.collisions.push(format!("{address} and {holder} both make the name {base}: {address} is {name}"));
            name
        } else {
            base
        };
        taken.insert(name.clone(), address.to_string());
        names.by_sign_in.insert(address.to_string(), name);
    }
    names
}

/// The plain name of an address: its local part, lower-cased, with every run of characters
/// other than letters and digits made one `-`.
pub(crate) fn base_name(address: &str) -> String {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let mut out = String::new();
    for c in local.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.truncate(MAX_NAME - SUFFIX_ROOM);
    let out = out.trim_end_matches('-');
    if out.is_empty() { "user".to_string() } else { out.to_string() }
}

/// FNV-1a, 64 bits: stable across versions and platforms, which a suffix that must not change
/// between two imports needs (std's hasher promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::validate_tenant_ref;

    #[test]
    fn names_are_dns_labels_from_the_local_part() {
        for (address, name) in [
            ("alice.smith@contoso.com", "alice-smith"),
            ("o'brien+conf@contoso.com", "o-brien-conf"),
            ("__x__@contoso.com", "x"),
            ("émile@contoso.com", "mile"),
            ("山田@contoso.com", "user"),
        ] {
            assert_eq!(base_name(address), name, "{address}");
            validate_tenant_ref(name).expect("a DNS label");
        }
        let long = format!("{}@contoso.com", "a.".repeat(100));
        assert!(base_name(&long).len() <= MAX_NAME - SUFFIX_ROOM);
    }

    #[test]
    fn collisions_get_a_stable_suffix_whatever_the_row_order() {
        let a = assign(["alice_smith@contoso.com", "alice.smith@contoso.com"], &BTreeMap::new());
        let b = assign(["alice.smith@contoso.com", "alice_smith@contoso.com"], &BTreeMap::new());
        assert_eq!(a, b);
        assert_eq!(a.by_sign_in["alice.smith@contoso.com"], "alice-smith");
        let other = &a.by_sign_in["alice_smith@contoso.com"];
        assert!(other.starts_with("alice-smith-") && other.len() == "alice-smith-".len() + 6, "{other}");
        assert_eq!(a.collisions.len(), 1);
        assert!(a.collisions[0].contains("alice_smith@contoso.com and alice.smith@contoso.com"), "{:?}", a.collisions);
    }

    #[test]
    fn a_name_from_an_earlier_import_is_kept_and_never_given_to_another() {
        let existing = BTreeMap::from([("alice_smith@contoso.com".to_string(), "alice-smith".to_string())]);
        let n = assign(["alice.smith@contoso.com", "alice_smith@contoso.com"], &existing);
        assert_eq!(n.by_sign_in["alice_smith@contoso.com"], "alice-smith");
        assert_ne!(n.by_sign_in["alice.smith@contoso.com"], "alice-smith");
        // A user gone from the export still owns its name in the tree.
        let n = assign(["alice.smith@contoso.com"], &existing);
        assert_ne!(n.by_sign_in["alice.smith@contoso.com"], "alice-smith");
    }
}
