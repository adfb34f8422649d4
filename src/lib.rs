//! conferencing-operator: manages dial-in audio conferencing declaratively.
pub mod api;
pub mod config_repo;
pub mod notification;
pub mod provisioning;
pub mod validation;

pub mod controller;
pub mod crd;
pub mod error;
#[cfg(test)]
pub mod fixtures;
pub mod planning;
pub mod telemetry;

pub use error::{Error, Result};
pub mod http;
