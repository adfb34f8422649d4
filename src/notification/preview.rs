//! `conferencing-operator render`: an e-mail as it would be sent, from a user's (and
//! optionally a tenant's) YAML, with a placeholder PIN, so that template changes can be
//! reviewed in a pull request.

use lettre::message::Mailbox;

use super::notifier::context;
use super::templates::Templates;
use crate::api::record::UserMemory;
use crate::api::{ConferencingTenant, ConferencingUser, Locale, NotificationKind, PendingNotification};
use crate::provisioning::pin::Pin;
use crate::validation::{ClusterPolicy, DesiredService, validate_tenant, validate_user};

/// The tenant used when none is given.
const SAMPLE_TENANT: &str = r#"
apiVersion: conferencing.io/v1alpha1
kind: ConferencingTenant
metadata: {name: sample, generation: 1}
spec:
  serviceNumbers:
    - {number: "+14255550100", type: Toll, city: Redmond, country: US, default: true}
    - {number: "+18005550100", type: TollFree, country: US, default: true}
"#;

/// Why `render` cannot show the e-mail asked for.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// `--event` names no kind of e-mail.
    #[error("--event {given:?} is not one of {}", NotificationKind::ALL.map(NotificationKind::slug).join(", "))]
    UnknownEvent {
        /// What was given.
        given: String,
    },
    /// `--locale` names no locale of the templates.
    #[error("--locale {given:?} is not one of en, fr, zh-CN")]
    UnknownLocale {
        /// What was given.
        given: String,
    },
    /// The user or tenant YAML does not parse as that kind.
    #[error("the {what} YAML is not a {kind}: {source}")]
    NotYaml {
        /// `user` or `tenant`.
        what: &'static str,
        /// The kind expected.
        kind: &'static str,
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
    /// The user or tenant breaks a rule.
    #[error("{what}: {source}")]
    Invalid {
        /// `user` or `tenant`.
        what: &'static str,
        /// The rule and field.
        #[source]
        source: crate::validation::InvalidSpec,
    },
    /// The templates could not render it.
    #[error("rendering {slug}: {source}")]
    Render {
        /// The kind's slug.
        slug: &'static str,
        /// The template's error.
        #[source]
        source: super::templates::TemplateError,
    },
}

/// What to preview.
pub struct Preview {
    /// Event slug, e.g. `pin-reset`.
    pub event: String,
    /// Locale override.
    pub locale: Option<String>,
    /// User YAML.
    pub user: String,
    /// Tenant YAML.
    pub tenant: Option<String>,
}

impl Preview {
    /// Renders the preview as readable text: headers, then the text and HTML parts.
    pub fn render(&self, templates: &Templates, default_from: Mailbox) -> Result<String, PreviewError> {
        let kind = NotificationKind::from_slug(&self.event)
            .ok_or_else(|| PreviewError::UnknownEvent { given: self.event.clone() })?;
        let user: ConferencingUser = serde_yaml::from_str(&self.user).map_err(|source| PreviewError::NotYaml {
            what: "user",
            kind: "ConferencingUser",
            source,
        })?;
        let tenant: ConferencingTenant = serde_yaml::from_str(self.tenant.as_deref().unwrap_or(SAMPLE_TENANT))
            .map_err(|source| PreviewError::NotYaml { what: "tenant", kind: "ConferencingTenant", source })?;
        let vt = validate_tenant(&tenant, &ClusterPolicy::unrestricted())
            .map_err(|source| PreviewError::Invalid { what: "tenant", source })?;
        let mut vu = validate_user(&user, &vt).map_err(|source| PreviewError::Invalid { what: "user", source })?;
        if let Some(tag) = &self.locale {
            vu.locale = Locale::parse(tag).ok_or_else(|| PreviewError::UnknownLocale { given: tag.clone() })?;
        }
        // The status the user would have: its own if the YAML carries one, else what the
        // operator would assign.
        let status = user.status.as_ref().map(UserMemory::from_status).unwrap_or_else(|| {
            let mut st = UserMemory::empty();
            if let DesiredService::Native(svc) = &vu.service {
                st.conference_id =
                    Some(svc.static_id.as_ref().map_or_else(|| "1234567".to_string(), ToString::to_string));
                st.service_number = Some(svc.toll.number.clone());
                st.toll_free_service_number = svc.toll_free.as_ref().map(|n| n.number.clone());
            }
            st
        });
        let pin = kind.carries_pin().then(|| Pin::from_secret("X".repeat(vt.pin_length.get())));
        let entry = PendingNotification::owed(kind, String::new(), vu.recipient.to_string());
        let ctx = context(&entry, &vu, &vt, &status, pin);
        let rendered = templates
            .render(kind, vu.locale, &ctx)
            .map_err(|source| PreviewError::Render { slug: kind.slug(), source })?;
        let from = match &vt.sender {
            Some(s) => Mailbox::new(s.display_name.as_ref().map(ToString::to_string), s.address.address().clone()),
            None => default_from,
        };
        let recipient = vu.recipient.to_string();
        Ok(format!(
            "From: {from}\nTo: {}\nSubject: {}\nLocale: {}\n\n----- text/plain -----\n{}\n----- text/html -----\n{}\n",
            recipient, rendered.subject, vu.locale, rendered.text, rendered.html
        ))
    }
}
