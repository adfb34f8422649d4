//! `kubectl conferencing pause | resume NAME [--tenant]`: sets or removes the
//! `conferencing.io/paused: "true"` annotation on a user (or, with `--tenant`, a tenant, which
//! pauses all its users), then waits until the operator's `ReconciliationPaused` condition
//! agrees. Objects a GitOps tool manages are refused as by the request verbs: the annotation
//! belongs in Git, where the team sees that reconciliation is paused and why.

use std::io::Write;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use serde::de::DeserializeOwned;

use super::kubeconfig::Connection;
use super::progress::Progress;
use super::view::condition;
use super::{FIELD_MANAGER, PluginError, Terminal, Verdict, gitops};
use conferencing_operator::api::{
    Condition, ConditionStatus, ConditionType, ConferencingTenant, ConferencingUser, PAUSED_ANNOTATION, is_paused,
};

/// Arguments of `pause` and `resume`.
#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    /// The ConferencingUser (or, with --tenant, the ConferencingTenant).
    pub name: String,
    /// NAME is a ConferencingTenant: all of its users are paused with it.
    #[arg(long)]
    pub tenant: bool,
    /// Return once the annotation is written, without waiting for the operator's condition.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the operator, e.g. 30s or 2m.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1m")]
    pub timeout: Duration,
    /// Write the annotation even though a GitOps tool manages the object.
    #[arg(long)]
    pub force: bool,
}

/// The two verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Set the annotation.
    Pause,
    /// Remove it.
    Resume,
}

impl Action {
    fn paused(self) -> bool {
        self == Action::Pause
    }
}

/// The annotation change to merge into the object's manifest in Git.
pub(crate) fn manifest_change(action: Action) -> Result<String, serde_yaml::Error> {
    let doc = match action {
        Action::Pause => serde_json::json!({ "metadata": { "annotations": { PAUSED_ANNOTATION: "true" } } }),
        Action::Resume => serde_json::json!({ "metadata": { "annotations": { PAUSED_ANNOTATION: null } } }),
    };
    serde_yaml::to_string(&doc)
}

/// Whether the operator's condition shows `action` carried out: `ReconciliationPaused=True`
/// after a pause, no such condition holding after a resume.
pub(crate) fn settled(conditions: &[Condition], action: Action) -> bool {
    let paused = condition(conditions, ConditionType::ReconciliationPaused.as_str())
        .is_some_and(|c| c.status == ConditionStatus::True);
    paused == action.paused()
}

/// Runs `pause` or `resume`.
pub(crate) async fn run(
    conn: &Connection,
    action: Action,
    args: &PauseArgs,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    if args.tenant {
        run_for::<ConferencingTenant>(conn, action, args, out, |t| t.status.as_ref().map(|s| s.conditions.clone()))
            .await
    } else {
        run_for::<ConferencingUser>(conn, action, args, out, |u| u.status.as_ref().map(|s| s.conditions.clone())).await
    }
}

async fn run_for<K>(
    conn: &Connection,
    action: Action,
    args: &PauseArgs,
    out: &mut Terminal<impl Write>,
    conditions: fn(&K) -> Option<Vec<Condition>>,
) -> Result<Verdict, PluginError>
where
    K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let ns = conn.namespace.as_str();
    let name = args.name.as_str();
    let kind = K::kind(&());
    let api: Api<K> = Api::namespaced(conn.client.clone(), ns);
    let object =
        api.get_opt(name).await.map_err(PluginError::kube(format!("reading {kind} {ns}/{name}")))?.ok_or_else(
            || PluginError::ObjectNotFound { kind: kind.to_string(), namespace: ns.into(), name: name.into() },
        )?;
    let verb = match action {
        Action::Pause => "pause",
        Action::Resume => "resume",
    };
    if is_paused(object.meta()) == action.paused() && conditions(&object).is_some_and(|c| settled(&c, action)) {
        out.line(format!("{kind} {ns}/{name} is already {verb}d; nothing written."))?;
        return Ok(Verdict::Ok);
    }

    let change = manifest_change(action).map_err(|source| PluginError::Yaml { what: "the annotation", source })?;
    let guard = gitops::Guard {
        refusing: format!("{verb} {kind} {ns}/{name}"),
        why: "A pause written behind its back is seen nowhere the team reviews changes. Commit this change to the object's manifest instead (or run again with --force):",
        forced: "writing the annotation anyway (--force). Commit the same change to its manifest:",
        object: format!("{kind} {ns}/{name}"),
    };
    if let Some(refused) = gitops::guard(object.meta(), args.force, &guard, &change, out)? {
        return Ok(refused);
    }

    let value = if action.paused() { serde_json::json!("true") } else { serde_json::Value::Null };
    let patch = serde_json::json!({ "metadata": { "annotations": { PAUSED_ANNOTATION: value } } });
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(PluginError::kube(format!("writing annotation {PAUSED_ANNOTATION} of {kind} {ns}/{name}")))?;
    let what = match (action, args.tenant) {
        (Action::Pause, true) => "the operator changes nothing and sends no e-mail for it or its users",
        (Action::Pause, false) => "the operator changes nothing and sends no e-mail for it",
        (Action::Resume, _) => "the operator carries out what it was owed, once",
    };
    out.line(format!("Annotated {kind} {ns}/{name} ({verb}d): {what}."))?;
    if args.no_wait {
        return Ok(Verdict::Ok);
    }
    out.flush()?;

    let progress = Progress::start(&format!(
        "Waiting for the operator's {} condition (up to {})",
        ConditionType::ReconciliationPaused.as_str(),
        humantime::format_duration(args.timeout)
    ));
    let poll = async {
        loop {
            let now = api.get_opt(name).await.map_err(PluginError::kube(format!("reading {kind} {ns}/{name}")))?;
            match now {
                None => {
                    return Err(PluginError::ObjectNotFound {
                        kind: kind.to_string(),
                        namespace: ns.into(),
                        name: name.into(),
                    });
                }
                Some(o) if conditions(&o).is_some_and(|c| settled(&c, action)) => return Ok(()),
                Some(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    };
    let waited = tokio::time::timeout(args.timeout, poll).await;
    progress.finish();
    match waited {
        Ok(Ok(())) => {
            let shown = if action.paused() {
                "shows ReconciliationPaused=True"
            } else {
                "no longer shows ReconciliationPaused"
            };
            out.line(format!("The operator {shown} for {kind} {ns}/{name}."))?;
            Ok(Verdict::Ok)
        }
        Ok(Err(e)) => Err(e),
        Err(_elapsed) => {
            out.line(format!(
                "Timed out after {}: the operator has not acknowledged the annotation yet. Is the operator running? The annotation stays and takes effect when it runs.",
                humantime::format_duration(args.timeout)
            ))?;
            Ok(Verdict::TimedOut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(status: ConditionStatus) -> Condition {
        Condition {
            type_: "ReconciliationPaused".into(),
            status,
            reason: "ReconciliationPaused".into(),
            message: String::new(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ),
            observed_generation: None,
        }
    }

    #[test]
    fn the_condition_decides_when_a_pause_or_resume_is_done() {
        assert!(settled(&[cond(ConditionStatus::True)], Action::Pause));
        assert!(!settled(&[], Action::Pause));
        assert!(!settled(&[cond(ConditionStatus::False)], Action::Pause));
        assert!(settled(&[], Action::Resume));
        assert!(settled(&[cond(ConditionStatus::False)], Action::Resume));
        assert!(!settled(&[cond(ConditionStatus::True)], Action::Resume));
    }

    #[test]
    fn the_change_to_commit_sets_or_removes_the_annotation() {
        let pause: serde_yaml::Value =
            serde_yaml::from_str(&manifest_change(Action::Pause).expect("yaml")).expect("parse");
        assert_eq!(pause["metadata"]["annotations"][PAUSED_ANNOTATION], serde_yaml::Value::from("true"));
        let resume: serde_yaml::Value =
            serde_yaml::from_str(&manifest_change(Action::Resume).expect("yaml")).expect("parse");
        assert!(resume["metadata"]["annotations"][PAUSED_ANNOTATION].is_null());
    }
}
