//! A world in memory that plans are carried out in, by the same interpreter as in the
//! controller: what the operator's effects leave behind (the record, the status, the PIN
//! Secret's generation, the claims, Events, e-mails), with no server. The planner's tests run
//! plan after plan in it and stop it between any two effects (a crash); `conferencing-operator
//! plan` converges the `--from` tree in it.

use std::collections::HashSet;

use futures::executor::block_on;
use k8s_openapi::jiff::Timestamp;

use super::interpreter::{self, CleanedUp, Effects, FreshPin, SendResult, Sent};
use super::memory::{self, Recalled};
use super::outbox::Attempt;
use super::{AdoptablePin, NewPin, Observed, PinStep, Plan, PlannedEvent};
use crate::api::record::UserMemory;
use crate::api::{ConferencingUserStatus, PendingNotification};
use crate::domain::{ConferenceId, IdLength};
use crate::provisioning::claim::Holder;
use crate::provisioning::pin::Pin;
use crate::validation::{ValidatedTenant, ValidatedUser};

/// Where allocated IDs come from: `base + n` for n = 0, 1, ..., skipping IDs taken. Shared by
/// the users of a namespace (moved from world to world), so that their IDs are distinct.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ids {
    /// The first candidate; `10^(length-1)` when unset.
    pub base: Option<u64>,
    /// Candidates drawn so far.
    pub drawn: u64,
    /// IDs in use (static IDs of the namespace, IDs already allocated).
    pub taken: HashSet<String>,
}

impl Ids {
    fn allocate(&mut self, length: IdLength) -> ConferenceId {
        let first = 10u64.saturating_pow(u32::try_from(length.get().saturating_sub(1)).unwrap_or(0));
        loop {
            let candidate = (self.base.unwrap_or(first) + self.drawn).to_string();
            self.drawn += 1;
            if !self.taken.contains(&candidate)
                && let Some(id) = ConferenceId::parse(&candidate)
            {
                self.taken.insert(candidate);
                return id;
            }
        }
    }
}

/// What the mail server does with what it is handed. `plan` needs only `Accept`; the
/// planner's tests use the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Mail {
    /// Accepts everything at once.
    #[default]
    Accept,
    /// Answers nothing yet (a slow relay): every e-mail stays in flight.
    Hold,
    /// Refuses everything with this result.
    Refuse(Attempt),
}

/// The world stopped: the effect budget ran out (a crash between two effects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Crashed;

/// What the operator's effects left behind for one user.
#[derive(Clone, Debug)]
pub(crate) struct World {
    /// The record Secret's memory, when one was written.
    pub record: Option<UserMemory>,
    /// The status.
    pub status: Option<ConferencingUserStatus>,
    /// The PIN Secret's generation, when it exists.
    pub secret: Option<String>,
    /// Whether the PIN Secret carries the mark of an operator that keeps records (false: an
    /// older version wrote it).
    pub secret_recorded: bool,
    /// The IDs the user claims.
    pub claims: Vec<ConferenceId>,
    /// Claims allocated to replace a lost ID: (new, lost).
    pub replaces: Vec<(ConferenceId, ConferenceId)>,
    /// Who else holds the ID the memory records (a claim deleted by hand and re-taken).
    pub current_holder: Option<Holder>,
    /// Who holds the spec's static ID, when someone else does.
    pub static_holder: Option<Holder>,
    /// Who holds `spec.adopt.conferenceId`, when someone else does.
    pub adopt_holder: Option<Holder>,
    /// The PIN the user brings, as the controller would find it.
    pub adoptable: Option<AdoptablePin>,
    /// PINs adopted.
    pub pins_adopted: u32,
    /// When the tenant's e-mail cap has room again for a rotation due; `None`: room now.
    pub cap_full_until: Option<Timestamp>,
    /// Where allocated IDs come from.
    pub ids: Ids,
    /// PINs generated.
    pub pins_generated: u32,
    /// Events published.
    pub events: Vec<PlannedEvent>,
    /// E-mails the mail server accepted, in order.
    pub sent: Vec<PendingNotification>,
    /// What the mail server does.
    pub mail: Mail,
    /// Effects left before the world stops; `None`: no limit.
    pub budget: Option<usize>,
    /// Record writes made.
    pub record_writes: u32,
    /// Status writes made.
    pub status_writes: u32,
    /// The time the plans are made at.
    pub now: Timestamp,
}

impl World {
    /// An empty world at `now`.
    pub(crate) fn new(now: Timestamp) -> World {
        World {
            record: None,
            status: None,
            secret: None,
            secret_recorded: true,
            claims: Vec::new(),
            replaces: Vec::new(),
            current_holder: None,
            static_holder: None,
            adopt_holder: None,
            adoptable: None,
            pins_adopted: 0,
            cap_full_until: None,
            ids: Ids::default(),
            pins_generated: 0,
            events: Vec::new(),
            sent: Vec::new(),
            mail: Mail::Accept,
            budget: None,
            record_writes: 0,
            status_writes: 0,
            now,
        }
    }

    /// The memory the operator would recall here.
    pub(crate) fn recall(&self) -> Recalled {
        let record = match &self.record {
            Some(m) => memory::Record::Read(m),
            None => memory::Record::Absent,
        };
        memory::recall(record, self.pin_secret(), self.status.as_ref())
    }

    fn pin_secret(&self) -> memory::PinSecret {
        match (&self.secret, self.secret_recorded) {
            (None, _) => memory::PinSecret::Absent,
            (Some(_), true) => memory::PinSecret::Recorded,
            (Some(_), false) => memory::PinSecret::Unrecorded,
        }
    }

    /// Plans `user` of `tenant` against this world.
    pub(crate) fn plan(&self, user: &ValidatedUser, tenant: &ValidatedTenant) -> Plan {
        let recalled = self.recall();
        let observed = Observed {
            memory: &recalled,
            status: self.status.as_ref(),
            pin_secret: self.secret.as_ref().map(|g| Some(g.as_str())),
            pin_secret_unlabelled: false,
            pin_secret_recorded: self.secret_recorded,
            own_claims: &self.claims,
            static_id_holder: self.static_holder.as_ref(),
            adopt_id_holder: self.adopt_holder.as_ref(),
            adoptable_pin: self.adoptable.as_ref(),
            rotation_deferred: self.cap_full_until,
            current_id_holder: self.current_holder.as_ref(),
            replacements: &self.replaces,
        };
        super::plan(user, tenant, &observed, self.now)
    }

    /// Carries `plan` out here; `Err` when the budget ran out on the way.
    pub(crate) fn execute(&mut self, plan: Plan) -> Result<CleanedUp, Crashed> {
        block_on(interpreter::execute(plan, self))
    }

    /// Plans and carries out until the plan is a no-op; the number of passes it took.
    /// `None` if it did not settle within `max` passes.
    pub(crate) fn converge(&mut self, user: &ValidatedUser, tenant: &ValidatedTenant, max: usize) -> Option<usize> {
        for pass in 1..=max {
            let plan = self.plan(user, tenant);
            if plan.is_noop() {
                return Some(pass);
            }
            self.execute(plan).ok()?;
        }
        None
    }

    fn spend(&mut self) -> Result<(), Crashed> {
        match &mut self.budget {
            Some(0) => Err(Crashed),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// `value` as the API server keeps it: through JSON, so that times are kept to the second
/// (`metav1.Time`), as a record annotation or a status is.
fn stored<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(value: &T) -> T {
    serde_json::to_value(value).and_then(serde_json::from_value).unwrap_or_else(|_| value.clone())
}

impl Effects for World {
    type Error = Crashed;

    async fn relabel_pin_secret(&mut self) -> Result<(), Crashed> {
        self.spend()
    }

    async fn claim_id(&mut self, id: &ConferenceId) -> Result<(), Crashed> {
        self.spend()?;
        if !self.claims.contains(id) {
            self.claims.push(id.clone());
        }
        self.ids.taken.insert(id.to_string());
        Ok(())
    }

    async fn allocate_id(
        &mut self,
        length: IdLength,
        replaces: Option<&ConferenceId>,
    ) -> Result<ConferenceId, Crashed> {
        self.spend()?;
        let id = self.ids.allocate(length);
        self.claims.push(id.clone());
        if let Some(lost) = replaces {
            self.replaces.push((id.clone(), lost.clone()));
        }
        Ok(id)
    }

    async fn write_pin(&mut self, step: &PinStep, _conference_id: Option<&str>) -> Result<Pin, Crashed> {
        self.spend()?;
        let digits = match &step.pin {
            NewPin::Generate(how) => {
                self.pins_generated += 1;
                how.length.get()
            }
            NewPin::Adopt(_) => {
                self.pins_adopted += 1;
                // The Secret it came from is the user's PIN Secret now (or was copied).
                self.adoptable = None;
                5
            }
        };
        self.secret = Some(step.generation.clone());
        self.secret_recorded = true;
        // Digits no one would choose, never compared: the world only counts PINs.
        Ok(Pin::from_secret("0".repeat(digits)))
    }

    async fn write_record(&mut self, memory: &UserMemory, _recorded: &[String]) -> Result<(), Crashed> {
        self.spend()?;
        self.record = Some(stored(memory));
        self.record_writes += 1;
        Ok(())
    }

    fn audit(&mut self, _before: &UserMemory, _after: &UserMemory, _delivered: &[String], _now: Timestamp) {}

    async fn send(&mut self, due: &[PendingNotification], _memory: &UserMemory, _fresh: Option<&FreshPin>) -> Sent {
        let mut sent = Sent::default();
        for n in due {
            match &self.mail {
                Mail::Accept => {
                    self.sent.push(n.clone());
                    sent.results.push(SendResult {
                        message_id: n.message_id.clone(),
                        attempt: Attempt::Delivered,
                        at: self.now,
                    });
                }
                Mail::Hold => sent.in_flight = true,
                Mail::Refuse(attempt) => sent.results.push(SendResult {
                    message_id: n.message_id.clone(),
                    attempt: attempt.clone(),
                    at: self.now,
                }),
            }
        }
        sent
    }

    async fn publish(&mut self, events: &[PlannedEvent]) {
        self.events.extend(events.iter().cloned());
    }

    async fn write_status(&mut self, status: &ConferencingUserStatus) -> Result<(), Crashed> {
        self.spend()?;
        self.status = Some(stored(status));
        self.status_writes += 1;
        Ok(())
    }

    async fn mark_pin_secret_recorded(&mut self) -> Result<(), Crashed> {
        self.spend()?;
        self.secret_recorded = true;
        Ok(())
    }

    async fn delete_pin_secret(&mut self) -> Result<(), Crashed> {
        self.spend()?;
        self.secret = None;
        Ok(())
    }

    async fn release_id(&mut self, id: &ConferenceId) -> Result<(), Crashed> {
        self.spend()?;
        self.claims.retain(|c| c != id);
        Ok(())
    }
}
