//! What a simulated member holds of the directory, and how it checks it: one bit per file the
//! benchmark's peers announce (`peer{i}_file{f}.txt`, each held by peer i: its holder is known)
//! and one for the changed file, 12.5 kB for 10,000 peers of 10 files instead of a 7 MB map.
//!
//! Checking members (a sample: see `Plan::checks`) read every reply entry by entry, checking
//! each name and holder; the others skip the entries at memory speed (10,000 members reading a
//! 7 MB directory entry by entry would take the CPU the tracker is measured on) and note only
//! whether they see the changed file. Checking members at the same version hold the same view,
//! so they share it (`ViewCache`, keyed by the tracker's epoch
//! and version): a member brought to a version another reached first compares its result with
//! the shared view; a difference is counted (and the member keeps its own), never hidden.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::reply::{Event, Handler};

/// The name peer 0 adds when it changes its files: it sorts before every `peerN_fileM.txt`.
pub const CHANGED: &str = "a_changed_file.txt";
/// Every file's mtime, and the first peer's serving port (peer i serves on 20000 + i).
pub const MTIME: i64 = 1_700_000_000;
pub const FIRST_PORT: u16 = 20000;

/// The files a view lists.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bits {
    words: Vec<u64>,
    pub changed_file: bool,
}

impl Bits {
    pub fn set(&mut self, slot: usize, on: bool) {
        let (word, bit) = (slot / 64, slot % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if on {
            self.words[word] |= 1 << bit;
        } else {
            self.words[word] &= !(1 << bit);
        }
    }

    /// Trailing zero words do not make two views differ.
    pub fn same_as(&self, other: &Bits) -> bool {
        let len = self.words.len().max(other.words.len());
        let word = |w: &[u64], i: usize| w.get(i).copied().unwrap_or(0);
        self.changed_file == other.changed_file
            && (0..len).all(|i| word(&self.words, i) == word(&other.words, i))
    }
}

/// The shared views and what checking them found.
#[derive(Default)]
pub struct ViewCache {
    views: Mutex<HashMap<(u32, u64), Arc<Bits>>>,
    /// Replies read whole: entries with an unknown name or a wrong holder.
    pub wrong_entries: AtomicUsize,
    /// Members whose view at a version differed from another member's at the same version.
    pub mismatches: AtomicUsize,
    /// Delta replies that did not follow on from the version held.
    pub gaps: AtomicUsize,
}

/// At most this many shared versions (the tracker rebuilds its snapshot at most twice a second).
const MAX_SHARED: usize = 100_000;

impl ViewCache {
    /// A view a member read: the shared one if it is the same (or the first), else its own.
    fn share(&self, epoch: u32, version: u64, bits: Bits) -> Arc<Bits> {
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = views.get(&(epoch, version)) {
            if shared.same_as(&bits) {
                return Arc::clone(shared);
            }
            self.mismatches.fetch_add(1, Ordering::Relaxed);
            return Arc::new(bits);
        }
        let bits = Arc::new(bits);
        if views.len() < MAX_SHARED {
            views.insert((epoch, version), Arc::clone(&bits));
        }
        bits
    }
}

/// One member's view: the tracker it came from (the epoch counts restarts) and the version.
#[derive(Clone, Default)]
pub struct View {
    pub epoch: u32,
    pub version: u64,
    pub bits: Arc<Bits>,
}

/// Applies one reply to a member's view, as the scanner reads it. The reply says which version
/// it brings the member from only at its end (`"changed"` comes first), so the changes are
/// applied both to the view held (a delta from that version) and to an empty one (the whole
/// directory, `"from": 0`).
pub struct Apply<'a> {
    cache: &'a ViewCache,
    view: &'a mut View,
    files: usize,
    from: Option<u64>,
    to: Option<u64>,
    onto_held: Bits,
    onto_empty: Bits,
    /// Whether this member checks every entry (see `Scanner::skip_entries`); one that does
    /// not keeps only whether its view lists the changed file.
    checks: bool,
}

impl<'a> Apply<'a> {
    pub fn new(cache: &'a ViewCache, view: &'a mut View, files: usize, checks: bool) -> Apply<'a> {
        let onto_held = (*view.bits).clone();
        Apply {
            cache,
            view,
            files,
            from: None,
            to: None,
            onto_held,
            onto_empty: Bits::default(),
            checks,
        }
    }

    /// The reply has been read whole: the member now holds version `to` (or, for a delta
    /// that does not follow on from the version held, nothing: it then asks for the whole
    /// directory, as a member does). Returns the versions it went from and to.
    pub fn finish(self) -> Option<(u64, u64)> {
        let (from, to) = (self.from?, self.to?);
        let epoch = self.view.epoch;
        let bits = if from == 0 {
            self.onto_empty
        } else if from == self.view.version {
            self.onto_held
        } else {
            self.cache.gaps.fetch_add(1, Ordering::Relaxed);
            *self.view = View {
                epoch,
                ..View::default()
            };
            return Some((from, to));
        };
        if !self.checks {
            if self.view.bits.changed_file != bits.changed_file {
                self.view.bits = Arc::new(Bits {
                    words: Vec::new(),
                    changed_file: bits.changed_file,
                });
            }
        } else if from != to || !self.view.bits.same_as(&bits) {
            self.view.bits = self.cache.share(epoch, to, bits);
        }
        self.view.version = to;
        Some((from, to))
    }

    /// The slot of `peer{i}_file{f}.txt` (`None`: the changed file) and its holder's port;
    /// `None` for any other name.
    fn slot(&self, name: &[u8]) -> Option<(Option<usize>, u16)> {
        if name == CHANGED.as_bytes() {
            return Some((None, FIRST_PORT));
        }
        let rest = name.strip_prefix(b"peer")?;
        let (peer, rest) = leading_number(rest)?;
        let (file, rest) = leading_number(rest.strip_prefix(b"_file")?)?;
        let port = FIRST_PORT.checked_add(u16::try_from(peer).ok()?)?;
        let known = rest == b".txt" && file < self.files as u64;
        known.then_some((Some(peer as usize * self.files + file as usize), port))
    }

    fn entry(&mut self, name: &[u8], holder: Option<&[u8]>) {
        let Some((slot, port)) = self.slot(name) else {
            self.cache.wrong_entries.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if holder.is_some_and(|holder| !holder_is(holder, port)) {
            self.cache.wrong_entries.fetch_add(1, Ordering::Relaxed);
        }
        for bits in [&mut self.onto_held, &mut self.onto_empty] {
            match slot {
                Some(slot) => bits.set(slot, holder.is_some()),
                None => bits.changed_file = holder.is_some(),
            }
        }
    }
}

/// A number's digits at the start of `bytes`, and what follows.
fn leading_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let value = bytes[..digits]
        .iter()
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    Some((value, &bytes[digits..]))
}

/// Whether `holder` is the one every file of the peer serving on `port` has, as serde_json
/// writes it (keys in order, no spaces).
fn holder_is(holder: &[u8], port: u16) -> bool {
    let Some(rest) = holder.strip_prefix(HOLDER_PREFIX.as_bytes()) else {
        return false;
    };
    leading_number(rest).is_some_and(|(value, end)| value == u64::from(port) && end == b"}")
}

const HOLDER_PREFIX: &str = "{\"ip\":\"127.0.0.1\",\"mtime\":1700000000,\"port\":";

impl Handler for Apply<'_> {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Version {
                key: b"from",
                value,
            } => self.from = Some(value),
            Event::Version { key: b"to", value } => self.to = Some(value),
            Event::Version { .. } => {}
            Event::Entry { name, holder } => self.entry(name, Some(holder)),
            Event::Removed(name) => self.entry(name, None),
        }
    }
}
