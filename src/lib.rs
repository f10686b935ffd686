//! p2p-tui: the seed-001 peer-to-peer file sharing protocol, its peers and front ends.

pub(crate) mod check;
pub mod cli;
pub(crate) mod cli_docs;
pub(crate) mod command;
pub(crate) mod console;
pub(crate) mod demo;
pub(crate) mod history;
pub(crate) mod line_editor;

pub(crate) mod locks;
pub(crate) mod logging;
pub(crate) mod net;
pub(crate) mod peer;
pub(crate) mod peer_mode;
pub(crate) mod protocol;
pub(crate) mod settings;
pub(crate) mod signals;
pub(crate) mod store;
pub(crate) mod sync;
pub(crate) mod tracker;
pub(crate) mod tui;
pub(crate) mod uploads;
pub(crate) mod web;
pub(crate) mod words;

use std::time::Duration;

use color_eyre::eyre::{Result, eyre};

use cli::{Cli, Mode};
use peer_mode::{Front, PeerArgs};
use signals::Signals;

/// Runs the mode the command line asks for; returns the process exit status. `given`: the
/// ids of the flags on the command line (see `Cli::parse_given`), which must apply to the mode.
pub async fn run(cli: Cli, given: &[String]) -> Result<i32> {
    if let Some(status) = cli_docs::run_if_requested(&cli) {
        return Ok(status?);
    }
    let mode = match cli.mode(given) {
        Ok(Mode::Help) => return Ok(no_mode()),
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("p2p-tui: {e}");
            return Ok(cli::EXIT_USAGE);
        }
    };
    // Before anything else: see `signals`.
    let signals = Signals::install()?;
    match mode {
        Mode::CheckClient => check::run_client(check::ClientCheck::from_cli(&cli)?).await,
        Mode::CheckServer(addr) => {
            check::run_server(check::ServerCheck::from_cli(&cli, addr)?).await
        }
        Mode::CheckTracker(addr) => {
            let check = check::tracker::TrackerCheck::new(
                addr,
                cli.peer_timeout,
                cli.case_timeout,
                &cli.report,
            )?;
            check::tracker::run(check).await
        }
        Mode::CheckSync => {
            let check = check::sync::SyncCheck::new(&cli.command, cli.case_timeout, &cli.report)?;
            check::sync::run(check).await
        }
        Mode::Get(args) => run_get(&args, cli.timeout, signals).await,
        Mode::Servers => {
            logging::init_stderr("info");
            run_servers(&cli, signals).await.map(|()| 0)
        }
        Mode::Sync(tracker) => run_sync(&cli, tracker, signals).await.map(|()| 0),
        Mode::Demo => run_demo(&cli, signals).await.map(|()| 0),
        Mode::Peer(id) => run_peer(cli, id, signals).await.map(|()| 0),
        Mode::Help => Ok(no_mode()),
    }
}

/// No mode flag: a usage error. The short help goes to stderr (stdout may be a file the user
/// meant for output), then one line saying what is missing.
fn no_mode() -> i32 {
    use clap::CommandFactory;
    eprint!("{}", Cli::command().render_help());
    eprintln!(
        "\np2p-tui: no mode given (e.g. --demo, --peer ID, --tracker, --web); see p2p-tui --help"
    );
    cli::EXIT_USAGE
}

/// `--sync`: the seed-002 synchronizer, until a signal.
async fn run_sync(cli: &Cli, tracker: String, signals: Signals) -> Result<()> {
    logging::init_stderr("info");
    let args = sync::SyncArgs {
        tracker,
        dir: cli.dir.clone().unwrap_or_else(|| ".".into()),
        port: cli.port.unwrap_or(0),
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    tasks.spawn(signals.cancel_on_signal(shutdown.clone()));
    sync::run(args, shutdown).await
}

/// `--demo`: the whole network in one process, p1 in front.
async fn run_demo(cli: &Cli, signals: Signals) -> Result<()> {
    let source = demo::locate(cli.demo_dir.clone())?;
    let front = if tui::terminal_available() {
        Front::Tui
    } else {
        // As with --peer: no terminal to draw on, so p1 gets the line console.
        logging::init_stderr("warn");
        Front::Line
    };
    let delay = Duration::from_millis(cli.chunk_delay.unwrap_or(20));
    demo::run(source, delay, front, signals).await
}

/// `--peer ID`: a peer with the front end its flags and terminal allow.
async fn run_peer(cli: Cli, id: String, signals: Signals) -> Result<()> {
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
        let listener = net::capacity::listen(addr.as_str())
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
        let listener = net::capacity::listen(addr.as_str())
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
