//! Issue 29's cases: the serving peers at a distance, behind one relay per path
//! (`p2p_tui::relay`), and a slow peer among fast ones. Each case's target is printed beside
//! its figure; the downloader's flags are each binary's defaults unless a case names one.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use p2p_tui::relay::{Link, Relay, RelayConfig};

use crate::peers::{FAST, Peers, Run, SLOW, command};
use crate::system::check_same;

/// The downloader's memory cap by default (`--download-memory`), and what its peak RSS may
/// exceed it by.
const MEMORY_CAP_MIB: f64 = 64.0;
const MEMORY_MARGIN_MIB: f64 = 32.0;

/// 100 Mbit/s.
const PATH_RATE: u64 = 12_500_000;

/// 50 or 100 ms round trips at 12.5 MB/s per path.
fn capped(round_trip_ms: u64) -> Link {
    Link {
        delay: Duration::from_millis(round_trip_ms / 2),
        rate: Some(PATH_RATE),
        ..Link::default()
    }
}

/// What, the paths' link (`None`: no relay), bytes, p1's extra flags, the target.
type Case = (
    &'static str,
    Option<Link>,
    u64,
    &'static [&'static str],
    &'static str,
);

fn cases() -> [Case; 5] {
    let uncapped = Link {
        delay: Duration::from_millis(25),
        // Holds what any window could have in flight: the delay is the only bound.
        queue: 256 << 20,
        ..Link::default()
    };
    let mb100 = 100_000_000;
    let target = ">= 30 MB/s";
    [
        ("loopback, no relay, 100 MB", None, mb100, &[], ""),
        (
            "relay, no delay, no cap, 48 MiB",
            Some(Link::default()),
            48 << 20,
            &[],
            "",
        ),
        (
            "50 ms, 12.5 MB/s per path, 100 MB",
            Some(capped(50)),
            mb100,
            &[],
            target,
        ),
        (
            "100 ms, 12.5 MB/s per path, 100 MB",
            Some(capped(100)),
            mb100,
            &[],
            target,
        ),
        (
            "50 ms, no cap, 60 MB, --window 4096",
            Some(uncapped),
            60_000_000,
            &["--window", "4096"],
            "",
        ),
    ]
}

pub fn measure(bin: &Path, peers: &Peers, limit: Duration) {
    println!(
        "  at a distance: p2 p3 p4 each behind a relay of its own (one-way delay = half the round trip)"
    );
    for round_trip_ms in [50, 100] {
        let rate = raw_through_relays(capped(round_trip_ms), 3, 25_000_000);
        let what = format!("raw TCP, the 3 paths at once, {round_trip_ms} ms");
        println!("    {what:<38} {rate:>7.1} MB/s  (ceiling: 37.5)");
    }
    let ceiling =
        3.0 * PATH_RATE as f64 / 1e6 * payload_share("200 File ", "r100000000.bin", 100_000_000);
    println!(
        "    {:<38} {ceiling:>7.1} MB/s  (80 %: {:.1}; a 100-byte chunk travels as `200 File <name> chunk <i> <payload>\\n`)",
        "of which file bytes, in seed replies",
        0.8 * ceiling
    );
    // Between p2p-tui peers a chunk travels as `+<payload>`: one byte more than the chunk.
    let compact = 3.0 * PATH_RATE as f64 / 1e6 * 100.0 / 101.0;
    println!(
        "    {:<38} {compact:>7.1} MB/s  (between p2p-tui peers, `compact`: `+<payload>`)",
        "of which file bytes, in compact replies"
    );
    let mut peak_kib = 0;
    for (what, link, size, extra, target) in cases() {
        let run = through(bin, peers, link, size, extra, limit);
        peak_kib = peak_kib.max(run.peak_kib);
        println!(
            "    {what:<38} {:>12}  ({}, peak RSS {:.1} MiB)  {target}",
            run.rate(size),
            run.time(),
            run.peak_kib as f64 / 1024.0
        );
    }
    for round_trip_ms in [50, 100] {
        uploaded_through(bin, peers, capped(round_trip_ms), 30_000_000, limit);
    }
    for size in [4 << 20, 64 << 20] {
        slow_peer(bin, peers, size, limit);
    }
    let ceiling = MEMORY_CAP_MIB + MEMORY_MARGIN_MIB;
    println!(
        "    downloader's peak RSS, largest of the five cases: {:.1} MiB (target < cap {MEMORY_CAP_MIB} + {MEMORY_MARGIN_MIB} = {ceiling} MiB)",
        peak_kib as f64 / 1024.0
    );
}

/// The share of the bytes carrying a file that is the file's, over every chunk of `size`: the
/// seed's messages per chunk (SPEC.md) are `<verb><name> chunk <i> <payload>` and a newline,
/// `verb` `200 File ` for a download's replies, `#UPLOAD ` for an upload.
fn payload_share(verb: &str, name: &str, size: u64) -> f64 {
    let chunks = size.div_ceil(100);
    let heads: u64 = (0..chunks)
        .map(|i| format!("{verb}{name} chunk {i} \n").len() as u64)
        .sum();
    size as f64 / (size + heads) as f64
}

/// `bytes` through each of `paths` relays with `link` at once, one TCP stream each, 256 KiB
/// writes; MB/s in all: what the paths carry.
fn raw_through_relays(link: Link, paths: usize, bytes: u64) -> f64 {
    let started = std::time::Instant::now();
    let streams: Vec<_> = (0..paths)
        .map(|_| {
            let sink = TcpListener::bind("127.0.0.1:0").unwrap();
            let target = sink.local_addr().unwrap();
            let relay = Relay::start(target, RelayConfig::symmetric(link.clone())).unwrap();
            std::thread::spawn(move || {
                let mut client = TcpStream::connect(relay.addr()).unwrap();
                let (mut server, _) = sink.accept().unwrap();
                let reader =
                    std::thread::spawn(move || std::io::copy(&mut server, &mut std::io::sink()));
                let block = vec![0x5au8; 256 << 10];
                let mut sent = 0;
                while sent < bytes {
                    client.write_all(&block).unwrap();
                    sent += block.len() as u64;
                }
                drop(client);
                assert_eq!(reader.join().unwrap().unwrap(), sent);
                drop(relay);
                sent
            })
        })
        .collect();
    let total: u64 = streams.into_iter().map(|s| s.join().unwrap()).sum();
    total as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// A download of `size` bytes from p2, p3 and p4, each through a relay with `link` both ways
/// (`None`: directly).
fn through(
    bin: &Path,
    peers: &Peers,
    link: Option<Link>,
    size: u64,
    extra: &[&str],
    limit: Duration,
) -> Run {
    let name = format!("r{size}.bin");
    let source = peers.serve(&name, size);
    let relays = link.map_or_else(Vec::new, |link| relays_to_fast_peers(peers, &link));
    let settings = relayed_settings(peers, &relays);
    let line = format!("#DOWNLOAD {name} p2 p3 p4");
    let run = command(bin, peers, &settings, &line, extra, limit);
    if run.finished {
        check_same(&source, &peers.served("p1", &name));
    }
    peers.forget_download(&name);
    run
}

/// One relay with `link` both ways in front of each of p2, p3 and p4.
fn relays_to_fast_peers(peers: &Peers, link: &Link) -> Vec<(&'static str, Relay)> {
    FAST.iter()
        .map(|id| {
            let target = SocketAddr::from(([127, 0, 0, 1], peers.port(id)));
            let relay =
                Relay::start(target, RelayConfig::symmetric(link.clone())).expect("start a relay");
            (*id, relay)
        })
        .collect()
}

/// p1's settings with each relayed peer at its relay's port.
fn relayed_settings(peers: &Peers, relays: &[(&str, Relay)]) -> std::path::PathBuf {
    let instead: Vec<(&str, u16)> = relays.iter().map(|(id, r)| (*id, r.port())).collect();
    peers.write_settings("p1_relayed.txt", &instead)
}

/// An upload of `size` bytes from p1 to p2, p3 and p4, each behind a relay with `link`: the
/// rate per target, beside what one path carries of the file in `#UPLOAD` lines.
fn uploaded_through(bin: &Path, peers: &Peers, link: Link, size: u64, limit: Duration) {
    let name = format!("u{size}.bin");
    let source = peers.root_file(&name, size);
    for id in FAST {
        let _ = std::fs::remove_file(peers.served(id, &name));
    }
    std::fs::hard_link(&source, peers.served("p1", &name)).unwrap();
    let relays = relays_to_fast_peers(peers, &link);
    let settings = relayed_settings(peers, &relays);
    let run = command(
        bin,
        peers,
        &settings,
        &format!("#UPLOAD {name} p2 p3 p4"),
        &[],
        limit,
    );
    if run.finished {
        for id in FAST {
            check_same(&source, &peers.served(id, &name));
        }
    }
    let _ = std::fs::remove_file(peers.served("p1", &name));
    let ceiling = PATH_RATE as f64 / 1e6 * payload_share("#UPLOAD ", &name, size);
    let what = format!(
        "upload to 3, {} ms, 12.5 MB/s, 30 MB",
        link.delay.as_millis() * 2
    );
    println!(
        "    {what:<38} {:>12}  ({}, per target; the path carries {ceiling:.1} of the file)",
        run.rate(size),
        run.time(),
    );
}

/// Loopback: p5 at `--chunk-delay 2` among p2 and p4, against p2 and p4 alone.
fn slow_peer(bin: &Path, peers: &Peers, size: u64, limit: Duration) {
    let name = format!("s{size}.bin");
    let source = peers.serve(&name, size);
    let settings = peers.settings();
    let run = |from: &str| {
        let line = format!("#DOWNLOAD {name} {from}");
        let run = command(bin, peers, &settings, &line, &[], limit);
        if run.finished {
            check_same(&source, &peers.served("p1", &name));
        }
        peers.forget_download(&name);
        run
    };
    let fast = run("p2 p4");
    let mixed = run(&format!("p2 {SLOW} p4"));
    let target = 1.5 * fast.secs + 0.5;
    println!(
        "    {SLOW} at --chunk-delay 2 with p2 p4, {:>2} MiB: {:>18}; p2 p4 alone {} (target <= {target:.2} s)",
        size >> 20,
        mixed.time(),
        fast.time()
    );
}
