//! `#UPLOAD`: send one served file to each listed peer, one task per peer; each target succeeds
//! or fails on its own.

use std::fs::File;
use std::io::Read;

use bytes::Bytes;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::exchange::{self, PeerFailure};
use super::pipelining::PeerWindow;
use super::progress::{Direction, TransferProgress};
use super::scheduler::UploadWindow;
use super::{TransferContext, bounded_window, connect, describe};
use crate::peer::connection::Connection;
use crate::peer::events::LineBatch;
use crate::protocol::{CHUNK_SIZE, Expect, Framing, Reply, Request, chunk_len, lines};
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
    let progress = Arc::new(TransferProgress::new(file, Direction::Upload, size, ids));
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
    if conn.send_request(&request, Framing::Bare).await.is_err() {
        out.note(format!("Server {} closed the connection", peer.id));
        return None;
    }
    match conn.read_reply(Expect::UploadStart).await {
        Ok(reply) => {
            out.replied(&peer.id, reply.text());
            if !matches!(reply.message, Reply::ReadyToReceive { .. }) {
                target.stopped(format!("{} refused: {}", peer.id, reply.text()));
                return None;
            }
        }
        Err(e) => {
            out.note(format!(
                "Server {} did not answer #UPLOAD {file}: {}",
                peer.id,
                describe(&e)
            ));
            return None;
        }
    }
    let result = send_chunks(&ctx, &mut conn, &peer.id, &file, size, &target, &window).await;
    if let Err(why) = &result {
        let note = format!("Upload of file {file} to {} stopped: {why}", peer.id);
        target.stopped(note.clone());
        out.note(note);
    }
    let success = result.is_ok();
    out.result(success, lines::upload_result(&file, success));
    Some(success)
}

/// Streams every chunk, up to the peer's window unacknowledged, then awaits
/// `200 File f received`.
async fn send_chunks(
    ctx: &TransferContext,
    conn: &mut Connection,
    id: &str,
    file: &str,
    size: u64,
    target: &Target,
    peer_window: &PeerWindow,
) -> Result<(), PeerFailure> {
    let out = &ctx.out;
    let stall = ctx.options.stall_timeout;
    let path = ctx.store.served_dir().join(file);
    let read_error = |error| PeerFailure::Read {
        file: file.to_string(),
        error,
    };
    let mut reader = ChunkReader::new(File::open(&path).map_err(read_error)?, size);
    let mut exchange_state = UploadWindow::new(size);
    let mut window = 1u64;
    let mut lines = LineBatch::default();
    while !exchange_state.is_done() {
        if exchange_state.unacknowledged() == 0 {
            // The window (and the framing) changes only with nothing in flight. A chunk delay
            // is there to watch a transfer chunk by chunk: lockstep then.
            // `200 File f chunk i received\n`: the small messages here are the acknowledgements.
            window = if ctx.options.chunk_delay.is_zero() {
                bounded_window(peer_window.get(), file.len() + 40) as u64
            } else {
                1
            };
        }
        let framing = exchange::framing(window as usize);
        let batch = exchange_state.to_send(window);
        if !batch.is_empty() {
            for index in batch {
                let payload = reader.next_chunk().map_err(read_error)?;
                let request = Request::UploadChunk {
                    file: file.to_string(),
                    index,
                    payload,
                };
                lines.sent(id, &request);
                conn.queue_request(&request, framing);
                target.progress.requested(target.position);
            }
            out.emit(&mut lines);
            exchange::flush(conn, stall).await?;
            if !ctx.options.chunk_delay.is_zero() {
                tokio::time::sleep(ctx.options.chunk_delay).await;
            }
        }
        let awaited = exchange_state.unacknowledged();
        let expect = |k: usize| ((k as u64) < awaited).then_some(Expect::UploadChunkAck);
        let (replies, error) =
            exchange::read_batch(conn, expect, framing, || peer_window.lockstep()).await;
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
            let len = chunk_len(size, index).unwrap_or(0);
            target.progress.chunk_done(target.position, index, len);
        }
        out.emit(&mut lines);
        if let Some(e) = error {
            return Err(PeerFailure::from_conn(e, stall));
        }
    }
    let reply = conn
        .read_reply(Expect::UploadDone)
        .await
        .map_err(|e| PeerFailure::from_conn(e, stall))?;
    out.replied(id, reply.text());
    match reply.message {
        Reply::FileReceived { .. } => Ok(()),
        _ => Err(PeerFailure::NotKept),
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
