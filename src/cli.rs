//! Command-line flags of every mode.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "p2p-tui",
    version,
    about = "Peer-to-peer file sharing over the seed-001 protocol",
    after_help = "Examples:\n  p2p-tui --peer p2 --headless --settings demo/peer_settings.txt --dir demo/p2\n  p2p-tui --peer p1 --line --settings demo/peer_settings.txt --dir demo/p1"
)]
pub struct Cli {
    /// Run as the peer with this ID (from the settings file)
    #[arg(long, value_name = "ID")]
    pub peer: Option<String>,

    /// Peer: server only, no console (logs on stderr)
    #[arg(long, requires = "peer", conflicts_with = "line")]
    pub headless: bool,

    /// Peer: server plus a line console reading commands from stdin (a pipe works)
    #[arg(long, requires = "peer")]
    pub line: bool,

    /// Peer list, one "peer_ID ip_addr server_port" per line
    #[arg(long, value_name = "FILE", default_value = "peer_settings.txt")]
    pub settings: PathBuf,

    /// The peer directory holding served_files/ [default: ./ID]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Sleep this many milliseconds after each chunk this peer sends (to watch, or kill, a transfer)
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub chunk_delay: u64,

    /// Disconnect a client that sends nothing for this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,
}
