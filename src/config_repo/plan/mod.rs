//! `plan`: what applying a tree will do to people, computed by the controller's own pure
//! planner against the state before the change (the `--from` tree converged, or the cluster).
//!
//! For each affected user: the actions, the e-mails (kind, recipient, language; never a
//! PIN: the planner never has one), e-mails the tenant's policy suppresses, and anything
//! that blocks. The summary counts them and names a tenant change that fans out to many
//! users. The JSON form is a stable, documented schema (docs/gitops.md).

use std::collections::{HashMap, HashSet};

use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::simulate::{Prior, PriorUser, synthetic_uid};
use super::validate::Report;
use crate::api::record::UserMemory;
use crate::api::{NotificationKind, ProviderSpec, ProviderType};
use crate::planning::{IdStep, NewPin, Provisioning, plan};
use crate::validation::{ValidatedTenant, validate_user};

mod report;

pub(crate) use report::*;

/// Per tenant, the users reached by its change, by the e-mail kind they get (`None`: no e-mail).
type Reached = HashMap<(String, String), HashMap<Option<NotificationKind>, usize>>;

/// Plans `to` (validated) against `prior`.
pub(crate) fn plan_tree(to: &Report, prior: &Prior, now: Timestamp) -> PlanReport {
    let tree = &to.tree;
    let mut users = Vec::new();
    let mut summary = Summary { users: tree.users.len(), ..Summary::default() };
    // Users whose own spec is unchanged, by tenant, and the e-mail kinds they get: a tenant
    // change is what reaches them.
    let mut reached: Reached = HashMap::new();

    for u in &tree.users {
        let key = (u.id.namespace.clone(), u.id.name.clone());
        let before = prior.users.get(&key);
        let tenant_name = u.object.as_ref().map(|o| o.spec.tenant_ref.name.clone()).unwrap_or_default();
        let mut up = UserPlan {
            namespace: u.id.namespace.clone(),
            name: u.id.name.clone(),
            tenant: tenant_name.clone(),
            actions: Vec::new(),
            emails: Vec::new(),
            suppressed_emails: Vec::new(),
            held: Vec::new(),
            blocked: None,
            notes: Vec::new(),
        };
        if let Some(b) = &u.blocked {
            up.blocked = Some(BlockedOut { reason: b.reason.to_string(), message: b.message.clone() });
            summary.users_blocked += 1;
            users.push(up);
            continue;
        }
        let (Some(v), Some(t)) = (&u.validated, &u.tenant) else { continue };
        let tenant_key = (u.id.namespace.clone(), t.name.clone());
        let mut v = v.clone();
        let mut t = t.clone();
        t.generation = tenant_generation(prior, &tenant_key, to);
        v.uid = match before {
            Some(p) if !p.uid.is_empty() => p.uid.clone(),
            _ => synthetic_uid(&u.id.namespace, &u.id.name),
        };
        let spec_unchanged = before.is_some_and(|p| p.spec.as_ref() == u.object.as_ref().map(|o| &o.spec));
        v.generation = match before {
            Some(p) if spec_unchanged => p.generation,
            Some(p) => p.generation + 1,
            None => 1,
        };
        // A user the cluster does not have yet may still have a PIN waiting for it.
        let empty = PriorUser {
            adoptable_in_place: prior
                .adoptable
                .contains(&(u.id.namespace.clone(), crate::provisioning::secret::pin_secret_name(&u.id.name))),
            ..PriorUser::default()
        };
        let p = before.unwrap_or(&empty);
        let recalled = p.recall();
        let adoptable = p.adoptable(&v);
        let observed = p.observed(&recalled, adoptable.as_ref());
        let planned = plan(&v, &t, &observed, now);
        let prev = &recalled.memory;
        up.actions = actions(prev, planned.memory(), planned.provisioning(), &t);
        let known: HashSet<&str> = prev
            .notifications
            .pending
            .iter()
            .map(|n| n.message_id.as_str())
            .chain(prev.notifications.delivered.iter().map(|n| n.message_id.as_str()))
            .collect();
        // An e-mail the change causes is sent, or held while the tenant holds its e-mails; one
        // already owed under a hold that the change lifts is sent too.
        let held_before = prior.tenants.get(&tenant_key).and_then(|b| b.validated.as_ref()).is_some_and(|b| b.hold);
        for n in planned.memory().notifications.pending.iter().filter(|n| !n.permanently_failed) {
            let email = Email { kind: n.kind, recipient: n.recipient.clone(), locale: v.locale.to_string() };
            let new = !known.contains(n.message_id.as_str());
            match (new, t.hold, held_before) {
                (_, true, _) => up.held.push(email),
                (true, false, _) | (false, false, true) => up.emails.push(email),
                (false, false, false) => {}
            }
        }
        for o in planned.outcomes() {
            if o.kind.is_automatic() && !t.automatic_emails {
                up.suppressed_emails.push(Email {
                    kind: o.kind,
                    recipient: v.recipient.to_string(),
                    locale: v.locale.to_string(),
                });
            }
        }
        up.notes = planned
            .events()
            .iter()
            .filter(|e| e.severity == crate::planning::Severity::Warning)
            .map(|e| format!("{}: {}", e.reason, e.message))
            .collect();

        let changed = !up.actions.is_empty() || !up.emails.is_empty();
        if changed {
            summary.users_changed += 1;
            // What the tenant change alone causes: the same user and prior state planned
            // against the tenant as it was.
            let before_tenant = prior.tenants.get(&tenant_key).filter(|b| b.generation != t.generation);
            if let Some(old_t) = before_tenant.and_then(|b| b.validated.as_ref())
                && let Some(obj) = &u.object
                && let Ok(mut old_v) = validate_user(obj, old_t)
            {
                old_v.uid = v.uid.clone();
                old_v.generation = v.generation;
                let old_plan = plan(&old_v, old_t, &observed, now);
                let old_kinds: HashSet<NotificationKind> = old_plan
                    .memory()
                    .notifications
                    .pending
                    .iter()
                    .filter(|n| !known.contains(n.message_id.as_str()))
                    .map(|n| n.kind)
                    .collect();
                let new_kinds: HashSet<NotificationKind> =
                    up.emails.iter().map(|e| e.kind).filter(|k| !old_kinds.contains(k)).collect();
                let by_kind = reached.entry(tenant_key).or_default();
                for k in &new_kinds {
                    *by_kind.entry(Some(*k)).or_default() += 1;
                }
                let old_actions = actions(prev, old_plan.memory(), old_plan.provisioning(), old_t);
                if new_kinds.is_empty() && old_actions.len() < up.actions.len() {
                    *by_kind.entry(None).or_default() += 1;
                }
            }
        }
        summary.emails += up.emails.len();
        for e in &up.emails {
            *summary.emails_by_kind.entry(e.kind.to_string()).or_default() += 1;
        }
        summary.suppressed_emails += up.suppressed_emails.len();
        summary.held_emails += up.held.len();
        if changed || !up.suppressed_emails.is_empty() || !up.notes.is_empty() || !up.held.is_empty() {
            users.push(up);
        }
    }

    // Users of the namespaces the tree covers that it no longer has.
    let in_tree: HashSet<(String, String)> =
        tree.users.iter().map(|u| (u.id.namespace.clone(), u.id.name.clone())).collect();
    let namespaces = tree.namespaces();
    let mut removed: Vec<&(String, String)> =
        prior.users.keys().filter(|k| namespaces.contains(&k.0) && !in_tree.contains(*k)).collect();
    removed.sort();
    for (ns, name) in removed {
        summary.users_removed += 1;
        users.push(UserPlan {
            namespace: ns.clone(),
            name: name.clone(),
            tenant: String::new(),
            actions: vec![PlannedAction {
                kind: ActionKind::Removed,
                description: "no longer in the tree: deleted where the GitOps tool prunes (its PIN Secret and conference ID go with it; no e-mail is sent)".into(),
            }],
            emails: Vec::new(),
            suppressed_emails: Vec::new(),
            held: Vec::new(),
            blocked: None,
            notes: Vec::new(),
        });
    }

    summary.fan_out = fan_out(to, prior, &reached);
    PlanReport {
        schema_version: SCHEMA_VERSION,
        mode: if prior.live { "live" } else { "offline" },
        valid: !to.has_errors(),
        findings: to.findings.clone(),
        summary,
        users,
        horizon: Vec::new(),
    }
}

/// The generation the tenant will have: the prior one, plus one when the tree changes its
/// spec (the API server bumps it on every spec change).
fn tenant_generation(prior: &Prior, key: &(String, String), to: &Report) -> i64 {
    let before = prior.tenants.get(key);
    let now_spec = to.tree.tenant(&key.0, &key.1).and_then(|t| t.object.as_ref()).map(|o| &o.spec);
    match (before, now_spec) {
        (Some(b), Some(s)) if b.spec.as_ref() == Some(s) => b.generation,
        (Some(b), Some(_)) => b.generation + 1,
        (Some(b), None) => b.generation,
        (None, _) => 1,
    }
}

fn act(kind: ActionKind, description: String) -> PlannedAction {
    PlannedAction { kind, description }
}

/// Per day from `now` (UTC days, the first being today with everything overdue), the PIN
/// rotations due within `horizon` under the `to` tree's policy for the users the cluster has
/// (their PINs' issue times are in their records; a lifetime shorter than the horizon rotates
/// a PIN again and again), and the e-mails they send: one each, and, on the first day, the
/// automatic e-mails owed now. A tenant that holds its e-mails or sends none automatically
/// rotates nothing. Users new to the cluster are not counted (their PINs are not issued
/// yet), nor are the delays of a send window or a cap.
pub(crate) fn horizon(to: &Report, prior: &Prior, now: Timestamp, horizon: SignedDuration) -> Vec<DayDue> {
    let end = now.checked_add(horizon).unwrap_or(Timestamp::MAX);
    let today = now.to_zoned(TimeZone::UTC).date();
    let days = usize::try_from(horizon.as_secs() / 86_400).unwrap_or(0) + 1;
    let mut out: Vec<DayDue> = (0..days)
        .map(|i| DayDue {
            date: today.checked_add(SignedDuration::from_hours(24 * i as i64)).unwrap_or(today).to_string(),
            rotations: 0,
            emails: 0,
        })
        .collect();
    for u in &to.tree.users {
        let (Some(v), Some(t)) = (&u.validated, &u.tenant) else { continue };
        let Some(p) = prior.users.get(&(u.id.namespace.clone(), u.id.name.clone())) else { continue };
        let memory = p.recall().memory;
        let mut v = v.clone();
        v.uid.clone_from(&p.uid);
        if let Some(first) = out.first_mut() {
            first.emails +=
                memory.notifications.pending.iter().filter(|n| n.kind.is_automatic() && !n.permanently_failed).count();
        }
        let (Some(lifetime), Some(at)) = (t.pin_lifetime, crate::planning::rotation_at(&v, t, &memory)) else {
            continue;
        };
        if t.hold || !t.automatic_emails {
            continue;
        }
        // Rotated at `first` (now, if overdue), then every `every` (the user's point in each
        // later lifetime): counted per day arithmetically, however short the lifetime.
        let first = at.max(now);
        let every = lifetime.rotation_at(Timestamp::UNIX_EPOCH, &v.uid).duration_since(Timestamp::UNIX_EPOCH);
        let rotations_before = |t: Timestamp| -> i64 {
            let since = t.duration_since(first).as_millis();
            if since <= 0 { 0 } else { i64::try_from(ceil_div(since, every.as_millis().max(1))).unwrap_or(i64::MAX) }
        };
        for (i, day) in out.iter_mut().enumerate() {
            let start = if i == 0 { first.min(now) } else { day_start(today, i) };
            let stop = day_start(today, i + 1).min(end);
            let n = rotations_before(stop).saturating_sub(rotations_before(start)).max(0);
            let n = usize::try_from(n).unwrap_or(0);
            day.rotations += n;
            day.emails += n;
        }
    }
    out
}

/// The first instant (UTC) of the `i`-th day after `today`.
fn day_start(today: k8s_openapi::jiff::civil::Date, i: usize) -> Timestamp {
    let day = today.checked_add(SignedDuration::from_hours(24 * i as i64)).unwrap_or(today);
    day.to_zoned(TimeZone::UTC).map_or(Timestamp::MAX, |z| z.timestamp())
}

fn ceil_div(a: i128, b: i128) -> i128 {
    (a + b - 1) / b
}

/// The actions, from the planner's steps and the difference between the memories.
fn actions(prev: &UserMemory, next: &UserMemory, steps: &Provisioning, t: &ValidatedTenant) -> Vec<PlannedAction> {
    let mut out = Vec::new();
    let was_enabled = prev.provisioned();
    let enabled = next.provisioned();
    let provider_name = |p: &Option<ProviderSpec>| match p {
        Some(ProviderSpec { type_: ProviderType::ThirdParty, name: Some(n) }) => format!("ThirdParty ({n})"),
        Some(p) => format!("{:?}", p.type_),
        None => "none".into(),
    };
    // A user moving back to this operator's provider keeps its licence: that is a provider
    // change, reported below, not a licence assignment.
    let numbers = || {
        format!(
            "dial-in {}{}",
            next.service_number.as_deref().unwrap_or("(none)"),
            next.toll_free_service_number.as_deref().map(|n| format!(", toll-free {n}")).unwrap_or_default()
        )
    };
    let taken_over = next.taken_over && !prev.taken_over;
    if taken_over {
        out.push(act(
            ActionKind::TakenOver,
            format!("taken over from the previous system (spec.adopt): {}", numbers()),
        ));
    } else if !was_enabled && enabled && prev.licensed != Some(true) {
        out.push(act(ActionKind::LicenseAssigned, format!("audio conferencing enabled: {}", numbers())));
    }
    if prev.licensed == Some(true) && next.licensed == Some(false) {
        out.push(act(ActionKind::LicenseRemoved, "audio-conferencing licence removed".into()));
    }
    if prev.provider.is_some() && prev.provider != next.provider {
        out.push(act(
            ActionKind::ProviderChanged,
            format!("provider changes from {} to {}", provider_name(&prev.provider), provider_name(&next.provider)),
        ));
    }
    match &steps.id {
        Some(IdStep::Allocate { length: len, .. }) => match &prev.conference_id {
            Some(old) if was_enabled => out.push(act(
                ActionKind::ConferenceIdReset,
                format!("conference ID {old} is replaced by a new random {}-digit ID", len.get()),
            )),
            _ => out.push(act(
                ActionKind::ConferenceIdAllocated,
                format!("a random {}-digit conference ID is allocated", len.get()),
            )),
        },
        Some(IdStep::Claim(id)) if prev.conference_id.as_deref() != Some(id.as_str()) => match &prev.conference_id {
            Some(old) if was_enabled => {
                out.push(act(ActionKind::ConferenceIdChanged, format!("conference ID changes from {old} to {id}")))
            }
            _ if taken_over => out.push(act(ActionKind::ConferenceIdKept, format!("conference ID {id} is kept"))),
            _ => out.push(act(ActionKind::ConferenceIdAllocated, format!("conference ID {id} is claimed"))),
        },
        _ => {}
    }
    if let Some(step) = &steps.pin {
        let generation = &step.generation;
        if let NewPin::Adopt(source) = &step.pin {
            out.push(act(
                ActionKind::PinKept,
                format!("the PIN in {source} is kept (if it is not a PIN, a new one replaces it and is e-mailed)"),
            ));
        } else if generation.starts_with("reset-pin.") {
            out.push(act(ActionKind::PinReset, "a new PIN replaces the current one (on request)".into()));
        } else if generation.starts_with("restore.") {
            out.push(act(ActionKind::PinGenerated, "a new PIN is generated: the PIN Secret is missing".into()));
        } else if generation.starts_with(crate::planning::EXPIRED_PREFIX) {
            out.push(act(
                ActionKind::PinExpired,
                "the PIN is past its lifetime (pin.lifetime): a new one replaces it and is e-mailed".into(),
            ));
        } else {
            out.push(act(ActionKind::PinGenerated, format!("a {}-digit PIN is generated", t.pin_length.get())));
        }
    }
    if was_enabled && enabled {
        for (label, a, b) in [
            ("dial-in number", &prev.service_number, &next.service_number),
            ("toll-free number", &prev.toll_free_service_number, &next.toll_free_service_number),
        ] {
            if a != b {
                out.push(act(
                    ActionKind::ServiceNumberChanged,
                    format!(
                        "{label} changes from {} to {}",
                        a.as_deref().unwrap_or("(none)"),
                        b.as_deref().unwrap_or("(none)")
                    ),
                ));
            }
        }
        if prev.conference_id_mode.is_some() && prev.conference_id_mode != next.conference_id_mode {
            out.push(act(
                ActionKind::ConferenceIdModeChanged,
                format!(
                    "conference-ID mode changes from {:?} to {:?}",
                    prev.conference_id_mode.unwrap_or_default(),
                    next.conference_id_mode.unwrap_or_default()
                ),
            ));
        }
    }
    if was_enabled && !enabled {
        out.push(act(
            ActionKind::Deprovisioned,
            format!("PIN deleted and conference ID {} released", prev.conference_id.as_deref().unwrap_or("(none)")),
        ));
    }
    out
}

/// The tenant changes that reach users whose own spec did not change.
fn fan_out(to: &Report, prior: &Prior, reached: &Reached) -> Vec<FanOut> {
    let mut out = Vec::new();
    let mut keys: Vec<&(String, String)> = reached.keys().collect();
    keys.sort();
    for key in keys {
        let Some(before) = prior.tenants.get(key).and_then(|t| t.validated.as_ref()) else { continue };
        let Some(after) = to.tree.tenant(&key.0, &key.1).and_then(|t| t.validated.as_ref()) else { continue };
        let change = describe_tenant_change(before, after);
        if change.is_empty() {
            continue;
        }
        let mut by_kind: Vec<(&Option<NotificationKind>, &usize)> = reached[key].iter().collect();
        by_kind.sort_by_key(|(k, _)| k.map(|k| NotificationKind::ALL.iter().position(|x| *x == k)));
        for (kind, n) in by_kind {
            let what = match kind {
                Some(NotificationKind::ServiceNumberChanged) => "re-sends a dial-in e-mail to".to_string(),
                Some(k) => format!("sends a {k} e-mail to"),
                None => "changes, without an e-mail,".to_string(),
            };
            out.push(FanOut {
                namespace: key.0.clone(),
                tenant: key.1.clone(),
                change: change.clone(),
                kind: *kind,
                users: *n,
                sentence: format!(
                    "changing {change} of tenant {} {what} {} {}",
                    key.1,
                    thousands(*n),
                    if *n == 1 { "user" } else { "users" }
                ),
            });
        }
    }
    out
}

fn describe_tenant_change(a: &ValidatedTenant, b: &ValidatedTenant) -> String {
    let mut parts = Vec::new();
    if a.default_toll.number != b.default_toll.number {
        parts.push("the default toll number");
    }
    if a.default_toll_free.as_ref().map(|n| &n.number) != b.default_toll_free.as_ref().map(|n| &n.number) {
        parts.push("the default toll-free number");
    }
    if a.id_mode != b.id_mode {
        parts.push("the conference-ID mode");
    }
    if a.id_length != b.id_length {
        parts.push("the conference-ID length");
    }
    if a.pin_length != b.pin_length {
        parts.push("the PIN length");
    }
    if a.automatic_emails != b.automatic_emails {
        parts.push("automatic e-mails");
    }
    if a.numbers != b.numbers && parts.is_empty() {
        parts.push("the dial-in numbers");
    }
    if a.default_locale != b.default_locale {
        parts.push("the default language");
    }
    if a.allow_pstn_only_meetings_by_default != b.allow_pstn_only_meetings_by_default {
        parts.push("the PSTN-only meeting default");
    }
    match parts.len() {
        0 => String::new(),
        1 => parts[0].to_string(),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

/// `4212` as `4,212`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4212), "4,212");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
