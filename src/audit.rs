//! The audit log: for every request handled, PIN issued and e-mail sent, one JSON object on
//! its own line of standard output, whatever the log format, for a SIEM to pick out of the
//! pod's log (every audit line, and no other, starts with `{"audit":`). The schema is
//! documented in docs/operations.md ("Audit log") and held to by tests. A record names the
//! cause and, for requests, who asked; it never holds a PIN (a PIN generation names the
//! request or event that caused it, not the digits).
//!
//! Records are derived from the operator's memory of the user before and after a successful
//! write of its record, so they are written once per change as the API server stored it
//! (again only if a later write records the same change again, as after a crash between the
//! write and the log line).

use std::io::Write;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::api::record::UserMemory;
use crate::api::{NotificationKind, RequestActor, RequestKind};
use crate::planning::message_id;

/// The value of the `audit` key: the schema's name and version.
pub(crate) const SCHEMA: &str = "conferencing.io/audit/v1";

/// One audit record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    /// Always [`SCHEMA`]; first, so that a line is recognised by its start.
    pub audit: &'static str,
    /// When the operator recorded it (RFC 3339).
    pub time: String,
    /// The user's namespace.
    pub namespace: String,
    /// The user's name.
    pub user: String,
    /// The user's UID.
    pub uid: String,
    /// What happened.
    #[serde(flatten)]
    pub action: Action,
}

/// What happened, as the record's `action` key and its own fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all_fields = "camelCase")]
pub(crate) enum Action {
    /// A request token was handled (carried out, or ignored with a Warning).
    RequestHandled {
        /// `resetPin`, `resetConferenceId` or `sendConferencingInfo`.
        request: &'static str,
        /// The token.
        token: String,
        /// Who wrote it.
        asked_by: Option<RequestActor>,
    },
    /// A new PIN was generated and stored in the user's Secret.
    PinIssued {
        /// The PIN's generation: `provision.g<generation>`, `reset-pin.<token>` or
        /// `restored.<milliseconds>`.
        generation: String,
        /// Who asked, when a request caused it.
        asked_by: Option<RequestActor>,
    },
    /// The mail server accepted an e-mail.
    EmailSent {
        /// The e-mail's kind, e.g. `PinReset`.
        kind: NotificationKind,
        /// Its Message-ID.
        message_id: String,
        /// Where it went.
        recipient: String,
        /// Who asked, when a request caused it.
        asked_by: Option<RequestActor>,
    },
}

fn request_of(kind: NotificationKind) -> Option<RequestKind> {
    match kind {
        NotificationKind::PinReset => Some(RequestKind::ResetPin),
        NotificationKind::ConferenceIdReset => Some(RequestKind::ResetConferenceId),
        NotificationKind::ConferencingInfoRequested => Some(RequestKind::SendConferencingInfo),
        _ => None,
    }
}

/// The user a record is about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// UID.
    pub uid: &'a str,
}

/// The records for a write of the user's record: `before` as it was, `after` as written,
/// `delivered` the Message-IDs this write records as delivered.
pub(crate) fn records(
    who: Subject<'_>,
    before: &UserMemory,
    after: &UserMemory,
    delivered: &[String],
    now: Timestamp,
) -> Vec<Record> {
    let mut actions = Vec::new();
    for r in RequestKind::ALL {
        if let Some(token) = after.handled_requests.current(r)
            && before.handled_requests.current(r) != Some(token)
        {
            actions.push(Action::RequestHandled {
                request: r.field(),
                token: token.clone(),
                asked_by: after.handled_requests.by(r).cloned(),
            });
        }
    }
    if let Some(generation) = &after.pin_generation
        && before.pin_generation.as_ref() != Some(generation)
    {
        let asked_by = generation
            .strip_prefix("reset-pin.")
            .filter(|t| after.handled_requests.reset_pin.as_deref() == Some(*t))
            .and_then(|_| after.handled_requests.reset_pin_by.clone());
        actions.push(Action::PinIssued { generation: generation.clone(), asked_by });
    }
    for d in after.notifications.delivered.iter().filter(|d| delivered.contains(&d.message_id)) {
        let asked_by = request_of(d.kind).and_then(|r| {
            let cause = message_id::cause_of(&d.message_id, d.kind, who.uid)?;
            let token = message_id::token_of(&cause)?;
            (after.handled_requests.current(r) == Some(&token)).then(|| after.handled_requests.by(r).cloned())?
        });
        actions.push(Action::EmailSent {
            kind: d.kind,
            message_id: d.message_id.clone(),
            recipient: d.recipient.clone(),
            asked_by,
        });
    }
    actions
        .into_iter()
        .map(|action| Record {
            audit: SCHEMA,
            time: now.to_string(),
            namespace: who.namespace.to_string(),
            user: who.name.to_string(),
            uid: who.uid.to_string(),
            action,
        })
        .collect()
}

/// Writes each record as one line of standard output. A record that cannot be written is
/// reported in the log (without its content) rather than stopping the reconcile.
pub(crate) fn emit(records: &[Record]) {
    if records.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    for r in records {
        let written = serde_json::to_string(r).map_err(std::io::Error::other).and_then(|line| writeln!(out, "{line}"));
        if let Err(e) = written {
            tracing::error!(namespace = %r.namespace, user = %r.user, error = %e, "writing an audit record failed");
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::DeliveredNotification;

    const WHO: Subject<'static> = Subject { namespace: "acme", name: "alice", uid: "u-1" };

    fn jane() -> RequestActor {
        RequestActor { manager: "jane.doe".into(), operation: Some("Update".into()), time: None, gitops: None }
    }

    #[test]
    fn a_pin_reset_gives_three_records_naming_who_asked_and_never_the_pin() {
        let before = UserMemory { pin_generation: Some("provision.g1".into()), ..UserMemory::empty() };
        let mut after = before.clone();
        after.handled_requests.reset_pin = Some("CHG-7".into());
        after.handled_requests.reset_pin_by = Some(jane());
        after.pin_generation = Some("reset-pin.CHG-7".into());
        let id = message_id::message_id("u-1", NotificationKind::PinReset, &message_id::token_cause("CHG-7"));
        after.notifications.delivered.push(DeliveredNotification {
            kind: NotificationKind::PinReset,
            message_id: id.clone(),
            recipient: "alice@acme.example".into(),
            time: Time(Timestamp::UNIX_EPOCH),
        });
        let rs = records(WHO, &before, &after, std::slice::from_ref(&id), Timestamp::UNIX_EPOCH);
        let actions: Vec<&Action> = rs.iter().map(|r| &r.action).collect();
        assert_eq!(
            actions,
            [
                &Action::RequestHandled { request: "resetPin", token: "CHG-7".into(), asked_by: Some(jane()) },
                &Action::PinIssued { generation: "reset-pin.CHG-7".into(), asked_by: Some(jane()) },
                &Action::EmailSent {
                    kind: NotificationKind::PinReset,
                    message_id: id,
                    recipient: "alice@acme.example".into(),
                    asked_by: Some(jane())
                },
            ]
        );
        let line = serde_json::to_string(&rs[0]).expect("json");
        assert!(line.starts_with(&format!("{{\"audit\":\"{SCHEMA}\"")), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("parse");
        assert_eq!(v["action"], "RequestHandled");
        assert_eq!(v["askedBy"]["manager"], "jane.doe");
        // Nothing repeats once the record holds it.
        assert!(records(WHO, &after, &after, &[], Timestamp::UNIX_EPOCH).is_empty());
    }

    #[test]
    fn automatic_changes_have_no_asker() {
        let mut after = UserMemory { pin_generation: Some("provision.g1".into()), ..UserMemory::empty() };
        after.handled_requests.reset_pin_by = Some(jane());
        let rs = records(WHO, &UserMemory::empty(), &after, &[], Timestamp::UNIX_EPOCH);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].action, Action::PinIssued { generation: "provision.g1".into(), asked_by: None });
    }
}
