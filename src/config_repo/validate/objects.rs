//! Each object on its own: the operator's validation of every tenant and user, as the
//! controller runs it, with the schema's findings taken into account.

use super::*;

impl Validator<'_> {
    pub(super) fn tenants(&mut self) {
        let mut tenants = std::mem::take(&mut self.tree.tenants);
        for t in &mut tenants {
            let Some(obj) = &t.object else { continue };
            let mut obj = obj.clone();
            let mut first_error = None;
            for _ in 0..16 {
                match validate_tenant(&obj, &ClusterPolicy::unrestricted()) {
                    Ok(v) => {
                        if first_error.is_none() {
                            t.validated = Some(v);
                        }
                        break;
                    }
                    Err(e) => {
                        if !self.covered(&t.id, &e.field) {
                            let pos = t.root.locate(&e.field);
                            let f = Finding::new(Code::InvalidTenant, &t.file, pos, tenant_message(&e))
                                .object(Some(&t.id))
                                .field(e.field.clone());
                            self.push(f);
                        }
                        first_error.get_or_insert(e.clone());
                        if !neutralize_tenant(&mut obj, &e.field) {
                            break;
                        }
                    }
                }
            }
            if t.validated.is_some() && self.has_errors(&t.id).is_some() {
                // A schema error means the API server rejects the tenant: it stays as it was.
                t.validated = None;
            }
        }
        self.tree.tenants = tenants;
    }

    pub(super) fn users(&mut self) {
        let mut users = std::mem::take(&mut self.tree.users);
        for u in &mut users {
            self.user(u);
        }
        self.static_ids(&mut users);
        for u in &mut users {
            if u.blocked.is_none()
                && let Some(message) = self.has_errors(&u.id)
            {
                u.blocked = Some(Blocked { reason: Reason::InvalidSpec, message });
                u.validated = None;
            }
        }
        self.tree.users = users;
    }

    fn user(&mut self, u: &mut UserEntry) {
        let Some(obj) = u.object.clone() else {
            u.blocked = Some(Blocked {
                reason: Reason::InvalidSpec,
                message: self.has_errors(&u.id).unwrap_or_else(|| "the object cannot be read".into()),
            });
            return;
        };
        let tenant_name = obj.spec.tenant_ref.name.clone();
        let ns = u.id.namespace.clone();
        let tenant: Option<ValidatedTenant> = match self.tree.tenant(&ns, &tenant_name) {
            Some(t) => match &t.validated {
                Some(v) => Some(v.clone()),
                None => {
                    u.blocked = Some(Blocked {
                        reason: Reason::TenantInvalid,
                        message: format!("tenant {tenant_name} is invalid; fix the tenant's findings first"),
                    });
                    return;
                }
            },
            None => self.live_tenant(&ns, &tenant_name),
        };
        let Some(tenant) = tenant else {
            let elsewhere: Vec<&str> = self
                .tree
                .tenants
                .iter()
                .filter(|t| t.id.name == tenant_name && t.id.namespace != ns)
                .map(|t| t.id.namespace.as_str())
                .collect();
            let hint = if !elsewhere.is_empty() {
                format!(
                    "; a tenant {tenant_name} exists in namespace {}, but a user can only reference a tenant in its own namespace: move the user to that namespace",
                    elsewhere.join(", ")
                )
            } else if self.live.is_some() {
                "; it is neither in the tree nor in the cluster: add the tenant or fix the name".to_string()
            } else {
                "; add the tenant to the tree or fix the name (with --live, tenants already in the cluster count too)"
                    .to_string()
            };
            let message = format!("spec.tenantRef.name: no ConferencingTenant {tenant_name} in namespace {ns}{hint}");
            let pos = u.root.locate("spec.tenantRef.name");
            self.push(
                Finding::new(Code::TenantNotFound, &u.file, pos, message.clone())
                    .object(Some(&u.id))
                    .field("spec.tenantRef.name"),
            );
            u.blocked = Some(Blocked { reason: Reason::TenantNotFound, message });
            return;
        };

        u.tenant = Some(tenant.clone());
        let mut candidate = obj.clone();
        let mut first_error: Option<InvalidSpec> = None;
        for _ in 0..16 {
            match validate_user(&candidate, &tenant) {
                Ok(v) => {
                    if first_error.is_none() {
                        u.validated = Some(v);
                    }
                    break;
                }
                Err(e) => {
                    if !self.covered(&u.id, &e.field) {
                        let (code, message) = user_message(&e, &obj, &tenant);
                        let pos = u.root.locate(&e.field);
                        self.push(Finding::new(code, &u.file, pos, message).object(Some(&u.id)).field(e.field.clone()));
                    }
                    first_error.get_or_insert(e.clone());
                    if !neutralize_user(&mut candidate, &e.field) {
                        break;
                    }
                }
            }
        }
        if let Some(e) = first_error {
            u.blocked = Some(Blocked { reason: Reason::InvalidSpec, message: e.to_string() });
            u.validated = None;
            return;
        }
        self.reused_tokens(u, &obj);
    }
}

fn tenant_message(e: &InvalidSpec) -> String {
    format!("{e} (the operator would mark the tenant and its users Ready=False)")
}

/// The finding for a user-validation error: the chosen-number errors get their own codes
/// and say which field the number belongs in.
fn user_message(e: &InvalidSpec, obj: &ConferencingUser, tenant: &ValidatedTenant) -> (Code, String) {
    // The controller refuses a static ID of another length too (validate_user); the finding
    // keeps its own code so that CI rules keyed on CO403 go on working.
    if e.field == "spec.conferenceId"
        && let Some(s) = obj.spec.conference_id.as_deref()
        && s.len() != tenant.id_length.get()
        && crate::domain::ConferenceId::parse(s).is_some()
    {
        return (Code::ConferenceIdLength, e.to_string());
    }
    let (number, wanted, other, other_field) = match e.field.as_str() {
        "spec.serviceNumber" => {
            (obj.spec.service_number.as_deref(), NumberType::Toll, NumberType::TollFree, "spec.tollFreeServiceNumber")
        }
        "spec.tollFreeServiceNumber" => {
            (obj.spec.toll_free_service_number.as_deref(), NumberType::TollFree, NumberType::Toll, "spec.serviceNumber")
        }
        _ => return (Code::InvalidUser, e.to_string()),
    };
    let Some(n) = number else { return (Code::InvalidUser, e.to_string()) };
    if tenant.number(n, other).is_some() {
        return (
            Code::ServiceNumberWrongType,
            format!(
                "{}: {n} is a {other:?} number of tenant {}, not a {wanted:?} one; move it to {other_field}",
                e.field, tenant.name
            ),
        );
    }
    let choices: Vec<&str> = tenant.numbers.iter().filter(|x| x.type_ == wanted).map(|x| x.number.as_str()).collect();
    (
        Code::ServiceNumberNotInTenant,
        format!(
            "{}: {n} is not a number of tenant {}; its {wanted:?} numbers are {} (or remove the field to get the default)",
            e.field,
            tenant.name,
            if choices.is_empty() { "none".to_string() } else { choices.join(", ") }
        ),
    )
}

/// Replaces the field an error names with a valid value, so that validation can go on and
/// report every error of the object rather than the first. `false` when the field is not
/// one we know how to stand in for.
fn neutralize_user(u: &mut ConferencingUser, field: &str) -> bool {
    let s = &mut u.spec;
    match field {
        "spec.displayName" => s.display_name = "x".into(),
        "spec.email" => s.email = "placeholder@example.invalid".into(),
        "spec.sendEmailToAddress" => s.send_email_to_address = None,
        "spec.requests.resetPin" => s.requests.reset_pin = None,
        "spec.requests.resetConferenceId" => s.requests.reset_conference_id = None,
        "spec.requests.sendConferencingInfo" => s.requests.send_conferencing_info = None,
        "spec.provider.name" => s.provider.name = Some("x".into()),
        "spec.serviceNumber" => s.service_number = None,
        "spec.tollFreeServiceNumber" => s.toll_free_service_number = None,
        "spec.conferenceId" => s.conference_id = None,
        _ => return false,
    }
    true
}

fn neutralize_tenant(t: &mut ConferencingTenant, field: &str) -> bool {
    let s = &mut t.spec;
    if let Some(rest) = field.strip_prefix("spec.serviceNumbers[")
        && let Some((i, sub)) = rest.split_once("].")
        && let Ok(i) = i.parse::<usize>()
        && let Some(n) = s.service_numbers.get_mut(i)
    {
        match sub {
            "number" => n.number = format!("+1999{i:07}"),
            "country" => n.country = None,
            _ => return false,
        }
        return true;
    }
    match field {
        "spec.pin.length" => s.pin.length = 5,
        "spec.conferenceIds.length" => s.conference_ids.length = 7,
        "spec.notifications.sendEmailFromAddress" => s.notifications.send_email_override = false,
        _ => return false,
    }
    true
}
