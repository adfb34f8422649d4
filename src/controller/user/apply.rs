//! Step 4: carries a plan out, action by action, in order. Each action is idempotent, so a
//! plan interrupted anywhere can simply be planned and applied again (see `crate::planning`).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;

use crate::api::{ConferencingUser, FIELD_MANAGER};
use crate::controller::context::Context;
use crate::error::{Error, Result, is_conflict, is_not_found};
use crate::planning::{Action, Plan};
use crate::provisioning::claim::{self, Holder};
use crate::provisioning::secret::{pin_secret, pin_secret_name};
use crate::provisioning::{conference_id, pin};
use crate::validation::{ConferenceId, IdLength};

/// Random candidates tried before giving up on allocating an ID.
const MAX_ALLOCATION_ATTEMPTS: usize = 64;

/// Carries out `plan` for `user`; returns the status as it now stands.
pub async fn apply(ctx: &Context, user: &ConferencingUser, plan: Plan) -> Result<crate::api::ConferencingUserStatus> {
    let Plan { actions, mut status, events, outcomes } = plan;
    for action in actions {
        match action {
            Action::ClaimId(id) => claim_id(ctx, user, &id).await?,
            Action::AllocateId(length) => {
                let id = allocate_id(ctx, user, length).await?;
                status.conference_id = Some(id.to_string());
            }
            Action::GeneratePin { generation, length } => {
                let pin = pin::generate(length, status.conference_id.as_deref());
                crate::telemetry::METRICS.pins_issued.inc();
                write_pin(ctx, user, &pin_secret(user, &pin, &generation)).await?;
            }
            Action::WriteStatus => {
                super::status::write(ctx, user, &status).await?;
                let described = outcomes.iter().map(|o| crate::planning::describe(o, &status));
                for e in described.collect::<Vec<_>>().iter().chain(&events) {
                    ctx.publish(user, e).await;
                }
            }
            Action::DeletePinSecret => delete_pin_secret(ctx, user).await?,
            Action::ReleaseIds(ids) => {
                for id in ids {
                    release_id(ctx, user, &id).await?;
                }
            }
        }
    }
    Ok(status)
}

fn claims_api(ctx: &Context, ns: &str) -> Api<ConfigMap> {
    Api::namespaced(ctx.client.clone(), ns)
}

/// Claims `id` for the user. Creating the claim is the atomic step; `AlreadyExists` means
/// someone holds it: the user itself (done), a user that no longer exists (take it over), or
/// another live user (conflict).
async fn claim_id(ctx: &Context, user: &ConferencingUser, id: &ConferenceId) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let uid = user.uid().unwrap_or_default();
    if ctx.claims.holder(&ns, id).is_some_and(|h| h.uid == uid) {
        return Ok(());
    }
    match try_create_claim(ctx, user, id).await? {
        None => Ok(()),
        Some((holder, _)) if holder.uid == uid => Ok(()),
        Some((holder, existing)) if ctx.live_user(&ns, &holder.name, &holder.uid).is_none() => {
            take_over(ctx, user, id, &existing).await
        }
        Some((holder, _)) => Err(Error::ConferenceIdConflict { id: id.to_string(), holder }),
    }
}

/// Creates the claim. `Ok(None)`: created; `Ok(Some(holder, claim))`: it already exists.
async fn try_create_claim(
    ctx: &Context,
    user: &ConferencingUser,
    id: &ConferenceId,
) -> Result<Option<(Holder, ConfigMap)>> {
    let ns = user.namespace().unwrap_or_default();
    let api = claims_api(ctx, &ns);
    let name = claim::claim_name(id);
    crate::telemetry::record_write("create", "ConfigMap", &ns, &name);
    match api.create(&PostParams::default(), &claim::claim(user, id)).await {
        Ok(_) => {
            crate::telemetry::METRICS.ids_issued.inc();
            Ok(None)
        }
        Err(e) if is_conflict(&e) => {
            let existing =
                api.get(&name).await.map_err(Error::kube(format!("reading conference-ID claim {ns}/{name}")))?;
            let holder = claim::parse(&existing)
                .map(|(_, h)| h)
                .unwrap_or(Holder { name: "(unknown)".into(), uid: String::new() });
            Ok(Some((holder, existing)))
        }
        Err(e) => Err(Error::Kube { action: format!("creating conference-ID claim {ns}/{name}"), source: e }),
    }
}

/// Replaces a claim left by a deleted user. The delete is conditional on the claim's UID and
/// resourceVersion, so two operators racing for it cannot both win.
async fn take_over(ctx: &Context, user: &ConferencingUser, id: &ConferenceId, stale: &ConfigMap) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let name = claim::claim_name(id);
    let dp = DeleteParams {
        preconditions: Some(Preconditions { uid: stale.uid(), resource_version: stale.resource_version() }),
        ..DeleteParams::default()
    };
    crate::telemetry::record_write("delete", "ConfigMap", &ns, &name);
    match claims_api(ctx, &ns).delete(&name, &dp).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) || is_conflict(&e) => {}
        Err(e) => {
            return Err(Error::Kube { action: format!("releasing stale claim {ns}/{name}"), source: e });
        }
    }
    match try_create_claim(ctx, user, id).await? {
        None => Ok(()),
        Some((holder, _)) if holder.uid == user.uid().unwrap_or_default() => Ok(()),
        Some((holder, _)) => Err(Error::ConferenceIdConflict { id: id.to_string(), holder }),
    }
}

/// Picks random IDs that the index says are free until a claim succeeds.
async fn allocate_id(ctx: &Context, user: &ConferencingUser, length: IdLength) -> Result<ConferenceId> {
    let ns = user.namespace().unwrap_or_default();
    for _ in 0..MAX_ALLOCATION_ATTEMPTS {
        let id = conference_id::candidate(length, &|s| ctx.claims.contains(&ns, s));
        if try_create_claim(ctx, user, &id).await?.is_none() {
            return Ok(id);
        }
    }
    Err(Error::IdSpaceExhausted { namespace: ns, length: length.get(), attempts: MAX_ALLOCATION_ATTEMPTS })
}

async fn release_id(ctx: &Context, user: &ConferencingUser, id: &ConferenceId) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let name = claim::claim_name(id);
    let uid = user.uid().unwrap_or_default();
    if ctx.claims.holder(&ns, id).is_some_and(|h| h.uid != uid) {
        return Ok(());
    }
    crate::telemetry::record_write("delete", "ConfigMap", &ns, &name);
    match claims_api(ctx, &ns).delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(Error::Kube { action: format!("releasing conference ID {id} in {ns}"), source: e }),
    }
}

async fn write_pin(ctx: &Context, user: &ConferencingUser, secret: &Secret) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let name = secret.name_any();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    crate::telemetry::record_write("apply", "Secret", &ns, &name);
    // The error is built from the action only: a kube error never echoes the request body,
    // so the PIN cannot reach a log through it.
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(secret))
        .await
        .map_err(Error::kube(format!("writing PIN Secret {ns}/{name}")))?;
    Ok(())
}

async fn delete_pin_secret(ctx: &Context, user: &ConferencingUser) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let name = pin_secret_name(&user.name_any());
    if ctx.secrets.get(&ObjectRef::new(&name).within(&ns)).is_none() {
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    crate::telemetry::record_write("delete", "Secret", &ns, &name);
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(Error::Kube { action: format!("deleting PIN Secret {ns}/{name}"), source: e }),
    }
}
