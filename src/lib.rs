//! conferencing-operator: manages dial-in audio conferencing declaratively.
pub mod api;
pub mod audit;
pub mod client;
pub mod config_repo;
pub mod controller;
pub mod crd;
pub mod domain;
pub mod error;
pub mod fault;
#[cfg(test)]
pub mod fixtures;
pub mod http;
pub mod kubectl_plugin;
pub mod leader;
pub mod notification;
pub mod planning;
pub mod provisioning;
pub mod startup;
pub mod telemetry;
pub mod validation;
