//! Where the planner's knowledge of a user comes from: its record, which only the operator
//! (and people who may write Secrets) write. The status is never read as memory, with one
//! exception made once per user, on upgrade: a user provisioned by a version before records
//! (its own PIN Secret exists without the mark this version puts on the PIN Secrets it writes,
//! and no record does) has its record rebuilt from the status that version kept its memory
//! in, as that version would have read it; once the record is written, the PIN Secret is
//! marked, and from then on the record is the memory. A marked PIN Secret without a record
//! means the record was lost (a crash before its first write, a deletion by hand): nothing is
//! remembered, and the user is planned as one the operator meets for the first time.

use super::PlannedEvent;
use crate::api::ConferencingUserStatus;
use crate::api::Reason;
use crate::api::record::UserMemory;

/// The user's own PIN Secret, as far as where the memory comes from is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PinSecret {
    /// The user has none.
    Absent,
    /// It carries this version's mark: written (or marked on upgrade) by an operator that
    /// keeps a record.
    Recorded,
    /// Written by a version before records.
    Unrecorded,
}

/// What the operator found of a user's record.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Record<'a> {
    /// No record Secret (of this user's UID) exists.
    Absent,
    /// A record exists but cannot be read (edited by hand, or written by a newer version).
    Unreadable,
    /// The record.
    Read(&'a UserMemory),
}

/// The memory to plan from.
#[derive(Clone, Debug, PartialEq)]
pub struct Recalled {
    /// What the operator knows.
    pub memory: UserMemory,
    /// Whether it is stored as it is (else the first plan writes it).
    pub stored: bool,
    /// Warnings about where it came from.
    pub warnings: Vec<PlannedEvent>,
}

impl Recalled {
    /// Nothing remembered (a user the operator has not planned yet).
    pub fn nothing() -> Recalled {
        Recalled { memory: UserMemory::empty(), stored: false, warnings: Vec::new() }
    }
}

/// The memory of a user with `record` and `pin_secret`, whose stored status is `status`.
pub(crate) fn recall(record: Record<'_>, pin_secret: PinSecret, status: Option<&ConferencingUserStatus>) -> Recalled {
    match record {
        Record::Read(memory) => Recalled { memory: memory.clone(), stored: true, warnings: Vec::new() },
        // Rebuilt as for a user the operator meets for the first time: its ID (from its
        // claims) and, when the PIN Secret holds the PIN of its provisioning, its PIN are
        // kept; otherwise a new PIN is issued and e-mailed once.
        Record::Unreadable => Recalled {
            memory: UserMemory::empty(),
            stored: false,
            warnings: vec![PlannedEvent::warning(
                Reason::RecordUnreadable,
                "the operator's record of this user (Secret <user>-conferencing-record) could not be read, so it is rebuilt: the user keeps its conference ID; a PIN from before is replaced and e-mailed",
            )],
        },
        Record::Absent if pin_secret == PinSecret::Unrecorded => Recalled {
            memory: status.map(UserMemory::from_status).unwrap_or_else(UserMemory::empty),
            stored: false,
            warnings: Vec::new(),
        },
        Record::Absent => Recalled::nothing(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HandledToken, RequestKind, SecretKeyRef};

    fn old_status() -> ConferencingUserStatus {
        let mut st = ConferencingUserStatus {
            conference_id: Some("7000001".into()),
            pin_secret_ref: Some(SecretKeyRef { name: "alice-conferencing-pin".into(), key: "pin".into() }),
            pin_generation: Some("provision.g1".into()),
            ..Default::default()
        };
        st.handled_requests.previous.push(HandledToken { request: RequestKind::ResetPin, token: "later".into() });
        st
    }

    #[test]
    fn the_record_is_the_memory_whatever_the_status_says() {
        let record = UserMemory { conference_id: Some("7000002".into()), ..UserMemory::empty() };
        let r = recall(Record::Read(&record), PinSecret::Unrecorded, Some(&old_status()));
        assert_eq!((r.memory, r.stored), (record, true));
    }

    #[test]
    fn without_a_record_the_status_counts_only_for_a_pin_secret_an_older_version_wrote() {
        let upgraded = recall(Record::Absent, PinSecret::Unrecorded, Some(&old_status()));
        assert_eq!(upgraded.memory.conference_id.as_deref(), Some("7000001"));
        assert!(!upgraded.stored);
        // A user with no PIN Secret, or one this version wrote (a crash before the record's
        // first write, a record deleted by hand): whatever its status says (a status writer may
        // have written it meanwhile), nothing is remembered.
        for pin_secret in [PinSecret::Absent, PinSecret::Recorded] {
            let fresh = recall(Record::Absent, pin_secret, Some(&old_status()));
            assert_eq!(fresh, Recalled::nothing());
            assert!(fresh.memory.handled_requests.previous.is_empty(), "no forged token can cancel a later request");
        }
    }

    #[test]
    fn an_unreadable_record_is_rebuilt_with_a_warning_not_read_from_the_status() {
        let r = recall(Record::Unreadable, PinSecret::Unrecorded, Some(&old_status()));
        assert_eq!(r.memory, UserMemory::empty());
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].reason, "RecordUnreadable");
    }
}
