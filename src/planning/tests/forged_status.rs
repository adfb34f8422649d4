//! A status anyone with the status subresource wrote: it decides nothing the operator
//! sends, keeps or forgets (the memory is the record).

use super::*;

#[test]
fn a_status_forged_to_look_provisioned_sends_no_licence_removed_and_is_cleared() {
    let t = tenant("acme");
    let mut u = user("alice", "acme").licensed(false);
    let mut w = W::default();
    w.run(&u, &t);
    // Someone with access to the status makes the unlicensed user look provisioned.
    let mut st = w.status().clone();
    st.pin = Some("*****".into());
    st.pin_secret_ref = Some(SecretKeyRef { name: "alice-pin".into(), key: "pin".into() });
    st.conference_id = Some("1234567".into());
    st.service_number = Some("+1 555 0100".into());
    w.status = Some(st);
    u = u.generation(2);
    let p = w.run(&u, &t);
    assert!(p.outcomes().is_empty(), "{:?}", p.outcomes());
    let st = w.status();
    assert!(
        st.pin.is_none() && st.pin_secret_ref.is_none() && st.conference_id.is_none() && st.service_number.is_none()
    );
}

#[test]
fn a_forged_pending_email_is_dropped_with_a_warning_and_never_sent() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.send_info("i1");
    w.converge(&u, &t);
    let legit = w.status().notifications.pending.clone();
    // Someone with rights on the status subresource adds a PIN e-mail to their own address.
    let mut st = w.status().clone();
    st.notifications.pending.push(PendingNotification::owed(
        NotificationKind::PinReset,
        "<pin-reset.rdeadbeef.uid-alice@conferencing-operator.invalid>",
        "attacker@evil.example",
    ));
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert_eq!(w.status().notifications.pending, legit, "only the operator's own entries remain");
    assert_eq!(p.events().iter().filter(|e| e.reason == "NotificationDropped").count(), 1);
    assert!(w.status().notifications.pending.iter().all(|n| n.recipient == "alice@acme.example"));
}

#[test]
fn a_status_naming_another_users_id_sends_nothing_and_takes_nothing() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let real = w.claims[0].clone();
    // Someone with access to the status names carol's ID in alice's status. The operator
    // observes who holds the ID it remembers (alice's own), so carol is no one to it here.
    let mut st = w.status().clone();
    st.conference_id = Some("5555555".into());
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty() && p.outcomes().is_empty() && p.cleanup().is_empty(), "{p:?}");
    assert!(!p.events().iter().any(|e| e.reason == "ConferenceIdLost"), "{:?}", p.events());
    assert_eq!(w.status().conference_id.as_deref(), Some(real.as_str()));
}

#[test]
fn a_thousand_forged_pending_emails_cost_one_warning_and_send_nothing() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let legit = w.status().notifications.pending.clone();
    let mut st = w.status().clone();
    for i in 0..1000 {
        st.notifications.pending.push(PendingNotification::owed(
            NotificationKind::PinReset,
            format!("<pin-reset.r{i:04x}.uid-alice@conferencing-operator.invalid>"),
            "attacker@evil.example",
        ));
    }
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert_eq!(w.status().notifications.pending, legit);
    let dropped: Vec<_> = p.events().iter().filter(|e| e.reason == "NotificationDropped").collect();
    assert_eq!(dropped.len(), 1, "one Warning per write, not one per entry");
    assert!(dropped[0].message.contains("and 999 more"), "{}", dropped[0].message);
    assert!(p.events().len() <= 3, "{:?}", p.events());
}

#[test]
fn a_token_history_forged_into_the_status_is_not_kept_and_cancels_no_request() {
    // Issue 17, attack 1: a status writer adds the token an administrator is about to commit,
    // and 200 ticket numbers, to handledRequests.previous.
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let mut st = w.status().clone();
    st.handled_requests.previous.push(HandledToken { request: RequestKind::ResetPin, token: "2026-12-01".into() });
    for i in 0..200 {
        st.handled_requests
            .previous
            .push(HandledToken { request: RequestKind::ResetPin, token: format!("ticket-{i}") });
    }
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert!(p.outcomes().is_empty(), "{p:?}");
    assert!(w.status().handled_requests.previous.is_empty(), "the forged history is not mirrored back");
    assert!(w.record.as_ref().expect("record").handled_requests.previous.is_empty(), "nor remembered");
    // The administrator's request is carried out.
    u = u.reset_pin("2026-12-01");
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
    assert!(!p.events().iter().any(|e| e.reason == "RequestTokenReused"), "{:?}", p.events());
    assert_eq!(w.pins_generated, 2);
}

/// Alice, enabled, every e-mail delivered (the world's mail server accepts them).
fn delivered_world(u: &ConferencingUser, t: &ConferencingTenant) -> W {
    let mut w = W::default();
    w.mail = world::Mail::Accept;
    w.converge(u, t);
    assert!(w.status().notifications.pending.is_empty());
    w
}

#[test]
fn a_delivered_message_id_put_back_into_the_status_is_not_sent_again_under_any_spelling() {
    // Issue 17, attack 1: the delivered Message-ID, and 20 other spellings of it, written into
    // status.pending by a status writer.
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = delivered_world(&u, &t);
    assert_eq!(w.sent.len(), 1, "the licence e-mail");
    let delivered = w.status().notifications.delivered[0].message_id.clone();
    let mut st = w.status().clone();
    let mut forged: Vec<String> = vec![delivered.clone()];
    for i in 1..=20 {
        let spelling = format!("g{}1.t{}1", "0".repeat(i % 5), "+".repeat(i / 5 % 2));
        forged.push(delivered.replace("g1.t1", &spelling));
    }
    for id in &forged {
        st.notifications.pending.push(PendingNotification::owed(
            NotificationKind::LicenseAssigned,
            id.clone(),
            "alice@acme.example",
        ));
    }
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert!(p.memory().notifications.pending.is_empty(), "nothing is owed");
    assert_eq!(w.sent.len(), 1, "the licence e-mail was sent once, and only then");
    assert!(w.status().notifications.pending.is_empty(), "the status is rewritten from the record");
    assert_eq!(p.events().iter().filter(|e| e.reason == "NotificationDropped").count(), 1);
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn a_status_the_operator_cannot_read_sends_nothing_and_forgets_no_request() {
    // Issue 17, attack 1: a status with fields the operator cannot decode is read as empty.
    let t = tenant("acme");
    let u = user("alice", "acme").send_info("i1");
    let mut w = delivered_world(&u, &t);
    let sent = w.sent.len();
    assert_eq!(sent, 2, "the licence and the information e-mail");
    let unreadable: Vec<String> = (0..64).map(|i| format!("status.surprise{i}")).collect();
    w.status = Some(ConferencingUserStatus { unreadable, ..ConferencingUserStatus::default() });
    let p = w.run(&u, &t);
    assert!(p.outcomes().is_empty(), "no licence e-mail, no information e-mail again: {p:?}");
    assert!(p.provisioning().is_empty(), "no new PIN");
    assert_eq!(w.sent.len(), sent);
    assert_eq!(
        w.status().handled_requests.send_conferencing_info.as_deref(),
        Some("i1"),
        "the request is still handled"
    );
    assert!(p.events().iter().any(|e| e.reason == "StatusUnreadable"));
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn a_status_forged_before_the_first_record_write_decides_nothing() {
    // The PIN Secret (marked as this version's) is written, then the operator dies before the
    // record's first write; meanwhile a status writer makes alice look provisioned, with her
    // request tokens handled.
    let t = tenant("acme");
    let u = user("alice", "acme").send_info("i1");
    let mut w = W::default();
    let p = w.plan(&u, &t);
    w.apply(p, 2);
    assert!(w.secret.is_some() && w.record.is_none());
    let mut forged = ConferencingUserStatus {
        pin_secret_ref: Some(SecretKeyRef { name: "alice-conferencing-pin".into(), key: "pin".into() }),
        pin_generation: Some("provision.g1".into()),
        conference_id: Some("7000001".into()),
        licensed: Some(true),
        ..ConferencingUserStatus::default()
    };
    forged.handled_requests.send_conferencing_info = Some("i1".into());
    w.status = Some(forged);
    let p = w.run(&u, &t);
    assert_eq!(
        kinds(&p),
        vec![NotificationKind::LicenseAssigned, NotificationKind::ConferencingInfoRequested],
        "alice still gets her PIN, and the information she asked for"
    );
    assert_eq!(w.pins_generated, 1, "the PIN written before the crash is adopted");
}

#[test]
fn a_pin_secret_an_older_version_wrote_is_marked_once_its_memory_is_recorded() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = enabled_world(&u, &t);
    // As an older version left it: its memory in the status, no record, an unmarked Secret.
    w.record = None;
    w.secret_recorded = false;
    let p = w.plan(&u, &t);
    assert!(p.outcomes().is_empty() && p.provisioning().is_empty(), "the status is read once: {p:?}");
    assert!(p.cleanup().mark_pin_secret);
    w.apply(p, usize::MAX);
    assert!(w.record.is_some() && w.secret_recorded);
    assert_eq!(w.pins_generated, 1);
    assert!(w.run_is_noop(&u, &t));
    // From then on a lost record is not rebuilt from the status (which anyone with status
    // rights could have written): alice is planned as a user met for the first time.
    w.record = None;
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
}
