//! A peer: its server (serves served_files/), its client (runs commands against other peers) and
//! the transfer engine they share.

pub mod client;
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
