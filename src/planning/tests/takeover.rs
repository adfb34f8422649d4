//! A user taken over from another system (`spec.adopt`): the ID and PIN it brings kept, the
//! e-mail the tenant chose instead of the licence e-mail, read once; and the e-mail changes
//! that came with it (the previous details, a request's one-off recipient).

use super::*;
use crate::api::{ConditionStatus, DialInDetails, PinSourceRef, TakeoverEmail};
use crate::planning::{AdoptablePin, PinSource, TakeoverPin};

fn taking_over(email: TakeoverEmail) -> ConferencingTenant {
    tenant("acme").takeover_email(email)
}

fn source() -> PinSource {
    PinSource::Secret(PinSourceRef { name: "legacy".into(), key: "pin".into() })
}

fn brought(u: ConferencingUser) -> ConferencingUser {
    u.adopt_id("4417302").adopt_pin_from("legacy", "pin")
}

fn events(p: &Plan, reason: &str) -> Vec<String> {
    p.events().iter().filter(|e| e.reason == reason).map(|e| e.message.clone()).collect()
}

#[test]
fn the_id_and_pin_brought_are_kept_and_nobody_is_mailed_by_default() {
    let u = brought(user("alice", "acme"));
    let t = taking_over(TakeoverEmail::None);
    let mut w = W::default();
    w.adoptable = Some(AdoptablePin::Valid(source()));
    let p = w.plan(&u, &t);
    assert_eq!(p.provisioning().id, Some(IdStep::Claim(id("4417302"))), "claimed, not allocated");
    let step = p.provisioning().pin.clone().expect("a PIN step");
    assert_eq!(step.pin, NewPin::Adopt(source()));
    assert_eq!(step.generation, TakeoverPin::Kept.generation(1));
    assert!(kinds(&p).is_empty(), "no licence e-mail, no welcome");
    assert!(p.memory().taken_over);
    let taken = events(&p, "TakenOver");
    assert_eq!(taken.len(), 1);
    assert!(taken[0].contains("conference ID 4417302 kept") && taken[0].contains("nobody is e-mailed"), "{taken:?}");
    w.converge(&u, &t);
    assert_eq!((w.pins_adopted, w.pins_generated), (1, 0));
    assert!(w.sent.is_empty() && w.status().notifications.pending.is_empty());
    assert_eq!(w.status().conference_id.as_deref(), Some("4417302"));
}

#[test]
fn a_welcome_carries_the_pin_only_when_a_new_one_was_made() {
    let t = taking_over(TakeoverEmail::Welcome);
    let mut kept = W::default();
    kept.adoptable = Some(AdoptablePin::Valid(source()));
    assert_eq!(kinds(&kept.plan(&brought(user("alice", "acme")), &t)), [NotificationKind::TakeoverWelcome]);
    let none = W::default();
    let p = none.plan(&user("bob", "acme").adopt_id("5528413"), &t);
    assert_eq!(kinds(&p), [NotificationKind::TakeoverWelcomeNewPin]);
    assert_eq!(p.provisioning().pin.clone().map(|s| s.pin), pin_step("", 5).map(|s| s.pin));
    assert!(NotificationKind::TakeoverWelcomeNewPin.carries_pin() && !NotificationKind::TakeoverWelcome.carries_pin());
}

#[test]
fn a_brought_value_that_is_not_a_pin_is_replaced_and_mailed_whatever_the_tenant_says() {
    let mut w = W::default();
    w.adoptable = Some(AdoptablePin::Invalid { source: source(), rule: "it is not 4 to 12 digits".into() });
    let p = w.plan(&brought(user("alice", "acme")), &taking_over(TakeoverEmail::None));
    assert_eq!(kinds(&p), [NotificationKind::TakeoverWelcomeNewPin]);
    assert_eq!(p.provisioning().pin.clone().map(|s| s.generation), Some(TakeoverPin::Replaced.generation(1)));
    let warning = events(&p, "AdoptedPinReplaced");
    assert_eq!(warning.len(), 1);
    assert!(warning[0].contains("Secret legacy (key pin)") && warning[0].contains("not 4 to 12 digits"), "{warning:?}");
}

#[test]
fn a_pin_not_there_yet_is_waited_for_with_nothing_provisioned() {
    let mut w = W::default();
    w.adoptable = Some(AdoptablePin::Waiting("Secret ns1/legacy (spec.adopt.pinSecretRef) does not exist yet".into()));
    let u = brought(user("alice", "acme"));
    let p = w.run(&u, &taking_over(TakeoverEmail::Welcome));
    assert!(p.provisioning().is_empty() && kinds(&p).is_empty());
    let ready = ready(w.status());
    assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::False, "AdoptedPinMissing"));
    assert!(ready.message.contains("does not exist yet"), "{}", ready.message);
    assert!(!w.record.as_ref().is_some_and(|r| r.taken_over), "not taken over yet");
    // The Secret arrives: taken over then.
    w.adoptable = Some(AdoptablePin::Valid(source()));
    w.converge(&u, &taking_over(TakeoverEmail::Welcome));
    assert_eq!(w.pending_kinds(), [NotificationKind::TakeoverWelcome]);
}

#[test]
fn a_takeover_interrupted_before_its_record_write_is_finished_the_same_way() {
    let u = brought(user("alice", "acme"));
    let t = taking_over(TakeoverEmail::Welcome);
    let mut w = W::default();
    w.adoptable = Some(AdoptablePin::Valid(source()));
    let p = w.plan(&u, &t);
    w.apply(p, 2); // the claim and the PIN, then a crash
    assert_eq!(w.secret.as_deref(), Some(TakeoverPin::Kept.generation(1).as_str()));
    assert!(w.record.is_none());
    // The labelled source is gone (it was the user's PIN Secret, now the user's own).
    w.adoptable = None;
    let again = w.plan(&u, &t);
    assert!(again.provisioning().pin.is_none(), "the PIN is not written twice: {again:?}");
    assert_eq!(kinds(&again), [NotificationKind::TakeoverWelcome], "the same e-mail, not one with a new PIN");
    w.converge(&u, &t);
    assert_eq!((w.pins_adopted, w.pins_generated), (1, 0));
}

#[test]
fn adopt_is_read_once_and_a_later_licence_is_an_ordinary_one() {
    let t = taking_over(TakeoverEmail::None);
    let mut u = user("alice", "acme").adopt_id("4417302");
    let mut w = W::default();
    w.converge(&u, &t);
    assert!(w.record.as_ref().is_some_and(|r| r.taken_over));
    // A later change of spec.adopt changes nothing.
    u = u.adopt_id("9999999").generation(2);
    let p = w.run(&u, &t);
    assert_eq!(p.provisioning(), &Provisioning::default(), "nothing claimed or generated");
    assert!(kinds(&p).is_empty() && events(&p, "TakenOver").is_empty());
    assert_eq!(w.status().conference_id.as_deref(), Some("4417302"));
    // Licence removed, then assigned again: the licence e-mail, a new ID.
    u = u.licensed(false).generation(3);
    w.converge(&u, &t);
    u = u.licensed(true).generation(4);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), [NotificationKind::LicenseAssigned]);
    assert!(matches!(p.provisioning().id, Some(IdStep::Allocate { .. })), "{:?}", p.provisioning());
}

#[test]
fn an_adopted_id_held_by_another_user_is_a_conflict_naming_the_field() {
    let mut w = W::default();
    w.adopt_holder = Some(Holder { name: "carol".into(), uid: "uid-carol".into() });
    let p = w.plan(&user("alice", "acme").adopt_id("4417302"), &taking_over(TakeoverEmail::None));
    assert!(p.provisioning().is_empty());
    let ready = mirror(&p);
    let ready = super::ready(&ready);
    assert_eq!(ready.reason, "ConferenceIdConflict");
    assert!(
        ready.message.contains("spec.adopt.conferenceId 4417302 is already held by user carol"),
        "{}",
        ready.message
    );
}

#[test]
fn an_adopted_id_is_reset_on_request_like_any_other() {
    let t = taking_over(TakeoverEmail::None);
    let mut u = user("alice", "acme").adopt_id("4417302");
    let mut w = W::default();
    w.converge(&u, &t);
    u = u.reset_conference_id("t1").generation(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), [NotificationKind::ConferenceIdReset]);
    assert!(matches!(p.provisioning().id, Some(IdStep::Allocate { .. })));
    assert!(events(&p, "ConferenceIdResetIgnored").is_empty());
}

#[test]
fn the_licence_removed_email_owes_what_the_user_had() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = W::default();
    w.mail = world::Mail::Accept;
    w.converge(&u, &t);
    let had = DialInDetails {
        conference_id: w.status().conference_id.clone(),
        service_number: w.status().service_number.clone(),
        toll_free_service_number: w.status().toll_free_service_number.clone(),
    };
    assert!(had.conference_id.is_some() && had.service_number.is_some());
    w.mail = world::Mail::Hold;
    u = u.licensed(false).generation(2);
    w.run(&u, &t);
    let owed = &w.status().notifications.pending;
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].kind, NotificationKind::LicenseRemoved);
    assert_eq!(owed[0].previous.as_ref(), Some(&had), "the e-mail shows what the user had");
    assert!(w.status().conference_id.is_none(), "and the user holds nothing now");
}

#[test]
fn a_one_off_recipient_gets_that_request_only_and_is_recorded_with_it() {
    let t = tenant("acme").recipient_domains(&["acme.example", "home.example"]);
    let mut u = user("alice", "acme");
    let mut w = W::default();
    w.converge(&u, &t);
    u = u.send_info("i1").requests_to(Some("alice@home.example")).generation(2);
    w.run(&u, &t);
    let owed: Vec<_> = w
        .status()
        .notifications
        .pending
        .iter()
        .filter(|n| n.kind == NotificationKind::ConferencingInfoRequested)
        .cloned()
        .collect();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].recipient, "alice@home.example");
    assert!(owed[0].one_off);
    assert_eq!(w.status().handled_requests.send_conferencing_info_to.as_deref(), Some("alice@home.example"));
    // A later change of the user's own address does not move it; the next request without
    // the one-off address goes to the user.
    u = u.send_to("alice.smith@acme.example").requests_to(None).generation(3);
    w.run(&u, &t);
    let info = w.status().notifications.pending.iter().find(|n| n.kind == NotificationKind::ConferencingInfoRequested);
    assert_eq!(info.map(|n| n.recipient.as_str()), Some("alice@home.example"), "still the request's address");
    u = u.send_info("i2").generation(4);
    w.run(&u, &t);
    let last =
        w.status().notifications.pending.iter().rev().find(|n| n.kind == NotificationKind::ConferencingInfoRequested);
    assert_eq!(last.map(|n| n.recipient.as_str()), Some("alice.smith@acme.example"));
    assert_eq!(w.status().handled_requests.send_conferencing_info_to, None);
}

#[test]
fn a_one_off_recipient_outside_the_tenants_domains_is_refused() {
    let t = validate_tenant(&tenant("acme").recipient_domains(&["acme.example"]), &ClusterPolicy::unrestricted())
        .expect("tenant");
    let u = user("alice", "acme").send_info("i1").requests_to(Some("alice@evil.example"));
    let err = validate_user(&u, &t).expect_err("refused");
    assert_eq!(err.field, "spec.requests.sendEmailToAddress");
}
