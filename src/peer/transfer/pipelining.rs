//! Which peers may be sent pipelined requests, learned once per peer address.
//!
//! A transfer with a peer not yet known starts in lockstep (the seed's exchange) while a probe
//! asks, on a connection of its own, `#EXTENSIONS`. A p2p-tui peer answers
//! `200 Extensions: pipeline` and the transfer widens its window from its next idle moment; a
//! classroom peer answers with an error, closes or stays silent, and is never sent two
//! requests at once. A pipelined peer that breaks the protocol drops back to lockstep.
//! The same answer says whether the peer describes file contents (`digest`), which downloads
//! use to verify what arrives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::peer::connection::Connection;
use crate::peer::server::PIPELINE;
use crate::protocol::digest::DIGEST_EXTENSION;
use crate::protocol::{Expect, Framing, Reply, Request};
use crate::settings::PeerAddr;

/// How long a probe may take before the peer is taken to be a lockstep peer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A peer's current window (1 until it is known to pipeline) and what its probe learned.
#[derive(Clone, Debug)]
pub struct PeerWindow {
    window: Arc<AtomicUsize>,
    /// The extension names the peer announced; `None` while the probe runs.
    extensions: watch::Receiver<Option<Vec<String>>>,
}

impl PeerWindow {
    /// A window that never changes, for a peer that is not probed (no extensions).
    pub fn fixed(window: usize) -> PeerWindow {
        PeerWindow {
            window: Arc::new(AtomicUsize::new(window.max(1))),
            extensions: watch::channel(Some(Vec::new())).1,
        }
    }

    pub fn get(&self) -> usize {
        self.window.load(Ordering::Relaxed).max(1)
    }

    /// Back to lockstep (the peer broke the protocol while pipelining).
    pub fn lockstep(&self) {
        self.window.store(1, Ordering::Relaxed);
    }

    /// Whether the peer answers `#DIGEST`, waiting for its probe if it is still running.
    pub async fn describes_content(&self) -> bool {
        let mut answer = self.extensions.clone();
        let known = tokio::time::timeout(PROBE_TIMEOUT * 2, answer.wait_for(Option::is_some)).await;
        matches!(known, Ok(Ok(names)) if names.as_ref().is_some_and(|n| n.iter().any(|n| n == DIGEST_EXTENSION)))
    }
}

/// The client's knowledge of its peers, shared by all its transfers.
#[derive(Default)]
pub struct Pipelining {
    known: Arc<Mutex<HashMap<String, PeerWindow>>>,
}

impl Pipelining {
    /// The window to use with `peer`; the first call for an address starts the probe.
    pub fn window(&self, peer: &PeerAddr, wanted: usize) -> PeerWindow {
        if wanted <= 1 {
            return PeerWindow::fixed(1);
        }
        let addr = peer.connect_addr();
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(window) = known.get(&addr) {
            return window.clone();
        }
        let (answered, extensions) = watch::channel(None);
        let window = PeerWindow {
            window: Arc::new(AtomicUsize::new(1)),
            extensions,
        };
        known.insert(addr.clone(), window.clone());
        let probed = window.clone();
        let known = Arc::clone(&self.known);
        tokio::spawn(async move {
            let answer = tokio::time::timeout(PROBE_TIMEOUT, probe(&addr))
                .await
                .unwrap_or(Some(Vec::new()));
            tracing::debug!(%addr, ?answer, "extension probe");
            if answer
                .as_ref()
                .is_some_and(|names| names.iter().any(|n| n == PIPELINE))
            {
                probed.window.store(wanted, Ordering::Relaxed);
            }
            if answer.is_none() {
                // Not reachable now: ask again next time rather than settle on lockstep.
                known
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&addr);
            }
            answered.send_replace(Some(answer.unwrap_or_default()));
        });
        window
    }
}

/// Asks the peer at `addr` which extensions it has (none for a classroom peer), or `None` if it
/// could not be reached.
async fn probe(addr: &str) -> Option<Vec<String>> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut conn = Connection::new(stream, PROBE_TIMEOUT);
    if conn
        .send_request(&Request::Extensions, Framing::Line)
        .await
        .is_err()
    {
        return Some(Vec::new());
    }
    match conn.read_reply(Expect::Extensions).await {
        Ok(reply) => match reply.message {
            Reply::Extensions(names) => Some(names),
            _ => Some(Vec::new()),
        },
        Err(_) => Some(Vec::new()),
    }
}
