//! `#DOWNLOAD`: ask every listed peer, then fetch chunk i from serving peer i mod n, one task per
//! serving peer, each with up to `window` requests in flight. A peer that leaves (or stays
//! silent for the stall timeout) hands its unfinished chunks to the others; the download fails
//! (partial file removed) only when none remain.
//!
//! Every decision is the `Scheduler`'s (pure, simulated in its tests); the tasks (`fetch`, one
//! side of the windowed exchange) only turn sockets into its events and its answers into
//! requests and runs for the disk `writer`, which writes them on a blocking thread.

mod fetch;
mod shared;
mod writer;

use std::sync::Arc;

use futures::future::join_all;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::exchange::Link;
use super::pipelining::{DIGEST_TIMEOUT, PeerWindow};
use super::progress::{Direction, TransferProgress};
use super::scheduler::rebalance::Rebalanced;
use super::scheduler::{Policy, State};
use super::versions::{self, Version};
use super::{TransferContext, connect, describe};
use crate::core::protocol::digest::ContentDigest;
use crate::core::protocol::{Expect, Framing, Reply, Request, lines};
use crate::core::settings::PeerAddr;
use crate::core::store::{Partial, StoreError};
use crate::peer::connection::{ConnError, Connection};
use fetch::fetch;
use shared::Shared;
use writer::Written;

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
    let (serving, silent) = serving_set(ctx, file, peers).await;
    if let (true, [holder, ..], true) = (serving.is_empty(), silent.as_slice(), plain_fallback) {
        return super::plain::fetch(ctx, file, holder, cancel).await;
    }
    let Some(size) = serving.first().map(|s| s.size) else {
        let listed: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
        out.error(lines::nobody_serves(file, &listed));
        return false;
    };
    let Some(version) = version(ctx, file, &serving).await else {
        return false;
    };
    let Some(partial) = reserve(ctx, file, size).await else {
        return false;
    };
    let ids: Vec<String> = serving.iter().map(|s| s.addr.id.clone()).collect();
    let progress =
        TransferProgress::new(file, Direction::Download, size, ids.clone()).cancelled_by(cancel);
    let progress = Arc::new(progress);
    ctx.transfers.add(Arc::clone(&progress));
    let policy = Policy {
        budget: ctx.options.download_memory,
        strict: ctx.options.strict_round_robin,
    };
    let shared = Arc::new(Shared::new(file, ids, progress, size, version, policy));
    // The chunk map's "in flight", read from the scheduler once a UI frame.
    (shared.progress).read_awaited_from(&shared, |s| s.lock().awaited_chunks().collect());
    let (mut tasks, written) = start(ctx, &shared, serving, partial);
    let cancelled = wait_all(&mut tasks, cancel).await;
    finish(ctx, &shared, written, cancelled).await
}

/// The disk writer and a fetch task per serving peer (each holds a handle on the writer,
/// which ends once they all have).
fn start(
    ctx: &TransferContext,
    shared: &Arc<Shared>,
    serving: Vec<ServingPeer>,
    partial: Partial,
) -> (JoinSet<()>, Written) {
    let failed = Arc::clone(shared);
    let (disk, written) = writer::start(partial, move || failed.write_failed());
    let mut tasks = JoinSet::new();
    for (position, peer) in serving.into_iter().enumerate() {
        // The connection has carried one reply: the `330` that made the peer a serving peer.
        let link = Link::new(peer.addr, peer.conn, 1, peer.window, &ctx.options);
        let shared = Arc::clone(shared);
        tasks.spawn(fetch(shared, position, link, ctx.clone(), disk.clone()));
    }
    (tasks, written)
}

/// Asks every listed peer (learning who pipelines, the first time only, beside the seed's
/// exchange): the serving peers, and those that closed without a word.
async fn serving_set<'p>(
    ctx: &TransferContext,
    file: &str,
    peers: &'p [PeerAddr],
) -> (Vec<ServingPeer>, Vec<&'p PeerAddr>) {
    let windows: Vec<PeerWindow> = peers
        .iter()
        .map(|peer| ctx.pipelining.window(peer, ctx.options.window, Some(file)))
        .collect();
    let asked = peers.iter().zip(&windows);
    let replies = join_all(asked.map(|(peer, window)| ask_and_describe(ctx, peer, window, file)));
    let mut serving: Vec<ServingPeer> = Vec::new();
    let mut silent: Vec<&PeerAddr> = Vec::new();
    for ((peer, (reply, digest)), window) in peers.iter().zip(replies.await).zip(windows) {
        match reply {
            Ok((conn, size)) => serving.push(ServingPeer {
                addr: peer.clone(),
                conn,
                size,
                window,
                digest,
            }),
            Err(Asked::Silent) => silent.push(peer),
            Err(Asked::No) => {}
        }
    }
    (serving, silent)
}

/// Which version of the file the serving peers hold; `None` (said) if they disagree.
async fn version(ctx: &TransferContext, file: &str, serving: &[ServingPeer]) -> Option<Version> {
    let sizes: Vec<u64> = serving.iter().map(|s| s.size).collect();
    let refs: Vec<Option<&ContentDigest>> = serving.iter().map(|s| s.digest.as_ref()).collect();
    let version = versions::choose(&sizes, &refs);
    if let Version::Disagree(groups) = &version {
        let described = describe_versions(serving, groups);
        ctx.out.error(lines::versions_disagree(file, &described));
        ctx.out.error(lines::download_result(file, false));
        return None;
    }
    Some(version)
}

/// The partial file to download into (created off the async workers); `None` (said) if it
/// cannot be.
async fn reserve(ctx: &TransferContext, file: &str, size: u64) -> Option<Partial> {
    let (store, name) = (Arc::clone(&ctx.store), file.to_string());
    let reserved = tokio::task::spawn_blocking(move || store.reserve(&name, size)).await;
    let why = match reserved {
        Ok(Ok(partial)) => return Some(partial),
        Ok(Err(StoreError::AlreadyServing(_))) => lines::appeared_meanwhile(file),
        Ok(Err(other)) => other.to_string(),
        Err(e) => e.to_string(),
    };
    ctx.out.error(why);
    ctx.out.error(lines::download_result(file, false));
    None
}

/// A peer that answered `330 Ready to send`: the open connection, the size it declared, what
/// its extension probe learns, and the file's content digest if it describes content.
struct ServingPeer {
    addr: PeerAddr,
    conn: Connection,
    size: u64,
    window: PeerWindow,
    digest: Option<ContentDigest>,
}

/// The seed's `#DOWNLOAD` handshake with `peer`, and beside it `#DIGEST` on a connection of its
/// own (once its probe says it describes content: at once for a peer met before), so that a
/// download's first request leaves a round trip sooner. A peer that does not serve the file is
/// not waited for.
async fn ask_and_describe(
    ctx: &TransferContext,
    peer: &PeerAddr,
    window: &PeerWindow,
    file: &str,
) -> (Result<(Connection, u64), Asked>, Option<ContentDigest>) {
    let asking = ask(ctx, peer, file);
    let describing = content_digest(peer, window, file);
    tokio::pin!(asking, describing);
    let (asked, described) = tokio::select! {
        asked = &mut asking => (asked, None),
        digest = &mut describing => (asking.await, Some(digest)),
    };
    let digest = match (described, &asked) {
        (Some(digest), _) => digest,
        (None, Ok(_)) => describing.await,
        (None, Err(_)) => None,
    };
    (asked, digest)
}

/// The content digest of `file` from a peer that offers the extension: the one its probe asked
/// for at first contact, or else asked on a connection of its own; `None` for classroom peers
/// (never asked) or when it cannot say.
async fn content_digest(peer: &PeerAddr, window: &PeerWindow, file: &str) -> Option<ContentDigest> {
    if !window.describes_content().await {
        return None;
    }
    if let Some(digest) = window.probed_digest(file).await {
        return Some(digest);
    }
    let ask = async {
        let stream = tokio::net::TcpStream::connect(peer.connect_addr())
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
        tracing::info!(peer = %peer.id, %file, "no digest");
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

/// Once every fetch task has ended: the file committed (every run written, then made visible)
/// before the success line, or the partial file removed before the failure's.
async fn finish(ctx: &TransferContext, shared: &Shared, written: Written, cancelled: bool) -> bool {
    let (complete, verified, rebalanced) = {
        let scheduler = shared.lock();
        let complete = !cancelled && scheduler.state() == State::Succeeded;
        let rebalanced = scheduler.rebalanced().clone();
        (
            complete,
            scheduler.is_verified() || shared.size == 0,
            rebalanced,
        )
    };
    if !rebalanced.is_empty() {
        let line = describe_rebalanced(shared, &rebalanced);
        shared.progress.note(line.clone());
        ctx.out.note(line);
    }
    match written.finish().await {
        Ok(partial) if complete => {
            if commit(ctx, shared, partial, verified).await {
                return true;
            }
        }
        // Dropped: the partial file is removed.
        Ok(_) => {}
        Err(e) => ctx.out.error(lines::cannot_write(&shared.file, e)),
    }
    let (file, progress) = (&shared.file, &shared.progress);
    let removed = lines::partial_removed(file);
    progress.note(removed.clone());
    progress.finish(false);
    if cancelled {
        ctx.out.note(lines::download_cancelled(file));
    }
    ctx.out.error(lines::download_result(file, false));
    ctx.out.note(removed);
    false
}

/// What moved between serving peers, in one line: "p1 took 6990 chunks from p3 (far behind);
/// endgame: ...".
fn describe_rebalanced(shared: &Shared, r: &Rebalanced) -> String {
    let moved: Vec<String> = (r.far_behind.iter())
        .map(|&(from, to, chunks)| {
            let (from, to) = (&shared.ids[from], &shared.ids[to]);
            format!("{to} took {chunks} chunks from {from} (far behind)")
        })
        .collect();
    let endgame = (r.asked_twice > 0).then(|| {
        format!(
            "endgame: {} chunks asked twice, {} second replies discarded",
            r.asked_twice, r.discarded
        )
    });
    lines::rebalanced(&shared.file, &moved, endgame)
}

/// Makes the complete file visible, then says so; false (said) if it cannot be saved.
async fn commit(ctx: &TransferContext, shared: &Shared, partial: Partial, verified: bool) -> bool {
    let (out, file, progress) = (&ctx.out, &shared.file, &shared.progress);
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
            true
        }
        Ok(Err(e)) => {
            out.error(lines::cannot_save(file, e));
            false
        }
        Err(e) => {
            out.error(lines::cannot_save(file, e));
            false
        }
    }
}
