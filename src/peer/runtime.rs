//! One running peer, started the same way for every front end (headless, line console,
//! full-screen UI, and each of the demo's peers): its store, its server task, its tracker link,
//! the options its client uses, and a `watch` of its served files.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::Result;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::transfer::TransferOptions;
use super::{Client, Reporter, ServerConfig, serve};
use crate::core::settings::Settings;
use crate::core::store::{ServedFile, Store};
use crate::tracker::join::TrackerLink;

/// How often served_files/ is listed for the `watch` of served files.
const SERVED_EVERY: Duration = Duration::from_millis(500);

/// What a peer is started with.
pub struct PeerSpec {
    /// This peer's ID in `settings`.
    pub me: String,
    pub settings: Arc<Settings>,
    pub server: ServerConfig,
    /// What this peer's client uses for every transfer.
    pub transfers: TransferOptions,
    /// The tracker to register with (`--join`).
    pub join: Option<String>,
}

/// This peer's served_files as last listed: complete files, names being received, and the
/// files not served because the protocol cannot name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedView {
    pub served: Vec<ServedFile>,
    pub receiving: Vec<String>,
    /// Names in served_files/ with a space, a control character or bytes that are not UTF-8
    /// (each said once in the log, with why), sorted.
    pub unservable: Vec<String>,
}

/// A running peer. Its tasks run on the `TaskTracker` it was started with, until the
/// `CancellationToken` it was given is cancelled.
#[derive(Clone)]
pub struct PeerHandle {
    pub me: String,
    pub settings: Arc<Settings>,
    pub store: Arc<Store>,
    pub transfers: TransferOptions,
    pub tracker: Option<TrackerLink>,
    /// served_files as last listed (every half second, sent only when it changed).
    pub served: watch::Receiver<ServedView>,
}

impl PeerHandle {
    /// Opens the store in `dir`, serves it on `listener`, joins the tracker if asked, and keeps
    /// the `watch` of served files.
    pub fn start(
        spec: PeerSpec,
        dir: &Path,
        listener: TcpListener,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<PeerHandle> {
        // Its error names the path and the operation: one line as it is.
        let store = Store::open(dir)?;
        tasks.spawn(serve(
            listener,
            Arc::clone(&store),
            Arc::new(spec.server),
            shutdown.clone(),
            tasks.clone(),
        ));
        let port = spec.settings.require(&spec.me)?.port;
        let tracker = spec.join.map(|addr| {
            crate::tracker::join::start(addr, port, Arc::clone(&store), shutdown.clone(), tasks)
        });
        let (served_tx, served) = watch::channel(list(&store));
        tasks.spawn(watch_served(
            Arc::clone(&store),
            served_tx,
            shutdown.clone(),
        ));
        Ok(PeerHandle {
            me: spec.me,
            settings: spec.settings,
            store,
            transfers: spec.transfers,
            tracker,
            served,
        })
    }

    /// A client of this peer, reporting its lines to `out`.
    pub fn client(&self, out: Reporter) -> Client {
        let client = Client::new(
            &self.me,
            Arc::clone(&self.settings),
            Arc::clone(&self.store),
            self.transfers.clone(),
            out,
        );
        match &self.tracker {
            Some(tracker) => client.with_tracker(tracker.clone()),
            None => client,
        }
    }
}

fn list(store: &Store) -> ServedView {
    ServedView {
        served: store.list().unwrap_or_default(),
        receiving: store.receiving_names(),
        // As of the listing just made.
        unservable: store.unservable(),
    }
}

/// Lists served_files every `SERVED_EVERY` (off the async threads) and sends what changed.
async fn watch_served(
    store: Arc<Store>,
    served: watch::Sender<ServedView>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(SERVED_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let listed = {
            let store = Arc::clone(&store);
            tokio::task::spawn_blocking(move || list(&store)).await
        };
        if let Ok(view) = listed {
            served.send_if_modified(|now| {
                let changed = *now != view;
                if changed {
                    *now = view;
                }
                changed
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_view_carries_the_names_not_servable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::write(store.served_dir().join("ok.txt"), b"1").unwrap();
        std::fs::write(store.served_dir().join("my file.txt"), b"2").unwrap();
        let view = list(&store);
        let names: Vec<&str> = view.served.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ok.txt"]);
        assert_eq!(view.unservable, ["my file.txt"]);
    }
}
