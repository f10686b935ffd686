//! p2p-tui: the seed-001 peer-to-peer file sharing protocol, its peers and front ends.

pub mod check;
pub mod cli;
pub mod cli_docs;
pub mod command;
pub mod console;
pub mod demo;

pub mod logging;
pub mod net;
pub mod peer;
pub mod peer_mode;
pub mod protocol;
pub mod settings;
pub mod signals;
pub mod store;
pub mod sync;
pub mod tracker;
pub mod tui;
pub mod uploads;
pub mod web;
pub mod words;

use std::time::Duration;

use color_eyre::eyre::Result;

use cli::Cli;
use peer_mode::{Front, PeerArgs};
use signals::Signals;

/// Runs the mode the command line asks for; returns the process exit status.
pub async fn run(cli: Cli) -> Result<i32> {
    if let Some(status) = cli_docs::run_if_requested(&cli) {
        return Ok(status?);
    }
    // Before anything else: see `signals`.
    let signals = Signals::install()?;
    if cli.check_client {
        return check::run_client(check::ClientCheck::from_cli(&cli)?).await;
    }
    if let Some(addr) = cli.check_server.clone() {
        return check::run_server(check::ServerCheck::from_cli(&cli, addr)?).await;
    }
    if let Some(args) = cli.get.clone() {
        return run_get(&args, cli.timeout, signals).await;
    }
    if cli.tracker.is_some() || cli.web.is_some() {
        logging::init_stderr("info");
        run_servers(&cli, signals).await?;
        return Ok(0);
    }
    run_other(cli, signals).await.map(|()| 0)
}

async fn run_other(cli: Cli, signals: Signals) -> Result<()> {
    if let Some(tracker) = cli.sync.clone() {
        logging::init_stderr("info");
        let args = sync::SyncArgs {
            tracker,
            dir: cli.dir.clone().unwrap_or_else(|| ".".into()),
            port: cli.port.unwrap_or(0),
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(signals.cancel_on_signal(shutdown.clone()));
        return sync::run(args, shutdown).await;
    }
    if cli.demo {
        let source = demo::locate(cli.demo_dir.clone())?;
        let front = if tui::terminal_available() {
            Front::Tui
        } else {
            // As with --peer: no terminal to draw on, so p1 gets the line console.
            logging::init_stderr("warn");
            Front::Line
        };
        let delay = Duration::from_millis(cli.chunk_delay.unwrap_or(20));
        return demo::run(source, delay, front, signals).await;
    }
    let Some(id) = cli.peer.clone() else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(());
    };
    let front = if cli.headless {
        Front::Headless
    } else if cli.line || !tui::terminal_available() {
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
        max_connections: cli.max_connections.map_or(512, |n| n as usize),
        max_per_address: cli.max_per_address.map(|n| n as usize),
        uploads: cli.uploads,
        max_upload: cli.max_upload,
        quota: cli.quota,
        window: usize::from(cli.window),
        stall_timeout: Duration::from_secs_f64(cli.stall_timeout.max(0.1)),
        join: cli.join.clone(),
    };
    peer_mode::run(args, front, signals).await
}

/// `--get`: the seed-004 client. Exit 0 for a 200, 1 for another HTTP status, 2 when there was
/// no answer (refused, timed out, broken), 128 + the signal's number after SIGINT, SIGTERM or
/// SIGHUP.
async fn run_get(args: &[String], timeout_secs: f64, mut signals: Signals) -> Result<i32> {
    use color_eyre::eyre::eyre;
    let target = web::client::Target::parse(args).map_err(|e| eyre!(e))?;
    if !(timeout_secs.is_finite() && timeout_secs > 0.0 && timeout_secs < 86_400.0) {
        return Err(eyre!(
            "--timeout must be a number of seconds between 0 and 86400"
        ));
    }
    let timeout = Duration::from_secs_f64(timeout_secs);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    // A signal drops the request, and with it any half-saved temporary file.
    let result = tokio::select! {
        r = web::client::run(&target, timeout, std::path::Path::new("."), &mut out) => r,
        (number, _) = signals.recv() => {
            eprintln!("Interrupted; nothing saved.");
            return Ok(128 + number);
        }
    };
    match result {
        Ok(web::client::Outcome::Ok) => Ok(0),
        Ok(web::client::Outcome::HttpError(_)) => Ok(1),
        Err(e) => {
            use std::io::Write;
            let _ = out.flush();
            eprintln!("{e}");
            Ok(2)
        }
    }
}

/// `--tracker [ADDR]` and/or `--web [ADDR]`, in one process sharing the tracker's directory,
/// headless until Ctrl-C or SIGTERM.
async fn run_servers(cli: &Cli, signals: Signals) -> Result<()> {
    use color_eyre::eyre::WrapErr;
    use std::sync::Arc;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    let mut tracker_state = None;
    if let Some(addr) = &cli.tracker {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("tracker cannot listen on {addr}"))?;
        tracing::info!("tracker listening on {}", listener.local_addr()?);
        let config = Arc::new(tracker::TrackerConfig {
            peer_timeout: Duration::from_secs(cli.peer_timeout.max(1)),
            max_message: cli.max_message.max(64),
            max_connections: cli
                .max_connections
                .map_or(tracker::TrackerConfig::default().max_connections, |n| {
                    n as usize
                }),
            max_per_address: cli.max_per_address.map(|n| n as usize),
            ..tracker::TrackerConfig::default()
        });
        let state = Arc::new(tracker::server::Tracker::default());
        tracker_state = Some(Arc::clone(&state));
        tasks.spawn(tracker::serve(
            listener,
            state,
            config,
            shutdown.clone(),
            tasks.clone(),
        ));
    }
    if let Some(addr) = &cli.web {
        let root = web::locate_root(cli.www.clone())?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("web server cannot listen on {addr}"))?;
        tracing::info!(
            "web server on http://{} serving {}{}",
            listener.local_addr()?,
            root.display(),
            if tracker_state.is_some() {
                " (tracker view at /tracker)"
            } else {
                ""
            }
        );
        let mut config = web::WebConfig::new(root);
        config.header_timeout = Duration::from_secs(cli.header_timeout.max(1));
        config.max_per_address = cli.max_per_address.map(|n| n as usize);
        tasks.spawn(web::serve(
            listener,
            config,
            tracker_state,
            shutdown.clone(),
            tasks.clone(),
        ));
    }
    signals.cancel_on_signal(shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(())
}
