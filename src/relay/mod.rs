//! A TCP relay for tests and benchmarks: a network path with a distance and a width.
//!
//! [`Relay::start`] listens on 127.0.0.1 (an ephemeral port) and forwards every connection it
//! accepts to one target address. Each direction is a [`Link`]: a one-way delay, a jitter that
//! never reorders bytes (a TCP stream stays in order), a rate cap, and a bounded queue. When a
//! direction holds as many bytes as its link allows, the relay stops reading from that side, so
//! TCP's flow control reaches the sender as it would behind a real bottleneck: the relay is a
//! link, not an infinite buffer. At run time, through the [`RelayControl`] handle, the path can
//! go silent (nothing forwarded either way, connections kept open: a peer that stops answering)
//! and come back, or reset every connection it carries (an RST both ways: `SO_LINGER` 0).
//!
//! The relay runs on a thread of its own with its own runtime, so a plain `#[test]`, a
//! benchmark's `main` or async code can all use it; dropping the [`Relay`] stops it and closes
//! its connections (blocking until its thread has ended, a few milliseconds). It imports only std and tokio, and talks only to the addresses it is given.

mod link;
mod path;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

/// One direction of the path.
#[derive(Clone, Debug)]
pub struct Link {
    /// Added to every byte's trip, on top of the time the rate cap queues it.
    pub delay: Duration,
    /// Each read's bytes wait a further uniform random time in `[0, jitter]`, but never leave
    /// before bytes read earlier: the stream is delayed unevenly, never reordered.
    pub jitter: Duration,
    /// Bytes per second; `None`: as fast as the relay can copy.
    pub rate: Option<u64>,
    /// Bytes that may wait for the rate cap (the link's buffer). With no rate cap, every byte
    /// the link holds counts here, so the rate is then at most `queue / delay`.
    pub queue: usize,
}

impl Default for Link {
    /// No delay, no jitter, no cap, a 1 MiB buffer.
    fn default() -> Link {
        Link {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            queue: 1 << 20,
        }
    }
}

impl Link {
    /// A link with this one-way `delay`, otherwise the default.
    pub fn delayed(delay: Duration) -> Link {
        Link {
            delay,
            ..Link::default()
        }
    }

    /// The most bytes one connection's direction holds at once: the queue, plus what the rate
    /// lets into the delay line (the bytes "on the wire"). Never zero.
    pub fn capacity(&self) -> usize {
        let on_the_wire = self.rate.map_or(0.0, |rate| {
            rate as f64 * (self.delay + self.jitter).as_secs_f64()
        });
        self.queue
            .saturating_add(on_the_wire.ceil() as usize)
            .max(1)
    }
}

/// Both directions of the path.
#[derive(Clone, Debug, Default)]
pub struct RelayConfig {
    /// Client to target.
    pub upstream: Link,
    /// Target to client.
    pub downstream: Link,
    /// Seeds the jitter (each connection's direction draws its own sequence from it).
    pub seed: u64,
}

impl RelayConfig {
    /// The same link both ways (a round trip of twice its delay).
    pub fn symmetric(link: Link) -> RelayConfig {
        RelayConfig {
            upstream: link.clone(),
            downstream: link,
            seed: 1,
        }
    }
}

/// Which way bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to target.
    Upstream,
    /// Target to client.
    Downstream,
}

/// Counters for one direction, over all connections.
#[derive(Debug, Default)]
struct DirectionStats {
    forwarded: AtomicU64,
    held: AtomicUsize,
    held_peak: AtomicUsize,
}

/// The switches and counters of a running relay, shared with its tasks.
#[derive(Debug)]
pub struct RelayControl {
    silent: watch::Sender<bool>,
    resets: watch::Sender<u64>,
    upstream: DirectionStats,
    downstream: DirectionStats,
    accepted: AtomicU64,
    open: AtomicUsize,
}

impl RelayControl {
    fn new() -> RelayControl {
        RelayControl {
            silent: watch::Sender::new(false),
            resets: watch::Sender::new(0),
            upstream: DirectionStats::default(),
            downstream: DirectionStats::default(),
            accepted: AtomicU64::new(0),
            open: AtomicUsize::new(0),
        }
    }

    /// Silent: from now on no byte is written to either side (a write under way stops between
    /// two system calls) and, once each direction has read what it was reading, none is read;
    /// connections stay open and new ones are accepted. Not silent: everything held is
    /// delivered (late) and forwarding resumes.
    pub fn set_silent(&self, silent: bool) {
        self.silent.send_replace(silent);
    }

    pub fn is_silent(&self) -> bool {
        *self.silent.borrow()
    }

    /// Closes every connection open now, both sides, with an RST (`SO_LINGER` 0), dropping what
    /// the relay held. Returns at once; [`RelayControl::open`] falls to 0 when it is done.
    /// Connections accepted afterwards are forwarded as usual.
    pub fn reset(&self) {
        self.resets.send_modify(|generation| *generation += 1);
    }

    fn stats(&self, direction: Direction) -> &DirectionStats {
        match direction {
            Direction::Upstream => &self.upstream,
            Direction::Downstream => &self.downstream,
        }
    }

    /// Bytes written out in this direction so far.
    pub fn forwarded(&self, direction: Direction) -> u64 {
        self.stats(direction).forwarded.load(Ordering::Relaxed)
    }

    /// Bytes read in this direction and not yet written out, over all connections.
    pub fn held(&self, direction: Direction) -> usize {
        self.stats(direction).held.load(Ordering::Relaxed)
    }

    /// The most [`RelayControl::held`] has ever been.
    pub fn held_peak(&self, direction: Direction) -> usize {
        self.stats(direction).held_peak.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// A running relay; dropping it stops it and closes its connections.
pub struct Relay {
    addr: SocketAddr,
    control: Arc<RelayControl>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens on 127.0.0.1 (an ephemeral port) and forwards each connection to `target`.
    pub fn start(target: SocketAddr, config: RelayConfig) -> io::Result<Relay> {
        let listener = StdListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let control = Arc::new(RelayControl::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let path = path::Path::new(target, config, Arc::clone(&control));
        let thread = std::thread::Builder::new()
            .name(format!("relay-{}", addr.port()))
            .spawn(move || runtime.block_on(path.run(listener, stopped)))?;
        Ok(Relay {
            addr,
            control,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The switches and counters, shareable with other threads.
    pub fn control(&self) -> Arc<RelayControl> {
        Arc::clone(&self.control)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
