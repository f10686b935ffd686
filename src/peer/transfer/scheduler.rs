//! The download scheduler: for one transfer, the whole truth about which chunk goes to which
//! serving peer, what each peer has in flight, how far ahead of the file's first missing chunk
//! requests may run (the reassembly ring's reach: flow control), what is done, and when the
//! transfer is over.
//!
//! Pure and synchronous: no sockets, no clock, no tasks. The network tasks turn socket events
//! into calls here (`request`, `arrived`, `left`) and the answers into writes:
//!
//! - `request(peer, window)`: the chunk requests to send to `peer` now (possibly none);
//! - `arrived(peer, index, payload)`: a reply; stored in the ring, written in contiguous runs
//!   by `write_ready`;
//! - `left(peer)`: the peer closed, reset, broke the protocol or went silent; its unfinished
//!   chunks are dealt round robin to the peers still serving (SPEC §3);
//! - `take_wakes()`: peers that were waiting with nothing to send and may now have something
//!   (or must notice that the transfer ended);
//! - `state()`: running, succeeded (every chunk written), or failed (no serving peer left).
//!
//! Why progress is always possible: the first chunk not yet received always lies within the
//! ring's reach; it is either in flight at a serving peer (which delivers it or is declared
//! gone by its task's stall timeout) or queued for a serving peer, and a peer's queue hands out
//! its smallest chunk first, so that peer requests it as soon as it has room in its window. A
//! peer that asked and got nothing is recorded as blocked and woken on every change that could
//! give it work. `tests/sim` (the `simulation` module below) checks this over random schedules.

use std::collections::VecDeque;
use std::io;

use super::allocation::{Allocation, Takeover};
use crate::protocol::{CHUNK_SIZE, chunk_count};

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    /// Every chunk arrived and was handed to the writer.
    Succeeded,
    /// Chunks are missing and no serving peer is left.
    Failed,
}

/// A reply the scheduler did not ask for: the peer broke the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("chunk {got} arrived where chunk {expected:?} was awaited")]
pub struct Unexpected {
    pub expected: Option<u64>,
    pub got: u64,
}

#[derive(Debug, Default, Clone)]
struct PeerState {
    /// Requested and not yet received, in request order (replies come in this order).
    in_flight: VecDeque<u64>,
    serving: bool,
    /// Asked for work with nothing in flight and got none: waiting to be woken.
    blocked: bool,
    /// Chunks received from this peer.
    done: u64,
}

pub struct Scheduler {
    chunks: u64,
    allocation: Allocation,
    peers: Vec<PeerState>,
    ring: Ring,
    /// Chunks received (stored in the ring or written).
    received: u64,
    wakes: Vec<usize>,
    /// The transfer cannot succeed any more (the partial file could not be written, or the
    /// user cancelled).
    aborted: bool,
}

impl Scheduler {
    /// A download of `size` bytes from `peers` serving peers, holding at most `ring_slots`
    /// chunks in memory.
    pub fn new(size: u64, peers: usize, ring_slots: usize) -> Scheduler {
        let chunks = chunk_count(size);
        Scheduler {
            chunks,
            allocation: Allocation::round_robin(chunks, peers),
            peers: vec![
                PeerState {
                    serving: true,
                    ..PeerState::default()
                };
                peers
            ],
            ring: Ring::new(size, ring_slots),
            received: 0,
            wakes: Vec::new(),
            aborted: false,
        }
    }

    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    pub fn state(&self) -> State {
        if self.ring.written == self.chunks {
            State::Succeeded
        } else if !self.aborted && self.peers.iter().any(|p| p.serving) {
            State::Running
        } else {
            State::Failed
        }
    }

    pub fn is_serving(&self, peer: usize) -> bool {
        self.peers.get(peer).is_some_and(|p| p.serving)
    }

    /// Chunks `peer` has requested and not received.
    pub fn in_flight(&self, peer: usize) -> usize {
        self.peers.get(peer).map_or(0, |p| p.in_flight.len())
    }

    /// The chunk `peer` awaits next, if any.
    pub fn awaited(&self, peer: usize) -> Option<u64> {
        self.peers.get(peer)?.in_flight.front().copied()
    }

    /// Chunks received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Chunks still queued for `peer` (not yet requested).
    pub fn queued_for(&self, peer: usize) -> u64 {
        self.allocation.queued_for(peer)
    }

    /// The chunks to request from `peer` now, given its window. Requests leave in batches: the
    /// window is topped up once half of it has drained.
    pub fn request(&mut self, peer: usize, window: usize) -> Vec<u64> {
        let window = window.max(1);
        let limit = self.ring.limit();
        let running = self.state() == State::Running;
        let Some(p) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        if !p.serving || !running || p.in_flight.len() > window / 2 {
            return Vec::new();
        }
        let room = window - p.in_flight.len();
        let mut batch = Vec::new();
        while batch.len() < room {
            match self.allocation.next_below(peer, limit) {
                Some(index) => batch.push(index),
                None => break,
            }
        }
        p.in_flight.extend(&batch);
        p.blocked = p.in_flight.is_empty();
        batch
    }

    /// Chunk `index` arrived from `peer` with `payload` (its length already checked by the
    /// decoder). Replies come in request order; anything else is the peer's error.
    pub fn arrived(&mut self, peer: usize, index: u64, payload: &[u8]) -> Result<(), Unexpected> {
        let Some(p) = self.peers.get_mut(peer).filter(|p| p.serving) else {
            return Err(Unexpected {
                expected: None,
                got: index,
            });
        };
        let expected = p.in_flight.front().copied();
        if expected != Some(index) {
            return Err(Unexpected {
                expected,
                got: index,
            });
        }
        p.in_flight.pop_front();
        p.done += 1;
        self.received += 1;
        self.ring.put(index, payload);
        Ok(())
    }

    /// Writes every run of the ring that is ready; blocked peers are woken when the ring moved
    /// on (their next chunks may now be in reach) or the transfer ended.
    pub fn write_ready(
        &mut self,
        write: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.ring.flush(write)? {
            self.wake_blocked();
        }
        Ok(())
    }

    /// `peer` stopped serving (closed, reset, protocol error, silent too long). Its unfinished
    /// chunks are dealt round robin to the peers still serving.
    pub fn left(&mut self, peer: usize) -> Takeover {
        let Some(p) = self.peers.get_mut(peer) else {
            return Takeover::default();
        };
        if !p.serving {
            return Takeover::default();
        }
        p.serving = false;
        p.blocked = false;
        let in_flight: Vec<u64> = p.in_flight.drain(..).collect();
        let takeover = self.allocation.peer_left(peer, &in_flight);
        self.wake_blocked();
        takeover
    }

    /// Ends the transfer as failed (the file cannot be written); every waiting peer is woken
    /// to notice.
    pub fn abort(&mut self) {
        self.aborted = true;
        self.wake_blocked();
    }

    /// Peers to wake: they wait with nothing to send, and something changed.
    pub fn take_wakes(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.wakes)
    }

    /// Whether `peer` asked for work and is waiting to be woken.
    pub fn is_blocked(&self, peer: usize) -> bool {
        self.peers.get(peer).is_some_and(|p| p.blocked)
    }

    fn wake_blocked(&mut self) {
        for (position, p) in self.peers.iter_mut().enumerate() {
            if p.blocked {
                p.blocked = false;
                self.wakes.push(position);
            }
        }
    }

    /// The first chunk not yet written, and how far past it chunks may be requested.
    pub fn window_bounds(&self) -> (u64, u64) {
        (self.ring.written, self.ring.limit())
    }

    /// Chunks held in memory now.
    pub fn buffered(&self) -> u64 {
        self.ring.held
    }
}

/// One upload target's exchange: chunks go out in order, up to the window unacknowledged,
/// topped up once half of the window has drained; acknowledgements come in order. Pure, like
/// the download scheduler, and simulated with it.
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
    pub fn to_send(&mut self, window: u64) -> std::ops::Range<u64> {
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

/// The reassembly ring: chunks arrive in any order within the reach; the disk gets contiguous
/// runs. Chunk i lives in slot i mod `slots`; a chunk is requested only when its slot is free
/// (`index < written + slots`), so memory is bounded by the ring whatever the file size.
struct Ring {
    size: u64,
    chunks: u64,
    slots: u64,
    buf: Vec<u8>,
    present: Vec<bool>,
    /// Chunks below this are written.
    written: u64,
    /// Chunks from `written` up to this are present.
    ready: u64,
    /// Chunks held (present and not written).
    held: u64,
    /// Runs are written once they are this long (or reach the end of the file).
    run: u64,
}

impl Ring {
    fn new(size: u64, slots: usize) -> Ring {
        let chunks = chunk_count(size);
        let slots = (slots.max(1) as u64).min(chunks.max(1));
        Ring {
            size,
            chunks,
            slots,
            buf: Vec::new(),
            present: vec![false; slots as usize],
            written: 0,
            ready: 0,
            held: 0,
            run: (slots / 4).max(1),
        }
    }

    /// Chunks below this may be requested.
    fn limit(&self) -> u64 {
        self.written + self.slots
    }

    fn put(&mut self, index: u64, payload: &[u8]) {
        debug_assert!(index >= self.written && index < self.limit());
        if self.buf.is_empty() {
            self.buf = vec![0; (self.slots * CHUNK_SIZE) as usize];
        }
        let slot = (index % self.slots) as usize;
        let start = slot * CHUNK_SIZE as usize;
        self.buf[start..start + payload.len()].copy_from_slice(payload);
        if !self.present[slot] {
            self.present[slot] = true;
            self.held += 1;
        }
        let end = self.chunks.min(self.limit());
        while self.ready < end && self.present[(self.ready % self.slots) as usize] {
            self.ready += 1;
        }
    }

    /// Writes the ready run if it is long enough or ends the file; true if anything was written.
    fn flush(&mut self, mut write: impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<bool> {
        let pending = self.ready - self.written;
        if pending == 0 || (pending < self.run && self.ready < self.chunks) {
            return Ok(false);
        }
        let mut from = self.written;
        while from < self.ready {
            let slot = from % self.slots;
            // Up to the ring's end or the run's end, whichever comes first.
            let to = self.ready.min(from + (self.slots - slot));
            let offset = from * CHUNK_SIZE;
            let len = (to * CHUNK_SIZE).min(self.size) - offset;
            let start = (slot * CHUNK_SIZE) as usize;
            write(offset, &self.buf[start..start + len as usize])?;
            for s in slot..slot + (to - from) {
                self.present[s as usize] = false;
            }
            self.held -= to - from;
            from = to;
        }
        self.written = self.ready;
        if self.written == self.chunks {
            // Done: give the memory back at once.
            self.buf = Vec::new();
        }
        Ok(true)
    }
}

#[cfg(test)]
#[path = "scheduler_sim.rs"]
mod simulation;

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(index: u64, size: u64) -> Vec<u8> {
        let len = crate::protocol::chunk_len(size, index).unwrap_or(0);
        vec![(index % 251) as u8; len]
    }

    #[test]
    fn seed_round_robin_from_three_peers() {
        let mut s = Scheduler::new(1000, 3, 64);
        assert_eq!(s.request(0, 1), vec![0]);
        assert_eq!(s.request(1, 1), vec![1]);
        assert_eq!(s.request(2, 8), vec![2, 5, 8]);
        assert_eq!(s.request(0, 1), Vec::<u64>::new(), "window of one is full");
    }

    #[test]
    fn a_departed_peers_chunks_go_to_the_survivors_and_the_file_completes() {
        let size = 1000;
        let mut s = Scheduler::new(size, 3, 4);
        let mut file = vec![0u8; size as usize];
        let mut write = |offset: u64, bytes: &[u8]| {
            file[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
            Ok(())
        };
        assert_eq!(s.request(1, 4), vec![1]); // reach: chunks 0..4
        let t = s.left(1);
        assert_eq!(t.orphaned, 3); // 1, 4, 7
        for _ in 0..100 {
            for peer in [0, 2] {
                for index in s.request(peer, 2) {
                    s.arrived(peer, index, &payload(index, size)).unwrap();
                }
                s.write_ready(&mut write).unwrap();
            }
        }
        assert_eq!(s.state(), State::Succeeded);
        for index in 0..10u64 {
            assert_eq!(file[index as usize * 100], (index % 251) as u8);
        }
    }

    #[test]
    fn the_last_peer_leaving_fails_the_transfer() {
        let mut s = Scheduler::new(500, 1, 8);
        s.request(0, 2);
        s.left(0);
        assert_eq!(s.state(), State::Failed);
        assert!(s.request(0, 2).is_empty());
    }

    #[test]
    fn an_unrequested_chunk_is_the_peers_error() {
        let mut s = Scheduler::new(500, 2, 8);
        assert_eq!(s.request(0, 1), vec![0]);
        assert_eq!(
            s.arrived(0, 2, &[0; 100]),
            Err(Unexpected {
                expected: Some(0),
                got: 2
            })
        );
    }

    #[test]
    fn an_empty_file_succeeds_at_once() {
        let s = Scheduler::new(0, 2, 8);
        assert_eq!(s.state(), State::Succeeded);
    }
}
