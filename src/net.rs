//! The accept loop every server here shares: a cap on open connections, backoff when accepting
//! fails (out of file descriptors and the like), and shutdown.
//!
//! When every slot is taken, `next_evicting` closes the connection that has waited longest for a
//! request (a first one, or the next) to admit the new client: nginx's answer to a flood of idle
//! connections. On one machine every client is 127.0.0.1, so per-address caps would not help.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

pub struct Acceptor {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    backoff: Duration,
    idle: Arc<IdleConnections>,
}

/// How often a new client waiting for a slot looks again for an idle connection to close.
const EVICT_RETRY: Duration = Duration::from_millis(100);

const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// An accepted connection: its permit holds its place until dropped; its idle slot lets the
/// acceptor close it while it waits for a request.
pub struct Admitted {
    pub stream: TcpStream,
    pub addr: SocketAddr,
    pub permit: OwnedSemaphorePermit,
    pub slot: IdleSlot,
}

impl Acceptor {
    pub fn new(listener: TcpListener, max_connections: usize) -> Acceptor {
        Acceptor {
            listener,
            permits: Arc::new(Semaphore::new(max_connections)),
            backoff: FIRST_BACKOFF,
            idle: Arc::default(),
        }
    }

    /// The next connection, with the permit that holds its place until dropped; `None` once
    /// `shutdown` is cancelled.
    pub async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => return None,
                permit = Arc::clone(&self.permits).acquire_owned() => permit.ok()?,
            };
            if let Some((stream, addr)) = self.accept(shutdown).await? {
                return Some((stream, addr, permit));
            }
        }
    }

    /// The next connection; when every slot is taken, the longest-idle connection is closed to
    /// make room (a connection busy with a request is never closed for this). `None` once
    /// `shutdown` is cancelled.
    pub async fn next_evicting(&mut self, shutdown: &CancellationToken) -> Option<Admitted> {
        loop {
            let Some((stream, addr)) = self.accept(shutdown).await? else {
                continue;
            };
            let permit = match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => loop {
                    if self.idle.evict_oldest() {
                        tracing::debug!("every slot taken: closed the longest-idle connection");
                    }
                    // No idle connection yet (just accepted, not yet waiting), or the evicted one
                    // has not let go: look again shortly rather than wait for a timeout.
                    tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        permit = Arc::clone(&self.permits).acquire_owned() => break permit.ok()?,
                        _ = tokio::time::sleep(EVICT_RETRY) => {}
                    }
                },
            };
            let slot = IdleSlot::new(&self.idle);
            return Some(Admitted {
                stream,
                addr,
                permit,
                slot,
            });
        }
    }

    /// One accept; `Some(None)` after a failure (already waited out), `None` at shutdown.
    async fn accept(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Option<Option<(TcpStream, SocketAddr)>> {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return None,
            accepted = self.listener.accept() => accepted,
        };
        match accepted {
            Ok(pair) => {
                self.backoff = FIRST_BACKOFF;
                Some(Some(pair))
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying in {:?}", self.backoff);
                tokio::time::sleep(self.backoff).await;
                self.backoff = (self.backoff * 2).min(Duration::from_secs(1));
                Some(None)
            }
        }
    }
}

/// Connections waiting for a request, oldest first.
#[derive(Default)]
pub struct IdleConnections {
    inner: Mutex<IdleInner>,
}

#[derive(Default)]
struct IdleInner {
    next_key: u64,
    waiting: BTreeMap<u64, CancellationToken>,
}

impl IdleConnections {
    fn lock(&self) -> MutexGuard<'_, IdleInner> {
        // Single inserts and removes: a panic cannot leave the map half-changed.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the connection idle the longest; false if none is idle.
    pub fn evict_oldest(&self) -> bool {
        let oldest = self.lock().waiting.pop_first();
        oldest.map(|(_, evict)| evict.cancel()).is_some()
    }

    pub fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One connection's place among the idle ones: marked idle while it waits for a request, busy
/// while it has part of one or is answering. Dropping it takes the connection off the list.
pub struct IdleSlot {
    set: Arc<IdleConnections>,
    evict: CancellationToken,
    key: Option<u64>,
}

impl IdleSlot {
    pub fn new(set: &Arc<IdleConnections>) -> IdleSlot {
        IdleSlot {
            set: Arc::clone(set),
            evict: CancellationToken::new(),
            key: None,
        }
    }

    /// Cancelled when the acceptor closes this connection to admit another.
    pub fn eviction(&self) -> CancellationToken {
        self.evict.clone()
    }

    pub fn idle(&mut self) {
        if self.key.is_none() {
            let mut inner = self.set.lock();
            let key = inner.next_key;
            inner.next_key += 1;
            inner.waiting.insert(key, self.evict.clone());
            self.key = Some(key);
        }
    }

    pub fn busy(&mut self) {
        if let Some(key) = self.key.take() {
            self.set.lock().waiting.remove(&key);
        }
    }
}

impl Drop for IdleSlot {
    fn drop(&mut self) {
        self.busy();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_connection_is_evicted_first_and_busy_ones_never() {
        let set = Arc::new(IdleConnections::default());
        let mut slots: Vec<IdleSlot> = (0..3).map(|_| IdleSlot::new(&set)).collect();
        slots[1].idle();
        slots[0].idle();
        slots[2].idle();
        slots[2].busy();
        assert_eq!(set.len(), 2);
        assert!(set.evict_oldest());
        assert!(slots[1].eviction().is_cancelled());
        assert!(!slots[0].eviction().is_cancelled());
        assert!(set.evict_oldest());
        assert!(slots[0].eviction().is_cancelled());
        assert!(!set.evict_oldest(), "a busy connection is never evicted");
        assert!(!slots[2].eviction().is_cancelled());
        slots[2].idle();
        drop(slots);
        assert!(set.is_empty());
    }
}
