//! The tracker's directory as pure rules: peers announce files, the newest copy of each name
//! wins (on equal mtimes the copy announced first stays), silent or departed peers drop out and
//! their names fall back to the newest live copy. Time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::index::{FileCopy, Index};

/// A connection's identity inside the tracker.
pub type PeerId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub mtime: i64,
}

/// Where the chosen copy of a name lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub ip: String,
    pub port: u16,
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
mod tests {
    use super::*;

    fn f(name: &str, mtime: i64) -> FileEntry {
        FileEntry {
            name: name.into(),
            mtime,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn view_lists_peers_and_every_copy_newest_first() {
        let t = Instant::now();
        let mut d = Directory::default();
        d.announce(1, ip(1), 8001, vec![f("a", 10), f("b", 5)], t);
        d.announce(2, ip(2), 8002, vec![f("a", 20)], t);
        let v = d.view(t + Duration::from_millis(1500));
        assert_eq!(v.peers.len(), 2);
        assert_eq!(v.peers[0].ip, "127.0.0.1");
        assert_eq!(v.peers[0].files, vec!["a", "b"]);
        assert_eq!(v.peers[1].silent_ms, 1500);
        let a: Vec<(u16, i64)> = v.files["a"].iter().map(|h| (h.port, h.mtime)).collect();
        assert_eq!(a, vec![(8002, 20), (8001, 10)]);
        assert_eq!(v.files["b"].len(), 1);
    }

    #[test]
    fn newest_copy_wins_and_ties_keep_the_first() {
        let t = Instant::now();
        let mut d = Directory::default();
        d.announce(1, ip(1), 8001, vec![f("a", 10), f("b", 5)], t);
        d.announce(2, ip(2), 8002, vec![f("a", 20), f("b", 5)], t);
        let r = d.response();
        assert_eq!(
            r["a"],
            Holder {
                ip: "127.0.0.2".into(),
                port: 8002,
                mtime: 20
            }
        );
        assert_eq!(
            r["b"],
            Holder {
                ip: "127.0.0.1".into(),
                port: 8001,
                mtime: 5
            }
        );
        // Re-announcing the same copy does not steal the tie.
        d.announce(2, ip(2), 8002, vec![f("a", 20), f("b", 5)], t);
        assert_eq!(d.response()["b"].port, 8001);
    }

    #[test]
    fn departed_and_silent_peers_fall_back_to_the_newest_live_copy() {
        let t = Instant::now();
        let mut d = Directory::default();
        d.announce(1, ip(1), 8001, vec![f("a", 10)], t);
        d.announce(2, ip(2), 8002, vec![f("a", 20), f("only2", 1)], t);
        d.announce(3, ip(3), 8003, vec![f("a", 15)], t);
        assert_eq!(d.remove(2), Some((ip(2), 8002)));
        assert_eq!(d.remove(2), None);
        let r = d.response();
        assert_eq!(r["a"].port, 8003);
        assert!(!r.contains_key("only2"));
        assert!(d.keep_alive(1, ip(1), 8001, t + Duration::from_secs(10)));
        assert_eq!(
            d.expire(t + Duration::from_secs(16), Duration::from_secs(15)),
            vec![3]
        );
        assert_eq!(d.response()["a"].port, 8001);
        assert_eq!(d.holders("a").len(), 1);
    }

    #[test]
    fn a_repeated_initial_replaces_the_file_list() {
        let t = Instant::now();
        let mut d = Directory::default();
        d.announce(1, ip(1), 8001, vec![f("a", 1)], t);
        d.announce(1, ip(1), 8001, vec![f("b", 2)], t);
        assert_eq!(d.response().keys().collect::<Vec<_>>(), vec!["b"]);
    }

    #[test]
    fn holders_lists_every_copy_newest_first() {
        let t = Instant::now();
        let mut d = Directory::default();
        d.announce(1, ip(1), 8001, vec![f("a", 10)], t);
        d.announce(2, ip(1), 8002, vec![f("a", 30)], t);
        d.announce(3, ip(1), 8003, vec![f("a", 10)], t);
        let ports: Vec<u16> = d.holders("a").iter().map(|h| h.port).collect();
        assert_eq!(ports, vec![8002, 8001, 8003]);
    }

    #[test]
    fn a_keep_alive_before_any_initial_registers_the_peer() {
        let t = Instant::now();
        let mut d = Directory::default();
        assert!(!d.keep_alive(9, ip(1), 8009, t));
        assert_eq!(d.peer_count(), 1);
        assert!(d.response().is_empty());
    }

    /// The directory response and holders as they were computed before the index (from every
    /// peer's files), to check the index against.
    fn naive_response(d: &Directory) -> BTreeMap<String, Holder> {
        let mut best: BTreeMap<String, (Holder, u64)> = BTreeMap::new();
        for p in d.peers.values() {
            for (file, order) in &p.files {
                let wins = best.get(&file.name).is_none_or(|(held, held_order)| {
                    file.mtime > held.mtime || (file.mtime == held.mtime && order < held_order)
                });
                if wins {
                    best.insert(file.name.clone(), (p.holder(file.mtime), *order));
                }
            }
        }
        best.into_iter().map(|(n, (h, _))| (n, h)).collect()
    }

    fn naive_holders(d: &Directory, name: &str) -> Vec<Holder> {
        let mut all: Vec<(Holder, u64)> = d
            .peers
            .values()
            .flat_map(|p| {
                p.files
                    .iter()
                    .filter(|(f, _)| f.name == name)
                    .map(|(f, order)| (p.holder(f.mtime), *order))
            })
            .collect();
        all.sort_by(|(a, ao), (b, bo)| b.mtime.cmp(&a.mtime).then(ao.cmp(bo)));
        all.into_iter().map(|(h, _)| h).collect()
    }

    #[derive(Debug, Clone)]
    enum Step {
        Announce(u8, Vec<(u8, i64)>),
        KeepAlive(u8, u16),
        Leave(u8),
        Silence(u64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..5, proptest::collection::vec((0u8..6, 0i64..3), 0..6))
                .prop_map(|(p, f)| Step::Announce(p, f)),
            (0u8..5, 8000u16..8002).prop_map(|(p, port)| Step::KeepAlive(p, port)),
            (0u8..5).prop_map(Step::Leave),
            (0u64..20).prop_map(Step::Silence),
        ]
    }

    proptest::proptest! {
        /// Issue 30: the chosen copies, kept as peers come and go, are always the ones the
        /// rules pick from every peer's files (newest, then first known), and so are the holders.
        #[test]
        fn the_index_always_equals_the_rules_applied_to_every_peer(
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            let mut now = Instant::now();
            let mut d = Directory::default();
            for step in steps {
                match step {
                    Step::Announce(p, files) => {
                        let files = files.into_iter().map(|(n, m)| f(&format!("f{n}"), m)).collect();
                        d.announce(u64::from(p), ip(p), 8000, files, now);
                    }
                    Step::KeepAlive(p, port) => {
                        d.keep_alive(u64::from(p), ip(p), port, now);
                    }
                    Step::Leave(p) => {
                        d.remove(u64::from(p));
                    }
                    Step::Silence(secs) => {
                        now += Duration::from_secs(secs);
                        d.expire(now, Duration::from_secs(15));
                    }
                }
                proptest::prop_assert_eq!(d.response(), naive_response(&d));
                proptest::prop_assert_eq!(d.file_count(), d.response().len());
                for n in 0..6 {
                    let name = format!("f{n}");
                    proptest::prop_assert_eq!(d.holders(&name), naive_holders(&d, &name));
                }
            }
        }
    }

    /// Issue 30: announcing is linear in the files listed (it compared each file with every
    /// other: a peer of 100,000 files took minutes, under the tracker's lock). A bound a
    /// hundred times what it takes, not a race.
    #[test]
    fn announcing_many_files_again_is_linear() {
        let t = Instant::now();
        let mut d = Directory::default();
        let files: Vec<FileEntry> = (0..100_000).map(|i| f(&format!("file{i:06}"), 1)).collect();
        let started = Instant::now();
        d.announce(1, ip(1), 8001, files.clone(), t);
        d.announce(1, ip(1), 8001, files, t);
        assert_eq!(d.file_count(), 100_000);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}
