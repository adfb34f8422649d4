//! What the operator hands out: PINs, conference IDs, and the objects that hold them (the
//! PIN Secret and the conference-ID claim), and the record Secret that holds what it
//! remembers of each user.

pub mod claim;
pub(crate) mod conference_id;
pub mod pin;
pub mod pin_history;
pub mod record;
pub mod secret;
