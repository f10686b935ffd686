//! The directory as p2p-tui members are brought to it (see `delta`): a snapshot of the chosen
//! copies, taken again at most every `SNAPSHOT_AGE` while the directory changes, so that 10,000
//! members joining at once share a few whole directories instead of one each.
//!
//! Taking a snapshot costs nothing under the directory's lock (the chosen copies are a shared
//! map; see `index`). What is sent is built outside the lock: the whole directory serialized
//! once per snapshot, and only if a member needs it (issue 30: it was serialized, 7 MB, under
//! the lock on every change, and each member's keep-alive waited 0.2 s behind it); a delta
//! once per snapshot and starting version, shared by the members asking from it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::delta;
use super::directory::{Directory, Holder};
use crate::core::locks::LockExt;

/// How stale the members' snapshot may get while the directory changes: a change reaches every
/// member within one keep-alive period and this.
pub const SNAPSHOT_AGE: Duration = Duration::from_millis(500);
/// Deltas kept per snapshot, and their bytes at most (deltas in a join burst can be megabytes).
const DELTAS_KEPT: usize = 64;
const DELTA_BYTES_KEPT: usize = 8 << 20;
/// A delta of more names than this, and than half the directory, is not worth building for
/// one member: the whole directory, serialized once per snapshot, is sent instead.
const DELTA_WORTH_BUILDING: usize = 64;

/// The directory at one version.
#[derive(Clone, Default)]
struct At {
    version: u64,
    map: Arc<BTreeMap<String, Holder>>,
    /// The whole directory as sent, serialized by the first member that needs it.
    whole: Arc<OnceLock<Bytes>>,
}

#[derive(Default)]
struct Snapshot {
    at: At,
    taken: Option<Instant>,
    /// Deltas to this snapshot, by the version they start from: the members that joined on
    /// one snapshot all ask from it, and get the same bytes.
    deltas: HashMap<u64, Bytes>,
    delta_bytes: usize,
}

pub struct Snapshots {
    current: Mutex<Snapshot>,
    age: Duration,
    /// Whole directories serialized so far.
    wholes_built: AtomicU64,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots::new(SNAPSHOT_AGE)
    }
}

impl Snapshots {
    pub fn new(age: Duration) -> Snapshots {
        Snapshots {
            current: Mutex::default(),
            age,
            wholes_built: AtomicU64::new(0),
        }
    }

    /// Whole directories serialized so far.
    #[cfg(test)]
    pub fn wholes_built(&self) -> u64 {
        self.wholes_built.load(Ordering::Relaxed)
    }

    /// The reply to a member holding version `since`, bringing it to the latest snapshot.
    /// `dir` is released before anything is built.
    pub fn reply(&self, dir: MutexGuard<'_, Directory>, since: u64) -> Bytes {
        let (sets, at) = {
            let mut snapshot = self.current.lock_unpoisoned();
            self.take_if_due(&mut snapshot, &dir);
            if let Some(reply) = snapshot.deltas.get(&since) {
                return reply.clone();
            }
            (
                dir.change_sets(since, snapshot.at.version),
                snapshot.at.clone(),
            )
        };
        drop(dir);
        let Some(sets) = sets else {
            return self.whole(&at);
        };
        let names: BTreeSet<&str> = sets
            .iter()
            .flat_map(|s| s.iter().map(String::as_str))
            .collect();
        if names.len() > DELTA_WORTH_BUILDING && names.len() * 2 > at.map.len() {
            // Kept too: the next member asking from `since` is not made to count the names.
            let whole = self.whole(&at);
            self.keep(at.version, since, &whole, 0);
            return whole;
        }
        let reply = Bytes::from(delta::encode_changes(&at.map, since, at.version, names));
        self.keep(at.version, since, &reply, reply.len());
        reply
    }

    /// A new snapshot if there is none, or the directory changed and this one is old enough.
    fn take_if_due(&self, snapshot: &mut Snapshot, dir: &Directory) {
        let due = snapshot.taken.is_none_or(|at| at.elapsed() >= self.age);
        if snapshot.taken.is_none() || (due && snapshot.at.version != dir.version) {
            *snapshot = Snapshot {
                at: At {
                    version: dir.version,
                    map: dir.chosen(),
                    whole: Arc::default(),
                },
                taken: Some(Instant::now()),
                ..Snapshot::default()
            };
        }
    }

    fn whole(&self, at: &At) -> Bytes {
        at.whole
            .get_or_init(|| {
                self.wholes_built.fetch_add(1, Ordering::Relaxed);
                Bytes::from(delta::encode_whole(&at.map, at.version))
            })
            .clone()
    }

    /// Keeps a reply for the members that will ask from the same version, if the snapshot is
    /// still the one it was built for and there is room (`cost`: the bytes it adds, 0 for the
    /// whole directory, held anyway).
    fn keep(&self, version: u64, since: u64, reply: &Bytes, cost: usize) {
        let mut snapshot = self.current.lock_unpoisoned();
        let room =
            snapshot.deltas.len() < DELTAS_KEPT && snapshot.delta_bytes + cost <= DELTA_BYTES_KEPT;
        if snapshot.at.version == version && room && !snapshot.deltas.contains_key(&since) {
            snapshot.delta_bytes += cost;
            snapshot.deltas.insert(since, reply.clone());
        }
    }
}
