use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::{
    ConditionType, ConferencingUserStatus, NotificationKind, PendingNotification, ProviderType, Reason, RequestKind,
};
use crate::api::{
    ConferenceIdMode, ConferencingTenant, ConferencingUser, HandledToken, Locale, PIN_MASK, ProviderSpec, SecretKeyRef,
};
use crate::domain::{ConferenceId, IdLength, PinLength};
use crate::fixtures::{TenantBuilder, UserBuilder, tenant, user};
use crate::provisioning::claim::Holder;
use crate::validation::{ClusterPolicy, validate_tenant, validate_user};
use crate::validation::{ValidatedTenant, ValidatedUser};

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("valid")
}

fn id(s: &str) -> ConferenceId {
    ConferenceId::parse(s).expect("valid id")
}

/// The world the planner's plans are carried out in, by the one interpreter, with the mail
/// server answering nothing (so that what is owed stays visible), and plans made at `now()`.
/// A test stops it between any two effects with [`W::apply`].
struct W(world::World);

impl std::ops::Deref for W {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.0
    }
}

impl std::ops::DerefMut for W {
    fn deref_mut(&mut self) -> &mut world::World {
        &mut self.0
    }
}

fn validated(u: &ConferencingUser, t: &ConferencingTenant) -> (ValidatedUser, ValidatedTenant) {
    let t = validate_tenant(t, &ClusterPolicy::unrestricted()).expect("valid tenant");
    let u = validate_user(u, &t).expect("valid user");
    (u, t)
}

impl W {
    fn default() -> W {
        let mut w = world::World::new(now());
        w.mail = world::Mail::Hold;
        w.ids.base = Some(7_000_001);
        W(w)
    }

    fn plan(&self, u: &ConferencingUser, t: &ConferencingTenant) -> Plan {
        let (u, t) = validated(u, t);
        self.0.plan(&u, &t)
    }

    fn plan_with(&self, u: &ConferencingUser, t: &ConferencingTenant, holder: Option<&Holder>) -> Plan {
        let mut w = self.0.clone();
        w.static_holder = holder.cloned();
        let (u, t) = validated(u, t);
        w.plan(&u, &t)
    }

    /// Carries out the plan's first `steps` effects (the provisioning ones, the record write,
    /// the status write, the clean-up ones, in that order; all of them with `usize::MAX`),
    /// then stops; returns the plan as it was carried out (its allocated ID filled in).
    fn apply(&mut self, plan: Plan, steps: usize) -> Plan {
        self.0.budget = (steps != usize::MAX).then_some(steps);
        let done = self.0.execute(plan.clone());
        self.0.budget = None;
        match done {
            Ok(done) => Plan { memory: done.memory, ..plan },
            Err(world::Crashed) => plan,
        }
    }

    fn run(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> Plan {
        let p = self.plan(u, t);
        self.apply(p, usize::MAX)
    }

    /// Runs once and says whether the plan was a no-op.
    fn run_is_noop(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> bool {
        self.run(u, t).is_noop()
    }

    fn status(&self) -> &ConferencingUserStatus {
        self.0.status.as_ref().expect("status written")
    }

    fn pending_kinds(&self) -> Vec<NotificationKind> {
        self.status().notifications.pending.iter().map(|n| n.kind).collect()
    }

    /// Runs until the plan is a no-op and returns how many passes it took.
    fn converge(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> usize {
        let (vu, vt) = validated(u, t);
        self.0.converge(&vu, &vt, 10).unwrap_or_else(|| panic!("did not converge: {:?}", self.plan(u, t)))
    }
}

/// The status a plan mirrors its memory into.
fn mirror(p: &Plan) -> ConferencingUserStatus {
    interpreter::mirror_of(p, p.memory())
}

fn pin_step(generation: &str, length: u8) -> Option<PinStep> {
    Some(PinStep { generation: generation.into(), length: PinLength::new(length).expect("length") })
}

fn kinds(p: &Plan) -> Vec<NotificationKind> {
    p.outcomes().iter().map(|o| o.kind).collect()
}

fn enabled_world(u: &ConferencingUser, t: &ConferencingTenant) -> W {
    let mut w = W::default();
    w.converge(u, t);
    w
}

fn ready(st: &ConferencingUserStatus) -> &crate::api::Condition {
    crate::api::condition::find(&st.conditions, ConditionType::Ready).expect("Ready condition")
}

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
fn recipient_override_and_locale_do_not_change_the_plan_shape() {
    let t = tenant("acme");
    let u = user("alice", "acme").send_to("alice@home.example").locale(Locale::Fr);
    let w = enabled_world(&u, &t);
    assert_eq!(w.status().notifications.pending[0].recipient, "alice@home.example");
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
        current_id_holder: None,
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
fn a_forged_pending_email_is_dropped_with_a_warning_and_never_sent() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u = u.send_info("i1");
    w.converge(&u, &t);
    let legit = w.status().notifications.pending.clone();
    // Someone with rights on the status subresource adds a PIN e-mail to their own address.
    let mut st = w.status().clone();
    st.notifications.pending.push(PendingNotification {
        kind: NotificationKind::PinReset,
        message_id: "<pin-reset.rdeadbeef.uid-alice@conferencing-operator.invalid>".into(),
        recipient: "attacker@evil.example".into(),
        provider_name: None,
        attempts: 0,
        last_error: None,
        next_attempt_time: None,
        permanently_failed: false,
    });
    w.status = Some(st);
    let p = w.run(&u, &t);
    assert_eq!(w.status().notifications.pending, legit, "only the operator's own entries remain");
    assert_eq!(p.events().iter().filter(|e| e.reason == "NotificationDropped").count(), 1);
    assert!(w.status().notifications.pending.iter().all(|n| n.recipient == "alice@acme.example"));
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
        current_id_holder: None,
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
fn a_secret_of_another_owner_is_not_adopted() {
    // A user re-created with the same name: the old user's Secret (same name, same
    // provision.g1 annotation) is not this user's, so observation reports none, and a new
    // PIN is generated.
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let w = W::default();
    let p = w.plan(&u, &t);
    assert_eq!(p.provisioning().pin, pin_step("provision.g1", 5));
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

#[test]
fn a_thousand_forged_pending_emails_cost_one_warning_and_send_nothing() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let legit = w.status().notifications.pending.clone();
    let mut st = w.status().clone();
    for i in 0..1000 {
        st.notifications.pending.push(PendingNotification {
            kind: NotificationKind::PinReset,
            message_id: format!("<pin-reset.r{i:04x}.uid-alice@conferencing-operator.invalid>"),
            recipient: "attacker@evil.example".into(),
            provider_name: None,
            attempts: 0,
            last_error: None,
            next_attempt_time: None,
            permanently_failed: false,
        });
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
        st.notifications.pending.push(PendingNotification {
            kind: NotificationKind::LicenseAssigned,
            message_id: id.clone(),
            recipient: "alice@acme.example".into(),
            provider_name: None,
            attempts: 0,
            last_error: None,
            next_attempt_time: None,
            permanently_failed: false,
        });
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
        current_id_holder: None,
        replacements: &[],
    };
    let p = blocked(&observed, "alice", Some(2), Reason::InvalidSpec, "metadata.name: too long", now());
    let writes = w.record_writes;
    let p = w.apply(p, usize::MAX);
    assert_eq!(w.record_writes, writes, "the block is reported without touching what is remembered");
    assert_eq!(ready(w.status()).reason, "InvalidSpec");
    assert!(p.cleanup().is_empty(), "nor is the PIN Secret marked");
}
