//! Modes: what the process is (a peer with a front end, the demo, the synchronizer, the headless
//! tracker and web server, the web client, a checker). May import everything else; nothing imports it.

pub(crate) mod demo;
pub(crate) mod get;
pub(crate) mod peer;
pub(crate) mod servers;
pub(crate) mod sync;

use std::time::Duration;

use color_eyre::eyre::Result;

use crate::check;
use crate::cli::{self, Cli, Mode};
use crate::core::logging;
use crate::core::signals::Signals;
use crate::front::tui;
use peer::{Front, PeerArgs};

/// Runs the mode the command line asks for; returns the process exit status. `given`: the
/// ids of the flags on the command line (see `Cli::parse_given`), which must apply to the mode.
pub async fn run(cli: Cli, given: &[String]) -> Result<i32> {
    if let Some(status) = cli::docs::run_if_requested(&cli) {
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
        Mode::Get(args) => get::run(&args, cli.timeout, signals).await,
        Mode::Servers => {
            logging::init_stderr("info");
            servers::run(&cli, signals).await.map(|()| 0)
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
    peer::run(args, front, signals).await
}
