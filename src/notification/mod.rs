//! Notification e-mails: templates, rendering and delivery.

pub mod ledger;
pub mod mail;
pub mod notifier;
pub mod preview;
pub mod queue;
pub mod relay;
pub mod templates;
