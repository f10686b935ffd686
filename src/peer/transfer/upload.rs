//! `#UPLOAD`: send one served file to each listed peer, one task per peer; each target succeeds
//! or fails on its own.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::exchange::{self, Link, PeerFailure};
use super::progress::{Direction, TransferProgress};
use super::scheduler::UploadWindow;
use super::window::AdaptiveWindow;
use super::{TransferContext, bounded_window, connect, describe};
use crate::peer::connection::Connection;
use crate::peer::events::LineBatch;
use crate::protocol::{
    CHUNK_SIZE, END_MARKERS, Expect, Framing, Reply, Request, chunk_len, fast, lines,
};
use crate::settings::PeerAddr;
use std::sync::Arc;

/// Uploads `file` from this peer's served_files to `peers` (resolved, this peer excluded).
/// Returns per peer whether its upload succeeded (`None`: it never accepted the upload).
pub async fn upload(
    ctx: &TransferContext,
    file: &str,
    peers: &[PeerAddr],
    cancel: &CancellationToken,
) -> Vec<Option<bool>> {
    let out = &ctx.out;
    let size = match ctx.store.open_served(file) {
        Ok(Some((_, size))) => size,
        _ => {
            out.error(lines::not_serving_locally(&ctx.me, file));
            return vec![None; peers.len()];
        }
    };
    out.outcome(lines::uploading(file));
    let ids = peers.iter().map(|p| p.id.clone()).collect();
    let progress =
        Arc::new(TransferProgress::new(file, Direction::Upload, size, ids).cancelled_by(cancel));
    ctx.transfers.add(Arc::clone(&progress));
    let uploads = join_all(peers.iter().enumerate().map(|(position, peer)| {
        let target = Target {
            position,
            progress: Arc::clone(&progress),
        };
        async move {
            let handle = tokio::spawn(upload_to(
                ctx.clone(),
                file.to_string(),
                size,
                peer.clone(),
                target,
            ));
            let abort = handle.abort_handle();
            tokio::select! {
                result = handle => result.unwrap_or(Some(false)),
                _ = cancel.cancelled() => {
                    abort.abort();
                    Some(false)
                }
            }
        }
    }));
    let results = uploads.await;
    let accepted: Vec<bool> = results.iter().flatten().copied().collect();
    progress.finish(!accepted.is_empty() && accepted.iter().all(|&ok| ok));
    results
}

/// A target's place in the upload's progress.
struct Target {
    position: usize,
    progress: Arc<TransferProgress>,
}

impl Target {
    fn stopped(&self, why: String) {
        self.progress.target_stopped(self.position, why);
    }
}

async fn upload_to(
    ctx: TransferContext,
    file: String,
    size: u64,
    peer: PeerAddr,
    target: Target,
) -> Option<bool> {
    let out = &ctx.out;
    let window = ctx.pipelining.window(&peer, ctx.options.window);
    let Some(mut conn) = connect(&peer, &ctx.options, out).await else {
        target.stopped(lines::connection_failed(&peer.id));
        return None;
    };
    let request = Request::UploadStart {
        file: file.clone(),
        size,
    };
    out.sent(&peer.id, &request);
    if let Err(e) = conn.send_request(&request, Framing::Bare).await {
        out.note(lines::closed_before_reply(&peer.id, e));
        return None;
    }
    match conn.read_reply(Expect::UploadStart).await {
        Ok(reply) => {
            out.replied(&peer.id, reply.text());
            if !matches!(reply.message, Reply::ReadyToReceive { .. }) {
                target.stopped(lines::refused(&peer.id, reply.text()));
                return None;
            }
        }
        Err(e) => {
            out.note(lines::did_not_answer(
                &peer.id,
                "#UPLOAD",
                &file,
                &describe(&e),
            ));
            return None;
        }
    }
    // The connection has carried one reply: the `330`.
    let mut link = Link::new(peer.clone(), conn, 1, window, &ctx.options);
    let result = send_chunks(&ctx, &mut link, &peer.id, &file, size, &target).await;
    let result = match result {
        Ok(()) => confirm(&ctx, &mut link, &peer.id, &file).await,
        Err(why) => Err(why),
    };
    if let Err(why) = &result {
        let note = lines::upload_stopped(&file, &peer.id, why);
        target.stopped(note.clone());
        out.note(note);
    }
    let success = result.is_ok();
    out.result(success, lines::upload_result(&file, success));
    Some(success)
}

/// Streams every chunk, up to the peer's window unacknowledged, until every chunk is
/// acknowledged.
async fn send_chunks(
    ctx: &TransferContext,
    link: &mut Link,
    id: &str,
    file: &str,
    size: u64,
    target: &Target,
) -> Result<(), PeerFailure> {
    let out = &ctx.out;
    let stall = ctx.options.stall_timeout;
    let peer_window = link.window().clone();
    let path = ctx.store.served_dir().join(file);
    let read_error = |error| PeerFailure::Read {
        file: file.to_string(),
        error,
    };
    let mut reader = ChunkReader::new(File::open(&path).map_err(read_error)?, size);
    let mut exchange_state = UploadWindow::new(size);
    // The chunks sent and not yet acknowledged, to send again on a new connection.
    let mut unacknowledged: VecDeque<(u64, Bytes)> = VecDeque::new();
    let mut cap = 1;
    let mut sizing = AdaptiveWindow::new(cap);
    let clock = Instant::now();
    let mut lines = LineBatch::default();
    while !exchange_state.is_done() {
        if exchange_state.unacknowledged() == 0 {
            // The bound (and the framing) changes only with nothing in flight. A chunk delay
            // is there to watch a transfer chunk by chunk: lockstep then.
            // `200 File f chunk i received\n`: the small messages here are the acknowledgements.
            cap = if ctx.options.chunk_delay.is_zero() {
                bounded_window(peer_window.get(), file.len() + 40)
            } else {
                1
            };
            sizing.set_cap(cap);
        }
        let framing = exchange::framing(cap);
        let window = sizing.window();
        target.progress.set_window(target.position, window);
        let batch = exchange_state.take_batch(window as u64);
        if !batch.is_empty() {
            sizing.sent((batch.end - batch.start) as usize, clock.elapsed(), false);
            if unacknowledged.is_empty() {
                link.ready().await?;
            }
            let count = (batch.end - batch.start) as usize;
            for index in batch {
                let payload = reader.next_chunk().map_err(read_error)?;
                if framing == Framing::Line {
                    // The same bytes and line as the general encoder's, without `fmt`.
                    lines.sent_upload_chunk(id, file, index);
                    fast::write_upload_chunk(link.conn().queue(), file, index, &payload);
                } else {
                    let request = Request::UploadChunk {
                        file: file.to_string(),
                        index,
                        payload: payload.clone(),
                    };
                    lines.sent(id, &request);
                    link.conn().queue_request(&request, framing);
                }
                unacknowledged.push_back((index, payload));
            }
            target.progress.requested_many(target.position, count);
            out.emit(&mut lines);
            if let Err(why) = exchange::flush(link.conn(), stall).await {
                resume(link, why, file, &unacknowledged, framing, stall).await?;
            }
            if !ctx.options.chunk_delay.is_zero() {
                tokio::time::sleep(ctx.options.chunk_delay).await;
            }
        }
        if framing == Framing::Line {
            // The acknowledgements already read whole: the fast path (`protocol::fast`).
            let acked = take_buffered_acks(
                link.conn(),
                file,
                size,
                &mut exchange_state,
                &mut unacknowledged,
                (&mut lines, id),
            );
            if !acked.is_empty() {
                link.replied(acked.len());
                sizing.delivered(acked.len(), clock.elapsed());
                target.progress.chunks_done(target.position, acked);
                out.emit(&mut lines);
                continue;
            }
        }
        // The general decoder: one reply when line-framed (waiting for it if need be; the fast
        // path takes those read with it), and every awaited one already read otherwise.
        let awaited = match framing {
            Framing::Line => exchange_state.unacknowledged().min(1),
            _ => exchange_state.unacknowledged(),
        };
        let expect = |k: usize| ((k as u64) < awaited).then_some(Expect::UploadChunkAck);
        let (replies, error) =
            exchange::read_batch(link.conn(), expect, framing, || peer_window.lockstep()).await;
        link.replied(replies.len());
        sizing.delivered(replies.len(), clock.elapsed());
        for decoded in replies {
            lines.replied(id, decoded.text());
            let acknowledged = match decoded.message {
                Reply::ChunkReceived { index, .. } => {
                    exchange_state.acknowledged(index).ok().map(|()| index)
                }
                _ => None,
            };
            let Some(index) = acknowledged else {
                out.emit(&mut lines);
                return Err(PeerFailure::Unexpected(
                    exchange_state.first_unacknowledged(),
                ));
            };
            // Acknowledgements come strictly in order (`UploadWindow::acknowledged` refuses
            // any other), so the acknowledged chunk is the oldest one kept.
            debug_assert_eq!(unacknowledged.front().map(|&(i, _)| i), Some(index));
            unacknowledged.pop_front();
            let len = chunk_len(size, index).unwrap_or(0);
            target.progress.chunk_done(target.position, index, len);
        }
        out.emit(&mut lines);
        if let Some(e) = error {
            let why = PeerFailure::from_conn(e, stall);
            resume(link, why, file, &unacknowledged, framing, stall).await?;
        }
    }
    Ok(())
}

/// Takes the acknowledgements at the front of `conn`'s buffer that are whole and acknowledge,
/// in order, the chunks sent, through [`fast::chunk_ack`]: their lines, and the chunks they
/// acknowledge (index, length). Anything else (not yet whole, out of order, a refusal) is left
/// to the general decoder.
fn take_buffered_acks(
    conn: &mut Connection,
    file: &str,
    size: u64,
    exchange_state: &mut UploadWindow,
    unacknowledged: &mut VecDeque<(u64, Bytes)>,
    (lines, id): (&mut LineBatch, &str),
) -> Vec<(u64, usize)> {
    let buf = conn.buffered();
    let mut acked = Vec::new();
    let mut at = 0;
    while exchange_state.unacknowledged() > 0 {
        let Some((index, digits, used)) = fast::chunk_ack(&buf[at..], file) else {
            break;
        };
        if exchange_state.acknowledged(index).is_err() {
            break;
        }
        unacknowledged.pop_front();
        lines.replied_ack(id, file, &buf[at + digits.start..at + digits.end]);
        acked.push((index, chunk_len(size, index).unwrap_or(0)));
        at += used;
    }
    conn.consume_reply(at);
    acked
}

/// After the connection failed with `why`: if the peer only closed after a reply, the chunks
/// not yet acknowledged go out again on a new connection (not printed again); otherwise `why`.
async fn resume(
    link: &mut Link,
    why: PeerFailure,
    file: &str,
    unacknowledged: &VecDeque<(u64, Bytes)>,
    framing: Framing,
    stall: Duration,
) -> Result<(), PeerFailure> {
    if !link.recover(&why).await {
        return Err(why);
    }
    for (index, payload) in unacknowledged {
        let request = Request::UploadChunk {
            file: file.to_string(),
            index: *index,
            payload: payload.clone(),
        };
        link.conn().queue_request(&request, framing);
    }
    exchange::flush(link.conn(), stall).await
}

/// How long a server may take to confirm the file (`200 File f received`) after its last
/// acknowledgement, and to answer an end marker, before p2p-tui tries the next step.
const CONFIRM_WAIT: Duration = Duration::from_secs(3);

/// After every chunk is acknowledged: the seed's `200 File f received`. From a server that
/// does not send it in time, each known end marker (`END_MARKERS`, seen in course work) is
/// tried once; failing that, the server's
/// own file list says whether it kept the file.
async fn confirm(
    ctx: &TransferContext,
    link: &mut Link,
    id: &str,
    file: &str,
) -> Result<(), PeerFailure> {
    let out = &ctx.out;
    let mut open = match await_confirmation(ctx, link, id, file).await {
        Awaited::Confirmed => return Ok(()),
        Awaited::Other => return Err(PeerFailure::NotKept),
        Awaited::Nothing { open } => open,
    };
    for marker in END_MARKERS {
        if (!open || link.window().one_per_connection()) && link.reconnect().await.is_err() {
            break;
        }
        let request = Request::EndMarker(marker);
        out.sent(id, &request);
        if link
            .conn()
            .send_request(&request, Framing::Bare)
            .await
            .is_err()
        {
            open = false;
            continue;
        }
        match await_confirmation(ctx, link, id, file).await {
            Awaited::Confirmed => {
                out.note(lines::confirmed_after_marker(id, file, marker));
                return Ok(());
            }
            Awaited::Other => open = true,
            Awaited::Nothing { open: still } => open = still,
        }
    }
    // Some servers keep the file only once the client closes: close, then look.
    link.close().await;
    if listed_by(ctx, link, id, file).await {
        out.note(lines::listed_not_confirmed(id, file));
        return Ok(());
    }
    Err(PeerFailure::NotConfirmed(file.to_string()))
}

/// What came in answer to the last chunk (or to an end marker).
enum Awaited {
    /// `200 File f received`.
    Confirmed,
    /// Another reply (printed): a refusal, or an error for the marker.
    Other,
    /// Nothing within `CONFIRM_WAIT`, or the connection ended (`open` false).
    Nothing { open: bool },
}

async fn await_confirmation(
    ctx: &TransferContext,
    link: &mut Link,
    id: &str,
    file: &str,
) -> Awaited {
    let read = tokio::time::timeout(CONFIRM_WAIT, link.conn().read_reply(Expect::UploadDone));
    match read.await {
        Ok(Ok(reply)) => {
            ctx.out.replied(id, reply.text());
            match reply.message {
                Reply::FileReceived { file: named } if named == file => Awaited::Confirmed,
                _ => Awaited::Other,
            }
        }
        Ok(Err(e)) => {
            tracing::debug!(peer = id, error = %e, "no confirmation");
            Awaited::Nothing { open: false }
        }
        Err(_) => Awaited::Nothing { open: true },
    }
}

/// Whether the peer lists `file` in answer to `#FILELIST` (asked on a connection of its own).
async fn listed_by(ctx: &TransferContext, link: &mut Link, id: &str, file: &str) -> bool {
    if link.reconnect().await.is_err() {
        return false;
    }
    ctx.out.sent(id, Request::FileList);
    if link
        .conn()
        .send_request(&Request::FileList, Framing::Bare)
        .await
        .is_err()
    {
        return false;
    }
    let reply = link
        .conn()
        .read_reply_until_quiet(Expect::FileList, crate::peer::client::FILE_LIST_GAP)
        .await;
    match reply {
        Ok(reply) => {
            ctx.out.replied(id, reply.text());
            matches!(reply.message, Reply::FilesServed(names) if names.iter().any(|n| n == file))
        }
        Err(_) => false,
    }
}

/// Reads a file chunk by chunk in large blocks; chunks are slices of the block (no copy).
struct ChunkReader {
    file: File,
    left: u64,
    block: Bytes,
}

/// Chunks per block read.
const BLOCK_CHUNKS: usize = 655;

impl ChunkReader {
    fn new(file: File, size: u64) -> ChunkReader {
        ChunkReader {
            file,
            left: size,
            block: Bytes::new(),
        }
    }

    fn next_chunk(&mut self) -> std::io::Result<Bytes> {
        if self.block.is_empty() {
            let want = self.left.min((BLOCK_CHUNKS * CHUNK_SIZE as usize) as u64) as usize;
            let mut block = vec![0; want];
            self.file.read_exact(&mut block)?;
            self.left -= want as u64;
            self.block = Bytes::from(block);
        }
        let len = self.block.len().min(CHUNK_SIZE as usize);
        Ok(self.block.split_to(len))
    }
}
