//! Notification e-mails: templates, rendering and delivery.

pub mod templates;
