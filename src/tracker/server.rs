//! The tracker's network side: one task per peer connection, a shared directory, and the
//! serialized directory response cached until the directory changes (keep-alives from a
//! thousand peers must not re-serialize it every time).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::delta;
use super::directory::{Directory, Holder, PeerId};
use super::messages::{JsonStream, TrackerRequest, classify};
use crate::core::locks::LockExt;
use crate::core::logging::Clip;
use crate::core::net::{Acceptor, AddressCap, Admitted, IdleSlot};

#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// A peer silent this long is dropped (SPEC: 3 keep-alive periods by default).
    pub peer_timeout: Duration,
    /// Longest JSON value accepted.
    pub max_message: usize,
    /// Connections at once (`--max-connections`); by default as many as the process's
    /// descriptors allow (see `net::capacity`): a member between keep-alives is idle by design,
    /// so the table must hold them all.
    pub max_connections: usize,
    /// Connections one client address may hold (`--max-per-address`); `None`: an eighth of
    /// `max_connections`, loopback exempt (see `net`).
    pub max_per_address: Option<usize>,
    pub summary_every: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            peer_timeout: Duration::from_secs(15),
            max_message: 4 << 20,
            max_connections: crate::core::net::capacity::capacity().connections,
            max_per_address: None,
            summary_every: Duration::from_secs(30),
        }
    }
}

/// How stale the members' snapshot may get while the directory changes: a change reaches every
/// member within one keep-alive period and this.
const SNAPSHOT_AGE: Duration = Duration::from_millis(500);

/// The directory at one version, for members: the map (to look changed names up in) and the
/// whole-directory reply, serialized once.
#[derive(Default)]
struct Snapshot {
    version: u64,
    built: Option<Instant>,
    map: Arc<BTreeMap<String, Holder>>,
    full: Bytes,
    /// Deltas to this snapshot, by the version they start from: the members that joined on
    /// one snapshot all ask from it, and get the same bytes.
    deltas: HashMap<u64, Bytes>,
}

/// Deltas kept per snapshot (a snapshot lives half a second while the directory changes).
const DELTAS_KEPT: usize = 64;
/// A delta of more names than this, and than half the directory, is not worth building for
/// one member: the whole directory, serialized once per snapshot, is sent instead.
const DELTA_WORTH_BUILDING: usize = 64;

/// The tracker's state, shared by its connection tasks (and by the web view).
#[derive(Default)]
pub struct Tracker {
    directory: Mutex<Directory>,
    /// (directory version, serialized response) of the last response built.
    cached: Mutex<(u64, Bytes)>,
    /// The directory as members are brought to it (see `delta`).
    snapshot: Mutex<Snapshot>,
    next_id: AtomicU64,
}

impl Tracker {
    pub fn directory(&self) -> MutexGuard<'_, Directory> {
        self.directory.lock_unpoisoned()
    }

    /// The directory response as sent: JSON plus `\n`, rebuilt only when the directory changed.
    fn response(&self) -> Bytes {
        let dir = self.directory();
        let mut cached = self.cached.lock_unpoisoned();
        if cached.1.is_empty() || cached.0 != dir.version {
            let mut json = serde_json::to_vec(&dir.response()).unwrap_or_else(|_| b"{}".to_vec());
            json.push(b'\n');
            *cached = (dir.version, Bytes::from(json));
        }
        cached.1.clone()
    }

    /// The reply to a p2p-tui member holding version `since` (see `delta`): it brings the
    /// member to the latest snapshot of the directory, rebuilt at most every `SNAPSHOT_AGE`
    /// (10,000 members joining at once would otherwise rebuild the whole directory, and send
    /// it whole, once per join). A delta is built outside the directory's lock, once per
    /// snapshot and starting version; one nearly as large as the directory is not built at
    /// all (issue 30: 2,000 members joined at once each had a 20,000-name delta built under
    /// the lock, 0.1 s apiece, and the tracker stalled for minutes).
    fn delta(&self, since: u64) -> Bytes {
        let (names, map, version) = {
            let dir = self.directory();
            let mut snapshot = self.snapshot.lock_unpoisoned();
            let stale = snapshot.built.is_none_or(|at| at.elapsed() >= SNAPSHOT_AGE);
            if snapshot.built.is_none() || (stale && snapshot.version != dir.version) {
                *snapshot = Self::snapshot(&dir);
            }
            if let Some(reply) = snapshot.deltas.get(&since) {
                return reply.clone();
            }
            match dir.changed_between(since, snapshot.version) {
                super::directory::Delta::Names(names)
                    if names.len() <= DELTA_WORTH_BUILDING
                        || names.len() * 2 <= snapshot.map.len() =>
                {
                    (names, Arc::clone(&snapshot.map), snapshot.version)
                }
                _ => return snapshot.full.clone(),
            }
        };
        let names = super::directory::Delta::Names(names);
        let reply = Bytes::from(delta::encode(&delta::build(&map, since, version, names)));
        let mut snapshot = self.snapshot.lock_unpoisoned();
        if snapshot.version == version && snapshot.deltas.len() < DELTAS_KEPT {
            snapshot.deltas.insert(since, reply.clone());
        }
        reply
    }

    /// The directory as it is now, for members.
    fn snapshot(dir: &Directory) -> Snapshot {
        let map = dir.response();
        let full = delta::build(&map, 0, dir.version, super::directory::Delta::Full);
        Snapshot {
            version: dir.version,
            built: Some(Instant::now()),
            full: Bytes::from(delta::encode(&full)),
            map: Arc::new(map),
            deltas: HashMap::new(),
        }
    }

    fn holders(&self, name: &str) -> Bytes {
        let holders = self.directory().holders(name);
        Bytes::from(super::messages::holders_answer(name, &holders))
    }
}

/// Serves peers until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    tracker: Arc<Tracker>,
    config: Arc<TrackerConfig>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let room = config
        .max_connections
        .min(crate::core::net::capacity::capacity().connections);
    info!(
        "tracker: room for {room} peers at once; a joined peer that keeps its keep-alives is \
         never closed to make room"
    );
    let mut acceptor = Acceptor::new(listener, room)
        .with_address_cap(AddressCap::chosen(config.max_per_address, room));
    tasks.spawn(summaries(
        Arc::clone(&tracker),
        config.summary_every,
        shutdown.clone(),
    ));
    tasks.spawn(expire_silent(
        Arc::clone(&tracker),
        config.peer_timeout,
        shutdown.clone(),
    ));
    while let Some(admitted) = acceptor.next_evicting(&shutdown).await {
        tasks.spawn(connection(
            admitted,
            Arc::clone(&tracker),
            Arc::clone(&config),
            shutdown.clone(),
        ));
    }
}

/// One peer's connection, to its end; then the peer leaves the directory. When every slot is
/// taken, a connection that has not sent its first message yet may be closed to admit another;
/// a registered peer never is.
async fn connection(
    admitted: Admitted,
    tracker: Arc<Tracker>,
    config: Arc<TrackerConfig>,
    shutdown: CancellationToken,
) {
    let Admitted {
        stream,
        addr,
        permit,
        mut slot,
    } = admitted;
    let evicted = slot.eviction();
    slot.idle();
    let id = tracker.next_id.fetch_add(1, Ordering::Relaxed);
    let why = tokio::select! {
        _ = shutdown.cancelled() => "tracker shutting down".to_string(),
        _ = evicted.cancelled() => "closed before its first message, to admit another".to_string(),
        why = peer_session(stream, addr, id, &tracker, &config, slot) => why,
    };
    if let Some((ip, port)) = tracker.directory().remove(id) {
        info!("peer {ip}:{port} left ({why})");
    } else {
        tracing::debug!("connection from {addr} ended ({why})");
    }
    drop(permit);
}

async fn peer_session(
    mut stream: TcpStream,
    addr: SocketAddr,
    id: PeerId,
    tracker: &Tracker,
    config: &TrackerConfig,
    mut first_message: IdleSlot,
) -> String {
    let mut json = JsonStream::new(config.max_message);
    // A message must be whole within the timeout: a byte is not progress (no dripping).
    let mut deadline = tokio::time::Instant::now() + config.peer_timeout;
    loop {
        loop {
            let value = match json.next_value() {
                Ok(Some(value)) => {
                    first_message.busy();
                    value
                }
                Ok(None) => break,
                Err(e) => {
                    let e = e.to_string();
                    warn!("peer {addr}: {}; closing its connection", Clip(&e));
                    return Clip(&e).to_string();
                }
            };
            let request = match classify(&value) {
                Ok(request) => request,
                Err(e) => {
                    let e = e.to_string();
                    warn!("peer {addr}: {}; closing its connection", Clip(&e));
                    return Clip(&e).to_string();
                }
            };
            let reply = handle(tracker, id, addr, request);
            // A peer that stops reading is dropped like a silent one: the write has a deadline.
            match tokio::time::timeout(config.peer_timeout, stream.write_all(&reply)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return format!("send failed: {e}"),
                Err(_) => {
                    let secs = config.peer_timeout.as_secs();
                    return format!("not reading its replies for {secs}s");
                }
            }
            deadline = tokio::time::Instant::now() + config.peer_timeout;
        }
        let read = tokio::time::timeout_at(deadline, stream.read_buf(json.buffer())).await;
        match read {
            Err(_) => return format!("silent for {}s", config.peer_timeout.as_secs()),
            Ok(Ok(0)) => return "connection closed".into(),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return e.to_string(),
        }
    }
}

fn handle(tracker: &Tracker, id: PeerId, addr: SocketAddr, request: TrackerRequest) -> Bytes {
    let now = Instant::now();
    match request {
        TrackerRequest::Initial { port, files, since } => {
            let count = files.len();
            let mut dir = tracker.directory();
            let known = dir.keep_alive(id, addr.ip(), port, now);
            dir.announce(id, addr.ip(), port, files, now);
            drop(dir);
            if known {
                info!(
                    "peer {}:{port} re-announced {}",
                    addr.ip(),
                    crate::core::words::counted(count as u64, "file")
                );
            } else {
                info!(
                    "peer {}:{port} joined with {}",
                    addr.ip(),
                    crate::core::words::counted(count as u64, "file")
                );
            }
            directory_reply(tracker, since)
        }
        TrackerRequest::KeepAlive { port, since } => {
            if !tracker.directory().keep_alive(id, addr.ip(), port, now) {
                info!("peer {}:{port} joined (keep-alive first)", addr.ip());
            }
            directory_reply(tracker, since)
        }
        TrackerRequest::Holders { name } => tracker.holders(&name),
    }
}

/// The whole directory for a classroom peer; what changed since its version for a p2p-tui
/// member.
fn directory_reply(tracker: &Tracker, since: Option<u64>) -> Bytes {
    match since {
        Some(since) => tracker.delta(since),
        None => tracker.response(),
    }
}

/// Drops peers silent for longer than the timeout, whatever their connection's task is doing
/// (a task stuck writing to a peer that does not read would otherwise keep it listed).
async fn expire_silent(tracker: Arc<Tracker>, timeout: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval((timeout / 4).max(Duration::from_millis(50)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let gone = tracker.directory().expire(Instant::now(), timeout);
        if !gone.is_empty() {
            info!(
                "{} silent for {}s dropped",
                crate::core::words::counted(gone.len() as u64, "peer"),
                timeout.as_secs()
            );
        }
    }
}

async fn summaries(tracker: Arc<Tracker>, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut last = (usize::MAX, usize::MAX);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = {
            let dir = tracker.directory();
            (dir.peer_count(), dir.file_count())
        };
        if now != last {
            info!(
                "tracker: {}, {}",
                crate::core::words::counted(now.0 as u64, "peer"),
                crate::core::words::counted(now.1 as u64, "file")
            );
            last = now;
        }
    }
}
