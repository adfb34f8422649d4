//! Deterministic `Message-ID`s: the same (user, outcome, cause) always gives the same ID, so
//! a message re-sent after a crash is recognisable as the same message by mail clients and
//! by the tests, and two different causes never share an ID.

use crate::api::NotificationKind;

/// Right-hand side of every Message-ID. `.invalid` is reserved (RFC 2606), so it can never
/// collide with a real domain's IDs.
pub const MESSAGE_ID_DOMAIN: &str = "conferencing-operator.invalid";

/// The cause part for a request token. Tokens are free text; hex keeps the ID within RFC 5322
/// `dot-atom-text` and keeps distinct tokens distinct.
pub fn token_cause(token: &str) -> String {
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    format!("r{hex}")
}

/// `<kind.cause.uid@conferencing-operator.invalid>`.
pub fn message_id(uid: &str, kind: NotificationKind, cause: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect()
    };
    format!("<{}.{}.{}@{MESSAGE_ID_DOMAIN}>", kind.slug(), clean(cause), clean(uid))
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
}
