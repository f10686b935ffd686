//! Every live copy of each name, and the copy the directory names for it, kept up to date as
//! peers announce, change and leave (issue 30: the directory response was recomputed from every
//! peer's files, under the tracker's lock, for each snapshot, each summary and each holders
//! query: 0.2 s at 100,000 names, and the web view did it once per name).
//!
//! The chosen copies are one shared map: a snapshot takes it without copying it, and the next
//! change after that copies it once (`Arc::make_mut`).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A connection's identity inside the tracker.
pub type PeerId = u64;

/// Where the chosen copy of a name lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub ip: String,
    pub port: u16,
    pub mtime: i64,
}

/// One peer's copy of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCopy {
    pub peer: PeerId,
    pub mtime: i64,
    /// When the copy became known (on equal mtimes the lower wins).
    pub order: u64,
}

impl FileCopy {
    /// The copy the directory names sorts first: newest, then known first.
    fn rank(&self) -> (Reverse<i64>, u64) {
        (Reverse(self.mtime), self.order)
    }
}

#[derive(Debug, Default)]
pub struct Index {
    copies: HashMap<String, Vec<FileCopy>>,
    chosen: Arc<BTreeMap<String, Holder>>,
}

impl Index {
    pub fn add(&mut self, name: &str, copy: FileCopy) {
        match self.copies.get_mut(name) {
            Some(copies) => copies.push(copy),
            None => {
                self.copies.insert(name.to_string(), vec![copy]);
            }
        }
    }

    pub fn remove(&mut self, name: &str, peer: PeerId) {
        if let Some(copies) = self.copies.get_mut(name) {
            copies.retain(|c| c.peer != peer);
            if copies.is_empty() {
                self.copies.remove(name);
            }
        }
    }

    /// Every copy of `name`, the chosen one first.
    pub fn copies(&self, name: &str) -> Vec<FileCopy> {
        let mut copies = self.copies.get(name).cloned().unwrap_or_default();
        copies.sort_by_key(FileCopy::rank);
        copies
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.copies.keys().map(String::as_str)
    }

    /// Chooses `name`'s copy again (after its copies or a holder's address changed); `holder`
    /// gives a copy's address. The shared map is touched only if the choice changed.
    pub fn choose(&mut self, name: &str, holder: impl Fn(&FileCopy) -> Option<Holder>) {
        let best = self
            .copies
            .get(name)
            .and_then(|copies| copies.iter().min_by_key(|c| c.rank()))
            .and_then(holder);
        match best {
            Some(best) if self.chosen.get(name) != Some(&best) => {
                Arc::make_mut(&mut self.chosen).insert(name.to_string(), best);
            }
            None if self.chosen.contains_key(name) => {
                Arc::make_mut(&mut self.chosen).remove(name);
            }
            _ => {}
        }
    }

    /// Each name's chosen copy: the directory response.
    pub fn chosen(&self) -> &Arc<BTreeMap<String, Holder>> {
        &self.chosen
    }
}
