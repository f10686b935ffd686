//! Command-line flags of every mode.

use std::path::PathBuf;

use clap::Parser;

use crate::uploads::{Uploads, parse_size};

/// Exit status of a run that failed at startup or later (one line on stderr says why).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of a command line that cannot run: an unknown flag, a missing or invalid value,
/// a flag of another mode, no mode at all.
pub const EXIT_USAGE: i32 = 2;

/// The exit statuses, for `--help`, the man page and the README (checked against each other).
pub const EXIT_STATUSES: &[(&str, &str)] = &[
    (
        "0",
        "success; also a peer, tracker, web server or synchronizer stopped by a signal",
    ),
    (
        "1",
        "a runtime or startup error (port in use, missing directory or settings file, unknown peer ID), said in one line on stderr",
    ),
    (
        "2",
        "a usage error (unknown flag, missing or invalid value, a flag of another mode, no mode), said in one line on stderr",
    ),
    (
        "other",
        "--get: 1 for an answer other than 200, 2 for no answer, 128 + N after signal N; --check-*: 1 when a case does not pass",
    ),
];

const fn p2p_tui_default_window() -> u16 {
    crate::peer::transfer::DEFAULT_WINDOW as u16
}

#[derive(Debug, Parser)]
#[command(
    name = "p2p-tui",
    version,
    about = "Peer-to-peer file sharing over the seed-001 protocol",
    after_help = crate::cli_docs::after_help()
)]
pub struct Cli {
    /// Run as the peer with this ID (from the settings file)
    #[arg(help_heading = "Peer", long, value_name = "ID")]
    pub peer: Option<String>,

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

    /// Fetch one file over HTTP and print it as the seed-004 client does (text printed, other
    /// types saved here): HOST PORT FILE, or one http://HOST:PORT/FILE URL
    #[arg(help_heading = "Web client (--get)", long, value_name = "HOST PORT FILE", num_args = 1..=3, allow_hyphen_values = false, conflicts_with_all = ["peer", "demo", "sync", "tracker", "web"])]
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

    /// Tracker: drop a peer silent for this many seconds (no whole message, or its replies not
    /// taken, for that long)
    #[arg(
        help_heading = "Tracker and web server",
        long,
        value_name = "SECS",
        default_value_t = 15
    )]
    pub peer_timeout: u64,

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

    /// The peer directory holding served_files/ [default: ./ID]; with --sync, the synchronized folder [default: .]
    #[arg(help_heading = "Peer", long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Sleep this many milliseconds after each chunk this peer sends (to watch, or kill, a
    /// transfer) [default: 0; with --demo: 20, for the demo's serving peers]
    #[arg(help_heading = "Peer", long, value_name = "MS")]
    pub chunk_delay: Option<u64>,

    /// The whole network in one process from demo/ (copied to a temporary directory): peers
    /// p2..p4 in the background, p1's full-screen UI in front; F2..F4 take a peer offline and back
    #[arg(help_heading = "Demo", long, conflicts_with_all = ["peer", "headless", "line"])]
    pub demo: bool,

    /// Where --demo finds its layout [default: ./demo, else the one shipped with the source]
    #[arg(help_heading = "Demo", long, value_name = "DIR", requires = "demo")]
    pub demo_dir: Option<PathBuf>,

    /// Peer: the most chunk requests in flight per connection to peers that take pipelined
    /// requests (learned once per peer; classroom peers always get the seed's lockstep); each
    /// peer's window adapts to its rate below this; 1 = lockstep with everyone
    #[arg(help_heading = "Peer", long, value_name = "N", default_value_t = p2p_tui_default_window(), value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub window: u16,

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

    /// Check a running seed-001 server at HOST:PORT against the seed's testing scheme
    /// (section IV) and the edge cases it implies; exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, value_name = "HOST:PORT", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get"])]
    pub check_server: Option<String>,

    /// Check a seed-001 client: run the COMMAND given after `--` (e.g. `-- python3 client.py`) in
    /// a prepared peer directory against servers p2p-tui plays; exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, requires = "command", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server"])]
    pub check_client: bool,

    /// Check a running seed-002 tracker at HOST:PORT (tell it the tracker's --peer-timeout);
    /// exit status 0 only if every case passes
    #[arg(help_heading = "Checking an implementation", long, value_name = "HOST:PORT", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server", "check_client"])]
    pub check_tracker: Option<String>,

    /// Check a seed-002 synchronizer: run the COMMAND given after `--` in a temporary folder
    /// against a tracker and file servers p2p-tui plays (`{host}`, `{port}`, `{addr}` in COMMAND
    /// name the tracker; without them its host and port are appended)
    #[arg(help_heading = "Checking an implementation", long, requires = "command", conflicts_with_all = ["peer", "demo", "sync", "tracker", "web", "get", "check_server", "check_client", "check_tracker"])]
    pub check_sync: bool,

    /// --check-client: the client's command line
    #[arg(
        help_heading = "Checking an implementation",
        last = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,

    /// --check-server: also download NAME, a file the server already serves
    #[arg(
        help_heading = "Checking an implementation",
        long = "file",
        value_name = "NAME",
        requires = "check_server"
    )]
    pub check_file: Option<String>,

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

    /// Peer: disconnect a client that does not complete a request, or does not take a reply,
    /// within this many seconds (a byte is not progress; its upload is dropped)
    #[arg(help_heading = "Peer", long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,

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

    /// Tracker: longest JSON message accepted, in bytes (a longer one closes that connection)
    #[arg(help_heading = "Tracker and web server", long, value_name = "BYTES", default_value_t = 4 << 20, requires = "tracker")]
    pub max_message: usize,

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

/// What the process runs, decided once from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `--check-client -- COMMAND...`
    CheckClient,
    /// `--check-server HOST:PORT`
    CheckServer(String),
    /// `--check-tracker HOST:PORT`
    CheckTracker(String),
    /// `--check-sync -- COMMAND...`
    CheckSync,
    /// `--get HOST PORT FILE` or `--get URL`
    Get(Vec<String>),
    /// `--tracker` and/or `--web`, in one process.
    Servers,
    /// `--sync TRACKER`
    Sync(String),
    /// `--demo`
    Demo,
    /// `--peer ID`
    Peer(String),
    /// No mode flag: print the help.
    Help,
}

impl Mode {
    /// The flag that names the mode, for messages.
    fn flag(&self) -> &'static str {
        match self {
            Mode::CheckClient => "--check-client",
            Mode::CheckServer(_) => "--check-server",
            Mode::CheckTracker(_) => "--check-tracker",
            Mode::CheckSync => "--check-sync",
            Mode::Get(_) => "--get",
            Mode::Servers => "--tracker/--web",
            Mode::Sync(_) => "--sync",
            Mode::Demo => "--demo",
            Mode::Peer(_) => "--peer",
            Mode::Help => "(no mode)",
        }
    }

    /// The flags (clap's ids: field names) that mean something in this mode.
    fn takes(&self) -> &'static [&'static str] {
        match self {
            Mode::CheckClient => &["check_client", "command", "case_timeout", "report"],
            Mode::CheckServer(_) => &["check_server", "check_file", "case_timeout", "report"],
            Mode::CheckTracker(_) => &["check_tracker", "peer_timeout", "case_timeout", "report"],
            Mode::CheckSync => &["check_sync", "command", "case_timeout", "report"],
            Mode::Get(_) => &["get", "timeout"],
            Mode::Servers => &[
                "tracker",
                "web",
                "www",
                "header_timeout",
                "peer_timeout",
                "max_connections",
                "max_per_address",
                "max_message",
            ],
            Mode::Sync(_) => &["sync", "dir", "port"],
            Mode::Demo => &["demo", "demo_dir", "chunk_delay"],
            Mode::Peer(_) => &[
                "peer",
                "settings",
                "dir",
                "headless",
                "line",
                "join",
                "chunk_delay",
                "window",
                "stall_timeout",
                "idle_timeout",
                "max_connections",
                "max_per_address",
                "uploads",
                "max_upload",
                "quota",
            ],
            Mode::Help => &[],
        }
    }
}

impl Cli {
    /// Parses the process's arguments with the ids of the flags actually given. `--help` and
    /// `--version` print and exit 0; a usage error prints one line (see `usage_error`) and exits
    /// with [`EXIT_USAGE`].
    pub fn parse_given() -> (Cli, Vec<String>) {
        match Self::try_parse_given(std::env::args_os()) {
            Ok(parsed) => parsed,
            Err(e) if !e.use_stderr() => e.exit(),
            Err(e) => {
                eprintln!("p2p-tui: {}", usage_error(&e));
                std::process::exit(EXIT_USAGE)
            }
        }
    }

    /// [`Cli::parse_given`] on these arguments (the first is the program's name), without exiting.
    pub fn try_parse_given(
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<(Cli, Vec<String>), clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let given = matches
            .ids()
            .filter(|id| {
                matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.to_string())
            .collect();
        Ok((cli, given))
    }

    /// The mode these flags ask for. `given` (the ids of the flags on the command line) must all
    /// apply to it: a flag that would be silently ignored is an error that says where it
    /// belongs.
    pub fn mode(&self, given: &[String]) -> Result<Mode, String> {
        let mode = if self.check_client {
            Mode::CheckClient
        } else if let Some(addr) = &self.check_server {
            Mode::CheckServer(addr.clone())
        } else if let Some(addr) = &self.check_tracker {
            Mode::CheckTracker(addr.clone())
        } else if self.check_sync {
            Mode::CheckSync
        } else if let Some(args) = &self.get {
            Mode::Get(args.clone())
        } else if self.tracker.is_some() || self.web.is_some() {
            Mode::Servers
        } else if let Some(tracker) = &self.sync {
            Mode::Sync(tracker.clone())
        } else if self.demo {
            Mode::Demo
        } else if let Some(id) = &self.peer {
            Mode::Peer(id.clone())
        } else {
            Mode::Help
        };
        let command = <Cli as clap::CommandFactory>::command();
        let spelled = |id: &str| {
            let long = command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_long());
            long.map_or_else(|| id.replace('_', "-"), str::to_string)
        };
        let is_flag = |id: &str| command.get_arguments().any(|a| a.get_id() == id);
        let stray: Vec<String> = given
            .iter()
            // (clap also reports the derive's own group, `Cli`: not a flag.)
            .filter(|id| is_flag(id) && !mode.takes().contains(&id.as_str()))
            .map(|id| format!("--{}", spelled(id)))
            .collect();
        if stray.is_empty() || mode == Mode::Help {
            return Ok(mode);
        }
        Err(format!(
            "{} {} not apply to {} (see --help: flags are grouped by mode)",
            stray.join(", "),
            if stray.len() == 1 { "does" } else { "do" },
            mode.flag()
        ))
    }
}

/// A usage error as one line, from clap's error kind and context (clap's own rendering adds a
/// usage block and tips such as "use '-- --bogus'", which do not apply here: `--` only takes
/// the `--check-client` command).
pub fn usage_error(e: &clap::Error) -> String {
    format!("{}; see p2p-tui --help", usage_sentence(e))
}

fn usage_sentence(e: &clap::Error) -> String {
    use clap::error::{ContextKind as K, ErrorKind};
    let text = |kind| match e.get(kind) {
        Some(clap::error::ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let arg = text(K::InvalidArg);
    let value = text(K::InvalidValue);
    match (e.kind(), arg, value) {
        (ErrorKind::UnknownArgument, Some(arg), _) => unknown_argument(arg, text(K::SuggestedArg)),
        (ErrorKind::InvalidValue, Some(arg), Some("")) => {
            format!("{} needs a value ({arg})", flag_of(arg))
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let mut line = format!("invalid value {value} for {arg}");
            if let Some(clap::error::ContextValue::Strings(valid)) = e.get(K::ValidValue) {
                line.push_str(&format!(" (possible values: {})", valid.join(", ")));
            }
            line
        }
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(e).map_or(String::new(), |s| format!(": {s}"));
            format!("invalid value {value} for {arg}{why}")
        }
        (ErrorKind::ArgumentConflict, Some(arg), _) => conflict(arg, e.get(K::PriorArg)),
        (ErrorKind::MissingRequiredArgument, ..) => match e.get(K::InvalidArg) {
            Some(clap::error::ContextValue::Strings(missing))
                if missing.iter().any(|m| m.starts_with("<COMMAND>")) =>
            {
                "--check-client needs the client's command after -- (e.g. --check-client -- python3 client.py)".to_string()
            }
            Some(clap::error::ContextValue::Strings(missing)) => {
                format!("{} is missing (required by the flags given)", missing.join(", "))
            }
            _ => first_sentence(e),
        },
        _ => first_sentence(e),
    }
}

/// `arg` given with flags it excludes (`prior`: one, several, or none named: `arg` is exclusive).
fn conflict(arg: &str, prior: Option<&clap::error::ContextValue>) -> String {
    use clap::error::ContextValue;
    match prior {
        Some(ContextValue::String(prior)) if prior == arg => {
            format!("{arg} can be given only once")
        }
        Some(ContextValue::String(prior)) => format!("{arg} cannot be used with {prior}"),
        Some(ContextValue::Strings(others)) if !others.is_empty() => {
            format!("{arg} cannot be used with {}", others.join(", "))
        }
        _ => format!("{arg} takes no other flag"),
    }
}

fn unknown_argument(arg: &str, suggested: Option<&str>) -> String {
    if !arg.starts_with('-') {
        return format!("unexpected argument {arg} (a value follows its flag)");
    }
    match suggested {
        Some(flag) => format!("unknown flag {arg} (did you mean {flag}?)"),
        None => format!("unknown flag {arg}"),
    }
}

/// `--peer` of clap's `--peer <ID>`.
fn flag_of(arg: &str) -> &str {
    arg.split([' ', '=']).next().unwrap_or(arg)
}

/// The sentence of clap's rendering (up to its first blank line, its lines joined), for the
/// rare kinds without a line of ours.
fn first_sentence(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let head = rendered.split("\n\n").next().unwrap_or_default();
    let words: Vec<&str> = head.split_whitespace().collect();
    let line = words.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(args: &[&str]) -> Result<Mode, String> {
        let (cli, given) = parse(args).map_err(|e| e.to_string())?;
        cli.mode(&given)
    }

    fn parse(args: &[&str]) -> Result<(Cli, Vec<String>), clap::Error> {
        Cli::try_parse_given(std::iter::once("p2p-tui").chain(args.iter().copied()))
    }

    fn usage_line(args: &[&str]) -> String {
        usage_error(&parse(args).expect_err("a usage error"))
    }

    #[test]
    fn a_usage_error_is_one_line_naming_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--bogus"], "unknown flag --bogus; see p2p-tui --help"),
            (
                &["--peers", "p1"],
                "unknown flag --peers (did you mean --peer?); see p2p-tui --help",
            ),
            (
                &["p1"],
                "unexpected argument p1 (a value follows its flag); see p2p-tui --help",
            ),
            (
                &["--peer"],
                "--peer needs a value (--peer <ID>); see p2p-tui --help",
            ),
            (
                &["--completions", "tcsh"],
                "invalid value tcsh for --completions <SHELL> (possible values: bash, elvish, fish, powershell, zsh); see p2p-tui --help",
            ),
            (
                &["--window", "0", "--peer", "p1"],
                "invalid value 0 for --window <N>: 0 is not in 1..=4096; see p2p-tui --help",
            ),
            (
                &["--headless"],
                "--peer <ID> is missing (required by the flags given); see p2p-tui --help",
            ),
            (
                &["--check-client"],
                "--check-client needs the client's command after -- (e.g. --check-client -- python3 client.py); see p2p-tui --help",
            ),
            (
                &["--tracker", "--peer", "p1"],
                "--tracker [<ADDR>] cannot be used with --peer <ID>; see p2p-tui --help",
            ),
            (
                &["--man", "--peer", "p1"],
                "--man takes no other flag; see p2p-tui --help",
            ),
            (
                &["--peer", "p1", "--peer", "p2"],
                "--peer <ID> can be given only once; see p2p-tui --help",
            ),
            (
                &["--get", "h", "1", "f", "g"],
                "unexpected argument g (a value follows its flag); see p2p-tui --help",
            ),
        ];
        for (args, line) in cases {
            assert_eq!(usage_line(args), *line, "{args:?}");
        }
    }

    #[test]
    fn one_mode_per_command_line() {
        assert_eq!(mode_of(&["--peer", "p1"]), Ok(Mode::Peer("p1".into())));
        assert_eq!(mode_of(&["--tracker", "--web"]), Ok(Mode::Servers));
        assert_eq!(mode_of(&["--demo", "--chunk-delay", "5"]), Ok(Mode::Demo));
        assert_eq!(
            mode_of(&["--sync", "127.0.0.1:9000", "--dir", "x", "--port", "7"]),
            Ok(Mode::Sync("127.0.0.1:9000".into()))
        );
        assert_eq!(
            mode_of(&["--check-server", "h:1", "--file", "f"]),
            Ok(Mode::CheckServer("h:1".into()))
        );
        assert_eq!(mode_of(&[]), Ok(Mode::Help));
    }

    #[test]
    fn a_flag_of_another_mode_is_refused_by_name() {
        let e = mode_of(&["--tracker", "--chunk-delay", "5"]).unwrap_err();
        assert_eq!(
            e,
            "--chunk-delay does not apply to --tracker/--web (see --help: flags are grouped by mode)"
        );
        let e = mode_of(&["--peer", "p1", "--www", "x", "--peer-timeout", "3"]).unwrap_err();
        assert!(
            e.starts_with("--www, --peer-timeout do not apply to --peer"),
            "{e}"
        );
        let e = mode_of(&["--get", "h", "1", "f", "--window", "4"]).unwrap_err();
        assert!(e.starts_with("--window does not apply to --get"), "{e}");
    }
}
