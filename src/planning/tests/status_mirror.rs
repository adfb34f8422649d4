//! The status as the record's mirror: written only when it changes, never with a PIN, and
//! kept for a blocked user.

use super::*;

#[test]
fn status_writes_only_when_content_changes() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let w = enabled_world(&u, &t);
    let p = w.plan(&u, &t);
    assert_eq!(&mirror(&p), w.status());
}

#[test]
fn blocked_status_keeps_what_the_user_holds() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let w = enabled_world(&u, &t);
    let recalled = w.recall();
    let observed = Observed {
        memory: &recalled,
        status: w.status.as_ref(),
        pin_secret: None,
        pin_secret_unlabelled: false,
        pin_secret_recorded: true,
        own_claims: &[],
        static_id_holder: None,
        adopt_id_holder: None,
        adoptable_pin: None,
        current_id_holder: None,
        rotation_deferred: None,
        replacements: &[],
    };
    let p = blocked(&observed, "alice", Some(4), Reason::TenantNotFound, "tenant acme not found", now());
    assert_eq!(p.memory(), w.record.as_ref().expect("record"), "the memory is kept");
    let st = mirror(&p);
    assert_eq!(st.conference_id, w.status().conference_id);
    assert_eq!(st.pin_secret_ref, w.status().pin_secret_ref);
    assert_eq!(ready(&st).reason, "TenantNotFound");
    assert_eq!(st.observed_generation, Some(4));
}

#[test]
fn no_event_or_status_field_can_carry_a_pin() {
    // Plans never see PINs (only generation keys), so this checks the masked shape.
    let t = tenant("acme");
    let u = user("alice", "acme");
    let w = enabled_world(&u, &t);
    let json = serde_json::to_string(w.status()).expect("json");
    assert!(json.contains("\"pin\":\"*****\""));
}

#[test]
fn a_blocked_user_writes_no_record() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = enabled_world(&u, &t);
    w.record = None;
    w.secret_recorded = false;
    let recalled = w.recall();
    assert!(!recalled.stored);
    let observed = Observed {
        memory: &recalled,
        status: w.status.as_ref(),
        pin_secret: w.secret.as_ref().map(|g| Some(g.as_str())),
        pin_secret_unlabelled: false,
        pin_secret_recorded: false,
        own_claims: &[],
        static_id_holder: None,
        adopt_id_holder: None,
        adoptable_pin: None,
        current_id_holder: None,
        rotation_deferred: None,
        replacements: &[],
    };
    let p = blocked(&observed, "alice", Some(2), Reason::InvalidSpec, "metadata.name: too long", now());
    let writes = w.record_writes;
    let p = w.apply(p, usize::MAX);
    assert_eq!(w.record_writes, writes, "the block is reported without touching what is remembered");
    assert_eq!(ready(w.status()).reason, "InvalidSpec");
    assert!(p.cleanup().is_empty(), "nor is the PIN Secret marked");
}
