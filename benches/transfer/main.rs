//! Transfer speed: random files moved between real `p2p-tui` processes, 100-byte chunks, release
//! build. On loopback: the raw loopback TCP rate (the ceiling), a download from three
//! `--headless` peers by a `--line` peer in lockstep (window 1) and with the default (adaptive)
//! window, an upload to three peers at once, and peak memory. Then issue 29's cases: the three
//! peers behind relays (`p2p_tui::relay`, one per path) at 50 and 100 ms round trips and 12.5
//! MB/s per path, a slow peer among fast ones, and the downloader's peak RSS. Every copy is
//! checked byte for byte.
//!
//! Usage: cargo bench --bench transfer [-- SIZE_MIB] [--no-lockstep] [--loopback-only]
//!        [--relay-only] [--limit=SECS] [--rounds=N]
//! SIZE_MIB (default 64) is the loopback set's file; issue 29's sizes are its own. A run still
//! going after SECS (default 120) is stopped and reported as such.
//! With `P2P_TUI_BEFORE=<another p2p-tui binary>`, that binary is measured beside this build: a
//! change's before and after in one run. The loopback set then runs N rounds (default 2) in
//! alternating order (before-after, after-before, ...), since whichever runs first on a freshly
//! quiet machine tends to be faster, and ends with each build's mean, min and max.

mod peers;
mod relayed;
mod system;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use peers::{FAST, Peers, command};
use system::{check_same, raw_loopback};

const BIN: &str = env!("CARGO_BIN_EXE_p2p-tui");
const DEFAULT_WINDOW: &str = "512";

struct Options {
    size_mib: u64,
    lockstep: bool,
    loopback: bool,
    relayed: bool,
    limit: Duration,
    rounds: usize,
}

impl Options {
    fn parse() -> Options {
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let limit = args
            .iter()
            .find_map(|a| a.strip_prefix("--limit=")?.parse().ok())
            .unwrap_or(120);
        Options {
            size_mib: args.iter().find_map(|a| a.parse().ok()).unwrap_or(64),
            lockstep: !has("--no-lockstep"),
            loopback: !has("--relay-only"),
            relayed: !has("--loopback-only"),
            limit: Duration::from_secs(limit),
            rounds: args
                .iter()
                .find_map(|a| a.strip_prefix("--rounds=")?.parse().ok())
                .unwrap_or(2),
        }
    }
}

fn main() {
    let options = Options::parse();
    println!(
        "transfer benchmark: {} MiB random file, 100-byte chunks, loopback, {} cores",
        options.size_mib,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let raw = raw_loopback((options.size_mib << 20).max(256 << 20));
    println!("  raw loopback TCP, one stream (ceiling)      {raw:>9.1} MB/s");
    // Another build measured first in the same run (a change's before and after, same machine
    // and moment): `P2P_TUI_BEFORE=/path/to/p2p-tui cargo bench --bench transfer`.
    match std::env::var_os("P2P_TUI_BEFORE") {
        Some(before) => compare(&PathBuf::from(before), &options),
        None => measure(Path::new(BIN), &options),
    }
}

/// Before and after in one run: the loopback set in alternating order, round by round, then
/// each build's figures side by side; the relayed set once each.
fn compare(before: &Path, options: &Options) {
    let builds = [("before", before), ("after", Path::new(BIN))];
    let mut rates: [Vec<Rates>; 2] = [Vec::new(), Vec::new()];
    if options.loopback {
        for round in 0..options.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                let (label, bin) = builds[index];
                println!("round {} {label}: {}", round + 1, bin.display());
                let peers = Peers::start(bin);
                rates[index].push(loopback(bin, &peers, options));
            }
        }
        summarize(&builds, &rates);
    }
    if options.relayed {
        for (label, bin) in builds {
            println!("{label}: {}", bin.display());
            relayed::measure(bin, &Peers::start(bin), options.limit);
        }
    }
}

/// Mean, min and max of each build's loopback rates over its rounds.
fn summarize(builds: &[(&str, &Path); 2], rates: &[Vec<Rates>; 2]) {
    println!(
        "summary over {} rounds each (MB/s: mean  min-max):",
        rates[0].len()
    );
    type Pick = fn(&Rates) -> Option<f64>;
    let rows: [(&str, Pick); 3] = [
        ("download, window 1 (lockstep)", |r| r.lockstep),
        ("download, adaptive window", |r| Some(r.download)),
        ("upload to 3, per target", |r| Some(r.upload)),
    ];
    for (what, pick) in rows {
        for (index, (label, _)) in builds.iter().enumerate() {
            let values: Vec<f64> = rates[index].iter().filter_map(pick).collect();
            if values.is_empty() {
                continue;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = values.iter().cloned().fold(0.0, f64::max);
            println!("  {what:<31} {label:<6} {mean:>7.1}  {min:.1}-{max:.1}");
        }
    }
}

/// One loopback set's rates in MB/s.
struct Rates {
    lockstep: Option<f64>,
    download: f64,
    upload: f64,
}

/// Every measurement with the `p2p-tui` binary at `bin`, with servers of its own.
fn measure(bin: &Path, options: &Options) {
    let peers = Peers::start(bin);
    if options.loopback {
        loopback(bin, &peers, options);
    }
    if options.relayed {
        relayed::measure(bin, &peers, options.limit);
    }
}

/// The loopback set: downloads from p2, p3 and p4, an upload to them.
fn loopback(bin: &Path, peers: &Peers, options: &Options) -> Rates {
    let size = options.size_mib << 20;
    let source = peers.serve("big.bin", size);
    let settings = peers.settings();
    let download_line = "#DOWNLOAD big.bin p2 p3 p4";
    let mut peak_kib = 0;
    let mut run = |line: &str, window: &str| {
        let run = command(
            bin,
            peers,
            &settings,
            line,
            &["--window", window],
            options.limit,
        );
        assert!(run.finished, "{line} did not finish in {:?}", options.limit);
        peak_kib = peak_kib.max(run.peak_kib);
        run.secs
    };
    let mut lockstep = None;
    if options.lockstep {
        let secs = run(download_line, "1");
        check_same(&source, &peers.served("p1", "big.bin"));
        lockstep = Some(print_rate(
            "download from 3 peers, window 1 (lockstep)",
            size,
            secs,
            "",
        ));
        peers.forget_download("big.bin");
    }
    let secs = run(download_line, DEFAULT_WINDOW);
    check_same(&source, &peers.served("p1", "big.bin"));
    let what = format!("download from 3 peers, adaptive window <= {DEFAULT_WINDOW}");
    let download = print_rate(&what, size, secs, "");
    for id in FAST {
        let _ = fs::remove_file(peers.served(id, "up.bin"));
    }
    fs::hard_link(&source, peers.served("p1", "up.bin")).unwrap();
    let secs = run("#UPLOAD up.bin p2 p3 p4", DEFAULT_WINDOW);
    for id in FAST {
        check_same(&source, &peers.served(id, "up.bin"));
    }
    let what = format!("upload to 3 peers at once, window <= {DEFAULT_WINDOW}");
    let upload = print_rate(&what, size, secs, " per target");
    let servers: Vec<String> = peers.server_rss_mib()[..3]
        .iter()
        .map(|mib| format!("{mib:.1}"))
        .collect();
    println!(
        "  peak RSS: --line peer {:.1} MiB (largest of its runs), servers {} MiB",
        peak_kib as f64 / 1024.0,
        servers.join(" / ")
    );
    println!("  every copy is byte-identical to the source");
    peers.forget_download("big.bin");
    let _ = fs::remove_file(peers.served("p1", "up.bin"));
    Rates {
        lockstep,
        download,
        upload,
    }
}

/// Prints one figure and gives its rate in MB/s.
fn print_rate(what: &str, size: u64, secs: f64, unit_suffix: &str) -> f64 {
    let rate = size as f64 / 1e6 / secs;
    println!("  {what:<43} {rate:>9.1} MB/s{unit_suffix}  ({secs:.2} s)");
    rate
}
