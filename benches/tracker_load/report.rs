//! The benchmark's printed figures.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::peer::{KEEP_ALIVE, Mode, PeerReport, Plan};
use super::procfs::{load_average, status_mib};
use super::view::Bits;

/// The tracker as sampled over the steady state.
pub struct Sample {
    pub cpu_percent: f64,
    pub wall: Duration,
    pub rss: f64,
    pub peak: f64,
    pub listening: usize,
    pub connected: usize,
}

/// How the join burst and the first synchronisation went.
pub struct Settling {
    pub joined_after: Duration,
    pub settled_after: Duration,
    pub settled: usize,
    pub live: usize,
}

pub struct Run<'a> {
    pub plan: &'a Plan,
    pub reports: &'a [PeerReport],
    pub peers: usize,
    pub limit: u64,
    pub load_at_start: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn print(run: &Run, settling: &Settling, sample: &Sample) {
    let (plan, peers) = (run.plan, run.peers);
    let name = match plan.mode {
        Mode::Classroom => "classroom",
        Mode::Members => "members",
        Mode::Restart => "restart",
    };
    println!(
        "tracker load ({name}): {peers} peers x {} files joining at once, keep-alive every 5 s, {} s of steady state (descriptor limit {})",
        plan.files, plan.seconds, run.limit
    );
    println!(
        "  machine load (1, 5, 15 min): {} at the start, {} at the end",
        run.load_at_start,
        load_average()
    );
    println!(
        "  join burst: all {peers} joined (or failed) after {:.1} s; {} of {} held the whole directory {:.1} s after the start; {:.1} MB received until then",
        settling.joined_after.as_secs_f64(),
        settling.settled,
        settling.live,
        settling.settled_after.as_secs_f64(),
        plan.sync_bytes.load(Ordering::Relaxed) as f64 / 1e6
    );
    print_losses(run.reports);
    print_latencies(run.reports, plan.seconds);
    print_change(run.reports, peers);
    if plan.mode != Mode::Classroom {
        print_views(run);
    }
    print_tracker(sample, peers);
}

fn print_losses(reports: &[PeerReport]) {
    let lost: Vec<&String> = reports.iter().filter_map(|r| r.lost.as_ref()).collect();
    println!(
        "  connections refused, reset, closed by the tracker or unanswered: {}{}",
        lost.len(),
        lost.first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
}

fn print_latencies(reports: &[PeerReport], seconds: u64) {
    let mut latencies: Vec<Duration> = reports.iter().flat_map(|r| r.latencies.clone()).collect();
    latencies.sort();
    let response_bytes = reports.iter().map(|r| r.response_bytes).max().unwrap_or(0);
    let steady_bytes: u64 = reports.iter().map(|r| r.steady_bytes).sum();
    println!(
        "  largest response: {response_bytes} bytes; {} steady-state responses timed",
        latencies.len()
    );
    println!(
        "  latency (keep-alive -> whole response): p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.95)),
        ms(percentile(&latencies, 0.99)),
        latencies.last().map_or(0.0, |d| ms(*d))
    );
    println!(
        "  directory traffic in the steady state, tracker -> peers: {:.2} MB/s",
        steady_bytes as f64 / seconds.max(1) as f64 / 1e6
    );
}

fn print_change(reports: &[PeerReport], peers: usize) {
    let mut seen: Vec<Duration> = reports.iter().filter_map(|r| r.saw_change).collect();
    seen.sort();
    let Some(&max) = seen.last() else {
        println!("  change: not seen by any peer (run 11 s or longer)");
        return;
    };
    let bound = KEEP_ALIVE + Duration::from_secs(1);
    println!(
        "  a change reached {} of {} other peers: p50 {:.2} s  max {:.2} s after it was sent ({} one keep-alive period + 1 s)",
        seen.len(),
        peers.saturating_sub(1),
        percentile(&seen, 0.50).as_secs_f64(),
        max.as_secs_f64(),
        if max <= bound { "within" } else { "NOT within" }
    );
}

/// Members: each checked final view against the directory the tracker must hold at the end:
/// every file of every peer still connected, and the changed file.
fn print_views(run: &Run) {
    let (plan, files) = (run.plan, run.plan.files);
    let mut expected = Bits::default();
    for (index, report) in run.reports.iter().enumerate() {
        if report.lost.is_none() {
            for file in 0..files {
                expected.set(index * files + file, true);
            }
        }
    }
    expected.changed_file = plan.change_sent.get().is_some();
    let views: Vec<&Arc<Bits>> = run
        .reports
        .iter()
        .filter_map(|r| r.final_view.as_ref())
        .collect();
    let equal = views.iter().filter(|v| v.same_as(&expected)).count();
    let views_cache = &plan.views;
    println!(
        "  views checked entry by entry (every {}th member), at the end equal to the whole directory: {equal} of {}; entries with a wrong name or holder: {}; views differing from another member's at the same version: {}; replies not following on: {}",
        plan.check_every,
        views.len(),
        views_cache.wrong_entries.load(Ordering::Relaxed),
        views_cache.mismatches.load(Ordering::Relaxed),
        views_cache.gaps.load(Ordering::Relaxed)
    );
}

fn print_tracker(sample: &Sample, peers: usize) {
    println!(
        "  tracker CPU: {:.1}% of one core over {:.0} s of steady state",
        sample.cpu_percent,
        sample.wall.as_secs_f64()
    );
    println!(
        "  tracker memory: RSS {:.1} MiB with every peer connected, peak {:.1} MiB (VmRSS, VmHWM)",
        sample.rss, sample.peak
    );
    println!(
        "  tracker TCP sockets: {} listening + {} connected, for {peers} peers",
        sample.listening, sample.connected
    );
    println!(
        "  this load generator: peak RSS {:.1} MiB",
        status_mib(0, "VmHWM:")
    );
}
