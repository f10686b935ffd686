//! Live progress of one transfer: written by the transfer tasks with atomics, read by the UI
//! at frame rate as one `TransferSnapshot` (never one message per chunk). The snapshot derives
//! what the user reads: rates over a moving window of a few seconds, peers that are stalled,
//! and for a finished transfer its elapsed time and average rate, frozen.
//!
//! The chunk map has one cell per chunk, or per group of chunks for big files (at most
//! `MAX_CELLS` cells), and remembers which serving peer filled each cell, so the round-robin
//! stripes can be drawn. Which chunks are in flight (requested, not yet arrived) is not written
//! here per chunk: the snapshot asks the download's scheduler, which knows, once per frame
//! (`read_awaited_from`).

mod rates;

use rates::{Rates, Samples};

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::allocation::Stripe;
use crate::core::locks::LockExt;

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
struct PeerProgress {
    /// Chunks this peer is responsible for (round-robin share, plus any taken over).
    assigned: AtomicU64,
    done: AtomicU64,
    in_flight: AtomicU64,
    /// Requests the peer may have in flight now (its adaptive window).
    window: AtomicU64,
    bytes: AtomicU64,
    left: AtomicBool,
}

#[derive(Debug)]
pub struct TransferProgress {
    pub file: String,
    pub direction: Direction,
    pub size: u64,
    pub chunks: u64,
    pub peers: Vec<String>,
    pub started: Instant,
    per_peer: Vec<PeerProgress>,
    bytes: AtomicU64,
    done: AtomicU64,
    cells_done: Vec<AtomicU32>,
    /// 1 + position of the peer that delivered the cell's latest chunk (0: none yet).
    cells_owner: Vec<AtomicU8>,
    /// Cells whose chunks were taken over from a peer that left.
    cells_reassigned: Vec<AtomicBool>,
    per_cell: u64,
    outcome: AtomicU8,
    /// What happened, in words (takeovers, failure, partial file removed).
    notes: Mutex<Vec<String>>,
    /// When the transfer ended (elapsed time and average rate freeze there).
    finished_at: Mutex<Option<Instant>>,
    /// Byte counts seen by recent snapshots, for moving-window rates.
    samples: Mutex<Samples>,
    /// Where the chunks in flight are read from (a download's scheduler), if anywhere.
    awaited: OnceLock<AwaitedSource>,
    /// What stops the transfer (its command's cancel), so a front end can stop this one.
    cancel: Option<CancellationToken>,
}

/// Reads the chunks requested and not yet received, as (serving peer, chunk index); `None` once
/// the download that knew them is gone.
type ReadAwaited = dyn Fn() -> Option<Vec<(usize, u64)>> + Send + Sync;

struct AwaitedSource(Box<ReadAwaited>);

impl std::fmt::Debug for AwaitedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwaitedSource")
    }
}

/// A peer with work that delivered nothing for this long is shown as stalled.
const STALLED_AFTER: Duration = Duration::from_secs(2);

/// One serving peer (download) or target (upload), as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSnapshot {
    pub id: String,
    /// Chunks this peer is responsible for (round-robin share, plus any taken over).
    pub assigned: u64,
    pub done: u64,
    pub in_flight: u64,
    /// Requests it may have in flight now (its adaptive window).
    pub window: u64,
    pub bytes: u64,
    pub left: bool,
    /// Bytes per second over the last few seconds.
    pub rate: f64,
    /// Has work but delivered nothing for a while.
    pub stalled: bool,
}

/// A transfer at one moment: everything the UI reads.
#[derive(Debug, Clone)]
pub struct TransferSnapshot {
    pub file: String,
    pub direction: Direction,
    pub size: u64,
    pub chunks: u64,
    pub outcome: Outcome,
    pub peers: Vec<PeerSnapshot>,
    /// Bytes done: received (download), or by the furthest target (upload).
    pub bytes: u64,
    /// Running: bytes per second over the last few seconds; finished: the average.
    pub rate: f64,
    /// Since the start; frozen when the transfer ended.
    pub elapsed: Duration,
    pub cells: Vec<Cell>,
    pub notes: Vec<String>,
}

impl TransferSnapshot {
    /// Time left at the current rate (`None`: not running, or no rate yet).
    pub fn eta(&self) -> Option<Duration> {
        if self.outcome != Outcome::Running || self.rate <= 0.0 {
            return None;
        }
        let left = self.size.saturating_sub(self.bytes) as f64;
        Some(Duration::from_secs_f64(left / self.rate))
    }
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
    /// Chunks of the cell requested and not yet received...
    pub in_flight: u32,
    /// ...the latest of them from this serving peer.
    pub asked: Option<usize>,
}

impl TransferProgress {
    pub fn new(
        file: &str,
        direction: Direction,
        size: u64,
        peers: Vec<String>,
    ) -> TransferProgress {
        let chunks = crate::core::protocol::chunk_count(size);
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
            finished_at: Mutex::new(None),
            samples: Mutex::new(Samples::default()),
            awaited: OnceLock::new(),
            cancel: None,
        }
    }

    /// The same transfer, stopped by cancelling `cancel`.
    pub fn cancelled_by(mut self, cancel: &CancellationToken) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    /// Stops the transfer (its partial file is removed); false if nothing can stop it.
    pub fn cancel(&self) -> bool {
        self.cancel.as_ref().inspect(|c| c.cancel()).is_some()
    }

    /// The chunk map's "in flight" comes from `source` (a download's shared state), through
    /// `read`, when a snapshot is taken: the transfer path does nothing per chunk for it. Only
    /// a weak reference is kept: the download's state goes when the download ends.
    pub fn read_awaited_from<S: Send + Sync + 'static>(
        &self,
        source: &Arc<S>,
        read: fn(&S) -> Vec<(usize, u64)>,
    ) {
        let source: Weak<S> = Arc::downgrade(source);
        let read = move || source.upgrade().map(|s| read(&s));
        // Set once, by the download that created this progress; a second call changes nothing.
        let _ = self.awaited.set(AwaitedSource(Box::new(read)));
    }

    #[cfg(test)]
    /// The same transfer, started at `at` (for reproducible rates in tests).
    pub fn started_at(mut self, at: Instant) -> Self {
        self.started = at;
        self
    }

    #[cfg(test)]
    /// Chunks shown in flight, as (peer, chunk), for every snapshot from now on.
    pub fn awaiting(&self, chunks: Vec<(usize, u64)>) {
        let _ = (self.awaited).set(AwaitedSource(Box::new(move || Some(chunks.clone()))));
    }

    #[cfg(test)]
    pub fn requested(&self, peer: usize) {
        self.requested_many(peer, 1);
    }

    pub fn requested_many(&self, peer: usize, count: usize) {
        if let Some(p) = self.per_peer.get(peer) {
            p.in_flight.fetch_add(count as u64, Ordering::Relaxed);
        }
    }

    /// The requests `peer` may have in flight now.
    pub fn set_window(&self, peer: usize, window: usize) {
        if let Some(p) = self.per_peer.get(peer) {
            p.window.store(window as u64, Ordering::Relaxed);
        }
    }

    /// Chunk `index` (of `len` bytes) arrived from, or was acknowledged by, `peer` (the
    /// transfers count per batch; tests feed progress chunk by chunk).
    #[cfg(test)]
    pub fn chunk_done(&self, peer: usize, index: u64, len: usize) {
        self.chunks_done(peer, std::iter::once((index, len)));
    }

    /// Chunks (index, length) arrived from, or acknowledged by, `peer`: one update of each
    /// count per batch, and one per map cell, rather than several per chunk.
    pub fn chunks_done(&self, peer: usize, chunks: impl IntoIterator<Item = (u64, usize)>) {
        let download = self.direction == Direction::Download;
        let (mut count, mut bytes) = (0u64, 0u64);
        // The cell being counted and how many of the batch's chunks fell in it so far.
        let mut cell: Option<(usize, u32)> = None;
        for (index, len) in chunks {
            count += 1;
            bytes += len as u64;
            if !download {
                continue;
            }
            let c = (index / self.per_cell) as usize;
            match &mut cell {
                Some((current, n)) if *current == c => *n += 1,
                _ => {
                    if let Some((current, n)) = cell.replace((c, 1)) {
                        self.cell_done(current, n, peer);
                    }
                }
            }
        }
        if let Some((current, n)) = cell {
            self.cell_done(current, n, peer);
        }
        if let Some(p) = self.per_peer.get(peer) {
            p.in_flight.fetch_sub(count, Ordering::Relaxed);
            p.done.fetch_add(count, Ordering::Relaxed);
            p.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        if download {
            self.done.fetch_add(count, Ordering::Relaxed);
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn cell_done(&self, cell: usize, chunks: u32, peer: usize) {
        if let (Some(d), Some(o)) = (self.cells_done.get(cell), self.cells_owner.get(cell)) {
            d.fetch_add(chunks, Ordering::Relaxed);
            o.store(peer.min(254) as u8 + 1, Ordering::Relaxed);
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

    /// `count` chunks moved from serving peer `from` to `to` (a peer far behind, the endgame),
    /// said in `note` if given.
    pub fn moved(&self, from: usize, to: usize, count: u64, note: Option<String>) {
        if let Some(p) = self.per_peer.get(from) {
            let _ = (p.assigned).fetch_update(Ordering::Relaxed, Ordering::Relaxed, |a| {
                Some(a.saturating_sub(count))
            });
        }
        if let Some(p) = self.per_peer.get(to) {
            p.assigned.fetch_add(count, Ordering::Relaxed);
        }
        if let Some(note) = note {
            self.note(note);
        }
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
        self.notes.lock_unpoisoned().push(text);
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock_unpoisoned().clone()
    }

    pub fn finish(&self, success: bool) {
        self.finish_at(success, Instant::now());
    }

    /// Ends the transfer as of `at` (tests give the moment).
    pub fn finish_at(&self, success: bool, at: Instant) {
        lock(&self.finished_at).get_or_insert(at);
        self.outcome
            .store(if success { 1 } else { 2 }, Ordering::Release);
    }

    /// Upload target `position` stopped (refused, unreachable, or failed mid-transfer).
    pub fn target_stopped(&self, position: usize, note: String) {
        if let Some(p) = self.per_peer.get(position) {
            p.left.store(true, Ordering::Relaxed);
            p.in_flight.store(0, Ordering::Relaxed);
        }
        self.note(note);
    }

    #[cfg(test)]
    /// Whether peer `id` left this transfer.
    pub fn has_left(&self, id: &str) -> bool {
        self.peers
            .iter()
            .zip(&self.per_peer)
            .any(|(peer, p)| peer == id && p.left.load(Ordering::Relaxed))
    }

    /// The transfer as of `now`.
    pub fn snapshot(&self, now: Instant) -> TransferSnapshot {
        let outcome = self.outcome();
        let finished = *lock(&self.finished_at);
        let elapsed = finished
            .unwrap_or(now)
            .saturating_duration_since(self.started);
        let per_peer_bytes: Vec<u64> = self
            .per_peer
            .iter()
            .map(|p| p.bytes.load(Ordering::Relaxed))
            .collect();
        let bytes = match self.direction {
            Direction::Download => self.bytes.load(Ordering::Relaxed),
            // An upload is as far as its furthest target.
            Direction::Upload => per_peer_bytes.iter().copied().max().unwrap_or(0),
        };
        let rates = self.rates(now, outcome, elapsed, bytes, &per_peer_bytes);
        let peers = self
            .peers
            .iter()
            .zip(&self.per_peer)
            .zip(rates.per_peer)
            .zip(rates.last_change)
            .map(|(((id, p), rate), changed)| {
                self.peer_snapshot(id, p, rate, changed, outcome, now)
            })
            .collect();
        TransferSnapshot {
            file: self.file.clone(),
            direction: self.direction,
            size: self.size,
            chunks: self.chunks,
            outcome,
            peers,
            bytes,
            rate: rates.total,
            elapsed,
            cells: self.cells_with_in_flight(outcome),
            notes: self.notes(),
        }
    }

    /// Rates over the recent window while running (the average since the start until the
    /// window has a base, and once the transfer has ended).
    fn rates(
        &self,
        now: Instant,
        outcome: Outcome,
        elapsed: Duration,
        bytes: u64,
        per_peer_bytes: &[u64],
    ) -> Rates {
        let average = |b: u64| b as f64 / elapsed.as_secs_f64().max(0.001);
        let averages = || Rates {
            per_peer: per_peer_bytes.iter().map(|&b| average(b)).collect(),
            total: average(bytes),
            last_change: vec![None; self.per_peer.len()],
        };
        if outcome != Outcome::Running {
            return averages();
        }
        let mut samples = lock(&self.samples);
        let (base, last_change) = samples.record(now, self.started, bytes, per_peer_bytes);
        let Some((at, total, peers)) = base else {
            return Rates {
                last_change,
                ..averages()
            };
        };
        let span = now.saturating_duration_since(at).as_secs_f64();
        Rates {
            per_peer: per_peer_bytes
                .iter()
                .zip(&peers)
                .map(|(now_b, then_b)| now_b.saturating_sub(*then_b) as f64 / span)
                .collect(),
            total: bytes.saturating_sub(total) as f64 / span,
            last_change,
        }
    }

    /// One peer's row: its counts, its rate, and whether it has gone quiet with work to do.
    fn peer_snapshot(
        &self,
        id: &str,
        p: &PeerProgress,
        rate: f64,
        changed: Option<Instant>,
        outcome: Outcome,
        now: Instant,
    ) -> PeerSnapshot {
        let done = p.done.load(Ordering::Relaxed);
        let assigned = p.assigned.load(Ordering::Relaxed);
        let in_flight = p.in_flight.load(Ordering::Relaxed);
        let left = p.left.load(Ordering::Relaxed);
        let has_work = in_flight > 0 || done < assigned;
        let quiet = changed.unwrap_or(self.started);
        PeerSnapshot {
            id: id.to_string(),
            assigned,
            done,
            in_flight,
            window: p.window.load(Ordering::Relaxed),
            bytes: p.bytes.load(Ordering::Relaxed),
            left,
            rate,
            stalled: outcome == Outcome::Running
                && !left
                && has_work
                && now.saturating_duration_since(quiet) >= STALLED_AFTER,
        }
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
                    in_flight: 0,
                    asked: None,
                }
            })
            .collect()
    }

    /// The chunk map with the chunks in flight marked (a running download's, read from its
    /// scheduler now; no progress lock is held meanwhile).
    fn cells_with_in_flight(&self, outcome: Outcome) -> Vec<Cell> {
        let mut cells = self.cells();
        if outcome != Outcome::Running {
            return cells;
        }
        let awaited = self.awaited.get().and_then(|read| (read.0)());
        for (peer, index) in awaited.unwrap_or_default() {
            if let Some(cell) = cells.get_mut((index / self.per_cell) as usize) {
                cell.in_flight = cell.in_flight.saturating_add(1);
                cell.asked = Some(peer);
            }
        }
        cells
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock_unpoisoned()
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
        let mut list = self.transfers.lock_unpoisoned();
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
        self.transfers.lock_unpoisoned().clone()
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
        let shares = |p: &TransferProgress| -> Vec<u64> {
            p.snapshot(Instant::now())
                .peers
                .iter()
                .map(|q| q.assigned)
                .collect()
        };
        assert_eq!(shares(&p), vec![4, 3, 3]);
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
        assert_eq!(shares(&p), vec![5, 1, 4]);
        assert!(p.has_left("p3") && !p.has_left("p2"));
        let cells = p.cells();
        assert_eq!(cells.len(), 10);
        assert_eq!(
            cells[1],
            Cell {
                done: 1,
                of: 1,
                owner: Some(1),
                reassigned: false,
                in_flight: 0,
                asked: None,
            }
        );
        assert!(cells[4].reassigned && cells[7].reassigned && !cells[5].reassigned);
        assert_eq!(p.notes(), vec!["p3 left".to_string()]);
    }

    #[test]
    fn chunks_in_flight_are_read_from_the_scheduler_at_snapshot_time() {
        use crate::peer::transfer::scheduler::Scheduler;
        // 20 chunks from 2 peers, one chunk per cell.
        let p = TransferProgress::new(
            "f",
            Direction::Download,
            2_000,
            vec!["p2".into(), "p3".into()],
        );
        let scheduler = Arc::new(Mutex::new(Scheduler::new(2_000, 2, 64)));
        p.read_awaited_from(&scheduler, |s| {
            s.lock_unpoisoned().awaited_chunks().collect()
        });
        let in_flight = |p: &TransferProgress| -> Vec<(usize, u32, Option<usize>)> {
            let cells = p.snapshot(Instant::now()).cells;
            (cells.iter().enumerate())
                .filter(|(_, c)| c.in_flight > 0)
                .map(|(i, c)| (i, c.in_flight, c.asked))
                .collect()
        };
        assert!(in_flight(&p).is_empty());
        // p2 asks for 0, 2, 4; p3 for 1, 3.
        assert_eq!(scheduler.lock_unpoisoned().request(0, 3), [0, 2, 4]);
        assert_eq!(scheduler.lock_unpoisoned().request(1, 2), [1, 3]);
        assert_eq!(
            in_flight(&p),
            [
                (0, 1, Some(0)),
                (1, 1, Some(1)),
                (2, 1, Some(0)),
                (3, 1, Some(1)),
                (4, 1, Some(0))
            ]
        );
        // Chunk 0 arrives: no longer in flight.
        scheduler
            .lock_unpoisoned()
            .arrived(0, 0, &[0; 100])
            .unwrap();
        assert_eq!(in_flight(&p).first(), Some(&(1, 1, Some(1))));
        // A finished transfer, or one whose scheduler is gone, has none.
        p.finish(false);
        assert!(in_flight(&p).is_empty());
        let q = TransferProgress::new("f", Direction::Download, 2_000, vec!["p2".into()]);
        let gone = Arc::new(Mutex::new(Scheduler::new(2_000, 1, 64)));
        q.read_awaited_from(&gone, |s| s.lock_unpoisoned().awaited_chunks().collect());
        gone.lock_unpoisoned().request(0, 4);
        assert_eq!(in_flight(&q).len(), 4);
        drop(gone);
        assert!(in_flight(&q).is_empty());
    }

    #[test]
    fn big_files_group_chunks_into_a_bounded_map() {
        let p = TransferProgress::new("f", Direction::Download, 1 << 30, vec!["p2".into()]);
        assert!(p.cells().len() <= MAX_CELLS as usize);
        assert_eq!(p.cells().iter().map(|c| c.of as u64).sum::<u64>(), p.chunks);
    }

    #[test]
    fn rates_are_over_the_last_seconds_and_a_quiet_peer_is_stalled() {
        let t0 = Instant::now();
        let p = TransferProgress::new(
            "f",
            Direction::Download,
            100_000,
            vec!["p2".into(), "p3".into()],
        )
        .started_at(t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Both peers deliver 10 chunks in the first second, then only p2 goes on.
        for i in 0..20u64 {
            p.requested((i % 2) as usize);
            p.chunk_done((i % 2) as usize, i, 100);
        }
        p.snapshot(at(1_000));
        for step in 1..=20u64 {
            p.requested(0);
            p.chunk_done(0, 20 + 2 * step, 100);
            p.snapshot(at(1_000 + step * 250));
        }
        let now = p.snapshot(at(6_250));
        // p2: 100 bytes per 250 ms over the window; p3: nothing.
        assert!(
            (now.peers[0].rate - 400.0).abs() < 50.0,
            "{:?}",
            now.peers[0]
        );
        assert_eq!(now.peers[1].rate, 0.0);
        assert!(now.peers[1].stalled && !now.peers[0].stalled);
        assert!(now.eta().is_some());
    }

    #[test]
    fn a_finished_transfer_shows_its_average_and_elapsed_time_frozen() {
        let t0 = Instant::now();
        let p = TransferProgress::new("f", Direction::Download, 1_000, vec!["p2".into()])
            .started_at(t0);
        for i in 0..10 {
            p.requested(0);
            p.chunk_done(0, i, 100);
        }
        p.finish_at(true, t0 + Duration::from_secs(2));
        let later = p.snapshot(t0 + Duration::from_secs(100));
        assert_eq!(later.elapsed, Duration::from_secs(2));
        assert_eq!(later.rate, 500.0);
        assert_eq!(later.eta(), None);
        assert!(!later.peers[0].stalled);
    }
}
