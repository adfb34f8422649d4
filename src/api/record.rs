//! The operator's memory of a user: what it last provisioned, which request tokens it handled,
//! and which e-mails it owes and has delivered. Kept as JSON in an annotation of the user's
//! record Secret (`<user>-conferencing-record`, see `provisioning::record`), which only
//! someone who may write Secrets in the namespace can change, and who could read the user's
//! PIN anyway. The status is a mirror of it for people ([`UserMemory::mirror`]); the operator
//! never reads the status back to decide what to do, so a status writer cannot make it send,
//! resend or forget anything.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

use super::{
    Condition, ConferenceIdMode, ConferencingUserStatus, HandledRequests, NotificationRecord, PIN_MASK, ProviderSpec,
    SecretKeyRef,
};

/// The version of the record's format this operator writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// The most delivered e-mails a record lists (the status mirrors them).
pub const MAX_DELIVERED: usize = 32;

/// What the operator remembers of one user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserMemory {
    /// The format's version ([`RECORD_VERSION`]).
    #[serde(default)]
    pub version: u32,
    /// The user's `metadata.generation` last planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Whether the licence was in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensed: Option<bool>,
    /// The provider in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderSpec>,
    /// The conference ID the user holds (its claim is the authority; this is what the user
    /// was told).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    /// The tenant's conference-ID mode when last planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conference_id_mode: Option<ConferenceIdMode>,
    /// The Toll number the user was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_number: Option<String>,
    /// The TollFree number the user was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toll_free_service_number: Option<String>,
    /// What caused the PIN the user's Secret holds; `None` while the user holds no PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_generation: Option<String>,
    /// When that PIN was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_last_reset_time: Option<Time>,
    /// The request tokens handled, and who asked.
    #[serde(default)]
    pub handled_requests: HandledRequests,
    /// The e-mails owed and the last ones delivered.
    #[serde(default)]
    pub notifications: NotificationRecord,
    /// The tenant's `requests.discardHeldEmails` token when the e-mails held now were owed
    /// (or last discarded): a token other than this one discards them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard_token: Option<String>,
    /// Whether the user was taken over from another system (its `spec.adopt` read, when it
    /// was first provisioned): `spec.adopt` is never read again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub taken_over: bool,
}

impl UserMemory {
    /// Knows nothing yet: a user the operator has not planned.
    pub fn empty() -> UserMemory {
        UserMemory { version: RECORD_VERSION, ..UserMemory::default() }
    }

    /// Whether the user holds a PIN (and so a conference ID) from this operator.
    pub fn provisioned(&self) -> bool {
        self.pin_generation.is_some()
    }

    /// The status that shows this memory to people, with `conditions`.
    pub fn mirror(&self, user: &str, conditions: Vec<Condition>) -> ConferencingUserStatus {
        let secret_ref = self.pin_generation.as_ref().map(|_| SecretKeyRef {
            name: crate::provisioning::secret::pin_secret_name(user),
            key: crate::provisioning::secret::PIN_KEY.into(),
        });
        ConferencingUserStatus {
            unreadable: Vec::new(),
            conditions,
            observed_generation: self.observed_generation,
            licensed: self.licensed,
            provider: self.provider.clone(),
            conference_id: self.conference_id.clone(),
            conference_id_mode: self.conference_id_mode,
            service_number: self.service_number.clone(),
            toll_free_service_number: self.toll_free_service_number.clone(),
            allow_pstn_only_meetings: None,
            pin: self.pin_generation.as_ref().map(|_| PIN_MASK.to_string()),
            pin_secret_ref: secret_ref,
            pin_generation: self.pin_generation.clone(),
            pin_last_reset_time: self.pin_last_reset_time.clone(),
            pin_expires_at: None,
            handled_requests: self.handled_requests.clone(),
            notifications: self.notifications.clone(),
        }
    }

    /// The memory a version before records kept in the status: read once, when the operator
    /// first meets a user provisioned by such a version (see `planning::memory::recall`).
    pub fn from_status(status: &ConferencingUserStatus) -> UserMemory {
        let provisioned = status.pin_secret_ref.is_some();
        UserMemory {
            version: RECORD_VERSION,
            observed_generation: status.observed_generation,
            licensed: status.licensed,
            provider: status.provider.clone(),
            conference_id: status.conference_id.clone(),
            conference_id_mode: status.conference_id_mode,
            service_number: status.service_number.clone(),
            toll_free_service_number: status.toll_free_service_number.clone(),
            // A provisioned user always has a generation; an old status without one still
            // held a PIN.
            pin_generation: provisioned.then(|| status.pin_generation.clone().unwrap_or_default()),
            pin_last_reset_time: status.pin_last_reset_time.clone(),
            handled_requests: status.handled_requests.clone(),
            notifications: status.notifications.clone(),
            discard_token: None,
            taken_over: false,
        }
        .bounded()
    }

    /// Reads a record's annotation. `None` when it is not a record this operator can read
    /// (written by hand, or by a newer version): the caller treats it as lost.
    pub fn parse(text: &str) -> Option<UserMemory> {
        let memory: UserMemory = serde_json::from_str(text).ok()?;
        (memory.version == RECORD_VERSION).then(|| memory.bounded())
    }

    /// The annotation's text.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Cut to the bounds the operator keeps, whatever was read: a record edited by hand must
    /// not make the operator carry (or mirror into the status) more than the CRD allows.
    fn bounded(mut self) -> UserMemory {
        let n = &mut self.notifications;
        let excess = n.pending.len().saturating_sub(crate::planning::MAX_PENDING);
        n.pending.drain(..excess);
        let excess = n.delivered.len().saturating_sub(MAX_DELIVERED);
        n.delivered.drain(..excess);
        let h = &mut self.handled_requests;
        let excess = h.previous.len().saturating_sub(crate::planning::MAX_TOKEN_HISTORY);
        h.previous.drain(..excess);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HandledToken, NotificationKind, PendingNotification, RequestKind};

    fn pending(i: usize) -> PendingNotification {
        PendingNotification::owed(NotificationKind::PinReset, format!("<m{i}>"), "a@b.example")
    }

    #[test]
    fn a_record_reads_back_what_was_written() {
        let mut m = UserMemory {
            version: RECORD_VERSION,
            conference_id: Some("7000001".into()),
            pin_generation: Some("provision.g1".into()),
            ..UserMemory::default()
        };
        m.handled_requests.reset_pin = Some("T1".into());
        m.notifications.pending.push(pending(1));
        assert_eq!(UserMemory::parse(&m.to_json()), Some(m));
    }

    #[test]
    fn a_record_this_version_cannot_read_counts_as_lost() {
        for text in ["", "{", "[]", r#"{"version":2}"#, r#"{"version":1,"surprise":true}"#, r#"{"conferenceId":7}"#] {
            assert_eq!(UserMemory::parse(text), None, "{text}");
        }
    }

    #[test]
    fn a_record_is_bounded_whatever_it_says() {
        let mut m = UserMemory { version: RECORD_VERSION, ..UserMemory::default() };
        m.notifications.pending = (0..500).map(pending).collect();
        m.handled_requests.previous =
            (0..500).map(|i| HandledToken { request: RequestKind::ResetPin, token: i.to_string() }).collect();
        let read = UserMemory::parse(&m.to_json()).expect("readable");
        assert_eq!(read.notifications.pending.len(), crate::planning::MAX_PENDING);
        assert_eq!(read.notifications.pending.last().map(|p| p.message_id.as_str()), Some("<m499>"), "newest kept");
        assert_eq!(read.handled_requests.previous.len(), crate::planning::MAX_TOKEN_HISTORY);
    }

    #[test]
    fn the_mirror_shows_the_pin_masked_and_where_it_is() {
        let m = UserMemory { pin_generation: Some("provision.g1".into()), ..UserMemory::default() };
        let st = m.mirror("alice", Vec::new());
        assert_eq!(st.pin.as_deref(), Some(PIN_MASK));
        assert_eq!(st.pin_secret_ref.map(|r| r.name), Some("alice-conferencing-pin".to_string()));
        let none = UserMemory::default().mirror("alice", Vec::new());
        assert!(none.pin.is_none() && none.pin_secret_ref.is_none());
        assert_eq!(UserMemory::from_status(&m.mirror("alice", Vec::new())).pin_generation, m.pin_generation);
    }
}
