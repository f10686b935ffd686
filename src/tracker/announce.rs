//! One connection of a tracker member (a `--join` peer or a `--sync` synchronizer): the initial
//! message, a keep-alive every 5 s, a new initial message whenever the files change, and, for a
//! peer, holders queries. One message is in flight at a time (see `Outbox`), so a classroom
//! tracker never reads two; every whole JSON value is the reply to that message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

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

/// How a member lists its files now: a folder scan, run off the async workers.
pub type FolderScanner = Arc<dyn Fn() -> Vec<FileEntry> + Send + Sync>;

/// A holders query: the name, and where its answer goes.
pub type Query = (String, oneshot::Sender<Vec<Holder>>);

/// What a member announces and where the answers go.
pub struct Member<'a> {
    /// The port the member serves files on.
    pub port: u16,
    /// Scans the member's files (at the start and every `RESCAN`, on a blocking thread).
    pub files: FolderScanner,
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
pub async fn session(stream: TcpStream, member: Member<'_>, shutdown: &CancellationToken) -> Ended {
    let Member {
        port,
        files,
        directory,
        mut queries,
    } = member;
    let mut link = Link::new(stream, port, scan(&files).await);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    let mut rescan = tokio::time::interval(RESCAN);
    keep_alive.tick().await;
    loop {
        if let Err(why) = link.send_next().await {
            return link.ended(why);
        }
        let wake = link
            .outbox
            .wake_at()
            .unwrap_or_else(|| Instant::now() + KEEP_ALIVE);
        let query = async {
            match queries.as_mut() {
                Some(queries) => queries.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return link.ended("shutting down".into()),
            _ = keep_alive.tick() => link.outbox.keep_alive_due(),
            _ = rescan.tick() => link.files_now(scan(&files).await),
            Some((name, reply)) = query => link.ask_holders(name, reply),
            _ = tokio::time::sleep_until(wake) => {}
            read = link.stream.read_buf(link.json.buffer()) => {
                if let Err(why) = link.took(read, directory) {
                    return link.ended(why);
                }
            }
        }
    }
}

/// The member's files now, scanned on a blocking thread (a folder of many files takes a while).
async fn scan(files: &FolderScanner) -> Vec<FileEntry> {
    let files = Arc::clone(files);
    tokio::task::spawn_blocking(move || files())
        .await
        .unwrap_or_default()
}

/// One connection's state: what was announced, the directory version held, the message in
/// flight and the queries waiting for their answers.
struct Link {
    stream: TcpStream,
    port: u16,
    announced: Vec<FileEntry>,
    // A new connection holds no version: its first reply is the whole directory.
    view: MemberView,
    outbox: Outbox,
    pending: Vec<Query>,
    json: JsonStream,
    /// Whether the tracker answered at least once.
    replied: bool,
}

impl Link {
    fn new(stream: TcpStream, port: u16, announced: Vec<FileEntry>) -> Link {
        Link {
            stream,
            port,
            announced,
            view: MemberView::default(),
            outbox: Outbox::new(),
            pending: Vec::new(),
            json: JsonStream::new(MAX_REPLY),
            replied: false,
        }
    }

    fn ended(&self, why: String) -> Ended {
        Ended {
            why,
            replied: self.replied,
        }
    }

    /// Writes the next message the outbox lets go, if any.
    async fn send_next(&mut self) -> Result<(), String> {
        let Some(message) = self.outbox.next(Instant::now()) else {
            return Ok(());
        };
        let bytes = match message {
            Outgoing::Announce => {
                messages::initial_since(self.port, &self.announced, self.view.version)
            }
            Outgoing::KeepAlive => messages::keep_alive_since(self.port, self.view.version),
            Outgoing::Holders(name) => messages::holders_request(&name),
        };
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|e| e.to_string())
    }

    /// A rescan: files that changed are announced again.
    fn files_now(&mut self, now: Vec<FileEntry>) {
        if now != self.announced {
            info!(
                "files changed: announcing {}",
                crate::core::words::counted(now.len() as u64, "file")
            );
            self.announced = now;
            self.outbox.announce_due();
        }
    }

    fn ask_holders(&mut self, name: String, reply: oneshot::Sender<Vec<Holder>>) {
        self.outbox.ask_holders(name.clone());
        self.pending.push((name, reply));
    }

    /// What a read brought: the replies in it are sorted out; an end or an error ends the link.
    fn took(
        &mut self,
        read: std::io::Result<usize>,
        directory: &mut (dyn FnMut(DirectoryView) + Send),
    ) -> Result<(), String> {
        match read {
            Ok(0) => Err("the tracker closed the connection".into()),
            Ok(_) => {
                let any = absorb(
                    &mut self.json,
                    &mut self.outbox,
                    &mut self.pending,
                    &mut self.view,
                    directory,
                )
                .map_err(|e| format!("the tracker sent {e}"))?;
                self.replied |= any;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
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
