//! Step 2: a `ValidatedUser` and `ValidatedTenant`, or the reason the user is blocked.

use super::dereference::Dereferenced;
use crate::api::ConferencingUser;
use crate::validation::{
    ClusterPolicy, ValidatedTenant, ValidatedUser, validate_tenant, validate_tenant_ref, validate_user,
};

/// Why a user cannot be planned; becomes `Ready=False` with this reason.
pub struct Blocked {
    /// Condition reason.
    pub reason: &'static str,
    /// Condition message, naming the field or object to fix.
    pub message: String,
}

/// Validates the user against its tenant.
pub fn validate(
    user: &ConferencingUser,
    deref: &Dereferenced,
    policy: &ClusterPolicy,
) -> Result<(ValidatedUser, ValidatedTenant), Blocked> {
    let tenant_name = &user.spec.tenant_ref.name;
    // First: every message below names the tenant, and a name stored before the CRD had its
    // pattern may carry ESC sequences into the condition, the Event and the plugin's output.
    validate_tenant_ref(tenant_name).map_err(|e| Blocked { reason: "InvalidSpec", message: e.to_string() })?;
    let Some(tenant) = &deref.tenant else {
        return Err(Blocked {
            reason: "TenantNotFound",
            message: format!(
                "ConferencingTenant {tenant_name} does not exist in this namespace; the user keeps its PIN and conference ID until it does"
            ),
        });
    };
    let vt = validate_tenant(tenant, policy).map_err(|e| Blocked {
        reason: "TenantInvalid",
        message: format!("ConferencingTenant {tenant_name} is invalid: {e}"),
    })?;
    let vu = validate_user(user, &vt).map_err(|e| Blocked { reason: "InvalidSpec", message: e.to_string() })?;
    Ok((vu, vt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::user;

    fn nothing() -> Dereferenced {
        Dereferenced {
            tenant: None,
            pin_secret: None,
            foreign_secret: None,
            own_claims: Vec::new(),
            static_id_holder: None,
            current_id_holder: None,
            replacements: Vec::new(),
        }
    }

    /// A tenantRef stored before the CRD had its pattern: refused as InvalidSpec (not looked
    /// up and reported as TenantNotFound with the name copied raw), the value escaped.
    #[test]
    fn an_invalid_tenant_ref_is_invalid_spec_with_the_value_escaped() {
        let mut u = user("alice", "acme");
        u.spec.tenant_ref.name = "acme\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2A".into();
        let Err(blocked) = validate(&u, &nothing(), &ClusterPolicy::unrestricted()) else { panic!("accepted") };
        assert_eq!(blocked.reason, "InvalidSpec");
        assert!(blocked.message.starts_with("spec.tenantRef.name: \"acme\\u{1b}]52;c;"), "{}", blocked.message);
        assert!(!blocked.message.chars().any(crate::domain::is_forbidden), "{}", blocked.message);

        let Err(missing) = validate(&user("alice", "acme"), &nothing(), &ClusterPolicy::unrestricted()) else {
            panic!("accepted")
        };
        assert_eq!(missing.reason, "TenantNotFound");
    }
}
