//! Deterministic simulation of the download scheduler: seeded random schedules in virtual time,
//! no sockets. Serving peers have random windows, speeds and reply batching; they leave (a
//! closed connection) or go silent (detected by the stall timeout, as the network task does)
//! at random moments: before their first request, mid-window, on the last chunk, several at
//! once, all of them. Invariants are checked after every step; a failure names its seed, and
//! `SIM_SEED=<seed> cargo test scheduler::simulation` replays it.

use super::*;
use crate::core::protocol::digest::ContentDigest;

/// A small, fast, seedable generator (SplitMix64): the simulation must not depend on a crate's
/// generator changing between versions.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What happens to a serving peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Healthy,
    /// Closes its connection at this virtual time.
    Closes(u64),
    /// Stops answering at this virtual time, connection open.
    Silent(u64),
}

#[derive(Debug)]
struct SimPeer {
    window: usize,
    /// Virtual time per reply.
    delay: u64,
    /// Most replies delivered in one read.
    batch: usize,
    fate: Fate,
    /// The version of the file it holds, and the share of chunks it sends wrong (percent).
    version: u8,
    corrupt: u64,
    /// Will call `request` at the next step (just started, just read replies, or woken).
    awake: bool,
    /// When the next reply is read.
    next_reply: u64,
    /// The last time this peer delivered something or was asked for something.
    last_progress: u64,
    gone: bool,
}

const STALL: u64 = 1_000;

/// Counters over all schedules, for the figures.
#[derive(Debug, Default)]
struct Totals {
    schedules: u64,
    chunks: u64,
    departures: u64,
    silences: u64,
    steps: u64,
    verified: u64,
    refused: u64,
    dropped: u64,
}

/// Byte `j` of chunk `index` of version `version` of the file.
fn payload_byte(version: u8, index: u64, j: usize) -> u8 {
    (index.wrapping_mul(31).wrapping_add(j as u64 * 7) % 251) as u8 ^ version.wrapping_mul(0x5A)
}

/// What a peer holding `version` sends for chunk `index`; a corrupting peer flips a byte of
/// `corrupt_percent` of its chunks (the same ones every time it is asked).
fn payload(size: u64, index: u64, version: u8, peer: usize, corrupt_percent: u64) -> Vec<u8> {
    let len = crate::core::protocol::chunk_len(size, index).unwrap_or(0);
    let mut bytes: Vec<u8> = (0..len).map(|j| payload_byte(version, index, j)).collect();
    let roll = Rng(index.wrapping_mul(1_000_003) ^ (peer as u64 + 1) << 40).next() % 100;
    if roll < corrupt_percent && !bytes.is_empty() {
        bytes[0] ^= 0xFF;
    }
    bytes
}

fn digest_of(size: u64, version: u8, group_chunks: u64) -> ContentDigest {
    let mut b = crate::core::protocol::digest::DigestBuilder::new(size, group_chunks);
    for index in 0..chunk_count(size) {
        let len = crate::core::protocol::chunk_len(size, index).unwrap_or(0);
        let bytes: Vec<u8> = (0..len).map(|j| payload_byte(version, index, j)).collect();
        b.update(&bytes);
    }
    b.finish()
}

fn fail_now(seed: u64, what: String) -> ! {
    panic!("simulation seed {seed}: {what} (SIM_SEED={seed} replays it)");
}

/// One schedule; panics (naming the seed) when an invariant breaks.
fn run(seed: u64, totals: &mut Totals) {
    let mut rng = Rng(seed);
    let chunks = match rng.below(100) {
        0 => 0,
        1..=2 => 1 + rng.below(3),
        // A few files of 200,000 chunks (20 MB) per run: far more than any ring.
        3 if seed % 25_000 == 7 => 200_000,
        3..=6 => rng.below(5_000),
        _ => rng.below(400),
    };
    let size = if chunks == 0 {
        0
    } else {
        chunks * CHUNK_SIZE - rng.below(CHUNK_SIZE)
    };
    let n = 1 + rng.below(8) as usize;
    let slots = match rng.below(10) {
        0 => 8192,
        1..=3 => 1 + rng.below(4) as usize,
        _ => 1 + rng.below(64) as usize,
    };
    let everyone_fails = rng.chance(5);
    let horizon = chunks * 3 / n as u64 + 10;
    let mut peers: Vec<SimPeer> = (0..n)
        .map(|_| {
            let fate_roll = rng.below(100);
            let moment = match rng.below(4) {
                0 => 0,                         // during the 330 round: before any request
                1 => horizon.saturating_sub(1), // near the end: the last chunks
                _ => rng.below(horizon + 1),    // anywhere
            };
            let fate = if everyone_fails || fate_roll < 20 {
                Fate::Closes(moment)
            } else if fate_roll < 35 {
                Fate::Silent(moment)
            } else {
                Fate::Healthy
            };
            SimPeer {
                window: match rng.below(4) {
                    0 => 1,
                    1 => 512,
                    _ => 1 + rng.below(16) as usize,
                },
                delay: 1 + rng.below(5),
                batch: 1 + rng.below(8) as usize,
                fate,
                version: 0,
                corrupt: 0,
                awake: true,
                next_reply: 0,
                last_progress: 0,
                gone: false,
            }
        })
        .collect();
    if std::env::var("SIM_DEBUG").is_ok() {
        eprintln!("chunks {chunks} size {size} n {n} slots {slots} peers {peers:?}");
    }
    let departures_planned = peers.iter().any(|p| p.fate != Fate::Healthy);
    // Versions and corruption: some schedules put two same-size versions on the peers, some
    // have peers that send wrong bytes, and some peers can describe the content (digest).
    let verifiable = chunks <= 1_500 && rng.chance(25);
    let two_versions = verifiable && rng.chance(40);
    let corruption = verifiable && rng.chance(40);
    let group_chunks = 1 + rng.below(slots as u64 + 4);
    let mut described: Vec<Option<ContentDigest>> = Vec::new();
    for p in peers.iter_mut() {
        p.version = u8::from(two_versions && rng.chance(50));
        p.corrupt = if corruption && rng.chance(40) {
            1 + rng.below(30)
        } else {
            0
        };
    }
    let digests = [
        verifiable.then(|| digest_of(size, 0, group_chunks)),
        two_versions.then(|| digest_of(size, 1, group_chunks)),
    ];
    for p in &peers {
        let gives = verifiable && rng.chance(60);
        described.push(gives.then(|| digests[p.version as usize].clone()).flatten());
    }
    let trouble = departures_planned || peers.iter().any(|p| p.corrupt > 0 || p.version != 0);
    let sizes = vec![size; n];
    let refs: Vec<Option<&ContentDigest>> = described.iter().map(Option::as_ref).collect();
    let (mut s, reference) = match super::super::versions::choose(&sizes, &refs) {
        super::super::versions::Version::Disagree(groups) => {
            if !two_versions {
                fail_now(seed, format!("versions said to disagree: {groups:?}"));
            }
            totals.refused += 1;
            totals.schedules += 1;
            return;
        }
        super::super::versions::Version::Verified { digest, vouching } => {
            let version = peers[vouching[0]].version;
            totals.verified += 1;
            (
                Scheduler::new(size, n, slots).verify_with(digest, vouching),
                Some(version),
            )
        }
        super::super::versions::Version::Unverified => {
            let same = peers.iter().all(|p| p.version == 0 && p.corrupt == 0);
            (Scheduler::new(size, n, slots), same.then_some(0))
        }
    };
    let slots = slots.max(group_chunks as usize * usize::from(s.is_verified()));
    let mut written = vec![false; chunks as usize];
    let mut from = vec![usize::MAX; chunks as usize];
    let mut now = 0u64;
    let mut anyone_left = false;
    let fail = |what: String| -> ! { fail_now(seed, what) };
    let step_bound = chunks * (4 + 2 * n as u64) + 10_000;
    let time_bound = (chunks + 10) * 6 * (n as u64) + STALL * (n as u64 + 2) + 10_000;
    let mut steps = 0u64;
    while s.state() == State::Running {
        steps += 1;
        if steps > step_bound || now > time_bound {
            fail(format!(
                "no end after {steps} steps / virtual time {now}: {} of {chunks} chunks received",
                s.received()
            ));
        }
        // Every awake peer asks what to send.
        for (position, p) in peers.iter_mut().enumerate() {
            if p.awake && !p.gone {
                p.awake = false;
                let sent = s.request(position, p.window);
                if !sent.is_empty() && s.in_flight(position) == sent.len() {
                    p.next_reply = now + p.delay;
                    p.last_progress = now;
                }
                if sent.iter().any(|&i| i >= s.window_bounds().1) {
                    fail(format!("chunk requested past the reach: {sent:?}"));
                }
            }
        }
        // Progress: something in flight at a serving peer, or someone about to ask.
        let in_flight: usize = (0..n).map(|p| s.in_flight(p)).sum();
        if in_flight == 0 && s.state() == State::Running {
            fail(format!(
                "stalled: nothing in flight, nobody awake, {} of {chunks} received, bounds {:?}",
                s.received(),
                s.window_bounds()
            ));
        }
        if s.buffered() > slots as u64 {
            fail(format!("{} chunks held, ring of {slots}", s.buffered()));
        }
        // The next event in virtual time.
        let mut next: Option<(u64, usize, bool)> = None; // (time, peer, is_fate)
        for (position, p) in peers.iter().enumerate() {
            if p.gone {
                continue;
            }
            let busy = s.in_flight(position) > 0;
            let silent = matches!(p.fate, Fate::Silent(t) if p.next_reply >= t);
            let candidates = [
                match p.fate {
                    Fate::Closes(t) => Some((t.max(now), true)),
                    // Its task's stall timeout fires STALL after the last progress it saw.
                    Fate::Silent(_) if busy && silent => {
                        Some(((p.last_progress + STALL).max(now), true))
                    }
                    _ => None,
                },
                (busy && !silent).then_some((p.next_reply.max(now), false)),
            ];
            for (t, is_fate) in candidates.into_iter().flatten() {
                if next.is_none_or(|(best, _, _)| t < best) {
                    next = Some((t, position, is_fate));
                }
            }
        }
        let Some((t, position, is_fate)) = next else {
            fail("no event possible while running".into());
        };
        now = t;
        let p = &mut peers[position];
        if is_fate {
            p.gone = true;
            anyone_left = true;
            match p.fate {
                Fate::Silent(_) => totals.silences += 1,
                _ => totals.departures += 1,
            }
            let survivors_before: Vec<usize> = (0..n).filter(|&q| s.is_serving(q)).collect();
            let takeover = s.left(position);
            check_takeover(&takeover, &survivors_before, position, seed);
        } else {
            // One read: up to `batch` replies, in request order.
            let count = 1 + rng.below(p.batch as u64) as usize;
            for _ in 0..count {
                let Some(index) = s.awaited(position) else {
                    break;
                };
                let bytes = payload(size, index, p.version, position, p.corrupt);
                if let Err(e) = s.arrived(position, index, &bytes) {
                    fail(format!("awaited chunk refused: {e}"));
                }
                from[index as usize] = position;
            }
            p.next_reply = now + p.delay;
            p.last_progress = now;
            p.awake = true;
            let write = |offset: u64, bytes: &[u8]| {
                if offset % CHUNK_SIZE != 0 {
                    fail(format!("write at offset {offset}, not a chunk boundary"));
                }
                let first = offset / CHUNK_SIZE;
                for (k, piece) in bytes.chunks(CHUNK_SIZE as usize).enumerate() {
                    let index = first + k as u64;
                    if index >= chunks || written[index as usize] {
                        fail(format!("chunk {index} written twice or out of the file"));
                    }
                    written[index as usize] = true;
                    if let Some(version) = reference
                        && piece
                            .iter()
                            .enumerate()
                            .any(|(j, &b)| b != payload_byte(version, index, j))
                    {
                        fail(format!(
                            "chunk {index} written with bytes of no single version"
                        ));
                    }
                }
                Ok(())
            };
            if let Err(e) = s.write_ready(write) {
                fail(format!("write failed: {e}"));
            }
        }
        for dropped in s.take_dropped() {
            let p = &peers[dropped.peer];
            if p.corrupt == 0 && Some(p.version) == reference {
                fail(format!(
                    "honest peer {} dropped for chunk {}",
                    dropped.peer, dropped.chunk
                ));
            }
            peers[dropped.peer].gone = true;
            anyone_left = true;
            totals.dropped += 1;
        }
        for woken in s.take_wakes() {
            peers[woken].awake = true;
        }
    }
    totals.steps += steps;
    match s.state() {
        State::Succeeded => {
            if let Some(missing) = written.iter().position(|w| !w) {
                fail(format!("success with chunk {missing} never written"));
            }
            if !anyone_left {
                if let Some(i) = (0..chunks as usize).find(|&i| from[i] != i % n) {
                    fail(format!(
                        "chunk {i} came from serving peer {}, not {} (i mod n)",
                        from[i],
                        i % n
                    ));
                }
            }
        }
        State::Failed => {
            let honest = |p: &SimPeer| p.corrupt == 0 && Some(p.version) == reference;
            if peers.iter().any(|p| p.fate == Fate::Healthy && honest(p)) && s.is_verified() {
                fail("failed although a healthy, honest peer was serving".into());
            }
            if !trouble {
                fail("failed with nobody leaving and nothing wrong".into());
            }
        }
        State::Running => unreachable!(),
    }
    totals.schedules += 1;
    totals.chunks += chunks;
}

/// A departure's chunks are dealt round robin to the peers still serving: shares differ by at
/// most one, the earlier survivors first, and add up to what was orphaned.
fn check_takeover(t: &Takeover, survivors_before: &[usize], left: usize, seed: u64) {
    let survivors: Vec<usize> = survivors_before
        .iter()
        .copied()
        .filter(|&p| p != left)
        .collect();
    if !survivors_before.contains(&left) {
        return;
    }
    let takers: Vec<usize> = t.taken_by.iter().map(|&(p, _)| p).collect();
    assert_eq!(
        takers, survivors,
        "seed {seed}: takeover not by the survivors"
    );
    let counts: Vec<u64> = t.taken_by.iter().map(|&(_, c)| c).collect();
    if !survivors.is_empty() {
        assert_eq!(counts.iter().sum::<u64>(), t.orphaned, "seed {seed}");
        assert!(
            counts.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1),
            "seed {seed}: shares {counts:?} are not round robin"
        );
    }
}

/// The download simulation, in four quarters of the seeds so that they run on every core.
fn simulate_quarter(quarter: u64) {
    let mut totals = Totals::default();
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        if quarter == 0 {
            run(seed, &mut totals);
        }
        return;
    }
    let base: u64 = std::env::var("SIM_BASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED);
    let schedules: u64 = std::env::var("SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mine = (0..schedules).filter(|k| k % 4 == quarter);
    for k in mine {
        run(base.wrapping_add(k), &mut totals);
    }
    eprintln!(
        "scheduler simulation, quarter {quarter}: {} schedules from seed {base}, {} chunks, {} departures, {} silences, {} steps; {} verified against a digest, {} refused (two versions), {} peers dropped for wrong bytes",
        totals.schedules,
        totals.chunks,
        totals.departures,
        totals.silences,
        totals.steps,
        totals.verified,
        totals.refused,
        totals.dropped
    );
    assert_eq!(
        totals.schedules,
        (0..schedules).filter(|k| k % 4 == quarter).count() as u64
    );
}

#[test]
fn every_schedule_ends_with_the_file_written_once_or_a_clean_failure_q0() {
    simulate_quarter(0);
}

#[test]
fn every_schedule_ends_with_the_file_written_once_or_a_clean_failure_q1() {
    simulate_quarter(1);
}

#[test]
fn every_schedule_ends_with_the_file_written_once_or_a_clean_failure_q2() {
    simulate_quarter(2);
}

#[test]
fn every_schedule_ends_with_the_file_written_once_or_a_clean_failure_q3() {
    simulate_quarter(3);
}
