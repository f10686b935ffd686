//! Verification against a content digest: every group of chunks is checked before it is
//! written; a group that does not match is fetched again from a peer that vouched for the
//! digest, and the peers whose chunks differed are dropped.

use super::{Dropped, Scheduler, State, Stripe};
use crate::core::protocol::CHUNK_SIZE;
use crate::core::protocol::digest::ContentDigest;
use std::io;

/// Verification against a content digest.
pub(super) struct Verify {
    pub(super) digest: ContentDigest,
    /// Peers that described the file with this digest (first choice to fetch a group again).
    pub(super) vouching: Vec<usize>,
    /// A group being fetched again.
    pub(super) repair: Option<Repair>,
    /// Groups that failed verification (a figure for the user).
    pub(super) failed_groups: u64,
}

pub(super) struct Repair {
    pub(super) group: u64,
    /// The group's bytes as first received, and who sent each chunk.
    pub(super) first_bytes: Vec<u8>,
    pub(super) first_owners: Vec<usize>,
    /// Peers asked to fetch the group again, in order.
    pub(super) tried: Vec<usize>,
    /// Chunks of the group that were in flight when the repair started (asked twice at the
    /// endgame): (peer, chunk). Their replies are not the repair's.
    pub(super) stale: Vec<(usize, u64)>,
}

impl Scheduler {
    /// Writes every whole group that is present and matches the digest; a group that does not
    /// match is fetched again. True if the ring moved on (or a repair started).
    pub(super) fn write_verified(
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

    pub(super) fn drop_peer(&mut self, peer: usize, chunk: u64) {
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

    /// A reply to a request made before its group was to be fetched again (an endgame
    /// request) is not part of the repair: it is discarded.
    pub(super) fn stale_for_repair(&mut self, peer: usize, index: u64) -> bool {
        let Some(repair) = self.verify.as_mut().and_then(|v| v.repair.as_mut()) else {
            return false;
        };
        let stale = repair.stale.iter().position(|&s| s == (peer, index));
        stale.map(|k| repair.stale.swap_remove(k)).is_some()
    }

    /// Whether a group is being fetched again.
    pub(super) fn repairing(&self) -> bool {
        self.verify.as_ref().is_some_and(|v| v.repair.is_some())
    }
}

/// Starts fetching group `g` (chunks `start..end`) again from the next candidate peer.
pub(super) fn verify_repair_start(
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
    let stale: Vec<(usize, u64)> = s
        .awaited_chunks()
        .filter(|&(_, index)| (start..end).contains(&index))
        .collect();
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
            stale,
        });
    }
}
