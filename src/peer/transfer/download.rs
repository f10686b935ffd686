//! `#DOWNLOAD`: ask every listed peer, then fetch chunk i from serving peer i mod n, one task per
//! serving peer, each with up to `window` requests in flight. A peer that leaves hands its
//! unfinished chunks to the others; the download fails (partial file removed) only when none remain.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::allocation::{Allocation, Takeover};
use super::pipelining::PeerWindow;
use super::progress::{Direction, TransferProgress};
use super::reassembly::Reassembly;
use super::{TransferContext, bounded_window, connect, describe};
use crate::peer::connection::{ConnError, Connection};
use crate::peer::events::LineBatch;
use crate::protocol::{Expect, Framing, Reply, Request, chunk_count, lines};
use crate::settings::PeerAddr;
use crate::store::{Partial, StoreError};
use bytes::Bytes;

/// Downloads `file` from `peers` (already resolved, this peer excluded); true on success.
///
/// `plain_fallback` (holders found through the tracker): if no holder speaks seed 001 but some
/// closed the connection silently, as synchronizers do, the file is fetched from the first of
/// them by plain file request.
pub async fn download(
    ctx: &TransferContext,
    file: &str,
    peers: &[PeerAddr],
    cancel: &CancellationToken,
    plain_fallback: bool,
) -> bool {
    let out = &ctx.out;
    out.outcome(lines::downloading(file));
    // Learning who pipelines (the first time only) runs beside the seed's exchange.
    let windows: Vec<PeerWindow> = peers
        .iter()
        .map(|peer| ctx.pipelining.window(peer, ctx.options.window))
        .collect();
    let replies = join_all(peers.iter().map(|peer| ask(ctx, peer, file))).await;
    let mut serving: Vec<(String, Connection, u64, PeerWindow)> = Vec::new();
    let mut silent: Vec<&PeerAddr> = Vec::new();
    for ((peer, reply), window) in peers.iter().zip(replies).zip(windows) {
        let (conn, size) = match reply {
            Ok(serves) => serves,
            Err(Asked::Silent) => {
                silent.push(peer);
                continue;
            }
            Err(Asked::No) => continue,
        };
        match serving.first() {
            Some((_, _, first_size, _)) if *first_size != size => out.note(format!(
                "Server {} reports {size} bytes for file {file}, not {first_size}; not used",
                peer.id
            )),
            _ => serving.push((peer.id.clone(), conn, size, window)),
        }
    }
    if let (true, [holder, ..], true) = (serving.is_empty(), silent.as_slice(), plain_fallback) {
        return super::plain::fetch(ctx, file, holder, cancel).await;
    }
    let Some(&(_, _, size, _)) = serving.first() else {
        let listed: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
        out.error(lines::nobody_serves(file, &listed));
        return false;
    };
    let partial = match ctx.store.reserve(file, size) {
        Ok(partial) => partial,
        Err(e) => {
            let why = match e {
                StoreError::AlreadyServing(_) => {
                    format!("File {file} appeared in served_files meanwhile")
                }
                other => other.to_string(),
            };
            out.error(why);
            out.error(lines::download_result(file, false));
            return false;
        }
    };
    let ids: Vec<String> = serving.iter().map(|s| s.0.clone()).collect();
    let progress = Arc::new(TransferProgress::new(
        file,
        Direction::Download,
        size,
        ids.clone(),
    ));
    ctx.transfers.add(Arc::clone(&progress));
    let shared = Arc::new(Shared::new(file, size, ids, partial, progress));
    let mut tasks = JoinSet::new();
    for (position, (_, conn, _, window)) in serving.into_iter().enumerate() {
        tasks.spawn(fetch(
            Arc::clone(&shared),
            position,
            conn,
            ctx.clone(),
            window,
        ));
    }
    let cancelled = wait_all(&mut tasks, cancel).await;
    finish(ctx, &shared, cancelled).await
}

/// Why a peer is not in the serving set.
enum Asked {
    /// Unreachable, refused, or answered something else.
    No,
    /// Closed the connection without a word: not a seed-001 server (a synchronizer, say).
    Silent,
}

/// Sends `#DOWNLOAD f` to one peer; the open connection and size if it serves the file.
async fn ask(
    ctx: &TransferContext,
    peer: &PeerAddr,
    file: &str,
) -> Result<(Connection, u64), Asked> {
    let out = &ctx.out;
    let mut conn = connect(peer, &ctx.options, out).await.ok_or(Asked::No)?;
    let request = Request::DownloadStart {
        file: file.to_string(),
    };
    out.sent(&peer.id, &request);
    if let Err(e) = conn.send_request(&request, Framing::Bare).await {
        out.note(format!("Server {} closed the connection: {e}", peer.id));
        return Err(Asked::No);
    }
    match conn.read_reply(Expect::DownloadStart).await {
        Ok(reply) => {
            out.replied(&peer.id, reply.text());
            match reply.message {
                Reply::ReadyToSend { file: named, size } if named == file => Ok((conn, size)),
                Reply::ReadyToSend { file: named, .. } => {
                    out.note(format!(
                        "Server {} offered file {named}, not {file}; not used",
                        peer.id
                    ));
                    Err(Asked::No)
                }
                _ => Err(Asked::No),
            }
        }
        Err(ConnError::Closed) => {
            out.note(format!(
                "Server {} closed the connection without a reply",
                peer.id
            ));
            Err(Asked::Silent)
        }
        Err(e) => {
            out.note(format!(
                "Server {} did not answer #DOWNLOAD {file}: {}",
                peer.id,
                describe(&e)
            ));
            Err(Asked::No)
        }
    }
}

/// Waits for every fetch task; on cancel, stops them all. True if cancelled.
async fn wait_all(tasks: &mut JoinSet<()>, cancel: &CancellationToken) -> bool {
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { return false },
            _ = cancel.cancelled() => {
                tasks.shutdown().await;
                return true;
            }
        }
    }
}

async fn finish(ctx: &TransferContext, shared: &Shared, cancelled: bool) -> bool {
    let out = &ctx.out;
    let file = &shared.file;
    let progress = &shared.progress;
    let mut complete = !cancelled && shared.done.load(Ordering::Acquire) == shared.chunks;
    let partial = {
        let mut writer = shared.writer();
        let Writer { partial, ring, .. } = &mut *writer;
        if let (true, Some(p)) = (complete, partial.as_mut())
            && let Err(e) = ring.flush(|offset, bytes| p.put(offset, bytes))
        {
            out.error(format!("Cannot write file {file}: {e}"));
            complete = false;
        }
        partial.take()
    };
    if let (true, Some(partial)) = (complete, partial) {
        match tokio::task::spawn_blocking(move || partial.commit()).await {
            Ok(Ok(())) => {
                out.outcome(lines::download_result(file, true));
                progress.finish(true);
                return true;
            }
            Ok(Err(e)) => out.error(format!("Cannot save file {file}: {e}")),
            Err(e) => out.error(format!("Cannot save file {file}: {e}")),
        }
    }
    if cancelled {
        out.note(format!("Download of file {file} cancelled"));
    }
    out.error(lines::download_result(file, false));
    let removed = format!("Partial file {file} removed");
    progress.note(removed.clone());
    out.note(removed);
    progress.finish(false);
    false
}

/// Chunks held in memory for reassembly per download (100 bytes each).
const REASSEMBLY_SLOTS: usize = 8192;

/// The partial file and the ring that turns chunks into large writes.
struct Writer {
    partial: Option<Partial>,
    ring: Reassembly,
    /// The ring's front when fetchers were last woken.
    woken_at: u64,
}

/// State shared by the fetch tasks of one download.
struct Shared {
    file: String,
    size: u64,
    chunks: u64,
    /// Serving peers' IDs, by position in the serving set.
    ids: Vec<String>,
    allocation: Mutex<Allocation>,
    writer: Mutex<Writer>,
    done: AtomicU64,
    /// The first chunk not yet arrived (the reassembly ring's front).
    low: AtomicU64,
    /// How far past `low` chunks may be requested.
    reach: u64,
    /// Set when the download cannot succeed any more (the partial file could not be written).
    aborted: AtomicBool,
    /// Bumped whenever idle fetchers should look again: chunks reassigned, download over.
    changed: watch::Sender<u64>,
    progress: Arc<TransferProgress>,
}

impl Shared {
    fn new(
        file: &str,
        size: u64,
        ids: Vec<String>,
        partial: Partial,
        progress: Arc<TransferProgress>,
    ) -> Shared {
        let chunks = chunk_count(size);
        let ring = Reassembly::new(size, REASSEMBLY_SLOTS);
        let reach = ring.reach();
        Shared {
            file: file.to_string(),
            size,
            chunks,
            allocation: Mutex::new(Allocation::round_robin(chunks, ids.len())),
            ids,
            writer: Mutex::new(Writer {
                partial: Some(partial),
                ring,
                woken_at: 0,
            }),
            low: AtomicU64::new(0),
            reach,
            done: AtomicU64::new(0),
            aborted: AtomicBool::new(false),
            changed: watch::Sender::new(0),
            progress,
        }
    }

    // The locks guard plain data updated in short, non-panicking sections.
    fn allocation(&self) -> MutexGuard<'_, Allocation> {
        self.allocation.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn over(&self) -> bool {
        self.done.load(Ordering::Acquire) == self.chunks || self.aborted.load(Ordering::Acquire)
    }

    fn wake_all(&self) {
        self.changed.send_modify(|generation| *generation += 1);
    }

    /// Stores a batch of arrived chunks (one lock for the lot).
    fn store_chunks(&self, chunks: &[(u64, Bytes)]) -> std::io::Result<()> {
        {
            let mut writer = self.writer();
            let Writer {
                partial,
                ring,
                woken_at,
            } = &mut *writer;
            if let Some(partial) = partial.as_mut() {
                for (index, payload) in chunks {
                    ring.put(*index, payload, |offset, bytes| partial.put(offset, bytes))?;
                }
            }
            let low = ring.ready();
            self.low.store(low, Ordering::Release);
            // Peers held back by the reach may go on.
            if low >= *woken_at + self.reach / 8 {
                *woken_at = low;
                self.wake_all();
            }
        }
        let before = self.done.fetch_add(chunks.len() as u64, Ordering::AcqRel);
        if before + chunks.len() as u64 == self.chunks {
            self.wake_all();
        }
        Ok(())
    }
}

/// One serving peer's task: request its chunks, up to the peer's window at a time, until the
/// download is over or the peer leaves.
async fn fetch(
    shared: Arc<Shared>,
    position: usize,
    mut conn: Connection,
    ctx: TransferContext,
    peer_window: PeerWindow,
) {
    let id = &shared.ids[position];
    let out = &ctx.out;
    let mut changes = shared.changed.subscribe();
    let mut in_flight: VecDeque<u64> = VecDeque::new();
    let mut batch: Vec<(u64, Bytes)> = Vec::new();
    let mut lines = LineBatch::default();
    let (mut window, mut framing) = (1, Framing::Bare);
    let expect = |index| Expect::DownloadChunk {
        size: shared.size,
        index,
    };
    loop {
        changes.borrow_and_update();
        if in_flight.is_empty() {
            // The window (and with it the framing) changes only with nothing in flight.
            // `#DOWNLOAD f chunk i\n`: the small messages here are the requests.
            window = bounded_window(peer_window.get(), shared.file.len() + 32);
            framing = if window > 1 {
                Framing::Line
            } else {
                Framing::Bare
            };
        }
        // Top the window up once half of it has drained, so requests leave in batches.
        if in_flight.len() <= window / 2 {
            let room = window - in_flight.len();
            // Never more than the reassembly ring's reach ahead of the first missing chunk:
            // the download ends with the slowest peer's share anyway.
            let limit = shared.low.load(Ordering::Acquire) + shared.reach;
            let indices: Vec<u64> = {
                let mut allocation = shared.allocation();
                (0..room)
                    .map_while(|_| allocation.next_below(position, limit))
                    .collect()
            };
            for &index in &indices {
                let request = Request::DownloadChunk {
                    file: shared.file.clone(),
                    index,
                };
                lines.sent(id, &request);
                conn.queue_request(&request, framing);
                in_flight.push_back(index);
            }
            out.emit(&mut lines);
            shared.progress.requested_many(position, indices.len());
            if let Err(e) = conn.flush().await {
                return peer_left(&shared, position, &mut in_flight, &ctx, &e.to_string());
            }
        }
        let Some(&index) = in_flight.front() else {
            if shared.over() || changes.changed().await.is_err() {
                return;
            }
            continue;
        };
        // One reply, waiting for it if need be, then every further reply already read,
        // stored as one batch.
        let mut reply = conn.read_reply(expect(index)).await;
        let mut failure = None;
        loop {
            let decoded = match reply {
                Ok(decoded) => decoded,
                Err(e) => {
                    if framing == Framing::Line && matches!(e, ConnError::Protocol(_)) {
                        peer_window.lockstep();
                    }
                    failure = Some(describe(&e));
                    break;
                }
            };
            lines.replied(id, decoded.text());
            let Reply::Chunk { payload, index, .. } = decoded.message else {
                failure = Some("it refused a chunk".to_string());
                break;
            };
            batch.push((index, payload));
            in_flight.pop_front();
            let Some(&next) = in_flight.front() else {
                break;
            };
            reply = match conn.buffered_reply(expect(next)) {
                Ok(Some(decoded)) => Ok(decoded),
                Ok(None) => break,
                Err(e) => Err(e),
            };
        }
        out.emit(&mut lines);
        if let Err(e) = shared.store_chunks(&batch) {
            out.error(format!("Cannot write file {}: {e}", shared.file));
            shared.aborted.store(true, Ordering::Release);
            shared.wake_all();
            return;
        }
        for (index, payload) in batch.drain(..) {
            shared.progress.chunk_done(position, index, payload.len());
        }
        if let Some(why) = failure {
            return peer_left(&shared, position, &mut in_flight, &ctx, &why);
        }
    }
}

fn peer_left(
    shared: &Shared,
    position: usize,
    in_flight: &mut VecDeque<u64>,
    ctx: &TransferContext,
    why: &str,
) {
    if shared.over() {
        return;
    }
    let takeover = shared
        .allocation()
        .peer_left(position, in_flight.make_contiguous());
    let note = describe_takeover(shared, position, &takeover, why);
    shared.progress.peer_left(
        position,
        &takeover.stripes,
        &takeover.taken_by,
        note.clone(),
    );
    ctx.out.note(note);
    shared.wake_all();
}

fn describe_takeover(shared: &Shared, position: usize, takeover: &Takeover, why: &str) -> String {
    let who = &shared.ids[position];
    let file = &shared.file;
    let head = format!("Server {who} stopped serving file {file} ({why})");
    if takeover.taken_by.is_empty() {
        return format!(
            "{head}: {} unfinished chunks, no serving peers left",
            takeover.orphaned
        );
    }
    let names: Vec<&str> = takeover
        .taken_by
        .iter()
        .map(|&(p, _)| shared.ids[p].as_str())
        .collect();
    format!(
        "{head}: {} unfinished chunks reassigned to {}",
        takeover.orphaned,
        names.join(" ")
    )
}
