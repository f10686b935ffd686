//! Modes: what the process is (a peer with a front end, the demo, the synchronizer, the headless
//! tracker and web server, the web client, a checker). May import everything else; nothing imports it.

pub(crate) mod check;
pub(crate) mod demo;
pub(crate) mod get;
pub(crate) mod peer;
pub(crate) mod servers;
pub(crate) mod sync;

use color_eyre::eyre::Result;

use crate::cli::{self, Cli, Mode};
use crate::core::signals::Signals;

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
    let done = |()| 0;
    match mode {
        Mode::CheckClient { command, check } => check::client(command, &check).await,
        Mode::CheckServer { addr, file, check } => check::server(addr, file, &check).await,
        Mode::CheckTracker {
            addr,
            peer_timeout,
            check,
        } => check::tracker(addr, peer_timeout, &check).await,
        Mode::CheckSync { command, check } => check::sync(command, &check).await,
        Mode::CheckWeb { addr, root, check } => check::web(addr, root, &check).await,
        Mode::CheckGet { command, check } => check::get(command, &check).await,
        Mode::Get { args, timeout } => get::run(&args, timeout, signals).await,
        Mode::Servers { servers, limits } => {
            servers::run(&servers, &limits, signals).await.map(done)
        }
        Mode::Sync { tracker, port, dir } => {
            sync::start(tracker, port, dir, signals).await.map(done)
        }
        Mode::Demo { demo, chunk_delay } => {
            demo::start(demo, &chunk_delay, signals).await.map(done)
        }
        Mode::Peer(peer) => peer::start(peer, signals).await.map(done),
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
