//! Builders for tests: a tenant and a user that read as a sentence about the situation.

use kube::api::ObjectMeta;

use crate::api::*;

/// A valid tenant `name` in namespace `ns1` with two Toll numbers and one TollFree number.
pub fn tenant(name: &str) -> ConferencingTenant {
    let mut t = ConferencingTenant::new(
        name,
        ConferencingTenantSpec {
            organization_name: None,
            service_numbers: vec![
                number("+14255550100", NumberType::Toll, Some("Redmond"), Some("US")),
                number("+442075550100", NumberType::Toll, Some("London"), Some("GB")),
                number("+18005550100", NumberType::TollFree, None, Some("US")),
            ],
            pin: PinPolicy::default(),
            conference_ids: ConferenceIdPolicy::default(),
            meetings: MeetingPolicy::default(),
            notifications: NotificationPolicy::default(),
            requests: TenantRequests::default(),
        },
    );
    t.metadata.namespace = Some("ns1".into());
    t.metadata.generation = Some(1);
    t
}

/// A service number.
pub fn number(n: &str, type_: NumberType, city: Option<&str>, country: Option<&str>) -> ServiceNumber {
    ServiceNumber {
        number: n.into(),
        type_,
        city: city.map(Into::into),
        country: country.map(Into::into),
        language: None,
        default: None,
    }
}

/// A licensed Native user `name` of tenant `tenant`, with UID `uid-<name>` and generation 1.
pub fn user(name: &str, tenant: &str) -> ConferencingUser {
    ConferencingUser {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns1".into()),
            uid: Some(format!("uid-{name}")),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: ConferencingUserSpec {
            adopt: None,
            tenant_ref: TenantRef { name: tenant.into() },
            display_name: format!("{name} Example"),
            email: format!("{name}@acme.example"),
            send_email_to_address: None,
            locale: None,
            audio_conferencing_license: true,
            provider: ProviderSpec::default(),
            service_number: None,
            toll_free_service_number: None,
            conference_id: None,
            allow_pstn_only_meetings: None,
            allow_toll_free_dial_in: None,
            requests: Requests::default(),
        },
        status: None,
    }
}

/// A user as a sentence: `user("alice", "acme").static_id("4242424").generation(2)`. Each
/// method changes one thing and returns the user, so that a test can also say what changes
/// between two plans (`u = u.reset_pin("t1")`).
pub trait UserBuilder: Sized {
    /// The user whose setters these are.
    fn edit(self, f: impl FnOnce(&mut ConferencingUser)) -> Self;

    /// `metadata.generation`.
    fn generation(self, g: i64) -> Self {
        self.edit(|u| u.metadata.generation = Some(g))
    }
    /// A static conference ID (`spec.conferenceId`).
    fn static_id(self, id: &str) -> Self {
        self.edit(|u| u.spec.conference_id = Some(id.into()))
    }
    /// `spec.audioConferencingLicense`.
    fn licensed(self, licensed: bool) -> Self {
        self.edit(|u| u.spec.audio_conferencing_license = licensed)
    }
    /// `spec.provider`.
    fn provider(self, provider: ProviderSpec) -> Self {
        self.edit(|u| u.spec.provider = provider)
    }
    /// `spec.sendEmailToAddress`.
    fn send_to(self, address: &str) -> Self {
        self.edit(|u| u.spec.send_email_to_address = Some(address.into()))
    }
    /// `spec.serviceNumber`.
    fn service_number(self, number: &str) -> Self {
        self.edit(|u| u.spec.service_number = Some(number.into()))
    }
    /// `spec.locale`.
    fn locale(self, locale: Locale) -> Self {
        self.edit(|u| u.spec.locale = Some(locale))
    }
    /// `spec.requests.resetPin`.
    fn reset_pin(self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.edit(|u| u.spec.requests.reset_pin = Some(token))
    }
    /// `spec.requests.resetConferenceId`.
    fn reset_conference_id(self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.edit(|u| u.spec.requests.reset_conference_id = Some(token))
    }
    /// `spec.requests.sendConferencingInfo`.
    fn send_info(self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.edit(|u| u.spec.requests.send_conferencing_info = Some(token))
    }
    /// `spec.requests.sendEmailToAddress`: the one-off recipient of the requests' e-mails.
    fn requests_to(self, address: Option<&str>) -> Self {
        self.edit(|u| u.spec.requests.send_email_to_address = address.map(Into::into))
    }
    /// `spec.adopt.conferenceId`: an ID brought from another system.
    fn adopt_id(self, id: &str) -> Self {
        self.edit(|u| u.spec.adopt.get_or_insert_with(Default::default).conference_id = Some(id.into()))
    }
    /// `spec.adopt.pinSecretRef`: a PIN brought from another system.
    fn adopt_pin_from(self, secret: &str, key: &str) -> Self {
        let source = crate::api::PinSourceRef { name: secret.into(), key: key.into() };
        self.edit(|u| u.spec.adopt.get_or_insert_with(Default::default).pin_secret_ref = Some(source))
    }
}

impl UserBuilder for ConferencingUser {
    fn edit(mut self, f: impl FnOnce(&mut ConferencingUser)) -> Self {
        f(&mut self);
        self
    }
}

/// A tenant as a sentence: `tenant("acme").holding(true).generation(2)`.
pub trait TenantBuilder: Sized {
    /// The tenant whose setters these are.
    fn edit(self, f: impl FnOnce(&mut ConferencingTenant)) -> Self;

    /// `metadata.generation`.
    fn generation(self, g: i64) -> Self {
        self.edit(|t| t.metadata.generation = Some(g))
    }
    /// `spec.pin.length`.
    fn pin_length(self, length: u8) -> Self {
        self.edit(|t| t.spec.pin.length = length)
    }
    /// `spec.conferenceIds.mode`.
    fn id_mode(self, mode: ConferenceIdMode) -> Self {
        self.edit(|t| t.spec.conference_ids.mode = mode)
    }
    /// `spec.notifications.automaticallySendEmailsToUsers`.
    fn automatic_emails(self, on: bool) -> Self {
        self.edit(|t| t.spec.notifications.automatically_send_emails_to_users = on)
    }
    /// `spec.notifications.hold`.
    fn holding(self, hold: bool) -> Self {
        self.edit(|t| t.spec.notifications.hold = hold)
    }
    /// `spec.requests.discardHeldEmails`.
    fn discard_held(self, token: Option<&str>) -> Self {
        self.edit(|t| t.spec.requests.discard_held_emails = token.map(Into::into))
    }
    /// `spec.notifications.takeoverEmail`.
    fn takeover_email(self, email: crate::api::TakeoverEmail) -> Self {
        self.edit(|t| t.spec.notifications.takeover_email = email)
    }
    /// `spec.notifications.allowedRecipientDomains`.
    fn recipient_domains(self, domains: &[&str]) -> Self {
        self.edit(|t| t.spec.notifications.allowed_recipient_domains = domains.iter().map(|d| d.to_string()).collect())
    }
    /// `spec.pin.lifetime`.
    fn pin_lifetime(self, lifetime: &str) -> Self {
        self.edit(|t| t.spec.pin.lifetime = Some(lifetime.into()))
    }
    /// `spec.pin.historyCount`.
    fn pin_history(self, count: u8) -> Self {
        self.edit(|t| t.spec.pin.history_count = count)
    }
    /// `spec.notifications.sendWindow`.
    fn send_window(self, start: &str, end: &str, zone: &str) -> Self {
        let w = crate::api::SendWindow { start: start.into(), end: end.into(), time_zone: zone.into() };
        self.edit(|t| t.spec.notifications.send_window = Some(w))
    }
    /// The default Toll number: the `i`th of the fixture's numbers (0 or 1).
    fn default_toll(self, i: usize) -> Self {
        self.edit(|t| {
            for (j, n) in t.spec.service_numbers.iter_mut().enumerate().take(2) {
                n.default = Some(i == j);
            }
        })
    }
}

impl TenantBuilder for ConferencingTenant {
    fn edit(mut self, f: impl FnOnce(&mut ConferencingTenant)) -> Self {
        f(&mut self);
        self
    }
}
