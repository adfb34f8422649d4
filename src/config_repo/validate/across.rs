//! Across objects: static conference IDs unique within a namespace and, with `--live`, against
//! the cluster's claims; request tokens the cluster has seen.

use super::*;

impl Validator<'_> {
    pub(super) fn live_tenant(&self, ns: &str, name: &str) -> Option<ValidatedTenant> {
        let t = self.live?.tenant(ns, name)?;
        validate_tenant(t, &ClusterPolicy::unrestricted()).ok()
    }

    /// With `--live`, a request token the user already used for an earlier request of the same
    /// kind: the operator would act on it again, but its e-mail would carry the same
    /// Message-ID as the earlier one, which mail systems discard as a duplicate.
    pub(super) fn reused_tokens(&mut self, u: &UserEntry, obj: &ConferencingUser) {
        let Some(live) = self.live.and_then(|l| l.user(&u.id.namespace, &u.id.name)) else { return };
        let (Some(uid), Some(st)) = (live.metadata.uid.as_deref(), live.status.as_ref()) else { return };
        let r = &obj.spec.requests;
        let h = &st.handled_requests;
        for (field, token, handled, kind) in [
            ("spec.requests.resetPin", &r.reset_pin, &h.reset_pin, NotificationKind::PinReset),
            (
                "spec.requests.resetConferenceId",
                &r.reset_conference_id,
                &h.reset_conference_id,
                NotificationKind::ConferenceIdReset,
            ),
            (
                "spec.requests.sendConferencingInfo",
                &r.send_conferencing_info,
                &h.send_conferencing_info,
                NotificationKind::ConferencingInfoRequested,
            ),
        ] {
            let Some(t) = token else { continue };
            if Some(t) == handled.as_ref() {
                continue;
            }
            let id = message_id(uid, kind, &token_cause(t));
            let n = &st.notifications;
            let used = n.pending.iter().any(|p| p.message_id == id) || n.delivered.iter().any(|d| d.message_id == id);
            if used {
                let pos = u.root.locate(field);
                self.push(
                    Finding::new(
                        Code::TokenReused,
                        &u.file,
                        pos,
                        format!(
                            "{field} {t:?} was already used for an earlier request of this user; the new e-mail would repeat that request's Message-ID and be discarded as a duplicate: use a token never used before (a date and a ticket number)"
                        ),
                    )
                    .object(Some(&u.id))
                    .field(field),
                );
            }
        }
    }

    /// Static conference IDs: unique within a namespace (claims are per namespace, so two
    /// tenants of one namespace share the ID space), and, with `--live`, not held in the
    /// cluster by a user who keeps it.
    pub(super) fn static_ids(&mut self, users: &mut [UserEntry]) {
        let mut first: HashMap<(String, String), usize> = HashMap::new();
        for i in 0..users.len() {
            let Some(id) = static_id(&users[i]) else { continue };
            let key = (users[i].id.namespace.clone(), id.clone());
            if let Some(&j) = first.get(&key) {
                let holder = users[j].id.name.clone();
                let at = format!("{}:{}", users[j].file, users[j].root.locate("spec.conferenceId"));
                let message = format!(
                    "spec.conferenceId {id} is also the static ID of user {holder} ({at}); conference IDs are unique within a namespace: choose another, or remove spec.conferenceId to have one allocated"
                );
                let pos = users[i].root.locate("spec.conferenceId");
                self.push(
                    Finding::new(Code::DuplicateConferenceId, &users[i].file, pos, message.clone())
                        .object(Some(&users[i].id))
                        .field("spec.conferenceId"),
                );
                if users[i].blocked.is_none() {
                    users[i].blocked = Some(Blocked { reason: Reason::ConferenceIdConflict, message });
                }
                users[i].validated = None;
                continue;
            }
            first.insert(key, i);
            if let Some(holder) = self.live_holder(users, i, &id) {
                let message = format!(
                    "spec.conferenceId {id} is held in the cluster by user {holder}, who keeps it; choose another ID, or free it on {holder} first"
                );
                let pos = users[i].root.locate("spec.conferenceId");
                self.push(
                    Finding::new(Code::ConferenceIdHeld, &users[i].file, pos, message.clone())
                        .object(Some(&users[i].id))
                        .field("spec.conferenceId"),
                );
                if users[i].blocked.is_none() {
                    users[i].blocked = Some(Blocked { reason: Reason::ConferenceIdConflict, message });
                }
                users[i].validated = None;
            }
        }
    }

    /// The live holder of `id` other than user `i`, when that holder will still hold it after
    /// the tree is applied.
    fn live_holder(&self, users: &[UserEntry], i: usize, id: &str) -> Option<String> {
        let live = self.live?;
        let ns = &users[i].id.namespace;
        let claim = live.claims.iter().find(|c| &c.namespace == ns && c.conference_id == id)?;
        if claim.holder_name == users[i].id.name {
            return None;
        }
        let in_tree = users.iter().find(|u| &u.id.namespace == ns && u.id.name == claim.holder_name);
        match in_tree {
            None => live.user(ns, &claim.holder_name).map(|_| claim.holder_name.clone()),
            Some(h) => {
                let keeps = match h.validated.as_ref().map(|v| &v.service) {
                    Some(DesiredService::Native(svc)) => match &svc.static_id {
                        Some(s) => s.as_str() == id,
                        None => {
                            let live_user = live.user(ns, &claim.holder_name);
                            let current = live_user.and_then(|u| u.status.as_ref()?.conference_id.clone());
                            let resets = h.object.as_ref().and_then(|o| o.spec.requests.reset_conference_id.clone());
                            let handled =
                                live_user.and_then(|u| u.status.as_ref()?.handled_requests.reset_conference_id.clone());
                            current.as_deref() == Some(id) && resets == handled
                        }
                    },
                    _ => false,
                };
                keeps.then(|| claim.holder_name.clone())
            }
        }
    }
}

/// The static ID a user will hold: from the spec, so that a user with another mistake is
/// still checked (its ID is reported now, not after the other fix), but only for a user the
/// spec enables (a disabled user holds no ID).
fn static_id(u: &UserEntry) -> Option<String> {
    let spec = &u.object.as_ref()?.spec;
    let enabled = spec.audio_conferencing_license && spec.provider.type_ == ProviderType::Native;
    spec.conference_id.clone().filter(|_| enabled)
}
