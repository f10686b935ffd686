//! The accept loop every server here shares: a cap on open connections, a cap per client
//! address, backoff when accepting fails (out of file descriptors and the like), and shutdown.
//!
//! When every slot is taken, `next_evicting` closes the connection that has waited longest for a
//! request (a first one, or the next) to admit the new client: nginx's answer to a flood of idle
//! connections. Eviction alone lets one address that keeps its connections busy (half a request
//! each, until the deadline) hold every slot, so each address also gets at most a share of the
//! table: a newcomer over its address's share evicts that address's own longest-idle connection,
//! and is refused (closed at once, after a refusal line where the protocol has one) if none of
//! them is idle. Other addresses are never evicted for it, and the accept loop never waits on it.
//!
//! By default loopback clients (127.0.0.0/8, ::1) are exempt from the share: on one machine, the
//! seeds' setting, every client is the same address, so a per-address cap would only be a second,
//! smaller global cap. An explicit cap (`with_per_address(Some(n))`) applies to every address.
//!
//! Above every server's own cap, the process's descriptors are a cap of their own (see
//! `capacity`): a client beyond them is accepted and refused at once (the busy refusal), never
//! left waiting in the kernel's queue.

pub mod capacity;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::core::locks::LockExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

pub struct Acceptor {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    backoff: Duration,
    idle: Arc<IdleConnections>,
    addresses: Arc<AddressCounts>,
    cap: AddressCap,
    /// Written (best effort, never waited for) to a client refused for its address's cap.
    refusal: &'static [u8],
    /// The process's connection budget (see `capacity`), shared by every acceptor.
    budget: Arc<Semaphore>,
    /// Written to a client refused because the server or the process is full.
    busy: &'static [u8],
    /// The last newcomer found no slot within `SLOT_WAIT`: until a slot is free at once, the
    /// next ones are refused without waiting (one wait, not one per client in the queue).
    saturated: bool,
}

/// How many connections one client address may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressCap {
    pub per_address: usize,
    /// Loopback clients share the whole table (the default; see the module comment).
    pub loopback_exempt: bool,
}

impl AddressCap {
    /// The default share of a table of `max_connections`: an eighth, at least 8 (64 of a peer's
    /// 512, 128 of the web server's 1,024, 512 of the tracker's 4,096), loopback exempt.
    pub fn default_for(max_connections: usize) -> AddressCap {
        AddressCap {
            per_address: (max_connections / 8).max(8),
            loopback_exempt: true,
        }
    }

    /// `Some(n)`: exactly `n` per address, loopback included; `None`: the default.
    pub fn chosen(per_address: Option<usize>, max_connections: usize) -> AddressCap {
        match per_address {
            Some(n) => AddressCap {
                per_address: n.max(1),
                loopback_exempt: false,
            },
            None => AddressCap::default_for(max_connections),
        }
    }

    fn applies_to(&self, ip: IpAddr) -> bool {
        !(self.loopback_exempt && ip.is_loopback())
    }
}

/// How often a new client waiting for a slot looks again for an idle connection to close.
const EVICT_RETRY: Duration = Duration::from_millis(100);

const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// How long a client waits for a slot when every one is taken (while the acceptor looks for an
/// idle connection to close) before it is refused as busy.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// How many clients waiting in the queue one round of refusals answers when `accept()` finds
/// no descriptor left.
const SHED_PER_ROUND: usize = 256;

/// A connection's places: its slot in the table, its count against its address's cap and its
/// descriptor in the process's budget, all given back when dropped.
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    _address: AddressPermit,
    _descriptor: OwnedSemaphorePermit,
}

/// An accepted connection: its permit holds its place until dropped; its idle slot lets the
/// acceptor close it while it waits for a request.
pub struct Admitted {
    pub stream: TcpStream,
    pub addr: SocketAddr,
    pub permit: Permit,
    pub slot: IdleSlot,
}

impl Acceptor {
    /// At most `max_connections` at once (and never more than the process's capacity), and the
    /// default share per address.
    pub fn new(listener: TcpListener, max_connections: usize) -> Acceptor {
        let max_connections = max_connections.min(capacity::capacity().connections);
        Acceptor {
            listener,
            permits: Arc::new(Semaphore::new(max_connections)),
            backoff: FIRST_BACKOFF,
            idle: Arc::default(),
            addresses: Arc::default(),
            cap: AddressCap::default_for(max_connections),
            refusal: b"",
            budget: capacity::budget(),
            busy: b"",
            saturated: false,
        }
    }

    /// Replaces the process's budget (tests: a small one).
    #[cfg(test)]
    pub fn with_budget(mut self, budget: Arc<Semaphore>) -> Acceptor {
        self.budget = budget;
        self
    }

    /// What a client refused because the server or the process is full is sent before the
    /// close.
    pub fn with_busy_refusal(mut self, busy: &'static [u8]) -> Acceptor {
        self.busy = busy;
        self
    }

    /// Replaces the per-address cap.
    pub fn with_address_cap(mut self, cap: AddressCap) -> Acceptor {
        self.cap = cap;
        self
    }

    /// What a client refused for its address's cap is sent before the close.
    pub fn with_refusal(mut self, refusal: &'static [u8]) -> Acceptor {
        self.refusal = refusal;
        self
    }

    #[cfg(test)]
    pub fn address_cap(&self) -> AddressCap {
        self.cap
    }

    /// The next connection, with the permit that holds its place until dropped; `None` once
    /// `shutdown` is cancelled. A client over its address's cap is refused.
    pub async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, Permit)> {
        loop {
            let slot = tokio::select! {
                _ = shutdown.cancelled() => return None,
                permit = Arc::clone(&self.permits).acquire_owned() => permit.ok()?,
            };
            let Some((stream, addr)) = self.accept(shutdown).await? else {
                continue;
            };
            let Ok(descriptor) = Arc::clone(&self.budget).try_acquire_owned() else {
                self.refuse_busy(stream, addr, "the process is at its connection capacity");
                continue;
            };
            let Some(address) = self.admit_address(addr, false) else {
                self.refuse(stream, addr);
                continue;
            };
            let permit = Permit {
                _slot: slot,
                _address: address,
                _descriptor: descriptor,
            };
            return Some((stream, addr, permit));
        }
    }

    /// The next connection; when every slot is taken, the longest-idle connection is closed to
    /// make room (a connection busy with a request is never closed for this), and a client
    /// that finds none within `SLOT_WAIT` is refused as busy; a client over its address's cap
    /// closes that address's longest-idle connection, or is refused. `None` once `shutdown` is
    /// cancelled.
    pub async fn next_evicting(&mut self, shutdown: &CancellationToken) -> Option<Admitted> {
        loop {
            let Some((stream, addr)) = self.accept(shutdown).await? else {
                continue;
            };
            let Some(address) = self.admit_address(addr, true) else {
                self.refuse(stream, addr);
                continue;
            };
            let permits = Arc::clone(&self.permits);
            let Some(slot) = self.acquire_evicting(&permits, shutdown).await? else {
                self.refuse_busy(stream, addr, "every connection busy");
                continue;
            };
            let budget = Arc::clone(&self.budget);
            let Some(descriptor) = self.acquire_evicting(&budget, shutdown).await? else {
                self.refuse_busy(stream, addr, "the process is at its connection capacity");
                continue;
            };
            let idle = IdleSlot::for_address(&self.idle, addr.ip());
            return Some(Admitted {
                stream,
                addr,
                permit: Permit {
                    _slot: slot,
                    _address: address,
                    _descriptor: descriptor,
                },
                slot: idle,
            });
        }
    }

    /// A permit of `permits` (a slot, or a descriptor of the budget), closing idle connections
    /// until one is free; `Some(None)` if none is within `SLOT_WAIT` (at once while
    /// saturated), `None` at shutdown.
    async fn acquire_evicting(
        &mut self,
        permits: &Arc<Semaphore>,
        shutdown: &CancellationToken,
    ) -> Option<Option<OwnedSemaphorePermit>> {
        if let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
            self.saturated = false;
            return Some(Some(permit));
        }
        if self.saturated {
            // Make room for a later newcomer, if anything has gone idle meanwhile.
            self.idle.evict_oldest();
            return Some(None);
        }
        let slot = self.evict_for(permits, shutdown).await?;
        self.saturated = slot.is_none();
        Some(slot)
    }

    /// Closes idle connections until a permit is free; `Some(None)` if none is within
    /// `SLOT_WAIT`, `None` at shutdown.
    async fn evict_for(
        &self,
        permits: &Arc<Semaphore>,
        shutdown: &CancellationToken,
    ) -> Option<Option<OwnedSemaphorePermit>> {
        let give_up = tokio::time::Instant::now() + SLOT_WAIT;
        loop {
            if self.idle.evict_oldest() {
                tracing::debug!("every slot taken: closed the longest-idle connection");
            }
            // No idle connection yet (just accepted, not yet waiting), or the evicted one has
            // not let go: look again shortly rather than wait for a timeout.
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                permit = Arc::clone(permits).acquire_owned() => return Some(permit.ok()),
                _ = tokio::time::sleep(EVICT_RETRY) => {}
            }
            if tokio::time::Instant::now() >= give_up {
                return Some(None);
            }
        }
    }

    /// Counts a new connection from `addr` against its address's cap; `None` if over it (after,
    /// when `evicting`, closing the address's longest-idle connection if it has one: the
    /// newcomer then takes its place).
    fn admit_address(&self, addr: SocketAddr, evicting: bool) -> Option<AddressPermit> {
        let ip = addr.ip().to_canonical();
        let mut counts = self.addresses.lock();
        let held = counts.get(&ip).copied().unwrap_or(0);
        if self.cap.applies_to(ip) && held >= self.cap.per_address {
            if !(evicting && self.idle.evict_oldest_of(ip)) {
                return None;
            }
            tracing::debug!(%ip, "address at its cap: closed its longest-idle connection");
        }
        counts.insert(ip, held + 1);
        Some(AddressPermit {
            counts: Arc::clone(&self.addresses),
            ip,
        })
    }

    fn refuse(&self, stream: TcpStream, addr: SocketAddr) {
        tracing::info!(
            client = %addr,
            cap = self.cap.per_address,
            "refused: too many connections from this address"
        );
        answer_and_close(stream, self.refusal);
    }

    fn refuse_busy(&self, stream: TcpStream, addr: SocketAddr, why: &str) {
        tracing::info!(client = %addr, "refused: {why}");
        answer_and_close(stream, self.busy);
    }

    /// One accept; `Some(None)` after a failure (already waited out, waiting clients refused if
    /// it was for want of descriptors), `None` at shutdown.
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
                let refused = if capacity::out_of_descriptors(&e) {
                    self.shed_waiting_clients()
                } else {
                    0
                };
                tracing::warn!(
                    error = %e,
                    "accept failed; refused {refused} waiting clients; retrying in {:?}",
                    self.backoff
                );
                tokio::time::sleep(self.backoff).await;
                if refused == 0 {
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(1));
                }
                Some(None)
            }
        }
    }

    /// Out of descriptors with clients waiting in the queue: answers each (up to a round's
    /// worth) with the busy refusal through the spare descriptor, so none is left hanging.
    /// Returns how many.
    fn shed_waiting_clients(&self) -> usize {
        let mut refused = 0;
        while refused < SHED_PER_ROUND {
            let answered = capacity::with_spare_descriptor(|| {
                let (stream, _) = self.try_accept_now()?;
                answer_and_close(stream, self.busy);
                Some(())
            });
            if answered.flatten().is_none() {
                break;
            }
            refused += 1;
        }
        refused
    }

    /// An accept that does not wait: `None` if no client is waiting (or it fails).
    fn try_accept_now(&self) -> Option<(TcpStream, SocketAddr)> {
        use futures::FutureExt;
        self.listener.accept().now_or_never()?.ok()
    }
}

/// Writes `answer` into the socket's empty send buffer (never waiting) and closes it. What the
/// client has sent is read first (a little, without waiting): a close with unread data would
/// reset the connection, and a reset may discard the answer before the client reads it.
fn answer_and_close(stream: TcpStream, answer: &[u8]) {
    use std::io::{Read, Write};
    let Ok(mut stream) = stream.into_std() else {
        return;
    };
    let _ = stream.write(answer);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Open connections per client address.
#[derive(Default)]
struct AddressCounts {
    inner: Mutex<HashMap<IpAddr, usize>>,
}

impl AddressCounts {
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Single updates: a panic cannot leave the map half-changed.
        self.inner.lock_unpoisoned()
    }
}

/// One connection's count against its address; dropping it gives the count back.
struct AddressPermit {
    counts: Arc<AddressCounts>,
    ip: IpAddr,
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock();
        if let Some(held) = counts.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.ip);
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
    /// Each idle connection's client address (canonical) and eviction token, by age.
    waiting: BTreeMap<u64, (Option<IpAddr>, CancellationToken)>,
}

impl IdleConnections {
    fn lock(&self) -> MutexGuard<'_, IdleInner> {
        // Single inserts and removes: a panic cannot leave the map half-changed.
        self.inner.lock_unpoisoned()
    }

    /// Closes the connection idle the longest; false if none is idle.
    pub fn evict_oldest(&self) -> bool {
        let oldest = self.lock().waiting.pop_first();
        oldest.map(|(_, (_, evict))| evict.cancel()).is_some()
    }

    /// Closes the connection from `ip` idle the longest; false if none of its connections is
    /// idle. A linear scan: the table holds a few thousand connections at most, and this runs
    /// only for an address at its cap.
    pub fn evict_oldest_of(&self, ip: IpAddr) -> bool {
        let mut inner = self.lock();
        let key = inner
            .waiting
            .iter()
            .find(|(_, (from, _))| *from == Some(ip))
            .map(|(key, _)| *key);
        let evicted = key.and_then(|key| inner.waiting.remove(&key));
        evicted.map(|(_, evict)| evict.cancel()).is_some()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One connection's place among the idle ones: marked idle while it waits for a request, busy
/// while it has part of one or is answering. Dropping it takes the connection off the list.
pub struct IdleSlot {
    set: Arc<IdleConnections>,
    from: Option<IpAddr>,
    evict: CancellationToken,
    key: Option<u64>,
}

impl IdleSlot {
    #[cfg(test)]
    pub fn new(set: &Arc<IdleConnections>) -> IdleSlot {
        IdleSlot {
            set: Arc::clone(set),
            from: None,
            evict: CancellationToken::new(),
            key: None,
        }
    }

    /// A slot for a connection from `ip`, which an over-cap newcomer from `ip` may close.
    pub fn for_address(set: &Arc<IdleConnections>, ip: IpAddr) -> IdleSlot {
        IdleSlot {
            set: Arc::clone(set),
            from: Some(ip.to_canonical()),
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
            inner.waiting.insert(key, (self.from, self.evict.clone()));
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

    /// A client socket bound to `from` (any 127.x.y.z works on Linux loopback).
    async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        socket.connect(to).await.unwrap()
    }

    #[tokio::test]
    async fn an_address_over_its_cap_evicts_its_own_idle_connection_or_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let cap = AddressCap::chosen(Some(2), 100);
        let mut acceptor = Acceptor::new(listener, 100)
            .with_address_cap(cap)
            .with_refusal(b"no");
        let shutdown = CancellationToken::new();
        let mut held = Vec::new();
        for _ in 0..2 {
            let client = connect_from([127, 0, 0, 1], to).await;
            let mut admitted = acceptor.next_evicting(&shutdown).await.unwrap();
            admitted.slot.busy();
            held.push((client, admitted));
        }
        // A third from 127.0.0.1, with both of its connections busy: refused, and the accept
        // loop goes straight on to a client from another address.
        let mut refused = connect_from([127, 0, 0, 1], to).await;
        let _other = connect_from([127, 0, 0, 2], to).await;
        let admitted = acceptor.next_evicting(&shutdown).await.unwrap();
        assert_eq!(admitted.addr.ip(), IpAddr::from([127, 0, 0, 2]));
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut refused, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"no");
        // One of 127.0.0.1's connections goes idle: the next newcomer from there replaces it.
        held[0].1.slot.idle();
        let _newcomer = connect_from([127, 0, 0, 1], to).await;
        let admitted = acceptor.next_evicting(&shutdown).await.unwrap();
        assert_eq!(admitted.addr.ip(), IpAddr::from([127, 0, 0, 1]));
        assert!(held[0].1.slot.eviction().is_cancelled());
        assert!(!held[1].1.slot.eviction().is_cancelled());
    }

    #[tokio::test]
    async fn a_client_past_the_process_budget_is_refused_at_once_with_the_busy_line() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let mut acceptor = Acceptor::new(listener, 100)
            .with_budget(Arc::new(Semaphore::new(1)))
            .with_busy_refusal(b"busy");
        let shutdown = CancellationToken::new();
        let _first = connect_from([127, 0, 0, 1], to).await;
        let held = acceptor.next(&shutdown).await.unwrap();
        let mut refused = connect_from([127, 0, 0, 1], to).await;
        let _third = connect_from([127, 0, 0, 1], to).await;
        // The second and the third are answered and closed at once; the loop waits for more.
        let next = tokio::time::timeout(Duration::from_secs(1), acceptor.next(&shutdown));
        assert!(
            next.await.is_err(),
            "no client admitted while the budget is taken"
        );
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut refused, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"busy");
        drop(held);
        let _fourth = connect_from([127, 0, 0, 1], to).await;
        assert!(acceptor.next(&shutdown).await.is_some());
    }

    #[tokio::test]
    async fn loopback_shares_the_whole_table_by_default() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let mut acceptor = Acceptor::new(listener, 64);
        assert_eq!(acceptor.address_cap().per_address, 8);
        let shutdown = CancellationToken::new();
        let mut held = Vec::new();
        for _ in 0..20 {
            let client = connect_from([127, 0, 0, 1], to).await;
            let mut admitted = acceptor.next_evicting(&shutdown).await.unwrap();
            admitted.slot.busy();
            held.push((client, admitted));
        }
        assert!(held.iter().all(|(_, a)| !a.slot.eviction().is_cancelled()));
        assert!(AddressCap::default_for(64).applies_to([10, 0, 0, 1].into()));
    }

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
