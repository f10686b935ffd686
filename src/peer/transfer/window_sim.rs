//! Deterministic simulation of the adaptive window against model peers, in virtual time: a
//! client that tops its window up the way the scheduler does (once half of it has drained), a
//! connection with a one-way delay and jitter that keeps replies in order (TCP), and a server
//! that answers in order, taking `service` per chunk and sleeping `pause` after each reply
//! (`--chunk-delay`). Random peers and schedules are seeded; a failure names its seed, and
//! `SIM_SEED=<seed> cargo test window::simulation` replays it.

use super::*;
use crate::peer::transfer::scheduler::simulation::Rng;

const US: Duration = Duration::from_micros(1);
const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy)]
struct ModelPeer {
    one_way: Duration,
    /// Up to this much more delay on any message (order kept).
    jitter: Duration,
    /// Time to produce one reply.
    service: Duration,
    /// Sleep after each reply (the server's `--chunk-delay`).
    pause: Duration,
}

impl ModelPeer {
    /// Replies a second it can produce at most.
    fn capacity(&self) -> f64 {
        1.0 / (self.service + self.pause).as_secs_f64().max(1e-9)
    }
}

/// What one run saw.
struct Trace {
    /// (time, window) after every batch of replies.
    windows: Vec<(Duration, usize)>,
    /// Reply arrival times.
    arrivals: Vec<Duration>,
    end: Duration,
}

impl Trace {
    fn delivered_between(&self, from: Duration, to: Duration) -> f64 {
        let n = self
            .arrivals
            .iter()
            .filter(|&&t| t >= from && t < to)
            .count();
        n as f64 / (to - from).as_secs_f64()
    }

    fn windows_after(&self, from: Duration) -> impl Iterator<Item = usize> + '_ {
        self.windows
            .iter()
            .filter(move |&&(t, _)| t >= from)
            .map(|&(_, w)| w)
    }

    fn first_time_at(&self, window: usize) -> Option<Duration> {
        self.windows
            .iter()
            .find(|&&(_, w)| w >= window)
            .map(|&(t, _)| t)
    }
}

/// How the client behaves besides the window.
#[derive(Debug, Clone, Copy)]
struct Client {
    cap: usize,
    /// Percent of top-ups where the client has fewer chunks to give than the room.
    starved: u64,
    /// Most replies read in one go (a read of the socket).
    read_batch: usize,
    /// Client time spent per reply.
    per_reply: Duration,
    /// The run ends after this many replies (or at its horizon).
    max_replies: usize,
    /// A first flight instead of slow start's 2 (a peer that speaks `compact`).
    first_flight: Option<usize>,
}

/// Runs `peer` (which becomes `later` at `change`, if given) for `horizon` of virtual time.
fn run(
    rng: &mut Rng,
    peer: ModelPeer,
    later: Option<(Duration, ModelPeer)>,
    client: Client,
    horizon: Duration,
) -> Trace {
    let mut w = AdaptiveWindow::new(client.cap);
    if let Some(size) = client.first_flight {
        w.first_flight(size);
    }
    let mut now = Duration::ZERO;
    let mut server_free = Duration::ZERO;
    let mut last_arrival = Duration::ZERO;
    // Arrival times of the replies in flight (in order).
    let mut in_flight: VecDeque<Duration> = VecDeque::new();
    let mut trace = Trace {
        windows: Vec::new(),
        arrivals: Vec::new(),
        end: horizon,
    };
    let jitter = |rng: &mut Rng, peer: &ModelPeer| {
        let j = peer.jitter.as_nanos() as u64;
        Duration::from_nanos(if j == 0 { 0 } else { rng.below(j + 1) })
    };
    while now < horizon && trace.arrivals.len() < client.max_replies {
        let window = w.window();
        assert!((1..=client.cap).contains(&window), "window {window}");
        assert!(
            in_flight.len() <= client.cap,
            "{} in flight",
            in_flight.len()
        );
        if in_flight.len() <= window / 2 {
            let room = window - in_flight.len();
            let limited = rng.chance(client.starved);
            let given = if limited {
                rng.below(room as u64) as usize
            } else {
                room
            };
            for _ in 0..given {
                let model = match later {
                    Some((at, p)) if now >= at => p,
                    _ => peer,
                };
                let at_server = now + model.one_way + jitter(rng, &model);
                let done = at_server.max(server_free) + model.service;
                server_free = done + model.pause;
                let back = (done + model.one_way + jitter(rng, &model)).max(last_arrival);
                last_arrival = back;
                in_flight.push_back(back);
            }
            w.sent(given, now, limited);
            if in_flight.is_empty() {
                // Nothing to ask for: the client waits a moment for the ring to move on.
                now += 100 * US;
                continue;
            }
        }
        let Some(&first) = in_flight.front() else {
            continue;
        };
        now = now.max(first);
        let mut read = 0;
        while read < client.read_batch && in_flight.front().is_some_and(|&t| t <= now) {
            in_flight.pop_front();
            trace.arrivals.push(now);
            read += 1;
        }
        w.delivered(read, now);
        now += client.per_reply * read as u32;
        trace.windows.push((now, w.window()));
    }
    trace.end = now.min(horizon);
    trace
}

fn seeds(default_count: u64) -> Vec<u64> {
    match std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        // `SIM_SCALE=10`: ten times the seeds, for a longer search.
        None => {
            let scale = std::env::var("SIM_SCALE").ok().and_then(|s| s.parse().ok());
            (1..=default_count * scale.unwrap_or(1)).collect()
        }
    }
}

const QUICK_CLIENT: Client = Client {
    cap: 512,
    starved: 0,
    read_batch: 4096,
    per_reply: Duration::from_nanos(100),
    max_replies: usize::MAX,
    first_flight: None,
};

/// The demo's slow peer: 40 ms after each chunk. One or two in flight from the first request,
/// whatever the latency.
#[test]
fn a_peer_that_sleeps_between_chunks_gets_one_or_two() {
    for seed in seeds(40) {
        let mut rng = Rng(seed);
        // Up to 5 ms each way: a loaded machine, where even the first reply (sent before the
        // server's first sleep) takes longer than a round's minimum.
        let peer = ModelPeer {
            one_way: US * (5 + rng.below(5_000) as u32),
            jitter: US * rng.below(500) as u32,
            service: US * rng.below(20) as u32,
            pause: MS * (20 + rng.below(60) as u32),
        };
        let trace = run(&mut rng, peer, None, QUICK_CLIENT, Duration::from_secs(5));
        let worst = trace.windows_after(Duration::ZERO).max();
        assert!(
            worst.is_some_and(|w| w <= 2),
            "seed {seed}: {peer:?} window up to {worst:?}"
        );
        // And it is kept busy: it delivers at least 90 % of what it can.
        let rate = trace.delivered_between(Duration::from_secs(1), trace.end);
        assert!(
            rate >= 0.9 * peer.capacity(),
            "seed {seed}: {rate:.1}/s of {:.1}/s",
            peer.capacity()
        );
    }
}

/// A fast peer on loopback: the cap within a few milliseconds, and kept busy.
#[test]
fn a_fast_peer_reaches_the_cap_quickly() {
    for seed in seeds(20) {
        let mut rng = Rng(seed);
        let peer = ModelPeer {
            one_way: US * (5 + rng.below(40) as u32),
            jitter: US * rng.below(10) as u32,
            service: Duration::from_nanos(200 + rng.below(800)),
            pause: Duration::ZERO,
        };
        let client = Client {
            per_reply: Duration::from_nanos(50),
            ..QUICK_CLIENT
        };
        let trace = run(&mut rng, peer, None, client, Duration::from_millis(500));
        let reached = trace.first_time_at(client.cap);
        assert!(
            reached.is_some_and(|t| t < 50 * MS),
            "seed {seed}: {peer:?} reached the cap at {reached:?}"
        );
        let rate = trace.delivered_between(100 * MS, trace.end);
        assert!(
            rate >= 0.8 * peer.capacity(),
            "seed {seed}: {rate:.0}/s of {:.0}/s",
            peer.capacity()
        );
    }
}

/// A fast peer far away: its rate grows with the window, so the window grows to the cap.
#[test]
fn a_distant_fast_peer_grows_to_the_cap() {
    for seed in seeds(10) {
        let mut rng = Rng(seed);
        let peer = ModelPeer {
            one_way: MS * (5 + rng.below(45) as u32),
            jitter: MS * rng.below(3) as u32,
            service: US,
            pause: Duration::ZERO,
        };
        let trace = run(&mut rng, peer, None, QUICK_CLIENT, Duration::from_secs(10));
        let reached = trace.first_time_at(QUICK_CLIENT.cap);
        assert!(
            reached.is_some_and(|t| t < Duration::from_secs(5)),
            "seed {seed}: {peer:?} reached the cap at {reached:?}"
        );
    }
}

/// A peer that becomes slow gets a small window within a second of it.
#[test]
fn a_peer_that_slows_down_gets_a_small_window() {
    for seed in seeds(10) {
        let mut rng = Rng(seed);
        let fast = ModelPeer {
            one_way: US * (5 + rng.below(40) as u32),
            jitter: Duration::ZERO,
            service: US,
            pause: Duration::ZERO,
        };
        let slow = ModelPeer {
            pause: MS * (30 + rng.below(30) as u32),
            ..fast
        };
        let change = Duration::from_secs(1);
        let trace = run(
            &mut rng,
            fast,
            Some((change, slow)),
            QUICK_CLIENT,
            Duration::from_secs(40),
        );
        assert_eq!(
            trace
                .windows
                .iter()
                .filter(|&&(t, _)| t < change)
                .map(|&(_, w)| w)
                .max(),
            Some(QUICK_CLIENT.cap),
            "seed {seed}: fast at first"
        );
        // The requests already out must drain first (up to the cap at the slow rate); a
        // second after that the window is small.
        let drained = change + slow.pause * QUICK_CLIENT.cap as u32;
        let worst = trace.windows_after(drained + Duration::from_secs(1)).max();
        assert!(
            worst.is_some_and(|w| w <= 2),
            "seed {seed}: window {worst:?} after slowing down"
        );
    }
}

/// Random peers and clients: the window stays within its bounds, the peer is kept at least
/// half busy (when the client has work for it), and a slow peer never holds much more than a
/// queue time's worth of chunks.
#[test]
fn random_peers_are_kept_busy_and_never_hoard_chunks() {
    for seed in seeds(300) {
        let mut rng = Rng(seed);
        let log_uniform = |rng: &mut Rng, lo: u64, hi: u64| {
            // lo..hi nanoseconds, spread evenly over orders of magnitude.
            let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
            let x = a + (b - a) * (rng.below(1_000_000) as f64 / 1e6);
            Duration::from_nanos(x.exp() as u64)
        };
        let peer = ModelPeer {
            one_way: log_uniform(&mut rng, 5_000, 50_000_000),
            jitter: log_uniform(&mut rng, 1, 2_000_000),
            service: log_uniform(&mut rng, 100, 10_000_000),
            pause: if rng.chance(30) {
                log_uniform(&mut rng, 1_000_000, 60_000_000)
            } else {
                Duration::ZERO
            },
        };
        let client = Client {
            cap: 1 + rng.below(1024) as usize,
            starved: 0,
            read_batch: 1 + rng.below(600) as usize,
            per_reply: log_uniform(&mut rng, 20, 2_000),
            // A fast peer's run ends early; rates are taken over the second half of it.
            max_replies: 200_000,
            // Half the peers start with a first flight: shed by the second half if slow.
            first_flight: rng.chance(50).then_some(FIRST_FLIGHT),
        };
        let horizon = Duration::from_secs(20);
        let trace = run(&mut rng, peer, None, client, horizon);
        let round_trip = 2 * (peer.one_way + peer.jitter) + peer.service;
        // What it could deliver: its capacity, or half the largest window per round trip
        // (requests are topped up once half the window has drained, so a latency-bound peer
        // averages that much in flight per round trip); the client's own time per reply
        // bounds it too.
        let ideal = peer
            .capacity()
            .min((client.cap as f64 / 2.0).max(1.0) / round_trip.as_secs_f64())
            .min(1.0 / client.per_reply.as_secs_f64());
        let half = trace.end / 2;
        let rate = trace.delivered_between(half, trace.end);
        assert!(
            rate >= 0.5 * ideal,
            "seed {seed}: {peer:?} {client:?}: {rate:.1}/s, ideal {ideal:.1}/s"
        );
        // Never much more than the target queue time's worth of the peer's own capacity.
        let queue = 2.0 * (3.0 * round_trip.as_secs_f64() + 4e-3);
        let hoard = ((peer.capacity() * queue).ceil() as usize).max(2);
        let worst = trace.windows_after(half).max().unwrap_or(0);
        assert!(
            worst <= hoard.min(client.cap),
            "seed {seed}: {peer:?} {client:?}: window {worst}, bound {hoard}"
        );
    }
}

/// Rounds in which the client had less to ask for do not shrink a fast peer's window.
#[test]
fn a_starved_client_does_not_shrink_a_fast_peer() {
    for seed in seeds(20) {
        let mut rng = Rng(seed);
        let peer = ModelPeer {
            one_way: US * 20,
            jitter: US * 5,
            service: Duration::from_nanos(500),
            pause: Duration::ZERO,
        };
        let client = Client {
            starved: 30,
            ..QUICK_CLIENT
        };
        let trace = run(&mut rng, peer, None, client, Duration::from_secs(2));
        let reached = trace.first_time_at(client.cap);
        assert!(reached.is_some(), "seed {seed}: never reached the cap");
        let smallest = trace.windows_after(Duration::from_secs(1)).min();
        assert!(
            smallest.is_some_and(|w| w >= client.cap / 2),
            "seed {seed}: window fell to {smallest:?}"
        );
    }
}

/// Issue 29's distant path: 100 Mbit/s of replies (11 us each) at 20-200 ms round trips,
/// with the memory budget's share as the cap. The window fills the path within eight round
/// trips (doubling from 2 would take twelve), and keeps it at least 90 % busy after.
#[test]
fn a_distant_path_is_filled_within_eight_round_trips() {
    for seed in seeds(20) {
        let (peer, trace) = distant_path(seed, None);
        let filled = 2 * peer.one_way * 8;
        let rate = trace.delivered_between(filled, trace.end);
        assert!(
            rate >= 0.9 * peer.capacity(),
            "seed {seed}: {peer:?}: {rate:.0}/s after {filled:?} of {:.0}/s",
            peer.capacity()
        );
    }
}

/// A distant path (10-100 ms each way, 90,000 replies a second), from `first_flight` or slow
/// start, for 40 round trips.
fn distant_path(seed: u64, first_flight: Option<usize>) -> (ModelPeer, Trace) {
    let mut rng = Rng(seed);
    let peer = ModelPeer {
        one_way: MS * (10 + rng.below(90) as u32),
        jitter: US * rng.below(1_000) as u32,
        service: US * 11,
        pause: Duration::ZERO,
    };
    let client = Client {
        cap: 34_952,
        read_batch: 1_000,
        max_replies: 2_000_000,
        first_flight,
        ..QUICK_CLIENT
    };
    let trace = run(&mut rng, peer, None, client, 2 * peer.one_way * 40);
    (peer, trace)
}

/// A first flight of 128 (to a peer that speaks `compact`) fills a distant path sooner: its
/// first round is counted as filling, so it grows 16 times at once, and the window holds a
/// round trip's worth of the path's replies within three and a half round trips; slow start
/// from 2 takes four to six (and so did a first flight whose round ended at its first replies,
/// as a round of slow start from 2 does: up to seven).
#[test]
fn a_first_flight_fills_a_distant_path_within_three_and_a_half_round_trips() {
    for seed in seeds(20) {
        let sooner = |first_flight| {
            let (peer, trace) = distant_path(seed, first_flight);
            let round_trip = 2 * peer.one_way;
            let path = (peer.capacity() * round_trip.as_secs_f64()).ceil() as usize;
            let reached = trace.first_time_at(path);
            let sooner = reached.is_some_and(|t| t <= round_trip * 7 / 2);
            (
                sooner,
                format!("seed {seed}: {peer:?}: {path} in flight at {reached:?}"),
            )
        };
        let (first_flight, said) = sooner(Some(FIRST_FLIGHT));
        assert!(first_flight, "from a first flight, {said}");
        let (slow_start, said) = sooner(None);
        assert!(!slow_start, "slow start alone was as quick: {said}");
    }
}

/// The demo's slow peer (20-80 ms after each chunk), given a first flight anyway: never grown,
/// and back to two in flight within two seconds.
#[test]
fn a_slow_peer_given_a_first_flight_is_shrunk_not_filled() {
    for seed in seeds(40) {
        let mut rng = Rng(seed);
        let peer = ModelPeer {
            one_way: US * (5 + rng.below(5_000) as u32),
            jitter: US * rng.below(500) as u32,
            service: US * rng.below(20) as u32,
            pause: MS * (20 + rng.below(60) as u32),
        };
        let client = Client {
            first_flight: Some(FIRST_FLIGHT),
            ..QUICK_CLIENT
        };
        let trace = run(&mut rng, peer, None, client, Duration::from_secs(5));
        let most = trace.windows_after(Duration::ZERO).max();
        assert!(
            most.is_some_and(|w| w <= FIRST_FLIGHT),
            "seed {seed}: {peer:?} window up to {most:?}"
        );
        let settled = trace.windows_after(Duration::from_secs(2)).max();
        assert!(
            settled.is_some_and(|w| w <= 2),
            "seed {seed}: {peer:?} window {settled:?} after 2 s"
        );
    }
}
