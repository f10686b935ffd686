//! p2p-tui: the seed-001 peer-to-peer file sharing protocol, its peers and front ends.

pub mod cli;
pub mod command;
pub mod console;
pub mod demo;
pub mod logging;
pub mod net;
pub mod peer;
pub mod peer_mode;
pub mod protocol;
pub mod settings;
pub mod store;
pub mod sync;
pub mod tracker;
pub mod tui;

use std::time::Duration;

use color_eyre::eyre::Result;

use cli::Cli;
use peer_mode::{Front, PeerArgs};

/// Runs the mode the command line asks for.
pub async fn run(cli: Cli) -> Result<()> {
    if let Some(addr) = cli.tracker.clone() {
        logging::init_stderr("info");
        return run_tracker(&addr, Duration::from_secs(cli.peer_timeout.max(1))).await;
    }
    if let Some(tracker) = cli.sync.clone() {
        logging::init_stderr("info");
        let args = sync::SyncArgs {
            tracker,
            dir: cli.dir.clone().unwrap_or_else(|| ".".into()),
            port: cli.port.unwrap_or(0),
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(peer_mode::wait_for_signal(shutdown.clone()));
        return sync::run(args, shutdown).await;
    }
    if cli.demo {
        let source = demo::locate(cli.demo_dir.clone())?;
        return demo::run(source, Duration::from_millis(cli.chunk_delay.unwrap_or(20))).await;
    }
    let Some(id) = cli.peer.clone() else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(());
    };
    use std::io::IsTerminal;
    let front = if cli.headless {
        Front::Headless
    } else if cli.line || !std::io::stdout().is_terminal() {
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
    let args = PeerArgs {
        id,
        settings: cli.settings,
        dir: cli.dir,
        chunk_delay: Duration::from_millis(cli.chunk_delay.unwrap_or(0)),
        idle_timeout: Duration::from_secs(cli.idle_timeout.max(1)),
        join: cli.join.clone(),
    };
    peer_mode::run(args, front).await
}

/// `--tracker ADDR`: headless until Ctrl-C or SIGTERM.
async fn run_tracker(addr: &str, peer_timeout: Duration) -> Result<()> {
    use color_eyre::eyre::WrapErr;
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .wrap_err_with(|| format!("tracker cannot listen on {addr}"))?;
    tracing::info!("tracker listening on {}", listener.local_addr()?);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    let config = Arc::new(tracker::TrackerConfig {
        peer_timeout,
        ..tracker::TrackerConfig::default()
    });
    let state = Arc::new(tracker::server::Tracker::default());
    tasks.spawn(tracker::serve(
        listener,
        state,
        config,
        shutdown.clone(),
        tasks.clone(),
    ));
    peer_mode::wait_for_signal(shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(())
}
