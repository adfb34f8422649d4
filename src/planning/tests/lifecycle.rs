//! The PIN lifecycle under the tenant's policy, with the clock moved by hand: rotation once
//! per lifetime at the user's point of its spread, the send window and the e-mail cap it
//! waits for, history and rules passed to the generator, a policy change applying forward.

use k8s_openapi::jiff::SignedDuration;

use super::*;
use crate::planning::{EXPIRED_PREFIX, Generation, rotation_at};

fn later(w: &mut W, by: SignedDuration) {
    w.now = w.now.checked_add(by).expect("time");
}

/// The world, converged at `now()` with the mail server accepting everything.
fn converged(u: &ConferencingUser, t: &ConferencingTenant) -> W {
    let mut w = W::default();
    w.mail = world::Mail::Accept;
    w.converge(u, t);
    w
}

fn rotation_point(w: &W, u: &ConferencingUser, t: &ConferencingTenant) -> Timestamp {
    let (vu, vt) = validated(u, t);
    rotation_at(&vu, &vt, w.record.as_ref().expect("record")).expect("a rotation point")
}

#[test]
fn a_pin_is_rotated_once_at_its_point_with_the_expired_email() {
    let t = tenant("acme").pin_lifetime("30s");
    let u = user("alice", "acme");
    let mut w = converged(&u, &t);
    let issued = w.status().pin_last_reset_time.clone().expect("issued").0;
    let at = rotation_point(&w, &u, &t);
    assert!(
        at >= issued.checked_add(SignedDuration::from_secs(27)).expect("t")
            && at <= issued.checked_add(SignedDuration::from_secs(30)).expect("t"),
        "within the last tenth"
    );
    assert_eq!(w.status().pin_expires_at.as_ref().map(|t| t.0), Some(at), "the status shows it");
    assert_eq!(at.subsec_nanosecond(), 0, "to the second, as the API server stores it");
    // Before the point: nothing, but a wake-up at it.
    later(&mut w, SignedDuration::from_secs(20));
    let p = w.run(&u, &t);
    assert!(p.provisioning().pin.is_none() && kinds(&p).is_empty());
    assert_eq!(p.wake_at, Some(at));
    // At the point: one rotation, its e-mail keyed by the old PIN's issue time.
    w.now = at;
    let p = w.run(&u, &t);
    let expired = format!("{EXPIRED_PREFIX}{}", issued.as_millisecond());
    assert_eq!(p.provisioning().pin.as_ref().map(|s| s.generation.clone()), Some(expired.clone()));
    assert_eq!(kinds(&p), [NotificationKind::PinReset]);
    assert!(p.events().iter().any(|e| e.reason == "PinRotated"), "{:?}", p.events());
    let sent = w.sent.last().expect("sent").clone();
    assert_eq!(sent.kind, NotificationKind::PinReset);
    assert!(sent.message_id.contains(&expired), "{}", sent.message_id);
    // Converged again: no second rotation before the new PIN's own point.
    assert!(w.run_is_noop(&u, &t));
    let next = rotation_point(&w, &u, &t);
    assert!(next > at.checked_add(SignedDuration::from_secs(26)).expect("t"), "one rotation per lifetime");
}

#[test]
fn users_given_pins_together_rotate_at_different_points() {
    let t = tenant("acme").pin_lifetime("100d");
    let points: Vec<Timestamp> = (0..50)
        .map(|i| {
            let u = user(&format!("user{i}"), "acme");
            let w = converged(&u, &t);
            rotation_point(&w, &u, &t)
        })
        .collect();
    let distinct: std::collections::BTreeSet<_> = points.iter().collect();
    assert!(distinct.len() > 45, "spread, not together: {} distinct of 50", distinct.len());
}

#[test]
fn a_rotation_waits_for_the_send_window_and_for_room_under_the_cap() {
    // 1_800_000_000 is 2027-01-15T08:00:00Z; the window is 10:00 to 18:00 UTC.
    let t = tenant("acme").pin_lifetime("1h").send_window("10:00", "18:00", "UTC");
    let u = user("alice", "acme");
    let mut w = converged(&u, &t);
    let at = rotation_point(&w, &u, &t);
    w.now = at;
    assert!(at < Timestamp::from_second(1_800_000_000 + 2 * 3_600).expect("t"), "before the window opens");
    let p = w.run(&u, &t);
    assert!(p.provisioning().pin.is_none(), "waits for the window");
    assert_eq!(p.wake_at, Some(Timestamp::from_second(1_800_000_000 + 2 * 3_600).expect("t")));
    w.now = Timestamp::from_second(1_800_000_000 + 2 * 3_600 + 1).expect("t");
    let room = w.now.checked_add(SignedDuration::from_secs(40)).expect("t");
    w.cap_full_until = Some(room);
    let p = w.run(&u, &t);
    assert!(p.provisioning().pin.is_none(), "waits for room under the cap");
    assert_eq!(p.wake_at, Some(room));
    w.cap_full_until = None;
    w.now = room;
    assert_eq!(kinds(&w.run(&u, &t)), [NotificationKind::PinReset]);
}

#[test]
fn automatic_emails_wait_for_the_window_and_on_request_ones_do_not() {
    let t = tenant("acme").send_window("10:00", "18:00", "UTC");
    let u = user("alice", "acme").send_info("i1");
    let mut w = W::default();
    w.mail = world::Mail::Accept;
    let p = w.plan(&u, &t);
    let done = w.execute(p).expect("carried out");
    let sent: Vec<NotificationKind> = w.sent.iter().map(|n| n.kind).collect();
    assert_eq!(sent, [NotificationKind::ConferencingInfoRequested], "only the on-request e-mail goes");
    assert_eq!(w.pending_kinds(), [NotificationKind::LicenseAssigned]);
    // Woken when the window opens, two hours later.
    let wait = done.requeue_after.expect("a wake-up");
    assert!((7_100..=7_201).contains(&wait.as_secs()), "{wait:?}");
    w.now = Timestamp::from_second(1_800_000_000 + 2 * 3_600).expect("t");
    let p = w.plan(&u, &t);
    assert_eq!(p.due_now().len(), 1, "the licence e-mail is due once the window opens");
    w.execute(p).expect("carried out");
    assert!(w.sent.iter().any(|n| n.kind == NotificationKind::LicenseAssigned));
}

#[test]
fn new_pins_carry_the_policy_and_a_policy_change_rotates_nothing_early() {
    let u = user("alice", "acme");
    let p = W::default().plan(&u, &tenant("acme").pin_history(5));
    let Some(NewPin::Generate(how)) = p.provisioning().pin.clone().map(|s| s.pin) else { panic!("{p:?}") };
    assert_eq!(how.history, 5);
    assert!(!how.rules.allow_common_patterns && !how.rules.number_endings.is_empty());
    assert_eq!(how, Generation { history: 5, ..how.clone() });

    let mut w = converged(&u, &tenant("acme"));
    // Rules and history added later: no new PIN.
    let stricter = tenant("acme").pin_history(10).generation(2);
    assert!(w.run(&u, &stricter).provisioning().pin.is_none());
    // A lifetime added later starts from the PIN's issue time; shortening it below the PIN's
    // age rotates it at once.
    later(&mut w, SignedDuration::from_hours(24 * 40));
    assert!(w.run(&u, &tenant("acme").pin_lifetime("90d").generation(3)).provisioning().pin.is_none());
    let p = w.run(&u, &tenant("acme").pin_lifetime("30d").generation(4));
    assert_eq!(kinds(&p), [NotificationKind::PinReset], "expired by its issue time");
}

#[test]
fn a_pin_whose_issue_time_is_unknown_starts_its_lifetime_now() {
    let t = tenant("acme").pin_lifetime("30s");
    let u = user("alice", "acme");
    let mut w = converged(&u, &tenant("acme"));
    if let Some(r) = w.record.as_mut() {
        r.pin_last_reset_time = None;
    }
    later(&mut w, SignedDuration::from_secs(3_600));
    let p = w.run(&u, &t);
    assert!(p.provisioning().pin.is_none(), "no rotation for a PIN of unknown age");
    assert_eq!(w.record.as_ref().and_then(|r| r.pin_last_reset_time.clone()).map(|t| t.0), Some(w.now));
}

#[test]
fn no_rotation_while_its_email_cannot_go_automatic_emails_off_or_the_last_one_still_owed() {
    let u = user("alice", "acme");
    // Automatic e-mails off: the PIN is never replaced silently; it stays, overdue.
    let off = tenant("acme").pin_lifetime("30s").automatic_emails(false);
    let mut w = converged(&u, &off);
    later(&mut w, SignedDuration::from_secs(3_600));
    let p = w.run(&u, &off);
    assert!(p.provisioning().pin.is_none(), "{:?}", p.provisioning());
    assert!(p.pin_expires_at.is_some_and(|at| at < w.now), "shown as overdue");

    // The mail server down: one rotation, and no second while its e-mail is owed.
    let t = tenant("acme").pin_lifetime("30s");
    let mut w = converged(&u, &t);
    w.mail = world::Mail::Refuse(crate::planning::outbox::Attempt::Transient("451 try later".into()));
    later(&mut w, SignedDuration::from_secs(31));
    assert!(w.run(&u, &t).provisioning().pin.is_some(), "rotated");
    assert_eq!(w.pending_kinds(), [NotificationKind::PinReset]);
    for _ in 0..5 {
        later(&mut w, SignedDuration::from_secs(31));
        assert!(w.run(&u, &t).provisioning().pin.is_none(), "not rotated again while its e-mail is owed");
    }
    w.mail = world::Mail::Accept;
    later(&mut w, SignedDuration::from_secs(600));
    let p = w.run(&u, &t);
    assert!(w.sent.iter().any(|n| n.kind == NotificationKind::PinReset), "the owed e-mail went");
    drop(p);
}

#[test]
fn a_failed_automatic_email_outside_the_window_wakes_the_user_at_the_opening_not_every_100_ms() {
    // 1_800_000_000 is 08:00 UTC; the window opens at 10:00.
    let t = tenant("acme").send_window("10:00", "18:00", "UTC");
    let u = user("alice", "acme").send_info("i1");
    let mut w = W::default();
    w.mail = world::Mail::Refuse(crate::planning::outbox::Attempt::Transient("451 try later".into()));
    // Inside a window first (a day earlier, 10:30), so that the licence e-mail fails once and
    // keeps a retry time; then the window closes with both e-mails still owed.
    w.now = Timestamp::from_second(1_800_000_000 - 86_400 + 9_000).expect("t");
    let p = w.plan(&u, &t);
    w.execute(p).expect("carried out");
    w.now = Timestamp::from_second(1_800_000_000).expect("t");
    let p = w.plan(&u, &t);
    let done = w.execute(p).expect("carried out");
    let wait = done.requeue_after.expect("a wake-up");
    // The on-request e-mail's retry (5 s to 5 min) may come first; never the licence e-mail's
    // past retry time, which would be 100 ms.
    assert!(wait.as_secs() >= 4, "{wait:?}");
}

#[test]
fn a_requested_pin_reset_goes_outside_the_window_and_a_rotation_does_not() {
    let t = tenant("acme").pin_lifetime("1h").send_window("10:00", "18:00", "UTC");
    let u = user("alice", "acme");
    let mut w = converged(&u, &t);
    w.now = Timestamp::from_second(1_800_000_000 + 86_400).expect("t");
    let asked = user("alice", "acme").reset_pin("CHG-1").generation(2);
    let p = w.run(&asked, &t);
    assert_eq!(kinds(&p), [NotificationKind::PinReset]);
    let generation = p.provisioning().pin.as_ref().map(|s| s.generation.clone()).unwrap_or_default();
    assert!(generation.starts_with("reset-pin."), "the request's PIN, not a rotation: {generation}");
    assert!(w.sent.iter().any(|n| n.kind == NotificationKind::PinReset), "sent at 08:00, outside the window");
}
