//! The provisioning and clean-up effects on the operator's objects: conference-ID claims and
//! the PIN Secret (see `effects` for the record, the status and e-mail). Each is idempotent
//! and conditioned on what the operator last saw (creates cannot overwrite; updates and
//! deletes carry the object's resourceVersion or UID), so a plan interrupted anywhere can be
//! planned and carried out again, and a writer with a stale view fails instead of
//! overwriting.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::{Resource, ResourceExt};

use super::dereference::Dereferenced;
use crate::api::{ConferenceIdClaim, ConferencingUser};
use crate::controller::context::Context;
use crate::domain::{ConferenceId, IdLength};
use crate::error::{ObjectKey, ReconcileError, Result, Step, api_error, is_already_exists, is_conflict, is_not_found};
use crate::provisioning::claim::{self, Holder};
use crate::provisioning::conference_id;
use crate::provisioning::pin::Pin;
use crate::provisioning::pin_history::{HISTORY_KEY, PinHistory};
use crate::provisioning::secret::{
    SecretMeta, label_as_pin_secret, mark_recorded as mark_recorded_meta, pin_secret, pin_secret_name,
};

/// Random candidates tried before giving up on allocating an ID.
const MAX_ALLOCATION_ATTEMPTS: usize = 64;

/// The error of a provisioning write of `user`'s.
fn apply_error(user: &ConferencingUser, action: String) -> impl FnOnce(kube::Error) -> ReconcileError + use<> {
    api_error(&ObjectKey::of(user), Step::Provision, action)
}

/// The error of a clean-up write of `user`'s.
fn cleanup_error(user: &ConferencingUser, action: String) -> impl FnOnce(kube::Error) -> ReconcileError + use<> {
    api_error(&ObjectKey::of(user), Step::CleanUp, action)
}

fn claims_api(ctx: &Context, ns: &str) -> Api<ConferenceIdClaim> {
    Api::namespaced(ctx.client.clone(), ns)
}

fn me(user: &ConferencingUser) -> Holder {
    Holder { name: user.name_any(), uid: user.uid().unwrap_or_default() }
}

/// Claims `id` for the user. Creating the claim is the atomic step; `AlreadyExists` means
/// someone holds it: the user itself (done), a user that no longer exists or a malformed
/// claim (take it over), or another live user (conflict; the index learns the holder, so
/// that the next plan knows).
pub(crate) async fn claim_id(ctx: &Context, user: &ConferencingUser, id: &ConferenceId) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let me = me(user);
    if ctx.index.claim_holder(&ns, id).is_some_and(|h| h == me) {
        return Ok(());
    }
    match try_create_claim(ctx, user, id, None).await? {
        Created::Yes => Ok(()),
        Created::Exists { holder: Some(h), .. } if h == me => Ok(()),
        Created::Exists { holder: Some(h), uid, .. } if ctx.index.is_live(&ns, &h) => {
            ctx.index.record_claim(&ns, id, &h, &uid, None);
            Err(ReconcileError::ConferenceIdConflict { object: ObjectKey::of(user), id: id.to_string(), holder: h })
        }
        Created::Exists { uid, resource_version, .. } => take_over(ctx, user, id, uid, resource_version).await,
    }
}

enum Created {
    Yes,
    Exists { holder: Option<Holder>, uid: String, resource_version: Option<String> },
}

async fn try_create_claim(
    ctx: &Context,
    user: &ConferencingUser,
    id: &ConferenceId,
    replaces: Option<&ConferenceId>,
) -> Result<Created> {
    let ns = user.namespace().unwrap_or_default();
    let api = claims_api(ctx, &ns);
    let name = id.to_string();
    match api.create(&PostParams::default(), &claim::claim(user, id, replaces)).await {
        Ok(created) => {
            ctx.index.record_claim(&ns, id, &me(user), &created.uid().unwrap_or_default(), replaces);
            ctx.metrics.ids_issued.inc();
            Ok(Created::Yes)
        }
        Err(e) if is_conflict(&e) => {
            let existing = api
                .get_metadata(&name)
                .await
                .map_err(apply_error(user, format!("reading ConferenceIdClaim {ns}/{name}")))?;
            Ok(Created::Exists {
                holder: claim::parse(&existing.metadata).map(|(_, h)| h),
                uid: existing.metadata.uid.clone().unwrap_or_default(),
                resource_version: existing.metadata.resource_version.clone(),
            })
        }
        Err(e) => Err(apply_error(user, format!("creating ConferenceIdClaim {ns}/{name}"))(e)),
    }
}

/// Replaces a claim left by a deleted user (or edited into nonsense). The delete is
/// conditional on the claim's UID and resourceVersion, so two operators racing for it cannot
/// both win, and a claim re-taken in between is not deleted.
async fn take_over(
    ctx: &Context,
    user: &ConferencingUser,
    id: &ConferenceId,
    uid: String,
    resource_version: Option<String>,
) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    let name = id.to_string();
    let dp = DeleteParams {
        preconditions: Some(Preconditions { uid: Some(uid), resource_version }),
        ..DeleteParams::default()
    };
    match claims_api(ctx, &ns).delete(&name, &dp).await {
        Ok(_) => ctx.index.forget_claim(&ns, id),
        Err(e) if is_not_found(&e) || is_conflict(&e) => {}
        Err(e) => return Err(apply_error(user, format!("releasing stale ConferenceIdClaim {ns}/{name}"))(e)),
    }
    match try_create_claim(ctx, user, id, None).await? {
        Created::Yes => Ok(()),
        Created::Exists { holder: Some(h), .. } if h == me(user) => Ok(()),
        Created::Exists { holder, uid, .. } => {
            let holder = holder.unwrap_or(Holder { name: "(unknown)".into(), uid: String::new() });
            ctx.index.record_claim(&ns, id, &holder, &uid, None);
            Err(ReconcileError::ConferenceIdConflict { object: ObjectKey::of(user), id: id.to_string(), holder })
        }
    }
}

/// Picks random IDs that the index says are free until a claim succeeds.
pub(crate) async fn allocate_id(
    ctx: &Context,
    user: &ConferencingUser,
    length: IdLength,
    replaces: Option<&ConferenceId>,
) -> Result<ConferenceId> {
    let ns = user.namespace().unwrap_or_default();
    for _ in 0..MAX_ALLOCATION_ATTEMPTS {
        let id = conference_id::candidate(length, &|s| ctx.index.is_taken(&ns, s));
        match try_create_claim(ctx, user, &id, replaces).await? {
            Created::Yes => return Ok(id),
            // Our own create whose response was lost, drawn again: it is ours to keep.
            Created::Exists { holder: Some(h), .. } if h == me(user) => return Ok(id),
            Created::Exists { holder: Some(h), uid, .. } => ctx.index.record_claim(&ns, &id, &h, &uid, None),
            Created::Exists { .. } => {}
        }
    }
    Err(ReconcileError::IdSpaceExhausted {
        object: ObjectKey::of(user),
        length: length.get(),
        attempts: MAX_ALLOCATION_ATTEMPTS,
    })
}

pub(crate) async fn release_id(ctx: &Context, user: &ConferencingUser, id: &ConferenceId) -> Result<()> {
    let ns = user.namespace().unwrap_or_default();
    if ctx.index.claim_holder(&ns, id).is_none_or(|h| h != me(user)) {
        return Ok(());
    }
    let name = id.to_string();
    let dp = DeleteParams {
        preconditions: ctx.index.claim_uid(&ns, id).map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match claims_api(ctx, &ns).delete(&name, &dp).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) || is_conflict(&e) => {}
        Err(e) => return Err(cleanup_error(user, format!("releasing ConferenceIdClaim {ns}/{name}"))(e)),
    }
    ctx.index.forget_claim(&ns, id);
    Ok(())
}

/// Writes the PIN Secret: created when there is none, replaced (conditioned on the
/// resourceVersion last seen) when the user has one. A PIN Secret of another owner under the
/// name is deleted first (conditioned on its UID), never adopted; a Secret that is not a PIN
/// Secret is never touched (see [`name_taken`]). Returns the Secret as written.
pub(crate) async fn write_pin(
    ctx: &Context,
    user: &ConferencingUser,
    deref: &Dereferenced,
    own: Option<&SecretMeta>,
    pin: &Pin,
    generation: &str,
    history: Option<&PinHistory>,
) -> Result<SecretMeta> {
    let ns = user.namespace().unwrap_or_default();
    let name = pin_secret_name(&user.name_any());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(foreign) = &deref.foreign_secret {
        let dp = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(foreign.uid.clone()), resource_version: None }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &dp).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(apply_error(user, format!("deleting Secret {ns}/{name} of another owner"))(e)),
        }
        ctx.index.forget_secret(&ns, &name);
    }
    let mut secret = pin_secret(user, pin, generation);
    if let Some(h) = history {
        secret.data.get_or_insert_default().insert(HISTORY_KEY.to_string(), ByteString(h.to_text().into_bytes()));
    }
    // The error is built from the action only: a kube error never echoes the request body,
    // so the PIN cannot reach a log through it.
    let written = match own {
        Some(own) => {
            secret.meta_mut().resource_version = Some(own.resource_version.clone());
            match api.replace(&name, &PostParams::default(), &secret).await {
                Ok(written) => written,
                Err(e) => {
                    if is_not_found(&e) {
                        // Deleted meanwhile: the next reconcile must not find it in the index.
                        ctx.index.forget_secret(&ns, &name);
                    }
                    return Err(apply_error(user, format!("replacing PIN Secret {ns}/{name}"))(e));
                }
            }
        }
        None => match api.create(&PostParams::default(), &secret).await {
            Ok(written) => written,
            Err(e) if is_already_exists(&e) => {
                return Err(name_taken(ctx, user, &api, &name, e).await.error(user, &ns, &name));
            }
            Err(e) => return Err(apply_error(user, format!("creating PIN Secret {ns}/{name}"))(e)),
        },
    };
    let meta = SecretMeta::from_meta(&written.metadata);
    ctx.index.record_secret(&ns, &name, meta.clone());
    Ok(meta)
}

/// Puts the labels back on the user's own PIN Secret after someone removed them by hand:
/// without them the operator's watch cannot see the Secret, so a later deletion would go
/// unnoticed. The PIN is kept (it is still the user's), and nothing is e-mailed.
/// Returns the Secret as now written. Gone or replaced meanwhile, it fails (and the
/// reconcile is retried): the next reconcile reads it again, since dereference records only
/// labelled Secrets in the index and no watch event would report this one's fate.
pub(crate) async fn relabel(ctx: &Context, user: &ConferencingUser, own: &SecretMeta) -> Result<SecretMeta> {
    let ns = user.namespace().unwrap_or_default();
    let name = pin_secret_name(&user.name_any());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let action = |what: &str| format!("{what} PIN Secret {ns}/{name} to restore its labels");
    let mut secret = api.get(&name).await.map_err(apply_error(user, action("reading")))?;
    if secret.metadata.uid.as_deref() != Some(own.uid.as_str()) {
        let replaced = kube::core::Status::failure("replaced by another Secret meanwhile", "Conflict").with_code(409);
        return Err(apply_error(user, action("reading"))(kube::Error::Api(replaced.boxed())));
    }
    label_as_pin_secret(&mut secret.metadata);
    let written =
        api.replace(&name, &PostParams::default(), &secret).await.map_err(apply_error(user, action("updating")))?;
    tracing::info!(user = %user.name_any(), namespace = %ns, "PIN Secret labels restored (removed by hand)");
    let meta = SecretMeta::from_meta(&written.metadata);
    ctx.index.record_secret(&ns, &name, meta.clone());
    Ok(meta)
}

/// Marks the user's own PIN Secret as written by an operator that keeps a record (see
/// `planning::memory`), keeping its PIN: replaced, conditioned on the resourceVersion last
/// seen. Returns the Secret as now written.
pub(crate) async fn mark_recorded(ctx: &Context, user: &ConferencingUser, own: &SecretMeta) -> Result<SecretMeta> {
    let ns = user.namespace().unwrap_or_default();
    let name = pin_secret_name(&user.name_any());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let action = |what: &str| format!("{what} PIN Secret {ns}/{name} to mark it recorded");
    let mut secret = api.get(&name).await.map_err(cleanup_error(user, action("reading")))?;
    if secret.metadata.uid.as_deref() != Some(own.uid.as_str()) {
        let replaced = kube::core::Status::failure("replaced by another Secret meanwhile", "Conflict").with_code(409);
        return Err(cleanup_error(user, action("reading"))(kube::Error::Api(replaced.boxed())));
    }
    mark_recorded_meta(&mut secret.metadata);
    let written =
        api.replace(&name, &PostParams::default(), &secret).await.map_err(cleanup_error(user, action("updating")))?;
    let meta = SecretMeta::from_meta(&written.metadata);
    ctx.index.record_secret(&ns, &name, meta.clone());
    Ok(meta)
}

/// Why a PIN Secret could not be created over a name already taken.
enum Taken {
    /// Someone else's Secret: left alone.
    Foreign,
    /// A PIN Secret the watch has not shown yet: now in the index, for the next reconcile.
    NotYetSeen(kube::Error),
    /// Reading or replacing it failed.
    Api(&'static str, kube::Error),
}

impl Taken {
    fn error(self, user: &ConferencingUser, ns: &str, name: &str) -> ReconcileError {
        match self {
            Taken::Foreign => {
                ReconcileError::SecretNameTaken { object: ObjectKey::of(user), secret: format!("{ns}/{name}") }
            }
            Taken::NotYetSeen(e) => apply_error(user, format!("creating PIN Secret {ns}/{name}"))(e),
            Taken::Api(action, e) => apply_error(user, format!("{action} Secret {ns}/{name}"))(e),
        }
    }
}

/// The create found the name taken by a Secret the cache does not show (the operator's watch
/// sees only labelled PIN Secrets): the user's own or another PIN Secret is recorded for the
/// next reconcile to decide on; someone else's Secret is never touched (the user is blocked
/// until it is removed).
async fn name_taken(
    ctx: &Context,
    user: &ConferencingUser,
    api: &Api<Secret>,
    name: &str,
    exists: kube::Error,
) -> Taken {
    let ns = user.namespace().unwrap_or_default();
    let existing = match api.get_metadata(name).await {
        Ok(m) => m,
        Err(e) => return Taken::Api("reading", e),
    };
    let meta = SecretMeta::from_meta(&existing.metadata);
    // Never overwritten here: the plan that chose a new PIN did not know this Secret.
    if meta.owned_by(&user.uid().unwrap_or_default()) || meta.labelled {
        ctx.index.record_secret(&ns, name, meta);
        return Taken::NotYetSeen(exists);
    }
    Taken::Foreign
}

pub(crate) async fn delete_pin_secret(ctx: &Context, user: &ConferencingUser, deref: &Dereferenced) -> Result<()> {
    let Some(own) = &deref.pin_secret else { return Ok(()) };
    let ns = user.namespace().unwrap_or_default();
    let name = pin_secret_name(&user.name_any());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let dp = DeleteParams {
        preconditions: Some(Preconditions { uid: Some(own.uid.clone()), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) || is_conflict(&e) => {}
        Err(e) => return Err(cleanup_error(user, format!("deleting PIN Secret {ns}/{name}"))(e)),
    }
    ctx.index.forget_secret(&ns, &name);
    Ok(())
}

/// The branches of claiming an ID and writing a PIN Secret that depend on what the API server
/// finds, against a scripted API server (`controller::fake_api`).
#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::{Value, json};

    use super::*;
    use crate::controller::fake_api::{self, Expect, status};
    use crate::fixtures::user;

    const CLAIMS: &str = "/apis/conferencing.io/v1alpha1/namespaces/ns1/conferenceidclaims";
    const SECRETS: &str = "/api/v1/namespaces/ns1/secrets";

    fn id() -> ConferenceId {
        ConferenceId::parse("4455667").expect("id")
    }

    /// A claim of 4455667 held by `holder` (`uid-<holder>`), as the API server returns its
    /// metadata.
    fn claim_of(holder: &str, claim_uid: &str, resource_version: &str) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {
            "name": "4455667", "namespace": "ns1", "uid": claim_uid, "resourceVersion": resource_version,
            "ownerReferences": [{"apiVersion": "conferencing.io/v1alpha1", "kind": "ConferencingUser",
                "name": holder, "uid": format!("uid-{holder}"), "controller": true}]}})
    }

    fn created_claim() -> Value {
        json!({"apiVersion": "conferencing.io/v1alpha1", "kind": "ConferenceIdClaim",
            "metadata": {"name": "4455667", "namespace": "ns1", "uid": "claim-new", "resourceVersion": "7"},
            "spec": {"conferenceId": "4455667", "holder": {"name": "alice", "uid": "uid-alice"}}})
    }

    fn taken() -> Expect {
        Expect::new(Method::POST, CLAIMS, 409, status(409, "AlreadyExists"))
    }

    #[tokio::test]
    async fn a_claim_created_by_an_earlier_attempt_whose_answer_was_lost_is_kept() {
        let (client, _) = fake_api::client(vec![
            taken(),
            Expect::new(Method::GET, &format!("{CLAIMS}/4455667"), 200, claim_of("alice", "claim-1", "5")),
        ]);
        let ctx = fake_api::context(client);
        claim_id(&ctx, &user("alice", "acme"), &id()).await.expect("the claim is alice's already");
    }

    #[tokio::test]
    async fn an_id_a_live_user_holds_is_a_conflict_and_the_index_learns_the_holder() {
        let (client, _) = fake_api::client(vec![
            taken(),
            Expect::new(Method::GET, &format!("{CLAIMS}/4455667"), 200, claim_of("bob", "claim-1", "5")),
        ]);
        let ctx = fake_api::context(client);
        ctx.index.apply_user(&user("bob", "acme"));
        let e = claim_id(&ctx, &user("alice", "acme"), &id()).await.expect_err("bob holds it");
        assert!(matches!(e, ReconcileError::ConferenceIdConflict { ref holder, .. } if holder.name == "bob"), "{e}");
        assert_eq!(ctx.index.claim_holder("ns1", &id()).map(|h| h.name).as_deref(), Some("bob"));
    }

    #[tokio::test]
    async fn a_claim_of_a_deleted_user_is_taken_over_with_a_delete_conditioned_on_it() {
        let (client, seen) = fake_api::client(vec![
            taken(),
            Expect::new(Method::GET, &format!("{CLAIMS}/4455667"), 200, claim_of("gone", "claim-old", "5")),
            Expect::new(Method::DELETE, &format!("{CLAIMS}/4455667"), 200, status(200, "Success")),
            Expect::new(Method::POST, CLAIMS, 201, created_claim()),
        ]);
        let ctx = fake_api::context(client);
        claim_id(&ctx, &user("alice", "acme"), &id()).await.expect("taken over");
        let delete = seen.lock().expect("seen").iter().find(|s| s.method == Method::DELETE).cloned().expect("delete");
        assert_eq!(delete.body["preconditions"], json!({"uid": "claim-old", "resourceVersion": "5"}));
        assert_eq!(ctx.index.claim_holder("ns1", &id()).map(|h| h.name).as_deref(), Some("alice"));
    }

    #[tokio::test]
    async fn a_secret_made_by_hand_under_the_pin_secret_name_is_never_written() {
        let (client, seen) = fake_api::client(vec![
            Expect::new(Method::POST, SECRETS, 409, status(409, "AlreadyExists")),
            Expect::new(
                Method::GET,
                &format!("{SECRETS}/alice-conferencing-pin"),
                200,
                json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                    "metadata": {"name": "alice-conferencing-pin", "namespace": "ns1", "uid": "s-1", "resourceVersion": "3"}}),
            ),
        ]);
        let ctx = fake_api::context(client);
        let alice = user("alice", "acme");
        let deref = crate::controller::user::dereference::Dereferenced::record_only(&alice, &ctx);
        let pin = Pin::from_secret("12345".into());
        let e = write_pin(&ctx, &alice, &deref, None, &pin, "provision.g1", None).await.expect_err("someone else's");
        assert!(
            matches!(e, ReconcileError::SecretNameTaken { ref secret, .. } if secret == "ns1/alice-conferencing-pin"),
            "{e}"
        );
        let writes: Vec<Method> = seen.lock().expect("seen").iter().map(|s| s.method.clone()).collect();
        assert_eq!(writes, [Method::POST, Method::GET], "read, never replaced or deleted");
        assert!(ctx.index.secret("ns1", "alice-conferencing-pin").is_none(), "not taken for a PIN Secret");
    }

    #[tokio::test]
    async fn a_pin_secret_the_watch_has_not_shown_yet_is_recorded_for_the_next_plan_not_overwritten() {
        let (client, seen) = fake_api::client(vec![
            Expect::new(Method::POST, SECRETS, 409, status(409, "AlreadyExists")),
            Expect::new(
                Method::GET,
                &format!("{SECRETS}/alice-conferencing-pin"),
                200,
                json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {
                    "name": "alice-conferencing-pin", "namespace": "ns1", "uid": "s-1", "resourceVersion": "3",
                    "labels": {"app.kubernetes.io/managed-by": "conferencing-operator", "app.kubernetes.io/component": "leader-pin"},
                    "annotations": {"conferencing.io/pin-generation": "provision.g1"},
                    "ownerReferences": [{"apiVersion": "conferencing.io/v1alpha1", "kind": "ConferencingUser",
                        "name": "alice", "uid": "uid-alice", "controller": true}]}}),
            ),
        ]);
        let ctx = fake_api::context(client);
        let alice = user("alice", "acme");
        let deref = crate::controller::user::dereference::Dereferenced::record_only(&alice, &ctx);
        let pin = Pin::from_secret("12345".into());
        let e = write_pin(&ctx, &alice, &deref, None, &pin, "provision.g1", None).await.expect_err("retried");
        assert!(matches!(e, ReconcileError::Api { step: crate::error::Step::Provision, .. }), "{e}");
        assert_eq!(seen.lock().expect("seen").len(), 2, "not replaced");
        let recorded = ctx.index.secret("ns1", "alice-conferencing-pin").expect("in the index");
        assert_eq!(recorded.generation.as_deref(), Some("provision.g1"));
    }
}
