//! The CustomResourceDefinitions (tenants, users, conference-ID claims), generated from the
//! API types. `crds/` holds the committed
//! output; a test fails when it drifts from this.

use kube::CustomResourceExt;

use crate::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};
use crate::error::{Error, Result};

/// Each CRD as (file name in `crds/`, YAML).
pub fn crds() -> Result<Vec<(&'static str, String)>> {
    let yaml =
        |crd| serde_yaml::to_string(&crd).map_err(|e| Error::Input(format!("rendering a CRD as YAML (a bug): {e}")));
    Ok(vec![
        ("conferencing.io_conferenceidclaims.yaml", yaml(ConferenceIdClaim::crd())?),
        ("conferencing.io_conferencingtenants.yaml", yaml(ConferencingTenant::crd())?),
        ("conferencing.io_conferencingusers.yaml", yaml(ConferencingUser::crd())?),
    ])
}

/// Both CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String> {
    Ok(crds()?.into_iter().map(|(_, y)| y).collect::<Vec<_>>().join("---\n"))
}
