//! Step 1: everything the user refers to, from the caches and the index: its tenant, its PIN
//! Secret, its record, its claims. One API read at most: a PIN Secret that the status
//! references but the index lacks is looked up before it is taken as deleted, because the
//! index may not show the operator's own recent write yet, and a missing Secret means
//! generating a new PIN.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::api::{ConferencingTenant, ConferencingUser};
use crate::controller::context::Context;
use crate::domain::ConferenceId;
use crate::error::{ObjectKey, ReconcileError, Result, Step, api_error};
use crate::planning::memory;
use crate::provisioning::claim::Holder;
use crate::provisioning::record::{RecordMeta, record_secret_name};
use crate::provisioning::secret::{SecretMeta, pin_secret_name};

/// What the user refers to.
pub(crate) struct Dereferenced {
    /// The tenant named by `spec.tenantRef`, in the user's namespace.
    pub tenant: Option<Arc<ConferencingTenant>>,
    /// The user's own PIN Secret (owned by this user's UID; labels stripped by hand are put
    /// back by the apply step).
    pub pin_secret: Option<SecretMeta>,
    /// A PIN Secret (labelled) with this user's PIN Secret name that is not this user's (a
    /// user deleted and re-created with the same name left it, or someone copied one);
    /// replaced, never adopted. An unlabelled one is not a PIN Secret: the user is blocked
    /// (`SecretNameTaken`) until its owner removes it.
    pub foreign_secret: Option<SecretMeta>,
    /// The IDs this user holds claims on.
    pub own_claims: Vec<ConferenceId>,
    /// The owner of the spec's static ID, when it is another live user.
    pub static_id_holder: Option<Holder>,
    /// The owner of `spec.adopt.conferenceId`, when it is another live user.
    pub adopt_id_holder: Option<Holder>,
    /// The owner of the ID the status records, when it is another live user.
    pub current_id_holder: Option<Holder>,
    /// This user's claims allocated to replace an ID it lost: (new, lost).
    pub replacements: Vec<(ConferenceId, ConferenceId)>,
    /// The user's own record Secret (owned by this user's UID).
    pub record: Option<RecordMeta>,
    /// That record's labels were removed by hand (found by a read, not by the watch): it is
    /// written back whole.
    pub record_unlabelled: bool,
    /// A record Secret under this user's record name that is not this user's (left by a
    /// user deleted and re-created with the same name): replaced, never read.
    pub foreign_record: Option<RecordMeta>,
}

impl Dereferenced {
    /// Only the user's own record and PIN Secret, from the caches: enough to report why the
    /// user is blocked when the rest cannot be read (what the operator remembers, and the
    /// status that mirrors it, are kept).
    pub(crate) fn record_only(user: &ConferencingUser, ctx: &Context) -> Dereferenced {
        let ns = user.namespace().unwrap_or_default();
        let uid = user.uid().unwrap_or_default();
        Dereferenced {
            tenant: None,
            pin_secret: ctx.index.secret(&ns, &pin_secret_name(&user.name_any())).filter(|s| s.owned_by(&uid)),
            foreign_secret: None,
            own_claims: Vec::new(),
            static_id_holder: None,
            adopt_id_holder: None,
            current_id_holder: None,
            replacements: Vec::new(),
            record: ctx.index.record(&ns, &record_secret_name(&user.name_any())).filter(|r| r.owned_by(&uid)),
            record_unlabelled: false,
            foreign_record: None,
        }
    }

    /// The user's own PIN Secret, as far as where the memory comes from is concerned.
    pub(crate) fn pin_secret_state(&self) -> memory::PinSecret {
        match &self.pin_secret {
            None => memory::PinSecret::Absent,
            Some(s) if s.recorded => memory::PinSecret::Recorded,
            Some(_) => memory::PinSecret::Unrecorded,
        }
    }

    /// What the operator remembers of the user, from its record.
    pub(crate) fn record(&self) -> memory::Record<'_> {
        match &self.record {
            None => memory::Record::Absent,
            Some(r) => match &r.memory {
                Some(m) => memory::Record::Read(m),
                None => memory::Record::Unreadable,
            },
        }
    }
}

/// Reads the caches.
pub(crate) async fn dereference(user: &ConferencingUser, ctx: &Context) -> Result<Dereferenced> {
    let ns = user.namespace().unwrap_or_default();
    let uid = user.uid().unwrap_or_default();
    let tenant = ctx.tenants.get(&ObjectRef::new(&user.spec.tenant_ref.name).within(&ns));
    let secret_name = pin_secret_name(&user.name_any());
    let mut secret = ctx.index.secret(&ns, &secret_name);
    // The memory says the user holds a PIN (for a user an older version provisioned, its
    // status does): worth one read before a new PIN is generated.
    let record_name = record_secret_name(&user.name_any());
    let mut record = ctx.index.record(&ns, &record_name);
    let referenced = match record.as_ref().filter(|r| r.owned_by(&uid)) {
        Some(r) => r.memory.as_ref().is_some_and(|m| m.provisioned()),
        None => user.status.as_ref().is_some_and(|s| s.pin_secret_ref.is_some()),
    };
    if secret.is_none() && referenced {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        secret = api
            .get_metadata_opt(&secret_name)
            .await
            .map_err(api_error(
                &ObjectKey::of(user),
                Step::Dereference,
                format!("reading PIN Secret {ns}/{secret_name}"),
            ))?
            .map(|m| SecretMeta::from_meta(&m.metadata));
        // Only what the watch can see goes into the index: an unlabelled Secret would stay
        // there after its deletion, which no watch event reports.
        if let Some(s) = secret.as_ref().filter(|s| s.labelled) {
            ctx.index.record_secret(&ns, &secret_name, s.clone());
        }
    }
    let (pin_secret, foreign_secret) = match secret {
        Some(s) if s.owned_by(&uid) => (Some(s), None),
        Some(s) if s.labelled => (None, Some(s)),
        // Neither this user's nor a PIN Secret: someone else's, never touched.
        Some(_) => {
            return Err(ReconcileError::SecretNameTaken {
                object: ObjectKey::of(user),
                secret: format!("{ns}/{secret_name}"),
            });
        }
        None => (None, None),
    };
    // A user with a PIN Secret and no record in the index: what the planner remembers then
    // depends on whether the record exists (the watch cannot see one whose labels were removed
    // by hand), so read it once before taking it as absent.
    if record.is_none() && pin_secret.is_some() {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        let found = api.get_metadata_opt(&record_name).await.map_err(api_error(
            &ObjectKey::of(user),
            Step::Dereference,
            format!("reading record Secret {ns}/{record_name}"),
        ))?;
        if let Some(found) = found {
            let meta = RecordMeta::from_meta(&found.metadata);
            if meta.labelled {
                // The watch will show it; what it wakes, it wakes then.
                let _ = ctx.index.record_record(&ns, &record_name, meta.clone());
            }
            record = Some(meta);
        }
    }
    let record_unlabelled = record.as_ref().is_some_and(|r| !r.labelled);
    let (record, foreign_record) = match record {
        Some(r) if r.owned_by(&uid) => (Some(r), None),
        Some(r) if !record_unlabelled => (None, Some(r)),
        // Someone else's unlabelled Secret under the record's name: never touched.
        Some(_) => {
            return Err(ReconcileError::SecretNameTaken {
                object: ObjectKey::of(user),
                secret: format!("{ns}/{record_name}"),
            });
        }
        None => (None, None),
    };
    let own_claims = ctx.index.claims_of(&ns, &uid);
    let static_id = user.spec.conference_id.as_deref().and_then(ConferenceId::parse);
    let static_id_holder = static_id.as_ref().and_then(|id| ctx.index.owner(&ns, id, &uid));
    let adopt_id = user.spec.adopt.as_ref().and_then(|a| a.conference_id.as_deref()).and_then(ConferenceId::parse);
    let adopt_id_holder = adopt_id.as_ref().and_then(|id| ctx.index.owner(&ns, id, &uid));
    // The ID the operator remembers giving the user (or, for a user an older version
    // provisioned, the one its status names; see `Index::held_id`).
    let current = ctx.index.held_id(&ns, &user.name_any());
    let current_id_holder =
        current.as_ref().filter(|c| Some(*c) != static_id.as_ref()).and_then(|id| ctx.index.owner(&ns, id, &uid));
    let replacements = ctx.index.replacements_of(&ns, &uid);
    Ok(Dereferenced {
        tenant,
        pin_secret,
        foreign_secret,
        own_claims,
        static_id_holder,
        adopt_id_holder,
        current_id_holder,
        replacements,
        record,
        record_unlabelled,
        foreign_record,
    })
}
