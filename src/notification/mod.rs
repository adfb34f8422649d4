//! Notification e-mails: templates, rendering and delivery.

pub(crate) mod ledger;
pub mod mail;
pub mod notifier;
pub mod preview;
pub(crate) mod queue;
pub(crate) mod relay;
pub mod templates;
