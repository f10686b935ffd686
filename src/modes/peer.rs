//! Starting a peer: settings, directory, listening socket, server task, and a front end.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::settings::{PeerAddr, Settings};
use crate::core::signals::Signals;
use crate::core::uploads::{KnownPeers, UploadRules, Uploads};
use crate::front::console::{self, ConsoleOut};
use crate::front::tui::PeerHandles;
use crate::peer::runtime::{PeerHandle, PeerSpec};
use crate::peer::transfer::TransferOptions;
use crate::peer::{Reporter, ServerConfig};
use crate::tracker::join::TrackerLink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Headless,
    Line,
    Tui,
}

#[derive(Debug, Clone)]
pub struct PeerArgs {
    pub id: String,
    pub settings: PathBuf,
    pub dir: Option<PathBuf>,
    pub chunk_delay: Duration,
    pub idle_timeout: Duration,
    /// Connections the server serves at once (`--max-connections`).
    pub max_connections: usize,
    /// Connections one client address may hold (`--max-per-address`; `None`: the default).
    pub max_per_address: Option<usize>,
    /// Whose uploads are accepted (`--uploads`).
    pub uploads: Uploads,
    /// Largest file accepted by upload, in bytes (`--max-upload`).
    pub max_upload: Option<u64>,
    /// All bytes accepted by upload (`--quota`).
    pub quota: Option<u64>,
    /// Chunk requests in flight per pipelining peer.
    pub window: usize,
    /// A serving peer silent this long mid-transfer has left it.
    pub stall_timeout: Duration,
    /// The tracker to register with (`--join`).
    pub join: Option<String>,
}

/// How long running tasks get to finish (and remove partial files) after Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub async fn run(args: PeerArgs, front: Front, signals: Signals) -> Result<()> {
    let settings = Arc::new(Settings::load(&args.settings)?);
    let me = settings.require(&args.id)?.clone();
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.id));
    check_peer_dir(&dir)?;
    // Before listening and before any line says the peer is serving: a directory the peer
    // cannot write is said at once, with its path, not at the first download.
    crate::core::store::Store::prepare(&dir)?;
    let listener = bind(&me).await?;
    let _log_guard = (front == Front::Tui).then(|| crate::core::logging::init_file(&dir));
    tracing::info!(peer = %me.id, addr = %me.connect_addr(), dir = %dir.display(), "serving");

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let spec = peer_spec(&args, &me.id, &settings);
    let peer = PeerHandle::start(spec, &dir, listener, &shutdown, &tasks)?;
    peer.store.set_upload_rules(UploadRules {
        policy: args.uploads,
        known: known_peers(&settings, peer.tracker.as_ref()).await,
        max_file: args.max_upload,
        quota: args.quota,
    });
    tracing::info!("{}", peer.store.upload_status());
    // Every front end ends the same way on SIGINT, SIGTERM or SIGHUP (the TUI also reads Ctrl-C
    // as a key, since raw mode turns it into one).
    tasks.spawn(signals.cancel_on_signal(shutdown.clone()));

    match front {
        Front::Headless => shutdown.cancelled().await,
        Front::Line => {
            let out = ConsoleOut::start();
            let client = peer.client(Reporter::new(out.clone()));
            let editing = console::LineEditing::for_peer(&peer);
            console::run(client, out, shutdown.clone(), editing).await;
            shutdown.cancel();
        }
        Front::Tui => {
            let handles = PeerHandles { peer, switch: None };
            let result = crate::front::tui::run(handles, shutdown.clone()).await;
            shutdown.cancel();
            result?;
        }
    }
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    Ok(())
}

/// What the peer is started with, from the command line.
fn peer_spec(args: &PeerArgs, me: &str, settings: &Arc<Settings>) -> PeerSpec {
    PeerSpec {
        me: me.to_string(),
        settings: Arc::clone(settings),
        server: ServerConfig {
            chunk_delay: args.chunk_delay,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections,
            max_per_address: args.max_per_address,
        },
        transfers: TransferOptions {
            chunk_delay: args.chunk_delay,
            window: args.window,
            stall_timeout: args.stall_timeout,
            ..TransferOptions::default()
        },
        join: args.join.clone(),
    }
}

/// How long resolving one host name of the settings file may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// The addresses `--uploads known` accepts: every peer of the settings file (host names
/// resolved once, now; `localhost` is both loopback addresses) and, with `--join`, whoever the
/// tracker lists at the time of the upload.
async fn known_peers(settings: &Settings, tracker: Option<&TrackerLink>) -> KnownPeers {
    let mut fixed = Vec::new();
    for peer in &settings.peers {
        let host = peer.host.trim_start_matches('[').trim_end_matches(']');
        if host.eq_ignore_ascii_case("localhost") {
            fixed.extend([
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(Ipv6Addr::LOCALHOST),
            ]);
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            fixed.push(ip);
        } else {
            let lookup = tokio::net::lookup_host((host, peer.port));
            match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                Ok(Ok(addrs)) => fixed.extend(addrs.map(|a| a.ip())),
                _ => tracing::warn!(
                    peer = %peer.id,
                    host,
                    "cannot resolve; its uploads will be refused under --uploads known"
                ),
            }
        }
    }
    let known = KnownPeers::new(fixed);
    match tracker {
        None => known,
        Some(link) => {
            let link = link.clone();
            known.with_live(Arc::new(move |ip| {
                link.view()
                    .directory
                    .values()
                    .filter_map(|holder| holder.ip.parse::<IpAddr>().ok())
                    .any(|listed| listed.to_canonical() == ip)
            }))
        }
    }
}

/// The peer directory exists and its served_files, if present, is a directory: said in words
/// rather than as "File exists (os error 17)".
fn check_peer_dir(dir: &std::path::Path) -> Result<()> {
    if !dir.exists() {
        // A relative path is said with where it was looked for (the settings file's way).
        let place = match std::env::current_dir() {
            Ok(cwd) if dir.is_relative() => format!(" in {}", cwd.display()),
            _ => String::new(),
        };
        return Err(eyre!(
            "peer directory {} does not exist{place} (create it, or name another with --dir DIR)",
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(eyre!(
            "{} is a file, not a peer directory (--dir names the directory that holds served_files/)",
            dir.display()
        ));
    }
    let served = dir.join("served_files");
    if served.exists() && !served.is_dir() {
        return Err(eyre!(
            "{} is a file; the peer serves the files inside a served_files directory there (move \
             or rename that file)",
            served.display()
        ));
    }
    Ok(())
}

async fn bind(me: &PeerAddr) -> Result<TcpListener> {
    let addr = me.connect_addr();
    crate::core::net::capacity::listen(addr.as_str())
        .await
        .wrap_err_with(|| format!("peer {} cannot listen on {addr}", me.id))
}
