//! A crash between any two effects of a plan: the next plan adopts what was done and owes
//! nothing twice.

use super::*;

#[test]
fn crash_after_pin_written_before_status_adopts_the_pin() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.reset_pin("t1");
    let p = w.plan(&u, &t);
    w.apply(p, 1); // the PIN Secret is written, then the process dies before the record write
    assert_eq!(w.status().handled_requests.reset_pin, None, "the request still looks new");
    let p = w.run(&u, &t);
    assert!(p.provisioning().pin.is_none(), "{p:?}");
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
    assert_eq!(w.pins_generated, 2, "one PIN for provisioning, one for the reset");
    assert_eq!(w.pending_kinds().iter().filter(|k| **k == NotificationKind::PinReset).count(), 1);
}

#[test]
fn crash_before_anything_loses_nothing() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.reset_pin("t1");
    let p = w.plan(&u, &t);
    w.apply(p, 0);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
}

#[test]
fn crash_during_provisioning_adopts_the_claimed_id_and_pin() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = W::default();
    let p = w.plan(&u, &t);
    w.apply(p, 2); // ID claimed and PIN written; record and status never written
    assert!(w.status.is_none() && w.record.is_none());
    let claimed = w.claims.clone();
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty(), "the claimed ID and the PIN are adopted: {p:?}");
    assert_eq!(w.status().conference_id.as_deref(), Some(claimed[0].as_str()));
    assert_eq!(w.claims, claimed, "no second ID is taken");
    assert_eq!(w.pins_generated, 1);
    assert_eq!(w.pending_kinds(), vec![NotificationKind::LicenseAssigned]);
}

#[test]
fn crash_after_new_id_claimed_adopts_it() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.reset_conference_id("r1");
    let p = w.plan(&u, &t);
    w.apply(p, 1);
    let new = w.claims[1].clone();
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty(), "the new claim is adopted: {p:?}");
    assert_eq!(w.status().conference_id.as_deref(), Some(new.as_str()));
    assert_eq!(w.claims, vec![new]);
}

#[test]
fn crash_after_deprovision_status_cleans_up_without_a_second_email() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.licensed(false);
    let p = w.plan(&u, &t);
    w.apply(p, 1); // record written, Secret and claim left behind
    let p = w.run(&u, &t);
    assert!(p.outcomes().is_empty());
    assert!(p.cleanup().delete_pin_secret);
    assert!(w.secret.is_none() && w.claims.is_empty());
}
