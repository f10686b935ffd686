//! Which peers may be sent pipelined requests, learned once per peer address.
//!
//! A transfer with a peer not yet known starts in lockstep (the seed's exchange) while a probe
//! asks, on a connection of its own, `#EXTENSIONS`. A p2p-tui peer answers
//! `200 Extensions: pipeline` and the transfer widens its window from its next idle moment; a
//! classroom peer answers with an error, closes or stays silent, and is never sent two
//! requests at once. A pipelined peer that breaks the protocol drops back to lockstep.
//! The same answer says whether the peer describes file contents (`digest`), which downloads
//! use to verify what arrives. A download's probe asks `#DIGEST f` in the same write, so that
//! at first contact the digest is in a round trip after the start, as the handshake's reply is:
//! a p2p-tui peer answers both on that connection; a classroom peer sees one unknown message,
//! as it saw the probe alone.
//!
//! Also learned once per address, by watching rather than asking: whether the peer closes the
//! connection after every reply (classroom servers that answer one request per connection), so
//! that later requests go out on a fresh connection each instead of paying a failed round trip.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::core::locks::LockExt;
use crate::core::protocol::digest::ContentDigest;
use crate::core::protocol::extensions::{DIGEST, PIPELINE};
use crate::core::protocol::{Expect, Framing, Reply, Request};
use crate::core::settings::PeerAddr;
use crate::peer::connection::Connection;

/// How long a probe may take before the peer is taken to be a lockstep peer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a peer may take to describe a file's content (it reads the file once, then caches).
pub const DIGEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The digest a first contact's probe asked beside `#EXTENSIONS`: of which file, and the answer
/// once in (`Some(None)`: none came).
#[derive(Clone, Debug)]
struct ProbedDigest {
    file: String,
    answer: watch::Receiver<Option<Option<ContentDigest>>>,
}

/// A peer's current window (1 until it is known to pipeline) and what its probe learned.
#[derive(Clone, Debug)]
pub struct PeerWindow {
    window: Arc<AtomicUsize>,
    /// The extension names the peer announced; `None` while the probe runs.
    extensions: watch::Receiver<Option<Vec<String>>>,
    /// Whether the peer was seen to close the connection right after a reply.
    one_per_connection: Arc<AtomicBool>,
    probed_digest: Option<ProbedDigest>,
}

impl PeerWindow {
    /// A window that never changes, for a peer that is not probed (no extensions).
    pub fn fixed(window: usize) -> PeerWindow {
        PeerWindow {
            window: Arc::new(AtomicUsize::new(window.max(1))),
            extensions: watch::channel(Some(Vec::new())).1,
            one_per_connection: Arc::default(),
            probed_digest: None,
        }
    }

    /// Whether each request should go out on a connection of its own: the peer closes after
    /// every reply (and is not known to pipeline, which promises the opposite).
    pub fn one_per_connection(&self) -> bool {
        self.get() == 1 && self.one_per_connection.load(Ordering::Relaxed)
    }

    /// The peer closed a connection right after its first reply: from now on, one request
    /// per connection (for every transfer of this client).
    pub fn learn_one_per_connection(&self) {
        if self.get() == 1 {
            self.one_per_connection.store(true, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> usize {
        self.window.load(Ordering::Relaxed).max(1)
    }

    /// Back to lockstep (the peer broke the protocol while pipelining).
    pub fn lockstep(&self) {
        self.window.store(1, Ordering::Relaxed);
    }

    /// Whether the peer's probe, if it has answered, named the extension `name`.
    pub fn speaks(&self, name: &str) -> bool {
        let answer = self.extensions.borrow();
        answer.as_ref().is_some_and(|n| n.iter().any(|n| n == name))
    }

    /// The digest of `file` the probe asked for beside `#EXTENSIONS`, waiting for it; `None` if
    /// the probe asked for another file or none, or no digest came.
    pub async fn probed_digest(&self, file: &str) -> Option<ContentDigest> {
        let probed = self.probed_digest.as_ref().filter(|p| p.file == file)?;
        let mut answer = probed.answer.clone();
        let came = tokio::time::timeout(DIGEST_TIMEOUT, answer.wait_for(Option::is_some)).await;
        came.ok()?.ok()?.clone().flatten()
    }

    /// Whether the peer answers `#DIGEST`, waiting for its probe if it is still running.
    pub async fn describes_content(&self) -> bool {
        let mut answer = self.extensions.clone();
        let known = tokio::time::timeout(PROBE_TIMEOUT * 2, answer.wait_for(Option::is_some)).await;
        matches!(known, Ok(Ok(names)) if names.as_ref().is_some_and(|n| n.iter().any(|n| n == DIGEST)))
    }
}

/// The client's knowledge of its peers, shared by all its transfers.
#[derive(Default)]
pub struct Pipelining {
    known: Arc<Mutex<HashMap<String, PeerWindow>>>,
    /// Per address: whether the peer closes after every reply (kept even when the window is
    /// fixed, and when an unreachable peer's probe is forgotten).
    one_per_connection: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Pipelining {
    /// The window to use with `peer`; the first call for an address starts the probe, which
    /// also asks the digest of `describe` if given (a download's file).
    pub fn window(&self, peer: &PeerAddr, wanted: usize, describe: Option<&str>) -> PeerWindow {
        let addr = peer.connect_addr();
        let one_per_connection = Arc::clone(
            self.one_per_connection
                .lock_unpoisoned()
                .entry(addr.clone())
                .or_default(),
        );
        if wanted <= 1 {
            return PeerWindow {
                one_per_connection,
                ..PeerWindow::fixed(1)
            };
        }
        let mut known = self.known.lock_unpoisoned();
        if let Some(window) = known.get(&addr) {
            return window.clone();
        }
        let (answered, extensions) = watch::channel(None);
        let (described, answer) = watch::channel(None);
        let file = describe.map(str::to_string);
        let window = PeerWindow {
            window: Arc::new(AtomicUsize::new(1)),
            extensions,
            one_per_connection,
            probed_digest: file.clone().map(|file| ProbedDigest { file, answer }),
        };
        known.insert(addr.clone(), window.clone());
        let probed = window.clone();
        let known = Arc::clone(&self.known);
        tokio::spawn(async move {
            let asked = tokio::time::timeout(PROBE_TIMEOUT, probe(&addr, file.as_deref())).await;
            let (answer, conn) = match asked {
                Ok(Some((names, conn))) => (Some(names), conn),
                Ok(None) => (None, None),
                Err(_) => (Some(Vec::new()), None),
            };
            tracing::debug!(%addr, ?answer, "extension probe");
            if answer
                .as_ref()
                .is_some_and(|names| names.iter().any(|n| n == PIPELINE))
            {
                probed.window.store(wanted, Ordering::Relaxed);
            }
            if answer.is_none() {
                // Not reachable now: ask again next time rather than settle on lockstep.
                known.lock_unpoisoned().remove(&addr);
            }
            let names = answer.unwrap_or_default();
            answered.send_replace(Some(names.clone()));
            let digest = match (conn, file) {
                (Some(conn), Some(file)) if names.iter().any(|n| n == DIGEST) => {
                    probed_digest(conn, &file).await
                }
                _ => None,
            };
            described.send_replace(Some(digest));
        });
        window
    }
}

/// Asks the peer at `addr` which extensions it has (none for a classroom peer), and in the same
/// write the digest of `file` if given: the names, and the connection when they came (its
/// digest, if asked, is still to read). `None` if the peer could not be reached.
async fn probe(addr: &str, file: Option<&str>) -> Option<(Vec<String>, Option<Connection>)> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut conn = Connection::new(stream, PROBE_TIMEOUT);
    conn.queue_request(&Request::Extensions, Framing::Line);
    if let Some(file) = file {
        let file = file.to_string();
        conn.queue_request(&Request::Digest { file }, Framing::Line);
    }
    if conn.flush().await.is_err() {
        return Some((Vec::new(), None));
    }
    match conn.read_reply(Expect::Extensions).await {
        Ok(reply) => match reply.message {
            Reply::Extensions(names) => Some((names, Some(conn))),
            _ => Some((Vec::new(), None)),
        },
        Err(_) => Some((Vec::new(), None)),
    }
}

/// The answer to the `#DIGEST file` a probe sent beside `#EXTENSIONS`, on its connection.
async fn probed_digest(mut conn: Connection, file: &str) -> Option<ContentDigest> {
    conn.set_timeout(DIGEST_TIMEOUT);
    let read = tokio::time::timeout(DIGEST_TIMEOUT, conn.read_reply(Expect::Digest)).await;
    match read.ok()?.ok()?.message {
        Reply::Digest {
            file: named,
            digest,
        } if named == file => Some(*digest),
        _ => None,
    }
}
