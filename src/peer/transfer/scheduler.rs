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
use std::time::Duration;

use super::allocation::{Allocation, Stripe, Takeover};
use super::memory::MemoryBudget;
use super::ring::Ring;
use crate::core::protocol::chunk_count;
use crate::core::protocol::digest::ContentDigest;

#[path = "rebalance.rs"]
pub mod rebalance;
#[path = "scheduler_verify.rs"]
mod verify;
use rebalance::{Meter, Move, Rebalanced};
use verify::Verify;

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
    /// The window it last asked with.
    window: usize,
    meter: Meter,
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
    /// The memory budget; `None`: a ring of fixed size.
    budget: Option<MemoryBudget>,
    /// Strict round robin: nothing moves between serving peers while they serve.
    strict: bool,
    /// The caller's clock (`set_now`).
    now: Duration,
    /// Blocked peers are next woken on a reply at this time, to look for work again.
    recheck_at: Duration,
    moves: Vec<Move>,
    rebalanced: Rebalanced,
    /// Chunks asked a second time at the endgame.
    asked_twice: Vec<u64>,
}

/// How a download's scheduler sizes its memory and whether it may move work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    pub budget: MemoryBudget,
    /// Keep the seed's round robin strictly (`--strict-round-robin`).
    pub strict: bool,
}

/// A peer dropped from the transfer because it sent bytes that do not match the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub peer: usize,
    /// The first chunk it sent wrong.
    pub chunk: u64,
    pub takeover: Takeover,
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
            budget: None,
            strict: false,
            now: Duration::ZERO,
            recheck_at: Duration::ZERO,
            moves: Vec::new(),
            rebalanced: Rebalanced::default(),
            asked_twice: Vec::new(),
        }
    }

    /// A download under `policy`: the ring starts at its first size and grows with the
    /// windows, within the budget (see `memory`).
    pub fn with_policy(size: u64, peers: usize, policy: Policy) -> Scheduler {
        let first = super::memory::INITIAL_RING_SLOTS.min(policy.budget.ring_slots());
        let mut s = Scheduler::new(size, peers, first.max(1) as usize).strict(policy.strict);
        s.budget = Some(policy.budget);
        s
    }

    /// Strict round robin (`--strict-round-robin`): nothing moves between serving peers.
    pub fn strict(mut self, strict: bool) -> Scheduler {
        self.strict = strict;
        self
    }

    /// The caller's clock: the time since the download started (virtual in the simulation).
    pub fn set_now(&mut self, now: Duration) {
        self.now = self.now.max(now);
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
        let window = self.clamp_window(window);
        let running = self.state() == State::Running;
        let Some(p) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        if !p.serving || !running || p.in_flight.len() > window / 2 {
            return Vec::new();
        }
        p.window = window;
        let room = window - p.in_flight.len();
        self.fit_ring();
        let limit = self.ring.limit();
        let mut batch = Vec::new();
        while batch.len() < room {
            match self.allocation.next_below(peer, limit) {
                Some(index) => batch.push(index),
                None => break,
            }
        }
        if batch.is_empty() {
            batch = self.rebalance(peer, room, limit);
        }
        let now = self.now;
        let p = &mut self.peers[peer];
        if !batch.is_empty() {
            p.meter.asked(now, p.in_flight.is_empty());
        }
        p.in_flight.extend(&batch);
        p.blocked = p.in_flight.is_empty();
        batch
    }

    /// The window within the budget's share per peer.
    fn clamp_window(&self, window: usize) -> usize {
        match self.budget {
            Some(b) => window.min(b.window_per_peer(self.peers.len())).max(1),
            None => window.max(1),
        }
    }

    /// Grows the ring to the reach the windows need (twice as long at least, so it grows
    /// rarely), within the budget.
    fn fit_ring(&mut self) {
        let Some(budget) = self.budget else {
            return;
        };
        let serving = self.peers.iter().filter(|p| p.serving);
        let in_flight: u64 = serving.map(|p| p.window as u64).sum();
        let want = budget.ring_for(in_flight);
        if want > self.ring.slots {
            let grown = want.max(self.ring.slots * 2).min(budget.ring_slots());
            self.ring.grow_to(grown);
        }
    }

    /// Chunks moved between serving peers since the last call (to say so).
    pub fn take_moves(&mut self) -> Vec<Move> {
        std::mem::take(&mut self.moves)
    }

    /// What rebalancing did so far.
    pub fn rebalanced(&self) -> &Rebalanced {
        &self.rebalanced
    }

    /// Bytes the ring may hold now (its slots; the simulation checks them against the budget).
    #[cfg(test)]
    pub fn ring_bytes(&self) -> u64 {
        self.ring.slots * super::ring::SLOT_BYTES
    }

    /// Chunks asked a second time at the endgame.
    #[cfg(test)]
    pub fn asked_twice(&self) -> &[u64] {
        &self.asked_twice
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
        p.meter.delivered(self.now, p.in_flight.is_empty());
        if !self.strict && self.now >= self.recheck_at {
            // Idle peers look again: someone may have fallen far behind meanwhile.
            self.recheck_at = self.now + rebalance::RECHECK;
            self.wake_blocked();
        }
        if self.ring.has(index) || self.stale_for_repair(peer, index) {
            // The second reply to a chunk asked twice at the endgame.
            self.rebalanced.discarded += 1;
            return Ok(());
        }
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
        let in_flight = self.orphans(peer, in_flight);
        let takeover = self.allocation.peer_left(peer, &in_flight);
        // Its own task too, if it waits: it must see that it is out.
        self.wakes.push(peer);
        self.wake_blocked();
        takeover
    }

    /// Which of `in_flight` (a leaving peer's requests, in order) must be dealt again: not
    /// those that arrived from another peer, nor a request that predates the repair of its
    /// group (the repair fetches that chunk: one stale entry covers one request, so a fresh
    /// request for the same chunk, from the repair itself, is still an orphan), each chunk
    /// once. One also awaited from another peer (the endgame) is an orphan: that request may
    /// yet fail too, and a third reply is only discarded.
    fn orphans(&mut self, peer: usize, in_flight: Vec<u64>) -> Vec<u64> {
        let mut seen = std::collections::HashSet::new();
        let mut orphans = Vec::new();
        for index in in_flight {
            if self.ring.has(index) || self.stale_for_repair(peer, index) {
                continue;
            }
            if seen.insert(index) {
                orphans.push(index);
            }
        }
        orphans
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

#[cfg(test)]
#[path = "scheduler_sim.rs"]
pub(crate) mod simulation;

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
