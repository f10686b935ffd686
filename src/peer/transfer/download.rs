//! `#DOWNLOAD`: ask every listed peer, then fetch chunk i from serving peer i mod n, one task per
//! serving peer, each with up to `window` requests in flight. A peer that leaves (or stays
//! silent for the stall timeout) hands its unfinished chunks to the others; the download fails
//! (partial file removed) only when none remain.
//!
//! Every decision is the `Scheduler`'s (pure, simulated in its tests); the tasks here only turn
//! sockets into its events and its answers into requests and file writes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::future::join_all;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::allocation::Takeover;
use super::exchange::{self, Link, PeerFailure};
use super::pipelining::PeerWindow;
use super::progress::{Direction, TransferProgress};
use super::scheduler::{Dropped, Scheduler, State};
use super::versions::{self, Version};
use super::window::AdaptiveWindow;
use super::{TransferContext, bounded_window, connect, describe};
use crate::locks::LockExt;
use crate::peer::connection::{ConnError, Connection};
use crate::peer::events::LineBatch;
use crate::protocol::digest::ContentDigest;
use crate::protocol::{Expect, Framing, Reply, Request, fast, lines};
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
    let mut serving: Vec<ServingPeer> = Vec::new();
    let mut silent: Vec<&PeerAddr> = Vec::new();
    for ((peer, reply), window) in peers.iter().zip(replies).zip(windows) {
        match reply {
            Ok((conn, size)) => serving.push(ServingPeer {
                addr: peer.clone(),
                conn,
                size,
                window,
            }),
            Err(Asked::Silent) => silent.push(peer),
            Err(Asked::No) => {}
        }
    }
    if let (true, [holder, ..], true) = (serving.is_empty(), silent.as_slice(), plain_fallback) {
        return super::plain::fetch(ctx, file, holder, cancel).await;
    }
    let Some(size) = serving.first().map(|s| s.size) else {
        let listed: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
        out.error(lines::nobody_serves(file, &listed));
        return false;
    };
    let digests = join_all(serving.iter().map(|s| content_digest(s, file))).await;
    let sizes: Vec<u64> = serving.iter().map(|s| s.size).collect();
    let refs: Vec<Option<&ContentDigest>> = digests.iter().map(Option::as_ref).collect();
    let version = versions::choose(&sizes, &refs);
    if let Version::Disagree(groups) = &version {
        out.error(lines::versions_disagree(
            file,
            &describe_versions(&serving, groups),
        ));
        out.error(lines::download_result(file, false));
        return false;
    }
    let partial = match ctx.store.reserve(file, size) {
        Ok(partial) => partial,
        Err(e) => {
            let why = match e {
                StoreError::AlreadyServing(_) => lines::appeared_meanwhile(file),
                other => other.to_string(),
            };
            out.error(why);
            out.error(lines::download_result(file, false));
            return false;
        }
    };
    let ids: Vec<String> = serving.iter().map(|s| s.addr.id.clone()).collect();
    let progress = Arc::new(
        TransferProgress::new(file, Direction::Download, size, ids.clone()).cancelled_by(cancel),
    );
    ctx.transfers.add(Arc::clone(&progress));
    let shared = Arc::new(Shared::new(
        file,
        size,
        ids,
        partial,
        progress,
        &ctx.options,
        version,
    ));
    // The chunk map's "in flight", read from the scheduler once a UI frame.
    (shared.progress).read_awaited_from(&shared, |s| s.lock().scheduler.awaited_chunks().collect());
    let mut tasks = JoinSet::new();
    for (position, peer) in serving.into_iter().enumerate() {
        // The connection has carried one reply: the `330` that made the peer a serving peer.
        let link = Link::new(peer.addr, peer.conn, 1, peer.window, &ctx.options);
        tasks.spawn(fetch(Arc::clone(&shared), position, link, ctx.clone()));
    }
    let cancelled = wait_all(&mut tasks, cancel).await;
    finish(ctx, &shared, cancelled).await
}

/// A peer that answered `330 Ready to send`: the open connection, the size it declared, and
/// what its extension probe learns.
struct ServingPeer {
    addr: PeerAddr,
    conn: Connection,
    size: u64,
    window: PeerWindow,
}

/// How long a peer may take to describe a file's content (it reads the file once, then caches).
const DIGEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The content digest of `file` from a serving peer that offers the extension, on a connection
/// of its own; `None` for classroom peers (never asked) or when it cannot say.
async fn content_digest(peer: &ServingPeer, file: &str) -> Option<ContentDigest> {
    if !peer.window.describes_content().await {
        return None;
    }
    let ask = async {
        let stream = tokio::net::TcpStream::connect(peer.addr.connect_addr())
            .await
            .ok()?;
        let mut conn = Connection::new(stream, DIGEST_TIMEOUT);
        let request = Request::Digest {
            file: file.to_string(),
        };
        conn.send_request(&request, Framing::Line).await.ok()?;
        match conn.read_reply(Expect::Digest).await.ok()?.message {
            Reply::Digest {
                file: named,
                digest,
            } if named == file => Some(*digest),
            _ => None,
        }
    };
    let digest = tokio::time::timeout(DIGEST_TIMEOUT, ask)
        .await
        .ok()
        .flatten();
    if digest.is_none() {
        tracing::info!(peer = %peer.addr.id, %file, "no digest");
    }
    digest
}

/// The versions the serving peers hold, in words: "p2 p4 (1000 bytes)", "p3 (1200 bytes)", or
/// with the content's digest when sizes agree.
fn describe_versions(serving: &[ServingPeer], groups: &[Vec<usize>]) -> Vec<String> {
    let same_size = groups
        .iter()
        .filter_map(|g| g.first())
        .map(|&p| serving[p].size)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        == 1;
    groups
        .iter()
        .enumerate()
        .map(|(k, group)| {
            let ids: Vec<&str> = group.iter().map(|&p| serving[p].addr.id.as_str()).collect();
            let size = group.first().map_or(0, |&p| serving[p].size);
            if same_size {
                format!("{} (version {}, {size} bytes)", ids.join(" "), k + 1)
            } else {
                format!("{} ({size} bytes)", ids.join(" "))
            }
        })
        .collect()
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
        out.note(lines::closed_before_reply(&peer.id, e));
        return Err(Asked::No);
    }
    match conn.read_reply(Expect::DownloadStart).await {
        Ok(reply) => {
            out.replied(&peer.id, reply.text());
            match reply.message {
                Reply::ReadyToSend { file: named, size } if named == file => Ok((conn, size)),
                Reply::ReadyToSend { file: named, .. } => {
                    out.note(lines::offered_other_file(&peer.id, &named, file));
                    Err(Asked::No)
                }
                _ => Err(Asked::No),
            }
        }
        Err(ConnError::Closed) => {
            out.note(lines::closed_without_reply(&peer.id));
            Err(Asked::Silent)
        }
        Err(e) => {
            out.note(lines::did_not_answer(
                &peer.id,
                "#DOWNLOAD",
                file,
                &describe(&e),
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
    let (partial, verified) = {
        let mut guard = shared.lock();
        let complete = !cancelled && guard.scheduler.state() == State::Succeeded;
        let verified = guard.scheduler.is_verified() || shared.size == 0;
        (guard.partial.take().filter(|_| complete), verified)
    };
    if let Some(partial) = partial {
        match tokio::task::spawn_blocking(move || partial.commit()).await {
            Ok(Ok(())) => {
                // The transfer's state first, then the lines: a front end that shows the
                // outcome line never shows the transfer still running.
                let note = (!verified).then(|| lines::not_verified(file));
                if let Some(note) = &note {
                    progress.note(note.clone());
                }
                progress.finish(true);
                out.outcome(lines::download_result(file, true));
                if let Some(note) = note {
                    out.note(note);
                }
                return true;
            }
            Ok(Err(e)) => out.error(lines::cannot_save(file, e)),
            Err(e) => out.error(lines::cannot_save(file, e)),
        }
    }
    let removed = lines::partial_removed(file);
    progress.note(removed.clone());
    progress.finish(false);
    if cancelled {
        out.note(lines::download_cancelled(file));
    }
    out.error(lines::download_result(file, false));
    out.note(removed);
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
        version: Version,
    ) -> Shared {
        let scheduler = Scheduler::new(size, ids.len(), REASSEMBLY_SLOTS);
        let scheduler = match version {
            Version::Verified { digest, vouching } => scheduler.verify_with(digest, vouching),
            _ => scheduler,
        };
        Shared {
            file: file.to_string(),
            size,
            transfer: Mutex::new(Transfer {
                scheduler,
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
        self.transfer.lock_unpoisoned()
    }

    /// Wakes the fetch tasks the scheduler says may now have work (or must see the end).
    fn wake(&self, transfer: &mut Transfer) {
        for peer in transfer.scheduler.take_wakes() {
            if let Some(waker) = self.wakers.get(peer) {
                waker.notify_one();
            }
        }
    }

    /// The requests to send to `position` now, and whether it still takes part in a running
    /// download.
    fn request(&self, position: usize, window: usize) -> (Vec<u64>, bool) {
        let mut transfer = self.lock();
        let indices = transfer.scheduler.request(position, window);
        let scheduler = &transfer.scheduler;
        let on = scheduler.state() == State::Running && scheduler.is_serving(position);
        (indices, on)
    }

    /// Hands a batch of replies from `position` to the scheduler and writes what is ready
    /// (verified first, when the serving peers described the file). Returns the peers dropped
    /// for wrong bytes meanwhile.
    fn arrived(&self, position: usize, chunks: &[(u64, &[u8])]) -> Result<Vec<Dropped>, Arrival> {
        let mut guard = self.lock();
        let Transfer { scheduler, partial } = &mut *guard;
        if !scheduler.is_serving(position) {
            // Dropped meanwhile (it sent wrong bytes): what it sends now is not wanted.
            return Err(Arrival::Dropped);
        }
        for (index, payload) in chunks {
            if let Err(e) = scheduler.arrived(position, *index, payload) {
                return Err(Arrival::Protocol(e));
            }
        }
        let written = match partial.as_mut() {
            Some(p) => scheduler.write_ready(|offset, bytes| p.put(offset, bytes)),
            None => Ok(()),
        };
        let dropped = scheduler.take_dropped();
        if let Err(e) = written {
            scheduler.abort();
            self.wake(&mut guard);
            return Err(Arrival::WriteFailed(lines::cannot_write(&self.file, e)));
        }
        let hopeless = scheduler.state() == State::Failed && scheduler.is_verified();
        self.wake(&mut guard);
        if hopeless {
            // Aborted by verification: nobody left who sends this version's bytes.
            for d in &dropped {
                tracing::info!(peer = d.peer, chunk = d.chunk, "dropped for wrong bytes");
            }
            return Err(Arrival::WriteFailed(lines::no_matching_bytes(&self.file)));
        }
        Ok(dropped)
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

/// Why a batch of replies could not be taken.
enum Arrival {
    /// The peer was dropped from this download meanwhile.
    Dropped,
    /// The peer sent a chunk it was not asked for.
    Protocol(super::scheduler::Unexpected),
    /// The partial file could not be written (or no peer sends the right bytes).
    WriteFailed(String),
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
async fn fetch(shared: Arc<Shared>, position: usize, link: Link, ctx: TransferContext) {
    match fetch_loop(&shared, position, link, &ctx).await {
        Ended::Over => {}
        Ended::Left(why) => peer_left(&shared, position, &ctx, &why.to_string()),
        Ended::WriteFailed(why) => ctx.out.error(why),
    }
}

/// Queues the chunk requests still unanswered on a new connection (not printed again: the
/// user saw each request once, as the peer does).
fn resend(link: &mut Link, file: &str, awaited: &VecDeque<u64>, framing: Framing) {
    for &index in awaited {
        let request = Request::DownloadChunk {
            file: file.to_string(),
            index,
        };
        link.conn().queue_request(&request, framing);
    }
}

async fn fetch_loop(
    shared: &Shared,
    position: usize,
    mut link: Link,
    ctx: &TransferContext,
) -> Ended {
    let id = &shared.ids[position];
    let out = &ctx.out;
    let stall = shared.stall_timeout;
    let peer_window = link.window().clone();
    let mut awaited: VecDeque<u64> = VecDeque::new();
    let mut batch: Vec<(u64, Bytes)> = Vec::new();
    let mut lines = LineBatch::default();
    let mut cap = 1;
    let mut sizing = AdaptiveWindow::new(cap);
    let clock = Instant::now();
    loop {
        if awaited.is_empty() {
            // The bound (and with it the framing) changes only with nothing in flight.
            // `#DOWNLOAD f chunk i\n`: the small messages here are the requests.
            cap = bounded_window(peer_window.get(), shared.file.len() + 32);
            sizing.set_cap(cap);
        }
        let framing = exchange::framing(cap);
        let window = sizing.window();
        shared.progress.set_window(position, window);
        let (indices, running) = shared.request(position, window);
        if !running {
            return Ended::Over;
        }
        if awaited.len() <= window / 2 {
            // A top-up moment: did the scheduler have fewer chunks for us than the room?
            let limited = indices.len() < window - awaited.len();
            sizing.sent(indices.len(), clock.elapsed(), limited);
        }
        if !indices.is_empty() {
            if awaited.is_empty()
                && let Err(why) = link.ready().await
            {
                return Ended::Left(why);
            }
            for &index in &indices {
                if framing == Framing::Line {
                    // The same bytes and line as the general encoder's, without `fmt`.
                    lines.sent_chunk_request(id, &shared.file, index);
                    fast::write_chunk_request(link.conn().queue(), &shared.file, index);
                } else {
                    let request = Request::DownloadChunk {
                        file: shared.file.clone(),
                        index,
                    };
                    lines.sent(id, &request);
                    link.conn().queue_request(&request, framing);
                }
            }
            out.emit(&mut lines);
            shared.progress.requested_many(position, indices.len());
            awaited.extend(&indices);
            if let Err(why) = exchange::flush(link.conn(), stall).await {
                if !link.recover(&why).await {
                    return Ended::Left(why);
                }
                resend(&mut link, &shared.file, &awaited, framing);
                if let Err(why) = exchange::flush(link.conn(), stall).await {
                    return Ended::Left(why);
                }
            }
        }
        if awaited.is_empty() {
            // Nothing to send and nothing awaited: wait until the scheduler has work for us
            // (a takeover, the ring moving on) or the download ends.
            shared.wakers[position].notified().await;
            continue;
        }
        if framing == Framing::Line {
            // The chunk replies already read whole: the fast path (`protocol::fast`).
            match take_buffered_chunks(shared, position, link.conn(), &mut awaited, &mut lines) {
                Ok((0, _)) => {}
                Ok((taken, dropped)) => {
                    link.replied(taken);
                    sizing.delivered(taken, clock.elapsed());
                    out.emit(&mut lines);
                    for d in dropped {
                        peer_dropped(shared, ctx, &d);
                    }
                    continue;
                }
                Err(arrival) => {
                    out.emit(&mut lines);
                    return ended_by(arrival);
                }
            }
        }
        // The general decoder: one reply when line-framed (waiting for it if need be; the fast
        // path takes those read with it), and every reply already read otherwise.
        let most = if framing == Framing::Line {
            1
        } else {
            usize::MAX
        };
        let expect = |k: usize| {
            awaited
                .get(k)
                .filter(|_| k < most)
                .map(|&index| Expect::DownloadChunk {
                    size: shared.size,
                    index,
                })
        };
        let (replies, error) =
            exchange::read_batch(link.conn(), expect, framing, || peer_window.lockstep()).await;
        link.replied(replies.len());
        sizing.delivered(replies.len(), clock.elapsed());
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
        let chunks: Vec<(u64, &[u8])> = batch.iter().map(|(i, p)| (*i, &p[..])).collect();
        match shared.arrived(position, &chunks) {
            Ok(dropped) => {
                for d in dropped {
                    peer_dropped(shared, ctx, &d);
                }
            }
            Err(arrival) => return ended_by(arrival),
        }
        let done = batch
            .drain(..)
            .map(|(index, payload)| (index, payload.len()));
        shared.progress.chunks_done(position, done);
        if let Some(why) = failure {
            if !link.recover(&why).await {
                return Ended::Left(why);
            }
            resend(&mut link, &shared.file, &awaited, framing);
            if let Err(why) = exchange::flush(link.conn(), stall).await {
                return Ended::Left(why);
            }
        }
    }
}

/// Why a fetch task ends after a batch of replies could not be taken.
fn ended_by(arrival: Arrival) -> Ended {
    match arrival {
        Arrival::Dropped => Ended::Over,
        Arrival::Protocol(e) => Ended::Left(PeerFailure::Unexpected(e.got)),
        Arrival::WriteFailed(why) => Ended::WriteFailed(why),
    }
}

/// Takes the chunk replies at the front of `conn`'s buffer that are whole and answer, in
/// order, the chunks awaited from this peer, through [`fast::chunk_reply`]: their lines, the
/// scheduler, the progress, all per batch. Returns how many, and the peers dropped meanwhile
/// for wrong bytes; 0 leaves everything (a reply not yet whole, a refusal, anything
/// unexpected) to the general decoder.
fn take_buffered_chunks(
    shared: &Shared,
    position: usize,
    conn: &mut Connection,
    awaited: &mut VecDeque<u64>,
    lines: &mut LineBatch,
) -> Result<(usize, Vec<Dropped>), Arrival> {
    let id = &shared.ids[position];
    let buf = conn.buffered();
    let mut chunks: Vec<(u64, &[u8])> = Vec::new();
    let mut at = 0;
    while let Some(&expected) = awaited.get(chunks.len()) {
        let Some((reply, used)) = fast::chunk_reply(&buf[at..], &shared.file, shared.size) else {
            break;
        };
        if reply.index != expected {
            break;
        }
        // `200 File <file> chunk ` then the digits as received (a leading zero shows).
        let digits = &buf[at + reply.digits.start..at + reply.digits.end];
        lines.replied_chunk(id, &shared.file, digits);
        chunks.push((
            reply.index,
            &buf[at + reply.payload.start..at + reply.payload.end],
        ));
        at += used;
    }
    let taken = chunks.len();
    if taken == 0 {
        return Ok((0, Vec::new()));
    }
    let dropped = shared.arrived(position, &chunks)?;
    let done: Vec<(u64, usize)> = chunks.iter().map(|(i, p)| (*i, p.len())).collect();
    conn.consume_reply(at);
    awaited.drain(..taken);
    shared.progress.chunks_done(position, done);
    Ok((taken, dropped))
}

/// A peer sent bytes that do not match the digest: say so, and who takes its chunks.
fn peer_dropped(shared: &Shared, ctx: &TransferContext, d: &Dropped) {
    let who = &shared.ids[d.peer];
    let wrong = lines::wrong_bytes(who, &shared.file, d.chunk);
    ctx.out.error(wrong.clone());
    let note = describe_takeover(shared, d.peer, &d.takeover, "wrong bytes: dropped");
    shared.progress.peer_left(
        d.peer,
        &d.takeover.stripes,
        &d.takeover.taken_by,
        format!("{wrong}; {note}"),
    );
    ctx.out.note(note);
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
    let names: Vec<&str> = takeover
        .taken_by
        .iter()
        .map(|&(p, _)| shared.ids[p].as_str())
        .collect();
    lines::stopped_serving(
        &shared.ids[position],
        &shared.file,
        why,
        takeover.orphaned,
        &names,
    )
}
