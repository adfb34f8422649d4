//! Step 6: the status, written with server-side apply under the operator's field manager,
//! conditioned on the resourceVersion it was planned from.

use kube::ResourceExt;

use crate::api::{ConferencingUser, ConferencingUserStatus};
use crate::controller::apply_status::apply_status;
use crate::controller::context::Context;
use crate::error::Result;

/// Applies `status` to the user, and remembers the version written so that the next
/// reconcile waits for the cache to show it.
pub async fn write(ctx: &Context, user: &ConferencingUser, status: &ConferencingUserStatus) -> Result<()> {
    let written = apply_status(&ctx.client, user, status).await?;
    ctx.expectations.expect(&user.uid().unwrap_or_default(), written.metadata.resource_version.as_deref());
    Ok(())
}
