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
//! - with a content digest (`verify_with`), every group of chunks is checked before it is
//!   written; a group that does not match is fetched again from a peer that vouched for the
//!   digest, and the peers whose chunks differed are dropped (`take_dropped`);
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

use super::allocation::{Allocation, Stripe, Takeover};
use crate::core::protocol::digest::ContentDigest;
use crate::core::protocol::{CHUNK_SIZE, chunk_count};

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
    /// user cancelled, or no peer sends bytes that match the digest).
    aborted: bool,
    verify: Option<Verify>,
    dropped: Vec<Dropped>,
}

/// A peer dropped from the transfer because it sent bytes that do not match the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub peer: usize,
    /// The first chunk it sent wrong.
    pub chunk: u64,
    pub takeover: Takeover,
}

/// Verification against a content digest.
struct Verify {
    digest: ContentDigest,
    /// Peers that described the file with this digest (first choice to fetch a group again).
    vouching: Vec<usize>,
    /// A group being fetched again.
    repair: Option<Repair>,
    /// Groups that failed verification (a figure for the user).
    failed_groups: u64,
}

struct Repair {
    group: u64,
    /// The group's bytes as first received, and who sent each chunk.
    first_bytes: Vec<u8>,
    first_owners: Vec<usize>,
    /// Peers asked to fetch the group again, in order.
    tried: Vec<usize>,
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
            verify: None,
            dropped: Vec::new(),
        }
    }

    /// Checks every group of chunks against `digest` before it is written. `vouching`: the
    /// serving peers that gave this digest. The ring is widened to hold a whole group.
    pub fn verify_with(mut self, digest: ContentDigest, vouching: Vec<usize>) -> Scheduler {
        self.ring.widen_to(digest.group_chunks);
        self.verify = Some(Verify {
            digest,
            vouching,
            repair: None,
            failed_groups: 0,
        });
        self
    }

    /// Whether the transfer is checked against a digest.
    pub fn is_verified(&self) -> bool {
        self.verify.is_some()
    }

    /// Peers dropped for sending wrong bytes since the last call.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        std::mem::take(&mut self.dropped)
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

    #[cfg(test)]
    /// Chunks `peer` has requested and not received.
    pub fn in_flight(&self, peer: usize) -> usize {
        self.peers.get(peer).map_or(0, |p| p.in_flight.len())
    }

    /// Every chunk requested and not yet received, with the peer asked (read-only: the UI's
    /// chunk map reads it once a frame).
    pub fn awaited_chunks(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        (self.peers.iter().enumerate())
            .flat_map(|(peer, p)| p.in_flight.iter().map(move |&index| (peer, index)))
    }

    #[cfg(test)]
    /// The chunk `peer` awaits next, if any.
    pub fn awaited(&self, peer: usize) -> Option<u64> {
        self.peers.get(peer)?.in_flight.front().copied()
    }

    #[cfg(test)]
    /// Chunks received so far.
    pub fn received(&self) -> u64 {
        self.received
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
        self.ring.put(index, payload, peer);
        Ok(())
    }

    /// Writes every run of the ring that is ready; blocked peers are woken when the ring moved
    /// on (their next chunks may now be in reach) or the transfer ended.
    pub fn write_ready(
        &mut self,
        mut write: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let moved = if self.verify.is_some() {
            self.write_verified(&mut write)?
        } else {
            self.ring.flush(write)?
        };
        if moved {
            self.wake_blocked();
        }
        Ok(())
    }

    /// Writes every whole group that is present and matches the digest; a group that does not
    /// match is fetched again. True if the ring moved on (or a repair started).
    fn write_verified(
        &mut self,
        write: &mut impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        let mut moved = false;
        while let Some(Some(verify)) =
            (self.state() == State::Running).then_some(self.verify.as_ref())
        {
            let g = self.ring.written / verify.digest.group_chunks;
            let end = self.chunks.min((g + 1) * verify.digest.group_chunks);
            if self.ring.ready < end {
                break;
            }
            let from = self.ring.written;
            // A group held in one piece of the ring is checked in place; only one that wraps
            // around the ring's end, or that failed before, is copied.
            let matches = match self.ring.contiguous(from, end) {
                Some(bytes) if verify.repair.is_none() => verify.digest.group_matches(g, bytes),
                _ => {
                    let (bytes, _) = self.ring.run(from, end);
                    verify.digest.group_matches(g, &bytes)
                }
            };
            if matches {
                if self.verify.as_ref().is_some_and(|v| v.repair.is_some()) {
                    let (bytes, _) = self.ring.run(from, end);
                    self.group_verified(g, &bytes);
                }
                self.ring.write_run(end, |o, b| write(o, b))?;
            } else {
                let (bytes, owners) = self.ring.run(from, end);
                self.group_failed(g, bytes, owners);
            }
            moved = true;
        }
        Ok(moved)
    }

    /// Group `g` matched. If it was being fetched again, whoever sent chunks that differ from
    /// the good bytes is dropped.
    fn group_verified(&mut self, g: u64, good: &[u8]) {
        let Some(verify) = self.verify.as_mut() else {
            return;
        };
        let Some(repair) = verify.repair.take_if(|r| r.group == g) else {
            return;
        };
        let first_chunk = g * verify.digest.group_chunks;
        let mut culprits: Vec<(usize, u64)> = Vec::new();
        let pieces = repair.first_bytes.chunks(CHUNK_SIZE as usize);
        for (k, (was, now)) in pieces.zip(good.chunks(CHUNK_SIZE as usize)).enumerate() {
            let owner = repair.first_owners[k];
            if was != now && !culprits.iter().any(|&(p, _)| p == owner) {
                culprits.push((owner, first_chunk + k as u64));
            }
        }
        for (peer, chunk) in culprits {
            self.drop_peer(peer, chunk);
        }
    }

    /// Group `g` did not match: its chunks are fetched again, from a peer that vouched for the
    /// digest if one is serving (else any other serving peer); if every candidate was tried,
    /// the transfer fails.
    fn group_failed(&mut self, g: u64, bytes: Vec<u8>, owners: Vec<usize>) {
        let Some(verify) = self.verify.as_mut() else {
            return;
        };
        let group_chunks = verify.digest.group_chunks;
        let (start, end) = (g * group_chunks, self.chunks.min((g + 1) * group_chunks));
        let mut tried = Vec::new();
        match verify.repair.take() {
            Some(repair) if repair.group == g => {
                // The second fetch failed too. A peer that sent the whole group alone is wrong.
                if let [only, ..] = owners.as_slice()
                    && owners.iter().all(|o| o == only)
                {
                    self.drop_peer(*only, start);
                }
                tried = repair.tried;
                verify_repair_start(
                    self,
                    g,
                    repair.first_bytes,
                    repair.first_owners,
                    tried,
                    start,
                    end,
                );
            }
            _ => {
                verify.failed_groups += 1;
                tried.clear();
                verify_repair_start(self, g, bytes, owners, tried, start, end);
            }
        }
    }

    fn drop_peer(&mut self, peer: usize, chunk: u64) {
        if !self.is_serving(peer) {
            return;
        }
        let takeover = self.left(peer);
        self.dropped.push(Dropped {
            peer,
            chunk,
            takeover,
        });
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
        // Its own task too, if it waits: it must see that it is out.
        self.wakes.push(peer);
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

    fn wake_blocked(&mut self) {
        for (position, p) in self.peers.iter_mut().enumerate() {
            if p.blocked {
                p.blocked = false;
                self.wakes.push(position);
            }
        }
    }

    #[cfg(test)]
    /// The first chunk not yet written, and how far past it chunks may be requested.
    pub fn window_bounds(&self) -> (u64, u64) {
        (self.ring.written, self.ring.limit())
    }

    #[cfg(test)]
    /// Chunks held in memory now.
    pub fn buffered(&self) -> u64 {
        self.ring.held
    }
}

/// Starts fetching group `g` (chunks `start..end`) again from the next candidate peer.
fn verify_repair_start(
    s: &mut Scheduler,
    g: u64,
    first_bytes: Vec<u8>,
    first_owners: Vec<usize>,
    mut tried: Vec<usize>,
    start: u64,
    end: u64,
) {
    let Some(verify) = s.verify.as_ref() else {
        return;
    };
    let serving = |p: &usize| s.peers.get(*p).is_some_and(|q| q.serving) && !tried.contains(p);
    let candidate = verify
        .vouching
        .iter()
        .copied()
        .find(|p| serving(p))
        .or_else(|| (0..s.peers.len()).find(|p| serving(p)));
    let Some(by) = candidate else {
        // Nobody left who could send this group right: the download cannot succeed.
        s.abort();
        return;
    };
    tried.push(by);
    s.ring.forget(start, end);
    s.received -= end - start;
    s.allocation.assign(
        by,
        Stripe {
            next: start,
            step: 1,
            end,
        },
    );
    if let Some(verify) = s.verify.as_mut() {
        verify.repair = Some(Repair {
            group: g,
            first_bytes,
            first_owners,
            tried,
        });
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
    /// Who sent the chunk in each slot.
    owner: Vec<usize>,
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
            owner: vec![0; slots as usize],
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

    /// Holds at least `chunks` chunks (a whole verification group), unless the file is smaller.
    fn widen_to(&mut self, chunks: u64) {
        let slots = self.slots.max(chunks).min(self.chunks.max(1));
        if slots != self.slots {
            *self = Ring::new(self.size, slots as usize);
        }
        self.run = 1;
    }

    /// Chunks `from..to` (all present) as a slice of the ring, if they do not wrap around it.
    fn contiguous(&self, from: u64, to: u64) -> Option<&[u8]> {
        let slot = from % self.slots;
        if to - from > self.slots - slot {
            return None;
        }
        let start = (slot * CHUNK_SIZE) as usize;
        let len = ((to * CHUNK_SIZE).min(self.size) - from * CHUNK_SIZE) as usize;
        self.buf.get(start..start + len)
    }

    /// Chunks `from..to` (all present) as one piece of bytes, and who sent each.
    fn run(&self, from: u64, to: u64) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::with_capacity(((to - from) * CHUNK_SIZE) as usize);
        let mut owners = Vec::with_capacity((to - from) as usize);
        for index in from..to {
            let slot = (index % self.slots) as usize;
            let start = slot * CHUNK_SIZE as usize;
            let len = crate::core::protocol::chunk_len(self.size, index).unwrap_or(0);
            bytes.extend_from_slice(&self.buf[start..start + len]);
            owners.push(self.owner[slot]);
        }
        (bytes, owners)
    }

    /// Writes chunks `written..to` (all present), then frees their slots.
    fn write_run(
        &mut self,
        to: u64,
        mut write: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut from = self.written;
        while from < to {
            let slot = from % self.slots;
            let until = to.min(from + (self.slots - slot));
            let offset = from * CHUNK_SIZE;
            let len = (until * CHUNK_SIZE).min(self.size) - offset;
            let start = (slot * CHUNK_SIZE) as usize;
            write(offset, &self.buf[start..start + len as usize])?;
            for s in slot..slot + (until - from) {
                self.present[s as usize] = false;
            }
            self.held -= until - from;
            from = until;
        }
        self.written = to;
        if self.written == self.chunks {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Chunks `from..to` are to be fetched again: their slots are emptied.
    fn forget(&mut self, from: u64, to: u64) {
        for index in from..to {
            let slot = (index % self.slots) as usize;
            if self.present[slot] {
                self.present[slot] = false;
                self.held -= 1;
            }
        }
        self.ready = self.ready.min(from);
    }

    fn put(&mut self, index: u64, payload: &[u8], peer: usize) {
        debug_assert!(index >= self.written && index < self.limit());
        if self.buf.is_empty() {
            self.buf = vec![0; (self.slots * CHUNK_SIZE) as usize];
        }
        let slot = (index % self.slots) as usize;
        let start = slot * CHUNK_SIZE as usize;
        self.buf[start..start + payload.len()].copy_from_slice(payload);
        self.owner[slot] = peer;
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
    fn flush(&mut self, write: impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<bool> {
        let pending = self.ready - self.written;
        if pending == 0 || (pending < self.run && self.ready < self.chunks) {
            return Ok(false);
        }
        self.write_run(self.ready, write)?;
        Ok(true)
    }
}

#[cfg(test)]
#[path = "scheduler_sim.rs"]
pub(crate) mod simulation;

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(index: u64, size: u64) -> Vec<u8> {
        let len = crate::core::protocol::chunk_len(size, index).unwrap_or(0);
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
