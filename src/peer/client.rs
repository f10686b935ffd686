//! The peer's client: runs one command against the peers of the settings file.

use std::sync::Arc;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::events::Reporter;
use super::file_list::{self, NotListed};
use super::transfer::progress::TransferRegistry;
use super::transfer::{TransferContext, TransferOptions, connect, describe, download, upload};
use crate::core::protocol::lines;
use crate::core::settings::{PeerAddr, Settings};
use crate::core::store::Store;
use crate::core::words::count;
use crate::peer::command::{Command, HELP};
use crate::tracker::join::TrackerLink;

/// Why a #FILELIST went nowhere: every peer named was this one or unknown (said just before).
fn no_peer_to_ask(settings: &Settings) -> String {
    if settings.peers.len() <= 1 {
        format!(
            "No other peer to ask for its file list: {} lists only this one.",
            settings.path.display()
        )
    } else {
        "No peer to ask for its file list.".to_string()
    }
}

pub type ClientOptions = TransferOptions;

/// A peer's file list, as a fact for a front end (the UI's view of what the network offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesListed {
    pub peer: String,
    pub files: Vec<String>,
}

#[derive(Clone)]
pub struct Client {
    ctx: TransferContext,
    settings: Arc<Settings>,
    /// With `--join`: the tracker, asked for the holders of a file.
    tracker: Option<TrackerLink>,
    /// Where file lists go besides the log (the TUI); full: dropped, the log still has them.
    listings: Option<tokio::sync::mpsc::Sender<FilesListed>>,
}

impl Client {
    pub fn new(
        me: &str,
        settings: Arc<Settings>,
        store: Arc<Store>,
        options: ClientOptions,
        out: Reporter,
    ) -> Client {
        Client {
            ctx: TransferContext {
                me: me.to_string(),
                store,
                options,
                out,
                transfers: Arc::default(),
                pipelining: Arc::default(),
            },
            settings,
            tracker: None,
            listings: None,
        }
    }

    /// Sends every file list a `#FILELIST` gets to `listings` too.
    pub fn with_listings(mut self, listings: tokio::sync::mpsc::Sender<FilesListed>) -> Client {
        self.listings = Some(listings);
        self
    }

    /// Uses the tracker for `#DOWNLOAD f` with no peer list.
    pub fn with_tracker(mut self, tracker: TrackerLink) -> Client {
        self.tracker = Some(tracker);
        self
    }

    pub fn out(&self) -> &Reporter {
        &self.ctx.out
    }

    /// Live progress of this client's transfers.
    pub fn transfers(&self) -> Arc<TransferRegistry> {
        Arc::clone(&self.ctx.transfers)
    }

    /// Runs `command` to its end (or until `cancel`); `#QUIT` is the caller's business.
    pub async fn run(&self, command: Command, cancel: &CancellationToken) {
        match command {
            Command::FileList { peers } => {
                let targets = self.targets(&peers);
                if targets.is_empty() {
                    self.ctx.out.error(no_peer_to_ask(&self.settings));
                    return;
                }
                self.file_list(&targets).await;
            }
            Command::Upload { file, peers } => {
                let targets = self.targets(&peers);
                if targets.is_empty() {
                    self.ctx.out.error(format!(
                        "No peer to upload file {file} to, so nothing was sent."
                    ));
                    return;
                }
                upload::upload(&self.ctx, &file, &targets, cancel).await;
            }
            Command::Download { file, peers } => self.download(&file, &peers, cancel).await,
            Command::Peers => {
                for peer in &self.settings.peers {
                    let me = if peer.id == self.ctx.me {
                        " (this peer)"
                    } else {
                        ""
                    };
                    self.ctx
                        .out
                        .note(format!("{} {} {}{me}", peer.id, peer.host, peer.port));
                }
            }
            Command::Help => {
                for line in HELP.lines() {
                    self.ctx.out.note(line.to_string());
                }
            }
            Command::Quit => {}
        }
    }

    /// `#DOWNLOAD f [peers]`: from the listed peers, or with none listed and a tracker, from the
    /// holders it knows.
    async fn download(&self, file: &str, peers: &[String], cancel: &CancellationToken) {
        if self.ctx.store.serves(file) {
            self.ctx.out.outcome(lines::already_exists(file));
            return;
        }
        let from_tracker = self.tracker.is_some() && peers.is_empty();
        let targets = match &self.tracker {
            Some(tracker) if from_tracker => self.holders(tracker, file).await,
            _ => self.targets(peers),
        };
        if targets.is_empty() {
            self.ctx.out.note(if from_tracker {
                format!("No live peer holds file {file} (asked the tracker).")
            } else {
                format!("No peer to download file {file} from.")
            });
            self.ctx.out.error(lines::download_result(file, false));
            return;
        }
        download::download(&self.ctx, file, &targets, cancel, from_tracker).await;
    }

    /// The peers a command addresses: the listed ones (all others if none), this peer left out,
    /// unknown IDs reported.
    fn targets(&self, ids: &[String]) -> Vec<PeerAddr> {
        let wanted: Vec<String> = if ids.is_empty() {
            self.settings.ids()
        } else {
            ids.to_vec()
        };
        let mut targets: Vec<PeerAddr> = Vec::new();
        for id in wanted {
            if targets.iter().any(|t| t.id == id) {
                continue;
            }
            if id == self.ctx.me {
                // Named on purpose: say why nothing goes to it (with no list, it is just skipped).
                if !ids.is_empty() {
                    self.ctx.out.error(format!(
                        "{id} is this peer; commands go to the other peers in {}.",
                        self.settings.path.display()
                    ));
                }
                continue;
            }
            match self.settings.get(&id) {
                Some(peer) => targets.push(peer.clone()),
                None => self.ctx.out.error(format!(
                    "Unknown peer {id}: the peers in {} are {}.",
                    self.settings.path.display(),
                    self.settings.ids().join(" ")
                )),
            }
        }
        targets
    }

    /// Every live holder of `file` the tracker knows, named by their settings ID when they are
    /// in the settings file (else by address); this peer left out.
    async fn holders(&self, tracker: &TrackerLink, file: &str) -> Vec<PeerAddr> {
        let holders = tracker.holders(file).await;
        // One version per download: only the holders of the newest copy (the seed-002 rule).
        let newest = holders.iter().map(|h| h.mtime).max();
        let all = holders.len();
        let holders: Vec<_> = holders
            .into_iter()
            .filter(|h| Some(h.mtime) == newest)
            .collect();
        let mut note = format!(
            "Tracker: {} of file {file}",
            count(all as u64, "live holder", "live holders")
        );
        if let Some(mtime) = newest {
            note.push_str(&format!(
                "; fetching the newest version (mtime {mtime}) from {} of them",
                holders.len()
            ));
        }
        self.ctx.out.note(note);
        let mut targets: Vec<PeerAddr> = Vec::new();
        for h in holders {
            let known = self.settings.peer_at(&h.ip, h.port);
            let peer = known.cloned().unwrap_or_else(|| PeerAddr {
                id: format!("{}:{}", h.ip, h.port),
                host: h.ip.clone(),
                port: h.port,
            });
            if peer.id != self.ctx.me && !targets.iter().any(|t| t.id == peer.id) {
                targets.push(peer);
            }
        }
        targets
    }

    async fn file_list(&self, targets: &[PeerAddr]) {
        let out = &self.ctx.out;
        join_all(targets.iter().map(|peer| async move {
            let mut conn = connect(peer, &self.ctx.options, out).await?;
            match file_list::ask(&mut conn, &peer.id, out).await {
                Ok(Some(files)) => {
                    if let Some(listings) = &self.listings {
                        let peer = peer.id.clone();
                        let _ = listings.try_send(FilesListed { peer, files });
                    }
                }
                Ok(None) | Err(NotListed::NotSent) => {}
                Err(NotListed::NoReply(e)) => out.note(format!(
                    "Server {} did not answer #FILELIST: {}",
                    peer.id,
                    describe(&e)
                )),
            }
            Some(())
        }))
        .await;
    }
}
