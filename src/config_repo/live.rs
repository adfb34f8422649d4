//! `--live`: what the cluster holds now, read with get and list only (never a write, never a
//! watch), so that `validate` and `plan` can run from CI with a read-only ServiceAccount.
//! The operator's Secrets (PIN Secrets and records) are read as metadata only: the PIN is
//! never fetched.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::api::record::UserMemory;
use crate::api::{ConferenceIdClaim, ConferencingTenant, ConferencingUser};
use crate::provisioning::claim;
use crate::provisioning::record::{RecordMeta, is_record_secret, record_secret_name};
use crate::provisioning::secret::{SecretMeta, adopt_pin_selector, operator_secret_selector, pin_secret_name};

/// A conference-ID claim in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LiveClaim {
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
pub(crate) struct LiveState {
    /// Tenants.
    pub tenants: Vec<ConferencingTenant>,
    /// Users, with status.
    pub users: Vec<ConferencingUser>,
    /// Conference-ID claims.
    pub claims: Vec<LiveClaim>,
    /// PIN Secrets that exist, by (namespace, name), from their metadata.
    pub pin_secrets: HashMap<(String, String), SecretMeta>,
    /// Record Secrets, by (namespace, name), from their metadata.
    pub records: HashMap<(String, String), RecordMeta>,
    /// Secrets labelled as holding a PIN to adopt, by (namespace, name) (metadata only).
    pub adoptable: BTreeSet<(String, String)>,
}

impl LiveState {
    /// The tenant `name` in `namespace`.
    pub(crate) fn tenant(&self, namespace: &str, name: &str) -> Option<&ConferencingTenant> {
        self.tenants.iter().find(|t| t.namespace().as_deref() == Some(namespace) && t.name_any() == name)
    }

    /// The user `name` in `namespace`.
    pub(crate) fn user(&self, namespace: &str, name: &str) -> Option<&ConferencingUser> {
        self.users.iter().find(|u| u.namespace().as_deref() == Some(namespace) && u.name_any() == name)
    }

    /// `Some(generation)` when the user's own PIN Secret (owned by its UID) exists, as the
    /// operator sees it.
    pub(crate) fn pin_secret(&self, namespace: &str, user: &str, uid: &str) -> Option<Option<&str>> {
        self.pin_secrets
            .get(&(namespace.to_string(), pin_secret_name(user)))
            .filter(|s| s.owned_by(uid))
            .map(|s| s.generation.as_deref())
    }

    /// Whether the user's own PIN Secret carries the mark of an operator that keeps records.
    pub(crate) fn pin_secret_recorded(&self, namespace: &str, user: &str, uid: &str) -> bool {
        self.pin_secrets
            .get(&(namespace.to_string(), pin_secret_name(user)))
            .is_some_and(|s| s.owned_by(uid) && s.recorded)
    }

    /// The user's own record: `None` when it has none, `Some(None)` when it cannot be read.
    pub(crate) fn record(&self, namespace: &str, user: &str, uid: &str) -> Option<Option<&UserMemory>> {
        self.records
            .get(&(namespace.to_string(), record_secret_name(user)))
            .filter(|r| r.owned_by(uid))
            .map(|r| r.memory.as_deref())
    }

    /// Whether a Secret labelled as holding a PIN to adopt has the user's PIN Secret name.
    pub(crate) fn adoptable_in_place(&self, namespace: &str, user: &str) -> bool {
        self.adoptable.contains(&(namespace.to_string(), pin_secret_name(user)))
    }

    /// The IDs claimed by the user with this UID.
    pub(crate) fn claims_of(&self, namespace: &str, uid: &str) -> Vec<&LiveClaim> {
        self.claims.iter().filter(|c| c.namespace == namespace && c.holder_uid == uid).collect()
    }
}

/// The cluster could not be read: exit status 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LiveError {
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
pub(crate) async fn read(namespaces: &BTreeSet<String>) -> Result<LiveState, LiveError> {
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
        let managed = ListParams::default().labels(&operator_secret_selector());
        for s in secrets.list_metadata(&managed).await.map_err(|e| read("Secrets (metadata)", e))?.items {
            if is_record_secret(&s.metadata) {
                state.records.insert((ns.clone(), s.name_any()), RecordMeta::from_meta(&s.metadata));
            } else {
                state.pin_secrets.insert((ns.clone(), s.name_any()), SecretMeta::from_meta(&s.metadata));
            }
        }
        let adoptable = ListParams::default().labels(&adopt_pin_selector());
        for s in secrets.list_metadata(&adoptable).await.map_err(|e| read("Secrets (metadata)", e))?.items {
            state.adoptable.insert((ns.clone(), s.name_any()));
        }
        let claims: Api<ConferenceIdClaim> = Api::namespaced(client.clone(), ns);
        for c in claims.list_metadata(&lp).await.map_err(|e| read("ConferenceIdClaims (metadata)", e))?.items {
            if let Some((id, holder)) = claim::parse(&c.metadata) {
                state.claims.push(LiveClaim {
                    namespace: ns.clone(),
                    conference_id: id.to_string(),
                    holder_name: holder.name,
                    holder_uid: holder.uid,
                });
            }
        }
    }
    Ok(state)
}
