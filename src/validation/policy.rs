//! The cluster's limits on every tenant: the domains senders and recipients may be in.

use super::within;

/// Limits the platform team sets for the whole cluster (operator flags, Helm values), which no
/// tenant can widen: a namespace editor owns its tenant, so a limit kept in the tenant is only
/// a limit on the namespace's users, not on the namespace. The relay is shared; without these,
/// one namespace's tenant could send as another organisation's domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterPolicy {
    /// Domains a tenant's `sendEmailFromAddress` must be in (or under); empty: any.
    pub sender_domains: Vec<String>,
    /// Domains every recipient must be in (or under); empty: any.
    pub recipient_domains: Vec<String>,
}

/// Why a cluster policy flag is not a list of domains.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a domain name such as acme.example")]
pub struct BadDomain(pub String);

impl ClusterPolicy {
    /// No limits beyond each tenant's own (offline tools, tests, clusters without flags).
    pub fn unrestricted() -> Self {
        Self::default()
    }

    /// The policy of these flag values, each domain normalised (IDNA, lower case).
    pub fn new(sender_domains: &[String], recipient_domains: &[String]) -> Result<Self, BadDomain> {
        let norm = |list: &[String]| -> Result<Vec<String>, BadDomain> {
            list.iter()
                .filter(|d| !d.trim().is_empty())
                .map(|d| crate::domain::normalise_domain(d.trim()).ok_or_else(|| BadDomain(d.clone())))
                .collect()
        };
        Ok(Self { sender_domains: norm(sender_domains)?, recipient_domains: norm(recipient_domains)? })
    }

    /// Whether mail may be sent from `domain` (normalised).
    pub fn allows_sender(&self, domain: &str) -> bool {
        within(domain, &self.sender_domains)
    }
}
