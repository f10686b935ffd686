//! The full-screen peer. `run` (event_loop.rs) owns the `App` (app.rs: focus and routing),
//! feeds it terminal events and the latest state at frame rate, and draws it (ui.rs, one file
//! per panel in panels/) from the panel states in state/. Imports only the core and the peer.

pub mod app;
pub mod areas;
mod event_loop;
pub mod input;
pub mod log;
pub mod panels;
pub mod ring;
pub mod state;
pub mod theme;
pub mod ui;

pub use event_loop::{PeerHandles, PeerSwitch, run, terminal_available};

#[cfg(test)]
pub(crate) mod app_tests;
#[cfg(test)]
mod render_tests;
