//! Whether a user can be planned at all: its tenant exists and is valid, and its spec holds
//! every rule against it. Otherwise the user is blocked, with the reason its `Ready`
//! condition gives and a message naming what to fix.

use crate::api::Reason;
use crate::api::{ConferencingTenant, ConferencingUser};
use crate::validation::{
    ClusterPolicy, ValidatedTenant, ValidatedUser, validate_tenant, validate_tenant_ref, validate_user,
};

/// Why a user cannot be planned; becomes `Ready=False` with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Blocked {
    /// Condition reason.
    pub reason: Reason,
    /// Condition message, naming the field or object to fix.
    pub message: String,
}

/// Validates `user` against `tenant`, the ConferencingTenant its `tenantRef` names in its
/// namespace (if that exists).
pub(crate) fn admit(
    user: &ConferencingUser,
    tenant: Option<&ConferencingTenant>,
    policy: &ClusterPolicy,
) -> Result<(ValidatedUser, ValidatedTenant), Blocked> {
    let tenant_name = &user.spec.tenant_ref.name;
    // First: every message below names the tenant, and a name stored before the CRD had its
    // pattern may carry ESC sequences into the condition, the Event and the plugin's output.
    validate_tenant_ref(tenant_name).map_err(|e| Blocked { reason: Reason::InvalidSpec, message: e.to_string() })?;
    let Some(tenant) = tenant else {
        return Err(Blocked {
            reason: Reason::TenantNotFound,
            message: format!(
                "ConferencingTenant {tenant_name} does not exist in this namespace; the user keeps its PIN and conference ID until it does"
            ),
        });
    };
    let vt = validate_tenant(tenant, policy).map_err(|e| Blocked {
        reason: Reason::TenantInvalid,
        message: format!("ConferencingTenant {tenant_name} is invalid: {e}"),
    })?;
    let vu = validate_user(user, &vt).map_err(|e| Blocked { reason: Reason::InvalidSpec, message: e.to_string() })?;
    Ok((vu, vt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::user;

    /// A tenantRef stored before the CRD had its pattern: refused as InvalidSpec (not looked
    /// up and reported as TenantNotFound with the name copied raw), the value escaped.
    #[test]
    fn an_invalid_tenant_ref_is_invalid_spec_with_the_value_escaped() {
        let mut u = user("alice", "acme");
        u.spec.tenant_ref.name = "acme\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2A".into();
        let Err(blocked) = admit(&u, None, &ClusterPolicy::unrestricted()) else { panic!("accepted") };
        assert_eq!(blocked.reason, "InvalidSpec");
        assert!(blocked.message.starts_with("spec.tenantRef.name: \"acme\\u{1b}]52;c;"), "{}", blocked.message);
        assert!(!blocked.message.chars().any(crate::domain::is_forbidden), "{}", blocked.message);

        let Err(missing) = admit(&user("alice", "acme"), None, &ClusterPolicy::unrestricted()) else {
            panic!("accepted")
        };
        assert_eq!(missing.reason, "TenantNotFound");
    }
}
