//! The web server's connection slots, and who gives theirs up when they run out.
//!
//! The shared [`Acceptor`](crate::core::net::Acceptor) caps open connections with a semaphore: at the
//! cap it stops accepting until one closes. For a web server that is not enough, since idle
//! connections (a browser's keep-alive, a client that connected and sent nothing or half a
//! request head) would hold every slot while a well-behaved client waits in the backlog. So, as
//! nginx does, when a client is waiting for a slot the oldest idle connection is closed to admit
//! it.
//!
//! The web server runs the acceptor with one slot more than [`Slots::limit`]: a connection in
//! that extra slot is a client waiting for room, and its arrival (or, if nothing was idle then,
//! the next connection to go idle) evicts the connection idle the longest. A connection is idle
//! from its accept until hyper hands its request to the service, and again from when the
//! response body is dropped until the next request. A connection with a request in progress is
//! never evicted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::core::locks::LockExt;
use tokio_util::sync::CancellationToken;

pub struct Slots {
    limit: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Connections admitted and not yet dropped, evicted ones included.
    open: usize,
    /// Of those, ones told to close that have not closed yet.
    evicting: usize,
    next_seq: u64,
    /// Idle connections, oldest first: the order they went idle in.
    idle: BTreeMap<u64, CancellationToken>,
}

/// One connection's place; dropping it gives the place back.
pub struct Tenant {
    slots: Arc<Slots>,
    /// This connection's key in `State::idle` while idle, else 0 (changed under the lock).
    idle_seq: AtomicU64,
    /// Cancelled when the connection is to close to make room for another.
    pub evicted: CancellationToken,
}

impl Slots {
    /// Room for `limit` connections, plus the one waiting that evicts an idle one.
    pub fn new(limit: usize) -> Arc<Slots> {
        Arc::new(Slots {
            limit: limit.max(1),
            state: Mutex::new(State::default()),
        })
    }

    /// How many connections the acceptor should allow: the limit and one waiting.
    pub fn accept_cap(&self) -> usize {
        self.limit + 1
    }

    /// Connections open (evicted ones still closing included).
    pub fn open(&self) -> usize {
        self.lock().open
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock_unpoisoned()
    }

    /// Registers a new connection, idle until its first request arrives; if that takes the
    /// server over its limit, the connection idle the longest is told to close.
    pub fn admit(self: &Arc<Self>) -> Tenant {
        let evicted = CancellationToken::new();
        let mut state = self.lock();
        state.open += 1;
        // Make room before the newcomer joins the idle list, so it is not the one chosen.
        self.make_room(&mut state);
        let seq = state.push_idle(evicted.clone());
        drop(state);
        Tenant {
            slots: Arc::clone(self),
            idle_seq: AtomicU64::new(seq),
            evicted,
        }
    }

    fn make_room(&self, state: &mut State) {
        while state.open - state.evicting > self.limit {
            let Some((_, token)) = state.idle.pop_first() else {
                return;
            };
            token.cancel();
            state.evicting += 1;
        }
    }
}

impl State {
    fn push_idle(&mut self, token: CancellationToken) -> u64 {
        self.next_seq += 1;
        self.idle.insert(self.next_seq, token);
        self.next_seq
    }
}

impl Tenant {
    /// A request is in progress: this connection is not to be evicted.
    pub fn busy(&self) {
        let mut state = self.slots.lock();
        let seq = self.idle_seq.swap(0, Ordering::Relaxed);
        if seq != 0 {
            state.idle.remove(&seq);
        }
    }

    /// Whether a request is in progress (between [`busy`](Self::busy) and [`idle`](Self::idle)).
    pub fn in_request(&self) -> bool {
        self.idle_seq.load(Ordering::Relaxed) == 0
    }

    /// The response is done: this connection may be evicted (first, if a client waits).
    pub fn idle(&self) {
        if self.evicted.is_cancelled() {
            return;
        }
        let mut state = self.slots.lock();
        if self.idle_seq.load(Ordering::Relaxed) == 0 {
            let seq = state.push_idle(self.evicted.clone());
            self.idle_seq.store(seq, Ordering::Relaxed);
        }
        self.slots.make_room(&mut state);
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        let seq = self.idle_seq.swap(0, Ordering::Relaxed);
        if seq != 0 {
            state.idle.remove(&seq);
        }
        state.open -= 1;
        if self.evicted.is_cancelled() {
            state.evicting -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_client_evicts_the_longest_idle_connection() {
        let slots = Slots::new(2);
        let a = slots.admit();
        let b = slots.admit();
        b.busy();
        // At the limit: nobody is evicted.
        assert!(!a.evicted.is_cancelled());
        // One more (the acceptor's extra slot): the idle one makes room, not the busy one.
        let c = slots.admit();
        assert!(a.evicted.is_cancelled());
        assert!(!b.evicted.is_cancelled() && !c.evicted.is_cancelled());
        // Until `a` has closed, a fourth is not admitted by the acceptor; once it has, the
        // count is back at the limit and nothing more is evicted.
        drop(a);
        assert_eq!(slots.open(), 2);
        let d = slots.admit();
        // Over the limit again: `c` (idle since its accept) goes; `d` is the newcomer.
        assert!(c.evicted.is_cancelled());
        assert!(!d.evicted.is_cancelled());
        drop(c);
        assert_eq!(slots.open(), 2);
        drop((b, d));
        assert_eq!(slots.open(), 0);
    }

    #[test]
    fn when_everyone_is_busy_the_next_to_go_idle_makes_room() {
        let slots = Slots::new(1);
        let a = slots.admit();
        a.busy();
        let b = slots.admit();
        // Nothing idle but the newcomer, which is not evicted for itself.
        assert!(!a.evicted.is_cancelled() && !b.evicted.is_cancelled());
        b.busy();
        // `a` finishes its response: it is the one to go.
        a.idle();
        assert!(a.evicted.is_cancelled());
        assert!(!b.evicted.is_cancelled());
        // Evicting again does not double count.
        a.idle();
        drop(a);
        b.idle();
        assert!(!b.evicted.is_cancelled());
        assert_eq!(slots.open(), 1);
    }
}
