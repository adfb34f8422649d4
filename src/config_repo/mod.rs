//! Config-repository tools: `validate` catches mistakes in a tree of tenants and users before
//! it is merged, and `plan` shows what applying it will do to people (actions and e-mails),
//! both with the same validation and planning code the controller runs.

pub mod cli;
pub mod findings;
pub(crate) mod kustomize;
pub(crate) mod live;
pub mod load;
pub(crate) mod plan;
pub(crate) mod render;
pub(crate) mod schema;
pub(crate) mod simulate;
pub(crate) mod validate;
