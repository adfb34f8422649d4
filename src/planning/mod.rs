//! The decision logic, pure: from (validated user, validated tenant, what was observed, the
//! time) to a [`Plan`]: what to provision, what the operator will remember, what to clean up
//! afterwards, the Events to emit and the e-mails owed. No I/O, no clock, no randomness: one
//! interpreter ([`interpreter`]) carries every plan out, through an effects trait that the
//! controller implements against the API server and the mail relay, and [`world`] in memory
//! (for the planner's tests and `conferencing-operator plan`).
//!
//! What the operator remembers of a user (what it provisioned, the request tokens it
//! handled, the e-mails it owes and delivered) is its record ([`UserMemory`]), kept in a
//! Secret that only someone who could read the user's PIN anyway can write. The status is a
//! mirror of the record for people; the planner reads from it only the conditions' transition
//! times, so whatever someone writes into a status, the operator sends, resends and forgets
//! nothing because of it.
//!
//! Crash safety rests on two rules the plan follows:
//! 1. Every effect that must happen once (a new PIN, a new conference ID) is keyed by what
//!    caused it (a request token, or the generation that enabled the user) and that key is
//!    stored with the effect (the PIN Secret's annotation, the claim's holder). A re-plan
//!    after a crash finds the effect already done and adopts it instead of doing it again.
//! 2. The handled request token, the effect's result and the e-mail owed are recorded in
//!    one write of the record. Until that write succeeds the request still looks new, so it
//!    is never lost; once it succeeds it looks handled, so it is never repeated. An e-mail is
//!    sent only once the record that owes it is stored.
//!
//! The order (provision, commit the record, deliver, mirror, clean up) is the type of a plan's
//! stages ([`interpreter`]): each stage consumes the witness of the one before.

pub(crate) mod admission;
pub(crate) mod conditions;
mod events;
pub(crate) mod interpreter;
pub(crate) mod memory;
pub mod message_id;
pub mod outbox;
mod plan;
mod planner;
pub(crate) mod provenance;
pub(crate) mod world;

use k8s_openapi::jiff::Timestamp;

use crate::api::RequestKind;

pub use events::{asked_by_phrase, describe, unreadable_message};
pub use plan::*;
pub use planner::{blocked, plan};

/// How many pending e-mails a user's outbox keeps before the oldest is dropped. Bounds the
/// record (and its mirror) when the mail server is down for a long time.
pub const MAX_PENDING: usize = 32;

/// Prefix of the PIN generation (and e-mail cause) of a PIN generated because the Secret was
/// deleted by hand.
pub const RESTORE_PREFIX: &str = "restore.";

/// Whether `user` is about to be taken over from another system: its spec brings something
/// (`spec.adopt`), it holds nothing from this operator yet, and was never taken over before
/// (`spec.adopt` is read once).
pub fn takes_over(user: &crate::validation::ValidatedUser, memory: &crate::api::record::UserMemory) -> bool {
    user.adoption.is_some()
        && matches!(user.service, crate::validation::DesiredService::Native(_))
        && !memory.provisioned()
        && !memory.taken_over
}

/// When the PIN the memory records is to be rotated under the tenant's `pin.lifetime`: its
/// issue time plus the lifetime, less the user's share of the spread (see
/// [`crate::schedule::Lifetime::rotation_at`]). `None` without a lifetime or a PIN.
pub fn rotation_at(
    user: &crate::validation::ValidatedUser,
    tenant: &crate::validation::ValidatedTenant,
    memory: &crate::api::record::UserMemory,
) -> Option<Timestamp> {
    let lifetime = tenant.pin_lifetime?;
    if !memory.provisioned() || !matches!(user.service, crate::validation::DesiredService::Native(_)) {
        return None;
    }
    let issued = memory.pin_last_reset_time.as_ref()?.0;
    let at = lifetime.rotation_at(issued, &user.uid);
    // In whole seconds, rounded up: the API server stores `status.pinExpiresAt` to the second,
    // and a mirror that kept milliseconds would differ from the stored status after every
    // write, and be written twice.
    let up = i64::from(at.subsec_nanosecond() > 0);
    Some(Timestamp::from_second(at.as_second().saturating_add(up)).unwrap_or(at))
}

/// Why a PIN past its rotation point is not rotated now, whatever the time: its new PIN's
/// e-mail could not go. The tenant holds its e-mails, or sends none automatically (a PIN is
/// never replaced silently: it stays, overdue, and `conferencing_pins_overdue` shows it); or
/// the user still owes a PIN-reset e-mail (a rotation while the mail server is down would
/// pile up PINs, and their e-mails, until it is back).
pub fn rotation_held(tenant: &crate::validation::ValidatedTenant, memory: &crate::api::record::UserMemory) -> bool {
    tenant.hold
        || !tenant.automatic_emails
        || memory
            .notifications
            .pending
            .iter()
            .any(|n| n.kind == crate::api::NotificationKind::PinReset && !n.permanently_failed)
}

/// How the PIN of a user taken over from another system came to be, as the prefix of its
/// generation (the user's `metadata.generation` follows): the PIN it brought, kept; a new
/// one, because it brought none; a new one, because what it brought was not a PIN. Kept in the
/// PIN Secret's annotation, so that a takeover interrupted before its record write is
/// finished the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakeoverPin {
    /// The PIN brought along was adopted.
    Kept,
    /// None was brought: a new PIN.
    New,
    /// What was brought is not a PIN: a new PIN, e-mailed whatever the tenant says.
    Replaced,
}

impl TakeoverPin {
    const ALL: [TakeoverPin; 3] = [TakeoverPin::Kept, TakeoverPin::New, TakeoverPin::Replaced];

    /// The prefix of this PIN's generation.
    pub fn prefix(self) -> &'static str {
        match self {
            TakeoverPin::Kept => "takeover-kept.g",
            TakeoverPin::New => "takeover-new.g",
            TakeoverPin::Replaced => "takeover-replaced.g",
        }
    }

    /// The generation of this PIN for a user at `generation`.
    pub fn generation(self, generation: i64) -> String {
        format!("{}{generation}", self.prefix())
    }

    /// Which takeover PIN `pin_generation` names, for a user at `generation`.
    pub fn of(pin_generation: &str, generation: i64) -> Option<TakeoverPin> {
        TakeoverPin::ALL.into_iter().find(|t| t.generation(generation) == pin_generation)
    }
}

/// Prefix of the PIN generation (and e-mail cause) of a PIN rotated because it expired
/// (`pin.lifetime`); the old PIN's issue time, in milliseconds, follows.
pub const EXPIRED_PREFIX: &str = "expired.";

/// How many earlier tokens of each request are remembered (see `HandledRequests::previous`).
pub const TOKEN_HISTORY: usize = 8;
/// The most handled tokens `handledRequests.previous` holds: the CRD's `maxItems`.
pub const MAX_TOKEN_HISTORY: usize = TOKEN_HISTORY * RequestKind::ALL.len();

#[cfg(test)]
mod tests;
