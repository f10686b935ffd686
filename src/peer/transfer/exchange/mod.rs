//! The windowed exchange of chunks with one peer, written once for both directions: the loop
//! (`run`), what differs by direction (`Side`, `Chunks`), and the link to the peer.
//! May import the protocol, the connection and the transfer's pure parts; not the engines.

mod link;
mod run;
mod wire;

pub use link::{Link, PeerFailure};
pub use run::{Batch, Ended, Side, run};
pub use wire::{Chunks, Sent, Way};
