//! How a tracker member (`--join` peer, `--sync` synchronizer) gets back to its tracker: one
//! policy for both. The wait before each attempt is jittered exponential backoff ("full
//! jitter": uniform between zero and a ceiling that doubles per failure, from 1 s up to 30 s),
//! so that when a tracker restarts its thousands of members do not all reconnect on the same
//! tick, nor retry in lockstep; a connection that worked (the tracker answered) starts the
//! ceiling over.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The ceiling of the first wait, doubled per failure up to `MAX_WAIT`.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// A connect attempt that takes longer has failed (a tracker whose queue is full).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The backoff schedule, pure: `wait` takes a random number in [0, 1).
#[derive(Debug, Clone)]
pub struct Backoff {
    ceiling: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            ceiling: FIRST_WAIT,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt (`random` in [0, 1)); the ceiling doubles.
    pub fn wait(&mut self, random: f64) -> Duration {
        let wait = self.ceiling.mul_f64(random.clamp(0.0, 1.0));
        self.ceiling = (self.ceiling * 2).min(MAX_WAIT);
        wait
    }

    /// A working connection: the next wait starts from the first ceiling again.
    pub fn reset(&mut self) {
        self.ceiling = FIRST_WAIT;
    }
}

/// A member's way back to its tracker at `addr`.
pub struct Reconnect {
    addr: String,
    backoff: Backoff,
    /// A connection already made (the synchronizer's first, made at startup).
    ready: Option<TcpStream>,
    /// Whether the next attempt waits first (after a lost connection or a failed attempt).
    wait_first: bool,
    random: Random,
}

impl Reconnect {
    /// The first attempt is made at once.
    pub fn new(addr: &str) -> Reconnect {
        Reconnect {
            addr: addr.to_string(),
            backoff: Backoff::default(),
            ready: None,
            wait_first: false,
            random: Random::seeded(),
        }
    }

    /// Starting from a connection already made.
    pub fn with_connection(addr: &str, stream: TcpStream) -> Reconnect {
        Reconnect {
            ready: Some(stream),
            ..Reconnect::new(addr)
        }
    }

    /// The next connection to the tracker, after the backoff's wait; `None` at shutdown.
    pub async fn connect(&mut self, shutdown: &CancellationToken) -> Option<TcpStream> {
        if let Some(stream) = self.ready.take() {
            return Some(stream);
        }
        loop {
            if self.wait_first {
                let wait = self.backoff.wait(self.random.next());
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            self.wait_first = true;
            let attempt = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr));
            let failed = tokio::select! {
                _ = shutdown.cancelled() => return None,
                attempt = attempt => match attempt {
                    Ok(Ok(stream)) => return Some(stream),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {CONNECT_TIMEOUT:?}"),
                },
            };
            warn!(
                "cannot reach tracker {}: {failed}; retrying within {:?}",
                self.addr, self.backoff.ceiling
            );
        }
    }

    /// A connection ended: why, and whether the tracker had answered on it. Said in the log
    /// with the longest wait before the next attempt.
    pub fn ended(&mut self, why: &str, replied: bool, shutdown: &CancellationToken) {
        if replied {
            self.backoff.reset();
        }
        self.wait_first = true;
        if !shutdown.is_cancelled() {
            warn!(
                "tracker {}: {why}; reconnecting in at most {:?}",
                self.addr, self.backoff.ceiling
            );
        }
    }

    /// Said once a connection after the first is made.
    pub fn say_reconnected(&self) {
        info!("reconnected to tracker {}", self.addr);
    }
}

/// A small xorshift generator for the jitter (no cryptographic needs; seeded per process and
/// per member so that members started together still spread out).
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        use std::sync::atomic::{AtomicU64, Ordering};
        static MEMBERS: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = now
            ^ (u64::from(std::process::id()) << 32)
            ^ MEMBERS
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Random(seed | 1)
    }

    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_to_the_maximum_and_a_working_connection_starts_it_over() {
        let mut b = Backoff::default();
        let ceilings: Vec<Duration> = (0..7).map(|_| b.wait(0.999_999)).collect();
        let secs: Vec<u64> = ceilings
            .iter()
            .map(|d| d.as_secs_f64().round() as u64)
            .collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.wait(0.0), Duration::ZERO);
        b.reset();
        assert_eq!(b.wait(0.5), FIRST_WAIT / 2);
    }

    #[test]
    fn members_started_together_spread_their_first_attempt_over_the_first_ceiling() {
        let waits: Vec<Duration> = (0..1000)
            .map(|_| Backoff::default().wait(Random::seeded().next()))
            .collect();
        assert!(waits.iter().all(|w| *w < FIRST_WAIT));
        // Ten 100 ms buckets, none holding more than twice its share.
        let mut buckets = [0usize; 10];
        for w in &waits {
            buckets[(w.as_millis() / 100) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| n < 200), "{buckets:?}");
    }
}
