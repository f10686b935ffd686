//! A download's disk writes, on a blocking thread of their own: the fetch tasks hand over the
//! runs the scheduler made ready through a bounded channel (the disk's pace holds them back),
//! and the thread puts them into the partial file. Runs never overlap, so the order they
//! arrive in does not matter. The download commits the file only after the thread has written
//! every run and handed the partial file back.

use std::io;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::core::store::Partial;

/// Runs handed over and not yet written, at most (each at most a quarter of the reassembly
/// ring).
const QUEUED_RUNS: usize = 8;

/// Runs at least this long are written as they are (the reassembly ring hands over runs of
/// about 200 KiB).
const DIRECT_RUN: usize = 64 * 1024;

/// Bytes for the file at `offset`.
pub struct Run {
    offset: u64,
    bytes: Vec<u8>,
}

impl Run {
    pub fn new(offset: u64, bytes: &[u8]) -> Run {
        Run {
            offset,
            bytes: bytes.to_vec(),
        }
    }
}

/// Where fetch tasks hand their runs over; the writer ends once every one is dropped.
#[derive(Clone)]
pub struct DiskWriter {
    runs: mpsc::Sender<Run>,
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
        }
        Ok(partial)
    });
    (DiskWriter { runs }, Written { thread })
}

impl DiskWriter {
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
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let partial = store.reserve("f.bin", bytes.len() as u64).unwrap();
        let (disk, written) = start(partial, || panic!("no write fails here"));
        let other_task = disk.clone();
        assert!(
            other_task
                .write(vec![Run::new(200_000, &bytes[200_000..])])
                .await
        );
        let first = vec![
            Run::new(0, &bytes[..100_000]),
            Run::new(100_000, &bytes[100_000..200_000]),
        ];
        assert!(disk.write(first).await);
        drop((disk, other_task));
        let partial = written.finish().await.unwrap();
        let committed = tokio::task::spawn_blocking(move || partial.commit()).await;
        committed.unwrap().unwrap();
        let saved = std::fs::read(store.served_dir().join("f.bin")).unwrap();
        assert!(saved == bytes, "the file differs from the runs written");
    }
}
