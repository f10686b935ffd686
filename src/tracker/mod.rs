//! The tracker of seeds 002 / 000 part II / 003: which live peer holds which file (SPEC §4), and
//! how a peer or synchronizer joins it. May import core only.

pub mod announce;
pub mod delta;
pub mod directory;
pub mod join;
pub mod messages;
pub mod outbox;
pub mod reconnect;
pub mod server;

pub use directory::{FileEntry, Holder};
pub use server::{Tracker, TrackerConfig, serve};
