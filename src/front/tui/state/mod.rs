//! The UI's state, one struct per panel, each with the messages and keys it answers; `App`
//! (app.rs) owns them and routes to them. May import: effect.rs, the log, the command line's
//! editor, and what the peer reports. Never the panels: drawing reads state, not the reverse.

pub mod command_bar;
pub mod effect;
pub mod log_view;
pub mod network_files;
pub mod peers;
pub mod rate_history;
pub mod served_files;
pub mod transfers;
