//! The integration tests, one binary so that the suite links the operator's library once.
//! Each module is named for what it specifies. Tests that need a cluster are
//! `#[ignore = "needs a cluster: scripts/test runs it"]`; those that start a private control
//! plane of their own sit in a `private_control_plane` module (see README.md, "Developing").

mod support;

mod admission_policy;
mod argocd_health;
mod attacks;
mod crds_generated;
mod crds_on_a_server;
mod docs_complete;
mod emails;
mod example_workflow;
mod faults;
mod flux_health;
mod helm_chart;
mod kubectl_plugin;
mod leader_election_and_metrics;
mod monitoring;
mod pause_hold_and_who_asked;
mod pin_lifecycle;
mod pins_ids_licences_providers;
mod plan_live;
mod rbac_rules;
mod scripts_lint;
mod secure_defaults;
mod slow_relays;
mod takeover;
mod upgrades;
mod validate_and_plan;
