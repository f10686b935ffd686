//! The message log's storage: a bounded ring of typed lines, filled by peer tasks (through
//! `LineSink`) and read by the UI at frame rate. Never one channel message per line.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::peer::{LineBatch, LineSink};
use crate::protocol::lines::LineKind;

pub struct LineRing {
    inner: Mutex<Ring>,
}

struct Ring {
    lines: VecDeque<(LineKind, String)>,
    capacity: usize,
    /// Lines ever pushed; lets a reader fetch only what is new.
    total: u64,
}

impl LineRing {
    pub fn new(capacity: usize) -> LineRing {
        let ring = Ring {
            lines: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            total: 0,
        };
        LineRing {
            inner: Mutex::new(ring),
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, kind: LineKind, text: String) {
        let mut ring = self.ring();
        if ring.lines.len() == ring.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back((kind, text));
        ring.total += 1;
    }

    /// Lines pushed after the reader's `seen` count (at most the ring's capacity), and the new count.
    pub fn since(&self, seen: u64) -> (Vec<(LineKind, String)>, u64) {
        let ring = self.ring();
        let new = (ring.total - seen.min(ring.total)).min(ring.lines.len() as u64) as usize;
        let start = ring.lines.len() - new;
        (ring.lines.range(start..).cloned().collect(), ring.total)
    }
}

impl LineSink for LineRing {
    fn emit(&self, kind: LineKind, text: String) {
        self.push(kind, text);
    }

    fn emit_batch(&self, batch: &LineBatch) {
        let mut ring = self.ring();
        // Lines that would fall out of the ring at once are counted, not copied.
        let skip = batch.len().saturating_sub(ring.capacity);
        for (kind, text) in batch.lines().skip(skip) {
            if ring.lines.len() == ring.capacity {
                ring.lines.pop_front();
            }
            ring.lines.push_back((kind, text.to_string()));
        }
        ring.total += batch.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_and_hands_out_only_new_ones() {
        let ring = LineRing::new(3);
        for n in 0..5 {
            ring.push(LineKind::Note, format!("line {n}"));
        }
        let (lines, seen) = ring.since(0);
        assert_eq!(
            lines.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
            ["line 2", "line 3", "line 4"]
        );
        assert_eq!(seen, 5);
        ring.push(LineKind::Error, "line 5".into());
        let (lines, seen) = ring.since(seen);
        assert_eq!(lines, vec![(LineKind::Error, "line 5".to_string())]);
        assert_eq!(ring.since(seen).0, vec![]);
    }
}
