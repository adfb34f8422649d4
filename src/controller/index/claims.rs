//! The index's conference-ID claims: who holds which ID, and who waits for it.

use kube::core::PartialObjectMeta;

use crate::api::ConferenceIdClaim;
use crate::domain::ConferenceId;
use crate::provisioning::claim::{self, Holder};
use crate::provisioning::secret::pin_secret_name;

use super::*;

impl Index {
    /// A claim was added or changed (from its metadata). Wakes its holder (and a holder it
    /// replaced), unless the index already knew exactly this (the operator's own create).
    pub(crate) fn apply_claim(&self, c: &PartialObjectMeta<ConferenceIdClaim>) -> Wake {
        let (ns, _) = ns_name(&c.metadata);
        let mut wake = Wake::default();
        if let Some((id, holder)) = claim::parse(&c.metadata) {
            let entry = ClaimEntry {
                holder: holder.clone(),
                uid: c.metadata.uid.clone().unwrap_or_default(),
                replaces: claim::replaces(&c.metadata),
            };
            let mut m = self.write();
            if m.claims.get(&ns).and_then(|ids| ids.get(&id)) == Some(&entry) {
                return wake;
            }
            if let Some(old) = m.insert_claim(&ns, id, entry)
                && old.uid != holder.uid
            {
                wake.users.insert((ns.clone(), old.name));
            }
            wake.users.insert((ns, holder.name));
        }
        wake
    }

    /// A claim was deleted: its holder (to claim it again if it still holds the ID) and the
    /// users waiting for the ID are woken.
    pub(crate) fn delete_claim(&self, ns: &str, name: &str) -> Wake {
        let mut wake = Wake::default();
        let Some(id) = ConferenceId::parse(name) else { return wake };
        let mut m = self.write();
        if let Some(old) = m.remove_claim(ns, &id) {
            wake.users.insert((ns.to_string(), old.name.clone()));
        }
        m.waiting_for(ns, &id, "", &mut wake);
        wake
    }

    /// Records a claim the operator just created (or found), before its watch event arrives.
    pub(crate) fn record_claim(
        &self,
        ns: &str,
        id: &ConferenceId,
        holder: &Holder,
        claim_uid: &str,
        replaces: Option<&ConferenceId>,
    ) {
        let entry = ClaimEntry { holder: holder.clone(), uid: claim_uid.to_string(), replaces: replaces.cloned() };
        self.write().insert_claim(ns, id.clone(), entry);
    }

    /// Forgets a claim the operator just deleted.
    pub(crate) fn forget_claim(&self, ns: &str, id: &ConferenceId) {
        self.write().remove_claim(ns, id);
    }

    /// The claims of `namespace` the index knows.
    pub(crate) fn claim_names(&self, namespace: Option<&str>) -> Vec<(String, String)> {
        self.read()
            .claims
            .iter()
            .filter(|(ns, _)| namespace.is_none_or(|w| w == *ns))
            .flat_map(|(ns, ids)| ids.keys().map(move |id| (ns.clone(), id.to_string())))
            .collect()
    }

    /// Who holds the claim of `id` in `namespace`.
    pub(crate) fn claim_holder(&self, namespace: &str, id: &ConferenceId) -> Option<Holder> {
        self.read().claims.get(namespace)?.get(id).map(|c| c.holder.clone())
    }

    /// The UID of the claim object of `id` in `namespace`.
    pub(crate) fn claim_uid(&self, namespace: &str, id: &ConferenceId) -> Option<String> {
        self.read().claims.get(namespace)?.get(id).map(|c| c.uid.clone())
    }

    /// The claims of the user with this UID that were allocated to replace an ID it lost:
    /// (new, lost).
    pub(crate) fn replacements_of(&self, namespace: &str, uid: &str) -> Vec<(ConferenceId, ConferenceId)> {
        let m = self.read();
        let (Some(claims), Some(own)) =
            (m.claims.get(namespace), m.claims_by_holder.get(&(namespace.to_string(), uid.to_string())))
        else {
            return Vec::new();
        };
        own.iter().filter_map(|id| Some((id.clone(), claims.get(id)?.replaces.clone()?))).collect()
    }

    /// The IDs claimed by the user with this UID in `namespace`.
    pub(crate) fn claims_of(&self, namespace: &str, uid: &str) -> Vec<ConferenceId> {
        self.read()
            .claims_by_holder
            .get(&(namespace.to_string(), uid.to_string()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `id` is taken in `namespace`: claimed, or held by a live user as far as the
    /// operator knows (a claim deleted by hand does not free an ID its holder still has).
    pub(crate) fn is_taken(&self, namespace: &str, id: &str) -> bool {
        let Some(id) = ConferenceId::parse(id) else { return false };
        let m = self.read();
        m.claims.get(namespace).is_some_and(|c| c.contains_key(&id))
            || m.held_ids.contains_key(&(namespace.to_string(), id))
    }

    /// The ID the user `name` holds as far as the operator knows: its record's, or, for a
    /// user an older version provisioned (no record), its status's.
    pub(crate) fn held_id(&self, namespace: &str, name: &str) -> Option<ConferenceId> {
        self.read().users.get(&(namespace.to_string(), name.to_string()))?.held.clone()
    }

    /// Who owns `id` in `namespace`, if it is a live user other than `me` (a UID).
    ///
    /// Normally the holder of its claim. But a live user who holds the ID as far as the
    /// operator knows (its record names it) and who holds no claim at all may have held the ID
    /// before any claim that exists now: its own claim was deleted by hand (or by an upgrade
    /// from ConfigMap claims) and someone claimed the ID since. That user owns it, and the
    /// later claimant is the one in conflict. Among several such users (two users shown with
    /// one ID, as an earlier version allowed), the one created first owns it.
    ///
    /// For a user with no record (an older version's), only its status names the ID, and a
    /// status alone proves nothing: the user must also be one the operator provisioned, which
    /// shows in objects a status writer cannot forge: a spec that is licensed with this
    /// operator as provider, and a PIN Secret controlled by the user's UID. Otherwise writing
    /// a user's status could take an ID from its holder (and have the holder e-mailed a new
    /// one). The same is asked of users with a record.
    pub(crate) fn owner(&self, namespace: &str, id: &ConferenceId, me: &str) -> Option<Holder> {
        let m = self.read();
        let status_only = m
            .held_ids
            .get(&(namespace.to_string(), id.clone()))
            .into_iter()
            .flatten()
            .filter_map(|name| {
                let e = m.users.get(&(namespace.to_string(), name.clone()))?;
                let provisioned = e.native
                    && m.secrets
                        .get(&(namespace.to_string(), pin_secret_name(name)))
                        .is_some_and(|s| s.owned_by(&e.uid));
                (provisioned && !m.has_claims(namespace, &e.uid)).then(|| (e.created, name.clone(), e.uid.clone()))
            })
            .min();
        let owner = match status_only {
            Some((_, name, uid)) => Some(Holder { name, uid }),
            None => m
                .claims
                .get(namespace)
                .and_then(|c| c.get(id))
                .map(|c| &c.holder)
                .filter(|h| m.live(namespace, h))
                .cloned(),
        };
        owner.filter(|h| h.uid != me)
    }
}
