//! `--demo`: the whole network in one process. demo/ is copied to a temporary directory (the
//! repository stays clean), every peer gets a free loopback port, p2..p4 serve headless inside
//! the process, and p1's full-screen UI is in front. F2..F4 take a demo peer offline (its
//! listener and every connection close at once, like a killed process) or bring it back.
//! Without a terminal (a pipe, `setsid`) p1 gets the line console instead, as `--peer` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::{ChunkDelayFlag, DemoFlags};
use crate::core::locks::LockExt;
use crate::core::settings::Settings;
use crate::core::shutdown;
use crate::core::signals::Signals;
use crate::front::console::ConsoleOut;
use crate::front::tui::{PeerHandles, PeerSwitch};
use crate::modes::peer::Front;
use crate::peer::runtime::{PeerHandle, PeerSpec};
use crate::peer::transfer::TransferOptions;
use crate::peer::{Reporter, ServerConfig};

const FRONT_PEER: &str = "p1";

/// `--demo`: the whole network in one process, p1 in front.
pub async fn start(flags: DemoFlags, chunk_delay: &ChunkDelayFlag, signals: Signals) -> Result<()> {
    let source = locate(flags.demo_dir)?;
    let front = if crate::front::tui::terminal_available() {
        Front::Tui
    } else {
        // As with --peer: no terminal to draw on, so p1 gets the line console.
        crate::core::logging::init_stderr("warn");
        Front::Line
    };
    run(source, chunk_delay.or(20), front, signals).await
}

/// Finds demo/: in the current directory, else next to the crate's manifest.
pub fn locate(dir: Option<PathBuf>) -> Result<PathBuf> {
    let candidates = match dir {
        Some(d) => vec![d],
        None => vec![
            PathBuf::from("demo"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("demo"),
        ],
    };
    candidates
        .into_iter()
        .find(|d| d.join("peer_settings.txt").is_file())
        .ok_or_else(|| {
            eyre!("no demo/ directory with a peer_settings.txt found (use --demo-dir DIR)")
        })
}

/// Runs the demo until p1's front end ends or a signal arrives; the temporary copy is removed
/// either way (it is dropped before the process exits).
pub async fn run(
    source: PathBuf,
    chunk_delay: Duration,
    front: Front,
    signals: Signals,
) -> Result<()> {
    let work = tempfile::Builder::new().prefix("p2p-tui-demo.").tempdir()?;
    let (settings, listeners) = copy_network(&source, work.path()).await?;
    let _log = (front == Front::Tui).then(|| crate::core::logging::init_file(work.path()));

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(signals.cancel_on_signal(shutdown.clone()));
    let peers = Arc::new(DemoPeers::new(
        work.path(),
        settings,
        chunk_delay,
        &shutdown,
        &tasks,
    ));
    let peer = start_all(&peers, listeners)?;
    let result = run_front(front, peer, &peers, &shutdown).await;
    shutdown::finish(&shutdown, &tasks).await;
    result
}

/// Copies each demo peer's directory into `work` and gives it a listener on a free loopback
/// port; the settings file in `work` names those ports.
async fn copy_network(
    source: &Path,
    work: &Path,
) -> Result<(Arc<Settings>, HashMap<String, TcpListener>)> {
    let mut listeners = HashMap::new();
    let template = Settings::load(&source.join("peer_settings.txt"))?;
    let mut text = String::new();
    for peer in &template.peers {
        copy_dir(&source.join(&peer.id), &work.join(&peer.id))
            .wrap_err_with(|| format!("cannot copy the demo directory of {}", peer.id))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        text.push_str(&format!(
            "{} 127.0.0.1 {}\n",
            peer.id,
            listener.local_addr()?.port()
        ));
        listeners.insert(peer.id.clone(), listener);
    }
    let settings_path = work.join("peer_settings.txt");
    std::fs::write(&settings_path, &text)?;
    let settings = Arc::new(Settings::parse(&settings_path, &text)?);
    settings.require(FRONT_PEER)?;
    Ok((settings, listeners))
}

/// Starts every demo peer on its listener; returns p1's handle.
fn start_all(peers: &DemoPeers, listeners: HashMap<String, TcpListener>) -> Result<PeerHandle> {
    let mut front_peer = None;
    for (id, listener) in listeners {
        let peer = peers.start(&id, listener)?;
        if id == FRONT_PEER {
            front_peer = Some(peer);
        }
    }
    front_peer.ok_or_else(|| eyre!("demo has no peer {FRONT_PEER}"))
}

/// p1's front end, until it ends: the full-screen UI (with F2..F4 switching the others) or the
/// line console.
async fn run_front(
    front: Front,
    peer: PeerHandle,
    peers: &Arc<DemoPeers>,
    shutdown: &CancellationToken,
) -> Result<()> {
    if front == Front::Tui {
        let handles = PeerHandles {
            peer,
            switch: Some(peers.clone()),
        };
        crate::front::tui::run(handles, shutdown.clone()).await
    } else {
        let out = ConsoleOut::start();
        let client = peer.client(Reporter::new(out.clone()));
        let editing = crate::front::console::LineEditing::for_peer(&peer);
        crate::front::console::run(client, out, shutdown.clone(), editing).await;
        Ok(())
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The demo's in-process peers, each with its own shutdown so it can leave alone.
struct DemoPeers {
    work: PathBuf,
    settings: Arc<Settings>,
    chunk_delay: Duration,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    running: Mutex<HashMap<String, CancellationToken>>,
    order: Vec<String>,
    ports: HashMap<String, u16>,
}

impl DemoPeers {
    fn new(
        work: &Path,
        settings: Arc<Settings>,
        chunk_delay: Duration,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> DemoPeers {
        DemoPeers {
            work: work.to_path_buf(),
            chunk_delay,
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            running: Mutex::new(HashMap::new()),
            order: settings
                .ids()
                .into_iter()
                .filter(|id| id != FRONT_PEER)
                .collect(),
            ports: settings
                .peers
                .iter()
                .map(|p| (p.id.clone(), p.port))
                .collect(),
            settings,
        }
    }

    /// Starts demo peer `id` on `listener`, with a shutdown of its own (F2.. cancel it).
    fn start(&self, id: &str, listener: TcpListener) -> Result<PeerHandle> {
        let spec = PeerSpec {
            me: id.to_string(),
            settings: Arc::clone(&self.settings),
            server: ServerConfig {
                chunk_delay: if id == FRONT_PEER {
                    Duration::ZERO
                } else {
                    self.chunk_delay
                },
                idle_timeout: Duration::from_secs(60),
                max_connections: 512,
                max_per_address: None,
            },
            transfers: TransferOptions {
                chunk_delay: self.chunk_delay,
                ..TransferOptions::default()
            },
            join: None,
        };
        let token = self.shutdown.child_token();
        self.running
            .lock_unpoisoned()
            .insert(id.to_string(), token.clone());
        PeerHandle::start(spec, &self.work.join(id), listener, &token, &self.tasks)
    }
}

impl PeerSwitch for DemoPeers {
    fn switchable(&self) -> Vec<String> {
        self.order.clone()
    }

    fn toggle(self: Arc<Self>, id: &str) -> String {
        let stopped = self.running.lock_unpoisoned().remove(id);
        if let Some(token) = stopped {
            token.cancel();
            return format!("Demo peer {id} taken offline (listener and connections closed)");
        }
        let Some(&port) = self.ports.get(id) else {
            return format!("No demo peer {id}");
        };
        let said = format!("Demo peer {id} back online");
        let (me, id) = (Arc::clone(&self), id.to_string());
        self.tasks.spawn(async move {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => {
                    if let Err(e) = me.start(&id, listener) {
                        tracing::warn!(peer = %id, error = %e, "demo peer could not restart");
                    }
                }
                Err(e) => {
                    tracing::warn!(peer = %id, error = %e, "demo peer could not listen again")
                }
            }
        });
        said
    }
}
