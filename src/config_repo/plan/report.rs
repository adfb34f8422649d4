//! The plan as `plan` reports it: the stable JSON schema of docs/gitops.md, which the
//! Markdown and text renderings also read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::NotificationKind;
use crate::config_repo::findings::Finding;

/// Version of the JSON schema; bumped only on an incompatible change.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// What a plan says will happen.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlanReport {
    /// Version of this schema.
    pub schema_version: u32,
    /// `offline` (`--from`) or `live`.
    pub mode: &'static str,
    /// Whether the `--to` tree validates.
    pub valid: bool,
    /// The `--to` tree's findings (errors and warnings).
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
    /// Users that change, are blocked, or are removed, in tree order.
    pub users: Vec<UserPlan>,
    /// With `--horizon`: per day, the PIN rotations and e-mails due.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub horizon: Vec<DayDue>,
}

/// What falls due on one day (UTC) within the horizon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DayDue {
    /// The day, `YYYY-MM-DD` (UTC); the first is today, with what is overdue.
    pub date: String,
    /// PINs rotated (pin.lifetime).
    pub rotations: usize,
    /// Automatic e-mails sent: the rotations', and those owed now (on the first day).
    pub emails: usize,
}

/// The counts of a plan.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    /// Users in the `--to` tree.
    pub users: usize,
    /// Users with at least one action or e-mail.
    pub users_changed: usize,
    /// Users the operator would not reconcile.
    pub users_blocked: usize,
    /// Users no longer in the tree (deleted where the GitOps tool prunes).
    pub users_removed: usize,
    /// E-mails that will be sent.
    pub emails: usize,
    /// E-mails by kind (`PinReset`, ...).
    pub emails_by_kind: BTreeMap<String, usize>,
    /// Automatic e-mails the tenants' policy suppresses.
    pub suppressed_emails: usize,
    /// E-mails held (their tenant's `notifications.hold`): owed, sent once the hold is lifted.
    #[serde(skip_serializing_if = "is_zero")]
    pub held_emails: usize,
    /// Tenant changes that reach many users.
    pub fan_out: Vec<FanOut>,
}

/// A tenant change and the users it reaches.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FanOut {
    /// Namespace of the tenant.
    pub namespace: String,
    /// The tenant.
    pub tenant: String,
    /// What changed, e.g. `the default toll number`.
    pub change: String,
    /// The e-mail it causes, when it causes one.
    pub kind: Option<NotificationKind>,
    /// Users to whom the tenant change alone causes this (planned against the tenant as it
    /// was, they would not get it).
    pub users: usize,
    /// The sentence for people, e.g. "changing the default toll number of tenant acme
    /// re-sends a dial-in e-mail to 4,212 users".
    pub sentence: String,
}

/// What happens to one user.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserPlan {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The tenant referenced.
    pub tenant: String,
    /// What the operator will do, in order.
    pub actions: Vec<PlannedAction>,
    /// E-mails that will be sent.
    pub emails: Vec<Email>,
    /// Automatic e-mails not sent because the tenant turned them off.
    pub suppressed_emails: Vec<Email>,
    /// E-mails held: owed, not sent while the tenant's `notifications.hold` is true.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<Email>,
    /// Why the operator would not reconcile the user, if it would not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<BlockedOut>,
    /// Warnings the operator would publish as Events (an ignored request, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A blocking reason.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct BlockedOut {
    /// The user's `Ready=False` reason: InvalidSpec, TenantNotFound, TenantInvalid or
    /// ConferenceIdConflict.
    pub reason: String,
    /// What to fix.
    pub message: String,
}

/// One action.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PlannedAction {
    /// The kind of action.
    #[serde(rename = "type")]
    pub kind: ActionKind,
    /// For people; never a PIN.
    pub description: String,
}

/// Kinds of action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum ActionKind {
    /// Audio conferencing enabled (licence assigned or first provisioning).
    LicenseAssigned,
    /// A PIN is generated (first, or because the Secret is missing).
    PinGenerated,
    /// The PIN is reset by request.
    PinReset,
    /// A conference ID is allocated (random) or the static one claimed, for a user without one.
    ConferenceIdAllocated,
    /// The conference ID is replaced by a new random one.
    ConferenceIdReset,
    /// The conference ID changes to a static one.
    ConferenceIdChanged,
    /// The Toll or TollFree number in effect changes.
    ServiceNumberChanged,
    /// The provider changes.
    ProviderChanged,
    /// The licence is removed.
    LicenseRemoved,
    /// PIN deleted and conference ID released.
    Deprovisioned,
    /// The tenant's conference-ID mode in effect changes.
    ConferenceIdModeChanged,
    /// The user is no longer in the tree.
    Removed,
    /// The user is taken over from another system (`spec.adopt`), instead of a licence
    /// assignment.
    TakenOver,
    /// A user taken over keeps the conference ID it brought.
    ConferenceIdKept,
    /// A user taken over keeps the PIN it brought.
    PinKept,
    /// The PIN is past its lifetime (`pin.lifetime`) and is rotated.
    PinExpired,
}

/// One e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Email {
    /// As in `status.notifications` (`PinReset`, ...).
    pub kind: NotificationKind,
    /// Where it goes.
    pub recipient: String,
    /// Its language.
    pub locale: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl PlanReport {
    /// E-mails that will be sent.
    pub(crate) fn emails(&self) -> usize {
        self.summary.emails
    }
}
