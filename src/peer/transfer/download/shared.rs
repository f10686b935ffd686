//! What the fetch tasks of one download share: the scheduler under one lock, a waker per
//! serving peer, the progress. Every decision is the scheduler's; this turns its answers into
//! wakes and runs of bytes for the disk writer.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use super::writer::{DiskWriter, Run};
use crate::core::locks::LockExt;
use crate::core::protocol::lines;
use crate::peer::transfer::allocation::Takeover;
use crate::peer::transfer::progress::TransferProgress;
use crate::peer::transfer::scheduler::rebalance::Move;
use crate::peer::transfer::scheduler::{Dropped, Policy, Scheduler, State, Unexpected};
use crate::peer::transfer::versions::Version;

/// State shared by the fetch tasks of one download.
pub struct Shared {
    pub file: String,
    pub size: u64,
    /// Serving peers' IDs, by position in the serving set.
    pub ids: Vec<String>,
    scheduler: Mutex<Scheduler>,
    /// One per serving peer: wakes a fetch task that waits with nothing to send.
    wakers: Vec<Notify>,
    pub progress: Arc<TransferProgress>,
    /// The scheduler's clock starts here.
    started: Instant,
}

/// Why a batch of replies could not be taken.
pub enum Arrival {
    /// The peer was dropped from this download meanwhile.
    Dropped,
    /// The peer sent a chunk it was not asked for.
    Protocol(Unexpected),
    /// No peer sends the right bytes (said in these words).
    Hopeless(String),
}

/// What a batch of replies led to.
pub struct Arrived {
    /// Peers dropped meanwhile for wrong bytes.
    pub dropped: Vec<Dropped>,
    /// Bytes ready for the file (verified first, when the serving peers described it).
    pub runs: Vec<Run>,
}

impl Shared {
    pub fn new(
        file: &str,
        ids: Vec<String>,
        progress: Arc<TransferProgress>,
        size: u64,
        version: Version,
        policy: Policy,
    ) -> Shared {
        let scheduler = Scheduler::with_policy(size, ids.len(), policy);
        let scheduler = match version {
            Version::Verified { digest, vouching } => scheduler.verify_with(digest, vouching),
            _ => scheduler,
        };
        Shared {
            file: file.to_string(),
            size,
            scheduler: Mutex::new(scheduler),
            wakers: ids.iter().map(|_| Notify::new()).collect(),
            ids,
            progress,
            started: Instant::now(),
        }
    }

    // The lock guards plain data updated in short sections that do not panic.
    pub fn lock(&self) -> MutexGuard<'_, Scheduler> {
        self.scheduler.lock_unpoisoned()
    }

    /// The scheduler, its clock set to now.
    fn lock_now(&self) -> MutexGuard<'_, Scheduler> {
        let mut scheduler = self.lock();
        scheduler.set_now(self.started.elapsed());
        scheduler
    }

    /// Wakes the fetch tasks the scheduler says may now have work (or must see the end).
    fn wake(&self, scheduler: &mut Scheduler) {
        for peer in scheduler.take_wakes() {
            if let Some(waker) = self.wakers.get(peer) {
                waker.notify_one();
            }
        }
    }

    /// Until the scheduler may have work for `position` (or the download ended).
    pub async fn wait_for_work(&self, position: usize) {
        if let Some(waker) = self.wakers.get(position) {
            waker.notified().await;
        }
    }

    /// The requests to send to `position` now, whether it still takes part in a running
    /// download, and the chunks that moved between serving peers to make them.
    pub fn request(&self, position: usize, window: usize) -> (Vec<u64>, bool, Vec<Move>) {
        let mut scheduler = self.lock_now();
        let indices = scheduler.request(position, window);
        let on = scheduler.state() == State::Running && scheduler.is_serving(position);
        (indices, on, scheduler.take_moves())
    }

    /// Hands a batch of replies from `position` to the scheduler; the runs now ready for the
    /// file (copied into `disk`'s buffers) and the peers dropped for wrong bytes meanwhile.
    pub fn arrived(
        &self,
        position: usize,
        chunks: &[(u64, &[u8])],
        disk: &DiskWriter,
    ) -> Result<Arrived, Arrival> {
        let mut scheduler = self.lock_now();
        if !scheduler.is_serving(position) {
            // Dropped meanwhile (it sent wrong bytes): what it sends now is not wanted.
            return Err(Arrival::Dropped);
        }
        for (index, payload) in chunks {
            scheduler
                .arrived(position, *index, payload)
                .map_err(Arrival::Protocol)?;
        }
        let mut runs = Vec::new();
        // Copied out of the ring here; the disk writer writes them off the async workers.
        let copied = scheduler.write_ready(|offset, bytes| {
            disk.copy(&mut runs, offset, bytes);
            Ok(())
        });
        debug_assert!(copied.is_ok(), "copying into memory does not fail");
        let dropped = scheduler.take_dropped();
        let hopeless = scheduler.state() == State::Failed && scheduler.is_verified();
        self.wake(&mut scheduler);
        if hopeless {
            // Aborted by verification: nobody left who sends this version's bytes.
            for d in &dropped {
                tracing::info!(peer = d.peer, chunk = d.chunk, "dropped for wrong bytes");
            }
            return Err(Arrival::Hopeless(lines::no_matching_bytes(&self.file)));
        }
        Ok(Arrived { dropped, runs })
    }

    /// The file cannot be written: the download fails (the writer says why).
    pub fn write_failed(&self) {
        let mut scheduler = self.lock();
        scheduler.abort();
        self.wake(&mut scheduler);
    }

    /// `position` stopped serving: its chunks go to the others.
    pub fn left(&self, position: usize) -> Option<Takeover> {
        let mut scheduler = self.lock_now();
        if scheduler.state() != State::Running || !scheduler.is_serving(position) {
            return None;
        }
        let takeover = scheduler.left(position);
        self.wake(&mut scheduler);
        Some(takeover)
    }
}
