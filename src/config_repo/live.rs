//! `--live`: what the cluster holds now, read with get and list only (never a write, never a
//! watch), so that `validate` and `plan` can run from CI with a read-only ServiceAccount.
//! PIN Secrets are read as metadata only: the PIN is never fetched.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, ResourceExt};

use crate::api::{ConferencingTenant, ConferencingUser, GROUP, VERSION};
use crate::provisioning::claim::{CLAIM_COMPONENT, HOLDER_NAME_KEY, HOLDER_UID_LABEL, ID_KEY};
use crate::provisioning::secret::{COMPONENT_LABEL, PIN_GENERATION_ANNOTATION, managed_selector, pin_secret_name};

/// A conference-ID claim in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveClaim {
    /// Namespace.
    pub namespace: String,
    /// The ID.
    pub conference_id: String,
    /// The holder's name.
    pub holder_name: String,
    /// The holder's UID.
    pub holder_uid: String,
}

/// The cluster's objects in the namespaces of a tree.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    /// Tenants.
    pub tenants: Vec<ConferencingTenant>,
    /// Users, with status.
    pub users: Vec<ConferencingUser>,
    /// Conference-ID claims.
    pub claims: Vec<LiveClaim>,
    /// PIN Secrets that exist, by (namespace, name): the PIN generation they hold.
    pub pin_secrets: HashMap<(String, String), Option<String>>,
}

impl LiveState {
    /// The tenant `name` in `namespace`.
    pub fn tenant(&self, namespace: &str, name: &str) -> Option<&ConferencingTenant> {
        self.tenants.iter().find(|t| t.namespace().as_deref() == Some(namespace) && t.name_any() == name)
    }

    /// The user `name` in `namespace`.
    pub fn user(&self, namespace: &str, name: &str) -> Option<&ConferencingUser> {
        self.users.iter().find(|u| u.namespace().as_deref() == Some(namespace) && u.name_any() == name)
    }

    /// `Some(generation)` when the user's PIN Secret exists.
    pub fn pin_secret(&self, namespace: &str, user: &str) -> Option<Option<&str>> {
        self.pin_secrets.get(&(namespace.to_string(), pin_secret_name(user))).map(Option::as_deref)
    }

    /// The IDs claimed by the user with this UID.
    pub fn claims_of(&self, namespace: &str, uid: &str) -> Vec<&LiveClaim> {
        self.claims.iter().filter(|c| c.namespace == namespace && c.holder_uid == uid).collect()
    }
}

/// The cluster could not be read: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No cluster configured.
    #[error("--live needs a cluster (KUBECONFIG or in-cluster config): {0}")]
    Connect(#[source] kube::Error),
    /// A read failed.
    #[error("--live: {action}: {source} (the account needs get and list on it)")]
    Read {
        /// What was being read.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Reads the state of `namespaces`.
pub async fn read(namespaces: &BTreeSet<String>) -> Result<LiveState, LiveError> {
    let client = Client::try_default().await.map_err(LiveError::Connect)?;
    let mut state = LiveState::default();
    for ns in namespaces {
        let read = |what: &str, source| LiveError::Read { action: format!("listing {what} in namespace {ns}"), source };
        let lp = ListParams::default();
        let tenants: Api<ConferencingTenant> = Api::namespaced(client.clone(), ns);
        state.tenants.extend(tenants.list(&lp).await.map_err(|e| read("ConferencingTenants", e))?.items);
        let users: Api<ConferencingUser> = Api::namespaced(client.clone(), ns);
        state.users.extend(users.list(&lp).await.map_err(|e| read("ConferencingUsers", e))?.items);

        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        let managed = ListParams::default().labels(&managed_selector());
        for s in secrets.list_metadata(&managed).await.map_err(|e| read("Secrets (metadata)", e))?.items {
            let generation = s.annotations().get(PIN_GENERATION_ANNOTATION).cloned();
            state.pin_secrets.insert((ns.clone(), s.name_any()), generation);
        }
        state.claims.extend(claims(&client, ns).await?);
    }
    Ok(state)
}

/// Conference-ID claims: ConferenceIdClaim objects where that kind is served, and the
/// ConfigMap claims of operator versions before it. Both are read because during an upgrade
/// from one to the other a namespace holds both.
async fn claims(client: &Client, ns: &str) -> Result<Vec<LiveClaim>, LiveError> {
    let ar = ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: "ConferenceIdClaim".into(),
        plural: "conferenceidclaims".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let mut out: Vec<LiveClaim> = match api.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .filter_map(|o| {
                let spec = o.data.get("spec")?;
                Some(LiveClaim {
                    namespace: ns.to_string(),
                    conference_id: spec.get("conferenceId")?.as_str()?.to_string(),
                    holder_name: spec.get("holder")?.get("name")?.as_str()?.to_string(),
                    holder_uid: spec.get("holder")?.get("uid")?.as_str()?.to_string(),
                })
            })
            .collect(),
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(source) => {
            return Err(LiveError::Read { action: format!("listing ConferenceIdClaims in namespace {ns}"), source });
        }
    };
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("{COMPONENT_LABEL}={CLAIM_COMPONENT}"));
    let list = cms
        .list(&lp)
        .await
        .map_err(|source| LiveError::Read { action: format!("listing claim ConfigMaps in namespace {ns}"), source })?;
    for cm in &list.items {
        let Some(data) = cm.data.as_ref() else { continue };
        let (Some(id), Some(name), Some(uid)) =
            (data.get(ID_KEY), data.get(HOLDER_NAME_KEY), cm.labels().get(HOLDER_UID_LABEL))
        else {
            continue;
        };
        if !out.iter().any(|c| &c.conference_id == id) {
            out.push(LiveClaim {
                namespace: ns.to_string(),
                conference_id: id.clone(),
                holder_name: name.clone(),
                holder_uid: uid.clone(),
            });
        }
    }
    Ok(out)
}
