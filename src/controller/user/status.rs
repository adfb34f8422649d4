//! Step 6: the status, replaced whole, conditioned on the resourceVersion it was planned
//! from (see [`write_status`]).

use kube::ResourceExt;

use crate::api::{ConferencingUser, ConferencingUserStatus};
use crate::controller::apply_status::write_status;
use crate::controller::context::Context;
use crate::error::Result;

/// Applies `status` to the user, and remembers the version written so that the next
/// reconcile waits for the cache to show it.
pub async fn write(ctx: &Context, user: &ConferencingUser, status: &ConferencingUserStatus) -> Result<()> {
    crate::fault::maybe_delay("status", &user.namespace().unwrap_or_default(), &user.name_any()).await;
    let mut next = user.clone();
    next.status = Some(status.clone());
    let written = write_status(&ctx.client, &next).await?;
    ctx.expectations.expect(&user.uid().unwrap_or_default(), written.metadata.resource_version.as_deref());
    Ok(())
}
