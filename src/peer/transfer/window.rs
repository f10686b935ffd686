//! Each serving peer's window — how many chunk requests it has in flight — sized from what it
//! delivers, as libtorrent sizes its request queue: requests in flight = delivery rate × a
//! target queue time, clamped, with slow start.
//!
//! Here the queue time is the peer's own round trip (with some slack) plus a small fixed
//! margin: `window = max rate × (2.5 × min round trip + 2 ms)`.
//! - A fast peer on loopback delivers millions of chunks a second: hundreds in flight (the cap).
//! - A distant but fast peer: its rate grows with the window (it is latency-bound), so the
//!   window grows round after round up to the cap.
//! - A peer that sleeps between chunks (`--chunk-delay 40`) delivers 25 a second however many
//!   are asked of it: two in flight, so the log reads request, reply, request, as in the seed
//!   (one request ahead), and a slow peer never holds hundreds of chunks hostage while the
//!   others finish.
//!
//! The window at most doubles per round (slow start, from 2, or from a first flight of
//! [`FIRST_FLIGHT`] for a peer known to serve at full speed) and at most halves per round,
//! and is never below 2 (see [`floor`]), unless the cap is 1 (lockstep). While it is still
//! filling a path (each round's rate at least [`FILLING_RATE_GAIN`] times the last, and the
//! rate supporting the window it has), it grows [`FILLING_GROWTH`] times per round instead:
//! windows count 100-byte chunks, not TCP's 1,448-byte segments, so a 100 Mbit/s path at
//! 100 ms (9,000 replies in flight) takes doubling from 2 twelve round trips (1.2 s) where TCP
//! fills it from its 10 segments in six; growing 16 times it takes four. The first round that
//! does not grow the rate, or whose rate no longer supports the window, ends the filling for
//! good, so a slow peer (`--chunk-delay`) never sees it. What a round may overshoot by is
//! bounded by the cap (the memory budget's share) and shed within rounds of at most
//! [`MAX_ROUND`] (or two round trips).
//! A round lasts until the replies to a window's worth of requests (and at least two) have
//! arrived, or [`MAX_ROUND`] passed, and at least [`MIN_ROUND`] so that the rate is measured
//! over more than a clock tick. The rate is the best
//! of the last [`RATE_ROUNDS`] rounds, so a peer that slows down gets a smaller window within a
//! few rounds; a round in which the client had fewer chunks to ask for than the window allowed
//! (the reassembly ring was full) does not lower it.
//!
//! Pure: the caller passes the time, so the simulation in `window_sim.rs` drives it in virtual
//! time over many random peers and schedules.

use std::collections::VecDeque;
use std::time::Duration;

/// The fixed part of the target queue time.
pub const QUEUE_MARGIN: Duration = Duration::from_millis(2);
/// The round trip's share of the target queue time. Requests go out in batches once half the
/// window has drained (`Scheduler::request`), so a latency-bound peer has between half and all
/// of its window in flight: 2 round trips' worth keeps it busy, and a half more lets the
/// window grow while its rate does.
const RTT_GAIN: f64 = 2.5;
/// A round lasts at least this long.
pub const MIN_ROUND: Duration = Duration::from_millis(1);
/// And ends after this long (or two round trips, if longer) even if fewer than a window of
/// replies came: a peer that slowed down is seen before it drains hundreds of requests.
pub const MAX_ROUND: Duration = Duration::from_millis(50);
/// Rate samples kept (one per round): the window follows the best of them.
pub const RATE_ROUNDS: usize = 8;
/// How many times a window still filling its path grows per round.
pub const FILLING_GROWTH: usize = 16;
/// The first flight to a peer that announces `compact` (a p2p-tui peer serving at full speed;
/// one at `--chunk-delay` does not): 128 chunks, 13 kB of replies, under the ten segments
/// (14 kB) TCP starts with. From 2, a window of 100-byte chunks takes two rounds more to reach
/// the 12,000 replies a 100 Mbit/s path holds at 100 ms.
pub const FIRST_FLIGHT: usize = 128;
/// A round's rate at least this many times the previous round's: the path is not full yet
/// (a latency-bound peer's rate grows with its window, here up to 16 times per round).
pub const FILLING_RATE_GAIN: f64 = 1.5;

#[derive(Debug, Clone)]
pub struct AdaptiveWindow {
    /// The most requests in flight this peer may ever get (the configured window, bounded).
    cap: usize,
    window: usize,
    /// Requests sent and replies received so far (counts, not indices).
    sent: u64,
    delivered: u64,
    /// When each batch of requests left: (requests sent before it, time). The round trip is
    /// timed to the answer of a batch's first request: the later ones also wait for the
    /// peer to serve the ones before them (and, at `--chunk-delay`, for its sleeps). At most
    /// one entry per batch in flight, so never more than the window.
    batches: VecDeque<(u64, Duration)>,
    /// The shortest round trip seen: the peer's latency without queueing.
    min_rtt: Option<Duration>,
    round: Round,
    /// Delivery rates of the last rounds, chunks per second (newest last).
    rates: VecDeque<f64>,
    /// Still filling the path: every round so far grew the rate (see the module's notes).
    filling: bool,
    /// The last round's rate, if it was not app-limited.
    last_rate: Option<f64>,
    /// The current round is a first flight's: its window was given, not earned, so a rate
    /// that does not support it ends nothing (the window shrinks, slow start goes on).
    first_flight: bool,
}

#[derive(Debug, Clone, Copy)]
struct Round {
    start: Duration,
    delivered_at_start: u64,
    /// Replies that end the round (the window when it began).
    length: u64,
    /// The client had less to ask for than the window allowed at some point in the round.
    app_limited: bool,
}

impl AdaptiveWindow {
    /// A window that starts at 2 (slow start; 1 if `cap` is 1) and never exceeds `cap`.
    pub fn new(cap: usize) -> AdaptiveWindow {
        AdaptiveWindow {
            cap: cap.max(1),
            window: floor(cap.max(1)),
            sent: 0,
            delivered: 0,
            batches: VecDeque::new(),
            min_rtt: None,
            round: Round {
                start: Duration::ZERO,
                delivered_at_start: 0,
                length: 1,
                app_limited: false,
            },
            rates: VecDeque::with_capacity(RATE_ROUNDS),
            filling: true,
            last_rate: None,
            first_flight: false,
        }
    }

    /// Requests in flight the peer may have now.
    pub fn window(&self) -> usize {
        self.window
    }

    /// A first flight of `size` requests instead of slow start's 2 (within the cap), its round
    /// already counted as filling the path: for a peer known to serve at full speed (see
    /// [`FIRST_FLIGHT`]). Its first round's rate still has to support the window, so a peer that
    /// turns out slow is shrunk from there (at most halved per round) and never filled.
    pub fn first_flight(&mut self, size: usize) {
        self.window = size.clamp(floor(self.cap), self.cap);
        // Its round lasts until the whole flight is answered, as any round's.
        self.round.length = self.window as u64;
        self.last_rate = Some(0.0);
        self.first_flight = true;
    }

    /// The configured bound changed (the peer turned out to pipeline, or fell back to lockstep).
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        self.window = self.window.clamp(floor(self.cap), self.cap);
    }

    /// `count` requests left at `now`; `limited`: the client had fewer chunks to ask for than
    /// the window had room for.
    pub fn sent(&mut self, count: usize, now: Duration, limited: bool) {
        if self.delivered == self.round.delivered_at_start && self.sent == self.delivered {
            // Nothing in flight and nothing delivered in this round yet: it starts now, not
            // when the last round ended (the peer was not asked for anything meanwhile).
            self.round.start = now;
        }
        self.round.app_limited |= limited;
        if count == 0 {
            return;
        }
        // Several batches at one instant are one for timing.
        if self.batches.back().is_none_or(|&(_, at)| at != now) {
            self.batches.push_back((self.sent, now));
        }
        self.sent += count as u64;
    }

    /// `count` replies arrived at `now`.
    pub fn delivered(&mut self, count: usize, now: Duration) {
        if count == 0 {
            return;
        }
        self.delivered = (self.delivered + count as u64).min(self.sent);
        let mut answered = None;
        while let Some(&(before, at)) = self.batches.front() {
            if before >= self.delivered {
                break;
            }
            answered = Some(at);
            self.batches.pop_front();
        }
        if let Some(at) = answered {
            let rtt = now.saturating_sub(at);
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        let round = self.round;
        let got = self.delivered - round.delivered_at_start;
        let elapsed = now.saturating_sub(round.start);
        let longest = MAX_ROUND.max(2 * self.min_rtt.unwrap_or_default());
        // One reply measures a round trip, not a rate: a peer that sleeps after each chunk
        // answers its very first request at once.
        let enough = got >= round.length.max(2) || (got >= 1 && elapsed >= longest);
        if !enough || elapsed < MIN_ROUND {
            return;
        }
        let rate = got as f64 / elapsed.as_secs_f64();
        if !round.app_limited || rate > self.best_rate() {
            if self.rates.len() == RATE_ROUNDS {
                self.rates.pop_front();
            }
            self.rates.push_back(rate);
        }
        let filling = self.still_filling(rate, round.app_limited);
        self.resize(filling);
        self.round = Round {
            start: now,
            delivered_at_start: self.delivered,
            length: self.window as u64,
            app_limited: false,
        };
    }

    fn best_rate(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }

    /// Whether this round, at `rate`, shows the path still filling; a round that does not
    /// ends the filling (an app-limited round says nothing either way).
    fn still_filling(&mut self, rate: f64, app_limited: bool) -> bool {
        if app_limited || !self.filling {
            return false;
        }
        let grew = self.last_rate.map(|last| rate >= FILLING_RATE_GAIN * last);
        self.last_rate = Some(rate);
        if grew == Some(false) {
            self.filling = false;
        }
        grew == Some(true)
    }

    fn resize(&mut self, filling: bool) {
        let rtt = self.min_rtt.unwrap_or_default().as_secs_f64();
        let queue_time = RTT_GAIN * rtt + QUEUE_MARGIN.as_secs_f64();
        let target = (self.best_rate() * queue_time).ceil();
        // Saturating: a rate of `inf` (a sample over zero time) must not wrap.
        let target = if target.is_finite() && target < self.cap as f64 {
            (target as usize).max(1)
        } else {
            self.cap
        };
        // Filling: the rate supports the window it has and grows with it, so the target
        // (this round's rate) lags the path; the next round measures the larger window.
        let grown = if filling && target >= self.window {
            self.window.saturating_mul(FILLING_GROWTH)
        } else {
            // A rate that no longer supports the window: the path is full, for good.
            self.filling &= !filling || self.first_flight;
            target.min(self.window.saturating_mul(2))
        };
        self.window = grown.max(self.window / 2).clamp(floor(self.cap), self.cap);
        self.first_flight = false;
    }
}

/// The smallest window: 2 for a peer that pipelines, so that its next request is already
/// waiting when it finishes a reply (and, at `--chunk-delay`, when it wakes from its sleep):
/// on a busy machine a window of 1 also waits for the client to be scheduled between any two
/// chunks, which at load 7 on two cores cut a demo peer's rate to a fifth. 1 in lockstep.
fn floor(cap: usize) -> usize {
    cap.min(2)
}

#[cfg(test)]
#[path = "window_sim.rs"]
mod simulation;

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn starts_at_two_and_stays_within_the_cap() {
        assert_eq!(AdaptiveWindow::new(1).window(), 1, "lockstep");
        let mut w = AdaptiveWindow::new(4);
        assert_eq!(w.window(), 2);
        let mut now = Duration::ZERO;
        for _ in 0..50 {
            let n = w.window();
            w.sent(n, now, false);
            now += Duration::from_micros(10);
            w.delivered(n, now);
            now += MS;
            assert!((1..=4).contains(&w.window()));
        }
        assert_eq!(w.window(), 4, "a fast peer reaches the cap");
        w.set_cap(1);
        assert_eq!(w.window(), 1);
    }

    /// A latency-bound peer: every window delivered in one round trip of 2 ms.
    fn latency_bound_rounds(w: &mut AdaptiveWindow, rounds: usize) -> Vec<usize> {
        let mut now = Duration::ZERO;
        (0..rounds)
            .map(|_| {
                let n = w.window();
                w.sent(n, now, false);
                now += 2 * MS;
                w.delivered(n, now);
                w.window()
            })
            .collect()
    }

    #[test]
    fn slow_start_doubles_then_grows_sixteen_times_while_the_rate_follows() {
        let mut w = AdaptiveWindow::new(1 << 20);
        let windows = latency_bound_rounds(&mut w, 10);
        // Round 1 has no earlier rate to compare with: doubled; then x16 per round.
        assert_eq!(windows[..4], [4, 64, 1024, 16384], "{windows:?}");
    }

    #[test]
    fn a_round_that_does_not_grow_the_rate_ends_the_filling_for_good() {
        let mut w = AdaptiveWindow::new(1 << 20);
        latency_bound_rounds(&mut w, 3);
        assert_eq!(w.window(), 1024);
        // The path is full: 1,024 replies take as long as 64 did in a round trip (the rate
        // stays).
        let mut now = Duration::from_secs(1);
        w.sent(1024, now, false);
        now += 32 * MS;
        w.delivered(1024, now);
        assert!(!w.filling);
        let before = w.window();
        // A latency-bound round again: back to at most doubling.
        let n = w.window();
        w.sent(n, now, false);
        now += 2 * MS;
        w.delivered(n, now);
        assert!(w.window() <= 2 * before, "{} after {before}", w.window());
    }

    #[test]
    fn a_peer_that_sleeps_between_chunks_never_fills() {
        let mut w = AdaptiveWindow::new(4096);
        let mut now = Duration::ZERO;
        // Sends a chunk 100 us after its request, then sleeps 40 ms (`--chunk-delay 40`).
        let mut awake_at = Duration::ZERO;
        for _ in 0..20 {
            let n = w.window();
            w.sent(n, now, false);
            for _ in 0..n {
                now = awake_at.max(now + MS / 10);
                w.delivered(1, now);
                awake_at = now + 40 * MS;
            }
            assert!(w.window() <= 2, "window {}", w.window());
        }
        assert!(!w.filling);
    }

    #[test]
    fn replies_without_requests_are_not_counted_twice() {
        let mut w = AdaptiveWindow::new(8);
        w.sent(1, Duration::ZERO, false);
        w.delivered(5, MS * 2);
        assert_eq!(w.delivered, 1);
        w.delivered(1, MS * 3);
        assert_eq!(w.delivered, 1);
        assert!(w.window() >= 1);
    }
}
