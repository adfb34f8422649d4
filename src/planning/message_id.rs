//! Deterministic `Message-ID`s: the same (user, outcome, cause) always gives the same ID, so
//! a message re-sent after a crash is recognisable as the same message by mail clients and
//! by the tests, and two different causes never share an ID. The cause can be read back
//! ([`cause_of`]), which is how the operator checks that a pending e-mail is one it owes.

use crate::api::NotificationKind;
use crate::domain::ConferenceId;

/// Right-hand side of every Message-ID. `.invalid` is reserved (RFC 2606), so it can never
/// collide with a real domain's IDs.
pub const MESSAGE_ID_DOMAIN: &str = "conferencing-operator.invalid";

/// The cause part for a request token. Tokens are free text; hex keeps the ID within RFC 5322
/// `dot-atom-text` and keeps distinct tokens distinct.
pub fn token_cause(token: &str) -> String {
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    format!("r{hex}")
}

/// The request token a cause made by [`token_cause`] came from.
pub fn token_of(cause: &str) -> Option<String> {
    let hex = cause.strip_prefix('r')?;
    if hex.len() % 2 != 0 || hex.is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// Whether `message_id` is one of a request's e-mails (its cause a request token), read
/// without the UID: the segment after the kind is a token cause, which has no dot.
pub fn requested(message_id: &str, kind: NotificationKind) -> bool {
    message_id
        .strip_prefix('<')
        .and_then(|m| m.strip_prefix(kind.slug()))
        .and_then(|m| m.strip_prefix('.'))
        .and_then(|m| m.split('.').next())
        .is_some_and(|cause| token_of(cause).is_some())
}

/// The cause of an outcome that a spec change (of the user at `user`, of its tenant at
/// `tenant`) brought about.
pub fn generation_cause(user: i64, tenant: i64) -> String {
    format!("g{user}.t{tenant}")
}

/// The generations a cause made by [`generation_cause`] names.
pub fn generations_of(cause: &str) -> Option<(i64, i64)> {
    let (u, t) = cause.strip_prefix('g')?.split_once(".t")?;
    Some((u.parse().ok()?, t.parse().ok()?))
}

/// The cause of a new ID given because `lost` was taken by another user.
pub fn reassigned_cause(lost: &ConferenceId) -> String {
    format!("reassigned.{lost}")
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect()
}

/// `<kind.cause.uid@conferencing-operator.invalid>`.
pub fn message_id(uid: &str, kind: NotificationKind, cause: &str) -> String {
    format!("<{}.{}.{}@{MESSAGE_ID_DOMAIN}>", kind.slug(), clean(cause), clean(uid))
}

/// The cause part of `message_id`, if it is a Message-ID of this operator for `kind` and the
/// user with `uid`.
pub fn cause_of(message_id: &str, kind: NotificationKind, uid: &str) -> Option<String> {
    let inner = message_id.strip_prefix('<')?.strip_suffix('>')?;
    let local = inner.strip_suffix(MESSAGE_ID_DOMAIN)?.strip_suffix('@')?;
    let rest = local.strip_prefix(kind.slug())?.strip_prefix('.')?;
    let cause = rest.strip_suffix(clean(uid).as_str())?.strip_suffix('.')?;
    // One spelling per message: a cause that the operator would not have written this way
    // (`g01.t1` for `g1.t1`, upper-case hex in a token) is not one of its Message-IDs. Without
    // this, each spelling of one owed e-mail was a "new" e-mail, sent again.
    (is_canonical(cause) && self::message_id(uid, kind, cause) == message_id).then(|| cause.to_string())
}

/// Whether `cause` is exactly what one of the cause constructors writes.
fn is_canonical(cause: &str) -> bool {
    if let Some(rest) = cause.strip_prefix("reassigned.") {
        return ConferenceId::parse(rest).is_some_and(|id| reassigned_cause(&id) == cause);
    }
    // A restored PIN's cause and a rotated PIN's cause name the old PIN's issue time in ms.
    if let Some(ms) = cause.strip_prefix("restore.").or_else(|| cause.strip_prefix("expired.")) {
        return ms.parse::<u64>().is_ok_and(|n| n.to_string() == ms);
    }
    if cause.starts_with('g') {
        return generations_of(cause).is_some_and(|(u, t)| u >= 0 && t >= 0 && generation_cause(u, t) == cause);
    }
    token_of(cause).is_some_and(|t| token_cause(&t) == cause)
}

/// A Message-ID as it may be shown in an Event: printable ASCII only, bounded, since it may
/// have been written by someone else.
pub fn printable(message_id: &str) -> String {
    message_id.chars().filter(|c| c.is_ascii_graphic()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let a = message_id("u-1", NotificationKind::PinReset, &token_cause("2026-11-22 ticket#7"));
        assert_eq!(a, message_id("u-1", NotificationKind::PinReset, &token_cause("2026-11-22 ticket#7")));
        assert_ne!(a, message_id("u-1", NotificationKind::PinReset, &token_cause("2026-11-22 ticket_7")));
        assert_ne!(a, message_id("u-2", NotificationKind::PinReset, &token_cause("2026-11-22 ticket#7")));
        assert_ne!(a, message_id("u-1", NotificationKind::ConferenceIdReset, &token_cause("2026-11-22 ticket#7")));
        assert!(a.starts_with("<pin-reset.r") && a.ends_with("@conferencing-operator.invalid>"), "{a}");
        assert!(!a[1..a.len() - 1].contains(['<', '>', ' ', '#']));
    }

    #[test]
    fn causes_read_back() {
        let uid = "0b7c-11ef";
        for cause in [token_cause("ticket 7 / ü"), generation_cause(3, 12), "restore.1800000000123".into()] {
            for kind in NotificationKind::ALL {
                let id = message_id(uid, kind, &cause);
                assert_eq!(cause_of(&id, kind, uid).as_deref(), Some(cause.as_str()), "{id}");
                assert_eq!(cause_of(&id, kind, "another-uid"), None);
            }
        }
        let id = message_id(uid, NotificationKind::PinReset, "g1.t1");
        assert_eq!(cause_of(&id, NotificationKind::LicenseAssigned, uid), None, "the kind must match");
        assert_eq!(token_of(&token_cause("ticket 7 / ü")).as_deref(), Some("ticket 7 / ü"));
        assert_eq!(token_of("rzz"), None);
        assert_eq!(generations_of("g3.t12"), Some((3, 12)));
        assert_eq!(generations_of("g3"), None);
    }

    #[test]
    fn a_message_id_has_one_spelling() {
        let uid = "uid-alice";
        let kind = NotificationKind::PinReset;
        let id = message_id(uid, kind, &generation_cause(1, 1));
        assert!(cause_of(&id, kind, uid).is_some());
        // The spellings of one Message-ID that the parser used to accept (issue 17).
        for other in ["g01.t1", "g001.t1", "g+1.t1", "g1.t01", "g1.t+1", "g-0.t1"] {
            let forged = id.replace("g1.t1", other);
            assert_eq!(cause_of(&forged, kind, uid), None, "{forged}");
        }
        let token = message_id(uid, kind, &token_cause("J"));
        assert!(cause_of(&token, kind, uid).is_some());
        assert_eq!(cause_of(&token.replace("r4a", "r4A"), kind, uid), None);
        let lost = ConferenceId::parse("8885844").expect("id");
        let re = message_id(uid, kind, &reassigned_cause(&lost));
        assert!(cause_of(&re, kind, uid).is_some());
        assert_eq!(cause_of(&re.replace("8885844", "08885844"), kind, uid), None);
        let restore = message_id(uid, kind, "restore.1800000000123");
        assert!(cause_of(&restore, kind, uid).is_some());
        assert_eq!(cause_of(&restore.replace("restore.1", "restore.01"), kind, uid), None);
        assert!(!requested(&restore, kind) && !requested(&re, kind) && !requested(&id, kind));
        assert!(requested(&token, kind));
        let expired = message_id(uid, kind, "expired.1800000000123");
        assert!(!requested(&expired, kind));
        assert_eq!(cause_of(&expired, kind, uid).as_deref(), Some("expired.1800000000123"));
        assert_eq!(cause_of(&expired.replace("expired.1", "expired.01"), kind, uid), None);
    }
}
