//! Licences and providers given and taken away, number changes, and the tenant's
//! notification policy.

use super::*;

#[test]
fn licence_removed_deprovisions_after_the_status_write() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let old = w.claims.clone();
    u = u.licensed(false);
    u = u.generation(2);
    let p = w.run(&u, &t);
    assert!(p.provisioning().is_empty());
    assert_eq!(p.cleanup(), &Cleanup { mark_pin_secret: false, delete_pin_secret: true, release: old });
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseRemoved]);
    let st = w.status();
    assert!(st.pin.is_none() && st.pin_secret_ref.is_none() && st.conference_id.is_none());
    assert!(st.service_number.is_none());
    assert_eq!(st.licensed, Some(false));
    assert!(w.secret.is_none() && w.claims.is_empty());
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn reenabling_gives_a_new_pin_and_a_new_id() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let first_id = w.status().conference_id.clone();
    u = u.licensed(false);
    u = u.generation(2);
    w.converge(&u, &t);
    u = u.licensed(true);
    u = u.generation(3);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
    assert_eq!(w.status().pin_generation.as_deref(), Some("provision.g3"));
    assert_ne!(w.status().conference_id, first_id);
    assert_eq!(w.pins_generated, 2);
}

#[test]
fn provider_away_and_back() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.provider(ProviderSpec { type_: ProviderType::ThirdParty, name: Some("Contoso Audio".into()) });
    u = u.generation(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ProviderChangedAway]);
    let away = w.status().notifications.pending.last().expect("pending").clone();
    assert_eq!(away.provider_name.as_deref(), Some("Contoso Audio"));
    assert!(w.secret.is_none() && w.claims.is_empty());
    assert_eq!(w.status().provider.as_ref().map(|p| p.type_), Some(ProviderType::ThirdParty));

    u = u.provider(ProviderSpec::default());
    u = u.generation(3);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ProviderChangedToNative]);
    assert!(w.status().pin.is_some() && w.status().conference_id.is_some());
}

#[test]
fn provider_none_is_a_change_away_without_a_name() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.provider(ProviderSpec { type_: ProviderType::None, name: None });
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ProviderChangedAway]);
    assert_eq!(w.status().notifications.pending.last().and_then(|n| n.provider_name.clone()), None);
}

#[test]
fn tenant_default_number_change_follows_with_one_email() {
    let mut t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    t = t.default_toll(1).generation(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ServiceNumberChanged]);
    assert_eq!(w.status().service_number.as_deref(), Some("+442075550100"));
    assert!(p.outcomes()[0].by_tenant, "the tenant moved, not the user");
    assert!(!w.events.iter().any(|e| e.reason == "ServiceNumberChanged"), "the tenant's Event covers it");
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn users_own_number_change_follows() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.service_number("+442075550100");
    u = u.generation(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ServiceNumberChanged]);
    assert!(!p.outcomes()[0].by_tenant);
    assert!(w.events.iter().any(|e| e.reason == "ServiceNumberChanged"));
}

#[test]
fn automatic_emails_off_records_nothing_to_send_but_says_where_the_pin_is() {
    let t = tenant("acme").automatic_emails(false);
    let mut u = user("alice", "acme");
    let mut w = W::default();
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
    assert!(w.status().notifications.pending.is_empty());
    assert!(p.events().iter().any(|e| e.reason == "NotificationSuppressed"));
    assert!(ready(w.status()).message.contains("Secret ns1/alice-conferencing-pin"), "{}", ready(w.status()).message);

    u = u.reset_pin("t1");
    w.run(&u, &t);
    assert!(w.status().notifications.pending.is_empty());

    // The on-request e-mail is sent whatever the policy says.
    u = u.send_info("i1");
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ConferencingInfoRequested]);
    assert_eq!(w.pending_kinds(), vec![NotificationKind::ConferencingInfoRequested]);
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn recipient_override_and_locale_do_not_change_the_plan_shape() {
    let t = tenant("acme");
    let u = user("alice", "acme").send_to("alice@home.example").locale(Locale::Fr);
    let w = enabled_world(&u, &t);
    assert_eq!(w.status().notifications.pending[0].recipient, "alice@home.example");
}
