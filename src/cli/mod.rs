//! The command line: flags of every mode, which mode they pick, usage errors, and (in docs) the
//! man page and --help text. May import core; the modes read it, nothing below them does.

pub(crate) mod docs;
pub(crate) mod flags;
mod help;

use clap::{Args, Parser};

pub use flags::*;
pub use help::EXIT_STATUSES;

/// Exit status of a run that failed at startup or later (one line on stderr says why).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of a command line that cannot run: an unknown flag, a missing or invalid value,
/// a flag of another mode, no mode at all.
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "p2p-tui",
    version,
    about = "Peer-to-peer file sharing over the seed-001 protocol",
    after_help = help::after_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub peer: PeerFlags,
    #[command(flatten)]
    pub dir: DirFlag,
    #[command(flatten)]
    pub chunk_delay: ChunkDelayFlag,
    #[command(flatten)]
    pub limits: LimitFlags,
    #[command(flatten)]
    pub servers: ServerFlags,
    #[command(flatten)]
    pub get: GetFlags,
    #[command(flatten)]
    pub sync: SyncFlags,
    #[command(flatten)]
    pub demo: DemoFlags,
    #[command(flatten)]
    pub check_server: CheckServerFlags,
    #[command(flatten)]
    pub check_client: CheckClientFlags,
    #[command(flatten)]
    pub check_tracker: CheckTrackerFlags,
    #[command(flatten)]
    pub check_sync: CheckSyncFlags,
    #[command(flatten)]
    pub check_web: CheckWebFlags,
    #[command(flatten)]
    pub check_get: CheckGetFlags,
    #[command(flatten)]
    pub command: CommandFlag,
    #[command(flatten)]
    pub check: CheckFlags,
    #[command(flatten)]
    pub docs: DocFlags,
}

/// What the process runs, decided once from the command line, with the flag groups it reads.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `--check-client -- COMMAND...`
    CheckClient {
        command: Vec<String>,
        check: CheckFlags,
    },
    /// `--check-server HOST:PORT`
    CheckServer {
        addr: String,
        file: Option<String>,
        check: CheckFlags,
    },
    /// `--check-tracker HOST:PORT`
    CheckTracker {
        addr: String,
        peer_timeout: u64,
        check: CheckFlags,
    },
    /// `--check-sync -- COMMAND...`
    CheckSync {
        command: Vec<String>,
        check: CheckFlags,
    },
    /// `--check-web HOST:PORT [--web-root DIR]`
    CheckWeb {
        addr: String,
        root: Option<std::path::PathBuf>,
        check: CheckFlags,
    },
    /// `--check-get -- COMMAND...`
    CheckGet {
        command: Vec<String>,
        check: CheckFlags,
    },
    /// `--get HOST PORT FILE` or `--get URL`
    Get { args: Vec<String>, timeout: f64 },
    /// `--tracker` and/or `--web`, in one process.
    Servers {
        servers: ServerFlags,
        limits: LimitFlags,
    },
    /// `--sync TRACKER`
    Sync {
        tracker: String,
        port: Option<u16>,
        dir: DirFlag,
    },
    /// `--demo`
    Demo {
        demo: DemoFlags,
        chunk_delay: ChunkDelayFlag,
    },
    /// `--peer ID`
    Peer(PeerMode),
    /// No mode flag: print the help.
    Help,
}

/// `--peer ID` with every group a peer reads.
#[derive(Debug, Clone)]
pub struct PeerMode {
    pub id: String,
    pub flags: PeerFlags,
    pub dir: DirFlag,
    pub chunk_delay: ChunkDelayFlag,
    pub limits: LimitFlags,
}

impl Mode {
    /// The flag that names the mode, for messages.
    fn flag(&self) -> &'static str {
        match self {
            Mode::CheckClient { .. } => "--check-client",
            Mode::CheckServer { .. } => "--check-server",
            Mode::CheckTracker { .. } => "--check-tracker",
            Mode::CheckSync { .. } => "--check-sync",
            Mode::CheckWeb { .. } => "--check-web",
            Mode::CheckGet { .. } => "--check-get",
            Mode::Get { .. } => "--get",
            Mode::Servers { .. } => "--tracker/--web",
            Mode::Sync { .. } => "--sync",
            Mode::Demo { .. } => "--demo",
            Mode::Peer(_) => "--peer",
            Mode::Help => "(no mode)",
        }
    }

    /// The flag groups this mode reads: a flag of any other group would be silently ignored.
    fn groups(&self) -> Vec<Option<clap::Id>> {
        fn id<T: Args>() -> Option<clap::Id> {
            T::group_id()
        }
        match self {
            Mode::CheckClient { .. } => vec![
                id::<CheckClientFlags>(),
                id::<CommandFlag>(),
                id::<CheckFlags>(),
            ],
            Mode::CheckServer { .. } => vec![id::<CheckServerFlags>(), id::<CheckFlags>()],
            Mode::CheckTracker { .. } => vec![id::<CheckTrackerFlags>(), id::<CheckFlags>()],
            Mode::CheckSync { .. } => vec![
                id::<CheckSyncFlags>(),
                id::<CommandFlag>(),
                id::<CheckFlags>(),
            ],
            Mode::CheckWeb { .. } => vec![id::<CheckWebFlags>(), id::<CheckFlags>()],
            Mode::CheckGet { .. } => vec![
                id::<CheckGetFlags>(),
                id::<CommandFlag>(),
                id::<CheckFlags>(),
            ],
            Mode::Get { .. } => vec![id::<GetFlags>()],
            Mode::Servers { .. } => vec![id::<ServerFlags>(), id::<LimitFlags>()],
            Mode::Sync { .. } => vec![id::<SyncFlags>(), id::<DirFlag>()],
            Mode::Demo { .. } => vec![id::<DemoFlags>(), id::<ChunkDelayFlag>()],
            Mode::Peer(_) => vec![
                id::<PeerFlags>(),
                id::<DirFlag>(),
                id::<ChunkDelayFlag>(),
                id::<LimitFlags>(),
            ],
            Mode::Help => Vec::new(),
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
    pub fn mode(self, given: &[String]) -> Result<Mode, String> {
        let mode = self.pick_mode();
        let stray = stray_flags(&mode, given);
        if stray.is_empty() || matches!(mode, Mode::Help) {
            return Ok(mode);
        }
        Err(format!(
            "{} {} not apply to {} (see --help: flags are grouped by mode)",
            stray.join(", "),
            if stray.len() == 1 { "does" } else { "do" },
            mode.flag()
        ))
    }

    fn pick_mode(self) -> Mode {
        if let Some(check) = self.checker_mode() {
            return check;
        }
        let Cli {
            peer,
            servers,
            get,
            sync,
            dir,
            chunk_delay,
            demo,
            limits,
            ..
        } = self;
        if let Some(args) = get.get {
            Mode::Get {
                args,
                timeout: get.timeout,
            }
        } else if servers.tracker.is_some() || servers.web.is_some() {
            Mode::Servers { servers, limits }
        } else if let Some(tracker) = sync.sync {
            Mode::Sync {
                tracker,
                port: sync.port,
                dir,
            }
        } else if demo.demo {
            Mode::Demo { demo, chunk_delay }
        } else if let Some(id) = peer.peer.clone() {
            Mode::Peer(PeerMode {
                id,
                flags: peer,
                dir,
                chunk_delay,
                limits,
            })
        } else {
            Mode::Help
        }
    }

    /// A `--check-*` mode, if one is asked for (they come first: each excludes the others).
    fn checker_mode(&self) -> Option<Mode> {
        let check = self.check.clone();
        let command = || self.command.command.clone();
        let mode = if self.check_client.check_client {
            Mode::CheckClient {
                command: command(),
                check,
            }
        } else if let Some(addr) = self.check_server.check_server.clone() {
            Mode::CheckServer {
                addr,
                file: self.check_server.check_file.clone(),
                check,
            }
        } else if let Some(addr) = self.check_tracker.check_tracker.clone() {
            Mode::CheckTracker {
                addr,
                peer_timeout: self.check_tracker.tracker_timeout,
                check,
            }
        } else if self.check_sync.check_sync {
            Mode::CheckSync {
                command: command(),
                check,
            }
        } else if let Some(addr) = self.check_web.check_web.clone() {
            Mode::CheckWeb {
                addr,
                root: self.check_web.web_root.clone(),
                check,
            }
        } else if self.check_get.check_get {
            Mode::CheckGet {
                command: command(),
                check,
            }
        } else {
            return None;
        };
        Some(mode)
    }
}

/// The flags given (as `--name`) that belong to none of the mode's groups.
fn stray_flags(mode: &Mode, given: &[String]) -> Vec<String> {
    let command = <Cli as clap::CommandFactory>::command();
    let taken = mode.groups();
    let group_of = |id: &str| {
        command
            .get_groups()
            .find(|g| g.get_args().any(|a| a == id))
            .map(|g| g.get_id().clone())
    };
    command
        .get_arguments()
        .filter(|a| given.iter().any(|g| g == a.get_id().as_str()))
        .filter(|a| !taken.contains(&group_of(a.get_id().as_str())))
        .map(|a| {
            let long = a
                .get_long()
                .map_or_else(|| a.get_id().as_str().replace('_', "-"), str::to_string);
            format!("--{long}")
        })
        .collect()
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
                &["--get", "h", "1", "f", "5", "g"],
                "unexpected argument g (a value follows its flag); see p2p-tui --help",
            ),
        ];
        for (args, line) in cases {
            assert_eq!(usage_line(args), *line, "{args:?}");
        }
    }

    #[test]
    fn one_mode_per_command_line() {
        let peer = mode_of(&["--peer", "p1", "--dir", "d", "--chunk-delay", "3"]);
        assert!(
            matches!(&peer, Ok(Mode::Peer(p)) if p.id == "p1"
                && p.dir.dir == Some("d".into()) && p.chunk_delay.chunk_delay == Some(3)),
            "{peer:?}"
        );
        let servers = mode_of(&["--tracker", "--web", "--max-connections", "9"]);
        assert!(
            matches!(&servers, Ok(Mode::Servers { servers, limits })
                if servers.tracker.as_deref() == Some("127.0.0.1:9000")
                && limits.max_connections == Some(9)),
            "{servers:?}"
        );
        let demo = mode_of(&["--demo", "--chunk-delay", "5"]);
        assert!(
            matches!(&demo, Ok(Mode::Demo { chunk_delay, .. }) if chunk_delay.chunk_delay == Some(5)),
            "{demo:?}"
        );
        let sync = mode_of(&["--sync", "127.0.0.1:9000", "--dir", "x", "--port", "7"]);
        assert!(
            matches!(&sync, Ok(Mode::Sync { tracker, port: Some(7), dir })
                if tracker == "127.0.0.1:9000" && dir.dir == Some("x".into())),
            "{sync:?}"
        );
        let server = mode_of(&["--check-server", "h:1", "--file", "f"]);
        assert!(
            matches!(&server, Ok(Mode::CheckServer { addr, file: Some(f), .. })
                if addr == "h:1" && f == "f"),
            "{server:?}"
        );
        assert!(matches!(mode_of(&[]), Ok(Mode::Help)));
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
