//! The effects of a user's plan against the API server and the mail relay: the
//! implementation of [`Effects`] the controller hands to the one interpreter
//! ([`crate::planning::interpreter`]). Each effect is idempotent and conditioned on what the
//! operator last saw (creates cannot overwrite; updates and deletes carry the object's
//! resourceVersion or UID), so a plan interrupted anywhere can be planned and carried out
//! again, and a writer with a stale view fails instead of overwriting.

use std::collections::HashSet;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::dereference::Dereferenced;
use super::{adopt, apply};
use crate::api::record::UserMemory;
use crate::api::{ConferencingUser, ConferencingUserStatus, PendingNotification};
use crate::controller::context::Context;
use crate::domain::{ConferenceId, IdLength};
use crate::error::{ObjectKey, ReconcileError, Result, Step, api_error, is_already_exists, is_not_found};
use crate::notification::queue::{GRACE, Job, PinSource, Progress, Submitted, UserKey};
use crate::planning::interpreter::{Effects, FreshPin, SendResult, Sent};
use crate::planning::{NewPin, PinStep, PlannedEvent};
use crate::provisioning::pin::Pin;
use crate::provisioning::pin_history::{HISTORY_KEY, PinHistory};
use crate::provisioning::record::{RecordMeta, is_record_secret, record_secret, record_secret_name};
use crate::provisioning::secret::{PIN_KEY, SecretMeta, pin_secret_name};
use crate::validation::{ValidatedTenant, ValidatedUser};

/// One user's effects, for one reconcile.
pub(crate) struct KubeEffects<'a> {
    ctx: &'a Context,
    user: &'a ConferencingUser,
    who: UserKey,
    deref: &'a Dereferenced,
    /// The user's own PIN Secret as last written (its labels put back, a PIN written).
    own_secret: Option<SecretMeta>,
    /// The user's own record Secret as last written.
    record: Option<RecordMeta>,
    /// The validated user and tenant, to prepare e-mails (none for a blocked user).
    admitted: Option<(&'a ValidatedUser, &'a ValidatedTenant)>,
    /// The PIN a user about to be taken over brings, as read before planning.
    adopted: Option<adopt::Found>,
}

impl<'a> KubeEffects<'a> {
    /// The effects on `user`, whose references are `deref`.
    pub(crate) fn new(
        ctx: &'a Context,
        user: &'a ConferencingUser,
        deref: &'a Dereferenced,
        admitted: Option<(&'a ValidatedUser, &'a ValidatedTenant)>,
    ) -> Self {
        KubeEffects {
            ctx,
            user,
            who: super::key(user),
            deref,
            own_secret: deref.pin_secret.clone(),
            record: deref.record.clone(),
            admitted,
            adopted: None,
        }
    }

    /// With the PIN a user about to be taken over brings.
    pub(crate) fn adopting(mut self, found: Option<adopt::Found>) -> Self {
        self.adopted = found;
        self
    }

    /// The PIN history of the user's own PIN Secret with the PIN it holds now added, keeping
    /// `keep`; a new history when it has none (or one this version cannot read).
    async fn history_with_current(&self, keep: usize) -> Result<PinHistory> {
        let Some(own) = &self.own_secret else { return Ok(PinHistory::new()) };
        let ns = &self.who.namespace;
        let name = pin_secret_name(&self.who.name);
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), ns);
        let secret = api.get_opt(&name).await.map_err(api_error(
            &ObjectKey::of(self.user),
            Step::Provision,
            format!("reading PIN Secret {ns}/{name} for its history"),
        ))?;
        let Some(secret) = secret.filter(|s| s.metadata.uid.as_deref() == Some(own.uid.as_str())) else {
            return Ok(PinHistory::new());
        };
        let data = secret.data.unwrap_or_default();
        let text = |key: &str| data.get(key).and_then(|v| String::from_utf8(v.0.clone()).ok());
        let mut history = text(HISTORY_KEY).and_then(|t| PinHistory::parse(&t)).unwrap_or_default();
        if let Some(current) = text(PIN_KEY) {
            tokio::task::block_in_place(|| history.push(&current, keep));
        }
        Ok(history)
    }

    /// The error of a write of the user's record.
    fn apply_error(&self, action: String) -> impl FnOnce(kube::Error) -> ReconcileError + use<> {
        api_error(&ObjectKey::of(self.user), Step::Record, action)
    }

    /// Creates the record Secret, replacing a labelled one of another owner (a user deleted
    /// and re-created with the same name left it); a Secret under the name that is not a
    /// record is someone else's, never touched.
    async fn create_record(&self, api: &Api<Secret>, secret: &Secret) -> Result<Secret> {
        let ns = &self.who.namespace;
        let name = record_secret_name(&self.who.name);
        if let Some(foreign) = &self.deref.foreign_record {
            let dp = DeleteParams {
                preconditions: Some(Preconditions { uid: Some(foreign.uid.clone()), resource_version: None }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &dp).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(self.apply_error(format!("deleting record Secret {ns}/{name} of another owner"))(e));
                }
            }
        }
        match api.create(&PostParams::default(), secret).await {
            Ok(written) => Ok(written),
            Err(e) if is_already_exists(&e) => {
                let existing =
                    api.get_metadata(&name).await.map_err(self.apply_error(format!("reading Secret {ns}/{name}")))?;
                let meta = RecordMeta::from_meta(&existing.metadata);
                if is_record_secret(&existing.metadata) || meta.owned_by(&self.who.uid) {
                    // A record the watch has not shown yet, or this user's own with its labels
                    // removed by hand (the watch cannot see it): the next reconcile reads it and
                    // writes it back whole, labels included.
                    self.ctx.wake.send(self.ctx.index.record_record(ns, &name, meta));
                    return Err(self.apply_error(format!("creating record Secret {ns}/{name}"))(e));
                }
                Err(ReconcileError::SecretNameTaken {
                    object: ObjectKey::of(self.user),
                    secret: format!("{ns}/{name}"),
                })
            }
            Err(e) => Err(self.apply_error(format!("creating record Secret {ns}/{name}"))(e)),
        }
    }
}

impl Effects for KubeEffects<'_> {
    type Error = ReconcileError;

    async fn claim_id(&mut self, id: &ConferenceId) -> Result<()> {
        apply::claim_id(self.ctx, self.user, id).await
    }

    async fn allocate_id(&mut self, length: IdLength, replaces: Option<&ConferenceId>) -> Result<ConferenceId> {
        apply::allocate_id(self.ctx, self.user, length, replaces).await
    }

    async fn relabel_pin_secret(&mut self) -> Result<()> {
        if let Some(own) = self.own_secret.as_ref().filter(|s| !s.labelled) {
            self.own_secret = Some(apply::relabel(self.ctx, self.user, own).await?);
        }
        Ok(())
    }

    async fn write_pin(&mut self, step: &PinStep, conference_id: Option<&str>) -> Result<Pin> {
        let (pin, history) = match &step.pin {
            NewPin::Generate(how) => {
                // The history of the PIN Secret there is, with the PIN it holds now added.
                let history = match how.history {
                    0 => None,
                    keep => Some(self.history_with_current(usize::from(keep)).await?),
                };
                let rules = &how.rules;
                let pin = tokio::task::block_in_place(|| {
                    crate::provisioning::pin::generate(how.length, conference_id, rules, history.as_ref())
                });
                (pin, history)
            }
            NewPin::Adopt(_) => {
                let pin =
                    self.adopted.as_ref().and_then(|f| f.pin.clone()).ok_or_else(|| ReconcileError::Internal {
                        object: ObjectKey::of(self.user),
                        what: "the plan adopts a PIN this reconcile did not read",
                    })?;
                (pin, None)
            }
        };
        // A Secret labelled for adoption under the PIN Secret's name is replaced by the user's
        // own, with the PIN it held or, if that was not one, a new PIN.
        let own = self.own_secret.clone().or_else(|| self.adopted.as_ref().and_then(|f| f.in_place.clone()));
        let written =
            apply::write_pin(self.ctx, self.user, self.deref, own.as_ref(), &pin, &step.generation, history.as_ref())
                .await?;
        self.own_secret = Some(written);
        self.ctx.metrics.pin_issued(crate::telemetry::PinCause::of(&step.generation, &step.pin));
        Ok(pin)
    }

    async fn write_record(&mut self, memory: &UserMemory, recorded: &[String]) -> Result<()> {
        let ns = self.who.namespace.clone();
        let name = record_secret_name(&self.who.name);
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &ns);
        if crate::fault::refused("record", &ns, &self.who.name) {
            let refused =
                kube::core::Status::failure("refused by CONFERENCING_FAULT_REFUSE", "Forbidden").with_code(403);
            return Err(self.apply_error(format!("writing record Secret {ns}/{name}"))(kube::Error::Api(
                refused.boxed(),
            )));
        }
        let mut secret = record_secret(self.user, memory);
        let written = match &self.record {
            Some(own) => {
                secret.meta_mut().resource_version = Some(own.resource_version.clone());
                match api.replace(&name, &PostParams::default(), &secret).await {
                    Ok(written) => written,
                    Err(e) => {
                        if is_not_found(&e) {
                            // Deleted meanwhile: the next reconcile must not find it in the index.
                            self.ctx.index.forget_record(&ns, &name);
                        }
                        return Err(self.apply_error(format!("replacing record Secret {ns}/{name}"))(e));
                    }
                }
            }
            None => self.create_record(&api, &secret).await?,
        };
        let meta = RecordMeta::from_meta(&written.metadata);
        self.ctx.wake.send(self.ctx.index.record_record(&ns, &name, meta.clone()));
        self.record = Some(meta);
        if let Some(queue) = &self.ctx.delivery {
            let pending: Vec<String> = memory.notifications.pending.iter().map(|n| n.message_id.clone()).collect();
            queue.written(&self.who, recorded, &pending);
            queue.observe(&self.who, Some(&memory.notifications));
        }
        Ok(())
    }

    fn audit(&mut self, before: &UserMemory, after: &UserMemory, delivered: &[String], now: Timestamp) {
        let subject =
            crate::audit::Subject { namespace: &self.who.namespace, name: &self.who.name, uid: &self.who.uid };
        crate::audit::emit(&crate::audit::records(subject, before, after, delivered, now));
    }

    async fn send(&mut self, due: &[PendingNotification], memory: &UserMemory, fresh: Option<&FreshPin>) -> Sent {
        let (Some(queue), Some(notifier), Some((vu, vt))) =
            (self.ctx.delivery.as_ref(), self.ctx.notifier.as_ref(), self.admitted)
        else {
            return Sent::default();
        };
        queue.observe(&self.who, Some(&memory.notifications));
        let mut waiting = Vec::new();
        let mut queue_full = false;
        let mut deferred_until: Option<Timestamp> = None;
        let now = Timestamp::now();
        for entry in due {
            if queue.progress(&self.who, &entry.message_id).is_some() {
                continue;
            }
            // Under the tenant's cap, a scheduled e-mail waits for room. A rotation's took its
            // room when it was planned, for this first attempt only: a retry takes room again.
            let prepaid = fresh.is_some_and(|f| {
                crate::planning::message_id::cause_of(&entry.message_id, entry.kind, &self.who.uid)
                    .is_some_and(|c| c.starts_with(crate::planning::EXPIRED_PREFIX) && c == f.generation)
            });
            if let Some(cap) = vt.email_cap.filter(|_| crate::planning::outbox::scheduled(entry) && !prepaid)
                && let Err(room) = self.ctx.email_caps.take(&self.who.namespace, &vt.name, cap, now)
            {
                deferred_until = Some(deferred_until.map_or(room, |d| d.min(room)));
                continue;
            }
            let pin = match (entry.kind.carries_pin(), fresh) {
                (false, _) => PinSource::None,
                // The PIN generated in this pass is the one the Secret now holds.
                (true, Some(f)) => PinSource::Known { pin: f.pin.clone(), generation: f.generation.clone() },
                (true, None) => PinSource::Secret { name: pin_secret_name(&vu.name) },
            };
            // Not prepared: its one-off address is no longer allowed; the next plan drops it.
            let Some(email) = notifier.prepare(entry, vu, vt, memory) else { continue };
            let job = Job { user: self.who.clone(), email, pin };
            match queue.submit(job) {
                Submitted::Queued(done) => waiting.push(done),
                Submitted::Full => queue_full = true,
            }
        }
        if !waiting.is_empty() && !queue.congested() {
            let _ = tokio::time::timeout(GRACE, join_all(waiting)).await;
        }
        let owed: HashSet<&str> = memory.notifications.pending.iter().map(|n| n.message_id.as_str()).collect();
        let mut sent = Sent { queue_full, deferred_until, ..Sent::default() };
        for id in owed {
            match queue.progress(&self.who, id) {
                Some(Progress::Done { attempt, at }) => {
                    sent.results.push(SendResult { message_id: id.to_string(), attempt, at });
                }
                Some(Progress::InFlight) => sent.in_flight = true,
                None => {}
            }
        }
        sent.results.sort_by(|a, b| a.message_id.cmp(&b.message_id));
        sent
    }

    async fn publish(&mut self, events: &[PlannedEvent]) {
        for e in events {
            self.ctx.publish(self.user, e).await;
        }
    }

    async fn write_status(&mut self, status: &ConferencingUserStatus) -> Result<()> {
        crate::fault::maybe_delay("status", &self.who.namespace, &self.who.name).await;
        let mut next = self.user.clone();
        next.status = Some(status.clone());
        let written = crate::controller::apply_status::write_status(&self.ctx.client, &next).await?;
        self.ctx.expectations.expect(&self.who.uid, written.metadata.resource_version.as_deref());
        Ok(())
    }

    async fn mark_pin_secret_recorded(&mut self) -> Result<()> {
        if let Some(own) = &self.own_secret {
            self.own_secret = Some(apply::mark_recorded(self.ctx, self.user, own).await?);
        }
        Ok(())
    }

    async fn delete_pin_secret(&mut self) -> Result<()> {
        apply::delete_pin_secret(self.ctx, self.user, self.deref).await
    }

    async fn release_id(&mut self, id: &ConferenceId) -> Result<()> {
        apply::release_id(self.ctx, self.user, id).await
    }
}
