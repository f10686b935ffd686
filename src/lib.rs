//! p2p-tui: the seed-001 peer-to-peer file sharing protocol, its peers and front ends.

pub mod cli;
pub mod command;
pub mod console;
pub mod logging;
pub mod peer;
pub mod peer_mode;
pub mod protocol;
pub mod settings;
pub mod store;

use std::time::Duration;

use color_eyre::eyre::Result;

use cli::Cli;
use peer_mode::{Front, PeerArgs};

/// Runs the mode the command line asks for.
pub async fn run(cli: Cli) -> Result<()> {
    let Some(id) = cli.peer.clone() else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(());
    };
    let front = if cli.headless {
        Front::Headless
    } else {
        if !cli.line {
            eprintln!(
                "p2p-tui: the full-screen peer is not built yet; using the line console (--line)"
            );
        }
        Front::Line
    };
    logging::init_stderr(if front == Front::Headless {
        "info"
    } else {
        "warn"
    });
    let args = PeerArgs {
        id,
        settings: cli.settings,
        dir: cli.dir,
        chunk_delay: Duration::from_millis(cli.chunk_delay),
        idle_timeout: Duration::from_secs(cli.idle_timeout.max(1)),
    };
    peer_mode::run(args, front).await
}
