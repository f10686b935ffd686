//! Lines on their way from peer tasks (through `LineSink`) to the UI, which takes them once per
//! frame. Never one channel message per line. Lines of a transfer's batch are its per-chunk
//! lines, and are bounded apart from the rest: a burst of chunk lines between two frames can
//! drop older chunk lines, never an outcome or an error.

use std::sync::{Mutex, MutexGuard};

use super::log::{Log, LogLine};
use crate::core::locks::LockExt;
use crate::core::protocol::lines::LineKind;
use crate::peer::{LineBatch, LineSink};

pub struct LineRing {
    inner: Mutex<Log>,
    chunk_capacity: usize,
}

impl LineRing {
    pub fn new(chunk_capacity: usize, other_capacity: usize) -> LineRing {
        LineRing {
            inner: Mutex::new(Log::new(chunk_capacity, other_capacity)),
            chunk_capacity,
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.inner.lock_unpoisoned()
    }

    pub fn push(&self, kind: LineKind, text: String) {
        self.log().push(kind, text, false);
    }

    /// Every line pushed since the last call, oldest first.
    pub fn take(&self) -> Vec<LogLine> {
        self.log().drain()
    }
}

impl LineSink for LineRing {
    fn emit(&self, kind: LineKind, text: String) {
        self.push(kind, text);
    }

    fn emit_batch(&self, batch: &LineBatch) {
        let mut log = self.log();
        // Chunk lines that would fall out at once are not copied.
        let skip = batch.len().saturating_sub(self.chunk_capacity);
        for (kind, text) in batch.lines().skip(skip) {
            log.push(kind, text.to_string(), true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_new_lines_once_and_keeps_outcomes_through_a_chunk_burst() {
        let ring = LineRing::new(10, 10);
        ring.push(LineKind::Error, "File a download failed".into());
        let mut batch = LineBatch::default();
        for n in 0..1000 {
            batch.replied("p2", format!("200 File b chunk {n}"));
        }
        ring.emit_batch(&batch);
        ring.push(LineKind::Outcome, "File b download success".into());
        let lines = ring.take();
        assert_eq!(lines[0].text, "File a download failed");
        assert!(!lines[0].chunk);
        assert_eq!(lines.last().unwrap().text, "File b download success");
        assert!(lines.iter().filter(|l| l.chunk).count() <= 13);
        assert!(lines[1].chunk);
        assert_eq!(ring.take(), vec![]);
    }
}
