//! The flags, one clap group per concern: each mode takes the groups it needs (see
//! `Mode::groups`) and reads its settings from them directly. A flag shared by two modes (`--dir`,
//! `--chunk-delay`, the connection limits) is a group of its own.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::core::uploads::{Uploads, parse_size};

/// `--peer ID` and what only a peer takes.
#[derive(Debug, Clone, Args)]
pub struct PeerFlags {
    /// Run as the peer with this ID (from the settings file)
    #[arg(help_heading = "Peer", long, value_name = "ID")]
    pub peer: Option<String>,

    /// Peer: register served_files with the tracker at ADDR; `#DOWNLOAD f` with no peer list then
    /// fetches from every live holder the tracker knows
    #[arg(help_heading = "Peer", long, value_name = "ADDR", requires = "peer")]
    pub join: Option<String>,

    /// Peer: server only, no console (logs on stderr)
    #[arg(
        help_heading = "Peer",
        long,
        requires = "peer",
        conflicts_with = "line"
    )]
    pub headless: bool,

    /// Peer: server plus a line console reading commands from stdin (a pipe works)
    #[arg(help_heading = "Peer", long, requires = "peer")]
    pub line: bool,

    /// Peer list, one "peer_ID ip_addr server_port" per line
    #[arg(
        help_heading = "Peer",
        long,
        value_name = "FILE",
        default_value = "peer_settings.txt"
    )]
    pub settings: PathBuf,

    /// Peer: the most chunk requests in flight per connection to peers that take pipelined
    /// requests (learned once per peer; classroom peers always get the seed's lockstep); each
    /// peer's window adapts to its rate below this; 1 = lockstep with everyone [default: as
    /// many as the path needs, within --download-memory]
    #[arg(help_heading = "Peer", long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub window: Option<u16>,

    /// Peer: the memory one download may hold, MiB (its reassembly ring and the replies in
    /// flight); the windows to distant fast peers grow up to its share
    #[arg(help_heading = "Peer", long, value_name = "MIB", default_value_t = crate::peer::transfer::memory::DEFAULT_DOWNLOAD_MEMORY_MIB, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub download_memory: u64,

    /// Peer: a serving peer that sends nothing for this many seconds while chunks are awaited
    /// has left the transfer (its chunks go to the others; never fires on a healthy peer at
    /// --chunk-delay 500)
    #[arg(
        help_heading = "Peer",
        long,
        value_name = "SECS",
        default_value_t = 10.0
    )]
    pub stall_timeout: f64,

    /// Peer: fetch chunk i from serving peer i mod n strictly, as the seed does, even when a
    /// peer falls far behind (no chunks move to idle peers)
    #[arg(help_heading = "Peer", long, requires = "peer")]
    pub strict_round_robin: bool,

    /// Peer: disconnect a client that does not complete a request, or does not take a reply,
    /// within this many seconds (a byte is not progress; its upload is dropped)
    #[arg(help_heading = "Peer", long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,

    /// Peer: whose #UPLOAD is accepted: known (addresses in the settings file and, with --join,
    /// peers the tracker lists), all (anyone who can reach the port, as in the seed), none.
    /// Downloads stay open to everyone
    #[arg(help_heading = "Peer", long, value_enum, value_name = "WHO", default_value_t = Uploads::Known)]
    pub uploads: Uploads,

    /// Peer: the largest file accepted by upload, e.g. 10M, 2G (K = 1024) [default: no limit
    /// but the free space]; a larger one is refused with a 250 before any byte is written
    #[arg(help_heading = "Peer", long, value_name = "SIZE", value_parser = parse_size)]
    pub max_upload: Option<u64>,

    /// Peer: all bytes accepted by upload since the peer started, e.g. 2G [default: no limit];
    /// an upload that would pass it is refused with a 250 before any byte is written
    #[arg(help_heading = "Peer", long, value_name = "SIZE", value_parser = parse_size)]
    pub quota: Option<u64>,
}

impl PeerFlags {
    pub fn stall_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.stall_timeout.max(0.1))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout.max(1))
    }
}

/// `--dir`: a peer's directory, or the synchronized folder.
#[derive(Debug, Clone, Args)]
pub struct DirFlag {
    /// The peer directory holding served_files/ [default: ./ID]; with --sync, the synchronized folder [default: .]
    #[arg(help_heading = "Peer", long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `--chunk-delay`: for a peer, and for the demo's serving peers.
#[derive(Debug, Clone, Args)]
pub struct ChunkDelayFlag {
    /// Sleep this many milliseconds after each chunk this peer sends (to watch, or kill, a
    /// transfer) [default: 0; with --demo: 20, for the demo's serving peers]
    #[arg(help_heading = "Peer", long, value_name = "MS")]
    pub chunk_delay: Option<u64>,
}

impl ChunkDelayFlag {
    /// The delay given, or the mode's default.
    pub fn or(&self, default_ms: u64) -> Duration {
        Duration::from_millis(self.chunk_delay.unwrap_or(default_ms))
    }
}

/// Connection limits, for the peer, the tracker and the web server.
#[derive(Debug, Clone, Args)]
pub struct LimitFlags {
    /// Connections served at once [default: 512 for a peer; the tracker: as many as the
    /// descriptor limit allows; the web server: 1024; never more than the descriptor limit
    /// allows]; when all are taken, the one idle longest (waiting for a request) is closed to
    /// admit a new client (never a joined tracker peer)
    #[arg(help_heading = "Peer", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: Option<u32>,

    /// Connections one client address may hold at once, for the peer, tracker and web server
    /// [default: an eighth of --max-connections, at least 8: 64 for a peer, an eighth of its
    /// capacity for the tracker, 128 for the web server; loopback clients (127.0.0.0/8, ::1) are
    /// exempt unless this is given]. A newcomer over it closes its own address's longest-idle connection, or is
    /// refused if none is idle
    #[arg(help_heading = "Peer", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_per_address: Option<u32>,
}

impl LimitFlags {
    /// `--max-connections`, or `default`.
    pub fn max_connections(&self, default: usize) -> usize {
        self.max_connections.map_or(default, |n| n as usize)
    }

    pub fn max_per_address(&self) -> Option<usize> {
        self.max_per_address.map(|n| n as usize)
    }
}

/// `--tracker` and `--web`, headless in one process.
#[derive(Debug, Clone, Args)]
pub struct ServerFlags {
    /// Run the tracker (JSON over TCP) on ADDR [default: 127.0.0.1:9000; 0.0.0.0:PORT for a LAN]
    #[arg(help_heading = "Tracker and web server", long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9000", conflicts_with_all = ["peer", "demo"])]
    pub tracker: Option<String>,

    /// Run the static web server on ADDR [default: 127.0.0.1:8080]; with --tracker, it also
    /// shows the tracker's directory at /tracker and /tracker.json
    #[arg(help_heading = "Tracker and web server", long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8080", conflicts_with_all = ["peer", "demo", "sync"])]
    pub web: Option<String>,

    /// Web server: the directory served [default: ./assets/www, else the one shipped with the source]
    #[arg(
        help_heading = "Tracker and web server",
        long,
        value_name = "DIR",
        requires = "web"
    )]
    pub www: Option<PathBuf>,

    /// Web server: disconnect a client that has not sent a whole request head after this many seconds
    #[arg(
        help_heading = "Tracker and web server",
        long,
        value_name = "SECS",
        default_value_t = 10,
        requires = "web"
    )]
    pub header_timeout: u64,

    /// Tracker: drop a peer silent for this many seconds (no whole message, or its replies not
    /// taken, for that long)
    #[arg(
        help_heading = "Tracker and web server",
        long,
        value_name = "SECS",
        default_value_t = 15,
        requires = "tracker"
    )]
    pub peer_timeout: u64,

    /// Tracker: longest JSON message accepted, in bytes (a longer one closes that connection)
    #[arg(help_heading = "Tracker and web server", long, value_name = "BYTES", default_value_t = 4 << 20, requires = "tracker")]
    pub max_message: usize,
}

/// `--get`: the seed-004 web client.
#[derive(Debug, Clone, Args)]
pub struct GetFlags {
    /// Fetch one file over HTTP and print it as the seed-004 client does (text printed, other
    /// types saved here): HOST PORT FILE [TIMEOUT] (the seed's syntax; TIMEOUT as --timeout), or
    /// one http://HOST:PORT/FILE URL
    #[arg(help_heading = "Web client (--get)", long, value_name = "HOST PORT FILE [TIMEOUT]", num_args = 1..=4, allow_hyphen_values = false, conflicts_with_all = ["peer", "demo", "sync", "tracker", "web"])]
    pub get: Option<Vec<String>>,

    /// --get: give up after this many seconds without progress (connecting, waiting, reading)
    #[arg(
        help_heading = "Web client (--get)",
        long,
        value_name = "SECS",
        default_value_t = 5.0,
        requires = "get"
    )]
    pub timeout: f64,
}

/// `--sync`: the seed-002 synchronizer.
#[derive(Debug, Clone, Args)]
pub struct SyncFlags {
    /// Run the seed-002 synchronizer against the tracker at ADDR, keeping --dir in step
    #[arg(help_heading = "Synchronizer", long, value_name = "ADDR", conflicts_with_all = ["peer", "demo", "tracker"])]
    pub sync: Option<String>,

    /// Synchronizer: the port that serves file requests [default: any free port]
    #[arg(
        help_heading = "Synchronizer",
        long,
        value_name = "PORT",
        requires = "sync"
    )]
    pub port: Option<u16>,
}

/// `--demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoFlags {
    /// The whole network in one process from demo/ (copied to a temporary directory): peers
    /// p2..p4 in the background, p1's full-screen UI in front; F2..F4 take a peer offline and back
    #[arg(help_heading = "Demo", long, conflicts_with_all = ["peer", "headless", "line"])]
    pub demo: bool,

    /// Where --demo finds its layout [default: ./demo, else the one shipped with the source]
    #[arg(help_heading = "Demo", long, value_name = "DIR", requires = "demo")]
    pub demo_dir: Option<PathBuf>,
}

/// `--check-server HOST:PORT` and what only it takes.
#[derive(Debug, Clone, Args)]
pub struct CheckServerFlags {
    /// Check a running seed-001 server at HOST:PORT against the seed's testing scheme
    /// (section IV) and the edge cases it implies; exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, value_name = "HOST:PORT", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get"])]
    pub check_server: Option<String>,

    /// --check-server: also download NAME, a file the server already serves
    #[arg(
        help_heading = "Checking an implementation",
        long = "file",
        value_name = "NAME",
        requires = "check_server"
    )]
    pub check_file: Option<String>,
}

/// `--check-client -- COMMAND...`.
#[derive(Debug, Clone, Args)]
pub struct CheckClientFlags {
    /// Check a seed-001 client: run the COMMAND given after `--` (e.g. `-- python3 client.py`) in
    /// a prepared peer directory against servers p2p-tui plays; exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, requires = "command", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server"])]
    pub check_client: bool,
}

/// `--check-tracker HOST:PORT` and what only it takes.
#[derive(Debug, Clone, Args)]
pub struct CheckTrackerFlags {
    /// Check a running seed-002 tracker at HOST:PORT (tell it the tracker's timeout with
    /// --tracker-timeout); exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, value_name = "HOST:PORT", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server", "check_client"])]
    pub check_tracker: Option<String>,

    /// --check-tracker: the seconds the tracker under test drops a silent peer after (the
    /// --peer-timeout it was started with)
    #[arg(
        help_heading = "Checking an implementation",
        long,
        value_name = "SECS",
        default_value_t = 15,
        requires = "check_tracker"
    )]
    pub tracker_timeout: u64,
}

/// `--check-sync -- COMMAND...`.
#[derive(Debug, Clone, Args)]
pub struct CheckSyncFlags {
    /// Check a seed-002 synchronizer: run the COMMAND given after `--` in temporary folders
    /// against a tracker and file servers p2p-tui plays ({host}, {port} or {addr} in COMMAND
    /// name the tracker, else its host and port are appended); exit status 0 only if every case
    /// passes
    #[arg(help_heading = "Checking an implementation", long, requires = "command", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server", "check_client", "check_tracker"])]
    pub check_sync: bool,
}

/// `--check-web HOST:PORT` and what only it takes.
#[derive(Debug, Clone, Args)]
pub struct CheckWebFlags {
    /// Check a running seed-000/004 web server at HOST:PORT: it writes test files (html, txt,
    /// jpg, png, mp3, mp4, a 5 MiB binary) into --web-root, asks for them and removes them;
    /// exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, value_name = "HOST:PORT", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server", "check_client"])]
    pub check_web: Option<String>,

    /// --check-web: the directory the server serves its files from [default: the current directory]
    #[arg(
        help_heading = "Checking an implementation",
        long,
        value_name = "DIR",
        requires = "check_web"
    )]
    pub web_root: Option<PathBuf>,
}

/// `--check-get -- COMMAND...`.
#[derive(Debug, Clone, Args)]
pub struct CheckGetFlags {
    /// Check a seed-004 web client: run the COMMAND given after `--` as `COMMAND HOST PORT FILE
    /// [TIMEOUT]` against a web server p2p-tui plays; exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, requires = "command", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server", "check_client", "check_web"])]
    pub check_get: bool,
}

/// `-- COMMAND...`: the program a checker runs.
#[derive(Debug, Clone, Args)]
pub struct CommandFlag {
    /// --check-client, --check-get: the client's command line
    #[arg(
        help_heading = "Checking an implementation",
        last = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// What every checker takes.
#[derive(Debug, Clone, Args)]
pub struct CheckFlags {
    /// --check-*: seconds one case may take before it fails (a hung implementation)
    #[arg(
        help_heading = "Checking an implementation",
        long,
        value_name = "SECS",
        default_value_t = 10.0
    )]
    pub case_timeout: f64,

    /// --check-*: also write the results as FORMAT (junit, json or html) to FILE; may be repeated
    #[arg(help_heading = "Checking an implementation", long, value_names = ["FORMAT", "FILE"], num_args = 2, action = clap::ArgAction::Append)]
    pub report: Vec<String>,
}

/// `--completions` and `--man`: handled before any mode.
#[derive(Debug, Clone, Args)]
pub struct DocFlags {
    /// Print a completion script for SHELL on stdout, e.g. `p2p-tui --completions bash >
    /// ~/.local/share/bash-completion/completions/p2p-tui`
    #[arg(
        help_heading = "Documentation",
        long,
        value_enum,
        value_name = "SHELL",
        exclusive = true
    )]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) on stdout: `p2p-tui --man | man -l -`
    #[arg(help_heading = "Documentation", long, exclusive = true)]
    pub man: bool,
}
