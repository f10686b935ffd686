//! peer_settings.txt: one line per peer, `peer_ID ip_addr server_port`.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    pub id: String,
    pub host: String,
    pub port: u16,
}

impl PeerAddr {
    /// Whether this peer is the one at `ip`:`port` (an address a tracker lists): the one place
    /// an address is matched to a settings peer.
    pub fn is_at(&self, ip: &str, port: u16) -> bool {
        self.port == port
            && self
                .connect_addr()
                .rsplit_once(':')
                .is_some_and(|(host, _)| host.trim_matches(['[', ']']) == ip)
    }

    /// `host:port` for connecting; `localhost` is pinned to IPv4 loopback, as the seed's peers bind.
    pub fn connect_addr(&self) -> String {
        let host = if self.host.eq_ignore_ascii_case("localhost") {
            "127.0.0.1"
        } else {
            &self.host
        };
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub path: PathBuf,
    pub peers: Vec<PeerAddr>,
}

#[derive(Debug, Error)]
pub enum SettingsError {
    /// The cause is part of the sentence (not a `source`), so a report printing the chain does not
    /// say it twice.
    #[error("{}", read_error(path, error))]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}:{line}: {why} (expected \"peer_ID ip_addr server_port\")", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("unknown peer {id} in {}; known peers: {}", path.display(), known.join(" "))]
    UnknownPeer {
        id: String,
        path: PathBuf,
        known: Vec<String>,
    },
}

/// What went wrong reading the settings file, where it was looked for, and how to name another.
fn read_error(path: &Path, error: &std::io::Error) -> String {
    let shown = if path.is_absolute() {
        path.display().to_string()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => format!("{} (in {})", path.display(), cwd.display()),
            Err(_) => path.display().to_string(),
        }
    };
    let cause = match error.kind() {
        std::io::ErrorKind::NotFound => "there is no such file".to_string(),
        _ => error.to_string(),
    };
    format!(
        "cannot read the peer settings file {shown}: {cause}. Name it with --settings FILE \
         (one \"peer_ID ip_addr server_port\" line per peer)."
    )
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|error| SettingsError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Settings::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Settings, SettingsError> {
        let mut peers: Vec<PeerAddr> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |why: String| SettingsError::Malformed {
                path: path.to_path_buf(),
                line: n + 1,
                why,
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let [id, host, port] = words[..] else {
                return Err(malformed(format!("{} fields instead of 3", words.len())));
            };
            let port: u16 = port
                .parse()
                .map_err(|_| malformed(format!("bad port {port:?}")))?;
            if peers.iter().any(|p| p.id == id) {
                return Err(malformed(format!("peer {id} listed twice")));
            }
            let addr = PeerAddr {
                id: id.into(),
                host: host.into(),
                port,
            };
            if let Some(other) = peers
                .iter()
                .find(|p| p.connect_addr() == addr.connect_addr())
            {
                return Err(malformed(format!(
                    "peer {id} has the same address as peer {} ({} {port}); two peers cannot \
                     listen on one port",
                    other.id, other.host
                )));
            }
            peers.push(addr);
        }
        Ok(Settings {
            path: path.to_path_buf(),
            peers,
        })
    }

    /// The settings peer at `ip`:`port`, if any.
    pub fn peer_at(&self, ip: &str, port: u16) -> Option<&PeerAddr> {
        self.peers.iter().find(|p| p.is_at(ip, port))
    }

    pub fn get(&self, id: &str) -> Option<&PeerAddr> {
        self.peers.iter().find(|p| p.id == id)
    }

    /// The entry of peer `id`, or an error that lists the known IDs.
    pub fn require(&self, id: &str) -> Result<&PeerAddr, SettingsError> {
        self.get(id).ok_or_else(|| SettingsError::UnknownPeer {
            id: id.into(),
            path: self.path.clone(),
            known: self.ids(),
        })
    }

    pub fn ids(&self) -> Vec<String> {
        self.peers.iter().map(|p| p.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peers_skipping_blank_and_comment_lines() {
        let s = Settings::parse(
            Path::new("ps.txt"),
            "# demo\np1 localhost 50001\n\n  p2 127.0.0.1 50002  \n",
        )
        .unwrap();
        assert_eq!(s.ids(), vec!["p1", "p2"]);
        assert_eq!(s.get("p1").unwrap().connect_addr(), "127.0.0.1:50001");
        assert_eq!(s.get("p2").unwrap().port, 50002);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let err =
            Settings::parse(Path::new("ps.txt"), "p1 localhost 1\np2 localhost\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ps.txt:2: 2 fields instead of 3 (expected \"peer_ID ip_addr server_port\")"
        );
        let err = Settings::parse(Path::new("ps.txt"), "p1 localhost 99999\n").unwrap_err();
        assert!(err.to_string().starts_with("ps.txt:1: bad port \"99999\""));
        let err = Settings::parse(Path::new("ps.txt"), "p1 a 1\np1 b 2\n").unwrap_err();
        assert!(err.to_string().contains("listed twice"));
        let err = Settings::parse(
            Path::new("ps.txt"),
            "p1 localhost 5\np2 127.0.0.1 6\np3 127.0.0.1 5\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ps.txt:3: peer p3 has the same address as peer p1 (localhost 5); two peers cannot \
             listen on one port (expected \"peer_ID ip_addr server_port\")"
        );
    }

    #[test]
    fn a_missing_file_is_said_once_with_the_way_out() {
        let err = Settings::load(Path::new("/nowhere/ps.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the peer settings file /nowhere/ps.txt: there is no such file. Name it \
             with --settings FILE (one \"peer_ID ip_addr server_port\" line per peer)."
        );
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn unknown_peer_lists_known_ids() {
        let s = Settings::parse(Path::new("ps.txt"), "p1 localhost 1\np2 localhost 2\n").unwrap();
        assert_eq!(
            s.require("p9").unwrap_err().to_string(),
            "unknown peer p9 in ps.txt; known peers: p1 p2"
        );
    }
}
