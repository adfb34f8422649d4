//! Config-repository tools: `validate` catches mistakes in a tree of tenants and users before
//! it is merged, and `plan` shows what applying it will do to people (actions and e-mails),
//! both with the same validation and planning code the controller runs.

pub mod cli;
pub mod findings;
pub(crate) mod kustomize;
pub mod live;
pub mod load;
pub mod plan;
pub mod render;
pub mod schema;
pub mod simulate;
pub mod validate;
