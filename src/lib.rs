//! p2p-tui: the seed-001 peer-to-peer file sharing protocol, its peers, tracker, web server,
//! checkers and front ends. The folders, from the bottom up (each mod.rs says what it may import):
//! core (protocol, store, net, settings) < peer, tracker, web < check < front (TUI, console) <
//! modes (what the process is) and cli (the command line that picks one). Beside them, relay: a
//! network path with delay and a rate cap for the tests and benchmarks (the binary never uses it).

pub(crate) mod check;
pub mod cli;
pub(crate) mod core;
pub(crate) mod front;
pub(crate) mod modes;
pub(crate) mod peer;
pub mod relay;
pub(crate) mod tracker;
pub(crate) mod web;

pub use modes::run;
