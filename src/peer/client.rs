//! The peer's client: runs one command against the peers of the settings file.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::events::Reporter;
use super::transfer::progress::TransferRegistry;
use super::transfer::{TransferContext, TransferOptions, connect, describe, download, upload};
use crate::command::{Command, HELP};
use crate::protocol::{Expect, Framing, Request, lines};
use crate::settings::{PeerAddr, Settings};
use crate::store::Store;

pub type ClientOptions = TransferOptions;

/// How long a file list may pause before it is taken as complete (servers may keep the
/// connection open after `200 Files served: ...`).
const FILE_LIST_GAP: Duration = Duration::from_millis(300);

#[derive(Clone)]
pub struct Client {
    ctx: TransferContext,
    settings: Arc<Settings>,
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
            },
            settings,
        }
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
                self.file_list(&targets).await;
            }
            Command::Upload { file, peers } => {
                let targets = self.targets(&peers);
                upload::upload(&self.ctx, &file, &targets, cancel).await;
            }
            Command::Download { file, peers } => {
                if self.ctx.store.serves(&file) {
                    self.ctx.out.outcome(lines::already_exists(&file));
                    return;
                }
                let targets = self.targets(&peers);
                download::download(&self.ctx, &file, &targets, cancel).await;
            }
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
            if id == self.ctx.me || targets.iter().any(|t| t.id == id) {
                continue;
            }
            match self.settings.get(&id) {
                Some(peer) => targets.push(peer.clone()),
                None => self.ctx.out.error(format!(
                    "Unknown peer {id} (peers in {}: {})",
                    self.settings.path.display(),
                    self.settings.ids().join(" ")
                )),
            }
        }
        targets
    }

    async fn file_list(&self, targets: &[PeerAddr]) {
        let out = &self.ctx.out;
        join_all(targets.iter().map(|peer| async move {
            let mut conn = connect(peer, &self.ctx.options, out).await?;
            out.sent(&peer.id, Request::FileList);
            conn.send_request(&Request::FileList, Framing::Bare)
                .await
                .ok()?;
            match conn
                .read_reply_until_quiet(Expect::FileList, FILE_LIST_GAP)
                .await
            {
                Ok(reply) => out.replied(&peer.id, &reply.text),
                Err(e) => out.note(format!(
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
