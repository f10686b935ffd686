//! A peer: its server (serves served_files/), its client (runs the user's commands, whose table is
//! here too, against other peers) and the transfer engine they share. May import core and tracker.

pub mod client;
pub mod command;
pub mod connection;
pub mod content;
pub mod events;
pub mod file_list;
pub mod runtime;
pub mod server;
pub mod transfer;

pub use client::Client;
pub use events::{LineBatch, LineSink, Reporter};
pub use server::{ServerConfig, serve};
