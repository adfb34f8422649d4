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

/// How many earlier tokens of each request are remembered (see `HandledRequests::previous`).
pub const TOKEN_HISTORY: usize = 8;
/// The most handled tokens `handledRequests.previous` holds: the CRD's `maxItems`.
pub const MAX_TOKEN_HISTORY: usize = TOKEN_HISTORY * RequestKind::ALL.len();

#[cfg(test)]
mod tests;
