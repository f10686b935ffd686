//! Tracker load: N simulated peers of F files each join a real `p2p-tui --tracker` process on
//! loopback at once (a join burst) and send a keep-alive every 5 s. Once every peer holds the
//! whole directory, the steady state of `SECONDS` seconds is measured: directory-response
//! latency (keep-alive sent → whole response received), the traffic the directory costs, the
//! tracker's CPU use, memory and TCP sockets from /proc, and how long a change takes to reach
//! the other peers (11 s before the end, peer 0 re-announces with a new name; each other peer
//! notes the reply after which it lists it). Refused, reset and closed connections are counted.
//!
//! Modes: `classroom` (default): seed-002 messages, the whole directory on every keep-alive;
//! `members`: p2p-tui members (`"since"`: directory deltas), each checking that its view equals
//! the whole directory (see `view`); `restart`: members, and 5 s into the steady state the
//! tracker is killed and started again on the same port: every member reconnects with the
//! members' jittered backoff, and the time until all are back is reported.
//!
//! The load generator keeps per peer a socket, a 12.5 kB view at most (shared between members
//! at the same version) and no reply: replies are read through one buffer per thread and
//! applied as they arrive (10,000 members each keeping a 7 MB directory took 22 GB).
//!
//! The tracker runs with default flags; this process and the tracker get the soft descriptor
//! limit raised to the hard one, and the tracker never outlives this process (see `tracker`).
//!
//! Usage: cargo bench --bench tracker_load [-- [classroom|members|restart] PEERS FILES SECONDS]

mod peer;
mod procfs;
mod reply;
mod report;
mod tracker;
mod view;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use peer::{Mode, Plan};
use report::{Run, Sample, Settling};
use tracker::TrackerGuard;

struct Args {
    mode: Mode,
    peers: usize,
    files: usize,
    seconds: u64,
}

fn parse_args() -> Args {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'))
    {
        Some(m) if m == "members" => Mode::Members,
        Some(m) if m == "restart" => Mode::Restart,
        _ => Mode::Classroom,
    };
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    Args {
        mode,
        peers: numbers.first().copied().unwrap_or(1000).max(1),
        files: numbers.get(1).copied().unwrap_or(10),
        seconds: numbers.get(2).copied().unwrap_or(30) as u64,
    }
}

/// Longest wait for every peer to join and hold the whole directory.
const SETTLE_DEADLINE: Duration = Duration::from_secs(300);

/// Waits for the join burst to end and every peer still connected to hold the whole
/// directory; then starts the steady state.
async fn settle(plan: &Plan, peers: usize, started: Instant) -> Settling {
    let mut progress = Instant::now();
    let mut report_progress = |what: &str, done: usize| {
        if progress.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  ... {:.0} s: {done} of {peers} {what}",
                started.elapsed().as_secs_f64()
            );
            progress = Instant::now();
        }
    };
    while plan.joined.load(Ordering::SeqCst) < peers {
        report_progress("joined", plan.joined.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let joined_after = started.elapsed();
    let _ = plan.all_joined.set(Instant::now());
    let give_up = Instant::now() + SETTLE_DEADLINE;
    let live = || peers - plan.gone.load(Ordering::SeqCst);
    while plan.settled.load(Ordering::SeqCst) < live() && Instant::now() < give_up {
        report_progress(
            "hold the whole directory",
            plan.settled.load(Ordering::SeqCst),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = plan.measure_from.set(Instant::now());
    Settling {
        joined_after,
        settled_after: started.elapsed(),
        settled: plan.settled.load(Ordering::SeqCst),
        live: live(),
    }
}

/// The tracker's CPU use over `length`, and its memory and sockets at the end of it.
async fn sample(tracker: &TrackerGuard, length: Duration) -> Sample {
    let (cpu0, t0) = (procfs::cpu_ticks(tracker.pid()), Instant::now());
    tokio::time::sleep(length).await;
    let (listening, connected) = procfs::tcp_sockets(tracker.pid());
    let wall = t0.elapsed();
    Sample {
        cpu_percent: (procfs::cpu_ticks(tracker.pid()) - cpu0) as f64 / wall.as_secs_f64(),
        wall,
        rss: procfs::status_mib(tracker.pid(), "VmRSS:"),
        peak: procfs::status_mib(tracker.pid(), "VmHWM:"),
        listening,
        connected,
    }
}

/// Kills the tracker, starts it again on the same port and waits for every member to be back.
async fn restart(plan: &Plan, tracker: &mut TrackerGuard, live: usize) -> String {
    let _ = plan.killed_at.set(Instant::now());
    tracker.kill();
    plan.epoch.fetch_add(1, Ordering::SeqCst);
    *tracker = TrackerGuard::start(&plan.addr);
    let down = *plan.killed_at.get().unwrap_or(&Instant::now());
    let give_up = down + Duration::from_secs(60);
    while plan.back.load(Ordering::SeqCst) < live && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    format!(
        "  restart: {} of {live} members back on the new tracker (their first whole reply) {:.1} s after the old one was killed; {} rejoin attempts reset or failed on the new tracker; its RSS then {:.1} MiB",
        plan.back.load(Ordering::SeqCst),
        down.elapsed().as_secs_f64(),
        plan.rejoin_resets.load(Ordering::Relaxed),
        procfs::status_mib(tracker.pid(), "VmRSS:")
    )
}

#[tokio::main]
async fn main() {
    let Args {
        mode,
        peers,
        files,
        seconds,
    } = parse_args();
    let limit = tracker::raise_descriptor_limit();
    tracker::kill_tracker_on_signal();
    let load_at_start = procfs::load_average();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    // On the main thread, which lives as long as this process (see `TrackerGuard::start`).
    let mut tracker = TrackerGuard::start(&addr);
    let plan = Arc::new(Plan::new(addr, mode, peers, files, seconds));
    let started = Instant::now();
    let tasks: Vec<_> = (0..peers)
        .map(|i| {
            let offset = Duration::from_micros((i as u64 * 5_000_000) / peers as u64);
            tokio::spawn(peer::peer(Arc::clone(&plan), i, offset))
        })
        .collect();
    let settling = settle(&plan, peers, started).await;
    let steady = Duration::from_secs(seconds);
    let (sample, restart_line) = if mode == Mode::Restart {
        let sample = sample(&tracker, steady.min(Duration::from_secs(5))).await;
        (
            sample,
            Some(restart(&plan, &mut tracker, settling.live).await),
        )
    } else {
        (
            sample(&tracker, steady.saturating_sub(Duration::from_millis(500))).await,
            None,
        )
    };
    let mut reports = Vec::with_capacity(peers);
    for task in tasks {
        reports.push(task.await.unwrap_or_default());
    }
    drop(tracker);
    let run = Run {
        plan: &plan,
        reports: &reports,
        peers,
        limit,
        load_at_start,
    };
    report::print(&run, &settling, &sample);
    if let Some(line) = restart_line {
        println!("{line}");
    }
}
