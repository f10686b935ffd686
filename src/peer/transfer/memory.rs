//! One memory budget per download (`--download-memory`, 64 MiB by default), and what it allows:
//! how far the reassembly ring may reach, and how many replies may be in flight in all.
//!
//! What a download holds is the ring (a slot per chunk of its reach) and the replies to the
//! requests in flight (in the sockets' and the connections' read buffers). Three quarters of
//! the budget go to the ring, one quarter to replies in flight; the ring's reach is twice the
//! requests in flight (room for replies that arrive out of file order), so at the most the ring
//! is the larger share. Both start small and grow with what the paths need (the adaptive
//! windows: rate × round trip). On loopback they still grow to the budget's share: a round's
//! rate is measured over replies already waiting in the socket, read faster than the peer sends
//! them, so a 64 MiB download's ring reaches about 131,000 slots (13 MB) where 8,192 would do.

use super::ring::SLOT_BYTES;

/// The default budget, MiB.
pub const DEFAULT_DOWNLOAD_MEMORY_MIB: u64 = 64;

/// Bytes a reply in flight may take (a 100-byte payload and its `200 File <name> chunk <i> `
/// header, with a file name of some 30 bytes).
const REPLY_BYTES: u64 = 160;

/// The ring's first size, as before budgets (800 kB): enough for loopback.
pub const INITIAL_RING_SLOTS: u64 = 8192;

/// The ring reaches this many times the chunks in flight.
pub const RING_REACH: u64 = 2;

/// A download's memory budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::mib(DEFAULT_DOWNLOAD_MEMORY_MIB)
    }
}

impl MemoryBudget {
    pub fn mib(mib: u64) -> MemoryBudget {
        MemoryBudget::bytes(mib.saturating_mul(1 << 20))
    }

    /// At least 1 MiB: below that the ring could not hold a window's worth.
    pub fn bytes(bytes: u64) -> MemoryBudget {
        MemoryBudget {
            bytes: bytes.max(1 << 20),
        }
    }

    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.bytes
    }

    /// The most slots the reassembly ring may grow to.
    pub fn ring_slots(&self) -> u64 {
        self.bytes * 3 / 4 / SLOT_BYTES
    }

    /// The most chunk requests in flight, all peers together.
    pub fn in_flight(&self) -> u64 {
        (self.bytes / 4 / REPLY_BYTES).min(self.ring_slots() / RING_REACH)
    }

    /// The most requests in flight to one of `peers` serving peers: the budget's share, never
    /// below 2 (the adaptive window's floor).
    pub fn window_per_peer(&self, peers: usize) -> usize {
        let share = self.in_flight() / peers.max(1) as u64;
        usize::try_from(share).unwrap_or(usize::MAX).max(2)
    }

    /// The ring's size for `in_flight` requests in flight: twice that, at least the initial
    /// size, at most the budget's.
    pub fn ring_for(&self, in_flight: u64) -> u64 {
        let most = self.ring_slots().max(1);
        in_flight
            .saturating_mul(RING_REACH)
            .max(INITIAL_RING_SLOTS)
            .min(most)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_holds_a_long_fast_path_and_stays_under_its_bytes() {
        let b = MemoryBudget::default();
        // 100 ms × 12.5 MB/s × 2.5 (the window's rule) = 31,250 chunks per peer, three peers.
        assert!(b.window_per_peer(3) >= 31_250, "{}", b.window_per_peer(3));
        let ring = b.ring_for(b.in_flight()) * SLOT_BYTES;
        assert!(ring + b.in_flight() * REPLY_BYTES <= b.total());
        assert_eq!(
            b.ring_for(3 * 512),
            INITIAL_RING_SLOTS,
            "loopback keeps today's ring"
        );
        assert!(MemoryBudget::mib(0).ring_slots() >= 2);
    }
}
