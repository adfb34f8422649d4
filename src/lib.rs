//! conferencing-operator: manages dial-in audio conferencing declaratively.
pub mod api;
pub mod notification;
pub mod provisioning;
pub mod validation;

#[cfg(test)]
pub mod fixtures;
pub mod planning;
