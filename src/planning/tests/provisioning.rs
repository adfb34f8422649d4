//! What an enabled user holds: its conference ID (allocated, static, reset, lost to another
//! user, claimed again) and its PIN (generated, reset, restored), with the e-mails each owes.

use super::*;

#[test]
fn enabling_allocates_an_id_generates_a_pin_and_owes_the_licence_email() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = W::default();
    let p = w.run(&u, &t);
    assert_eq!(
        p.provisioning(),
        &Provisioning {
            relabel: false,
            id: Some(IdStep::Allocate { length: IdLength::new(7).expect("7"), replaces: None }),
            pin: pin_step("provision.g1", 5),
        }
    );
    assert!(p.cleanup().is_empty());
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
    let st = w.status();
    assert_eq!(st.conference_id.as_deref(), Some("7000001"));
    assert_eq!(st.pin.as_deref(), Some(PIN_MASK));
    assert_eq!(st.pin_secret_ref.as_ref().map(|r| r.name.as_str()), Some("alice-conferencing-pin"));
    assert_eq!(st.pin_last_reset_time, Some(Time(now())));
    assert_eq!(st.service_number.as_deref(), Some("+14255550100"));
    assert_eq!(st.toll_free_service_number.as_deref(), Some("+18005550100"));
    assert_eq!(st.licensed, Some(true));
    assert_eq!(st.conference_id_mode, Some(ConferenceIdMode::Static));
    assert_eq!(st.observed_generation, Some(1));
    assert_eq!(ready(st).status, crate::api::ConditionStatus::True);
    let pending = &st.notifications.pending;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].recipient, "alice@acme.example");
    assert_eq!(pending[0].message_id, "<license-assigned.g1.t1.uid-alice@conferencing-operator.invalid>");
    let event = w.events.iter().find(|e| e.reason == "LicenseAssigned").expect("event");
    assert!(event.message.contains("7000001"), "{}", event.message);
}

#[test]
fn converged_user_plans_nothing() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = enabled_world(&u, &t);
    let p = w.run(&u, &t);
    assert!(p.is_noop(), "{p:?}");
    assert!(p.events().is_empty());
    assert!(p.outcomes().is_empty());
    assert_eq!(w.pins_generated, 1);
}

#[test]
fn static_id_is_claimed() {
    let t = tenant("acme");
    let u = user("alice", "acme").static_id("4242424");
    let mut w = W::default();
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning().id, Some(IdStep::Claim(id("4242424"))));
    assert_eq!(w.status().conference_id.as_deref(), Some("4242424"));
}

#[test]
fn reset_conference_id_allocates_and_releases_the_old_one_after_the_status_write() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let old = id(w.status().conference_id.as_deref().expect("id"));
    u = u.reset_conference_id("r1");
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning().id, Some(IdStep::Allocate { length: IdLength::new(7).expect("7"), replaces: None }));
    assert_eq!(p.cleanup(), &Cleanup { mark_pin_secret: false, delete_pin_secret: false, release: vec![old.clone()] });
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    assert_ne!(w.status().conference_id.as_deref(), Some(old.as_str()));
    assert_eq!(w.claims.len(), 1);
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn changed_static_id_takes_effect_like_a_reset() {
    let t = tenant("acme");
    let mut u = user("alice", "acme").static_id("1111222");
    let mut w = enabled_world(&u, &t);
    u = u.static_id("3333444");
    u = u.generation(2);
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning().id, Some(IdStep::Claim(id("3333444"))));
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    assert_eq!(w.claims, vec![id("3333444")]);
}

#[test]
fn reset_of_a_static_id_is_ignored_with_a_warning() {
    let t = tenant("acme");
    let mut u = user("alice", "acme").static_id("1111222");
    let mut w = enabled_world(&u, &t);
    u = u.reset_conference_id("r1");
    let p = w.run(&u, &t);
    assert!(p.outcomes().is_empty());
    assert!(p.events().iter().any(|e| e.reason == "ConferenceIdResetIgnored"));
    assert_eq!(w.status().handled_requests.reset_conference_id.as_deref(), Some("r1"));
}

#[test]
fn static_id_held_by_another_user_is_a_conflict_and_nothing_else_changes() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let before = w.status().clone();
    u = u.static_id("5555555");
    u = u.reset_pin("t");
    u = u.generation(2);
    let bob = Holder { name: "bob".into(), uid: "uid-bob".into() };
    let p = w.plan_with(&u, &t, Some(&bob));
    assert!(p.provisioning().is_empty() && p.cleanup().is_empty());
    let st = mirror(&p);
    let c = ready(&st);
    assert_eq!(c.reason, "ConferenceIdConflict");
    assert!(c.message.contains("bob") && c.message.contains("5555555"), "{}", c.message);
    assert_eq!(st.conference_id, before.conference_id);
    assert_eq!(st.handled_requests, before.handled_requests);
    assert_eq!(st.pin_generation, before.pin_generation);
    assert_eq!(st.observed_generation, Some(2));
    w.static_holder = Some(bob.clone());
    w.apply(p, usize::MAX);
    // Planning again with the conflict still there writes nothing.
    assert!(w.plan_with(&u, &t, Some(&bob)).is_noop());
}

#[test]
fn new_user_with_a_held_static_id_gets_nothing() {
    let t = tenant("acme");
    let u = user("carol", "acme").static_id("5555555");
    let bob = Holder { name: "bob".into(), uid: "uid-bob".into() };
    let p = W::default().plan_with(&u, &t, Some(&bob));
    assert!(p.provisioning().is_empty() && p.cleanup().is_empty());
    let st = mirror(&p);
    assert!(st.pin.is_none() && st.conference_id.is_none());
}

#[test]
fn pin_length_change_keeps_existing_pins_and_applies_to_resets() {
    let mut t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    t = t.pin_length(8);
    t = t.generation(2);
    assert!(w.run_is_noop(&u, &t), "existing PIN untouched");
    u = u.reset_pin("t1");
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning().pin, pin_step("reset-pin.t1", 8));
}

#[test]
fn dynamic_mode_still_gives_a_personal_id_and_says_so() {
    let t = tenant("acme").id_mode(ConferenceIdMode::Dynamic);
    let u = user("alice", "acme");
    let w = enabled_world(&u, &t);
    assert_eq!(w.status().conference_id_mode, Some(ConferenceIdMode::Dynamic));
    assert!(w.status().conference_id.is_some());
    assert!(ready(w.status()).message.contains("dynamic"));
}

#[test]
fn deleted_pin_secret_is_restored_and_emailed() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    w.secret = None;
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
    assert!(p.events().iter().any(|e| e.reason == "PinSecretMissing"));
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn each_restored_pin_has_its_own_message_id_and_a_crash_after_the_secret_write_is_adopted() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    w.secret = None;
    let first = w.run(&u, &t);
    let first_id = first.memory().notifications.pending.last().expect("pending").message_id.clone();
    assert!(first.provisioning().pin.is_some());

    // Deleted again, a moment later: a new PIN, a new Message-ID.
    w.secret = None;
    let later = Timestamp::from_second(1_800_000_060).expect("valid");
    let tv = validate_tenant(&t, &ClusterPolicy::unrestricted()).expect("tenant");
    let uv = validate_user(&u, &tv).expect("user");
    let recalled = w.recall();
    let observed = Observed {
        memory: &recalled,
        status: w.status.as_ref(),
        pin_secret: None,
        pin_secret_unlabelled: false,
        pin_secret_recorded: true,
        own_claims: &w.claims,
        static_id_holder: None,
        adopt_id_holder: None,
        adoptable_pin: None,
        current_id_holder: None,
        rotation_deferred: None,
        replacements: &[],
    };
    let second = plan(&uv, &tv, &observed, later);
    let Some(PinStep { generation, .. }) = second.provisioning().pin.clone() else { panic!("a new PIN: {second:?}") };
    let second_id = second.memory().notifications.pending.last().expect("pending").message_id.clone();
    assert_ne!(first_id, second_id, "two PINs, two Message-IDs");

    // The Secret was written, then the process died before the status write: the restore is
    // adopted, with exactly one e-mail.
    w.secret = Some(generation.clone());
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty(), "{p:?}");
    assert_eq!(w.status().pin_generation.as_deref(), Some(generation.as_str()));
    let pin_resets: Vec<_> =
        w.status().notifications.pending.iter().filter(|n| n.kind == NotificationKind::PinReset).collect();
    assert_eq!(pin_resets.len(), 1, "the first restore's e-mail is superseded by the PIN that exists now");
    assert_eq!(pin_resets[0].message_id, second_id);
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn a_claim_deleted_by_hand_is_claimed_again_without_an_email() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let held = w.claims[0].clone();
    w.claims.clear();
    let pending_before = w.status().notifications.pending.clone();
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning().id, Some(IdStep::Claim(held.clone())));
    assert!(p.outcomes().is_empty());
    assert_eq!(w.status().notifications.pending, pending_before);
    assert_eq!(w.claims, vec![held]);
}

/// A converged user whose ID carol now holds (its claim is gone); returns the lost ID.
fn id_lost_to_carol(u: &ConferencingUser, t: &ConferencingTenant) -> (W, ConferenceId) {
    let mut w = enabled_world(u, t);
    let lost = w.claims[0].clone();
    w.claims.clear();
    w.current_holder = Some(Holder { name: "carol".into(), uid: "uid-carol".into() });
    (w, lost)
}

#[test]
fn an_id_lost_to_another_user_is_replaced_and_the_user_told() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let (mut w, lost) = id_lost_to_carol(&u, &t);
    let p = w.run(&u, &t);
    w.current_holder = None;
    assert_eq!(
        p.provisioning().id,
        Some(IdStep::Allocate { length: IdLength::new(7).expect("7"), replaces: Some(lost.clone()) })
    );
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    assert!(p.events().iter().any(|e| e.reason == "ConferenceIdLost" && e.message.contains("carol")));
    assert_ne!(w.status().conference_id.as_deref(), Some(lost.as_str()));
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn a_reassignment_interrupted_before_its_status_write_is_finished_and_the_user_told_once() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let (mut w, lost) = id_lost_to_carol(&u, &t);
    // The new claim is created; the operator dies before the record write.
    let first = w.plan(&u, &t);
    let first = w.apply(first, 1);
    assert!(first.outcomes().iter().any(|o| o.kind == NotificationKind::ConferenceIdReset));
    assert_eq!(w.status().conference_id.as_deref(), Some(lost.as_str()), "status not written yet");
    assert_eq!(w.record.as_ref().and_then(|r| r.conference_id.as_deref()), Some(lost.as_str()), "nor the record");
    // After the restart: the claim says it replaces the lost ID, so the same e-mail is planned.
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty(), "{p:?}");
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    let ids = |p: &Plan| p.memory().notifications.pending.iter().map(|n| n.message_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&p), ids(&first), "one Message-ID for both attempts");
    assert_ne!(w.status().conference_id.as_deref(), Some(lost.as_str()));
    w.current_holder = None;
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn the_claim_is_the_record_when_the_status_names_another_id() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let real = w.claims[0].clone();
    let mut st = w.status().clone();
    st.conference_id = Some("9999999".into());
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty() && p.outcomes().is_empty(), "{p:?}");
    assert_eq!(w.status().conference_id.as_deref(), Some(real.as_str()));
}

#[test]
fn a_user_that_yields_a_contested_static_id_lets_go_of_it() {
    let t = tenant("acme");
    let u = user("carol", "acme").static_id("5555555");
    let w = enabled_world(&u, &t);
    assert_eq!(w.claims, vec![id("5555555")]);
    // alice held 5555555 first (her claim was deleted by hand before carol took it).
    let alice = Holder { name: "alice".into(), uid: "uid-alice".into() };
    let p = w.plan_with(&u, &t, Some(&alice));
    assert_eq!(
        p.cleanup(),
        &Cleanup { mark_pin_secret: false, delete_pin_secret: false, release: vec![id("5555555")] }
    );
    let st = mirror(&p);
    assert_eq!(st.conference_id, None, "carol no longer shows the ID");
    assert_eq!(ready(&st).reason, "ConferenceIdConflict");
    let stalled = crate::api::condition::find(&st.conditions, ConditionType::Stalled).expect("stalled");
    assert_eq!(stalled.reason, "ConferenceIdConflict");
}

#[test]
fn a_secret_of_another_owner_is_not_adopted() {
    // A user re-created with the same name: the old user's Secret (same name, same
    // provision.g1 annotation) is not this user's, so observation reports none, and a new
    // PIN is generated.
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let w = W::default();
    let p = w.plan(&u, &t);
    assert_eq!(p.provisioning().pin, pin_step("provision.g1", 5));
}
