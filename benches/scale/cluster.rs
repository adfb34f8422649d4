//! What the benchmark does on the API server: the namespaces, tenant and users it sets up,
//! the watch it times the operator with, the floor's writes, and the clean-up.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use conferencing_operator::api::record::UserMemory;
use conferencing_operator::api::{
    ConditionStatus, ConferenceIdClaim, ConferencingTenant, ConferencingTenantSpec, ConferencingUser,
    ConferencingUserSpec, ConferencingUserStatus, FIELD_MANAGER, NotificationKind, NumberType, PendingNotification,
    ServiceNumber, TenantRef,
};
use conferencing_operator::domain::{ConferenceId, PinLength};
use conferencing_operator::provisioning::{claim, pin, record, secret};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, CustomResourceExt, ResourceExt};
use serde_json::json;

use super::BenchError;

/// The tenant's numbers: two Toll numbers (the fan-out moves the default from the first to
/// the second) and a TollFree one.
pub const TOLL_A: &str = "+14255550100";
pub const TOLL_B: &str = "+442075550123";
pub const TOLL_FREE: &str = "+18005550199";
/// PIN and conference-ID lengths: 8-digit IDs leave 30,000 users a sparse ID space (0.03 %),
/// so allocation collisions stay as rare as in a real tenant.
pub const PIN_LENGTH: u8 = 6;
pub const ID_LENGTH: u8 = 8;
pub const TENANT: &str = "bench";

fn kerr(what: impl Into<String>) -> impl FnOnce(kube::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Kube { what, source }
}

/// Creates the three CRDs from the crate's types where they are missing (as the tests do:
/// POST, never replace) and waits until they are served.
pub async fn ensure_crds(client: &Client) -> Result<(), BenchError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [ConferencingTenant::crd(), ConferencingUser::crd(), ConferenceIdClaim::crd()] {
        let name = crd.name_any();
        if api.get_opt(&name).await.map_err(kerr(format!("reading CRD {name}")))?.is_none() {
            match api.create(&PostParams::default(), &crd).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(kerr(format!("creating CRD {name}"))(e)),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let crd = api.get(&name).await.map_err(kerr(format!("reading CRD {name}")))?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    phase: "CRDs".into(),
                    after: Duration::from_secs(60),
                    progress: format!("{name} not Established"),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

pub async fn create_namespace(client: &Client, name: &str) -> Result<(), BenchError> {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.into());
    ns.metadata.labels = Some(BTreeMap::from([("app.kubernetes.io/part-of".into(), "bench-scale".into())]));
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(kerr(format!("creating namespace {name}")))?;
    Ok(())
}

fn number(n: &str, type_: NumberType, default: bool) -> ServiceNumber {
    ServiceNumber { number: n.into(), type_, city: None, country: None, language: None, default: Some(default) }
}

fn numbers(default_toll: &str) -> Vec<ServiceNumber> {
    vec![
        number(TOLL_A, NumberType::Toll, default_toll == TOLL_A),
        number(TOLL_B, NumberType::Toll, default_toll == TOLL_B),
        number(TOLL_FREE, NumberType::TollFree, true),
    ]
}

pub async fn create_tenant(client: &Client, ns: &str) -> Result<(), BenchError> {
    let spec: ConferencingTenantSpec = serde_json::from_value(json!({
        "serviceNumbers": numbers(TOLL_A),
        "pin": { "length": PIN_LENGTH },
        "conferenceIds": { "mode": "Static", "length": ID_LENGTH },
    }))
    .map_err(|e| BenchError::Setup(format!("tenant spec: {e}")))?;
    let tenant = ConferencingTenant::new(TENANT, spec);
    Api::<ConferencingTenant>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &tenant)
        .await
        .map_err(kerr(format!("creating tenant {ns}/{TENANT}")))?;
    Ok(())
}

/// Gives the tenant's PINs a lifetime (PINs already issued expire by their issue time), caps
/// its automatic e-mails per minute and sets a sending window.
pub async fn set_pin_policy(
    client: &Client,
    ns: &str,
    lifetime: &str,
    cap: u32,
    window: (&str, &str),
) -> Result<(), BenchError> {
    let patch = json!({ "spec": {
        "pin": { "lifetime": lifetime },
        "notifications": {
            "maxEmailsPerMinute": cap,
            "sendWindow": { "start": window.0, "end": window.1, "timeZone": "UTC" },
        },
    } });
    Api::<ConferencingTenant>::namespaced(client.clone(), ns)
        .patch(TENANT, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kerr(format!("setting the PIN policy of {ns}/{TENANT}")))?;
    Ok(())
}

/// Moves the tenant's default Toll number to [`TOLL_B`]: every user without a number of
/// their own gets a new one and a ServiceNumberChanged e-mail.
pub async fn change_default_number(client: &Client, ns: &str) -> Result<(), BenchError> {
    let patch = json!({ "spec": { "serviceNumbers": numbers(TOLL_B) } });
    Api::<ConferencingTenant>::namespaced(client.clone(), ns)
        .patch(TENANT, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kerr(format!("changing the default number of {ns}/{TENANT}")))?;
    Ok(())
}

pub fn user_name(i: usize) -> String {
    format!("user-{i:06}")
}

/// The conference ID user `i` brings when it is taken over: distinct, of the tenant's length.
pub fn brought_id(i: usize) -> String {
    format!("{}", 2 * 10u64.pow(u32::from(ID_LENGTH) - 1) + i as u64)
}

/// The PIN user `i` brings when it is taken over: six digits that pass the tenant's rules
/// (no common pattern, not containing its conference ID or a number's last four digits), so
/// that every PIN is kept and nobody is e-mailed.
pub(crate) fn brought_pin(i: usize) -> String {
    let rules = pin::PinRules {
        allow_common_patterns: false,
        number_endings: [TOLL_A, TOLL_B, TOLL_FREE].iter().map(|n| n[n.len() - 4..].to_string()).collect(),
    };
    let id = brought_id(i);
    (0u64..)
        .map(|k| format!("{:06}", 314_159 + (i as u64 * 7_919 + k * 104_729) % 600_000))
        .find(|p| pin::adopt(p.as_bytes(), Some(&id), &rules).is_ok())
        .unwrap_or_default()
}

fn user(i: usize, takeover: bool) -> Result<ConferencingUser, BenchError> {
    let mut spec = json!({
        "tenantRef": TenantRef { name: TENANT.into() },
        "displayName": format!("Bench User {i}"),
        "email": format!("{}@bench.example", user_name(i)),
        "audioConferencingLicense": true,
        "provider": { "type": "Native" },
    });
    if takeover {
        spec["adopt"] = json!({ "conferenceId": brought_id(i) });
    }
    let spec: ConferencingUserSpec =
        serde_json::from_value(spec).map_err(|e| BenchError::Setup(format!("user spec: {e}")))?;
    Ok(ConferencingUser::new(&user_name(i), spec))
}

/// The Secret a previous bridge's PIN for user `i` arrives in: under its PIN Secret's name,
/// labelled for adoption (docs/operations.md, "Taking over an existing organisation").
fn brought_secret(i: usize) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(secret::pin_secret_name(&user_name(i))),
            labels: Some([(secret::ADOPT_PIN_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        data: Some([(secret::PIN_KEY.to_string(), k8s_openapi::ByteString(brought_pin(i).into_bytes()))].into()),
        ..Secret::default()
    }
}

/// Creates `n` licensed Native users, `concurrency` at a time; returns them as created. With
/// `takeover`, each brings a conference ID (`spec.adopt`) and a PIN (a Secret labelled for
/// adoption, created first).
pub async fn create_users(
    client: &Client,
    ns: &str,
    n: usize,
    concurrency: usize,
    takeover: bool,
) -> Result<Vec<ConferencingUser>, BenchError> {
    if takeover {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        stream::iter(0..n)
            .map(|i| {
                let secrets = secrets.clone();
                async move {
                    secrets
                        .create(&PostParams::default(), &brought_secret(i))
                        .await
                        .map_err(kerr(format!("creating the PIN user {i} brings")))
                }
            })
            .buffer_unordered(concurrency)
            .try_collect::<Vec<_>>()
            .await?;
    }
    let api: Api<ConferencingUser> = Api::namespaced(client.clone(), ns);
    let users: Vec<ConferencingUser> = (0..n).map(|i| user(i, takeover)).collect::<Result<_, _>>()?;
    let mut created: Vec<ConferencingUser> = stream::iter(users)
        .map(|u| {
            let api = api.clone();
            async move {
                let name = u.name_any();
                api.create(&PostParams::default(), &u).await.map_err(kerr(format!("creating user {name}")))
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    created.sort_by_key(ResourceExt::name_any);
    Ok(created)
}

/// What the benchmark needs to know of one user, from the watch.
#[derive(Clone, Debug, Default)]
pub struct UserView {
    /// Ready=True for the current generation.
    pub ready: bool,
    pub conference_id: bool,
    pub pending: usize,
    pub delivered: Vec<NotificationKind>,
    pub service_number: Option<String>,
    pub pin_generation: Option<String>,
    pub pin_expires_at: Option<k8s_openapi::jiff::Timestamp>,
}

impl UserView {
    fn of(u: &ConferencingUser) -> UserView {
        let Some(st) = &u.status else { return UserView::default() };
        let ready = st.observed_generation == u.metadata.generation
            && st.conditions.iter().any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True);
        UserView {
            ready,
            conference_id: st.conference_id.is_some(),
            pending: st.notifications.pending.len(),
            delivered: st.notifications.delivered.iter().map(|d| d.kind).collect(),
            service_number: st.service_number.clone(),
            pin_generation: st.pin_generation.clone(),
            pin_expires_at: st.pin_expires_at.as_ref().map(|t| t.0),
        }
    }

    /// Provisioned and told: Ready with an ID, the licence e-mail delivered, nothing owed.
    pub fn converged(&self) -> bool {
        self.ready
            && self.conference_id
            && self.pending == 0
            && self.delivered.contains(&NotificationKind::LicenseAssigned)
    }

    /// Taken over with nobody e-mailed: Ready with the ID it brought, nothing owed or sent.
    pub fn taken_over(&self) -> bool {
        self.ready && self.conference_id && self.pending == 0 && self.delivered.is_empty()
    }

    /// Its PIN rotated on expiry (`pin.lifetime`) and the user told: nothing owed.
    pub fn rotated(&self) -> bool {
        self.ready
            && self.pending == 0
            && self.pin_generation.as_deref().is_some_and(|g| g.starts_with("expired."))
            && self.delivered.contains(&NotificationKind::PinReset)
    }

    /// Shows `number` and has been e-mailed about it.
    pub fn fanned_out(&self, number: &str) -> bool {
        self.ready
            && self.service_number.as_deref() == Some(number)
            && self.pending == 0
            && self.delivered.contains(&NotificationKind::ServiceNumberChanged)
    }
}

#[derive(Default)]
struct Seen {
    users: HashMap<String, UserView>,
    synced: bool,
    last_error: Option<String>,
}

/// One watch on the namespace's users, kept as a map of [`UserView`]s: the benchmark's only
/// read load on the API server while it times the operator (no polling lists).
pub struct Tracker {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    pub fn start(client: &Client, ns: &str) -> Tracker {
        let api: Api<ConferencingUser> = Api::namespaced(client.clone(), ns);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
            let mut initial: HashMap<String, UserView> = HashMap::new();
            while let Some(event) = events.next().await {
                let mut seen = s.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    Ok(watcher::Event::Init) => initial.clear(),
                    Ok(watcher::Event::InitApply(u)) => {
                        initial.insert(u.name_any(), UserView::of(&u));
                    }
                    Ok(watcher::Event::InitDone) => {
                        seen.users = std::mem::take(&mut initial);
                        seen.synced = true;
                    }
                    Ok(watcher::Event::Apply(u)) => {
                        seen.users.insert(u.name_any(), UserView::of(&u));
                    }
                    Ok(watcher::Event::Delete(u)) => {
                        seen.users.remove(&u.name_any());
                    }
                    Err(e) => seen.last_error = Some(e.to_string()),
                }
            }
        });
        Tracker { seen, task }
    }

    /// Whether the first list has arrived.
    pub fn synced(&self) -> bool {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).synced
    }

    /// Users that satisfy `f`, and the watch's last error.
    /// The earliest and latest of a field over the users that have it.
    pub fn range<T: Ord + Copy>(&self, f: impl Fn(&UserView) -> Option<T>) -> Option<(T, T)> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let values = seen.users.values().filter_map(f);
        values.fold(None, |acc, v| Some(acc.map_or((v, v), |(lo, hi): (T, T)| (lo.min(v), hi.max(v)))))
    }

    pub fn count(&self, f: impl Fn(&UserView) -> bool) -> (usize, Option<String>) {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        (seen.users.values().filter(|v| f(v)).count(), seen.last_error.clone())
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The writes of one floor user, built before the clock starts so that the floor times the
/// API writes alone.
struct FloorUser {
    object: ConferencingUser,
    name: String,
    uid: String,
    secret: Secret,
    claim: ConferenceIdClaim,
    status: ConferencingUserStatus,
    resource_version: Option<String>,
    /// The resourceVersion of the user's record Secret, once the floor created it.
    record_version: Option<String>,
}

/// Rewrites the operator's status of `template` into the status of another user: every
/// mention of the template's name, UID and conference ID (conditions' messages, Message-IDs,
/// recipients, the Secret's name) becomes the other user's, so the status has the shape and
/// size of the operator's.
fn status_for(template: &ConferencingUser, to: &FloorUser) -> Result<ConferencingUserStatus, BenchError> {
    let status = template.status.as_ref().ok_or_else(|| BenchError::Setup("the template user has no status".into()))?;
    let mut text = serde_json::to_string(status).map_err(|e| BenchError::Setup(format!("template status: {e}")))?;
    for (from, to) in [
        (template.uid().unwrap_or_default(), to.uid.clone()),
        (template.name_any(), to.name.clone()),
        (status.conference_id.clone().unwrap_or_default(), to.claim.spec.conference_id.clone()),
    ] {
        if !from.is_empty() {
            text = text.replace(&from, &to);
        }
    }
    serde_json::from_str(&text).map_err(|e| BenchError::Setup(format!("rewritten template status: {e}")))
}

/// The status write the operator makes (`controller/apply_status.rs`): the whole object
/// replaced through the status subresource under its field manager, conditioned on the
/// resourceVersion.
async fn write_status(
    api: &Api<ConferencingUser>,
    user: &ConferencingUser,
    resource_version: Option<String>,
    status: &ConferencingUserStatus,
) -> Result<Option<String>, BenchError> {
    let mut next = user.clone();
    next.metadata.resource_version = resource_version;
    next.status = Some(status.clone());
    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
    let name = user.name_any();
    let written = api.replace_status(&name, &pp, &next).await.map_err(kerr(format!("floor: status of {name}")))?;
    Ok(written.resource_version())
}

/// `status` as the operator first records it: each e-mail owed rather than delivered (an
/// e-mail is sent only once the record owing it is stored, and recorded by a second write).
fn owed(status: &ConferencingUserStatus) -> ConferencingUserStatus {
    let mut st = status.clone();
    let delivered = std::mem::take(&mut st.notifications.delivered);
    st.notifications.pending.extend(delivered.into_iter().map(|d| PendingNotification {
        kind: d.kind,
        message_id: d.message_id,
        recipient: d.recipient,
        provider_name: None,
        previous: None,
        one_off: false,
        attempts: 0,
        last_error: None,
        next_attempt_time: None,
        permanently_failed: false,
    }));
    st
}

/// The record write the operator makes (`controller/user/effects.rs`): the record Secret
/// holding the memory `status` mirrors, created when the user has none, else replaced
/// conditioned on its resourceVersion. Returns the new resourceVersion.
async fn write_record(
    api: &Api<Secret>,
    user: &ConferencingUser,
    resource_version: Option<String>,
    status: &ConferencingUserStatus,
) -> Result<Option<String>, BenchError> {
    let mut secret = record::record_secret(user, &UserMemory::from_status(status));
    let name = user.name_any();
    let written = match resource_version {
        None => api.create(&PostParams::default(), &secret).await,
        Some(rv) => {
            secret.metadata.resource_version = Some(rv);
            api.replace(&record::record_secret_name(&name), &PostParams::default(), &secret).await
        }
    };
    Ok(written.map_err(kerr(format!("floor: record of {name}")))?.resource_version())
}

/// The resourceVersions a change leaves: the record's and the user's.
struct Written {
    record_version: Option<String>,
    user_version: Option<String>,
}

/// The writes of a change that sends e-mail: the record owing it, the record with it
/// delivered, then the status that mirrors the record.
async fn write_change(
    records: &Api<Secret>,
    users: &Api<ConferencingUser>,
    u: &FloorUser,
    status: &ConferencingUserStatus,
) -> Result<Written, BenchError> {
    let rv = write_record(records, &u.object, u.record_version.clone(), &owed(status)).await?;
    let record_version = write_record(records, &u.object, rv, status).await?;
    let user_version = write_status(users, &u.object, u.resource_version.clone(), status).await?;
    Ok(Written { record_version, user_version })
}

/// The floor: a bare kube-rs client making, per user and `concurrency` users at a time, the
/// writes the operator makes to converge a user, with the same verbs (create the
/// ConferenceIdClaim, create the PIN Secret, create the record owing the licence e-mail,
/// replace it with the e-mail delivered, replace the status), and then the three writes per
/// user a fan-out makes (the record twice, the status once). API writes only: no e-mail, no
/// Event.
pub struct Floor {
    client: Client,
    ns: String,
    users: Vec<FloorUser>,
}

impl Floor {
    /// Prepares the floor's objects for `users` (created in `ns`), from the operator's
    /// converged `template` user.
    pub fn prepare(
        client: &Client,
        ns: &str,
        users: &[ConferencingUser],
        template: &ConferencingUser,
        takeover: bool,
    ) -> Result<Floor, BenchError> {
        let length = PinLength::new(PIN_LENGTH).ok_or_else(|| BenchError::Setup("PIN length".into()))?;
        let generation =
            template.status.as_ref().and_then(|s| s.pin_generation.clone()).unwrap_or_else(|| "provision.g1".into());
        let mut out = Vec::with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            // Distinct IDs of the tenant's length, none starting with 0.
            let id =
                if takeover { brought_id(i) } else { format!("{}", 10u64.pow(u32::from(ID_LENGTH) - 1) + i as u64) };
            let cid = ConferenceId::parse(&id).ok_or_else(|| BenchError::Setup(format!("conference ID {id}")))?;
            let mut f = FloorUser {
                object: u.clone(),
                name: u.name_any(),
                uid: u.uid().unwrap_or_default(),
                secret: secret::pin_secret(
                    u,
                    &pin::generate(length, Some(&id), &pin::PinRules::default(), None),
                    &generation,
                ),
                claim: claim::claim(u, &cid, None),
                status: ConferencingUserStatus::default(),
                resource_version: u.resource_version(),
                record_version: None,
            };
            f.status = status_for(template, &f)?;
            out.push(f);
        }
        Ok(Floor { client: client.clone(), ns: ns.into(), users: out })
    }

    /// Times the convergence floor of a takeover: per user, the writes the operator makes to
    /// take over a user who brings its ID and PIN, with nobody e-mailed: create the claim,
    /// read the PIN Secret brought and replace it (conditioned on its version) with the
    /// user's own, create the record (nothing owed), replace the status.
    pub async fn take_over(&mut self, concurrency: usize) -> Result<Duration, BenchError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        let claims: Api<ConferenceIdClaim> = Api::namespaced(self.client.clone(), &self.ns);
        let users: Api<ConferencingUser> = Api::namespaced(self.client.clone(), &self.ns);
        let start = Instant::now();
        let written: Vec<(usize, Written)> = stream::iter(self.users.iter().enumerate())
            .map(|(i, u)| {
                let (secrets, claims, users) = (secrets.clone(), claims.clone(), users.clone());
                async move {
                    let pp = PostParams::default();
                    claims.create(&pp, &u.claim).await.map_err(kerr(format!("floor: claim of {}", u.name)))?;
                    let name = secret::pin_secret_name(&u.name);
                    let brought = secrets.get(&name).await.map_err(kerr(format!("floor: reading {name}")))?;
                    let mut own = u.secret.clone();
                    own.metadata.resource_version = brought.resource_version();
                    secrets.replace(&name, &pp, &own).await.map_err(kerr(format!("floor: Secret of {}", u.name)))?;
                    let record_version = write_record(&secrets, &u.object, None, &u.status).await?;
                    let user_version = write_status(&users, &u.object, u.resource_version.clone(), &u.status).await?;
                    Ok::<_, BenchError>((i, Written { record_version, user_version }))
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        let elapsed = start.elapsed();
        for (i, w) in written {
            self.users[i].record_version = w.record_version;
            self.users[i].resource_version = w.user_version;
        }
        Ok(elapsed)
    }

    /// Times the convergence floor.
    pub async fn converge(&mut self, concurrency: usize) -> Result<Duration, BenchError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        let claims: Api<ConferenceIdClaim> = Api::namespaced(self.client.clone(), &self.ns);
        let users: Api<ConferencingUser> = Api::namespaced(self.client.clone(), &self.ns);
        let start = Instant::now();
        let written: Vec<(usize, Written)> = stream::iter(self.users.iter().enumerate())
            .map(|(i, u)| {
                let (secrets, claims, users) = (secrets.clone(), claims.clone(), users.clone());
                async move {
                    let pp = PostParams::default();
                    claims.create(&pp, &u.claim).await.map_err(kerr(format!("floor: claim of {}", u.name)))?;
                    secrets.create(&pp, &u.secret).await.map_err(kerr(format!("floor: Secret of {}", u.name)))?;
                    Ok::<_, BenchError>((i, write_change(&secrets, &users, u, &u.status).await?))
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        let elapsed = start.elapsed();
        for (i, w) in written {
            self.users[i].record_version = w.record_version;
            self.users[i].resource_version = w.user_version;
        }
        Ok(elapsed)
    }

    /// Times the fan-out floor: each user's status becomes the operator's fanned-out
    /// `template`'s, rewritten for the user.
    pub async fn fan_out(&mut self, concurrency: usize, template: &ConferencingUser) -> Result<Duration, BenchError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        let users: Api<ConferencingUser> = Api::namespaced(self.client.clone(), &self.ns);
        let statuses: Vec<ConferencingUserStatus> =
            self.users.iter().map(|u| status_for(template, u)).collect::<Result<_, _>>()?;
        let start = Instant::now();
        stream::iter(self.users.iter().zip(&statuses))
            .map(|(u, st)| write_change(&secrets, &users, u, st))
            .buffer_unordered(concurrency)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(start.elapsed())
    }
}

/// Deletes what the benchmark created in `ns`, kind by kind, then the namespace. The local
/// control plane runs no garbage collector or namespace controller, so the objects are
/// deleted explicitly (keeping etcd small across runs) and the namespace stays Terminating.
pub async fn clean_up(client: &Client, ns: &str) -> Result<(), BenchError> {
    let lp = ListParams::default();
    let dp = DeleteParams::default();
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=conferencing-operator");
    // A collection delete of tens of thousands of objects can outlast the API server's
    // request timeout; it goes on deleting, so ask again until the kind is empty.
    for attempt in 1..=10 {
        let results = [
            Api::<ConferencingUser>::namespaced(client.clone(), ns).delete_collection(&dp, &lp).await.err(),
            Api::<ConferenceIdClaim>::namespaced(client.clone(), ns).delete_collection(&dp, &lp).await.err(),
            Api::<Secret>::namespaced(client.clone(), ns).delete_collection(&dp, &managed).await.err(),
            Api::<Event>::namespaced(client.clone(), ns).delete_collection(&dp, &lp).await.err(),
            Api::<ConferencingTenant>::namespaced(client.clone(), ns).delete_collection(&dp, &lp).await.err(),
        ];
        if results.iter().all(Option::is_none) {
            break;
        }
        if attempt == 10 {
            let e = results.into_iter().flatten().next();
            return Err(BenchError::Cleanup(format!("{ns}: {}", e.map(|e| e.to_string()).unwrap_or_default())));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    match Api::<Namespace>::all(client.clone()).delete(ns, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(BenchError::Cleanup(format!("deleting namespace {ns}: {e}"))),
    }
}
