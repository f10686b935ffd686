//! `#UPLOAD`: send one served file to each listed peer, one task per peer; each target succeeds
//! or fails on its own. The chunks go through the windowed exchange (`exchange::run`), as this
//! direction's `Side` (`target`) says; `confirm` checks that the server kept the file.

mod confirm;
mod reader;
mod target;
pub mod window;

use std::sync::Arc;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::exchange::{self, Ended, Link, PeerFailure};
use super::progress::{Direction, TransferProgress};
use super::{TransferContext, connect, describe};
use crate::core::protocol::{Expect, Framing, Reply, Request, lines};
use crate::core::settings::PeerAddr;
use crate::peer::connection::Connection;
use confirm::confirm;
use reader::ChunkReader;
use target::{Push, Target};

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
            targets: peers.len(),
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

async fn upload_to(
    ctx: TransferContext,
    file: String,
    size: u64,
    peer: PeerAddr,
    target: Target,
) -> Option<bool> {
    let out = &ctx.out;
    let window = ctx.pipelining.window(&peer, ctx.options.window, None);
    let conn = start(&ctx, &file, size, &peer, &target).await?;
    // The connection has carried one reply: the `330`.
    let mut link = Link::new(peer.clone(), conn, 1, window, &ctx.options);
    let result = match send_chunks(&ctx, &mut link, &peer.id, &file, size, &target).await {
        Ok(()) => confirm(out, &mut link, &peer.id, &file).await,
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

/// Connects to `peer` and sends `#UPLOAD f size`: the connection if it is ready to receive.
async fn start(
    ctx: &TransferContext,
    file: &str,
    size: u64,
    peer: &PeerAddr,
    target: &Target,
) -> Option<Connection> {
    let out = &ctx.out;
    let Some(mut conn) = connect(peer, &ctx.options, out).await else {
        target.stopped(lines::connection_failed(&peer.id));
        return None;
    };
    let request = Request::UploadStart {
        file: file.to_string(),
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
            Some(conn)
        }
        Err(e) => {
            let why = describe(&e);
            out.note(lines::did_not_answer(&peer.id, "#UPLOAD", file, &why));
            None
        }
    }
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
    let path = ctx.store.served_dir().join(file);
    let reader = ChunkReader::open(path, size)
        .await
        .map_err(|error| PeerFailure::Read {
            file: file.to_string(),
            error,
        })?;
    let most = ctx.options.pipelined_window(target.targets);
    let mut push = Push::new(file, size, reader, target, ctx.options.chunk_delay).most(most);
    match exchange::run(&mut push, link, id, &ctx.out).await {
        Ended::Done => Ok(()),
        Ended::Left(why) => Err(why),
    }
}
