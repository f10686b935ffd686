//! The tracker's directory as pure rules: peers announce files, the newest copy of each name
//! wins (on equal mtimes the copy announced first stays), silent or departed peers drop out and
//! their names fall back to the newest live copy. Time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::index::{FileCopy, Index};
pub use super::index::{Holder, PeerId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub mtime: i64,
}

/// A snapshot of the directory for people (the web server's `/tracker` pages).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirectoryView {
    pub peers: Vec<PeerView>,
    /// Each name with every live copy, newest first.
    pub files: BTreeMap<String, Vec<Holder>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerView {
    pub ip: String,
    pub port: u16,
    pub files: Vec<String>,
    /// Time since the peer's last message.
    pub silent_ms: u64,
}

#[derive(Debug, Clone)]
struct Peer {
    ip: IpAddr,
    port: u16,
    /// Files with the order in which each copy became known (ties go to the lower).
    files: Vec<(FileEntry, u64)>,
    last_seen: Instant,
}

impl Peer {
    fn names(&self) -> Vec<String> {
        self.files.iter().map(|(f, _)| f.name.clone()).collect()
    }

    fn holder(&self, mtime: i64) -> Holder {
        Holder {
            ip: self.ip.to_string(),
            port: self.port,
            mtime,
        }
    }
}

#[derive(Debug, Default)]
pub struct Directory {
    peers: HashMap<PeerId, Peer>,
    /// Every live copy of each name and the chosen one, kept as peers come and go.
    index: Index,
    sequence: u64,
    /// Bumped whenever the directory response may have changed.
    pub version: u64,
    /// The names each recent version may have changed, oldest first (at most `CHANGE_LOG`
    /// versions): what a member holding an older version is sent (see `change_sets`). Shared:
    /// a member's delta takes them out of the lock without copying a name.
    changes: VecDeque<(u64, Arc<[String]>)>,
    /// Versions kept in `changes` (0: `CHANGE_LOG`).
    log_limit: usize,
}

/// Versions whose changed names are kept; a member further behind gets the whole directory.
const CHANGE_LOG: usize = 4096;

/// What a member holding one version of the directory needs to hold the current one.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// Too far behind (or version 0: nothing held): the whole directory.
    Full,
    /// The names that may have changed: each is now the directory's entry, or gone.
    Names(BTreeSet<String>),
}

impl Directory {
    /// A directory that keeps the changed names of only `versions` versions (tests: members
    /// falling behind the log).
    #[cfg(test)]
    pub fn with_change_log(versions: usize) -> Directory {
        Directory {
            log_limit: versions.max(1),
            ..Directory::default()
        }
    }

    /// An initial message: `peer` (at `ip`, serving on `port`) has exactly `files` (a name
    /// listed twice: its first entry).
    pub fn announce(
        &mut self,
        peer: PeerId,
        ip: IpAddr,
        port: u16,
        files: Vec<FileEntry>,
        now: Instant,
    ) {
        let mut touched = Vec::with_capacity(files.len());
        // A copy it already had (same name and mtime) keeps its place in the tie order.
        let mut known = HashMap::new();
        for (file, order) in self
            .peers
            .remove(&peer)
            .map(|p| p.files)
            .unwrap_or_default()
        {
            self.index.remove(&file.name, peer);
            known.insert(file.name.clone(), (file.mtime, order));
            touched.push(file.name);
        }
        let entries = self.ordered(files, &known);
        for (file, order) in &entries {
            let (mtime, order) = (file.mtime, *order);
            self.index.add(&file.name, FileCopy { peer, mtime, order });
            touched.push(file.name.clone());
        }
        let files = entries;
        let last_seen = now;
        self.peers.insert(
            peer,
            Peer {
                ip,
                port,
                files,
                last_seen,
            },
        );
        touched.sort_unstable();
        touched.dedup();
        self.choose(&touched);
        self.changed(touched);
    }

    /// `files` without repeated names (linear: a peer may list 100,000), each with its place in
    /// the tie order: the one in `known` if the copy is the same, else a new one.
    fn ordered(
        &mut self,
        files: Vec<FileEntry>,
        known: &HashMap<String, (i64, u64)>,
    ) -> Vec<(FileEntry, u64)> {
        let mut seen = HashSet::with_capacity(files.len());
        let mut entries = Vec::with_capacity(files.len());
        for file in files {
            if !seen.insert(file.name.clone()) {
                continue;
            }
            let order = match known.get(&file.name) {
                Some(&(mtime, order)) if mtime == file.mtime => order,
                _ => {
                    self.sequence += 1;
                    self.sequence
                }
            };
            entries.push((file, order));
        }
        entries
    }

    /// Chooses the copy of each of `names` again.
    fn choose(&mut self, names: &[String]) {
        let peers = &self.peers;
        for name in names {
            self.index.choose(name, |copy| {
                peers.get(&copy.peer).map(|p| p.holder(copy.mtime))
            });
        }
    }

    /// A new version, in which `names` may have changed.
    fn changed(&mut self, mut names: Vec<String>) {
        self.version += 1;
        names.sort_unstable();
        names.dedup();
        self.changes.push_back((self.version, names.into()));
        let limit = if self.log_limit == 0 {
            CHANGE_LOG
        } else {
            self.log_limit
        };
        while self.changes.len() > limit {
            self.changes.pop_front();
        }
    }

    /// What changed since `version`: the names to look up again, or the whole directory if
    /// `version` is 0, newer than this directory's, or older than the change log reaches.
    #[cfg(test)]
    pub fn changed_since(&self, version: u64) -> Delta {
        match self.change_sets(version, self.version) {
            None => Delta::Full,
            Some(sets) => Delta::Names(sets.iter().flat_map(|s| s.iter().cloned()).collect()),
        }
    }

    /// The names that may have changed after `version` up to and including `upto` (a
    /// snapshot's version, at most the current one), as the sets each version logged (shared,
    /// cheap to take under the lock; they may repeat a name). `None`: the whole directory is
    /// needed (`version` 0, newer than `upto`, or older than the change log reaches).
    pub fn change_sets(&self, version: u64, upto: u64) -> Option<Vec<Arc<[String]>>> {
        let upto = upto.min(self.version);
        let oldest_known = self.changes.front().map_or(self.version, |(v, _)| v - 1);
        if version == 0 || version > upto || version < oldest_known {
            return None;
        }
        // Versions in the log are consecutive: skip straight to the first one after `version`.
        let skip = usize::try_from(version - oldest_known).unwrap_or(usize::MAX);
        let sets = self
            .changes
            .range(skip.min(self.changes.len())..)
            .take_while(|(v, _)| *v <= upto)
            .map(|(_, names)| Arc::clone(names))
            .collect();
        Some(sets)
    }

    /// The tracker is still sending `peer` a reply: it cannot speak meanwhile, so it counts as
    /// heard from (a member reading the whole directory during a join burst of 10,000 took
    /// longer than `--peer-timeout` and was dropped as silent).
    pub fn replying(&mut self, peer: PeerId, now: Instant) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.last_seen = p.last_seen.max(now);
        }
    }

    pub fn knows(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    /// A keep-alive; an unknown peer is registered with no files. Returns whether it was known.
    pub fn keep_alive(&mut self, peer: PeerId, ip: IpAddr, port: u16, now: Instant) -> bool {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.last_seen = now;
            if p.port != port {
                p.port = port;
                let names = p.names();
                self.choose(&names);
                self.changed(names);
            }
            return true;
        }
        self.announce(peer, ip, port, Vec::new(), now);
        false
    }

    /// Drops `peer`; its address as the directory showed it (ip, serving port), if it was known.
    pub fn remove(&mut self, peer: PeerId) -> Option<(IpAddr, u16)> {
        let removed = self.peers.remove(&peer)?;
        let names = removed.names();
        for name in &names {
            self.index.remove(name, peer);
        }
        self.choose(&names);
        self.changed(names);
        Some((removed.ip, removed.port))
    }

    /// Drops peers silent for longer than `timeout`; returns them.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<PeerId> {
        let silent: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_seen) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in &silent {
            self.remove(*id);
        }
        silent
    }

    /// The directory response: each name's newest live copy.
    #[cfg(test)]
    pub fn response(&self) -> BTreeMap<String, Holder> {
        (**self.index.chosen()).clone()
    }

    /// The directory response, shared (not copied: see `index`).
    pub fn chosen(&self) -> Arc<BTreeMap<String, Holder>> {
        Arc::clone(self.index.chosen())
    }

    /// Every live copy of `name`, newest first (for multi-source download).
    pub fn holders(&self, name: &str) -> Vec<Holder> {
        self.index
            .copies(name)
            .iter()
            .filter_map(|c| self.peers.get(&c.peer).map(|p| p.holder(c.mtime)))
            .collect()
    }

    /// What the web view shows: every peer with its files and silence so far, and every name
    /// with all its live copies, newest (the one the directory response names) first.
    pub fn view(&self, now: Instant) -> DirectoryView {
        let mut peers: Vec<PeerView> = self
            .peers
            .values()
            .map(|p| PeerView {
                ip: p.ip.to_string(),
                port: p.port,
                files: p.files.iter().map(|(f, _)| f.name.clone()).collect(),
                silent_ms: u64::try_from(now.saturating_duration_since(p.last_seen).as_millis())
                    .unwrap_or(u64::MAX),
            })
            .collect();
        peers.sort_by(|a, b| (&a.ip, a.port).cmp(&(&b.ip, b.port)));
        let names: BTreeSet<&str> = self.index.names().collect();
        let files = names
            .into_iter()
            .map(|name| (name.to_string(), self.holders(name)))
            .collect();
        DirectoryView { peers, files }
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn file_count(&self) -> usize {
        self.index.chosen().len()
    }
}

#[cfg(test)]
pub(crate) mod steps;
#[cfg(test)]
mod tests;
