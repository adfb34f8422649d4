//! `kubectl conferencing who-has ID -n NS`: which user holds a conference ID. The API server's
//! answer is the claim object named after the ID: a `ConferenceIdClaim` (conferencing.io), or,
//! from operators that predate that kind, the ConfigMap `conference-id-<ID>`. The users'
//! status is the operator's account of the same thing; the two are compared and any
//! disagreement is flagged.

use std::io::Write;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, ResourceExt};

use super::error::is_not_found;
use super::{PluginError, Terminal, Verdict, view};
use conferencing_operator::api::ConferencingUser;

/// The claim kind of the status contract.
pub(crate) fn claim_resource() -> ApiResource {
    ApiResource {
        group: "conferencing.io".into(),
        version: "v1alpha1".into(),
        api_version: "conferencing.io/v1alpha1".into(),
        kind: "ConferenceIdClaim".into(),
        plural: "conferenceidclaims".into(),
    }
}

/// Name prefix of the ConfigMap claims of older operators.
pub(crate) const CONFIGMAP_PREFIX: &str = "conference-id-";
/// ConfigMap claim: data key of the holder's name.
pub(crate) const CONFIGMAP_HOLDER_KEY: &str = "holder";
/// ConfigMap claim: data key of the ID.
pub(crate) const CONFIGMAP_ID_KEY: &str = "conferenceId";
/// ConfigMap claim: label with the holder's UID.
pub(crate) const CONFIGMAP_HOLDER_UID_LABEL: &str = "conferencing.io/holder-uid";

/// Checks the argument: 4 to 12 digits, the range of spec.conferenceId.
pub(crate) fn parse_id(s: &str) -> Result<String, String> {
    if (4..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a conference ID (4 to 12 digits)"))
    }
}

/// A claim on the ID, from either kind of claim object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    /// `ConferenceIdClaim 4455667` or `ConfigMap conference-id-4455667`.
    pub object: String,
    /// The holder's user name.
    pub holder: String,
    /// The holder's UID.
    pub holder_uid: String,
    /// The ID the claim says it is for.
    pub id: String,
}

fn str_at<'a>(v: &'a serde_json::Value, path: &str) -> &'a str {
    v.pointer(path).and_then(serde_json::Value::as_str).unwrap_or_default()
}

/// Reads a `ConferenceIdClaim`.
pub(crate) fn claim_from_object(o: &DynamicObject) -> Claim {
    Claim {
        object: format!("ConferenceIdClaim {}", o.name_any()),
        holder: str_at(&o.data, "/spec/holder/name").to_string(),
        holder_uid: str_at(&o.data, "/spec/holder/uid").to_string(),
        id: str_at(&o.data, "/spec/conferenceId").to_string(),
    }
}

/// Reads a ConfigMap claim.
pub(crate) fn claim_from_configmap(cm: &ConfigMap) -> Claim {
    let data = cm.data.clone().unwrap_or_default();
    Claim {
        object: format!("ConfigMap {}", cm.name_any()),
        holder: data.get(CONFIGMAP_HOLDER_KEY).cloned().unwrap_or_default(),
        holder_uid: cm.labels().get(CONFIGMAP_HOLDER_UID_LABEL).cloned().unwrap_or_default(),
        id: data.get(CONFIGMAP_ID_KEY).cloned().unwrap_or_default(),
    }
}

/// What `who-has` concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Assessment {
    /// Lines to print.
    pub lines: Vec<String>,
    /// Disagreements found.
    pub problems: Vec<String>,
    /// Exit verdict.
    pub verdict: Verdict,
}

/// Compares the claims with the users' status and spec.
pub(crate) fn assess(id: &str, namespace: &str, claims: &[Claim], users: &[ConferencingUser]) -> Assessment {
    let mut lines = vec![format!("Conference ID {id} in namespace {namespace}:")];
    let mut problems = Vec::new();
    let showing: Vec<&ConferencingUser> =
        users.iter().filter(|u| u.status.as_ref().and_then(|s| s.conference_id.as_deref()) == Some(id)).collect();
    let asking: Vec<&ConferencingUser> = users.iter().filter(|u| u.spec.conference_id.as_deref() == Some(id)).collect();

    if claims.is_empty() {
        lines.push("  claim:         none".into());
    }
    for c in claims {
        lines.push(format!("  claim:         {} held by {} (uid {})", c.object, c.holder, c.holder_uid));
        if c.id != id {
            problems.push(format!("{} says it is for ID \"{}\", not {id}", c.object, c.id));
        }
        match users.iter().find(|u| u.name_any() == c.holder) {
            None => problems.push(format!(
                "{} is held by user {}, which no longer exists (a leftover claim: the next user that asks for {id} takes it over)",
                c.object, c.holder
            )),
            Some(u) if u.uid().as_deref() != Some(c.holder_uid.as_str()) => problems.push(format!(
                "{} is held by an earlier user named {} (uid {}); the current {} has uid {}",
                c.object,
                c.holder,
                c.holder_uid,
                c.holder,
                u.uid().unwrap_or_default()
            )),
            Some(u) if !showing.iter().any(|s| s.name_any() == u.name_any()) => problems.push(format!(
                "{} is held by {}, but its status shows conference ID {} (the operator may be mid-reconcile)",
                c.object,
                c.holder,
                u.status.as_ref().and_then(|s| s.conference_id.as_deref()).unwrap_or("(none)")
            )),
            Some(_) => {}
        }
    }
    if let [a, b, ..] = claims
        && a.holder != b.holder
    {
        problems.push(format!("{} and {} name different holders", a.object, b.object));
    }

    let names = |us: &[&ConferencingUser]| -> String {
        if us.is_empty() { "nobody".into() } else { us.iter().map(|u| u.name_any()).collect::<Vec<_>>().join(", ") }
    };
    lines.push(format!("  status shows:  {}", names(&showing)));
    for u in &showing {
        if !claims.iter().any(|c| c.holder == u.name_any()) {
            problems.push(if claims.is_empty() {
                format!("the status of {} shows {id}, but no claim holds it", u.name_any())
            } else {
                format!("the status of {} shows {id}, but the claim is held by someone else", u.name_any())
            });
        }
    }
    for u in &asking {
        let ready =
            view::ready(u).map(|c| format!("Ready={:?} {}", c.status, c.reason)).unwrap_or_else(|| "no status".into());
        lines.push(format!("  asked for by:  {} (spec.conferenceId; {ready})", u.name_any()));
    }

    let verdict = if !problems.is_empty() {
        Verdict::NotDone
    } else if claims.is_empty() && showing.is_empty() {
        lines.push(format!("Nobody holds {id} in namespace {namespace}."));
        Verdict::Failed
    } else {
        let holder = claims.first().map_or_else(|| names(&showing), |c| c.holder.clone());
        lines.push(format!("Held by {holder}; the claim and the users' status agree."));
        Verdict::Ok
    };
    Assessment { lines, problems, verdict }
}

/// Whether the API server serves `ConferenceIdClaim`.
async fn claims_served(client: &Client) -> Result<bool, PluginError> {
    let r = claim_resource();
    match client.list_api_group_resources(&r.api_version).await {
        Ok(list) => Ok(list.resources.iter().any(|res| res.name == r.plural)),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(source) => {
            Err(PluginError::Kube { action: format!("discovering the resources of {}", r.api_version), source })
        }
    }
}

/// Runs `who-has`.
pub(crate) async fn run(
    client: &Client,
    ns: &str,
    id: &str,
    out: &mut Terminal<impl Write>,
) -> Result<Verdict, PluginError> {
    let mut claims = Vec::new();
    let crd = claims_served(client).await?;
    if crd {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &claim_resource());
        let claim = api.get_opt(id).await.map_err(PluginError::kube(format!("reading ConferenceIdClaim {ns}/{id}")))?;
        claims.extend(claim.as_ref().map(claim_from_object));
    }
    // ConfigMap claims: the only kind before ConferenceIdClaim, and possibly left over from
    // such an operator afterwards. Without the new kind they are the answer, so an error then
    // is an error; with it they are a cross-check, and a plugin user who may not read
    // ConfigMaps still gets the answer.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let name = format!("{CONFIGMAP_PREFIX}{id}");
    match cms.get_opt(&name).await {
        Ok(cm) => claims.extend(cm.as_ref().map(claim_from_configmap)),
        Err(_) if crd => {}
        Err(source) => return Err(PluginError::Kube { action: format!("reading ConfigMap {ns}/{name}"), source }),
    }
    let users = Api::<ConferencingUser>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(PluginError::kube(format!("listing ConferencingUsers in namespace {ns}")))?;
    let a = assess(id, ns, &claims, &users.items);
    print(&a, out)?;
    Ok(a.verdict)
}

/// Prints the assessment: its lines, then any disagreement.
pub(crate) fn print(a: &Assessment, out: &mut Terminal<impl Write>) -> std::io::Result<()> {
    for line in &a.lines {
        out.line(line)?;
    }
    if !a.problems.is_empty() {
        out.line("Disagreement:")?;
        for p in &a.problems {
            out.line(format!("  - {p}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, uid: &str, spec_id: Option<&str>, status_id: Option<&str>) -> ConferencingUser {
        let spec_id = spec_id.map(|i| format!(", conferenceId: '{i}'")).unwrap_or_default();
        let status =
            status_id.map(|i| format!("status: {{observedGeneration: 1, conferenceId: '{i}'}}")).unwrap_or_default();
        serde_yaml::from_str(&format!(
            "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata: {{name: {name}, namespace: acme, uid: {uid}, generation: 1}}\n\
             spec: {{tenantRef: {{name: acme}}, displayName: X, email: x@acme.example{spec_id}}}\n{status}"
        ))
        .expect("user")
    }

    fn claim(holder: &str, uid: &str) -> Claim {
        Claim {
            object: "ConferenceIdClaim 4455667".into(),
            holder: holder.into(),
            holder_uid: uid.into(),
            id: "4455667".into(),
        }
    }

    #[test]
    fn ids_are_digits() {
        assert!(parse_id("4455667").is_ok());
        assert!(parse_id("123").is_err());
        assert!(parse_id("12345678901234").is_err());
        assert!(parse_id("44a5667").is_err());
    }

    #[test]
    fn agreement() {
        let users =
            [user("bob", "u-bob", Some("4455667"), Some("4455667")), user("dave", "u-dave", Some("4455667"), None)];
        let a = assess("4455667", "acme", &[claim("bob", "u-bob")], &users);
        assert_eq!(a.verdict, Verdict::Ok, "{a:?}");
        assert!(a.lines.iter().any(|l| l.contains("asked for by:  dave")), "{a:?}");
        assert!(a.lines.last().is_some_and(|l| l.starts_with("Held by bob")));
    }

    #[test]
    fn nobody() {
        let a = assess("4455667", "acme", &[], &[user("bob", "u-bob", None, Some("1234567"))]);
        assert_eq!(a.verdict, Verdict::Failed);
    }

    #[test]
    fn disagreements_are_flagged() {
        let cases = [
            (
                vec![claim("bob", "u-bob")],
                vec![user("bob", "u-bob", None, Some("4455667")), user("eve", "u-eve", None, Some("4455667"))],
            ),
            (vec![claim("bob", "u-old")], vec![user("bob", "u-bob", None, Some("4455667"))]),
            (vec![claim("gone", "u-gone")], vec![]),
            (vec![], vec![user("bob", "u-bob", None, Some("4455667"))]),
            (vec![claim("bob", "u-bob")], vec![user("bob", "u-bob", None, Some("7654321"))]),
            (
                vec![
                    claim("bob", "u-bob"),
                    Claim { object: "ConfigMap conference-id-4455667".into(), ..claim("eve", "u-eve") },
                ],
                vec![user("bob", "u-bob", None, Some("4455667")), user("eve", "u-eve", None, None)],
            ),
        ];
        for (claims, users) in cases {
            let a = assess("4455667", "acme", &claims, &users);
            assert_eq!(a.verdict, Verdict::NotDone, "{claims:?}: {a:?}");
            assert!(!a.problems.is_empty());
        }
    }

    /// The claim's holder, UID and ID are whatever its writer put there (a ConfigMap's data is
    /// anyone's with ConfigMap access), and so are the users' status IDs.
    #[test]
    fn values_from_objects_reach_the_terminal_escaped() {
        use crate::terminal::testing::*;
        let evil = Claim {
            object: format!("ConfigMap conference-id-{}", hostile("4455667")),
            holder: hostile("bob"),
            holder_uid: hostile("u-bob"),
            id: hostile("4455667"),
        };
        let mut bob = user("bob", "u-bob", None, Some("4455667"));
        bob.metadata.uid = Some(hostile("u-bob"));
        if let Some(st) = bob.status.as_mut() {
            st.conference_id = Some(hostile("7654321"));
        }
        let cases = [
            vec![evil.clone()],
            vec![evil.clone(), claim("bob", "u-bob")],
            vec![Claim { holder: "bob".into(), ..evil.clone() }],
            vec![Claim { holder: "ghost".into(), ..evil }],
        ];
        for claims in cases {
            let a = assess("4455667", "acme", &claims, &[bob.clone(), user("eve", "u-eve", None, Some("4455667"))]);
            let mut out = Terminal::new(Vec::new());
            print(&a, &mut out).expect("print");
            let text = text(out.into_inner());
            assert_shown_safely(&text);
            assert!(text.contains("Disagreement:"), "{text}");
        }
    }
}
