//! Which peers may be sent pipelined requests, learned once per peer address.
//!
//! A transfer with a peer not yet known starts in lockstep (the seed's exchange) while a probe
//! asks, on a connection of its own, `#EXTENSIONS`. A p2p-tui peer answers
//! `200 Extensions: pipeline` and the transfer widens its window from its next idle moment; a
//! classroom peer answers with an error, closes or stays silent, and is never sent two
//! requests at once. A pipelined peer that breaks the protocol drops back to lockstep.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::peer::connection::Connection;
use crate::peer::server::PIPELINE;
use crate::protocol::{Expect, Framing, Reply, Request};
use crate::settings::PeerAddr;

/// How long a probe may take before the peer is taken to be a lockstep peer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A peer's current window: 1 until it is known to pipeline.
#[derive(Clone, Debug)]
pub struct PeerWindow(Arc<AtomicUsize>);

impl PeerWindow {
    pub fn fixed(window: usize) -> PeerWindow {
        PeerWindow(Arc::new(AtomicUsize::new(window.max(1))))
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed).max(1)
    }

    /// Back to lockstep (the peer broke the protocol while pipelining).
    pub fn lockstep(&self) {
        self.0.store(1, Ordering::Relaxed);
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
        let window = PeerWindow::fixed(1);
        known.insert(addr.clone(), window.clone());
        let probed = window.clone();
        let known = Arc::clone(&self.known);
        tokio::spawn(async move {
            let answer = tokio::time::timeout(PROBE_TIMEOUT, probe(&addr))
                .await
                .unwrap_or(Some(false));
            tracing::debug!(%addr, ?answer, "extension probe");
            match answer {
                Some(true) => probed.0.store(wanted, Ordering::Relaxed),
                Some(false) => {}
                // Not reachable now: ask again next time rather than settle on lockstep.
                None => {
                    known
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&addr);
                }
            }
        });
        window
    }
}

/// Asks the peer at `addr` which extensions it has: whether it takes pipelined requests, or
/// `None` if it could not be reached.
async fn probe(addr: &str) -> Option<bool> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut conn = Connection::new(stream, PROBE_TIMEOUT);
    if conn
        .send_request(&Request::Extensions, Framing::Line)
        .await
        .is_err()
    {
        return Some(false);
    }
    Some(matches!(
        conn.read_reply(Expect::Extensions).await,
        Ok(reply) if matches!(&reply.message, Reply::Extensions(names) if names.iter().any(|n| n == PIPELINE))
    ))
}
