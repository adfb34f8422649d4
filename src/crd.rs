//! The CustomResourceDefinitions (tenants, users, conference-ID claims), generated from the
//! API types. `crds/` holds the committed
//! output; a test fails when it drifts from this.

use kube::CustomResourceExt;

use crate::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};

/// Each CRD as (file name in `crds/`, YAML).
pub fn crds() -> Result<Vec<(&'static str, String)>, serde_yaml::Error> {
    let yaml = |crd| serde_yaml::to_string(&crd);
    Ok(vec![
        ("conferencing.io_conferenceidclaims.yaml", yaml(ConferenceIdClaim::crd())?),
        ("conferencing.io_conferencingtenants.yaml", yaml(ConferencingTenant::crd())?),
        ("conferencing.io_conferencingusers.yaml", yaml(ConferencingUser::crd())?),
    ])
}

/// Both CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    Ok(crds()?.into_iter().map(|(_, y)| y).collect::<Vec<_>>().join("---\n"))
}
