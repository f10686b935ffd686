//! One upload target's window: which chunks go out next. Pure, like the download scheduler,
//! and simulated like it (below).

use crate::core::protocol::chunk_count;
use crate::peer::transfer::scheduler::Unexpected;

/// One upload target's exchange: chunks go out in order, up to the window unacknowledged,
/// topped up once half of the window has drained; acknowledgements come in order.
#[derive(Debug, Clone)]
pub struct UploadWindow {
    chunks: u64,
    /// The next chunk to send.
    next: u64,
    /// Chunks below this are acknowledged.
    acked: u64,
}

impl UploadWindow {
    pub fn new(size: u64) -> UploadWindow {
        UploadWindow {
            chunks: chunk_count(size),
            next: 0,
            acked: 0,
        }
    }

    /// The chunks to send now, given the window.
    pub fn take_batch(&mut self, window: u64) -> std::ops::Range<u64> {
        let window = window.max(1);
        let from = self.next;
        if self.next - self.acked <= window / 2 {
            self.next = self.chunks.min(self.acked + window);
        }
        from..self.next
    }

    /// Chunks sent and not yet acknowledged.
    pub fn unacknowledged(&self) -> u64 {
        self.next - self.acked
    }

    /// The acknowledgement of chunk `index` arrived.
    pub fn acknowledged(&mut self, index: u64) -> Result<(), Unexpected> {
        if index != self.acked || self.acked == self.next {
            return Err(Unexpected {
                expected: (self.acked < self.next).then_some(self.acked),
                got: index,
            });
        }
        self.acked += 1;
        Ok(())
    }

    /// The chunk whose acknowledgement comes next.
    pub fn first_unacknowledged(&self) -> u64 {
        self.acked
    }

    /// Every chunk acknowledged.
    pub fn is_done(&self) -> bool {
        self.acked == self.chunks
    }
}

#[cfg(test)]
mod simulation {
    use super::*;
    use crate::core::protocol::CHUNK_SIZE;
    use crate::peer::transfer::scheduler::simulation::Rng;

    /// Uploads: one exchange per target, each with its own window and speed; a target that dies
    /// fails alone. Every chunk is sent once, in order, never more than the window unacknowledged,
    /// and every live target ends with every chunk acknowledged.
    #[test]
    fn every_upload_schedule_sends_each_chunk_once_within_the_window() {
        let schedules: u64 = std::env::var("SIM_SCHEDULES")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(20_000, |n: u64| n / 5);
        let (mut chunks_total, mut deaths) = (0u64, 0u64);
        for seed in 0..schedules {
            let mut rng = Rng(seed ^ 0xA11CE);
            let chunks = match rng.below(10) {
                0 => 0,
                1 => rng.below(3_000),
                _ => rng.below(300),
            };
            let size = if chunks == 0 {
                0
            } else {
                chunks * CHUNK_SIZE - rng.below(CHUNK_SIZE)
            };
            let targets = 1 + rng.below(6) as usize;
            for _ in 0..targets {
                let window = match rng.below(3) {
                    0 => 1,
                    1 => 512,
                    _ => 1 + rng.below(32),
                };
                let dies_after = rng.chance(30).then(|| rng.below(chunks + 1));
                let mut w = UploadWindow::new(size);
                let mut sent = 0u64;
                let mut acks = 0u64;
                let mut steps = 0u64;
                while !w.is_done() {
                    steps += 1;
                    assert!(steps <= chunks * 2 + 10, "upload seed {seed}: no end");
                    let batch = w.take_batch(window);
                    assert_eq!(batch.start, sent, "upload seed {seed}: chunks out of order");
                    sent = batch.end;
                    assert!(
                        w.unacknowledged() <= window,
                        "upload seed {seed}: window exceeded"
                    );
                    assert!(
                        w.unacknowledged() > 0,
                        "upload seed {seed}: nothing in flight"
                    );
                    if dies_after.is_some_and(|d| acks >= d) {
                        deaths += 1;
                        break;
                    }
                    for _ in 0..1 + rng.below(w.unacknowledged()) {
                        w.acknowledged(acks).expect("in-order acknowledgement");
                        acks += 1;
                    }
                    assert!(w.acknowledged(acks + 5).is_err());
                }
                if w.is_done() {
                    assert_eq!((sent, acks), (chunks, chunks), "upload seed {seed}");
                }
                chunks_total += chunks;
            }
        }
        eprintln!(
            "upload simulation: {schedules} schedules, {chunks_total} chunks, {deaths} targets died"
        );
    }
}
