//! One upload target's side of the windowed exchange: chunks read from the served file go out
//! in order as its `UploadWindow` says; an acknowledgement answers the oldest chunk sent.

use std::sync::Arc;
use std::time::Duration;

use super::reader::ChunkReader;
use super::window::UploadWindow;
use crate::core::protocol::chunk_len;
use crate::peer::transfer::exchange::{Batch, Chunks, Ended, PeerFailure, Sent, Side, Way};
use crate::peer::transfer::progress::TransferProgress;

/// A target's place in the upload's progress.
pub struct Target {
    pub position: usize,
    /// Targets of the whole upload (they share its memory budget).
    pub targets: usize,
    pub progress: Arc<TransferProgress>,
}

impl Target {
    pub fn stopped(&self, why: String) {
        self.progress.target_stopped(self.position, why);
    }
}

/// What the exchange loop asks of an upload to one target.
pub struct Push<'t> {
    chunks: Chunks,
    window: UploadWindow,
    reader: ChunkReader,
    target: &'t Target,
    chunk_delay: Duration,
    /// The most chunks in flight to a target that pipelines.
    most: usize,
}

impl<'t> Push<'t> {
    pub fn new(
        file: &str,
        size: u64,
        reader: ChunkReader,
        target: &'t Target,
        chunk_delay: Duration,
    ) -> Push<'t> {
        Push {
            chunks: Chunks {
                way: Way::Upload,
                file: file.to_string(),
                size,
            },
            window: UploadWindow::new(size),
            reader,
            target,
            chunk_delay,
            most: crate::peer::transfer::DEFAULT_WINDOW,
        }
    }

    /// At most `most` chunks in flight (the window's cap for a target that pipelines).
    pub fn most(mut self, most: usize) -> Push<'t> {
        self.most = most.max(1);
        self
    }
}

impl Side for Push<'_> {
    fn chunks(&self) -> &Chunks {
        &self.chunks
    }

    fn cap(&self, peer_window: usize) -> usize {
        // A chunk delay is there to watch a transfer chunk by chunk: lockstep then.
        // Acknowledgements are read while chunks go out (`flush_reading`): no socket buffer
        // bounds the window.
        if self.chunk_delay.is_zero() && peer_window > 1 {
            self.most
        } else {
            1
        }
    }

    async fn next(
        &mut self,
        window: usize,
        in_flight: usize,
        mut sent: Vec<Sent>,
    ) -> Result<Batch, Ended> {
        if self.window.is_done() {
            return Err(Ended::Done);
        }
        debug_assert_eq!(self.window.unacknowledged(), in_flight as u64);
        self.target
            .progress
            .set_window(self.target.position, window);
        let indices = self.window.take_batch(window as u64);
        sent.reserve(indices.clone().count());
        for index in indices {
            let payload = self.reader.next_chunk().await.map_err(|error| {
                let file = self.chunks.file.clone();
                Ended::Left(PeerFailure::Read { file, error })
            })?;
            sent.push(Sent { index, payload });
        }
        let top_up = (!sent.is_empty()).then_some(false);
        Ok(Batch { sent, top_up })
    }

    fn requested(&self, count: usize) {
        self.target
            .progress
            .requested_many(self.target.position, count);
    }

    async fn idle(&self) {}

    fn pause(&self) -> Duration {
        self.chunk_delay
    }

    async fn answered(&mut self, answers: &[(u64, &[u8])]) -> Result<(), Ended> {
        let mut done = Vec::with_capacity(answers.len());
        let mut result = Ok(());
        for &(index, _) in answers {
            // Acknowledgements come strictly in order: anything else breaks the exchange.
            if self.window.acknowledged(index).is_err() {
                let expected = self.window.first_unacknowledged();
                result = Err(Ended::Left(PeerFailure::Unexpected(expected)));
                break;
            }
            done.push((index, chunk_len(self.chunks.size, index).unwrap_or(0)));
        }
        self.target.progress.chunks_done(self.target.position, done);
        result
    }
}
