//! Transfer speed: random files moved between real `p2p-tui` processes, 100-byte chunks, release
//! build. On loopback: the raw loopback TCP rate (the ceiling), a download from three
//! `--headless` peers by a `--line` peer in lockstep (window 1) and with the default (adaptive)
//! window, an upload to three peers at once, and peak memory. Then issue 29's cases: the three
//! peers behind relays (`p2p_tui::relay`, one per path) at 50 and 100 ms round trips and 12.5
//! MB/s per path, a slow peer among fast ones, and the downloader's peak RSS. Every copy is
//! checked byte for byte.
//!
//! Usage: cargo bench --bench transfer [-- SIZE_MIB] [--no-lockstep] [--loopback-only]
//!        [--relay-only] [--limit=SECS]
//! SIZE_MIB (default 64) is the loopback set's file; issue 29's sizes are its own. A run still
//! going after SECS (default 120) is stopped and reported as such.
//! With `P2P_TUI_BEFORE=<another p2p-tui binary>`, that binary is measured first, then this
//! build: a change's before and after in one run.

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
    if let Some(before) = std::env::var_os("P2P_TUI_BEFORE") {
        let before = PathBuf::from(before);
        println!("before: {}", before.display());
        measure(&before, &options);
        println!("after: {BIN}");
    }
    measure(Path::new(BIN), &options);
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
fn loopback(bin: &Path, peers: &Peers, options: &Options) {
    let size = options.size_mib << 20;
    let source = peers.serve("big.bin", size);
    let settings = peers.settings();
    let download = "#DOWNLOAD big.bin p2 p3 p4";
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
    if options.lockstep {
        let secs = run(download, "1");
        check_same(&source, &peers.served("p1", "big.bin"));
        print_rate("download from 3 peers, window 1 (lockstep)", size, secs, "");
        peers.forget_download("big.bin");
    }
    let secs = run(download, DEFAULT_WINDOW);
    check_same(&source, &peers.served("p1", "big.bin"));
    let what = format!("download from 3 peers, adaptive window <= {DEFAULT_WINDOW}");
    print_rate(&what, size, secs, "");
    for id in FAST {
        let _ = fs::remove_file(peers.served(id, "up.bin"));
    }
    fs::hard_link(&source, peers.served("p1", "up.bin")).unwrap();
    let secs = run("#UPLOAD up.bin p2 p3 p4", DEFAULT_WINDOW);
    for id in FAST {
        check_same(&source, &peers.served(id, "up.bin"));
    }
    let what = format!("upload to 3 peers at once, window <= {DEFAULT_WINDOW}");
    print_rate(&what, size, secs, " per target");
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
}

fn print_rate(what: &str, size: u64, secs: f64, unit_suffix: &str) {
    println!(
        "  {what:<43} {:>9.1} MB/s{unit_suffix}  ({secs:.2} s)",
        size as f64 / 1e6 / secs
    );
}
