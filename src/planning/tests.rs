use super::*;
use crate::api::{ConferenceIdMode, ConferencingTenant, ConferencingUser, Locale, ProviderSpec};
use crate::fixtures::{tenant, user};
use crate::validation::{ClusterPolicy, validate_tenant, validate_user};

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("valid")
}

fn id(s: &str) -> ConferenceId {
    ConferenceId::parse(s).expect("valid id")
}

/// What the operator's actions leave behind, so that a test can run plan after plan the
/// way the controller does, and stop "crashing" between any two steps.
#[derive(Default, Debug)]
struct World {
    status: Option<ConferencingUserStatus>,
    secret: Option<String>,
    claims: Vec<ConferenceId>,
    next_id: u32,
    pins_generated: u32,
    events: Vec<PlannedEvent>,
    /// Who else holds the ID the status records (a claim deleted by hand and re-taken).
    current_holder: Option<Holder>,
    /// Claims allocated to replace a lost ID: (new, lost).
    replaces: Vec<(ConferenceId, ConferenceId)>,
}

impl World {
    fn plan(&self, u: &ConferencingUser, t: &ConferencingTenant) -> Plan {
        self.plan_with(u, t, None)
    }

    fn plan_with(&self, u: &ConferencingUser, t: &ConferencingTenant, holder: Option<&Holder>) -> Plan {
        let t = validate_tenant(t, &ClusterPolicy::unrestricted()).expect("valid tenant");
        let u = validate_user(u, &t).expect("valid user");
        let observed = Observed {
            status: self.status.as_ref(),
            pin_secret: self.secret.as_ref().map(|g| Some(g.as_str())),
            own_claims: &self.claims,
            static_id_holder: holder,
            current_id_holder: self.current_holder.as_ref(),
            replacements: &self.replaces,
        };
        plan(&u, &t, &observed, now())
    }

    /// Carries out the first `steps` steps of the plan (provision actions, the status write,
    /// clean-up actions, in that order; all of them with `usize::MAX`).
    fn apply(&mut self, mut plan: Plan, steps: usize) -> Plan {
        let mut budget = steps;
        for action in plan.provision.clone() {
            if budget == 0 {
                return plan;
            }
            budget -= 1;
            match action {
                Provision::ClaimId(i) => {
                    if !self.claims.contains(&i) {
                        self.claims.push(i);
                    }
                }
                Provision::AllocateId { length: len, replaces } => {
                    self.next_id += 1;
                    let s = format!("{:0>width$}", 7_000_000 + self.next_id, width = len.get());
                    self.claims.push(id(&s));
                    if let Some(lost) = replaces {
                        self.replaces.push((id(&s), lost));
                    }
                    plan.status.conference_id = Some(s);
                }
                Provision::GeneratePin { generation, .. } => {
                    self.pins_generated += 1;
                    self.secret = Some(generation);
                }
            }
        }
        if budget == 0 {
            return plan;
        }
        budget -= 1;
        if self.status.as_ref() != Some(&plan.status) {
            self.status = Some(plan.status.clone());
        }
        self.events.extend(plan.outcomes.iter().filter(|o| !o.by_tenant).map(|o| describe(o, &plan.status)));
        self.events.extend(plan.events.clone());
        for action in plan.cleanup.clone() {
            if budget == 0 {
                return plan;
            }
            budget -= 1;
            match action {
                Cleanup::DeletePinSecret => self.secret = None,
                Cleanup::ReleaseIds(ids) => self.claims.retain(|c| !ids.contains(c)),
            }
        }
        plan
    }

    fn run(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> Plan {
        let p = self.plan(u, t);
        self.apply(p, usize::MAX)
    }

    /// Runs once and says whether the plan was a no-op against the status it started from.
    fn run_is_noop(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> bool {
        let before = self.status.clone();
        let p = self.run(u, t);
        p.is_noop(before.as_ref())
    }

    fn status(&self) -> &ConferencingUserStatus {
        self.status.as_ref().expect("status written")
    }

    fn pending_kinds(&self) -> Vec<NotificationKind> {
        self.status().notifications.pending.iter().map(|n| n.kind).collect()
    }

    /// Runs until the plan is a no-op and returns how many passes it took.
    fn converge(&mut self, u: &ConferencingUser, t: &ConferencingTenant) -> usize {
        for pass in 1..10 {
            if self.run_is_noop(u, t) {
                return pass;
            }
        }
        panic!("did not converge: {:?}", self.plan(u, t));
    }
}

fn kinds(p: &Plan) -> Vec<NotificationKind> {
    p.outcomes.iter().map(|o| o.kind).collect()
}

fn enabled_world(u: &ConferencingUser, t: &ConferencingTenant) -> World {
    let mut w = World::default();
    w.converge(u, t);
    w
}

fn ready(st: &ConferencingUserStatus) -> &crate::api::Condition {
    crate::api::condition::find(&st.conditions, ConditionType::Ready).expect("Ready condition")
}

#[test]
fn enabling_allocates_an_id_generates_a_pin_and_owes_the_licence_email() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = World::default();
    let p = w.run(&u, &t);
    assert_eq!(
        p.provision,
        vec![
            Provision::AllocateId { length: IdLength::new(7).expect("7"), replaces: None },
            Provision::GeneratePin { generation: "provision.g1".into(), length: PinLength::new(5).expect("5") },
        ]
    );
    assert!(p.cleanup.is_empty());
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
    let before = w.status.clone();
    let p = w.run(&u, &t);
    assert!(p.is_noop(before.as_ref()), "{p:?}");
    assert!(p.events.is_empty());
    assert!(p.outcomes.is_empty());
    assert_eq!(w.pins_generated, 1);
}

#[test]
fn static_id_is_claimed() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.conference_id = Some("4242424".into());
    let mut w = World::default();
    let p = w.run(&u, &t);
    assert_eq!(p.provision[0], Provision::ClaimId(id("4242424")));
    assert_eq!(w.status().conference_id.as_deref(), Some("4242424"));
}

#[test]
fn reset_pin_token_generates_once_with_one_email() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let id_before = w.status().conference_id.clone();
    u.spec.requests.reset_pin = Some("2026-11-22".into());
    u.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert_eq!(
        p.provision,
        vec![Provision::GeneratePin {
            generation: "reset-pin.2026-11-22".into(),
            length: PinLength::new(5).expect("5")
        }]
    );
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
    u.spec.requests.reset_pin = Some("t1".into());
    let p = w.plan(&u, &t);
    w.apply(p, 1); // the PIN Secret is written, then the process dies
    assert_eq!(w.status().handled_requests.reset_pin, None, "the request still looks new");
    let p = w.run(&u, &t);
    assert!(!p.provision.iter().any(|a| matches!(a, Provision::GeneratePin { .. })), "{p:?}");
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
    assert_eq!(w.pins_generated, 2, "one PIN for provisioning, one for the reset");
    assert_eq!(w.pending_kinds().iter().filter(|k| **k == NotificationKind::PinReset).count(), 1);
}

#[test]
fn crash_before_anything_loses_nothing() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u.spec.requests.reset_pin = Some("t1".into());
    let p = w.plan(&u, &t);
    w.apply(p, 0);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::PinReset]);
}

#[test]
fn crash_during_provisioning_adopts_the_claimed_id_and_pin() {
    let (t, u) = (tenant("acme"), user("alice", "acme"));
    let mut w = World::default();
    let p = w.plan(&u, &t);
    w.apply(p, 2); // ID claimed and PIN written; status never written
    assert!(w.status.is_none());
    let claimed = w.claims.clone();
    let p = w.run(&u, &t);
    assert!(p.provision.is_empty(), "the claimed ID and the PIN are adopted: {p:?}");
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
    u.spec.requests.reset_conference_id = Some("r1".into());
    let p = w.run(&u, &t);
    assert_eq!(p.provision, vec![Provision::AllocateId { length: IdLength::new(7).expect("7"), replaces: None }]);
    assert_eq!(p.cleanup, vec![Cleanup::ReleaseIds(vec![old.clone()])]);
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
    u.spec.requests.reset_conference_id = Some("r1".into());
    let p = w.plan(&u, &t);
    w.apply(p, 1);
    let new = w.claims[1].clone();
    let p = w.run(&u, &t);
    assert!(p.provision.is_empty(), "the new claim is adopted: {p:?}");
    assert_eq!(w.status().conference_id.as_deref(), Some(new.as_str()));
    assert_eq!(w.claims, vec![new]);
}

#[test]
fn changed_static_id_takes_effect_like_a_reset() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.conference_id = Some("1111222".into());
    let mut w = enabled_world(&u, &t);
    u.spec.conference_id = Some("3333444".into());
    u.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert_eq!(p.provision[0], Provision::ClaimId(id("3333444")));
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    assert_eq!(w.claims, vec![id("3333444")]);
}

#[test]
fn reset_of_a_static_id_is_ignored_with_a_warning() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.conference_id = Some("1111222".into());
    let mut w = enabled_world(&u, &t);
    u.spec.requests.reset_conference_id = Some("r1".into());
    let p = w.run(&u, &t);
    assert!(p.outcomes.is_empty());
    assert!(p.events.iter().any(|e| e.reason == "ConferenceIdResetIgnored"));
    assert_eq!(w.status().handled_requests.reset_conference_id.as_deref(), Some("r1"));
}

#[test]
fn static_id_held_by_another_user_is_a_conflict_and_nothing_else_changes() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let before = w.status().clone();
    u.spec.conference_id = Some("5555555".into());
    u.spec.requests.reset_pin = Some("t".into());
    u.metadata.generation = Some(2);
    let bob = Holder { name: "bob".into(), uid: "uid-bob".into() };
    let p = w.plan_with(&u, &t, Some(&bob));
    assert!(p.provision.is_empty() && p.cleanup.is_empty());
    let c = ready(&p.status);
    assert_eq!(c.reason, "ConferenceIdConflict");
    assert!(c.message.contains("bob") && c.message.contains("5555555"), "{}", c.message);
    assert_eq!(p.status.conference_id, before.conference_id);
    assert_eq!(p.status.handled_requests, before.handled_requests);
    assert_eq!(p.status.pin_generation, before.pin_generation);
    assert_eq!(p.status.observed_generation, Some(2));
    w.apply(p, usize::MAX);
    // Planning again with the conflict still there writes nothing.
    assert!(w.plan_with(&u, &t, Some(&bob)).is_noop(w.status.as_ref()));
}

#[test]
fn new_user_with_a_held_static_id_gets_nothing() {
    let t = tenant("acme");
    let mut u = user("carol", "acme");
    u.spec.conference_id = Some("5555555".into());
    let bob = Holder { name: "bob".into(), uid: "uid-bob".into() };
    let p = World::default().plan_with(&u, &t, Some(&bob));
    assert!(p.provision.is_empty() && p.cleanup.is_empty());
    assert!(p.status.pin.is_none() && p.status.conference_id.is_none());
}

#[test]
fn a_status_forged_to_look_provisioned_sends_no_licence_removed_and_is_cleared() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.audio_conferencing_license = false;
    let mut w = World::default();
    w.run(&u, &t);
    // Someone with access to the status makes the unlicensed user look provisioned.
    let mut st = w.status().clone();
    st.pin = Some("*****".into());
    st.pin_secret_ref = Some(SecretKeyRef { name: "alice-pin".into(), key: "pin".into() });
    st.conference_id = Some("1234567".into());
    st.service_number = Some("+1 555 0100".into());
    w.status = Some(st);
    u.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert!(p.outcomes.is_empty(), "{:?}", p.outcomes);
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
    u.spec.audio_conferencing_license = false;
    u.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert!(p.provision.is_empty());
    assert_eq!(p.cleanup, vec![Cleanup::DeletePinSecret, Cleanup::ReleaseIds(old)]);
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
    u.spec.audio_conferencing_license = false;
    let p = w.plan(&u, &t);
    w.apply(p, 1); // status written, Secret and claim left behind
    let p = w.run(&u, &t);
    assert!(p.outcomes.is_empty());
    assert!(p.cleanup.contains(&Cleanup::DeletePinSecret));
    assert!(w.secret.is_none() && w.claims.is_empty());
}

#[test]
fn reenabling_gives_a_new_pin_and_a_new_id() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let first_id = w.status().conference_id.clone();
    u.spec.audio_conferencing_license = false;
    u.metadata.generation = Some(2);
    w.converge(&u, &t);
    u.spec.audio_conferencing_license = true;
    u.metadata.generation = Some(3);
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
    u.spec.provider = ProviderSpec { type_: ProviderType::ThirdParty, name: Some("Contoso Audio".into()) };
    u.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ProviderChangedAway]);
    let away = w.status().notifications.pending.last().expect("pending").clone();
    assert_eq!(away.provider_name.as_deref(), Some("Contoso Audio"));
    assert!(w.secret.is_none() && w.claims.is_empty());
    assert_eq!(w.status().provider.as_ref().map(|p| p.type_), Some(ProviderType::ThirdParty));

    u.spec.provider = ProviderSpec::default();
    u.metadata.generation = Some(3);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ProviderChangedToNative]);
    assert!(w.status().pin.is_some() && w.status().conference_id.is_some());
}

#[test]
fn provider_none_is_a_change_away_without_a_name() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u.spec.provider = ProviderSpec { type_: ProviderType::None, name: None };
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ProviderChangedAway]);
    assert_eq!(w.status().notifications.pending.last().and_then(|n| n.provider_name.clone()), None);
}

#[test]
fn tenant_default_number_change_follows_with_one_email() {
    let mut t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    t.spec.service_numbers[1].default = Some(true);
    t.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ServiceNumberChanged]);
    assert_eq!(w.status().service_number.as_deref(), Some("+442075550100"));
    assert!(p.outcomes[0].by_tenant, "the tenant moved, not the user");
    assert!(!w.events.iter().any(|e| e.reason == "ServiceNumberChanged"), "the tenant's Event covers it");
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn users_own_number_change_follows() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    u.spec.service_number = Some("+442075550100".into());
    u.metadata.generation = Some(2);
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::ServiceNumberChanged]);
    assert!(!p.outcomes[0].by_tenant);
    assert!(w.events.iter().any(|e| e.reason == "ServiceNumberChanged"));
}

#[test]
fn automatic_emails_off_records_nothing_to_send_but_says_where_the_pin_is() {
    let mut t = tenant("acme");
    t.spec.notifications.automatically_send_emails_to_users = false;
    let mut u = user("alice", "acme");
    let mut w = World::default();
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
    assert!(w.status().notifications.pending.is_empty());
    assert!(p.events.iter().any(|e| e.reason == "NotificationSuppressed"));
    assert!(ready(w.status()).message.contains("Secret ns1/alice-conferencing-pin"), "{}", ready(w.status()).message);

    u.spec.requests.reset_pin = Some("t1".into());
    w.run(&u, &t);
    assert!(w.status().notifications.pending.is_empty());

    // The on-request e-mail is sent whatever the policy says.
    u.spec.requests.send_conferencing_info = Some("i1".into());
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
    t.spec.pin.length = 8;
    t.metadata.generation = Some(2);
    assert!(w.run_is_noop(&u, &t), "existing PIN untouched");
    u.spec.requests.reset_pin = Some("t1".into());
    let p = w.run(&u, &t);
    assert!(p.provision.contains(&Provision::GeneratePin {
        generation: "reset-pin.t1".into(),
        length: PinLength::new(8).expect("8")
    }));
}

#[test]
fn dynamic_mode_still_gives_a_personal_id_and_says_so() {
    let mut t = tenant("acme");
    t.spec.conference_ids.mode = ConferenceIdMode::Dynamic;
    let u = user("alice", "acme");
    let w = enabled_world(&u, &t);
    assert_eq!(w.status().conference_id_mode, Some(ConferenceIdMode::Dynamic));
    assert!(w.status().conference_id.is_some());
    assert!(ready(w.status()).message.contains("dynamic"));
}

#[test]
fn requests_for_a_disabled_user_are_ignored_with_warnings() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.audio_conferencing_license = false;
    let mut w = enabled_world(&u, &t);
    u.spec.requests.reset_pin = Some("a".into());
    u.spec.requests.send_conferencing_info = Some("b".into());
    let p = w.run(&u, &t);
    assert!(p.outcomes.is_empty());
    assert_eq!(p.events.iter().filter(|e| e.reason == "RequestIgnored").count(), 2);
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
    assert!(p.events.iter().any(|e| e.reason == "PinSecretMissing"));
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn requests_made_with_provisioning_are_satisfied_by_it() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.requests.reset_pin = Some("x".into());
    u.spec.requests.reset_conference_id = Some("y".into());
    let mut w = World::default();
    let p = w.run(&u, &t);
    assert_eq!(kinds(&p), vec![NotificationKind::LicenseAssigned]);
    assert_eq!(w.pins_generated, 1);
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn recipient_override_and_locale_do_not_change_the_plan_shape() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    u.spec.send_email_to_address = Some("alice@home.example".into());
    u.spec.locale = Some(Locale::Fr);
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
        t.spec.service_numbers[0].default = Some(i % 2 == 1);
        t.spec.service_numbers[1].default = Some(i % 2 == 0);
        t.metadata.generation = Some(2 + i64::try_from(i).expect("small"));
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
    u.spec.requests.send_conferencing_info = Some("i1".into());
    w.run(&u, &t);
    u.spec.requests.send_conferencing_info = Some("i2".into());
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
    assert_eq!(&p.status, w.status());
}

#[test]
fn blocked_status_keeps_what_the_user_holds() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let w = enabled_world(&u, &t);
    let st = blocked_status(w.status.as_ref(), Some(4), "TenantNotFound", "tenant acme not found", now());
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
    u.spec.requests.send_conferencing_info = Some("i1".into());
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
    assert_eq!(p.events.iter().filter(|e| e.reason == "NotificationDropped").count(), 1);
    assert!(w.status().notifications.pending.iter().all(|n| n.recipient == "alice@acme.example"));
}

#[test]
fn each_restored_pin_has_its_own_message_id_and_a_crash_after_the_secret_write_is_adopted() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    w.secret = None;
    let first = w.run(&u, &t);
    let first_id = first.status.notifications.pending.last().expect("pending").message_id.clone();
    assert!(first.provision.iter().any(|p| matches!(p, Provision::GeneratePin { .. })));

    // Deleted again, a moment later: a new PIN, a new Message-ID.
    w.secret = None;
    let later = Timestamp::from_second(1_800_000_060).expect("valid");
    let tv = validate_tenant(&t, &ClusterPolicy::unrestricted()).expect("tenant");
    let uv = validate_user(&u, &tv).expect("user");
    let observed =
        Observed { status: w.status.as_ref(), pin_secret: None, own_claims: &w.claims, ..Observed::default() };
    let second = plan(&uv, &tv, &observed, later);
    let Some(Provision::GeneratePin { generation, .. }) = second.provision.first().cloned() else {
        panic!("a new PIN: {second:?}")
    };
    let second_id = second.status.notifications.pending.last().expect("pending").message_id.clone();
    assert_ne!(first_id, second_id, "two PINs, two Message-IDs");

    // The Secret was written, then the process died before the status write: the restore is
    // adopted, with exactly one e-mail.
    w.secret = Some(generation.clone());
    let p = w.run(&u, &t);
    assert!(p.provision.is_empty(), "{p:?}");
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
    assert_eq!(p.provision, vec![Provision::ClaimId(held.clone())]);
    assert!(p.outcomes.is_empty());
    assert_eq!(w.status().notifications.pending, pending_before);
    assert_eq!(w.claims, vec![held]);
}

/// A converged user whose ID carol now holds (its claim is gone); returns the lost ID.
fn id_lost_to_carol(u: &ConferencingUser, t: &ConferencingTenant) -> (World, ConferenceId) {
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
        p.provision,
        vec![Provision::AllocateId { length: IdLength::new(7).expect("7"), replaces: Some(lost.clone()) }]
    );
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    assert!(p.events.iter().any(|e| e.reason == "ConferenceIdLost" && e.message.contains("carol")));
    assert_ne!(w.status().conference_id.as_deref(), Some(lost.as_str()));
    assert!(w.run_is_noop(&u, &t));
}

#[test]
fn a_reassignment_interrupted_before_its_status_write_is_finished_and_the_user_told_once() {
    let t = tenant("acme");
    let u = user("alice", "acme");
    let (mut w, lost) = id_lost_to_carol(&u, &t);
    // The new claim is created; the operator dies before the status write.
    let first = w.plan(&u, &t);
    let first = w.apply(first, 1);
    assert!(first.outcomes.iter().any(|o| o.kind == NotificationKind::ConferenceIdReset));
    assert_eq!(w.status().conference_id.as_deref(), Some(lost.as_str()), "status not written yet");
    // After the restart: the claim says it replaces the lost ID, so the same e-mail is planned.
    let p = w.run(&u, &t);
    assert!(p.provision.is_empty(), "{p:?}");
    assert_eq!(kinds(&p), vec![NotificationKind::ConferenceIdReset]);
    let ids = |p: &Plan| p.status.notifications.pending.iter().map(|n| n.message_id.clone()).collect::<Vec<_>>();
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
    // Someone with access to the status names carol's ID in alice's status.
    let mut st = w.status().clone();
    st.conference_id = Some("5555555".into());
    w.status = Some(st);
    w.current_holder = Some(Holder { name: "carol".into(), uid: "uid-carol".into() });
    let p = w.run(&u, &t);
    assert!(p.provision.is_empty() && p.outcomes.is_empty() && p.cleanup.is_empty(), "{p:?}");
    assert!(!p.events.iter().any(|e| e.reason == "ConferenceIdLost"), "{:?}", p.events);
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
    assert!(p.provision.is_empty() && p.outcomes.is_empty(), "{p:?}");
    assert_eq!(w.status().conference_id.as_deref(), Some(real.as_str()));
}

#[test]
fn a_user_that_yields_a_contested_static_id_lets_go_of_it() {
    let t = tenant("acme");
    let mut u = user("carol", "acme");
    u.spec.conference_id = Some("5555555".into());
    let w = enabled_world(&u, &t);
    assert_eq!(w.claims, vec![id("5555555")]);
    // alice held 5555555 first (her claim was deleted by hand before carol took it).
    let alice = Holder { name: "alice".into(), uid: "uid-alice".into() };
    let p = w.plan_with(&u, &t, Some(&alice));
    assert_eq!(p.cleanup, vec![Cleanup::ReleaseIds(vec![id("5555555")])]);
    assert_eq!(p.status.conference_id, None, "carol no longer shows the ID");
    assert_eq!(ready(&p.status).reason, "ConferenceIdConflict");
    let stalled = crate::api::condition::find(&p.status.conditions, ConditionType::Stalled).expect("stalled");
    assert_eq!(stalled.reason, "ConferenceIdConflict");
}

#[test]
fn fixing_the_recipient_sends_the_owed_licence_email_again() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let w = &mut enabled_world(&u, &t);
    let mut st = w.status().clone();
    let m = st.notifications.pending[0].message_id.clone();
    outbox::record(&mut st, &m, &outbox::Attempt::Permanent("550 no such user".into()), now());
    w.status = Some(st);
    assert!(outbox::due(w.status(), now()).is_empty());
    u.spec.send_email_to_address = Some("alice.fixed@acme.example".into());
    u.metadata.generation = Some(2);
    w.run(&u, &t);
    let due = outbox::due(w.status(), now());
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
    let w = World::default();
    let p = w.plan(&u, &t);
    assert!(p.provision.contains(&Provision::GeneratePin {
        generation: "provision.g1".into(),
        length: PinLength::new(5).expect("5")
    }));
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
        u.spec.requests.reset_pin = Some(token.into());
        assert_eq!(kinds(&w.run(&u, &t)), vec![NotificationKind::PinReset]);
    }
    assert_eq!(w.pins_generated, 3);
    for token in ["T1", "T2", "T1"] {
        u.spec.requests.reset_pin = Some(token.into());
        let p = w.run(&u, &t);
        assert!(p.outcomes.is_empty(), "{token} was handled before");
        assert_eq!(p.events.iter().filter(|e| e.reason == "RequestTokenReused").count(), 1);
        assert_eq!(w.status().handled_requests.reset_pin.as_deref(), Some(token), "recorded as handled");
        assert!(w.run_is_noop(&u, &t), "and warned about once");
    }
    assert_eq!(w.pins_generated, 3, "no PIN for a token seen before");
    u.spec.requests.reset_pin = Some("T3".into());
    assert_eq!(kinds(&w.run(&u, &t)), vec![NotificationKind::PinReset], "a new token still works");
}

#[test]
fn the_token_history_is_bounded_per_request() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    for i in 0..20 {
        u.spec.requests.send_conferencing_info = Some(format!("i{i}"));
        u.spec.requests.reset_pin = Some(format!("p{i}"));
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
    let dropped: Vec<_> = p.events.iter().filter(|e| e.reason == "NotificationDropped").collect();
    assert_eq!(dropped.len(), 1, "one Warning per write, not one per entry");
    assert!(dropped[0].message.contains("and 999 more"), "{}", dropped[0].message);
    assert!(p.events.len() <= 3, "{:?}", p.events);
}

#[test]
fn a_forged_token_history_is_cut_to_its_bound_when_written_back() {
    let t = tenant("acme");
    let mut u = user("alice", "acme");
    let mut w = enabled_world(&u, &t);
    let mut st = w.status().clone();
    for i in 0..200 {
        st.handled_requests
            .previous
            .push(HandledToken { request: RequestKind::ResetPin, token: format!("ticket-{i}") });
    }
    w.status = Some(st);
    u.spec.requests.send_conferencing_info = Some("i1".into());
    w.run(&u, &t);
    let previous = &w.status().handled_requests.previous;
    assert_eq!(previous.iter().filter(|p| p.request == RequestKind::ResetPin).count(), TOKEN_HISTORY);
    assert!(previous.iter().any(|p| p.token == "ticket-199"), "the newest are kept");
}
