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
use super::progress::{Direction, TransferProgress};
use super::{TransferContext, connect, describe};
use crate::peer::connection::{ConnError, Connection};
use crate::protocol::{Expect, Framing, Reply, Request, chunk_count, chunk_offset, lines};
use crate::settings::PeerAddr;
use crate::store::{Partial, StoreError};

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
    let replies = join_all(peers.iter().map(|peer| ask(ctx, peer, file))).await;
    let mut serving: Vec<(String, Connection, u64)> = Vec::new();
    let mut silent: Vec<&PeerAddr> = Vec::new();
    for (peer, reply) in peers.iter().zip(replies) {
        let (conn, size) = match reply {
            Ok(serves) => serves,
            Err(Asked::Silent) => {
                silent.push(peer);
                continue;
            }
            Err(Asked::No) => continue,
        };
        match serving.first() {
            Some((_, _, first_size)) if *first_size != size => out.note(format!(
                "Server {} reports {size} bytes for file {file}, not {first_size}; not used",
                peer.id
            )),
            _ => serving.push((peer.id.clone(), conn, size)),
        }
    }
    if let (true, [holder, ..], true) = (serving.is_empty(), silent.as_slice(), plain_fallback) {
        return super::plain::fetch(ctx, file, holder, cancel).await;
    }
    let Some(&(_, _, size)) = serving.first() else {
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
    for (position, (_, conn, _)) in serving.into_iter().enumerate() {
        tasks.spawn(fetch(Arc::clone(&shared), position, conn, ctx.clone()));
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
            out.replied(&peer.id, &reply.text);
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
    let partial = shared.partial().take();
    let progress = &shared.progress;
    let complete = !cancelled && shared.done.load(Ordering::Acquire) == shared.chunks;
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

/// State shared by the fetch tasks of one download.
struct Shared {
    file: String,
    size: u64,
    chunks: u64,
    /// Serving peers' IDs, by position in the serving set.
    ids: Vec<String>,
    allocation: Mutex<Allocation>,
    partial: Mutex<Option<Partial>>,
    done: AtomicU64,
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
        Shared {
            file: file.to_string(),
            size,
            chunks,
            allocation: Mutex::new(Allocation::round_robin(chunks, ids.len())),
            ids,
            partial: Mutex::new(Some(partial)),
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

    fn partial(&self) -> MutexGuard<'_, Option<Partial>> {
        self.partial.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn over(&self) -> bool {
        self.done.load(Ordering::Acquire) == self.chunks || self.aborted.load(Ordering::Acquire)
    }

    fn wake_all(&self) {
        self.changed.send_modify(|generation| *generation += 1);
    }

    fn store_chunk(&self, index: u64, payload: &[u8]) -> std::io::Result<()> {
        if let Some(partial) = self.partial().as_mut() {
            partial.put(chunk_offset(index), payload)?;
        }
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.chunks {
            self.wake_all();
        }
        Ok(())
    }
}

/// One serving peer's task: request its chunks, `window` at a time, until the download is over
/// or the peer leaves.
async fn fetch(shared: Arc<Shared>, position: usize, mut conn: Connection, ctx: TransferContext) {
    let id = &shared.ids[position];
    let out = &ctx.out;
    let window = ctx.options.window.max(1);
    let framing = if window > 1 {
        Framing::Line
    } else {
        Framing::Bare
    };
    let mut changes = shared.changed.subscribe();
    let mut in_flight: VecDeque<u64> = VecDeque::new();
    loop {
        changes.borrow_and_update();
        let mut sent_any = false;
        while in_flight.len() < window {
            let Some(index) = shared.allocation().next_for(position) else {
                break;
            };
            let request = Request::DownloadChunk {
                file: shared.file.clone(),
                index,
            };
            out.sent(id, &request);
            conn.queue_request(&request, framing);
            shared.progress.requested(position);
            in_flight.push_back(index);
            sent_any = true;
        }
        if sent_any {
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
        let reply = match conn
            .read_reply(Expect::DownloadChunk {
                size: shared.size,
                index,
            })
            .await
        {
            Ok(reply) => reply,
            Err(e) => return peer_left(&shared, position, &mut in_flight, &ctx, &describe(&e)),
        };
        out.replied(id, &reply.text);
        let Reply::Chunk { payload, .. } = reply.message else {
            return peer_left(
                &shared,
                position,
                &mut in_flight,
                &ctx,
                "it refused a chunk",
            );
        };
        if let Err(e) = shared.store_chunk(index, &payload) {
            out.error(format!("Cannot write file {}: {e}", shared.file));
            shared.aborted.store(true, Ordering::Release);
            shared.wake_all();
            return;
        }
        shared.progress.chunk_done(position, index, payload.len());
        in_flight.pop_front();
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
