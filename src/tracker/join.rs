//! `--join ADDR`: a peer's link to the tracker. It announces served_files (and again whenever
//! they change), sends keep-alives, keeps the latest directory for the UI, and asks for all
//! holders of a name (p2p-tui's own request shape) on behalf of `#DOWNLOAD f` with no peer list.
//! The connection itself is `announce::session`, shared with the synchronizer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use super::announce::{self, Ended, FolderScanner, Member, Query};
use super::directory::{FileEntry, Holder};
use super::reconnect::Reconnect;
use crate::core::locks::LockExt;
use crate::core::store::Store;

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
    queries: mpsc::Sender<Query>,
}

impl TrackerLink {
    pub fn view(&self) -> NetworkView {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, NetworkView> {
        self.view.lock_unpoisoned()
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
    tasks: &TaskTracker,
) -> TrackerLink {
    let view = Arc::new(Mutex::new(NetworkView {
        tracker: tracker.clone(),
        ..NetworkView::default()
    }));
    let (queries, mut rx) = mpsc::channel(16);
    let link = TrackerLink { view, queries };
    let task_link = link.clone();
    tasks.spawn(async move {
        let mut reconnect = Reconnect::new(&tracker);
        let mut first = true;
        while let Some(stream) = reconnect.connect(&shutdown).await {
            if first {
                info!("joined tracker {tracker}");
            } else {
                reconnect.say_reconnected();
            }
            first = false;
            task_link.lock().connected = true;
            let ended = session(stream, port, &store, &task_link, &mut rx, &shutdown).await;
            task_link.lock().connected = false;
            reconnect.ended(&ended.why, ended.replied, &shutdown);
        }
    });
    link
}

/// served_files as announced: each name with its mtime in whole seconds.
fn served(store: &Store) -> Vec<FileEntry> {
    let files = store.scan().unwrap_or_default();
    files
        .into_iter()
        .map(|f| FileEntry {
            name: f.name,
            mtime: f.mtime,
        })
        .collect()
}

/// One connection to the tracker (see `announce::session`). Returns how it ended.
async fn session(
    stream: TcpStream,
    port: u16,
    store: &Arc<Store>,
    link: &TrackerLink,
    queries: &mut mpsc::Receiver<Query>,
    shutdown: &CancellationToken,
) -> Ended {
    let store = Arc::clone(store);
    let files: FolderScanner = Arc::new(move || served(&store));
    let mut directory = |view| link.lock().directory = view;
    let member = Member {
        port,
        files,
        directory: &mut directory,
        queries: Some(queries),
    };
    announce::session(stream, member, shutdown).await
}
