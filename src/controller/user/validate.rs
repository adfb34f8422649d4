//! Step 2: a `ValidatedUser` and `ValidatedTenant`, or the reason the user is blocked.

use super::dereference::Dereferenced;
use crate::api::ConferencingUser;
use crate::validation::{ClusterPolicy, ValidatedTenant, ValidatedUser, validate_tenant, validate_user};

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
