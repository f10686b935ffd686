//! `--join ADDR`: a peer's link to the tracker. It announces served_files (and again whenever
//! they change), sends keep-alives, keeps the latest directory for the UI, and asks for all
//! holders of a name (p2p-tui's own request shape) on behalf of `#DOWNLOAD f` with no peer list.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::directory::FileEntry;
use super::directory::Holder;
use super::messages::{self, JsonStream, initial};
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

async fn session(
    mut stream: TcpStream,
    port: u16,
    store: &Store,
    link: &TrackerLink,
    queries: &mut Queries,
    shutdown: &CancellationToken,
) -> String {
    let mut announced = served(store);
    if let Err(e) = stream.write_all(&initial(port, &announced)).await {
        return e.to_string();
    }
    let mut pending: VecDeque<oneshot::Sender<Vec<Holder>>> = VecDeque::new();
    let mut json = JsonStream::new(64 << 20);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    let mut rescan = tokio::time::interval(RESCAN);
    keep_alive.tick().await;
    loop {
        let sent = tokio::select! {
            _ = shutdown.cancelled() => return "shutting down".into(),
            _ = keep_alive.tick() => stream.write_all(&messages::keep_alive(port)).await,
            _ = rescan.tick() => {
                let now = served(store);
                if now == announced { continue }
                announced = now;
                stream.write_all(&initial(port, &announced)).await
            }
            Some((name, reply)) = queries.recv() => {
                pending.push_back(reply);
                stream.write_all(format!("{}\n", json!({"holders": name})).as_bytes()).await
            }
            read = stream.read_buf(json.buffer()) => match read {
                Ok(0) => return "connection closed".into(),
                Ok(_) => {
                    if let Err(e) = absorb(&mut json, link, &mut pending) { return e }
                    Ok(())
                }
                Err(e) => return e.to_string(),
            },
        };
        if let Err(e) = sent {
            return e.to_string();
        }
    }
}

/// Sorts the tracker's answers: holders replies go to the oldest query, the rest is the directory.
fn absorb(
    json: &mut JsonStream,
    link: &TrackerLink,
    pending: &mut VecDeque<oneshot::Sender<Vec<Holder>>>,
) -> Result<(), String> {
    while let Some(value) = json.next_value()? {
        if let Some(peers) = value.get("holders").and_then(|h| h.get("peers")) {
            let holders: Vec<Holder> = serde_json::from_value(peers.clone()).unwrap_or_default();
            if let Some(reply) = pending.pop_front() {
                let _ = reply.send(holders);
            }
        } else if let Ok(directory) = serde_json::from_value::<BTreeMap<String, Holder>>(value) {
            link.lock().directory = directory;
        }
    }
    Ok(())
}
