//! Tracker load: N simulated peers of F files each join a real `p2p-tui --tracker` process on
//! loopback and send a keep-alive every 5 s; reports directory-response latency (keep-alive sent
//! → whole response received), the traffic the pull model costs (directory bytes the peers
//! receive per second), the tracker's CPU use, memory and TCP sockets from /proc, and how long a
//! change takes to reach the other peers: near the end, one peer re-announces with a new name
//! and every other peer notes when a directory response first lists it (SECONDS of 11 or more
//! leave every peer a whole keep-alive period to see it). Bounded: one run of `SECONDS` seconds
//! of steady state. Usage: cargo bench --bench tracker_load [-- PEERS FILES SECONDS]

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
}

/// The name the changing peer adds: it sorts before every `peerN_fileM.txt`, so a directory
/// response lists it first and a peer spots it without parsing the whole response.
const CHANGED: &str = "a_changed_file.txt";

/// Process `pid`'s TCP sockets: (listening, others). Its socket descriptors matched by inode
/// against the kernel's TCP tables.
fn tcp_sockets(pid: u32) -> (usize, usize) {
    let inodes: HashSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| {
                let target = std::fs::read_link(fd.ok()?.path()).ok()?;
                let target = target.to_str()?;
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect()
        })
        .unwrap_or_default();
    let (mut listening, mut connected) = (0, 0);
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(inode) = fields.get(9).and_then(|i| i.parse::<u64>().ok()) else {
                continue;
            };
            if inode != 0 && inodes.contains(&inode) {
                if fields[3] == "0A" {
                    listening += 1;
                } else {
                    connected += 1;
                }
            }
        }
    }
    (listening, connected)
}

/// A `VmRSS:`-style line of /proc/PID/status, in MiB.
fn status_mib(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Reads one whole response (they end with '\n') into `buf`; returns its length.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    loop {
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.last() == Some(&b'\n') {
            return Ok(buf.len());
        }
    }
}

/// What one simulated peer saw.
struct PeerReport {
    /// Steady-state keep-alive → whole response times.
    latencies: Vec<Duration>,
    /// Size of its last response.
    response_bytes: usize,
    /// Directory bytes received for keep-alives sent in the steady state.
    steady_bytes: u64,
    /// From the change being sent to this peer's first response listing it.
    saw_change: Option<Duration>,
}

async fn peer(
    addr: String,
    index: usize,
    files: usize,
    measure_from: Instant,
    stop: Instant,
    start_offset: Duration,
    change: Arc<Change>,
) -> PeerReport {
    let mut stream = TcpStream::connect(&addr).await.expect("connect tracker");
    let port = 20000 + index as u16;
    let list: Vec<String> = (0..files)
        .map(|f| format!("{{\"name\": \"peer{index}_file{f}.txt\", \"mtime\": 1700000000}}"))
        .collect();
    let initial = format!("{{\"port\": {port}, \"files\": [{}]}}", list.join(", "));
    let mut buf = Vec::new();
    stream.write_all(initial.as_bytes()).await.expect("initial");
    read_response(&mut stream, &mut buf)
        .await
        .expect("first response");
    tokio::time::sleep(start_offset).await;
    let mut report = PeerReport {
        latencies: Vec::new(),
        response_bytes: 0,
        steady_bytes: 0,
        saw_change: None,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    // Keep-alives sent in [measure_from, stop) count; the loop ends at `stop`.
    while tokio::time::timeout_at(stop.into(), tick.tick())
        .await
        .is_ok()
    {
        let sent = Instant::now();
        // Peer 0 makes the change: its next message after `change.at` is a re-announce.
        let message = if index == 0 && sent >= change.at && change.sent.get().is_none() {
            let _ = change.sent.set(sent);
            let with_new = format!("{{\"name\": \"{CHANGED}\", \"mtime\": 1700000000}}");
            format!(
                "{{\"port\": {port}, \"files\": [{}]}}",
                [with_new]
                    .iter()
                    .chain(&list)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!("{{\"port\": {port}}}")
        };
        stream
            .write_all(message.as_bytes())
            .await
            .expect("keep-alive");
        report.response_bytes = read_response(&mut stream, &mut buf)
            .await
            .expect("response");
        let received = Instant::now();
        // Only the steady state counts (the join storm rebuilds the directory a thousand times).
        if sent >= measure_from {
            report.latencies.push(received - sent);
            report.steady_bytes += report.response_bytes as u64;
        }
        if index != 0 && report.saw_change.is_none() {
            let listed = buf.starts_with(format!("{{\"{CHANGED}\"").as_bytes());
            if let (true, Some(&at)) = (listed, change.sent.get()) {
                report.saw_change = Some(received.saturating_duration_since(at));
            }
        }
    }
    report
}

/// When peer 0 re-announces with a new name (its first keep-alive tick after `at`).
struct Change {
    at: Instant,
    sent: OnceLock<Instant>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (peers, files, seconds) = (
        args.first().copied().unwrap_or(1000),
        args.get(1).copied().unwrap_or(10),
        args.get(2).copied().unwrap_or(30),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut tracker = Command::new(env!("CARGO_BIN_EXE_p2p-tui"))
        .args(["--tracker", &addr, "--peer-timeout", "30"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tracker");
    let pid = tracker.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "tracker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let joined_at = Instant::now();
    let measure_from = joined_at + Duration::from_secs(5);
    let stop = measure_from + Duration::from_secs(seconds as u64);
    let change = Arc::new(Change {
        // Peer 0 sends it at its first tick after `at` (within 5 s); then every other peer
        // needs a whole keep-alive period (5 s) to see it, with a second to spare.
        at: measure_from + Duration::from_secs(seconds.saturating_sub(11) as u64),
        sent: OnceLock::new(),
    });
    let tasks: Vec<_> = (0..peers)
        .map(|i| {
            // Spread keep-alives over the 5 s period, as independent peers would be.
            let offset = Duration::from_micros((i as u64 * 5_000_000) / peers as u64);
            tokio::spawn(peer(
                addr.clone(),
                i,
                files,
                measure_from,
                stop,
                offset,
                Arc::clone(&change),
            ))
        })
        .collect();
    // Measure the tracker's CPU over the steady state only (after every peer joined).
    tokio::time::sleep_until(measure_from.into()).await;
    let (cpu0, t0) = (cpu_ticks(pid), Instant::now());
    // Memory and sockets a quarter of the way in, every peer connected.
    tokio::time::sleep(Duration::from_secs(seconds as u64) / 4).await;
    let (listening, connected) = tcp_sockets(pid);
    let rss = status_mib(pid, "VmRSS:");
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(t.await.expect("peer task"));
    }
    let (cpu1, wall) = (cpu_ticks(pid), t0.elapsed());
    let peak = status_mib(pid, "VmHWM:");
    let _ = tracker.kill();
    let _ = tracker.wait();
    let mut latencies: Vec<Duration> = reports.iter().flat_map(|r| r.latencies.clone()).collect();
    latencies.sort();
    let response_bytes = reports.iter().map(|r| r.response_bytes).max().unwrap_or(0);
    let steady_bytes: u64 = reports.iter().map(|r| r.steady_bytes).sum();
    let mut change_seen: Vec<Duration> = reports.iter().filter_map(|r| r.saw_change).collect();
    change_seen.sort();
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let cpu = (cpu1 - cpu0) as f64 / ticks_per_sec / wall.as_secs_f64() * 100.0;
    let window = seconds as f64;
    println!(
        "tracker load: {peers} peers x {files} files, keep-alive every 5 s, {:.0} s of steady state measured",
        wall.as_secs_f64()
    );
    println!(
        "  directory response: {} bytes; {} responses timed",
        response_bytes,
        latencies.len()
    );
    println!(
        "  latency (keep-alive -> whole response): p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    println!(
        "  pull traffic, tracker -> peers: {:.1} MB/s ({:.0} responses/s; {} bytes over the {window:.0} s window)",
        steady_bytes as f64 / window / 1e6,
        latencies.len() as f64 / window,
        steady_bytes
    );
    println!("  tracker CPU: {cpu:.1}% of one core (utime+stime from /proc/{pid}/stat)");
    println!(
        "  tracker memory: RSS {rss:.1} MiB with every peer connected, peak {peak:.1} MiB (VmRSS, VmHWM)"
    );
    println!(
        "  tracker TCP sockets: {listening} listening + {connected} connected, for {peers} peers (/proc/{pid}/fd matched to /proc/net/tcp)"
    );
    if change_seen.is_empty() {
        println!("  change: not seen by any peer (run 11 s or longer)");
    } else {
        println!(
            "  a change (one peer re-announces with a new name) reached {} of {} other peers: p50 {:.2} s  p95 {:.2} s  max {:.2} s after it was sent",
            change_seen.len(),
            peers - 1,
            percentile(&change_seen, 0.50).as_secs_f64(),
            percentile(&change_seen, 0.95).as_secs_f64(),
            change_seen.last().map_or(0.0, |d| d.as_secs_f64())
        );
    }
}
