//! User commands, parsed once for every front end: `#DOWNLOAD f p2 p3` -> `Command::Download`.
//!
//! [`COMMANDS`] is the one table of command words: the parser, `#HELP` (and the help overlay),
//! Tab completion (full-screen UI and line console), the man page and the README check read it.
//! A new command is a `Command` variant and a row here, an arm in `peer::client::Client::run`
//! that carries it out, and a row in the README's command table.

use std::sync::LazyLock;

use thiserror::Error;

use crate::core::protocol::validate_file_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `#FILELIST p1 p2 ...`; no peers means every other peer.
    FileList { peers: Vec<String> },
    /// `#UPLOAD f p1 p2 ...`
    Upload { file: String, peers: Vec<String> },
    /// `#DOWNLOAD f p1 p2 ...`
    Download { file: String, peers: Vec<String> },
    /// `#PEERS`: the settings file's peers.
    Peers,
    /// `#HELP`
    Help,
    /// `#QUIT`
    Quit,
}

/// What a command word takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// No arguments at all.
    Nothing,
    /// Peer IDs (none: every other peer).
    Peers,
    /// A served file's name, then peer IDs.
    FileThenPeers,
}

/// The arguments of a parsed line, checked against the word's [`Takes`].
struct Arguments {
    /// Empty unless the word takes a file.
    file: String,
    peers: Vec<String>,
}

/// One row of the command table.
pub struct CommandWord {
    /// The word as the help writes it (parsing ignores case).
    pub word: &'static str,
    /// What follows the word, as the help writes it.
    pub usage: &'static str,
    /// One line saying what the command does.
    pub help: &'static str,
    pub takes: Takes,
    build: fn(Arguments) -> Command,
}

/// Every user command, in the order the help lists them.
pub const COMMANDS: &[CommandWord] = &[
    CommandWord {
        word: "#FILELIST",
        usage: "[peer ...]",
        help: "list the files each peer serves",
        takes: Takes::Peers,
        build: |a| Command::FileList { peers: a.peers },
    },
    CommandWord {
        word: "#UPLOAD",
        usage: "<file> [peer ...]",
        help: "send one of your served files to the peers",
        takes: Takes::FileThenPeers,
        build: |a| Command::Upload {
            file: a.file,
            peers: a.peers,
        },
    },
    CommandWord {
        word: "#DOWNLOAD",
        usage: "<file> [peer ...]",
        help: "fetch a file, its chunks shared round-robin among the peers serving it",
        takes: Takes::FileThenPeers,
        build: |a| Command::Download {
            file: a.file,
            peers: a.peers,
        },
    },
    CommandWord {
        word: "#PEERS",
        usage: "",
        help: "the peers of the settings file",
        takes: Takes::Nothing,
        build: |_| Command::Peers,
    },
    CommandWord {
        word: "#HELP",
        usage: "",
        help: "this text",
        takes: Takes::Nothing,
        build: |_| Command::Help,
    },
    CommandWord {
        word: "#QUIT",
        usage: "",
        help: "leave (also end of input, or Ctrl-C)",
        takes: Takes::Nothing,
        build: |_| Command::Quit,
    },
];

/// The row of `word`, in any case.
pub fn lookup(word: &str) -> Option<&'static CommandWord> {
    COMMANDS.iter().find(|c| c.word.eq_ignore_ascii_case(word))
}

/// The command words joined by `separator`, the last by `last` ("#A, #B and #C").
pub fn word_list(separator: &str, last: &str) -> String {
    let mut list = String::new();
    for (i, command) in COMMANDS.iter().enumerate() {
        if i > 0 {
            list.push_str(if i + 1 == COMMANDS.len() {
                last
            } else {
                separator
            });
        }
        list.push_str(command.word);
    }
    list
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("Unknown command {0} (commands: {list})", list = word_list(", ", ", "))]
    Unknown(String),
    #[error("{0} needs a file name: {0} <file> [peer ...]")]
    MissingFile(&'static str),
    #[error("Invalid file name {name}: {why}")]
    BadName { name: String, why: String },
    #[error("{0} takes no arguments")]
    NoArguments(&'static str),
}

/// `#HELP`'s text: a line per command, from the table.
pub static HELP: LazyLock<String> = LazyLock::new(|| {
    let mut text = String::from(
        "Commands (peer lists are optional: no list means every other peer in the settings file):",
    );
    for command in COMMANDS {
        let written = format!("{} {}", command.word, command.usage);
        text.push_str(&format!("\n  {:<30}{}", written.trim_end(), command.help));
    }
    text
});

/// Parses one command line. Peer IDs are checked against the settings later, by the client.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let command = lookup(verb).ok_or_else(|| CommandError::Unknown(verb.to_string()))?;
    let arguments = arguments(command, words.map(str::to_string).collect())?;
    Ok((command.build)(arguments))
}

/// Checks the words after `command`'s word against what it takes.
fn arguments(command: &CommandWord, rest: Vec<String>) -> Result<Arguments, CommandError> {
    match command.takes {
        Takes::Nothing if !rest.is_empty() => Err(CommandError::NoArguments(command.word)),
        Takes::Nothing | Takes::Peers => Ok(Arguments {
            file: String::new(),
            peers: rest,
        }),
        Takes::FileThenPeers => {
            let mut rest = rest.into_iter();
            let file = rest.next().ok_or(CommandError::MissingFile(command.word))?;
            validate_file_name(&file).map_err(|e| CommandError::BadName {
                name: file.clone(),
                why: e.to_string(),
            })?;
            Ok(Arguments {
                file,
                peers: rest.collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn seed_commands_parse() {
        assert_eq!(
            parse("#FILELIST p2 p3 p4"),
            Ok(Command::FileList {
                peers: peers(&["p2", "p3", "p4"])
            })
        );
        assert_eq!(
            parse("#UPLOAD f2.txt p2 p3"),
            Ok(Command::Upload {
                file: "f2.txt".into(),
                peers: peers(&["p2", "p3"])
            })
        );
        assert_eq!(
            parse("  #DOWNLOAD   f1.txt p2 p3 p4 "),
            Ok(Command::Download {
                file: "f1.txt".into(),
                peers: peers(&["p2", "p3", "p4"])
            })
        );
        assert_eq!(
            parse("#download f1.txt"),
            Ok(Command::Download {
                file: "f1.txt".into(),
                peers: vec![]
            })
        );
    }

    #[test]
    fn malformed_commands_say_what_is_wrong() {
        assert_eq!(
            parse("#DOWNLOAD"),
            Err(CommandError::MissingFile("#DOWNLOAD"))
        );
        assert!(matches!(
            parse("#UPLOAD ../x p2"),
            Err(CommandError::BadName { .. })
        ));
        assert_eq!(parse("hello"), Err(CommandError::Unknown("hello".into())));
        assert_eq!(parse("#QUIT now"), Err(CommandError::NoArguments("#QUIT")));
        assert_eq!(parse("#HELP"), Ok(Command::Help));
        assert!(parse("").is_err());
    }

    /// The help lists every row, as it always read.
    #[test]
    fn the_help_is_a_line_per_command_word() {
        let expected = "\
Commands (peer lists are optional: no list means every other peer in the settings file):
  #FILELIST [peer ...]          list the files each peer serves
  #UPLOAD <file> [peer ...]     send one of your served files to the peers
  #DOWNLOAD <file> [peer ...]   fetch a file, its chunks shared round-robin among the peers serving it
  #PEERS                        the peers of the settings file
  #HELP                         this text
  #QUIT                         leave (also end of input, or Ctrl-C)";
        assert_eq!(*HELP, expected);
        assert_eq!(
            CommandError::Unknown("#X".into()).to_string(),
            "Unknown command #X (commands: #FILELIST, #UPLOAD, #DOWNLOAD, #PEERS, #HELP, #QUIT)"
        );
    }

    /// The README's command table lists the table's words, in its order.
    #[test]
    fn the_readme_lists_every_command_word() {
        let readme = include_str!("../../README.md");
        let table: Vec<&str> = readme
            .split("| command | what it does |")
            .nth(1)
            .expect("the README has a command table")
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .collect();
        let listed: Vec<&str> = table
            .iter()
            .filter_map(|row| row.split('|').nth(1))
            .flat_map(|cell| cell.split(['`', ',', ' ']))
            .filter(|word| word.starts_with('#'))
            .collect();
        let words: Vec<&str> = COMMANDS.iter().map(|c| c.word).collect();
        assert_eq!(listed, words, "the README's command table");
    }
}
