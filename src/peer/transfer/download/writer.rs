//! A download's disk writes, on a blocking thread of their own: the fetch tasks hand over the
//! runs the scheduler made ready through a bounded channel (the disk's pace holds them back),
//! and the thread puts them into the partial file. Runs never overlap, so the order they
//! arrive in does not matter. The download commits the file only after the thread has written
//! every run and handed the partial file back.

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::core::locks::LockExt;
use crate::core::store::Partial;

/// Runs handed over and not yet written, at most.
const QUEUED_RUNS: usize = 8;

/// The longest run handed over: the scheduler's runs (a quarter of the reassembly ring, up to
/// megabytes) are copied out in pieces of this size into buffers used again and again.
const RUN_PIECE: usize = 256 * 1024;

/// Runs at least this long are written as they are; shorter ones are gathered by the partial
/// file.
const DIRECT_RUN: usize = 64 * 1024;

/// Buffers the writer gives back once written, kept for the next runs, at most: a run's copy
/// then goes into pages already mapped, not fresh ones (a fresh buffer per run would be mapped
/// and faulted in anew each time).
const SPARE_BUFFERS: usize = QUEUED_RUNS;

/// Bytes for the file at `offset`.
pub struct Run {
    offset: u64,
    bytes: Vec<u8>,
}

/// Where fetch tasks hand their runs over; the writer ends once every one is dropped.
#[derive(Clone)]
pub struct DiskWriter {
    runs: mpsc::Sender<Run>,
    spare: Arc<Spare>,
}

/// Written runs' buffers, emptied, for the next runs.
#[derive(Default)]
struct Spare(Mutex<Vec<Vec<u8>>>);

impl Spare {
    fn take(&self) -> Vec<u8> {
        let spare = self.0.lock_unpoisoned().pop();
        spare.unwrap_or_else(|| Vec::with_capacity(RUN_PIECE))
    }

    fn give(&self, mut bytes: Vec<u8>) {
        bytes.clear();
        let mut spare = self.0.lock_unpoisoned();
        if spare.len() < SPARE_BUFFERS {
            spare.push(bytes);
        }
    }
}

/// The writer's thread: what the download waits for before it commits.
pub struct Written {
    thread: JoinHandle<io::Result<Partial>>,
}

/// Starts writing into `partial`; `on_failure` runs (on the writer's thread) as soon as a write
/// fails, after which no run is taken.
pub fn start(
    partial: Partial,
    on_failure: impl FnOnce() + Send + 'static,
) -> (DiskWriter, Written) {
    let (runs, mut queued) = mpsc::channel::<Run>(QUEUED_RUNS);
    let spare = Arc::new(Spare::default());
    let given_back = Arc::clone(&spare);
    let thread = tokio::task::spawn_blocking(move || {
        let mut partial = partial;
        while let Some(run) = queued.blocking_recv() {
            // A large run goes to the file as it is; small ones are gathered by the partial.
            let written = if run.bytes.len() >= DIRECT_RUN {
                partial.write_at(run.offset, &run.bytes)
            } else {
                partial.put(run.offset, &run.bytes)
            };
            if let Err(e) = written {
                // Closed first: a fetch task handing over a run learns at once.
                drop(queued);
                on_failure();
                return Err(e);
            }
            given_back.give(run.bytes);
        }
        Ok(partial)
    });
    (DiskWriter { runs, spare }, Written { thread })
}

impl DiskWriter {
    /// `bytes` for the file at `offset`, copied into runs of at most `RUN_PIECE` bytes (in
    /// spare buffers where there are some) added to `runs`.
    pub fn copy(&self, runs: &mut Vec<Run>, offset: u64, bytes: &[u8]) {
        for (k, piece) in bytes.chunks(RUN_PIECE).enumerate() {
            let mut buffer = self.spare.take();
            buffer.extend_from_slice(piece);
            runs.push(Run {
                offset: offset + (k * RUN_PIECE) as u64,
                bytes: buffer,
            });
        }
    }

    /// Hands `runs` over; false if the writer stopped (a write failed).
    pub async fn write(&self, runs: Vec<Run>) -> bool {
        for run in runs {
            if self.runs.send(run).await.is_err() {
                return false;
            }
        }
        true
    }
}

impl Written {
    /// Once every `DiskWriter` is dropped: the partial file with every run in it, or why a
    /// write failed (the partial file then is removed).
    pub async fn finish(self) -> io::Result<Partial> {
        self.thread.await.map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::Store;

    #[tokio::test]
    async fn runs_handed_over_in_any_order_are_all_in_the_file_before_it_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // More than a piece at the end, so that one run goes over in two.
        let bytes: Vec<u8> = (0..(200_000 + RUN_PIECE as u32 + 999))
            .map(|i| (i % 251) as u8)
            .collect();
        let partial = store.reserve("f.bin", bytes.len() as u64).unwrap();
        let (disk, written) = start(partial, || panic!("no write fails here"));
        let other_task = disk.clone();
        let mut last = Vec::new();
        other_task.copy(&mut last, 200_000, &bytes[200_000..]);
        assert!(other_task.write(last).await);
        let mut first = Vec::new();
        disk.copy(&mut first, 0, &bytes[..100_000]);
        disk.copy(&mut first, 100_000, &bytes[100_000..200_000]);
        assert!(disk.write(first).await);
        drop((disk, other_task));
        let partial = written.finish().await.unwrap();
        let committed = tokio::task::spawn_blocking(move || partial.commit()).await;
        committed.unwrap().unwrap();
        let saved = std::fs::read(store.served_dir().join("f.bin")).unwrap();
        assert!(saved == bytes, "the file differs from the runs written");
    }
}
