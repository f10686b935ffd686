//! Moving files between peers: the pure parts (allocation, scheduler, windows, versions), the
//! windowed exchange written once (`exchange`), and the download and upload engines that are
//! its two sides. Disk reads and writes run on blocking threads, never on the async workers.
//!
//! Both engines take a window: how many chunk requests may be in flight on one connection.
//! Window 1 is the seed's lockstep exchange.

pub mod allocation;
pub mod download;
pub mod exchange;
pub mod memory;
pub mod pipelining;
pub mod plain;
pub mod progress;
mod ring;
pub mod scheduler;
pub mod upload;
pub mod versions;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use super::connection::{ConnError, Connection};
use super::events::Reporter;
use crate::core::protocol::lines;
use crate::core::settings::PeerAddr;
use crate::core::store::Store;

/// What every transfer of one peer's client needs.
#[derive(Clone)]
pub struct TransferContext {
    /// This peer's ID.
    pub me: String,
    pub store: Arc<Store>,
    pub options: TransferOptions,
    pub out: Reporter,
    /// Every transfer's live progress, for a front end that shows it.
    pub transfers: Arc<progress::TransferRegistry>,
    /// Which peers take pipelined requests.
    pub pipelining: Arc<pipelining::Pipelining>,
}

/// Chunk requests in flight per connection with a pipelining peer.
pub const DEFAULT_WINDOW: usize = 512;

/// How long a serving peer may send nothing while replies are awaited.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings shared by every transfer of a client.
#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Chunk requests in flight per connection to peers that support it (1 = lockstep with
    /// everyone, and no extension probe).
    pub window: usize,
    /// Pause after each chunk this peer sends (uploads).
    pub chunk_delay: Duration,
    pub connect_timeout: Duration,
    /// A server silent this long while a reply is awaited has left the transfer (its chunks go
    /// to the others). Long enough never to fire on a healthy peer at `--chunk-delay 500`.
    pub stall_timeout: Duration,
    /// `window` was given (`--window`): it bounds every window. Otherwise a window grows up to
    /// the memory budget's share per peer.
    pub window_given: bool,
    /// Each download's memory budget (`--download-memory`).
    pub download_memory: memory::MemoryBudget,
    /// Keep the seed's round robin strictly (`--strict-round-robin`).
    pub strict_round_robin: bool,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            window: DEFAULT_WINDOW,
            chunk_delay: Duration::ZERO,
            connect_timeout: Duration::from_secs(5),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            window_given: false,
            download_memory: memory::MemoryBudget::default(),
            strict_round_robin: false,
        }
    }
}

impl TransferOptions {
    /// The most requests in flight to one of `peers` peers that pipeline: `--window` if given,
    /// else the memory budget's share.
    pub fn pipelined_window(&self, peers: usize) -> usize {
        if self.window_given {
            self.window
        } else {
            self.download_memory.window_per_peer(peers)
        }
    }
}

/// Connects to `peer`, printing the seed's line if that fails.
pub async fn connect(
    peer: &PeerAddr,
    options: &TransferOptions,
    out: &Reporter,
) -> Option<Connection> {
    let attempt = tokio::time::timeout(
        options.connect_timeout,
        tokio::net::TcpStream::connect(peer.connect_addr()),
    );
    match attempt.await {
        Ok(Ok(stream)) => Some(Connection::new(stream, options.stall_timeout)),
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer.id, error = %e, "connect failed");
            out.error(lines::connection_failed(&peer.id));
            None
        }
        Err(_) => {
            tracing::debug!(peer = %peer.id, "connect timed out");
            out.error(lines::connection_failed(&peer.id));
            None
        }
    }
}

/// Words for a connection that ended while a reply was awaited.
pub fn describe(e: &ConnError) -> String {
    match e {
        ConnError::Closed => "connection closed".into(),
        ConnError::Timeout(d) => format!("no reply for {}s", d.as_secs()),
        ConnError::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionReset => "connection reset".into(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => {
                "connection closed".into()
            }
            _ => e.to_string(),
        },
        ConnError::Protocol(e) => format!("protocol error: {e}"),
    }
}
