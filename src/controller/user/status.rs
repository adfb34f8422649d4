//! Step 5: the status, written with server-side apply under the operator's field manager.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::{ConferencingUser, ConferencingUserStatus, FIELD_MANAGER};
use crate::controller::context::Context;
use crate::error::{Error, Result};

/// Applies `status` to the user.
pub async fn write(ctx: &Context, user: &ConferencingUser, status: &ConferencingUserStatus) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let name = user.name_any();
    let api: Api<ConferencingUser> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({
        "apiVersion": ConferencingUser::api_version(&()),
        "kind": ConferencingUser::kind(&()),
        "status": status,
    });
    crate::telemetry::record_write("apply-status", "ConferencingUser", &ns, &name);
    let written = api
        .patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .map_err(Error::kube(format!("writing status of ConferencingUser {ns}/{name}")))?;
    ctx.expectations.expect(&user.uid().unwrap_or_default(), written.metadata.resource_version.as_deref());
    Ok(())
}
