//! conferencing-operator: manages dial-in audio conferencing declaratively.
pub mod api;
pub mod notification;
