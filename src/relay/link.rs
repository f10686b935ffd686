//! One direction of one connection: read, schedule, hold, write.
//!
//! The reader stamps each read with the moment its last byte leaves the link: when the rate cap
//! has serialised it (a clock shared by every connection of the path, as one wire is), plus the
//! delay and the jitter, and never before the previous read's moment (no reordering). The writer
//! sleeps until that moment and writes. Bytes between the two are held under a budget of
//! [`Link::capacity`] bytes (a semaphore): when it is spent the reader stops reading.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};

use super::{DirectionStats, Link};

/// The most bytes one read takes.
const READ_SIZE: usize = 64 * 1024;

/// When the link's wire is next free: shared by every connection of one direction of a path.
#[derive(Debug, Default)]
pub(super) struct Clock {
    free_at: Mutex<Option<Instant>>,
}

impl Clock {
    /// `bytes` read at `now` occupy the wire after whatever is queued before them; the moment
    /// their last byte is sent. Without a rate cap, `now`.
    fn serialise(&self, now: Instant, bytes: usize, rate: Option<u64>) -> Instant {
        let Some(rate) = rate else {
            return now;
        };
        let mut free_at = self.free_at.lock().unwrap_or_else(PoisonError::into_inner);
        let start = free_at.map_or(now, |free| free.max(now));
        let end = start + Duration::from_secs_f64(bytes as f64 / rate.max(1) as f64);
        *free_at = Some(end);
        end
    }
}

/// What the reader got, in order.
enum Segment {
    Data(Vec<u8>),
    /// The source closed its side (FIN): passed on as a FIN.
    Close,
    /// Reading failed (an RST, most often): the connection is reset, after the bytes before it.
    Abort,
}

struct Timed {
    at: Instant,
    segment: Segment,
}

/// One direction's bytes held now, added to the path's counters; what is left is taken off
/// when the connection ends however it ends.
struct Held<'a> {
    stats: &'a DirectionStats,
    mine: AtomicUsize,
}

impl Held<'_> {
    fn add(&self, bytes: usize) {
        self.mine.fetch_add(bytes, Ordering::Relaxed);
        let total = self.stats.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.stats.held_peak.fetch_max(total, Ordering::Relaxed);
    }

    fn sub(&self, bytes: usize) {
        self.mine.fetch_sub(bytes, Ordering::Relaxed);
        self.stats.held.fetch_sub(bytes, Ordering::Relaxed);
        self.stats
            .forwarded
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let left = self.mine.load(Ordering::Relaxed);
        self.stats.held.fetch_sub(left, Ordering::Relaxed);
    }
}

/// One direction of one connection.
pub(super) struct Forward<'a> {
    pub link: &'a Link,
    pub clock: &'a Clock,
    pub stats: &'a DirectionStats,
    pub silent: watch::Receiver<bool>,
    /// The jitter's random state (never zero).
    pub random: u64,
}

impl Forward<'_> {
    /// Forwards `from` to `to` until `from` closes (Ok, after passing the FIN on) or either side
    /// fails (Err: the caller resets both).
    pub async fn run(self, from: ReadHalf<'_>, to: WriteHalf<'_>) -> io::Result<()> {
        let room = Semaphore::new(self.link.capacity().min(Semaphore::MAX_PERMITS));
        let held = Held {
            stats: self.stats,
            mine: AtomicUsize::new(0),
        };
        let (timed, untimed) = mpsc::unbounded_channel();
        let reader = Reader {
            link: self.link,
            clock: self.clock,
            silent: self.silent.clone(),
            random: self.random | 1,
        };
        let read = reader.run(from, &room, &held, timed);
        let write = write_side(to, &room, &held, untimed, self.silent);
        tokio::try_join!(read, write).map(|_| ())
    }
}

struct Reader<'a> {
    link: &'a Link,
    clock: &'a Clock,
    silent: watch::Receiver<bool>,
    random: u64,
}

impl Reader<'_> {
    /// Reads while there is room, stamps each read with its delivery moment, hands it on. The
    /// channel is unbounded in messages but each holds at least one byte of the budget (or is
    /// the last).
    async fn run(
        mut self,
        mut from: ReadHalf<'_>,
        room: &Semaphore,
        held: &Held<'_>,
        timed: mpsc::UnboundedSender<Timed>,
    ) -> io::Result<()> {
        let mut scratch = vec![0u8; READ_SIZE];
        let mut last = Instant::now();
        loop {
            wait_while_silent(&mut self.silent).await;
            let reserved = reserve(room).await;
            let read = from.read(&mut scratch[..reserved]).await;
            let now = Instant::now();
            let (segment, bytes) = match read {
                Ok(0) => (Segment::Close, 0),
                Ok(n) => (Segment::Data(scratch[..n].to_vec()), n),
                Err(_) => (Segment::Abort, 0),
            };
            room.add_permits(reserved - bytes);
            held.add(bytes);
            let sent = self.clock.serialise(now, bytes, self.link.rate);
            let at = (sent + self.link.delay + self.jitter()).max(last);
            last = at;
            let end = !matches!(segment, Segment::Data(_));
            // A closed channel: the writer failed, and its error ends the connection.
            if timed.send(Timed { at, segment }).is_err() || end {
                return Ok(());
            }
        }
    }

    /// Uniform in `[0, jitter]` (xorshift64*).
    fn jitter(&mut self) -> Duration {
        if self.link.jitter.is_zero() {
            return Duration::ZERO;
        }
        self.random ^= self.random >> 12;
        self.random ^= self.random << 25;
        self.random ^= self.random >> 27;
        let draw = self.random.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        self.link.jitter.mul_f64(draw as f64 / (1u64 << 53) as f64)
    }
}

/// Takes as much of the budget as is free, up to one read's worth, waiting for at least one
/// byte of it. Only this direction's reader takes from `room`, so what it sees free stays free.
async fn reserve(room: &Semaphore) -> usize {
    match room.acquire().await {
        Ok(first) => first.forget(),
        // Never closed; were it, reading one byte at a time is still bounded.
        Err(_) => return 1,
    }
    let more = room.available_permits().min(READ_SIZE - 1);
    if let Ok(permits) = room.try_acquire_many(more as u32) {
        permits.forget();
        return 1 + more;
    }
    1
}

/// Delivers each segment at its moment, giving its bytes back to the budget once written.
async fn write_side(
    mut to: WriteHalf<'_>,
    room: &Semaphore,
    held: &Held<'_>,
    mut untimed: mpsc::UnboundedReceiver<Timed>,
    mut silent: watch::Receiver<bool>,
) -> io::Result<()> {
    while let Some(Timed { at, segment }) = untimed.recv().await {
        // The timer rounds up to the next millisecond: a segment already due is not put
        // through it (at full speed every segment is due, and would wait up to 1 ms each).
        if at > Instant::now() {
            tokio::time::sleep_until(at.into()).await;
        }
        match segment {
            Segment::Data(bytes) => {
                write_unless_silent(&mut to, &bytes, &mut silent).await?;
                room.add_permits(bytes.len());
                held.sub(bytes.len());
            }
            Segment::Close => {
                wait_while_silent(&mut silent).await;
                return to.shutdown().await;
            }
            Segment::Abort => {
                wait_while_silent(&mut silent).await;
                return Err(io::ErrorKind::ConnectionReset.into());
            }
        }
    }
    Ok(())
}

/// Writes all of `bytes`, pausing while the path is silent: a write under way is abandoned
/// when silence starts (a tokio write either writes or does nothing) and resumed after it.
async fn write_unless_silent(
    to: &mut WriteHalf<'_>,
    bytes: &[u8],
    silent: &mut watch::Receiver<bool>,
) -> io::Result<()> {
    let mut written = 0;
    while written < bytes.len() {
        wait_while_silent(silent).await;
        tokio::select! {
            biased;
            _ = silent.wait_for(|silent| *silent) => {}
            wrote = to.write(&bytes[written..]) => match wrote? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => written += n,
            },
        }
    }
    Ok(())
}

async fn wait_while_silent(silent: &mut watch::Receiver<bool>) {
    // The sender lives as long as the relay's control, which outlives every connection.
    let _ = silent.wait_for(|silent| !*silent).await;
}
