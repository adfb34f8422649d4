//! `kubectl conferencing status [-n NS | -A] [TENANT]`: per tenant, its users, how many are
//! Ready, the blocked ones and why, the e-mails pending, held (`notifications.hold`) or
//! refused for good, and the PINs to be rotated this week (`pin.lifetime`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::view::{self, State};
use super::{PluginError, Terminal, Verdict};
use conferencing_operator::api::{ConditionStatus, ConferencingTenant, ConferencingUser};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

/// One tenant's line and details.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TenantSummary {
    /// Namespace.
    pub namespace: String,
    /// Tenant name.
    pub name: String,
    /// The tenant's own state: `True`, `False (Reason)`, `Pending` (no status yet), or
    /// `NotFound` (users reference it but it does not exist).
    pub tenant_ready: String,
    /// Users that reference the tenant.
    pub users: usize,
    /// Of those, Ready for their current generation.
    pub ready: usize,
    /// Users that cannot progress or are not Ready: (user, reason, message).
    pub blocked: Vec<(String, String, String)>,
    /// Users the operator has not caught up with: (user, what).
    pub waiting: Vec<(String, String)>,
    /// Whether the tenant holds its e-mails (`spec.notifications.hold`): then every e-mail
    /// owed is held, not pending.
    pub holding: bool,
    /// E-mails owed: (user, description).
    pub pending: Vec<(String, String)>,
    /// E-mails refused for good: (user, description).
    pub failed: Vec<(String, String)>,
    /// PINs to be rotated within 7 days (or overdue), by `status.pinExpiresAt`.
    pub rotations_due: usize,
}

/// Groups users under their tenants (including tenants that users name but that do not
/// exist), optionally only `only_tenant`.
pub(crate) fn summarize(
    tenants: &[ConferencingTenant],
    users: &[ConferencingUser],
    only_tenant: Option<&str>,
    now: Timestamp,
) -> Vec<TenantSummary> {
    let week = now.checked_add(SignedDuration::from_hours(7 * 24)).unwrap_or(now);
    let mut by_tenant: BTreeMap<(String, String), TenantSummary> = BTreeMap::new();
    for t in tenants {
        let key = (t.namespace().unwrap_or_default(), t.name_any());
        let tenant_ready = match t.status.as_ref() {
            None => "Pending".to_string(),
            Some(st) => match view::condition(&st.conditions, "Ready") {
                Some(c) if c.status == ConditionStatus::True => "True".to_string(),
                Some(c) => format!("{:?} ({})", c.status, c.reason),
                None => "Pending".to_string(),
            },
        };
        by_tenant.insert(
            key.clone(),
            TenantSummary {
                namespace: key.0,
                name: key.1,
                tenant_ready,
                holding: t.spec.notifications.hold,
                ..Default::default()
            },
        );
    }
    for u in users {
        let key = (u.namespace().unwrap_or_default(), u.spec.tenant_ref.name.clone());
        let summary = by_tenant.entry(key.clone()).or_insert_with(|| TenantSummary {
            namespace: key.0.clone(),
            name: key.1.clone(),
            tenant_ready: "NotFound".into(),
            ..Default::default()
        });
        let name = u.name_any();
        summary.users += 1;
        if view::is_ready(u) {
            summary.ready += 1;
        }
        match view::user_state(u) {
            State::NotReconciled => summary.waiting.push((name.clone(), "not reconciled yet".into())),
            State::Stale { observed, generation } => summary.waiting.push((
                name.clone(),
                format!(
                    "generation {generation} not observed yet (status is of {})",
                    observed.map_or("none".to_string(), |o| o.to_string())
                ),
            )),
            State::Stalled(c) => summary.blocked.push((name.clone(), c.reason.clone(), c.message.clone())),
            State::Waiting(Some(c)) if c.status == ConditionStatus::False => {
                summary.blocked.push((name.clone(), c.reason.clone(), c.message.clone()))
            }
            _ => {}
        }
        for n in view::pending(u) {
            summary.pending.push((name.clone(), view::describe_pending(n)));
        }
        for n in view::failed(u) {
            summary.failed.push((name.clone(), view::describe_pending(n)));
        }
        if u.status.as_ref().and_then(|s| s.pin_expires_at.as_ref()).is_some_and(|t| t.0 < week) {
            summary.rotations_due += 1;
        }
    }
    by_tenant.into_values().filter(|s| only_tenant.is_none_or(|t| s.name == t)).collect()
}

/// Writes the summaries: a table, then the details of tenants that have any.
pub(crate) fn render(
    summaries: &[TenantSummary],
    all_namespaces: bool,
    out: &mut Terminal<impl Write>,
) -> io::Result<()> {
    out.aligned(|tw| {
        let mut header = vec![
            "TENANT",
            "TENANT READY",
            "USERS",
            "READY",
            "BLOCKED",
            "E-MAILS PENDING",
            "E-MAILS HELD",
            "E-MAILS FAILED",
            "PIN ROTATIONS (7D)",
        ];
        if all_namespaces {
            header.insert(0, "NAMESPACE");
        }
        tw.row(&header)?;
        for s in summaries {
            let mut row = vec![
                s.name.clone(),
                s.tenant_ready.clone(),
                s.users.to_string(),
                s.ready.to_string(),
                s.blocked.len().to_string(),
                if s.holding { 0 } else { s.pending.len() }.to_string(),
                if s.holding { s.pending.len() } else { 0 }.to_string(),
                s.failed.len().to_string(),
                s.rotations_due.to_string(),
            ];
            if all_namespaces {
                row.insert(0, s.namespace.clone());
            }
            tw.row(&row)?;
        }
        for s in summaries {
            if s.blocked.is_empty() && s.waiting.is_empty() && s.pending.is_empty() && s.failed.is_empty() {
                continue;
            }
            tw.blank()?;
            tw.line(format!("Tenant {}/{}:", s.namespace, s.name))?;
            if !s.blocked.is_empty() {
                tw.line("  Blocked users:")?;
                for (user, reason, message) in &s.blocked {
                    tw.row(&[format!("    {user}"), reason.clone(), message.clone()])?;
                }
            }
            let owed = if s.holding {
                "  E-mails held (notifications.hold is true: set it to false to send each once, or give requests.discardHeldEmails a new value to drop them):"
            } else {
                "  E-mails pending:"
            };
            let lists = [
                ("  Waiting for the operator:", &s.waiting),
                (owed, &s.pending),
                (
                    "  E-mails refused for good (fix the address, then `kubectl conferencing send-info USER`):",
                    &s.failed,
                ),
            ];
            for (heading, list) in lists {
                if !list.is_empty() {
                    tw.line(heading)?;
                    for (user, what) in list {
                        tw.row(&[format!("    {user}"), what.clone()])?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// Runs `status` in `namespace` (all namespaces when `None`).
pub(crate) async fn run(
    client: &Client,
    namespace: Option<&str>,
    tenant: Option<&str>,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    let (tenants, users): (Api<ConferencingTenant>, Api<ConferencingUser>) = match namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let where_ = namespace.map_or("all namespaces".to_string(), |ns| format!("namespace {ns}"));
    let tenants = tenants
        .list(&ListParams::default())
        .await
        .map_err(PluginError::kube(format!("listing ConferencingTenants in {where_}")))?;
    let users = users
        .list(&ListParams::default())
        .await
        .map_err(PluginError::kube(format!("listing ConferencingUsers in {where_}")))?;
    let summaries = summarize(&tenants.items, &users.items, tenant, Timestamp::now());
    if summaries.is_empty() {
        if let Some(t) = tenant {
            return Err(PluginError::TenantNotFound {
                namespace: namespace.unwrap_or("(any)").to_string(),
                name: t.to_string(),
            });
        }
        out.line(format!("No conferencing tenants or users in {where_}."))?;
        return Ok(Verdict::Ok);
    }
    render(&summaries, namespace.is_none(), out)?;
    Ok(Verdict::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(yaml: &str) -> ConferencingUser {
        serde_yaml::from_str(yaml).expect("user yaml")
    }

    fn tenant(name: &str) -> ConferencingTenant {
        serde_yaml::from_str(&format!(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingTenant\nmetadata: {{name: {name}, namespace: acme, generation: 1}}\n\
             spec: {{serviceNumbers: [{{number: '+14255550100', type: Toll}}]}}\n\
             status: {{observedGeneration: 1, users: 0, conditions: [{{type: Ready, status: 'True', reason: Reconciled, message: ok, lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}"
        ))
        .expect("tenant yaml")
    }

    const READY: &str = "{type: Ready, status: 'True', reason: Reconciled, message: enabled, lastTransitionTime: '2026-01-01T00:00:00Z'}";

    fn with(name: &str, tenant: &str, status: &str) -> ConferencingUser {
        user(&format!(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata: {{name: {name}, namespace: acme, generation: 2}}\n\
             spec: {{tenantRef: {{name: {tenant}}}, displayName: X, email: {name}@acme.example}}\n{status}"
        ))
    }

    #[test]
    fn counts_ready_blocked_waiting_and_mail() {
        let users = vec![
            with("alice", "acme", &format!("status: {{observedGeneration: 2, conditions: [{READY}]}}")),
            with(
                "bob",
                "acme",
                "status: {observedGeneration: 2, conditions: [{type: Ready, status: 'False', reason: ConferenceIdConflict, message: held by alice, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
            ),
            with("chen", "acme", ""),
            with(
                "dana",
                "acme",
                &format!(
                    "status: {{observedGeneration: 2, conditions: [{READY}], notifications: {{pending: [\
                     {{kind: PinReset, messageId: '<a>', recipient: dana@acme.example, attempts: 2, lastError: connection refused}},\
                     {{kind: LicenseAssigned, messageId: '<b>', recipient: dana@acme.example, attempts: 1, lastError: '550 no such user', permanentlyFailed: true}}]}}}}"
                ),
            ),
            with("eve", "gone", &format!("status: {{observedGeneration: 1, conditions: [{READY}]}}")),
        ];
        let s = summarize(&[tenant("acme")], &users, None, Timestamp::UNIX_EPOCH);
        assert_eq!(s.len(), 2);
        let acme = &s[0];
        assert_eq!((acme.name.as_str(), acme.users, acme.ready), ("acme", 4, 2));
        assert_eq!(acme.tenant_ready, "True");
        assert_eq!(acme.blocked, vec![("bob".into(), "ConferenceIdConflict".into(), "held by alice".into())]);
        assert_eq!(acme.waiting, vec![("chen".into(), "not reconciled yet".into())]);
        assert_eq!(acme.pending.len(), 1);
        assert!(
            acme.pending[0].1.contains("PinReset to dana@acme.example, 2 attempts, last error: connection refused")
        );
        assert_eq!(acme.failed.len(), 1);
        assert!(acme.failed[0].1.contains("550 no such user"));
        let gone = &s[1];
        assert_eq!((gone.name.as_str(), gone.tenant_ready.as_str(), gone.ready), ("gone", "NotFound", 0));
        assert!(gone.waiting[0].1.contains("generation 2 not observed yet"));

        let only = summarize(&[tenant("acme")], &users, Some("gone"), Timestamp::UNIX_EPOCH);
        assert_eq!(only.len(), 1);

        // A tenant that holds its e-mails shows them as held, not pending.
        let mut holding = tenant("acme");
        holding.spec.notifications.hold = true;
        let held = summarize(&[holding], &users, Some("acme"), Timestamp::UNIX_EPOCH);
        let mut out = Terminal::new(Vec::new());
        render(&held, false, &mut out).expect("render");
        let text = String::from_utf8(out.into_inner()).expect("utf8");
        assert!(text.contains("E-mails held (notifications.hold is true"), "{text}");
        assert!(!text.contains("E-mails pending:"), "{text}");

        let mut out = Terminal::new(Vec::new());
        render(&s, false, &mut out).expect("render");
        let text = String::from_utf8(out.into_inner()).expect("utf8");
        assert!(text.starts_with("TENANT"), "{text}");
        assert!(text.contains("Blocked users:") && text.contains("ConferenceIdConflict"), "{text}");
        assert!(text.contains("E-mails refused for good"), "{text}");
    }

    /// Everything `status` prints from an object, with ESC sequences, a bidi override and a
    /// line break in it: the tenant's name (a user's tenantRef) and Ready reason, the blocked
    /// users' reasons and messages, and the e-mails' recipients and errors.
    #[test]
    fn values_from_objects_reach_the_terminal_escaped() {
        use crate::terminal::testing::*;
        let evil = hostile("acme");
        let mut t = tenant("acme");
        if let Some(c) = t.status.as_mut().and_then(|s| s.conditions.first_mut()) {
            c.status = ConditionStatus::False;
            c.reason = hostile("Invalid");
        }
        let mut blocked = with(
            "bob",
            "acme",
            "status: {observedGeneration: 2, conditions: [{type: Ready, status: 'False', reason: X, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
        );
        if let Some(c) = blocked.status.as_mut().and_then(|s| s.conditions.first_mut()) {
            c.reason = hostile("TenantNotFound");
            c.message = hostile("tenant not found");
        }
        let mut mail = with(
            "dana",
            "acme",
            "status: {observedGeneration: 2, notifications: {pending: [\
             {kind: PinReset, messageId: '<a>', recipient: d@acme.example, attempts: 2, lastError: refused},\
             {kind: PinReset, messageId: '<b>', recipient: d@acme.example, attempts: 1, lastError: '550', permanentlyFailed: true}]}}",
        );
        for n in mail.status.iter_mut().flat_map(|s| s.notifications.pending.iter_mut()) {
            n.recipient = hostile("d@acme.example");
            n.last_error = Some(hostile("550"));
        }
        let mut stray = with("eve", "acme", "");
        stray.spec.tenant_ref.name = evil.clone();
        let summaries = summarize(&[t], &[blocked, mail, stray], None, Timestamp::UNIX_EPOCH);
        for all_namespaces in [false, true] {
            let mut out = Terminal::new(Vec::new());
            render(&summaries, all_namespaces, &mut out).expect("render");
            let text = text(out.into_inner());
            assert_shown_safely(&text);
            assert!(text.contains("acme\\u{1b}]52;c;"), "{text}");
            assert!(text.contains("Blocked users:") && text.contains("E-mails refused for good"), "{text}");
        }
    }

    #[test]
    fn counts_the_pins_rotated_within_seven_days_overdue_ones_included() {
        let expiring = |name: &str, at: &str| {
            with(
                name,
                "acme",
                &format!("status: {{observedGeneration: 2, conditions: [{READY}], pinExpiresAt: '{at}'}}"),
            )
        };
        let users = vec![
            expiring("overdue", "2026-12-01T00:00:00Z"),
            expiring("tomorrow", "2026-12-08T12:00:00Z"),
            expiring("in-six-days", "2026-12-13T23:00:00Z"),
            expiring("in-eight-days", "2026-12-15T12:00:00Z"),
            with("never", "acme", &format!("status: {{observedGeneration: 2, conditions: [{READY}]}}")),
        ];
        let now: Timestamp = "2026-12-07T12:00:00Z".parse().expect("time");
        let s = summarize(&[tenant("acme")], &users, None, now);
        assert_eq!(s[0].rotations_due, 3);
        let mut out = Terminal::new(Vec::new());
        render(&s, false, &mut out).expect("render");
        let text = String::from_utf8(out.into_inner()).expect("utf8");
        assert!(text.contains("PIN ROTATIONS (7D)"), "{text}");
    }
}
