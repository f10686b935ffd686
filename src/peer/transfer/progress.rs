//! Live progress of one transfer: written by the transfer tasks with atomics, read by the UI
//! at frame rate (never one message per chunk).
//!
//! The chunk map has one cell per chunk, or per group of chunks for big files (at most
//! `MAX_CELLS` cells), and remembers which serving peer filled each cell, so the round-robin
//! stripes can be drawn.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::allocation::Stripe;

const MAX_CELLS: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Download,
    Upload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Succeeded,
    Failed,
}

/// One serving peer (download) or target (upload).
#[derive(Debug, Default)]
pub struct PeerProgress {
    /// Chunks this peer is responsible for (round-robin share, plus any taken over).
    pub assigned: AtomicU64,
    pub done: AtomicU64,
    pub in_flight: AtomicU64,
    pub bytes: AtomicU64,
    pub left: AtomicBool,
}

#[derive(Debug)]
pub struct TransferProgress {
    pub file: String,
    pub direction: Direction,
    pub size: u64,
    pub chunks: u64,
    pub peers: Vec<String>,
    pub started: Instant,
    pub per_peer: Vec<PeerProgress>,
    pub bytes: AtomicU64,
    pub done: AtomicU64,
    cells_done: Vec<AtomicU32>,
    /// 1 + position of the peer that delivered the cell's latest chunk (0: none yet).
    cells_owner: Vec<AtomicU8>,
    /// Cells whose chunks were taken over from a peer that left.
    cells_reassigned: Vec<AtomicBool>,
    per_cell: u64,
    outcome: AtomicU8,
    /// What happened, in words (takeovers, failure, partial file removed).
    notes: Mutex<Vec<String>>,
}

/// A cell of the chunk map as the UI sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Chunks of the cell received, out of `of`.
    pub done: u32,
    pub of: u32,
    /// Position of the serving peer that delivered the latest chunk.
    pub owner: Option<usize>,
    pub reassigned: bool,
}

impl TransferProgress {
    pub fn new(
        file: &str,
        direction: Direction,
        size: u64,
        peers: Vec<String>,
    ) -> TransferProgress {
        let chunks = crate::protocol::chunk_count(size);
        let per_cell = chunks.div_ceil(MAX_CELLS).max(1);
        let cells = chunks.div_ceil(per_cell) as usize;
        let n = peers.len() as u64;
        let per_peer = (0..n)
            .map(|k| {
                let share = match direction {
                    // Chunk i from peer i mod n.
                    Direction::Download => (chunks + n - 1 - k) / n,
                    Direction::Upload => chunks,
                };
                PeerProgress {
                    assigned: AtomicU64::new(share),
                    ..PeerProgress::default()
                }
            })
            .collect();
        TransferProgress {
            file: file.to_string(),
            direction,
            size,
            chunks,
            peers,
            started: Instant::now(),
            per_peer,
            bytes: AtomicU64::new(0),
            done: AtomicU64::new(0),
            cells_done: (0..cells).map(|_| AtomicU32::new(0)).collect(),
            cells_owner: (0..cells).map(|_| AtomicU8::new(0)).collect(),
            cells_reassigned: (0..cells).map(|_| AtomicBool::new(false)).collect(),
            per_cell,
            outcome: AtomicU8::new(0),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// The same transfer, started at `at` (for reproducible rates in tests).
    pub fn started_at(mut self, at: Instant) -> Self {
        self.started = at;
        self
    }

    pub fn requested(&self, peer: usize) {
        self.requested_many(peer, 1);
    }

    pub fn requested_many(&self, peer: usize, count: usize) {
        if let Some(p) = self.per_peer.get(peer) {
            p.in_flight.fetch_add(count as u64, Ordering::Relaxed);
        }
    }

    /// Chunk `index` (of `len` bytes) arrived from, or was acknowledged by, `peer`.
    pub fn chunk_done(&self, peer: usize, index: u64, len: usize) {
        if let Some(p) = self.per_peer.get(peer) {
            p.in_flight.fetch_sub(1, Ordering::Relaxed);
            p.done.fetch_add(1, Ordering::Relaxed);
            p.bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
        if self.direction == Direction::Download {
            self.done.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(len as u64, Ordering::Relaxed);
            let cell = (index / self.per_cell) as usize;
            if let (Some(d), Some(o)) = (self.cells_done.get(cell), self.cells_owner.get(cell)) {
                d.fetch_add(1, Ordering::Relaxed);
                o.store(peer.min(254) as u8 + 1, Ordering::Relaxed);
            }
        }
    }

    /// `peer` left; `orphans` are its unfinished chunks, `taken_by` who took how many.
    pub fn peer_left(
        &self,
        peer: usize,
        orphans: &[Stripe],
        taken_by: &[(usize, u64)],
        note: String,
    ) {
        if let Some(p) = self.per_peer.get(peer) {
            p.left.store(true, Ordering::Relaxed);
            p.in_flight.store(0, Ordering::Relaxed);
            p.assigned
                .store(p.done.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        for &(to, count) in taken_by {
            if let Some(p) = self.per_peer.get(to) {
                p.assigned.fetch_add(count, Ordering::Relaxed);
            }
        }
        for stripe in orphans {
            self.mark_reassigned(stripe);
        }
        self.note(note);
    }

    /// Marks the chunk-map cells holding `stripe`'s chunks as reassigned.
    fn mark_reassigned(&self, stripe: &Stripe) {
        let mark = |index: u64| {
            if let Some(c) = self.cells_reassigned.get((index / self.per_cell) as usize) {
                c.store(true, Ordering::Relaxed);
            }
        };
        if stripe.is_empty() {
            return;
        }
        if stripe.step >= self.per_cell {
            // At most one chunk per cell: visit each (bounded by the number of cells).
            let mut s = *stripe;
            while s.next < s.end {
                mark(s.next);
                s.next = s.next.saturating_add(s.step);
            }
        } else {
            // Every cell the stripe spans holds one of its chunks.
            let last = stripe.next + (stripe.len() - 1) * stripe.step;
            for cell in stripe.next / self.per_cell..=last / self.per_cell {
                mark(cell * self.per_cell);
            }
        }
    }

    pub fn note(&self, text: String) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text);
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn finish(&self, success: bool) {
        self.outcome
            .store(if success { 1 } else { 2 }, Ordering::Release);
    }

    pub fn outcome(&self) -> Outcome {
        match self.outcome.load(Ordering::Acquire) {
            0 => Outcome::Running,
            1 => Outcome::Succeeded,
            _ => Outcome::Failed,
        }
    }

    /// The chunk map, one entry per cell.
    pub fn cells(&self) -> Vec<Cell> {
        (0..self.cells_done.len())
            .map(|c| {
                let first = c as u64 * self.per_cell;
                let of = self.per_cell.min(self.chunks - first) as u32;
                let owner = self.cells_owner[c].load(Ordering::Relaxed);
                Cell {
                    done: self.cells_done[c].load(Ordering::Relaxed),
                    of,
                    owner: owner.checked_sub(1).map(usize::from),
                    reassigned: self.cells_reassigned[c].load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    pub fn chunks_per_cell(&self) -> u64 {
        self.per_cell
    }
}

/// The transfers a client has run, newest last; the UI reads it every frame.
#[derive(Debug, Default)]
pub struct TransferRegistry {
    transfers: Mutex<Vec<Arc<TransferProgress>>>,
}

/// Finished transfers kept for display.
const KEEP_FINISHED: usize = 8;

impl TransferRegistry {
    pub fn add(&self, progress: Arc<TransferProgress>) {
        let mut list = self.transfers.lock().unwrap_or_else(|e| e.into_inner());
        list.push(progress);
        while list
            .iter()
            .filter(|t| t.outcome() != Outcome::Running)
            .count()
            > KEEP_FINISHED
        {
            if let Some(oldest) = list.iter().position(|t| t.outcome() != Outcome::Running) {
                list.remove(oldest);
            }
        }
    }

    pub fn snapshot(&self) -> Vec<Arc<TransferProgress>> {
        self.transfers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_shares_and_a_takeover_add_up() {
        let p = TransferProgress::new(
            "f",
            Direction::Download,
            1000,
            vec!["p2".into(), "p3".into(), "p4".into()],
        );
        let shares: Vec<u64> = p
            .per_peer
            .iter()
            .map(|q| q.assigned.load(Ordering::Relaxed))
            .collect();
        assert_eq!(shares, vec![4, 3, 3]);
        p.requested(1);
        p.chunk_done(1, 1, 100);
        p.requested(1);
        p.peer_left(
            1,
            &[
                Stripe::single(4),
                Stripe {
                    next: 7,
                    step: 3,
                    end: 10,
                },
            ],
            &[(0, 1), (2, 1)],
            "p3 left".into(),
        );
        let shares: Vec<u64> = p
            .per_peer
            .iter()
            .map(|q| q.assigned.load(Ordering::Relaxed))
            .collect();
        assert_eq!(shares, vec![5, 1, 4]);
        assert!(p.per_peer[1].left.load(Ordering::Relaxed));
        let cells = p.cells();
        assert_eq!(cells.len(), 10);
        assert_eq!(
            cells[1],
            Cell {
                done: 1,
                of: 1,
                owner: Some(1),
                reassigned: false
            }
        );
        assert!(cells[4].reassigned && cells[7].reassigned && !cells[5].reassigned);
        assert_eq!(p.notes(), vec!["p3 left".to_string()]);
    }

    #[test]
    fn big_files_group_chunks_into_a_bounded_map() {
        let p = TransferProgress::new("f", Direction::Download, 1 << 30, vec!["p2".into()]);
        assert!(p.cells().len() <= MAX_CELLS as usize);
        assert_eq!(p.cells().iter().map(|c| c.of as u64).sum::<u64>(), p.chunks);
    }
}
