//! The spec's one-shot requests: each token handled once, superseded, ignored with a
//! warning, or satisfied by the provisioning it came with; the outbox's bound.

use super::*;

#[test]
fn reset_pin_token_generates_once_with_one_email() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let id_before = w.status().conference_id.clone();
    u = u.reset_pin("2026-11-22");
    u = u.generation(2);
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning(), &Provisioning { relabel: false, id: None, pin: pin_step("reset-pin.2026-11-22", 5) });
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
    assert_eq!(w.status().handled_requests.reset_pin.as_deref(), Some("2026-11-22"));
    assert_eq!(w.status().conference_id, id_before);
    // Re-applying the same YAML does nothing more.
    assert!(w.run_is_noop(&u, &t));
    assert_eq!(w.pins_generated, 2);
    assert_eq!(w.pending_kinds(), vec![NotificationKind::LicenseAssigned, NotificationKind::PinReset]);
}

#[test]
fn requests_for_a_disabled_user_are_ignored_with_warnings() {
    let t = tenant("acme");
    let mut u = user("alice", "acme").licensed(false);
    let mut w = enabled_world(&u, &t);
    u = u.reset_pin("a");
    u = u.send_info("b");
    let p = w.run(&u, &t);
    assert!(p.outcomes().is_empty());
    assert_eq!(p.events().iter().filter(|e| e.reason == "RequestIgnored").count(), 2);
    assert_eq!(w.status().handled_requests.reset_pin.as_deref(), Some("a"));
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn requests_made_with_provisioning_are_satisfied_by_it() {
    let t = tenant("acme");
    let u = user("alice", "acme").reset_pin("x").reset_conference_id("y");
    let mut w = W::default();
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
    assert_eq!(w.pins_generated, 1);
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn outbox_is_bounded() {
    // The mail server is down while the tenant's default number flips back and forth: each
    // change is owed to the user, up to the bound.
    let mut t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    for i in 0..(MAX_PENDING + 3) {
        t = t.default_toll((i + 1) % 2).generation(2 + i64::try_from(i).expect("small"));
        w.run(&u, &t);
    }
    assert_eq!(w.status().notifications.pending.len(), MAX_PENDING);
    assert!(w.events.iter().any(|e| e.reason == "NotificationsDropped"));
}

#[test]
fn a_newer_request_supersedes_an_undelivered_older_one() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.send_info("i1");
    w.run(&u, &t);
    u = u.send_info("i2");
    w.run(&u, &t);
    let info: Vec<_> = w
        .status()
        .notifications
        .pending
        .iter()
        .filter(|n| n.kind == NotificationKind::ConferencingInfoRequested)
        .collect();
    assert_eq!(info.len(), 1, "one information e-mail, for the newest request");
    assert!(info[0].message_id.contains(&message_id::token_cause("i2")));
}

#[test]
fn fixing_the_recipient_sends_the_owed_licence_email_again() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let w = &mut enabled_world(&u, &t);
    // The mail server refuses the licence e-mail for good.
    w.mail = world::Mail::Refuse(outbox::Attempt::Permanent("550 no such user".into()));
    w.run(&u, &t);
    w.mail = world::Mail::Hold;
    assert!(outbox::due(&w.status().notifications, now()).is_empty());
    u = u.send_to("alice.fixed@acme.example");
    u = u.generation(2);
    w.run(&u, &t);
    let due = outbox::due(&w.status().notifications, now());
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].kind, due[0].recipient.as_str()),
        (NotificationKind::LicenseAssigned, "alice.fixed@acme.example")
    );
}

#[test]
fn reconciling_while_emails_wait() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let w = enabled_world(&u, &t);
    let r = crate::api::condition::find(&w.status().conditions, ConditionType::Reconciling).expect("reconciling");
    assert_eq!(r.reason, "NotificationsPending");
    assert!(crate::api::condition::find(&w.status().conditions, ConditionType::Stalled).is_none());
}

#[test]
fn a_token_that_comes_back_is_not_a_new_request() {
    // A PIN reset by T1, then T2; then a Git revert (or an Argo CD sync of the older commit)
    // puts T1 back: nothing happens but a Warning, and T2 coming back does nothing either.
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    for token in ["T1", "T2"] {
        u = u.reset_pin(token);
        assert_eq!(kinds(&w.run(&u, &t)), vec![NotificationKind::PinReset]);
    }
    assert_eq!(w.pins_generated, 3);
    for token in ["T1", "T2", "T1"] {
        u = u.reset_pin(token);
        let p = w.run(&u, &t);
        assert!(p.outcomes().is_empty(), "{token} was handled before");
        assert_eq!(p.events().iter().filter(|e| e.reason == "RequestTokenReused").count(), 1);
        assert_eq!(w.status().handled_requests.reset_pin.as_deref(), Some(token), "recorded as handled");
        assert!(w.run_is_noop(&u, &t), "and warned about once");
    }
    assert_eq!(w.pins_generated, 3, "no PIN for a token seen before");
    u = u.reset_pin("T3");
    assert_eq!(kinds(&w.run(&u, &t)), vec![NotificationKind::PinReset], "a new token still works");
}

#[test]
fn the_token_history_is_bounded_per_request() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    for i in 0..20 {
        u = u.send_info(format!("i{i}"));
        u = u.reset_pin(format!("p{i}"));
        w.run(&u, &t);
    }
    let previous = &w.status().handled_requests.previous;
    for r in [RequestKind::SendConferencingInfo, RequestKind::ResetPin] {
        assert_eq!(previous.iter().filter(|p| p.request == r).count(), TOKEN_HISTORY);
    }
    assert!(previous.iter().any(|p| p.token == "p18") && !previous.iter().any(|p| p.token == "p10"));
}
