//! Tracker load: N simulated peers of F files each join a real `p2p-tui --tracker` process on
//! loopback and send a keep-alive every 5 s; reports directory-response latency (keep-alive sent
//! → whole response received) and the tracker's CPU use from /proc. Bounded: one run of
//! `DURATION` seconds. Usage: cargo bench --bench tracker_load [-- PEERS FILES SECONDS]

use std::process::{Command, Stdio};
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

async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    // Responses end with '\n'; read until one has arrived whole.
    let mut total = 0;
    loop {
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        total += n;
        if buf.last() == Some(&b'\n') {
            buf.clear();
            return Ok(total);
        }
    }
}

async fn peer(
    addr: String,
    index: usize,
    files: usize,
    measure_from: Instant,
    stop: Instant,
    start_offset: Duration,
) -> (Vec<Duration>, usize) {
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
    let mut latencies = Vec::new();
    let mut bytes = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    while Instant::now() < stop {
        tick.tick().await;
        let sent = Instant::now();
        stream
            .write_all(format!("{{\"port\": {port}}}").as_bytes())
            .await
            .expect("keep-alive");
        bytes = read_response(&mut stream, &mut buf)
            .await
            .expect("response");
        // Only the steady state counts (the join storm rebuilds the directory a thousand times).
        if sent >= measure_from {
            latencies.push(sent.elapsed());
        }
    }
    (latencies, bytes)
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
    let stop = joined_at + Duration::from_secs(seconds as u64 + 5);
    let tasks: Vec<_> = (0..peers)
        .map(|i| {
            // Spread keep-alives over the 5 s period, as independent peers would be.
            let offset = Duration::from_micros((i as u64 * 5_000_000) / peers as u64);
            tokio::spawn(peer(
                addr.clone(),
                i,
                files,
                joined_at + Duration::from_secs(5),
                stop,
                offset,
            ))
        })
        .collect();
    // Measure the tracker's CPU over the steady state only (after every peer joined).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu0, t0) = (cpu_ticks(pid), Instant::now());
    let mut latencies = Vec::new();
    let mut response_bytes = 0;
    for t in tasks {
        let (l, b) = t.await.expect("peer task");
        latencies.extend(l);
        response_bytes = response_bytes.max(b);
    }
    let (cpu1, wall) = (cpu_ticks(pid), t0.elapsed());
    let _ = tracker.kill();
    let _ = tracker.wait();
    latencies.sort();
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let cpu = (cpu1 - cpu0) as f64 / ticks_per_sec / wall.as_secs_f64() * 100.0;
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
    println!("  tracker CPU: {cpu:.1}% of one core (utime+stime from /proc/{pid}/stat)");
}
