//! Step 1b, for a user about to be taken over from another system only: the PIN it brings,
//! read and checked here so that the planner, which never holds a PIN, decides from the
//! verdict alone. The PIN is kept for the apply step, which writes it into the user's PIN
//! Secret; it is never logged, and the verdict names the rule a value breaks, never the value.
//!
//! Only a Secret labelled `conferencing.io/adopt-pin: "true"` is read: the label says that
//! someone who may write Secrets in the namespace meant it as a PIN to adopt, so a user's spec
//! cannot make the operator read (and e-mail) any other Secret's value.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use crate::api::ConferencingUser;
use crate::controller::context::Context;
use crate::error::{ObjectKey, Result, Step, api_error};
use crate::planning::{AdoptablePin, PinSource};
use crate::provisioning::pin::{self, Pin};
use crate::provisioning::secret::{ADOPT_PIN_LABEL, PIN_KEY, SecretMeta, is_adoptable, pin_secret_name};
use crate::validation::{ValidatedTenant, ValidatedUser};

/// What was found of the PIN a user brings.
pub(crate) struct Found {
    /// What the planner sees.
    pub(crate) verdict: AdoptablePin,
    /// The PIN, when the verdict is `Valid`.
    pub(crate) pin: Option<Pin>,
    /// For a PIN adopted in place: the Secret under the PIN Secret's name, which the apply
    /// step replaces (conditioned on this version of it) with the user's own PIN Secret.
    pub(crate) in_place: Option<SecretMeta>,
}

impl Found {
    fn waiting(why: String) -> Option<Found> {
        Some(Found { verdict: AdoptablePin::Waiting(why), pin: None, in_place: None })
    }
}

/// The PIN `user` brings: from `spec.adopt.pinSecretRef`, else from a Secret labelled for
/// adoption under its PIN Secret's name (known from the watch of labelled Secrets, so that
/// users who bring none cost no read). `None` when it brings none.
pub(crate) async fn inspect(
    ctx: &Context,
    user: &ConferencingUser,
    vu: &ValidatedUser,
    vt: &ValidatedTenant,
) -> Result<Option<Found>> {
    let ns = user.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let adoption = vu.adoption.as_ref();
    // A PIN equal to the ID the user will hold is guessable.
    let id = match &vu.service {
        crate::validation::DesiredService::Native(svc) => {
            svc.static_id.clone().or_else(|| adoption.and_then(|a| a.conference_id.clone()))
        }
        crate::validation::DesiredService::Disabled(_) => None,
    };
    let read = |name: String| {
        let api = api.clone();
        let action = format!("reading Secret {ns}/{name}, a PIN to adopt");
        async move { api.get_opt(&name).await.map_err(api_error(&ObjectKey::of(user), Step::Dereference, action)) }
    };
    let (source, secret, key) = match adoption.and_then(|a| a.pin_source.clone()) {
        Some(r) => {
            let shown = format!("Secret {ns}/{} (spec.adopt.pinSecretRef)", r.name);
            let Some(secret) = read(r.name.clone()).await? else {
                return Ok(Found::waiting(format!("{shown} does not exist yet")));
            };
            if !is_adoptable(&secret.metadata) {
                return Ok(Found::waiting(format!(
                    "{shown} lacks the label {ADOPT_PIN_LABEL}: \"true\", which lets the operator read it"
                )));
            }
            let key = r.key.clone();
            (PinSource::Secret(r), secret, key)
        }
        None => {
            let name = pin_secret_name(&user.name_any());
            if !ctx.index.is_adoptable(&ns, &name) {
                return Ok(None);
            }
            let Some(secret) = read(name.clone()).await?.filter(|s| is_adoptable(&s.metadata)) else {
                return Ok(None);
            };
            if let Some(owner) = secret.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true))
            {
                return Ok(Found::waiting(format!(
                    "Secret {ns}/{name} is controlled by {} {}, which would take it back: have it made without an owner (External Secrets: creationPolicy Orphan), or name it in spec.adopt.pinSecretRef instead",
                    owner.kind, owner.name
                )));
            }
            (PinSource::InPlace, secret, PIN_KEY.to_string())
        }
    };
    let Some(value) = secret.data.as_ref().and_then(|d| d.get(&key)) else {
        return Ok(Found::waiting(format!("Secret {ns}/{} has no key {key} yet", secret.name_any())));
    };
    let in_place = matches!(source, PinSource::InPlace).then(|| SecretMeta::from_meta(&secret.metadata));
    Ok(Some(match pin::adopt(&value.0, id.as_ref().map(|i| i.as_str()), &vt.pin_rules) {
        Ok(pin) => Found { verdict: AdoptablePin::Valid(source), pin: Some(pin), in_place },
        Err(rule) => Found { verdict: AdoptablePin::Invalid { source, rule: rule.to_string() }, pin: None, in_place },
    }))
}
