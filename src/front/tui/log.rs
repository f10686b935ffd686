//! The message log's lines as the UI keeps them: per-chunk lines and the rest (commands,
//! outcomes, errors, takeovers) bounded apart, so a long download's chunk lines never push an
//! error of a concurrent command out.

use std::collections::VecDeque;

use crate::core::protocol::lines::LineKind;

/// Per-chunk lines kept.
pub const CHUNK_LINES: usize = 5_000;
/// Other lines kept (commands, outcomes, errors, notes).
pub const OTHER_LINES: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub kind: LineKind,
    pub text: String,
    /// One chunk's request or reply (what the filtered view hides).
    pub chunk: bool,
    /// Position in everything ever logged: stays with the line when older ones are dropped.
    pub seq: u64,
}

#[derive(Debug)]
pub struct Log {
    lines: VecDeque<LogLine>,
    chunks: usize,
    chunk_cap: usize,
    other_cap: usize,
    next_seq: u64,
}

impl Default for Log {
    fn default() -> Log {
        Log::new(CHUNK_LINES, OTHER_LINES)
    }
}

impl Log {
    pub fn new(chunk_cap: usize, other_cap: usize) -> Log {
        Log {
            lines: VecDeque::new(),
            chunks: 0,
            chunk_cap: chunk_cap.max(1),
            other_cap: other_cap.max(1),
            next_seq: 0,
        }
    }

    pub fn push(&mut self, kind: LineKind, text: String, chunk: bool) {
        self.lines.push_back(LogLine {
            kind,
            text,
            chunk,
            seq: self.next_seq,
        });
        self.next_seq += 1;
        if chunk {
            self.chunks += 1;
        }
        self.trim();
    }

    /// Drops the oldest lines of a kind over its bound; in bulk (a quarter of the bound at a
    /// time) so that dropping from the middle stays linear overall.
    fn trim(&mut self) {
        let others = self.lines.len() - self.chunks;
        let mut chunk_excess = self.chunks.saturating_sub(self.chunk_cap);
        let mut other_excess = others.saturating_sub(self.other_cap);
        let front_is_chunk = self.lines.front().is_some_and(|l| l.chunk);
        // The common case: the oldest line is of the kind over its bound.
        if chunk_excess > 0 && front_is_chunk {
            self.lines.pop_front();
            self.chunks -= 1;
            chunk_excess -= 1;
        } else if other_excess > 0 && !front_is_chunk {
            self.lines.pop_front();
            other_excess -= 1;
        }
        let chunk_drop = if chunk_excess > self.chunk_cap / 4 {
            chunk_excess
        } else {
            0
        };
        let other_drop = if other_excess > self.other_cap / 4 {
            other_excess
        } else {
            0
        };
        if chunk_drop == 0 && other_drop == 0 {
            return;
        }
        let (mut chunk_left, mut other_left) = (chunk_drop, other_drop);
        self.lines.retain(|l| {
            let left = if l.chunk {
                &mut chunk_left
            } else {
                &mut other_left
            };
            if *left > 0 {
                *left -= 1;
                false
            } else {
                true
            }
        });
        self.chunks -= chunk_drop;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Takes every line out (a hand-over buffer's reader).
    pub fn drain(&mut self) -> Vec<LogLine> {
        self.chunks = 0;
        self.lines.drain(..).collect()
    }

    pub fn get(&self, index: usize) -> Option<&LogLine> {
        self.lines.get(index)
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.lines.iter()
    }

    /// Indices of the lines a view shows, oldest first.
    pub fn view(&self, hide_chunks: bool) -> Vec<usize> {
        (0..self.lines.len())
            .filter(|&i| !(hide_chunks && self.lines[i].chunk))
            .collect()
    }

    /// The index of the line numbered `seq`, if still kept.
    pub fn index_of(&self, seq: u64) -> Option<usize> {
        let (a, b) = self.lines.as_slices();
        match a.binary_search_by_key(&seq, |l| l.seq) {
            Ok(i) => Some(i),
            Err(_) => b
                .binary_search_by_key(&seq, |l| l.seq)
                .ok()
                .map(|i| a.len() + i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lines_never_push_other_lines_out() {
        let mut log = Log::new(100, 10);
        log.push(LineKind::Error, "File a download failed".into(), false);
        for n in 0..10_000 {
            log.push(LineKind::Reply, format!("chunk {n}"), true);
        }
        assert!(log.iter().filter(|l| l.chunk).count() <= 100 + 100 / 4 + 1);
        assert_eq!(log.iter().next().unwrap().text, "File a download failed");
        assert_eq!(log.iter().last().unwrap().text, "chunk 9999");
        assert_eq!(log.view(true).len(), 1);
        // Other lines have their own bound, oldest dropped first.
        for n in 0..30 {
            log.push(LineKind::Note, format!("note {n}"), false);
        }
        let others: Vec<&str> = log
            .iter()
            .filter(|l| !l.chunk)
            .map(|l| l.text.as_str())
            .collect();
        assert!(others.len() <= 10 + 10 / 4 + 1, "{others:?}");
        assert_eq!(others.last(), Some(&"note 29"));
        assert!(log.iter().any(|l| l.chunk));
    }

    #[test]
    fn lines_keep_their_number_when_older_ones_go() {
        let mut log = Log::new(4, 4);
        for n in 0..20 {
            log.push(LineKind::Reply, format!("chunk {n}"), true);
        }
        let last = log.iter().last().unwrap().seq;
        assert_eq!(last, 19);
        let at = log.index_of(19).unwrap();
        assert_eq!(log.get(at).unwrap().text, "chunk 19");
        assert_eq!(log.index_of(0), None);
        assert_eq!(log.view(true), Vec::<usize>::new());
        assert_eq!(log.view(false).len(), log.len());
    }
}
