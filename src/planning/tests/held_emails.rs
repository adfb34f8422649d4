//! A tenant's hold on its e-mails: owed while held, sent once on release, dropped by a
//! discard token.

use super::*;

/// A tenant that holds its e-mails (`notifications.hold`), at generation `generation`.
fn holding(hold: bool, discard: Option<&str>, generation: i64) -> ConferencingTenant {
    tenant("acme").holding(hold).discard_held(discard).generation(generation)
}

#[test]
fn a_held_email_is_owed_not_sent_and_sent_once_when_the_hold_is_lifted() {
    let mut u = user("alice", "acme");
    let mut w = W::default();
    w.mail = world::Mail::Accept;
    w.converge(&u, &holding(true, None, 1));
    assert!(w.sent.is_empty(), "nothing sent while the tenant holds its e-mails");
    assert_eq!(w.pending_kinds(), vec![NotificationKind::LicenseAssigned]);
    let delivered = crate::api::condition::find(&w.status().conditions, ConditionType::NotificationDelivered);
    assert_eq!(delivered.map(|c| c.reason.as_str()), Some("Held"));
    assert!(crate::api::condition::find(&w.status().conditions, ConditionType::Reconciling).is_none());
    // On-request e-mails are held too.
    u = u.send_info("i1");
    w.converge(&u, &holding(true, None, 1));
    assert!(w.sent.is_empty());
    assert_eq!(w.pending_kinds().len(), 2);
    // The hold is lifted: each is sent once.
    w.converge(&u, &holding(false, None, 2));
    let sent: Vec<NotificationKind> = w.sent.iter().map(|n| n.kind).collect();
    assert_eq!(sent, vec![NotificationKind::LicenseAssigned, NotificationKind::ConferencingInfoRequested]);
    w.converge(&u, &holding(false, None, 2));
    assert_eq!(w.sent.len(), 2, "once");
}

#[test]
fn a_discard_token_drops_what_is_held_and_nothing_owed_after_it() {
    let mut u = user("alice", "acme");
    let mut w = W::default();
    w.mail = world::Mail::Accept;
    w.converge(&u, &holding(true, None, 1));
    let p = w.run(&u, &holding(true, Some("D1"), 2));
    let dropped: Vec<_> = p.events().iter().filter(|e| e.reason == "HeldNotificationsDiscarded").collect();
    assert_eq!(dropped.len(), 1, "{:?}", p.events());
    assert!(
        dropped[0].message.contains("LicenseAssigned") && dropped[0].message.contains("D1"),
        "{}",
        dropped[0].message
    );
    assert!(w.status().notifications.pending.is_empty());
    // E-mails owed after the token are held under it, and kept.
    u = u.send_info("i1");
    w.converge(&u, &holding(true, Some("D1"), 2));
    assert_eq!(w.pending_kinds(), vec![NotificationKind::ConferencingInfoRequested]);
    w.converge(&u, &holding(false, Some("D1"), 3));
    let sent: Vec<NotificationKind> = w.sent.iter().map(|n| n.kind).collect();
    assert_eq!(sent, vec![NotificationKind::ConferencingInfoRequested], "only what was owed after the discard");
}

#[test]
fn a_discard_token_without_a_hold_drops_nothing() {
    let u = user("alice", "acme");
    let mut w = W::default();
    w.converge(&u, &holding(false, None, 1));
    let p = w.run(&u, &holding(false, Some("D1"), 2));
    assert!(!p.events().iter().any(|e| e.reason == "HeldNotificationsDiscarded"));
    assert_eq!(w.pending_kinds(), vec![NotificationKind::LicenseAssigned], "owed, and being sent");
}
