//! `#DOWNLOAD`: ask every listed peer, then fetch chunk i from serving peer i mod n, one task per
//! serving peer, each with up to `window` requests in flight. A peer that leaves (or stays
//! silent for the stall timeout) hands its unfinished chunks to the others; the download fails
//! (partial file removed) only when none remain.
//!
//! Every decision is the `Scheduler`'s (pure, simulated in its tests); the tasks here only turn
//! sockets into its events and its answers into requests and file writes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::join_all;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::allocation::Takeover;
use super::exchange::{self, PeerFailure};
use super::pipelining::PeerWindow;
use super::progress::{Direction, TransferProgress};
use super::scheduler::{Scheduler, State};
use super::{TransferContext, bounded_window, connect, describe};
use crate::peer::connection::{ConnError, Connection};
use crate::peer::events::LineBatch;
use crate::protocol::{Expect, Framing, Reply, Request, lines};
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
    let shared = Arc::new(Shared::new(
        file,
        size,
        ids,
        partial,
        progress,
        &ctx.options,
    ));
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
    let partial = {
        let mut guard = shared.lock();
        let complete = !cancelled && guard.scheduler.state() == State::Succeeded;
        guard.partial.take().filter(|_| complete)
    };
    if let Some(partial) = partial {
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

/// Chunks held in memory for reassembly per download (100 bytes each): the scheduler never lets
/// requests run further ahead of the first missing chunk than this.
const REASSEMBLY_SLOTS: usize = 8192;

/// The scheduler and the partial file it writes, under one lock.
struct Transfer {
    scheduler: Scheduler,
    /// Taken when the download ends (committed on success, dropped, and so removed, otherwise).
    partial: Option<Partial>,
}

/// State shared by the fetch tasks of one download.
struct Shared {
    file: String,
    size: u64,
    /// Serving peers' IDs, by position in the serving set.
    ids: Vec<String>,
    transfer: Mutex<Transfer>,
    /// One per serving peer: wakes a fetch task that waits with nothing to send.
    wakers: Vec<Notify>,
    progress: Arc<TransferProgress>,
    /// A peer that sends nothing for this long while replies are awaited has left.
    stall_timeout: std::time::Duration,
}

impl Shared {
    fn new(
        file: &str,
        size: u64,
        ids: Vec<String>,
        partial: Partial,
        progress: Arc<TransferProgress>,
        options: &super::TransferOptions,
    ) -> Shared {
        Shared {
            file: file.to_string(),
            size,
            transfer: Mutex::new(Transfer {
                scheduler: Scheduler::new(size, ids.len(), REASSEMBLY_SLOTS),
                partial: Some(partial),
            }),
            wakers: ids.iter().map(|_| Notify::new()).collect(),
            ids,
            progress,
            stall_timeout: options.stall_timeout,
        }
    }

    // The lock guards plain data updated in short sections that do not panic.
    fn lock(&self) -> MutexGuard<'_, Transfer> {
        self.transfer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the fetch tasks the scheduler says may now have work (or must see the end).
    fn wake(&self, transfer: &mut Transfer) {
        for peer in transfer.scheduler.take_wakes() {
            if let Some(waker) = self.wakers.get(peer) {
                waker.notify_one();
            }
        }
    }

    /// The requests to send to `position` now, and whether the download is still running.
    fn request(&self, position: usize, window: usize) -> (Vec<u64>, bool) {
        let mut transfer = self.lock();
        let indices = transfer.scheduler.request(position, window);
        (indices, transfer.scheduler.state() == State::Running)
    }

    /// Hands a batch of replies from `position` to the scheduler and writes what is ready.
    fn arrived(&self, position: usize, chunks: &[(u64, Bytes)]) -> Result<(), String> {
        let mut guard = self.lock();
        let Transfer { scheduler, partial } = &mut *guard;
        for (index, payload) in chunks {
            scheduler
                .arrived(position, *index, payload)
                .map_err(|e| e.to_string())?;
        }
        let written = match partial.as_mut() {
            Some(p) => scheduler.write_ready(|offset, bytes| p.put(offset, bytes)),
            None => Ok(()),
        };
        if let Err(e) = written {
            scheduler.abort();
            self.wake(&mut guard);
            return Err(format!("Cannot write file {}: {e}", self.file));
        }
        self.wake(&mut guard);
        Ok(())
    }

    /// `position` stopped serving: its chunks go to the others.
    fn left(&self, position: usize) -> Option<Takeover> {
        let mut guard = self.lock();
        if guard.scheduler.state() != State::Running || !guard.scheduler.is_serving(position) {
            return None;
        }
        let takeover = guard.scheduler.left(position);
        self.wake(&mut guard);
        Some(takeover)
    }
}

/// Why a fetch task ended.
enum Ended {
    /// The download is over (every chunk written, or failed elsewhere).
    Over,
    /// The peer left this download.
    Left(PeerFailure),
    /// The file could not be written: the download fails.
    WriteFailed(String),
}

/// One serving peer's task: request what the scheduler hands out, up to the peer's window,
/// until the download is over or the peer leaves.
async fn fetch(
    shared: Arc<Shared>,
    position: usize,
    mut conn: Connection,
    ctx: TransferContext,
    peer_window: PeerWindow,
) {
    match fetch_loop(&shared, position, &mut conn, &ctx, &peer_window).await {
        Ended::Over => {}
        Ended::Left(why) => peer_left(&shared, position, &ctx, &why.to_string()),
        Ended::WriteFailed(why) => ctx.out.error(why),
    }
}

async fn fetch_loop(
    shared: &Shared,
    position: usize,
    conn: &mut Connection,
    ctx: &TransferContext,
    peer_window: &PeerWindow,
) -> Ended {
    let id = &shared.ids[position];
    let out = &ctx.out;
    let stall = shared.stall_timeout;
    let mut awaited: VecDeque<u64> = VecDeque::new();
    let mut batch: Vec<(u64, Bytes)> = Vec::new();
    let mut lines = LineBatch::default();
    let mut window = 1;
    loop {
        if awaited.is_empty() {
            // The window (and with it the framing) changes only with nothing in flight.
            // `#DOWNLOAD f chunk i\n`: the small messages here are the requests.
            window = bounded_window(peer_window.get(), shared.file.len() + 32);
        }
        let framing = exchange::framing(window);
        let (indices, running) = shared.request(position, window);
        if !running {
            return Ended::Over;
        }
        if !indices.is_empty() {
            for &index in &indices {
                let request = Request::DownloadChunk {
                    file: shared.file.clone(),
                    index,
                };
                lines.sent(id, &request);
                conn.queue_request(&request, framing);
            }
            out.emit(&mut lines);
            shared.progress.requested_many(position, indices.len());
            awaited.extend(&indices);
            if let Err(why) = exchange::flush(conn, stall).await {
                return Ended::Left(why);
            }
        }
        if awaited.is_empty() {
            // Nothing to send and nothing awaited: wait until the scheduler has work for us
            // (a takeover, the ring moving on) or the download ends.
            shared.wakers[position].notified().await;
            continue;
        }
        let expect = |k: usize| {
            awaited.get(k).map(|&index| Expect::DownloadChunk {
                size: shared.size,
                index,
            })
        };
        let (replies, error) =
            exchange::read_batch(conn, expect, framing, || peer_window.lockstep()).await;
        let mut failure = error.map(|e| PeerFailure::from_conn(e, stall));
        for decoded in replies {
            lines.replied(id, decoded.text());
            let Reply::Chunk { payload, index, .. } = decoded.message else {
                failure = Some(PeerFailure::RefusedChunk);
                break;
            };
            batch.push((index, payload));
            awaited.pop_front();
        }
        out.emit(&mut lines);
        if let Err(why) = shared.arrived(position, &batch) {
            return Ended::WriteFailed(why);
        }
        for (index, payload) in batch.drain(..) {
            shared.progress.chunk_done(position, index, payload.len());
        }
        if let Some(why) = failure {
            return Ended::Left(why);
        }
    }
}

fn peer_left(shared: &Shared, position: usize, ctx: &TransferContext, why: &str) {
    let Some(takeover) = shared.left(position) else {
        return;
    };
    let note = describe_takeover(shared, position, &takeover, why);
    shared.progress.peer_left(
        position,
        &takeover.stripes,
        &takeover.taken_by,
        note.clone(),
    );
    ctx.out.note(note);
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
