//! Builders for tests: a tenant and a user that read as a sentence about the situation.

use kube::api::ObjectMeta;

use crate::api::*;

/// A valid tenant `name` in namespace `ns1` with two Toll numbers and one TollFree number.
pub fn tenant(name: &str) -> ConferencingTenant {
    let mut t = ConferencingTenant::new(
        name,
        ConferencingTenantSpec {
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
