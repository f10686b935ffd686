//! `#UPLOAD`: send one served file to each listed peer, one task per peer; each target succeeds
//! or fails on its own.

use std::fs::File;
use std::io::{BufReader, Read};

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::progress::{Direction, TransferProgress};
use super::{TransferContext, connect, describe};
use crate::peer::connection::Connection;
use crate::protocol::{Expect, Framing, Reply, Request, chunk_count, chunk_len, lines};
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
        let peer = &self.progress.per_peer[self.position];
        peer.left.store(true, std::sync::atomic::Ordering::Relaxed);
        self.progress.note(why);
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
            out.replied(&peer.id, &reply.text);
            if !matches!(reply.message, Reply::ReadyToReceive { .. }) {
                target.stopped(format!("{} refused: {}", peer.id, reply.text));
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
    let result = send_chunks(&ctx, &mut conn, &peer.id, &file, size, &target).await;
    if let Err(why) = &result {
        let note = format!("Upload of file {file} to {} stopped: {why}", peer.id);
        target.stopped(note.clone());
        out.note(note);
    }
    let success = result.is_ok();
    out.result(success, lines::upload_result(&file, success));
    Some(success)
}

/// Streams every chunk, up to `window` unacknowledged, then awaits `200 File f received`.
async fn send_chunks(
    ctx: &TransferContext,
    conn: &mut Connection,
    id: &str,
    file: &str,
    size: u64,
    target: &Target,
) -> Result<(), String> {
    let out = &ctx.out;
    let window = ctx.options.window.max(1) as u64;
    let framing = if window > 1 {
        Framing::Line
    } else {
        Framing::Bare
    };
    let path = ctx.store.served_dir().join(file);
    let mut reader =
        BufReader::with_capacity(64 * 1024, File::open(&path).map_err(|e| e.to_string())?);
    let count = chunk_count(size);
    let (mut next, mut acked) = (0u64, 0u64);
    while acked < count {
        while next < count && next - acked < window {
            let mut payload = vec![0; chunk_len(size, next).unwrap_or(0)];
            reader
                .read_exact(&mut payload)
                .map_err(|e| format!("cannot read {file}: {e}"))?;
            let request = Request::UploadChunk {
                file: file.to_string(),
                index: next,
                payload: payload.into(),
            };
            out.sent(id, &request);
            conn.queue_request(&request, framing);
            target.progress.requested(target.position);
            next += 1;
            if !ctx.options.chunk_delay.is_zero() {
                conn.flush().await.map_err(|e| e.to_string())?;
                tokio::time::sleep(ctx.options.chunk_delay).await;
            }
        }
        conn.flush().await.map_err(|e| e.to_string())?;
        let reply = conn
            .read_reply(Expect::UploadChunkAck)
            .await
            .map_err(|e| describe(&e))?;
        out.replied(id, &reply.text);
        match reply.message {
            Reply::ChunkReceived { index, .. } if index == acked => {
                let len = chunk_len(size, index).unwrap_or(0);
                target.progress.chunk_done(target.position, index, len);
                acked += 1;
            }
            _ => return Err(format!("unexpected reply to chunk {acked}")),
        }
    }
    let reply = conn
        .read_reply(Expect::UploadDone)
        .await
        .map_err(|e| describe(&e))?;
    out.replied(id, &reply.text);
    match reply.message {
        Reply::FileReceived { .. } => Ok(()),
        _ => Err("the server did not keep the file".into()),
    }
}
