//! What the operator hands out: PINs, conference IDs, and the objects that hold them (the
//! PIN Secret and the conference-ID claim).

pub mod claim;
pub mod conference_id;
pub mod pin;
pub mod secret;
