//! `kubectl conferencing explain USER -n NS`: where the user stands, why it is not Ready, and
//! which field to change; then its conditions, its e-mails still owed or refused with their
//! last error, and requests the operator has not handled yet.

use std::io::Write;

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::advice::{self, Subject};
use super::view::{self, State};
use super::{PluginError, Terminal, Verdict};
use conferencing_operator::api::{Condition, ConditionStatus, ConferencingTenant, ConferencingUser, Reason};

/// Whether a condition is in its good state (nothing to explain).
fn is_good(c: &Condition) -> bool {
    match c.type_.as_str() {
        "Ready" | "NotificationDelivered" => c.status == ConditionStatus::True,
        "Stalled" | "Reconciling" => c.status != ConditionStatus::True,
        _ => true,
    }
}

/// Writes the explanation of `u`. `tenants` are the tenants of its namespace.
pub(crate) fn render(
    u: &ConferencingUser,
    tenants: &[ConferencingTenant],
    out: &mut Terminal<impl Write>,
) -> std::io::Result<()> {
    let ns = u.namespace().unwrap_or_default();
    let name = u.name_any();
    let tenant_names: Vec<String> = tenants.iter().map(ResourceExt::name_any).collect();
    let subject = Subject {
        kind: "ConferencingUser",
        namespace: &ns,
        name: &name,
        tenant: &u.spec.tenant_ref.name,
        static_id: u.spec.conference_id.as_deref(),
        existing_tenants: &tenant_names,
    };
    let st = u.status.as_ref();
    let generation = u.metadata.generation.unwrap_or_default();
    out.line(format!(
        "ConferencingUser {ns}/{name} (tenant {}, generation {generation}, status of generation {})",
        u.spec.tenant_ref.name,
        st.and_then(|s| s.observed_generation).map_or("none".into(), |g| g.to_string())
    ))?;

    let explain = |out: &mut Terminal<_>, c: &Condition| -> std::io::Result<()> {
        let a = advice::for_reason(&c.type_, &c.reason, &subject);
        out.line(format!("  Why:    {}", a.meaning))?;
        out.line(format!("  Change: {}", a.change))?;
        if Reason::TenantInvalid == c.reason.as_str()
            && let Some(t) = tenants.iter().find(|t| t.name_any() == u.spec.tenant_ref.name)
            && let Some(tc) = t.status.as_ref().and_then(|s| view::condition(&s.conditions, "Ready"))
        {
            out.line(format!("  Tenant {} says: {}: {}", t.name_any(), tc.reason, tc.message))?;
        }
        Ok(())
    };

    let headline = match view::user_state(u) {
        State::NotReconciled => {
            out.line(format!("Not reconciled yet: the operator has written no status. Check that it runs and watches namespace {ns} (its --namespace flag)."))?;
            None
        }
        State::Stale { observed, generation } => {
            out.line(format!("In progress: the operator has not looked at generation {generation} yet (the status is of {}). If that lasts, check that the operator runs.",
                observed.map_or("none".into(), |o| o.to_string())))?;
            None
        }
        State::Stalled(c) => {
            out.line(format!("Blocked ({}={:?}, {}): {}", c.type_, c.status, c.reason, c.message))?;
            explain(out, c)?;
            Some(c)
        }
        State::Reconciling(c) => {
            out.line(format!("Work under way ({}): {}", c.reason, c.message))?;
            explain(out, c)?;
            Some(c)
        }
        State::Ready(c) => {
            out.line(format!("Ready: {}", c.message))?;
            out.line("  Nothing to change.")?;
            Some(c)
        }
        State::Waiting(Some(c)) => {
            out.line(format!("Not Ready ({}): {}", c.reason, c.message))?;
            explain(out, c)?;
            Some(c)
        }
        State::Waiting(None) => {
            out.line("No Ready condition yet.")?;
            None
        }
    };

    let conditions = st.map(|s| s.conditions.as_slice()).unwrap_or_default();
    if !conditions.is_empty() {
        out.blank()?;
        out.line("Conditions:")?;
        for c in conditions {
            out.line(format!("  {}={:?} ({}): {}", c.type_, c.status, c.reason, c.message))?;
            let same_as_headline = headline.is_some_and(|h| h.type_ == c.type_ && h.reason == c.reason);
            if !is_good(c) && !same_as_headline {
                let a = advice::for_reason(&c.type_, &c.reason, &subject);
                out.line(format!("    {} {}", a.meaning, a.change))?;
            }
        }
    }

    let pending: Vec<_> = view::pending(u).collect();
    if !pending.is_empty() {
        out.blank()?;
        out.line("E-mails pending:")?;
        for n in pending {
            out.line(format!("  {}", view::describe_pending(n)))?;
        }
    }
    let failed: Vec<_> = view::failed(u).collect();
    if !failed.is_empty() {
        out.blank()?;
        out.line(format!("E-mails refused for good (fix spec.email or spec.sendEmailToAddress, then `kubectl conferencing send-info {name} -n {ns}`):"))?;
        for n in failed {
            out.line(format!("  {}", view::describe_pending(n)))?;
        }
    }

    let handled = st.map(|s| s.handled_requests.clone()).unwrap_or_default();
    let r = &u.spec.requests;
    let open: Vec<(&str, &str, Option<&str>)> = [
        ("resetPin", r.reset_pin.as_deref(), handled.reset_pin.as_deref()),
        ("resetConferenceId", r.reset_conference_id.as_deref(), handled.reset_conference_id.as_deref()),
        ("sendConferencingInfo", r.send_conferencing_info.as_deref(), handled.send_conferencing_info.as_deref()),
    ]
    .into_iter()
    .filter_map(|(field, asked, done)| asked.filter(|a| Some(*a) != done).map(|a| (field, a, done)))
    .collect();
    if !open.is_empty() {
        out.blank()?;
        out.line("Requests not handled yet (carried out once the user can progress):")?;
        for (field, asked, done) in open {
            out.line(format!("  spec.requests.{field}: {asked} (last handled: {})", done.unwrap_or("none")))?;
        }
    }
    Ok(())
}

/// Runs `explain`.
pub(crate) async fn run(
    client: &Client,
    ns: &str,
    name: &str,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    let user = Api::<ConferencingUser>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(PluginError::kube(format!("reading ConferencingUser {ns}/{name}")))?
        .ok_or_else(|| PluginError::UserNotFound { namespace: ns.into(), name: name.into() })?;
    let tenants = Api::<ConferencingTenant>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(PluginError::kube(format!("listing ConferencingTenants in namespace {ns}")))?;
    render(&user, &tenants.items, out)?;
    Ok(Verdict::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(user_yaml: &str, tenants: &[ConferencingTenant]) -> String {
        let u: ConferencingUser = serde_yaml::from_str(user_yaml).expect("user");
        let mut out = Terminal::new(Vec::new());
        render(&u, tenants, &mut out).expect("render");
        String::from_utf8(out.into_inner()).expect("utf8")
    }

    const HEAD: &str = "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata: {name: bob, namespace: acme, generation: 2}\n";

    #[test]
    fn conflict_names_the_field_and_the_holder_command() {
        let text = explain(
            &format!(
                "{HEAD}spec: {{tenantRef: {{name: acme}}, displayName: B, email: b@acme.example, conferenceId: '4455667', requests: {{resetPin: t2}}}}\n\
                 status: {{observedGeneration: 2, handledRequests: {{resetPin: t1}}, conditions: [\
                 {{type: Ready, status: 'False', reason: ConferenceIdConflict, message: 'spec.conferenceId 4455667 is already held by user alice', lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}"
            ),
            &[],
        );
        assert!(text.contains("Blocked (Ready=False, ConferenceIdConflict)"), "{text}");
        assert!(text.contains("Change: Set another spec.conferenceId"), "{text}");
        assert!(text.contains("who-has 4455667 -n acme"), "{text}");
        assert!(text.contains("spec.requests.resetPin: t2 (last handled: t1)"), "{text}");
    }

    #[test]
    fn missing_tenant_lists_the_tenants_there_are() {
        let tenant: ConferencingTenant = serde_yaml::from_str(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingTenant\nmetadata: {name: acme, namespace: acme}\nspec: {serviceNumbers: [{number: '+14255550100', type: Toll}]}",
        )
        .expect("tenant");
        let text = explain(
            &format!(
                "{HEAD}spec: {{tenantRef: {{name: acne}}, displayName: B, email: b@acme.example}}\n\
                 status: {{observedGeneration: 2, conditions: [\
                 {{type: Ready, status: 'False', reason: TenantNotFound, message: 'tenant acne not found', lastTransitionTime: '2026-01-01T00:00:00Z'}},\
                 {{type: Stalled, status: 'True', reason: TenantNotFound, message: 'tenant acne not found', lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}"
            ),
            &[tenant],
        );
        assert!(text.contains("Blocked (Stalled=True, TenantNotFound)"), "{text}");
        assert!(text.contains("spec.tenantRef.name") && text.contains("existing: acme"), "{text}");
    }

    #[test]
    fn failed_mail_shows_its_last_error() {
        let text = explain(
            &format!(
                "{HEAD}spec: {{tenantRef: {{name: acme}}, displayName: B, email: b@acme.example}}\n\
                 status: {{observedGeneration: 2, conditions: [\
                 {{type: NotificationDelivered, status: 'False', reason: PermanentFailure, message: refused, lastTransitionTime: '2026-01-01T00:00:00Z'}},\
                 {{type: Ready, status: 'True', reason: Reconciled, message: enabled, lastTransitionTime: '2026-01-01T00:00:00Z'}}],\
                 notifications: {{pending: [{{kind: PinReset, messageId: '<m>', recipient: b@acme.example, attempts: 1, lastError: '550 5.1.1 no such user', permanentlyFailed: true}}]}}}}"
            ),
            &[],
        );
        assert!(text.starts_with("ConferencingUser acme/bob"), "{text}");
        assert!(text.contains("Ready: enabled"), "{text}");
        assert!(text.contains("The mail server refused an e-mail for good."), "{text}");
        assert!(text.contains("PinReset to b@acme.example, 1 attempt, last error: 550 5.1.1 no such user"), "{text}");
    }

    #[test]
    fn not_reconciled_says_so() {
        let text = explain(
            &format!("{HEAD}spec: {{tenantRef: {{name: acme}}, displayName: B, email: b@acme.example}}\n"),
            &[],
        );
        assert!(text.contains("Not reconciled yet"), "{text}");
    }

    /// Everything `explain` prints from the user and its tenant, with ESC sequences, a bidi
    /// override and a line break in it, in every state that prints a condition.
    #[test]
    fn values_from_objects_reach_the_terminal_escaped() {
        use crate::terminal::testing::*;
        let mut tenant: ConferencingTenant = serde_yaml::from_str(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingTenant\nmetadata: {name: acme, namespace: acme}\nspec: {serviceNumbers: [{number: '+14255550100', type: Toll}]}\n\
             status: {conditions: [{type: Ready, status: 'False', reason: InvalidSpec, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
        )
        .expect("tenant");
        for c in tenant.status.iter_mut().flat_map(|s| s.conditions.iter_mut()) {
            c.reason = hostile("InvalidSpec");
            c.message = hostile("bad tenant");
        }
        for (ready, extra) in [
            (
                "TenantInvalid",
                "{type: Stalled, status: 'True', reason: TenantInvalid, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}",
            ),
            (
                "TenantNotFound",
                "{type: Reconciling, status: 'True', reason: NotificationsPending, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}",
            ),
            (
                "InternalError",
                "{type: NotificationDelivered, status: 'False', reason: PermanentFailure, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}",
            ),
            (
                "Reconciled",
                "{type: NotificationDelivered, status: 'True', reason: Delivered, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}",
            ),
        ] {
            let status = if ready == "Reconciled" { "True" } else { "False" };
            let mut u: ConferencingUser = serde_yaml::from_str(&format!(
                "{HEAD}spec: {{tenantRef: {{name: acme}}, displayName: B, email: b@acme.example, conferenceId: '4455667', requests: {{resetPin: t2, sendConferencingInfo: s2}}}}\n\
                 status: {{observedGeneration: 2, handledRequests: {{resetPin: t1}}, conditions: [\
                 {{type: Ready, status: '{status}', reason: {ready}, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}}, {extra}],\
                 notifications: {{pending: [{{kind: PinReset, messageId: '<m>', recipient: b@acme.example, attempts: 1, lastError: e}},\
                 {{kind: PinReset, messageId: '<n>', recipient: b@acme.example, attempts: 1, lastError: e, permanentlyFailed: true}}]}}}}"
            ))
            .expect("user");
            let st = u.status.as_mut().expect("status");
            for c in &mut st.conditions {
                c.message = hostile("held by alice");
                // A Ready reason the plugin does not know is shown in its advice too.
                if c.type_ != "Ready" || ready == "InternalError" {
                    c.reason = hostile(&c.reason);
                }
            }
            // A condition type of a newer operator (or anyone's): type and reason are shown.
            let mut other = st.conditions[0].clone();
            other.type_ = hostile("Custom");
            other.reason = hostile("New");
            st.conditions.push(other);
            for n in &mut st.notifications.pending {
                n.recipient = hostile("b@acme.example");
                n.last_error = Some(hostile("550"));
            }
            st.handled_requests.reset_pin = Some(hostile("t1"));
            u.spec.requests.reset_pin = Some(hostile("t2"));
            u.spec.conference_id = Some(hostile("4455667"));
            let mut t = tenant.clone();
            if ready == "TenantInvalid" {
                u.spec.tenant_ref.name = hostile("acme");
                t.metadata.name = Some(u.spec.tenant_ref.name.clone());
            }
            let mut out = Terminal::new(Vec::new());
            render(&u, &[t], &mut out).expect("render");
            let text = text(out.into_inner());
            assert_shown_safely(&text);
            assert!(text.contains("Conditions:") && text.contains("E-mails refused for good"), "{ready}:\n{text}");
        }
    }

    /// Stored before the CRD had a pattern: the tenant name itself is hostile.
    #[test]
    fn a_hostile_tenant_name_is_shown_escaped() {
        use crate::terminal::testing::*;
        let mut u: ConferencingUser = serde_yaml::from_str(&format!(
            "{HEAD}spec: {{tenantRef: {{name: acme}}, displayName: B, email: b@acme.example}}\n\
             status: {{observedGeneration: 2, conditions: [\
             {{type: Ready, status: 'False', reason: TenantNotFound, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}"
        ))
        .expect("user");
        u.spec.tenant_ref.name = hostile("acme");
        // As an operator from before the fix wrote it: the name copied into the message.
        for c in u.status.iter_mut().flat_map(|s| s.conditions.iter_mut()) {
            c.message = format!("ConferencingTenant {} does not exist in this namespace", u.spec.tenant_ref.name);
        }
        let mut out = Terminal::new(Vec::new());
        render(&u, &[], &mut out).expect("render");
        let text = text(out.into_inner());
        assert_shown_safely(&text);
        assert!(text.contains("(tenant acme\\u{1b}]52;c;"), "{text}");
    }
}
