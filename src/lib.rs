//! conferencing-operator: manages dial-in audio conferencing declaratively.
pub mod api;
pub(crate) mod audit;
pub mod client;
pub mod config_repo;
pub mod controller;
pub mod crd;
pub mod domain;
pub(crate) mod error;
pub(crate) mod fault;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod http;
pub mod import;
pub mod leader;
pub mod notification;
pub mod planning;
pub mod provisioning;
pub mod schedule;
pub mod startup;
pub mod telemetry;
pub mod validation;
