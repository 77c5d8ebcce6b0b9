//! Triage: a whole DLQ grouped by cause, so each group can be fixed its own way.
//!
//! - [`scan`] receives a queue's messages (hidden while held) and gives them back;
//! - [`group`] groups them by shape, field, attribute, source, receives or hour;
//! - [`transform`] fixes bodies with a jq expression, keeping what it did not touch.

pub mod group;
pub mod scan;
pub mod shape;
pub mod transform;

pub use group::{Group, GroupBy, group};
pub use transform::Transform;
