//! `--join ADDR`: a peer's link to the tracker. It announces served_files (and again whenever
//! they change), sends keep-alives, keeps the latest directory for the UI, and asks for all
//! holders of a name (p2p-tui's own request shape) on behalf of `#DOWNLOAD f` with no peer list.
//! One message is in flight at a time (see `outbox`), so a classroom tracker never reads two.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::directory::FileEntry;
use super::directory::Holder;
use super::messages::{self, JsonStream, initial};
use super::outbox::{Outbox, Outgoing};
use crate::store::Store;

const KEEP_ALIVE: Duration = Duration::from_secs(5);
const RESCAN: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_secs(3);

/// What the peer knows through the tracker.
#[derive(Debug, Default, Clone)]
pub struct NetworkView {
    pub tracker: String,
    pub connected: bool,
    pub directory: BTreeMap<String, Holder>,
}

/// The handle the client and the UI use.
#[derive(Clone)]
pub struct TrackerLink {
    view: Arc<Mutex<NetworkView>>,
    queries: mpsc::Sender<(String, oneshot::Sender<Vec<Holder>>)>,
}

impl TrackerLink {
    pub fn view(&self) -> NetworkView {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, NetworkView> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every live holder of `name`, newest first (empty if the tracker cannot be asked).
    pub async fn holders(&self, name: &str) -> Vec<Holder> {
        let (tx, rx) = oneshot::channel();
        if self.queries.send((name.to_string(), tx)).await.is_err() {
            return Vec::new();
        }
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

/// Starts the link in the background (reconnecting while `shutdown` is not cancelled).
pub fn start(
    tracker: String,
    port: u16,
    store: Arc<Store>,
    shutdown: CancellationToken,
) -> TrackerLink {
    let view = Arc::new(Mutex::new(NetworkView {
        tracker: tracker.clone(),
        ..NetworkView::default()
    }));
    let (queries, mut rx) = mpsc::channel(16);
    let link = TrackerLink { view, queries };
    let task_link = link.clone();
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            match TcpStream::connect(&tracker).await {
                Ok(stream) => {
                    info!("joined tracker {tracker}");
                    task_link.lock().connected = true;
                    let why = session(stream, port, &store, &task_link, &mut rx, &shutdown).await;
                    task_link.lock().connected = false;
                    if !shutdown.is_cancelled() {
                        warn!("tracker {tracker}: {why}; retrying in {RETRY:?}");
                    }
                }
                Err(e) => warn!("cannot reach tracker {tracker}: {e}; retrying in {RETRY:?}"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
    });
    link
}

fn served(store: &Store) -> Vec<FileEntry> {
    let mut files: Vec<FileEntry> = store
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            let mtime = std::fs::metadata(store.served_dir().join(&f.name))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            FileEntry {
                name: f.name,
                mtime,
            }
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

type Queries = mpsc::Receiver<(String, oneshot::Sender<Vec<Holder>>)>;

/// One connection to the tracker: one message in flight at a time (see `Outbox`). Returns why
/// the connection ended.
async fn session(
    mut stream: TcpStream,
    port: u16,
    store: &Store,
    link: &TrackerLink,
    queries: &mut Queries,
    shutdown: &CancellationToken,
) -> String {
    let mut announced = served(store);
    let mut outbox = Outbox::new();
    let mut pending = Pending::new();
    let mut json = JsonStream::new(64 << 20);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    let mut rescan = tokio::time::interval(RESCAN);
    keep_alive.tick().await;
    loop {
        if let Some(message) = outbox.next(Instant::now()) {
            let bytes = match message {
                Outgoing::Announce => initial(port, &announced),
                Outgoing::KeepAlive => messages::keep_alive(port),
                Outgoing::Holders(name) => format!("{}\n", json!({"holders": name})).into_bytes(),
            };
            if let Err(e) = stream.write_all(&bytes).await {
                return e.to_string();
            }
        }
        let wake = outbox
            .wake_at()
            .unwrap_or_else(|| Instant::now() + KEEP_ALIVE);
        tokio::select! {
            _ = shutdown.cancelled() => return "shutting down".into(),
            _ = keep_alive.tick() => outbox.keep_alive_due(),
            _ = rescan.tick() => {
                let now = served(store);
                if now != announced {
                    announced = now;
                    outbox.announce_due();
                }
            }
            Some((name, reply)) = queries.recv() => {
                pending.push((name.clone(), reply));
                outbox.ask_holders(name);
            }
            _ = tokio::time::sleep_until(wake) => {}
            read = stream.read_buf(json.buffer()) => match read {
                Ok(0) => return "connection closed".into(),
                Ok(_) => {
                    if let Err(e) = absorb(&mut json, link, &mut outbox, &mut pending) { return e }
                }
                Err(e) => return e.to_string(),
            },
        }
    }
}

/// Holders queries waiting for their answer, by name.
type Pending = Vec<(String, oneshot::Sender<Vec<Holder>>)>;

/// Sorts the tracker's answers: a holders reply goes to the oldest query for its name, anything
/// else is the directory. Every whole value is the reply to the message in flight.
fn absorb(
    json: &mut JsonStream,
    link: &TrackerLink,
    outbox: &mut Outbox,
    pending: &mut Pending,
) -> Result<(), String> {
    while let Some(value) = json.next_value()? {
        outbox.replied();
        // (A file named "holders" in the directory has no "peers" key.)
        if let Some(answer) = value.get("holders").filter(|a| a.get("peers").is_some()) {
            let name = answer.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let holders: Vec<Holder> = answer
                .get("peers")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
                .unwrap_or_default();
            pending.retain(|(_, reply)| !reply.is_closed());
            if let Some(i) = pending.iter().position(|(n, _)| n == name) {
                let _ = pending.remove(i).1.send(holders);
            }
        } else if let Ok(directory) = serde_json::from_value::<BTreeMap<String, Holder>>(value) {
            link.lock().directory = directory;
        }
    }
    Ok(())
}
