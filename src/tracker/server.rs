//! The tracker's network side: one task per peer connection, a shared directory, and the
//! serialized directory response cached until the directory changes (keep-alives from a
//! thousand peers must not re-serialize it every time).

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

use super::directory::{Directory, PeerId};
use super::messages::{JsonStream, TrackerRequest, classify};
use super::snapshot::Snapshots;
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

/// Bytes the kernel queues for one member (it doubles the figure for its bookkeeping): see
/// `small_send_buffer`.
const SEND_BUFFER: usize = 256 << 10;

/// The tracker's state, shared by its connection tasks (and by the web view).
#[derive(Default)]
pub struct Tracker {
    directory: Mutex<Directory>,
    /// (directory version, serialized response) of the last response built.
    cached: Mutex<(u64, Bytes)>,
    /// The directory as members are brought to it (see `snapshot`).
    snapshots: Snapshots,
    next_id: AtomicU64,
}

impl Tracker {
    pub fn directory(&self) -> MutexGuard<'_, Directory> {
        self.directory.lock_unpoisoned()
    }

    /// The directory response as sent: JSON plus `\n`, rebuilt only when the directory changed,
    /// outside the directory's lock (it holds the chosen copies without copying them).
    fn response(&self) -> Bytes {
        let (version, map) = {
            let dir = self.directory();
            (dir.version, dir.chosen())
        };
        {
            let cached = self.cached.lock_unpoisoned();
            if !cached.1.is_empty() && cached.0 == version {
                return cached.1.clone();
            }
        }
        let mut json = serde_json::to_vec(&*map).unwrap_or_else(|_| b"{}".to_vec());
        json.push(b'\n');
        let json = Bytes::from(json);
        let mut cached = self.cached.lock_unpoisoned();
        if cached.1.is_empty() || cached.0 < version {
            *cached = (version, json.clone());
        }
        json
    }

    /// The reply to a p2p-tui member holding `since` (see `snapshot`).
    fn delta(&self, since: u64) -> Bytes {
        self.snapshots.reply(self.directory(), since)
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
    let mut buffer_set = false;
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
            small_send_buffer(&stream, &request, &mut buffer_set);
            let reply = handle(tracker, id, addr, request);
            if let Err(why) = send(&mut stream, &reply, tracker, id, config.peer_timeout).await {
                return why;
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

/// A p2p-tui member's connection gets a small send buffer at its first message: a write then
/// returns as the member reads, so a member reading its whole directory slowly is seen to
/// progress (the kernel wakes a writer when a third of the buffer is free: a third of 4 MB, the
/// autotuned size, took a slow member longer than the timeout). A classroom peer keeps the
/// autotuned one: its whole directory, distinct for each version, goes into the kernel at once
/// and is not held in the tracker while the peer reads it (a small buffer took 1,000 joining
/// classroom peers from 20 to 116 MiB).
fn small_send_buffer(stream: &TcpStream, request: &TrackerRequest, set: &mut bool) {
    let member = matches!(
        request,
        TrackerRequest::Initial { since: Some(_), .. }
            | TrackerRequest::KeepAlive { since: Some(_), .. }
    );
    if member && !*set {
        *set = true;
        let _ =
            nix::sys::socket::setsockopt(stream, nix::sys::socket::sockopt::SndBuf, &SEND_BUFFER);
    }
}

/// Writes `reply` whole. A peer reading a large reply (the whole directory to 10,000 members
/// joining at once: 72 GB in all, a minute of loopback) is not silent: the writes that progress
/// note it as heard from, and only a write that makes no progress for `timeout` (a peer that
/// stopped reading) ends the connection (issue 30: a deadline for the whole reply closed 57
/// members that were reading).
async fn send(
    stream: &mut TcpStream,
    reply: &[u8],
    tracker: &Tracker,
    id: PeerId,
    timeout: Duration,
) -> Result<(), String> {
    let note_every = (timeout / 4).min(Duration::from_secs(1));
    let (mut sent, mut writes, mut noted) = (0, 0, Instant::now());
    while sent < reply.len() {
        match tokio::time::timeout(timeout, stream.write(&reply[sent..])).await {
            Ok(Ok(0)) => return Err("send failed: connection closed".into()),
            Ok(Ok(n)) => (sent, writes) = (sent + n, writes + 1),
            Ok(Err(e)) => return Err(format!("send failed: {e}")),
            Err(_) => {
                let secs = timeout.as_secs_f64();
                return Err(format!("not reading its replies for {secs}s"));
            }
        }
        // Its silence counts from the end of the reply (a reply sent in one write: from the
        // message, already noted).
        let done = sent == reply.len() && writes > 1;
        if done || noted.elapsed() >= note_every {
            noted = Instant::now();
            tracker.directory().replying(id, noted);
        }
    }
    Ok(())
}

fn handle(tracker: &Tracker, id: PeerId, addr: SocketAddr, request: TrackerRequest) -> Bytes {
    let now = Instant::now();
    match request {
        TrackerRequest::Initial { port, files, since } => {
            let count = files.len();
            let mut dir = tracker.directory();
            let known = dir.knows(id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::FileEntry;
    use crate::tracker::delta::{self, MemberView};
    use std::net::IpAddr;

    fn files(peer: u64, count: u64) -> Vec<FileEntry> {
        (0..count)
            .map(|i| FileEntry {
                name: format!("peer{peer}_file{i}"),
                mtime: 1,
            })
            .collect()
    }

    fn sync(tracker: &Tracker, member: &mut MemberView) {
        let reply = tracker.delta(member.version);
        let value: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert!(member.apply(delta::parse(&value).unwrap()));
    }

    /// Issue 30: members that hold the directory are brought to a change with a delta; the
    /// whole directory is serialized only for a member that needs it, never on a change (it
    /// was, 7 MB under the directory's lock, and every keep-alive waited behind it).
    #[test]
    fn a_change_serializes_no_whole_directory_for_members_that_hold_it() {
        let tracker = Tracker::default();
        let (ip, t) = (IpAddr::from([127, 0, 0, 1]), Instant::now());
        let mut members = vec![MemberView::default(); 20];
        for (peer, member) in (0u64..).zip(&mut members) {
            let port = 8000 + peer as u16;
            tracker
                .directory()
                .announce(peer, ip, port, files(peer, 50), t);
            sync(&tracker, member);
        }
        // Every member brought to the latest snapshot (the joins shared an older one).
        std::thread::sleep(crate::tracker::snapshot::SNAPSHOT_AGE);
        for member in &mut members {
            sync(&tracker, member);
            assert_eq!(member.directory, tracker.directory().response());
        }
        for round in 0..3u64 {
            // The snapshot is due again (its age is a lower bound: nothing to wait for).
            std::thread::sleep(crate::tracker::snapshot::SNAPSHOT_AGE);
            let built = tracker.snapshots.wholes_built();
            let mut changed = files(0, 50);
            changed.push(FileEntry {
                name: format!("new{round}"),
                mtime: 2,
            });
            tracker.directory().announce(0, ip, 8000, changed, t);
            for member in &mut members {
                sync(&tracker, member);
                sync(&tracker, member);
                assert_eq!(member.directory, tracker.directory().response());
            }
            assert_eq!(tracker.snapshots.wholes_built(), built, "round {round}");
        }
    }
}
