//! A slow peer does not set the pace. Round robin stays the allocation while peers keep pace;
//! two rules move work when one does not (both off with `--strict-round-robin`):
//!
//! - **Far behind.** A peer with nothing left to ask for (its own share done, or out of the
//!   ring's reach) looks at the others' chunks not yet requested. Peer V is far behind when the
//!   chunks it still has to request, at its measured rate, take more than [`FACTOR`] times what
//!   the idle peer needs for them (at its own rate, plus its round trip) plus [`MARGIN`]. The idle
//!   peer then requests V's smallest unrequested chunks, a window at a time, re-judging each
//!   time. Equal peers are never far behind (the factor absorbs noise in the rates), and a tail
//!   shorter than the margin is not worth breaking the seed's pattern for.
//! - **Endgame.** Once at most [`ENDGAME_CHUNKS`] chunks are missing, an idle peer asks a
//!   second time for the chunks awaited from a peer far behind by the same rule, counting its
//!   requests in flight (each chunk at most twice in all). The first reply is kept; the second
//!   is discarded and counted. Equal peers never get there: their last chunks are on the way.
//!
//! Rates are measured here from the scheduler's own events (requests and replies at the times
//! the caller passes), over the time a peer had requests in flight, so a peer kept idle by the
//! others is not judged slow; and a peer is judged only after [`JUDGED_AFTER`] (and two of its
//! round trips), at its best rate, so a stall of its process is not taken for slowness.

use std::time::Duration;

use super::Scheduler;

/// A peer is far behind when it needs more than this many times what an idle peer needs.
pub const FACTOR: f64 = 2.0;
/// ... plus this much.
pub const MARGIN: Duration = Duration::from_millis(100);
/// The endgame: at most this many chunks missing (a few windows of a slow peer: it never
/// doubles more than a few requests).
pub const ENDGAME_CHUNKS: u64 = 32;
/// A peer is judged far behind only once it has been busy this long: a serving process
/// descheduled on a loaded machine delivers nothing for tens of milliseconds (up to a hundred
/// in the simulation), which over a shorter measure looks like a slow peer. Over this long, a
/// stall of 100 ms leaves an equal peer at 60 % of its rate, inside [`FACTOR`]. It is half of
/// the half second a slow peer may add to a download (issue 29), and a slow peer is seen
/// within it (a peer at `--chunk-delay 2` delivers 125 chunks in it).
pub const JUDGED_AFTER: Duration = Duration::from_millis(250);
/// An idle peer's own rate is taken over at least this long (see [`Meter::rate_at_least`]).
const MIN_MEASURED: Duration = Duration::from_millis(5);
/// Rates are measured over the last one or two periods this long (a peer that slows down is
/// seen within two).
const RATE_PERIOD: Duration = Duration::from_secs(1);
/// Idle peers are woken this often (on a reply) to look again: being far behind is a matter
/// of time passing.
pub const RECHECK: Duration = Duration::from_millis(5);

/// A peer's delivery rate, over the time it had requests in flight.
#[derive(Debug, Default, Clone)]
pub(super) struct Meter {
    delivered: u64,
    busy: Duration,
    busy_since: Option<Duration>,
    /// The period before the current one: (replies, busy time).
    previous: Option<(u64, Duration)>,
    /// A batch left with nothing in flight at this time: its first reply times a round trip.
    asked_at: Option<Duration>,
    /// The shortest round trip seen.
    rtt: Option<Duration>,
}

impl Meter {
    /// Requests left at `now`; `was_idle`: nothing was in flight before.
    pub(super) fn asked(&mut self, now: Duration, was_idle: bool) {
        if was_idle {
            self.busy_since = Some(now);
            self.asked_at = Some(now);
        }
    }

    /// A reply arrived at `now`; `idle_after`: nothing is in flight any more.
    pub(super) fn delivered(&mut self, now: Duration, idle_after: bool) {
        self.delivered += 1;
        if let Some(at) = self.asked_at.take() {
            let rtt = now.saturating_sub(at);
            self.rtt = Some(self.rtt.map_or(rtt, |r| r.min(rtt)));
        }
        if idle_after && let Some(since) = self.busy_since.take() {
            self.busy += now.saturating_sub(since);
        }
        let busy = self.busy_at(now);
        if busy >= RATE_PERIOD {
            self.previous = Some((self.delivered, busy));
            self.delivered = 0;
            self.busy = Duration::ZERO;
            self.busy_since = self.busy_since.map(|_| now);
        }
    }

    fn busy_at(&self, now: Duration) -> Duration {
        self.busy
            + self
                .busy_since
                .map_or(Duration::ZERO, |s| now.saturating_sub(s))
    }

    /// Chunks per second at most, for judging whether this peer is far behind: its replies
    /// and its `in_flight` requests (as if all answered now) over the time it was busy. `None`
    /// until busy for [`JUDGED_AFTER`] and two of its round trips: a rate measured over less
    /// is the window's ramp or a stall, not the peer. A peer with requests in flight over a
    /// 200 ms round trip has delivered none of them in 250 ms, and is given the benefit of the
    /// doubt.
    pub(super) fn rate_at_most(&self, now: Duration, in_flight: usize) -> Option<f64> {
        let (mut replies, mut busy) = (self.delivered, self.busy_at(now));
        if let Some((r, b)) = self.previous {
            replies += r;
            busy += b;
        }
        let judged_after = JUDGED_AFTER.max(2 * self.rtt.unwrap_or_default());
        let at_most = (replies + in_flight as u64).max(1);
        (busy >= judged_after).then(|| at_most as f64 / busy.as_secs_f64())
    }

    /// At least how many chunks per second, for an idle peer judging what it would need: a
    /// peer that delivered its whole share in less than [`MIN_MEASURED`] (a small file on a
    /// fast path) is taken to have been busy that long. `None` before its first reply.
    pub(super) fn rate_at_least(&self, now: Duration) -> Option<f64> {
        let replies = self.delivered + self.previous.map_or(0, |(r, _)| r);
        let busy = self.busy_at(now) + self.previous.map_or(Duration::ZERO, |(_, b)| b);
        (replies > 0).then(|| replies as f64 / busy.max(MIN_MEASURED).as_secs_f64())
    }
}

/// Chunks that moved from one serving peer to another while both were serving.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub from: usize,
    pub to: usize,
    pub chunks: u64,
    pub why: Why,
    /// The first move between these two peers (said in the log; later ones only counted).
    pub first: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// `from` was far behind: it had `queued` chunks to request, `theirs` seconds of work at
    /// its rate, where `to` needed `ours`.
    FarBehind { queued: u64, theirs: f64, ours: f64 },
    /// The last chunks, asked a second time.
    Endgame,
}

/// What rebalancing did in one download, for its closing line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rebalanced {
    /// (from, to, chunks) moved because `from` was far behind.
    pub far_behind: Vec<(usize, usize, u64)>,
    /// Chunks asked a second time at the endgame.
    pub asked_twice: u64,
    /// Second replies discarded.
    pub discarded: u64,
}

impl Rebalanced {
    pub fn is_empty(&self) -> bool {
        self.far_behind.is_empty() && self.asked_twice == 0
    }
}

/// A serving peer found far behind.
struct Behind {
    peer: usize,
    queued: u64,
    theirs: f64,
    ours: f64,
}

impl Scheduler {
    /// What `to` takes now, having nothing of its own to request: from a peer far behind, or
    /// at the endgame.
    pub(super) fn rebalance(&mut self, to: usize, room: usize, limit: u64) -> Vec<u64> {
        // While a group is fetched again, it is fetched from the peer chosen for it.
        if self.strict || self.repairing() {
            return Vec::new();
        }
        let batch = self.take_from_far_behind(to, room, limit);
        if !batch.is_empty() {
            return batch;
        }
        self.endgame(to, room)
    }

    fn take_from_far_behind(&mut self, to: usize, room: usize, limit: u64) -> Vec<u64> {
        let Some(behind) = self.far_behind(to, false) else {
            return Vec::new();
        };
        let batch = self.take_queued(behind.peer, room, limit);
        let why = Why::FarBehind {
            queued: behind.queued,
            theirs: behind.theirs,
            ours: behind.ours,
        };
        self.record_move(behind.peer, to, batch.len() as u64, why);
        batch
    }

    /// The serving peer furthest behind, if one is far behind as seen from idle peer `to`:
    /// by its chunks not yet requested, and also those in flight if `in_flight`.
    fn far_behind(&self, to: usize, in_flight: bool) -> Option<Behind> {
        let now = self.now;
        let mine = self.peers.get(to)?.meter.rate_at_least(now)?;
        let round_trip = self.peers[to].meter.rtt.unwrap_or_default().as_secs_f64();
        let candidates = (0..self.peers.len()).filter(|&v| v != to && self.peers[v].serving);
        candidates
            .filter_map(|v| {
                let awaited = if in_flight {
                    self.peers[v].in_flight.len() as u64
                } else {
                    0
                };
                let queued = self.allocation.queued(v) + awaited;
                let rate =
                    (self.peers[v].meter).rate_at_most(now, self.peers[v].in_flight.len())?;
                let theirs = queued as f64 / rate;
                let ours = queued as f64 / mine + round_trip;
                let far = queued > 0 && theirs > FACTOR * ours + MARGIN.as_secs_f64();
                far.then_some(Behind {
                    peer: v,
                    queued,
                    theirs,
                    ours,
                })
            })
            .max_by(|a, b| a.theirs.total_cmp(&b.theirs))
    }

    /// Up to `room` of `from`'s unrequested chunks below `limit`, smallest first.
    fn take_queued(&mut self, from: usize, room: usize, limit: u64) -> Vec<u64> {
        let mut batch = Vec::new();
        while batch.len() < room {
            match self.allocation.next_below(from, limit) {
                Some(index) => batch.push(index),
                None => break,
            }
        }
        batch
    }

    /// The last chunks: those awaited from a peer far behind are asked a second time.
    fn endgame(&mut self, to: usize, room: usize) -> Vec<u64> {
        let missing = self.chunks - self.received;
        if missing > ENDGAME_CHUNKS {
            return Vec::new();
        }
        let Some(behind) = self.far_behind(to, true) else {
            return Vec::new();
        };
        let mine = &self.peers[to].in_flight;
        let again: Vec<u64> = (self.peers[behind.peer].in_flight.iter().copied())
            .filter(|&i| !self.ring.has(i) && !self.asked_twice.contains(&i) && !mine.contains(&i))
            .take(room)
            .collect();
        self.asked_twice.extend(&again);
        self.record_move(behind.peer, to, again.len() as u64, Why::Endgame);
        again
    }

    fn record_move(&mut self, from: usize, to: usize, chunks: u64, why: Why) {
        if chunks == 0 {
            return;
        }
        let r = &mut self.rebalanced;
        let first = match &why {
            Why::FarBehind { .. } => {
                match r.far_behind.iter_mut().find(|m| (m.0, m.1) == (from, to)) {
                    Some(m) => {
                        m.2 += chunks;
                        false
                    }
                    None => {
                        r.far_behind.push((from, to, chunks));
                        true
                    }
                }
            }
            Why::Endgame => {
                let first = r.asked_twice == 0;
                r.asked_twice += chunks;
                first
            }
        };
        self.moves.push(Move {
            from,
            to,
            chunks,
            why,
            first,
        });
    }
}
