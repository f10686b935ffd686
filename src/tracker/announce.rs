//! One connection of a tracker member (a `--join` peer or a `--sync` synchronizer): the initial
//! message, a keep-alive every 5 s, a new initial message whenever the files change, and, for a
//! peer, holders queries. One message is in flight at a time (see `Outbox`), so a classroom
//! tracker never reads two; every whole JSON value is the reply to that message.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::delta::{self, MemberView};
use super::directory::{FileEntry, Holder};
use super::messages::{self, JsonStream, TrackerError};
use super::outbox::{Outbox, Outgoing};

/// How often a member tells the tracker it is alive (seed 002).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How often a member looks for changed files to announce.
pub const RESCAN: Duration = Duration::from_secs(2);
/// The longest tracker reply a member accepts (a directory of many files).
const MAX_REPLY: usize = 64 << 20;

/// The directory as a member receives it: each name with its newest live copy.
pub type DirectoryView = BTreeMap<String, Holder>;

/// A holders query: the name, and where its answer goes.
pub type Query = (String, oneshot::Sender<Vec<Holder>>);

/// What a member announces and where the answers go.
pub struct Member<'a> {
    /// The port the member serves files on.
    pub port: u16,
    /// The member's files now (scanned at the start and every `RESCAN`).
    pub files: &'a (dyn Fn() -> Vec<FileEntry> + Sync),
    /// Takes every directory the tracker sends.
    pub directory: &'a mut (dyn FnMut(DirectoryView) + Send),
    /// Holders queries to ask (a peer's; a synchronizer asks none).
    pub queries: Option<&'a mut mpsc::Receiver<Query>>,
}

/// How a connection to the tracker ended.
pub struct Ended {
    pub why: String,
    /// Whether the tracker answered at least once (the connection was a working one).
    pub replied: bool,
}

/// Runs one connection until it fails or `shutdown`.
pub async fn session(
    mut stream: TcpStream,
    member: Member<'_>,
    shutdown: &CancellationToken,
) -> Ended {
    let Member {
        port,
        files,
        directory,
        mut queries,
    } = member;
    let mut announced = files();
    // A new connection holds no version: its first reply is the whole directory.
    let mut view = MemberView::default();
    let mut outbox = Outbox::new();
    let mut pending: Vec<Query> = Vec::new();
    let mut json = JsonStream::new(MAX_REPLY);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    let mut rescan = tokio::time::interval(RESCAN);
    keep_alive.tick().await;
    let mut replied = false;
    let ended = |why: String, replied: bool| Ended { why, replied };
    loop {
        if let Some(message) = outbox.next(Instant::now()) {
            let bytes = match message {
                Outgoing::Announce => messages::initial_since(port, &announced, view.version),
                Outgoing::KeepAlive => messages::keep_alive_since(port, view.version),
                Outgoing::Holders(name) => messages::holders_request(&name),
            };
            if let Err(e) = stream.write_all(&bytes).await {
                return ended(e.to_string(), replied);
            }
        }
        let wake = outbox
            .wake_at()
            .unwrap_or_else(|| Instant::now() + KEEP_ALIVE);
        let query = async {
            match queries.as_mut() {
                Some(queries) => queries.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return ended("shutting down".into(), replied),
            _ = keep_alive.tick() => outbox.keep_alive_due(),
            _ = rescan.tick() => {
                let now = files();
                if now != announced {
                    info!(
                        "files changed: announcing {}",
                        crate::core::words::counted(now.len() as u64, "file")
                    );
                    announced = now;
                    outbox.announce_due();
                }
            }
            Some((name, reply)) = query => {
                outbox.ask_holders(name.clone());
                pending.push((name, reply));
            }
            _ = tokio::time::sleep_until(wake) => {}
            read = stream.read_buf(json.buffer()) => match read {
                Ok(0) => return ended("the tracker closed the connection".into(), replied),
                Ok(_) => match absorb(&mut json, &mut outbox, &mut pending, &mut view, directory) {
                    Ok(any) => replied |= any,
                    Err(e) => return ended(format!("the tracker sent {e}"), replied),
                },
                Err(e) => return ended(e.to_string(), replied),
            },
        }
    }
}

/// Sorts the tracker's answers: a holders reply goes to the oldest query for its name, a delta
/// (a p2p-tui tracker's) updates the view, anything else is the whole directory (a classroom
/// tracker's). Every whole value is the reply to the message in flight. True if there was one.
fn absorb(
    json: &mut JsonStream,
    outbox: &mut Outbox,
    pending: &mut Vec<Query>,
    view: &mut MemberView,
    directory: &mut (dyn FnMut(DirectoryView) + Send),
) -> Result<bool, TrackerError> {
    let mut any = false;
    while let Some(value) = json.next_value()? {
        any = true;
        outbox.replied();
        if let Some((name, holders)) = messages::holders_reply(&value) {
            pending.retain(|(_, reply)| !reply.is_closed());
            if let Some(i) = pending.iter().position(|(n, _)| *n == name) {
                let _ = pending.remove(i).1.send(holders);
            }
        } else if let Some(reply) = delta::parse(&value) {
            let news = reply.from == 0 || !reply.changed.is_empty() || !reply.removed.is_empty();
            if view.apply(reply) && news {
                directory(view.directory.clone());
            }
        } else if let Ok(whole) = serde_json::from_value::<DirectoryView>(value) {
            view.replace(whole.clone());
            directory(whole);
        }
    }
    Ok(any)
}

/// A file's mtime in whole seconds since the epoch (seed 002 rounds down); 0 if unknown.
pub fn mtime_secs(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}
