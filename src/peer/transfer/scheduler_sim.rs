//! Deterministic simulation of the download scheduler: seeded random schedules in virtual time
//! (a unit is a millisecond), no sockets. Serving peers have random windows, speeds (up to
//! 1 : 1,000 in one download), round trips (0-200 ms, with jitter) and reply batching; they
//! leave (a closed connection) or go silent (detected by the stall timeout, as the network task
//! does) at random moments: before their first request, mid-window, on the last chunk, several
//! at once, all of them. Rings are fixed (tiny ones too) or grow within a memory budget. Some
//! schedules have equal peers (half of them held back once, up to 100 ms, as a process
//! descheduled on a loaded machine is), some strict round robin. Invariants are checked after
//! every step (progress, memory, no chunk asked twice outside the endgame or a takeover); a
//! failure names its seed, and `SIM_SEED=<seed> cargo test scheduler::simulation` replays it.

use super::*;
use crate::core::protocol::CHUNK_SIZE;
use crate::core::protocol::digest::ContentDigest;
use crate::peer::transfer::memory::MemoryBudget;

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
    /// Round trip and the most jitter added to it.
    rtt: u64,
    jitter: u64,
    /// When each reply in flight can come at the earliest (request time + round trip).
    due: VecDeque<u64>,
    /// Replies held back once, from this virtual time for this long: a serving process
    /// descheduled on a loaded machine (equal peers only; see [`STALLED_AT_MOST`]).
    stall: Option<(u64, u64)>,
}

/// How the peers of one schedule differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Same window, speed, batching and round trip, all healthy and honest: chunk i comes
    /// from peer i mod n, exactly, and nothing moves.
    Equal,
    /// Fast peers and some 1,000 times slower, long round trips.
    Mixed,
    /// The general case: random everything, departures, versions, corruption.
    Random,
}

const STALL: u64 = 1_000;

/// The longest an equal peer is held back (a process descheduled on a loaded machine: tens of
/// milliseconds, here up to a hundred): it is not far behind, and nothing may move.
const STALLED_AT_MOST: u64 = 100;

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
    moved: u64,
    asked_twice: u64,
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

/// One schedule being run.
struct Sim {
    seed: u64,
    rng: Rng,
    s: Scheduler,
    peers: Vec<SimPeer>,
    class: Class,
    strict: bool,
    budget: Option<MemoryBudget>,
    chunks: u64,
    size: u64,
    now: u64,
    /// The version whose bytes must be written (`None`: several, unverified).
    reference: Option<u8>,
    written: Vec<bool>,
    from: Vec<usize>,
    /// Requests per chunk, and chunks a takeover dealt again (they may be asked once more).
    asked: Vec<u8>,
    dealt_again: Vec<bool>,
    anyone_left: bool,
    /// Departures, versions or corruption planned: a failure may be right.
    trouble: bool,
    /// Groups may be fetched again (versions or corruption): chunks may be asked again.
    repairs: bool,
}

fn fail_at(seed: u64, what: String) -> ! {
    fail_now(seed, what)
}

/// The file of a schedule: (chunks, size).
fn file(rng: &mut Rng, seed: u64) -> (u64, u64) {
    let chunks = match rng.below(100) {
        0 => 0,
        1..=2 => 1 + rng.below(3),
        // A few files of 200,000 chunks (20 MB) per run: far more than any fixed ring.
        3 if seed % 25_000 == 7 => 200_000,
        3..=6 => rng.below(5_000),
        _ => rng.below(400),
    };
    let size = if chunks == 0 {
        0
    } else {
        chunks * CHUNK_SIZE - rng.below(CHUNK_SIZE)
    };
    (chunks, size)
}

fn peer(rng: &mut Rng, class: Class, fate: Fate, template: &SimPeer) -> SimPeer {
    let mut p = SimPeer {
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
        rtt: 0,
        jitter: 0,
        due: VecDeque::new(),
        stall: None,
    };
    match class {
        Class::Equal => {
            (p.window, p.delay, p.batch) = (template.window, template.delay, 1);
            (p.rtt, p.fate) = (template.rtt, Fate::Healthy);
        }
        Class::Mixed | Class::Random => {
            if class == Class::Mixed || rng.chance(20) {
                p.rtt = rng.below(201);
                p.jitter = rng.below(p.rtt / 4 + 1);
            }
            if class == Class::Mixed && rng.chance(40) {
                // A thousand times slower; the adaptive window gives such a peer one or two.
                p.delay = 1_000;
                p.window = 1 + rng.below(2) as usize;
            }
        }
    }
    p
}

fn fates(rng: &mut Rng, n: usize, chunks: u64) -> Vec<Fate> {
    let everyone_fails = rng.chance(5);
    let horizon = chunks * 3 / n as u64 + 10;
    (0..n)
        .map(|_| {
            let fate_roll = rng.below(100);
            let moment = match rng.below(4) {
                0 => 0,                         // during the 330 round: before any request
                1 => horizon.saturating_sub(1), // near the end: the last chunks
                _ => rng.below(horizon + 1),    // anywhere
            };
            if everyone_fails || fate_roll < 20 {
                Fate::Closes(moment)
            } else if fate_roll < 35 {
                Fate::Silent(moment)
            } else {
                Fate::Healthy
            }
        })
        .collect()
}

/// Half the equal peers are held back once: at their first reply (as seen under load) or
/// anywhere in their share.
fn stalls(rng: &mut Rng, peers: &mut [SimPeer], chunks: u64) {
    let n = peers.len() as u64;
    for p in peers.iter_mut() {
        if !rng.chance(50) {
            continue;
        }
        let share = chunks.div_ceil(n) * p.delay;
        let at = if rng.chance(30) {
            0
        } else {
            rng.below(share + 1)
        };
        p.stall = Some((at, 1 + rng.below(STALLED_AT_MOST)));
    }
}

/// The scheduler of a schedule: a fixed ring (often tiny) or a memory budget.
fn scheduler(
    rng: &mut Rng,
    size: u64,
    n: usize,
    strict: bool,
) -> (Scheduler, Option<MemoryBudget>) {
    if rng.chance(40) {
        let budget = MemoryBudget::bytes((1 << 20) + rng.below(63 << 20));
        let policy = Policy { budget, strict };
        return (Scheduler::with_policy(size, n, policy), Some(budget));
    }
    let slots = match rng.below(10) {
        0 => 8192,
        1..=3 => 1 + rng.below(4) as usize,
        _ => 1 + rng.below(64) as usize,
    };
    (Scheduler::new(size, n, slots).strict(strict), None)
}

/// Versions, corruption and digests: the scheduler (verified or not) and the reference
/// version; `None` when the versions disagree (the download is refused).
fn versions(rng: &mut Rng, sim: &mut Sim, totals: &mut Totals) -> Option<()> {
    let verifiable = sim.chunks <= 1_500 && sim.class == Class::Random && rng.chance(25);
    let two_versions = verifiable && rng.chance(40);
    let corruption = verifiable && rng.chance(40);
    let group_chunks = 1 + rng.below(68);
    for p in sim.peers.iter_mut() {
        p.version = u8::from(two_versions && rng.chance(50));
        p.corrupt = if corruption && rng.chance(40) {
            1 + rng.below(30)
        } else {
            0
        };
    }
    let digests = [
        verifiable.then(|| digest_of(sim.size, 0, group_chunks)),
        two_versions.then(|| digest_of(sim.size, 1, group_chunks)),
    ];
    let described: Vec<Option<ContentDigest>> = (sim.peers.iter())
        .map(|p| (verifiable && rng.chance(60)).then(|| digests[p.version as usize].clone()))
        .map(Option::flatten)
        .collect();
    sim.trouble |= sim.peers.iter().any(|p| p.corrupt > 0 || p.version != 0);
    sim.repairs = two_versions || corruption;
    let sizes = vec![sim.size; sim.peers.len()];
    let refs: Vec<Option<&ContentDigest>> = described.iter().map(Option::as_ref).collect();
    match super::super::versions::choose(&sizes, &refs) {
        super::super::versions::Version::Disagree(groups) => {
            if !two_versions {
                fail_at(sim.seed, format!("versions said to disagree: {groups:?}"));
            }
            totals.refused += 1;
            None
        }
        super::super::versions::Version::Verified { digest, vouching } => {
            sim.reference = Some(sim.peers[vouching[0]].version);
            totals.verified += 1;
            let s = std::mem::replace(&mut sim.s, Scheduler::new(0, 1, 1));
            sim.s = s.verify_with(digest, vouching);
            Some(())
        }
        super::super::versions::Version::Unverified => {
            let same = sim.peers.iter().all(|p| p.version == 0 && p.corrupt == 0);
            sim.reference = same.then_some(0);
            Some(())
        }
    }
}

/// A schedule ready to run; `None` if refused (two versions).
fn setup(seed: u64, totals: &mut Totals) -> Option<Sim> {
    let mut rng = Rng(seed);
    let (chunks, size) = file(&mut rng, seed);
    let n = 1 + rng.below(8) as usize;
    let class = match rng.below(10) {
        0..=1 => Class::Equal,
        2..=3 => Class::Mixed,
        _ => Class::Random,
    };
    let fates = match class {
        Class::Equal => vec![Fate::Healthy; n],
        _ => fates(&mut rng, n, chunks),
    };
    let template = peer(&mut rng, Class::Random, Fate::Healthy, &SimPeer::dummy());
    let mut peers: Vec<SimPeer> = (fates.into_iter())
        .map(|fate| peer(&mut rng, class, fate, &template))
        .collect();
    if class == Class::Equal {
        stalls(&mut rng, &mut peers, chunks);
    }
    let strict = rng.chance(10);
    let (s, budget) = scheduler(&mut rng, size, n, strict);
    let trouble = peers.iter().any(|p| p.fate != Fate::Healthy);
    let mut sim = Sim {
        seed,
        rng: Rng(0),
        s,
        peers,
        class,
        strict,
        budget,
        chunks,
        size,
        now: 0,
        reference: Some(0),
        written: vec![false; chunks as usize],
        from: vec![usize::MAX; chunks as usize],
        asked: vec![0; chunks as usize],
        dealt_again: vec![false; chunks as usize],
        anyone_left: false,
        trouble,
        repairs: false,
    };
    versions(&mut rng, &mut sim, totals)?;
    sim.rng = rng;
    if std::env::var("SIM_DEBUG").is_ok() {
        eprintln!(
            "chunks {chunks} size {size} n {n} {class:?} strict {strict} {budget:?} peers {:?}",
            sim.peers
        );
    }
    Some(sim)
}

impl SimPeer {
    fn dummy() -> SimPeer {
        SimPeer {
            window: 1,
            delay: 1,
            batch: 1,
            fate: Fate::Healthy,
            version: 0,
            corrupt: 0,
            awake: false,
            next_reply: 0,
            last_progress: 0,
            gone: true,
            rtt: 0,
            jitter: 0,
            due: VecDeque::new(),
            stall: None,
        }
    }

    /// When its next reply can be read, `now` being when it was asked or last replied.
    fn next_reply_after(&mut self, now: u64) -> u64 {
        let held = match self.stall {
            Some((at, length)) if now >= at => {
                self.stall = None;
                length
            }
            _ => 0,
        };
        now + self.delay + held
    }
}

#[path = "scheduler_sim_run.rs"]
mod run;
