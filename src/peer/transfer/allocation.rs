//! Which serving peer fetches which chunk: the seed's round robin (chunk i from peer i mod n),
//! and, when a peer leaves, its unfinished chunks dealt round robin to the peers still serving.
//!
//! Pure and compact: a peer's share is a few arithmetic stripes, not a list of millions of indices.

use std::collections::VecDeque;

/// The chunks `next, next + step, next + 2·step, ...` below `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    pub next: u64,
    pub step: u64,
    pub end: u64,
}

impl Stripe {
    pub fn single(index: u64) -> Stripe {
        Stripe {
            next: index,
            step: 1,
            end: index + 1,
        }
    }

    pub fn len(&self) -> u64 {
        if self.next >= self.end {
            0
        } else {
            (self.end - self.next - 1) / self.step + 1
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn pop(&mut self) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let index = self.next;
        self.next = self.next.saturating_add(self.step);
        Some(index)
    }

    /// Every `stride`-th element, starting with element `first`.
    fn every(&self, first: u64, stride: u64) -> Stripe {
        Stripe {
            next: self.next.saturating_add(first.saturating_mul(self.step)),
            step: self.step.saturating_mul(stride),
            end: self.end,
        }
    }
}

/// What happened when a peer left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Takeover {
    /// Chunks the leaving peer had not delivered.
    pub orphaned: u64,
    /// The peers still serving (by position in the serving set) and how many chunks each took.
    pub taken_by: Vec<(usize, u64)>,
    /// The orphaned chunks themselves.
    pub stripes: Vec<Stripe>,
}

#[derive(Debug, Clone)]
pub struct Allocation {
    queues: Vec<VecDeque<Stripe>>,
    serving: Vec<bool>,
}

impl Allocation {
    /// The seed's allocation: chunk i from serving peer i mod n.
    pub fn round_robin(chunks: u64, peers: usize) -> Allocation {
        let step = peers as u64;
        let queues = (0..step)
            .map(|r| {
                VecDeque::from([Stripe {
                    next: r,
                    step,
                    end: chunks,
                }])
            })
            .collect();
        Allocation {
            queues,
            serving: vec![true; peers],
        }
    }

    #[cfg(test)]
    /// The next chunk peer `peer` should fetch: the smallest it holds.
    pub fn next_for(&mut self, peer: usize) -> Option<u64> {
        self.next_below(peer, u64::MAX)
    }

    /// The next chunk peer `peer` should fetch, if it is below `limit` (so that no peer runs
    /// too far ahead of the first missing chunk).
    ///
    /// The smallest chunk of the peer's queue comes first, whichever stripe holds it: the first
    /// missing chunk of the file must never wait behind chunks beyond the limit, or nothing
    /// could move (the hang of a takeover on files larger than the reassembly ring).
    pub fn next_below(&mut self, peer: usize, limit: u64) -> Option<u64> {
        let queue = self.queues.get_mut(peer)?;
        // Almost always one stripe (the peer's round-robin share): no search then.
        if queue.len() > 1 {
            queue.retain(|s| !s.is_empty());
        }
        let stripe = match queue.len() {
            1 => queue.front_mut()?,
            _ => queue.iter_mut().min_by_key(|s| s.next)?,
        };
        if stripe.next < limit {
            stripe.pop()
        } else {
            None
        }
    }

    /// Chunks `peer` still has to request.
    pub fn queued(&self, peer: usize) -> u64 {
        self.queues
            .get(peer)
            .map_or(0, |q| q.iter().map(Stripe::len).sum())
    }

    /// Gives `stripe` to `peer` (chunks to fetch again: a group that failed verification).
    pub fn assign(&mut self, peer: usize, stripe: Stripe) {
        if let Some(queue) = self.queues.get_mut(peer) {
            queue.push_front(stripe);
        }
    }

    pub fn is_serving(&self, peer: usize) -> bool {
        self.serving.get(peer).copied().unwrap_or(false)
    }

    /// Peer `peer` left with `in_flight` chunks requested but not received. Its unfinished
    /// chunks, in file order of request, go to the remaining peers round robin, ahead of their
    /// own queues (the earliest gaps in the file are filled first).
    pub fn peer_left(&mut self, peer: usize, in_flight: &[u64]) -> Takeover {
        if !self.is_serving(peer) {
            return Takeover {
                orphaned: 0,
                taken_by: vec![],
                stripes: vec![],
            };
        }
        self.serving[peer] = false;
        let mut orphans: Vec<Stripe> = in_flight.iter().copied().map(Stripe::single).collect();
        orphans.extend(self.queues[peer].drain(..).filter(|s| !s.is_empty()));
        let orphaned = orphans.iter().map(Stripe::len).sum();
        let survivors: Vec<usize> = (0..self.serving.len())
            .filter(|&p| self.serving[p])
            .collect();
        let m = survivors.len() as u64;
        if m == 0 {
            return Takeover {
                orphaned,
                taken_by: vec![],
                stripes: orphans,
            };
        }
        let mut dealt: Vec<Vec<Stripe>> = vec![Vec::new(); survivors.len()];
        let mut ordinal = 0u64;
        for stripe in &orphans {
            for (j, share) in dealt.iter_mut().enumerate() {
                // The orphan with overall ordinal o goes to survivor o mod m.
                let first = (j as u64 + m - ordinal % m) % m;
                let part = stripe.every(first, m);
                if !part.is_empty() {
                    share.push(part);
                }
            }
            ordinal += stripe.len();
        }
        let taken_by = survivors
            .iter()
            .zip(dealt)
            .map(|(&p, share)| {
                let count = share.iter().map(Stripe::len).sum();
                for stripe in share.into_iter().rev() {
                    self.queues[p].push_front(stripe);
                }
                (p, count)
            })
            .collect();
        Takeover {
            orphaned,
            taken_by,
            stripes: orphans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(a: &mut Allocation, peer: usize) -> Vec<u64> {
        std::iter::from_fn(|| a.next_for(peer)).collect()
    }

    #[test]
    fn seed_round_robin_ten_chunks_three_peers() {
        let mut a = Allocation::round_robin(10, 3);
        assert_eq!(drain(&mut a, 0), vec![0, 3, 6, 9]);
        assert_eq!(drain(&mut a, 1), vec![1, 4, 7]);
        assert_eq!(drain(&mut a, 2), vec![2, 5, 8]);
    }

    #[test]
    fn a_leaving_peers_chunks_are_dealt_round_robin_to_the_rest() {
        let mut a = Allocation::round_robin(12, 3);
        assert_eq!(a.next_for(1), Some(1));
        assert_eq!(a.next_for(1), Some(4));
        // Peer 1 leaves with chunk 4 in flight (1 arrived): 4, 7, 10 are orphaned.
        let t = a.peer_left(1, &[4]);
        assert_eq!((t.orphaned, t.taken_by), (3, vec![(0, 2), (2, 1)]));
        assert_eq!(
            t.stripes,
            vec![
                Stripe::single(4),
                Stripe {
                    next: 7,
                    step: 3,
                    end: 12
                }
            ]
        );
        assert_eq!(drain(&mut a, 0), vec![0, 3, 4, 6, 9, 10]);
        assert_eq!(drain(&mut a, 2), vec![2, 5, 7, 8, 11]);
        assert_eq!(a.next_for(1), None);
    }

    #[test]
    fn last_peer_leaving_orphans_everything() {
        let mut a = Allocation::round_robin(5, 1);
        assert_eq!(a.next_for(0), Some(0));
        let t = a.peer_left(0, &[0]);
        assert_eq!((t.orphaned, t.taken_by.len()), (5, 0));
        assert_eq!(a.peer_left(0, &[]).orphaned, 0);
    }

    proptest! {
        /// Whatever peers leave and whenever, every chunk is handed out exactly once more after
        /// each loss, and never to a peer that left.
        #[test]
        fn every_chunk_is_fetched_exactly_once(chunks in 0u64..500, peers in 1usize..6, events in proptest::collection::vec((0usize..6, 0u8..4), 0..40)) {
            let mut a = Allocation::round_robin(chunks, peers);
            let mut delivered = vec![0u32; chunks as usize];
            let mut in_flight: Vec<Vec<u64>> = vec![vec![]; peers];
            for (peer, action) in events {
                let peer = peer % peers;
                if !a.is_serving(peer) { continue; }
                match action {
                    0 => if let Some(i) = a.next_for(peer) { in_flight[peer].push(i) },
                    1 if !in_flight[peer].is_empty() => {
                        let i = in_flight[peer].remove(0);
                        delivered[i as usize] += 1;
                    }
                    2 if (0..peers).filter(|&p| a.is_serving(p)).count() > 1 => {
                        let lost = std::mem::take(&mut in_flight[peer]);
                        a.peer_left(peer, &lost);
                    }
                    _ => {}
                }
            }
            for (peer, lost) in in_flight.iter_mut().enumerate() {
                for i in std::mem::take(lost) { delivered[i as usize] += 1; }
                if a.is_serving(peer) {
                    while let Some(i) = a.next_for(peer) { delivered[i as usize] += 1; }
                } else {
                    prop_assert_eq!(a.next_for(peer), None);
                }
            }
            prop_assert!(delivered.iter().all(|&n| n == 1), "{:?}", delivered);
        }
    }
}
