//! User commands, parsed once for every front end: `#DOWNLOAD f p2 p3` -> `Command::Download`.

use thiserror::Error;

use crate::protocol::validate_file_name;

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

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("Unknown command {0} (commands: #FILELIST, #UPLOAD, #DOWNLOAD, #PEERS, #HELP, #QUIT)")]
    Unknown(String),
    #[error("{0} needs a file name: {0} <file> [peer ...]")]
    MissingFile(&'static str),
    #[error("Invalid file name {name}: {why}")]
    BadName { name: String, why: String },
    #[error("{0} takes no arguments")]
    NoArguments(&'static str),
}

pub const HELP: &str = "\
Commands (peer lists are optional: no list means every other peer in the settings file):
  #FILELIST [peer ...]          list the files each peer serves
  #UPLOAD <file> [peer ...]     send one of your served files to the peers
  #DOWNLOAD <file> [peer ...]   fetch a file, its chunks shared round-robin among the peers serving it
  #PEERS                        the peers of the settings file
  #HELP                         this text
  #QUIT                         leave (also end of input, or Ctrl-C)";

/// Parses one command line. Peer IDs are checked against the settings later, by the client.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let rest: Vec<String> = words.map(str::to_string).collect();
    let upper = verb.to_ascii_uppercase();
    match upper.as_str() {
        "#FILELIST" => Ok(Command::FileList { peers: rest }),
        "#UPLOAD" | "#DOWNLOAD" => {
            let name: &'static str = if upper == "#UPLOAD" {
                "#UPLOAD"
            } else {
                "#DOWNLOAD"
            };
            let mut rest = rest.into_iter();
            let file = rest.next().ok_or(CommandError::MissingFile(name))?;
            validate_file_name(&file).map_err(|e| CommandError::BadName {
                name: file.clone(),
                why: e.to_string(),
            })?;
            let peers = rest.collect();
            Ok(if name == "#UPLOAD" {
                Command::Upload { file, peers }
            } else {
                Command::Download { file, peers }
            })
        }
        "#PEERS" | "#HELP" | "#QUIT" if !rest.is_empty() => {
            Err(CommandError::NoArguments(match upper.as_str() {
                "#PEERS" => "#PEERS",
                "#HELP" => "#HELP",
                _ => "#QUIT",
            }))
        }
        "#PEERS" => Ok(Command::Peers),
        "#HELP" => Ok(Command::Help),
        "#QUIT" => Ok(Command::Quit),
        _ => Err(CommandError::Unknown(verb.to_string())),
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
}
