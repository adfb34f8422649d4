//! `kubectl conferencing reset-pin | reset-conference-id | send-info USER`: writes a fresh
//! request token into `spec.requests.<x>`, waits until the operator has handled it
//! (`status.handledRequests.<x>` is the token and `status.observedGeneration` has caught up),
//! and says what happened. The PIN itself is never read: only the name of its Secret is shown.

use std::collections::HashSet;
use std::io::Write;
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use super::advice::{self, Subject};
use super::kubeconfig::Connection;
use super::progress::Progress;
use super::view::{self, State};
use super::{FIELD_MANAGER, PluginError, Terminal, Verdict, gitops};
use conferencing_operator::api::{
    ConferencingTenant, ConferencingUser, ConferencingUserStatus, HandledRequests, NotificationKind, ProviderType,
    Requests,
};

/// Arguments of the request verbs.
#[derive(clap::Args, Debug)]
pub struct RequestArgs {
    /// The ConferencingUser.
    pub user: String,
    /// Write the request and return without waiting for the operator.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the operator, e.g. 30s or 2m.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2m")]
    pub timeout: Duration,
    /// Write the request even though a GitOps tool manages the user.
    #[arg(long)]
    pub force: bool,
}

/// The three one-shot requests of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `spec.requests.resetPin`.
    ResetPin,
    /// `spec.requests.resetConferenceId`.
    ResetConferenceId,
    /// `spec.requests.sendConferencingInfo`.
    SendConferencingInfo,
}

impl Request {
    /// The field under `spec.requests` and `status.handledRequests`.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Request::ResetPin => "resetPin",
            Request::ResetConferenceId => "resetConferenceId",
            Request::SendConferencingInfo => "sendConferencingInfo",
        }
    }

    fn requested(self, r: &Requests) -> Option<&str> {
        match self {
            Request::ResetPin => r.reset_pin.as_deref(),
            Request::ResetConferenceId => r.reset_conference_id.as_deref(),
            Request::SendConferencingInfo => r.send_conferencing_info.as_deref(),
        }
    }

    fn handled(self, h: &HandledRequests) -> Option<&str> {
        match self {
            Request::ResetPin => h.reset_pin.as_deref(),
            Request::ResetConferenceId => h.reset_conference_id.as_deref(),
            Request::SendConferencingInfo => h.send_conferencing_info.as_deref(),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Request::ResetPin => "a new leader PIN",
            Request::ResetConferenceId => "a new conference ID",
            Request::SendConferencingInfo => "the conferencing information e-mail",
        }
    }

    /// The e-mail the operator owes for this request when it carries it out.
    pub(crate) fn email_kind(self) -> NotificationKind {
        match self {
            Request::ResetPin => NotificationKind::PinReset,
            Request::ResetConferenceId => NotificationKind::ConferenceIdReset,
            Request::SendConferencingInfo => NotificationKind::ConferencingInfoRequested,
        }
    }
}

/// A token that is neither the current request nor the last handled one. The time makes it
/// readable in `kubectl get -o yaml` and in Git; the random part keeps two requests in the
/// same second apart (the operator names each e-mail's Message-ID after its token, so a token
/// must never come back).
pub(crate) fn new_token(now: chrono::DateTime<chrono::Utc>, taken: &[Option<&str>]) -> String {
    loop {
        let token = format!("kubectl-{}-{:04x}", now.format("%Y-%m-%dT%H:%M:%SZ"), rand::random::<u16>());
        if !taken.contains(&Some(token.as_str())) {
            return token;
        }
    }
}

/// What waiting for the operator came to.
#[derive(Debug)]
pub(crate) enum Waited {
    /// The operator handled the token.
    Handled(Box<ConferencingUser>),
    /// The operator looked at the new generation and could not handle it.
    Blocked(Box<ConferencingUser>),
    /// Someone wrote another token before the operator handled this one.
    Superseded(Box<ConferencingUser>),
    /// Time ran out; the last state seen, if any.
    TimedOut(Option<Box<ConferencingUser>>),
}

/// Decides, from one observed state of the user, whether waiting is over.
pub(crate) fn judge(u: &ConferencingUser, req: Request, token: &str, generation: i64) -> Option<Waited> {
    if req.requested(&u.spec.requests) != Some(token) {
        return Some(Waited::Superseded(Box::new(u.clone())));
    }
    let st = u.status.as_ref()?;
    if st.observed_generation.is_none_or(|o| o < generation) {
        return None;
    }
    if req.handled(&st.handled_requests) == Some(token) {
        return Some(Waited::Handled(Box::new(u.clone())));
    }
    // The operator has seen the request and not handled it: it only does that when the user
    // cannot progress until something changes. A passing error (InternalError) is retried.
    if view::user_state(u).is_stalled() {
        return Some(Waited::Blocked(Box::new(u.clone())));
    }
    None
}

/// A line about where the user stands, for the progress indicator; `None` when there is
/// nothing to add to the first line.
fn waiting_line(u: &ConferencingUser, req: Request, generation: i64) -> Option<String> {
    let base = format!("Waiting for the operator to handle spec.requests.{}", req.field());
    match view::user_state(u) {
        State::NotReconciled => Some(format!("{base} (the user has no status yet)")),
        State::Stale { observed, .. } => Some(format!(
            "{base} (status is of generation {}, the request is generation {generation})",
            observed.map_or("none".into(), |o| o.to_string())
        )),
        State::Reconciling(c) | State::Waiting(Some(c)) => Some(format!("{base} ({}: {})", c.reason, c.message)),
        _ => None,
    }
}

/// How long to wait, once the request is handled, for its e-mail to leave the outbox. The
/// operator sends it right after recording it, so this is normally a fraction of a second; a
/// mail server that is down must not hold the command up for long.
const EMAIL_GRACE: Duration = Duration::from_secs(10);

/// Watches the user until `decide` returns a result or `timeout` passes; then the result (none
/// on time-out) and the last state seen. `decide` also gives the progress line for a state.
async fn watch_user<T>(
    api: &Api<ConferencingUser>,
    name: &str,
    timeout: Duration,
    progress: &mut Progress,
    mut decide: impl FnMut(&ConferencingUser) -> (Option<T>, Option<String>),
) -> Result<(Option<T>, Option<Box<ConferencingUser>>), PluginError> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = pin!(watcher(api.clone(), config).default_backoff().applied_objects());
    let mut last: Option<Box<ConferencingUser>> = None;
    let watching = async {
        while let Some(event) = events.next().await {
            match event {
                Ok(u) => {
                    let (done, line) = decide(&u);
                    if let Some(line) = line {
                        progress.update(&line);
                    }
                    if done.is_some() {
                        return Ok(done);
                    }
                    last = Some(Box::new(u));
                }
                // Retrying cannot fix a missing permission.
                Err(watcher::Error::WatchError(status)) if status.code == 403 => {
                    return Err(PluginError::Kube {
                        action: format!("watching ConferencingUser {name}"),
                        source: kube::Error::Api(status),
                    });
                }
                // Anything else is retried by the watcher with backoff; say so and go on.
                Err(e) => progress.update(&format!("Watching the user failed, retrying: {e}")),
            }
        }
        Ok(None)
    };
    match tokio::time::timeout(timeout, watching).await {
        Ok(done) => Ok((done?, last)),
        Err(_elapsed) => Ok((None, last)),
    }
}

/// Waits until the operator has handled the token, then briefly for the request's e-mail.
async fn wait(
    api: &Api<ConferencingUser>,
    name: &str,
    req: Request,
    token: &str,
    generation: i64,
    before: &HashSet<String>,
    timeout: Duration,
) -> Result<Waited, PluginError> {
    let started = std::time::Instant::now();
    let mut progress = Progress::start(&format!(
        "Waiting for the operator to handle spec.requests.{} (up to {})",
        req.field(),
        humantime::format_duration(timeout)
    ));
    let (done, last) = watch_user(api, name, timeout, &mut progress, |u| {
        (judge(u, req, token, generation), waiting_line(u, req, generation))
    })
    .await?;
    let waited = match done {
        Some(Waited::Handled(u)) if email_unsettled(&u, req, before) => {
            let grace = EMAIL_GRACE.min(timeout.saturating_sub(started.elapsed()));
            let line = format!("Waiting for the {} e-mail to be sent", req.email_kind());
            let (settled, _) = watch_user(api, name, grace, &mut progress, |u| {
                ((!email_unsettled(u, req, before)).then(|| u.clone()), Some(line.clone()))
            })
            .await?;
            Waited::Handled(settled.map_or(u, Box::new))
        }
        Some(w) => w,
        None => Waited::TimedOut(last),
    };
    progress.finish();
    Ok(waited)
}

/// Whether the request's new e-mail is recorded and still waiting to be sent.
fn email_unsettled(u: &ConferencingUser, req: Request, before: &HashSet<String>) -> bool {
    u.status.as_ref().is_some_and(|st| {
        st.notifications
            .pending
            .iter()
            .any(|n| n.kind == req.email_kind() && !n.permanently_failed && !before.contains(&n.message_id))
    })
}

/// Message-IDs of every e-mail in a status, to tell the request's new e-mail apart.
fn message_ids(st: Option<&ConferencingUserStatus>) -> HashSet<String> {
    st.map(|s| {
        s.notifications
            .pending
            .iter()
            .map(|n| n.message_id.clone())
            .chain(s.notifications.delivered.iter().map(|n| n.message_id.clone()))
            .collect()
    })
    .unwrap_or_default()
}

fn enabled(st: &ConferencingUserStatus) -> bool {
    st.licensed == Some(true) && st.provider.as_ref().is_none_or(|p| p.type_ == ProviderType::Native)
}

/// Prints what the operator did about a handled request; the verdict says whether all of it
/// happened.
pub(crate) fn report_handled(
    u: &ConferencingUser,
    req: Request,
    before: &ConferencingUser,
    tenant: Option<&ConferencingTenant>,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    let ns = u.namespace().unwrap_or_default();
    let name = u.name_any();
    let st = u.status.clone().unwrap_or_default();
    let mut verdict = Verdict::Ok;
    if !enabled(&st) {
        out.line(format!("The operator ignored the request: {ns}/{name} is not enabled for audio conferencing by this operator (spec.audioConferencingLicense and spec.provider.type decide)."))?;
        return Ok(Verdict::NotDone);
    }
    match req {
        Request::ResetPin => {
            let secret = st
                .pin_secret_ref
                .as_ref()
                .map_or("(none)".to_string(), |r| format!("{}/{} (key {})", ns, r.name, r.key));
            out.line(format!(
                "New leader PIN generated for {ns}/{name}. It is kept in Secret {secret} and not shown here."
            ))?;
        }
        Request::ResetConferenceId => {
            let old = before.status.as_ref().and_then(|s| s.conference_id.clone());
            let new = st.conference_id.clone();
            if let Some(static_id) = u.spec.conference_id.as_deref().filter(|_| old == new) {
                out.line(format!(
                    "The operator ignored the request: spec.conferenceId names the static ID {static_id}; change or remove spec.conferenceId to reset it."
                ))?;
                return Ok(Verdict::NotDone);
            }
            out.line(format!(
                "Conference ID of {ns}/{name}: {} -> {}",
                old.as_deref().unwrap_or("(none)"),
                new.as_deref().unwrap_or("(none)")
            ))?;
        }
        Request::SendConferencingInfo => {}
    }

    let known = message_ids(before.status.as_ref());
    let kind = req.email_kind();
    let pending = st.notifications.pending.iter().find(|n| n.kind == kind && !known.contains(&n.message_id));
    let delivered = st.notifications.delivered.iter().find(|n| n.kind == kind && !known.contains(&n.message_id));
    match (pending, delivered) {
        (_, Some(d)) => out.line(format!("E-mail {} delivered to {} at {}.", d.kind, d.recipient, d.time.0))?,
        (Some(p), None) if p.permanently_failed => {
            out.line(format!(
                "E-mail {} to {} was refused for good: {}",
                p.kind,
                p.recipient,
                p.last_error.as_deref().unwrap_or("(no error recorded)")
            ))?;
            verdict = Verdict::NotDone;
        }
        (Some(p), None) => {
            let retry = p.last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default();
            out.line(format!(
                "E-mail {} to {}: not sent yet{retry}; `kubectl conferencing status -n {ns}` shows its progress.",
                p.kind, p.recipient
            ))?;
        }
        (None, None) => {
            let auto_off = tenant.is_some_and(|t| !t.spec.notifications.automatically_send_emails_to_users);
            if kind.is_automatic() && auto_off {
                out.line(format!("No e-mail: automatic e-mails are off for tenant {ns}/{} (spec.notifications.automaticallySendEmailsToUsers).",
                    u.spec.tenant_ref.name))?;
            } else {
                out.line(format!(
                    "No e-mail was recorded for this request; `kubectl describe cuser {name} -n {ns}` shows the operator's Events."
                ))?;
            }
        }
    }
    if let Some(ready) = view::ready(u).filter(|c| c.status != conferencing_operator::api::ConditionStatus::True) {
        out.line(format!("Ready is {:?} ({}): {}", ready.status, ready.reason, ready.message))?;
    }
    Ok(verdict)
}

/// Runs one request verb.
pub(crate) async fn run(
    conn: &Connection,
    req: Request,
    args: &RequestArgs,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    let ns = conn.namespace.as_str();
    let name = args.user.as_str();
    let api: Api<ConferencingUser> = Api::namespaced(conn.client.clone(), ns);
    let user = api
        .get_opt(name)
        .await
        .map_err(PluginError::kube(format!("reading ConferencingUser {ns}/{name}")))?
        .ok_or_else(|| PluginError::UserNotFound { namespace: ns.into(), name: name.into() })?;

    let current = req.requested(&user.spec.requests);
    let handled = user.status.as_ref().and_then(|s| req.handled(&s.handled_requests));
    let token = new_token(chrono::Utc::now(), &[current, handled]);
    let change = gitops::manifest_change(req.field(), &token)
        .map_err(|source| PluginError::Yaml { what: "the request", source })?;

    let guard = gitops::Guard {
        refusing: format!("change ConferencingUser {ns}/{name}"),
        why: "If its manifest sets this request, the next sync puts Git's value back and the request is recorded nowhere it is reviewed. Commit this change to the user's manifest instead (or run again with --force):",
        forced: "writing the request anyway (--force). If its manifest sets this request, commit the same token, or the next sync puts Git's value back (the operator ignores a token it handled before, with a RequestTokenReused Warning):",
        object: format!("ConferencingUser {ns}/{name}"),
    };
    if let Some(refused) = gitops::guard(&user.metadata, args.force, &guard, &change, out)? {
        return Ok(refused);
    }

    let patch = serde_json::json!({ "spec": { "requests": { req.field(): token } } });
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    let patched = api
        .patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(PluginError::kube(format!("writing spec.requests.{} of ConferencingUser {ns}/{name}", req.field())))?;
    let generation = patched.metadata.generation.unwrap_or_default();
    out.line(format!("Requested {} for {ns}/{name} (spec.requests.{}: {token}).", req.what(), req.field()))?;
    if args.no_wait {
        out.line(format!("Not waiting (--no-wait); `kubectl conferencing explain {name} -n {ns}` shows how it went."))?;
        return Ok(Verdict::Ok);
    }
    out.flush()?;

    let before = message_ids(user.status.as_ref());
    match wait(&api, name, req, &token, generation, &before, args.timeout).await? {
        Waited::Handled(u) => {
            let tenant = read_tenant(&conn.client, ns, &u.spec.tenant_ref.name).await;
            report_handled(&u, req, &user, tenant.as_ref(), out)
        }
        Waited::Blocked(u) => report_blocked(&u, req, out),
        Waited::Superseded(u) => {
            out.line(format!(
                "Another request replaced this one before the operator handled it: spec.requests.{} is now {}.",
                req.field(),
                req.requested(&u.spec.requests).unwrap_or("(removed)")
            ))?;
            Ok(Verdict::NotDone)
        }
        Waited::TimedOut(last) => {
            let state = last.as_deref().and_then(|u| waiting_line(u, req, generation)).unwrap_or_default();
            out.line(format!(
                "Timed out after {}: the operator has not handled spec.requests.{} yet. {state}",
                humantime::format_duration(args.timeout),
                req.field()
            ))?;
            out.line(format!(
                "Is the operator running? The request stays in the spec and is handled when it runs; `kubectl conferencing explain {name} -n {ns}` shows the user's state."
            ))?;
            Ok(Verdict::TimedOut)
        }
    }
}

/// Prints why the operator could not carry out the request on a blocked user.
pub(crate) fn report_blocked(
    u: &ConferencingUser,
    req: Request,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    let ns = u.namespace().unwrap_or_default();
    let name = u.name_any();
    let cond = match view::user_state(u) {
        State::Stalled(c) => Some(c),
        _ => None,
    };
    let (reason, message) = cond.map_or(("(unknown)", ""), |c| (c.reason.as_str(), c.message.as_str()));
    let subject = Subject {
        kind: "ConferencingUser",
        namespace: &ns,
        name: &name,
        tenant: &u.spec.tenant_ref.name,
        static_id: u.spec.conference_id.as_deref(),
        existing_tenants: &[],
    };
    let a = advice::for_reason(cond.map_or("Ready", |c| c.type_.as_str()), reason, &subject);
    out.line(format!("The operator cannot carry out the request while {ns}/{name} is blocked: {reason}: {message}"))?;
    out.line(format!("{} {}", a.meaning, a.change))?;
    out.line(format!("The request stays in spec.requests.{} and is carried out once that is fixed.", req.field()))?;
    Ok(Verdict::NotDone)
}

/// The user's tenant, if it can be read (only to explain a missing e-mail).
async fn read_tenant(client: &Client, ns: &str, name: &str) -> Option<ConferencingTenant> {
    Api::<ConferencingTenant>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn tokens_are_fresh_and_fit_the_crd() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).single().expect("time");
        let a = new_token(now, &[None, None]);
        assert!(a.starts_with("kubectl-2026-11-24T10:00:00Z-"), "{a}");
        assert!(a.len() <= 128);
        let mut seen = HashSet::new();
        for _ in 0..50 {
            let t = new_token(now, &[Some(a.as_str()), None]);
            assert_ne!(t, a);
            seen.insert(t);
        }
        assert!(seen.len() > 1, "tokens of one second differ");
    }

    fn user(status: &str, requests: &str) -> ConferencingUser {
        serde_yaml::from_str(&format!(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata: {{name: alice, namespace: acme, generation: 4}}\n\
             spec: {{tenantRef: {{name: acme}}, displayName: A, email: a@acme.example, requests: {requests}}}\n{status}"
        ))
        .expect("user")
    }

    const READY: &str =
        "{type: Ready, status: 'True', reason: Reconciled, message: ok, lastTransitionTime: '2026-01-01T00:00:00Z'}";

    #[test]
    fn waiting_ends_when_the_token_is_handled_at_the_new_generation() {
        let t = "kubectl-x";
        let stale = user(&format!("status: {{observedGeneration: 3, conditions: [{READY}]}}"), "{resetPin: kubectl-x}");
        assert!(judge(&stale, Request::ResetPin, t, 4).is_none());
        let seen_not_handled =
            user(&format!("status: {{observedGeneration: 4, conditions: [{READY}]}}"), "{resetPin: kubectl-x}");
        assert!(judge(&seen_not_handled, Request::ResetPin, t, 4).is_none());
        let handled = user(
            &format!(
                "status: {{observedGeneration: 4, conditions: [{READY}], handledRequests: {{resetPin: kubectl-x}}}}"
            ),
            "{resetPin: kubectl-x}",
        );
        assert!(matches!(judge(&handled, Request::ResetPin, t, 4), Some(Waited::Handled(_))));
        // The other requests' tokens are not this one.
        assert!(
            judge(&handled, Request::SendConferencingInfo, t, 4).is_some_and(|w| matches!(w, Waited::Superseded(_)))
        );
    }

    #[test]
    fn a_blocked_user_ends_the_wait_but_a_passing_error_does_not() {
        let blocked = user(
            "status: {observedGeneration: 4, conditions: [{type: Ready, status: 'False', reason: TenantNotFound, message: no tenant, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
            "{resetPin: kubectl-x}",
        );
        assert!(matches!(judge(&blocked, Request::ResetPin, "kubectl-x", 4), Some(Waited::Blocked(_))));
        let retrying = user(
            "status: {observedGeneration: 4, conditions: [{type: Ready, status: 'False', reason: InternalError, message: boom, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
            "{resetPin: kubectl-x}",
        );
        assert!(judge(&retrying, Request::ResetPin, "kubectl-x", 4).is_none());
    }

    /// Everything the request verbs print from the user: the PIN Secret's name, conference
    /// IDs, e-mail recipients and errors, conditions, the tenant name and other tokens.
    #[test]
    fn values_from_objects_reach_the_terminal_escaped() {
        use crate::terminal::testing::*;
        let before = user("status: {observedGeneration: 3, conferenceId: '1111111'}", "{resetPin: t}");
        let mut before_hostile = before.clone();
        if let Some(st) = before_hostile.status.as_mut() {
            st.conference_id = Some(hostile("1111111"));
        }
        let handled = |mail: &str| {
            let mut u = user(
                &format!(
                    "status: {{observedGeneration: 4, licensed: true, conferenceId: '2222222', pinSecretRef: {{name: s, key: pin}},\
                     conditions: [{{type: Ready, status: 'False', reason: InternalError, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}}],\
                     notifications: {mail}}}"
                ),
                "{resetPin: kubectl-x}",
            );
            let st = u.status.as_mut().expect("status");
            st.conference_id = Some(hostile("2222222"));
            st.pin_secret_ref =
                Some(conferencing_operator::api::SecretKeyRef { name: hostile("s"), key: hostile("pin") });
            for c in &mut st.conditions {
                c.reason = hostile("InternalError");
                c.message = hostile("boom");
            }
            for n in &mut st.notifications.pending {
                n.recipient = hostile("a@acme.example");
                n.last_error = Some(hostile("550"));
            }
            for n in &mut st.notifications.delivered {
                n.recipient = hostile("a@acme.example");
            }
            u.spec.tenant_ref.name = hostile("acme");
            u
        };
        let mails = [
            "{pending: [{kind: PinReset, messageId: '<p>', recipient: a@acme.example, attempts: 1, lastError: e}]}",
            "{pending: [{kind: PinReset, messageId: '<p>', recipient: a@acme.example, attempts: 1, lastError: e, permanentlyFailed: true}]}",
            "{delivered: [{kind: PinReset, messageId: '<d>', recipient: a@acme.example, time: '2026-01-01T00:00:00Z'}]}",
            "{delivered: [{kind: ConferenceIdReset, messageId: '<d>', recipient: a@acme.example, time: '2026-01-01T00:00:00Z'}]}",
        ];
        for mail in mails {
            for req in [Request::ResetPin, Request::ResetConferenceId, Request::SendConferencingInfo] {
                let mut out = Terminal::new(Vec::new());
                report_handled(&handled(mail), req, &before_hostile, None, &mut out).expect("report");
                let text = text(out.into_inner());
                assert_shown_safely(&text);
                assert!(text.contains("Ready is False"), "{text}");
            }
        }

        let mut blocked = user(
            "status: {observedGeneration: 4, conditions: [{type: Ready, status: 'False', reason: TenantNotFound, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
            "{resetPin: kubectl-x}",
        );
        for c in blocked.status.iter_mut().flat_map(|s| s.conditions.iter_mut()) {
            c.message = hostile("no tenant");
        }
        blocked.spec.tenant_ref.name = hostile("acme");
        blocked.spec.conference_id = Some(hostile("4455667"));
        let mut out = Terminal::new(Vec::new());
        assert_eq!(report_blocked(&blocked, Request::ResetPin, &mut out).expect("report"), Verdict::NotDone);
        let text = text(out.into_inner());
        assert_shown_safely(&text);
        assert!(text.contains("TenantNotFound") && text.contains("spec.tenantRef.name"), "{text}");

        // The progress line quotes the condition: printed through Progress or Terminal.
        let mut waiting = user(
            "status: {observedGeneration: 4, conditions: [{type: Ready, status: 'False', reason: InternalError, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}]}",
            "{resetPin: kubectl-x}",
        );
        for c in waiting.status.iter_mut().flat_map(|s| s.conditions.iter_mut()) {
            c.message = hostile("boom");
        }
        let line = waiting_line(&waiting, Request::ResetPin, 4).expect("a line");
        let mut out = Terminal::new(Vec::new());
        out.line(&line).expect("line");
        assert_shown_safely(&text_of(out));
    }

    fn text_of(t: Terminal<Vec<u8>>) -> String {
        crate::terminal::testing::text(t.into_inner())
    }
}
