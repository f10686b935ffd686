//! Starting a peer: settings, directory, listening socket, server task, and a front end.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::PeerMode;
use crate::core::logging;
use crate::core::settings::{PeerAddr, Settings};
use crate::core::shutdown;
use crate::core::signals::Signals;
use crate::core::uploads::{KnownPeers, UploadRules};
use crate::front::console::{self, ConsoleOut};
use crate::front::tui::PeerHandles;
use crate::peer::runtime::{PeerHandle, PeerSpec};
use crate::peer::transfer::memory::MemoryBudget;
use crate::peer::transfer::{DEFAULT_WINDOW, TransferOptions};
use crate::peer::{Reporter, ServerConfig};
use crate::tracker::join::TrackerLink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Headless,
    Line,
    Tui,
}

/// `--peer ID`: a peer with the front end its flags and terminal allow, until a signal or quit.
pub async fn start(mode: PeerMode, signals: Signals) -> Result<()> {
    let front = if mode.flags.headless {
        Front::Headless
    } else if mode.flags.line || !crate::front::tui::terminal_available() {
        // Without a terminal to draw on, the line console is the useful front end.
        Front::Line
    } else {
        Front::Tui
    };
    match front {
        Front::Headless => logging::init_stderr("info"),
        Front::Line => logging::init_stderr("warn"),
        // The TUI logs to a file in the peer directory, set up once the directory is known.
        Front::Tui => {}
    }
    run(mode, front, signals).await
}

async fn run(args: PeerMode, front: Front, signals: Signals) -> Result<()> {
    let settings = Arc::new(Settings::load(&args.flags.settings)?);
    let me = settings.require(&args.id)?.clone();
    let dir = args
        .dir
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.id));
    check_peer_dir(&dir)?;
    // Before listening and before any line says the peer is serving: a directory the peer
    // cannot write is said at once, with its path, not at the first download.
    crate::core::store::Store::prepare(&dir)?;
    let listener = bind(&me).await?;
    let _log_guard = (front == Front::Tui).then(|| logging::init_file(&dir));
    tracing::info!(peer = %me.id, addr = %me.connect_addr(), dir = %dir.display(), "serving");

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let spec = peer_spec(&args, &me.id, &settings);
    let peer = PeerHandle::start(spec, &dir, listener, &shutdown, &tasks)?;
    peer.store.set_upload_rules(UploadRules {
        policy: args.flags.uploads,
        known: known_peers(&settings, peer.tracker.as_ref()).await,
        max_file: args.flags.max_upload,
        quota: args.flags.quota,
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
    shutdown::finish(&shutdown, &tasks).await;
    Ok(())
}

/// What the peer is started with, from the command line.
fn peer_spec(args: &PeerMode, me: &str, settings: &Arc<Settings>) -> PeerSpec {
    let chunk_delay = args.chunk_delay.or(0);
    PeerSpec {
        me: me.to_string(),
        settings: Arc::clone(settings),
        server: ServerConfig {
            chunk_delay,
            idle_timeout: args.flags.idle_timeout(),
            max_connections: args.limits.max_connections(DEFAULT_MAX_CONNECTIONS),
            max_per_address: args.limits.max_per_address(),
        },
        transfers: TransferOptions {
            chunk_delay,
            window: args.flags.window.map_or(DEFAULT_WINDOW, usize::from),
            window_given: args.flags.window.is_some(),
            download_memory: MemoryBudget::mib(args.flags.download_memory),
            stall_timeout: args.flags.stall_timeout(),
            strict_round_robin: args.flags.strict_round_robin,
            ..TransferOptions::default()
        },
        join: args.flags.join.clone(),
    }
}

/// Connections a peer serves at once unless `--max-connections` says otherwise.
const DEFAULT_MAX_CONNECTIONS: usize = 512;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Mode};

    fn transfers(args: &[&str]) -> TransferOptions {
        let argv = ["p2p-tui", "--peer", "p1"].iter().chain(args);
        let (cli, given) = Cli::try_parse_given(argv.copied()).expect("flags parse");
        let Ok(Mode::Peer(mode)) = cli.mode(&given) else {
            panic!("not the peer mode");
        };
        let settings = Arc::new(Settings {
            path: PathBuf::from("peer_settings.txt"),
            peers: Vec::new(),
        });
        peer_spec(&mode, "p1", &settings).transfers
    }

    #[test]
    fn a_given_window_caps_every_window_and_the_default_grows_to_the_memory_share() {
        let given = transfers(&["--window", "8"]);
        assert_eq!(given.pipelined_window(3), 8);
        let lockstep = transfers(&["--window", "1"]);
        assert_eq!((lockstep.window, lockstep.pipelined_window(3)), (1, 1));
        let default = transfers(&[]);
        let share = MemoryBudget::default().window_per_peer(3);
        assert!(share > 4096, "{share}");
        assert_eq!(default.pipelined_window(3), share);
    }

    #[test]
    fn download_memory_sets_the_budget() {
        let small = transfers(&["--download-memory", "4"]);
        assert_eq!(small.download_memory, MemoryBudget::mib(4));
        assert!(small.pipelined_window(3) < transfers(&[]).pipelined_window(3));
        assert_eq!(transfers(&[]).download_memory, MemoryBudget::mib(64));
    }
}
