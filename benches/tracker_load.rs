//! Tracker load: N simulated peers of F files each join a real `p2p-tui --tracker` process on
//! loopback and send a keep-alive every 5 s; reports directory-response latency (keep-alive sent
//! → whole response received), the traffic the pull model costs (directory bytes the peers
//! receive per second), the tracker's CPU use, memory and TCP sockets from /proc, and how long a
//! change takes to reach the other peers: near the end, one peer re-announces with a new name
//! and every other peer notes when a directory response first lists it (SECONDS of 11 or more
//! leave every peer a whole keep-alive period to see it). Bounded: one run of `SECONDS` seconds
//! of steady state.
//!
//! Modes: `classroom` (default): seed-002 messages, the whole directory on every keep-alive;
//! `members`: p2p-tui members (`"since"`: directory deltas); `restart`: members, and halfway
//! through the tracker is killed and started again on the same port: every member reconnects
//! with the members' jittered backoff, and the time until all are back is reported. Every
//! peer connects at once (a join burst); refused, reset and closed connections are counted.
//! The tracker runs with default flags; this process and the tracker get the soft descriptor
//! limit raised to the hard one, and the tracker is killed on every exit path (a drop guard,
//! and SIGINT/SIGTERM).
//!
//! Usage: cargo bench --bench tracker_load [-- [classroom|members|restart] PEERS FILES SECONDS]

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Classroom,
    Members,
    Restart,
}

/// What one simulated peer saw.
#[derive(Default)]
struct PeerReport {
    /// Steady-state keep-alive → whole response times.
    latencies: Vec<Duration>,
    /// Size of its largest response.
    response_bytes: usize,
    /// Directory bytes received for keep-alives sent in the steady state.
    steady_bytes: u64,
    /// From the change being sent to this peer's first response listing it.
    saw_change: Option<Duration>,
    /// Why its first connection failed or ended, if it did (refused, reset, closed).
    lost: Option<String>,
    /// Restart mode: from the tracker's restart to this peer's first response on the new one.
    back_after: Option<Duration>,
}

/// What every peer shares: the schedule, the change, and the restart.
struct Plan {
    addr: String,
    mode: Mode,
    files: usize,
    measure_from: Instant,
    stop: Instant,
    change: Change,
    /// Set when the tracker has been started again (restart mode).
    restarted: OnceLock<Instant>,
    back: AtomicUsize,
}

/// When peer 0 re-announces with a new name (its first keep-alive tick after `at`).
struct Change {
    at: Instant,
    sent: OnceLock<Instant>,
}

/// One peer's connection: its messages and what it holds.
struct Session {
    stream: TcpStream,
    port: u16,
    list: Vec<String>,
    since: u64,
    buf: Vec<u8>,
}

impl Session {
    fn initial(&self, plan: &Plan, extra: Option<&str>) -> String {
        let files: Vec<String> = extra
            .map(String::from)
            .into_iter()
            .chain(self.list.iter().cloned())
            .collect();
        match plan.mode {
            Mode::Classroom => format!(
                "{{\"port\": {}, \"files\": [{}]}}",
                self.port,
                files.join(", ")
            ),
            _ => format!(
                "{{\"port\": {}, \"files\": [{}], \"since\": {}}}",
                self.port,
                files.join(", "),
                self.since
            ),
        }
    }

    fn keep_alive(&self, plan: &Plan) -> String {
        match plan.mode {
            Mode::Classroom => format!("{{\"port\": {}}}", self.port),
            _ => format!("{{\"port\": {}, \"since\": {}}}", self.port, self.since),
        }
    }

    /// Sends `message`, reads the whole reply; notes the version a delta brings.
    async fn ask(&mut self, message: &str) -> std::io::Result<usize> {
        self.stream.write_all(message.as_bytes()).await?;
        let n = read_response(&mut self.stream, &mut self.buf).await?;
        if let Some(to) = delta_to(&self.buf) {
            self.since = to;
        }
        Ok(n)
    }

    fn lists_change(&self, mode: Mode) -> bool {
        match mode {
            Mode::Classroom => self.buf.starts_with(format!("{{\"{CHANGED}\"").as_bytes()),
            _ => self
                .buf
                .windows(CHANGED.len())
                .any(|w| w == CHANGED.as_bytes()),
        }
    }
}

/// The `to` of a delta reply (`{"delta":{"from":N,..."to":M}}`), without parsing the rest.
fn delta_to(reply: &[u8]) -> Option<u64> {
    if !reply.starts_with(b"{\"delta\"") {
        return None;
    }
    let text = std::str::from_utf8(reply).ok()?;
    let at = text.rfind("\"to\":")? + 5;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

async fn join(plan: &Plan, index: usize) -> std::io::Result<Session> {
    let stream = TcpStream::connect(&plan.addr).await?;
    let list = (0..plan.files)
        .map(|f| format!("{{\"name\": \"peer{index}_file{f}.txt\", \"mtime\": 1700000000}}"))
        .collect();
    let mut session = Session {
        stream,
        port: 20000 + index as u16,
        list,
        since: 0,
        buf: Vec::new(),
    };
    let initial = session.initial(plan, None);
    session.ask(&initial).await?;
    Ok(session)
}

async fn peer(plan: Arc<Plan>, index: usize, offset: Duration) -> PeerReport {
    let mut report = PeerReport::default();
    let mut session = match join(&plan, index).await {
        Ok(s) => s,
        Err(e) => {
            report.lost = Some(format!("join: {e}"));
            return report;
        }
    };
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        let ticked = tokio::select! {
            t = tokio::time::timeout_at(plan.stop.into(), tick.tick()) => t.is_ok(),
            // A member notices a closed connection at once (as `announce::session` does).
            _ = session.stream.readable(), if plan.mode == Mode::Restart => {
                let mut byte = [0u8; 1];
                let read = session.stream.try_read(&mut byte);
                let would_block = matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
                if !would_block && matches!(read, Ok(0) | Err(_)) {
                    report.lost.get_or_insert("closed by the tracker".into());
                    session = rejoin(&plan, index, &mut report).await;
                }
                continue;
            }
        };
        if !ticked {
            break;
        }
        let sent = Instant::now();
        let message = if index == 0 && sent >= plan.change.at && plan.change.sent.get().is_none() {
            let _ = plan.change.sent.set(sent);
            let with_new = format!("{{\"name\": \"{CHANGED}\", \"mtime\": 1700000000}}");
            session.initial(&plan, Some(&with_new))
        } else {
            session.keep_alive(&plan)
        };
        match session.ask(&message).await {
            Ok(n) => note(&mut report, &plan, &session, n, sent, index),
            Err(e) if plan.mode == Mode::Restart => {
                report.lost.get_or_insert(format!("{e}"));
                session = rejoin(&plan, index, &mut report).await;
            }
            Err(e) => {
                report.lost = Some(format!("keep-alive: {e}"));
                return report;
            }
        }
    }
    report
}

fn note(
    report: &mut PeerReport,
    plan: &Plan,
    session: &Session,
    n: usize,
    sent: Instant,
    index: usize,
) {
    let received = Instant::now();
    report.response_bytes = report.response_bytes.max(n);
    if sent >= plan.measure_from {
        report.latencies.push(received - sent);
        report.steady_bytes += n as u64;
    }
    if index != 0 && report.saw_change.is_none() && session.lists_change(plan.mode) {
        if let Some(&at) = plan.change.sent.get() {
            report.saw_change = Some(received.saturating_duration_since(at));
        }
    }
}

/// After the tracker's restart: reconnects with the members' policy (full jitter, ceiling 1 s
/// doubling to 30 s), as `--join` and `--sync` do.
async fn rejoin(plan: &Plan, index: usize, report: &mut PeerReport) -> Session {
    let mut ceiling = Duration::from_secs(1);
    let mut seed = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    loop {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let random = (seed >> 11) as f64 / (1u64 << 53) as f64;
        tokio::time::sleep(ceiling.mul_f64(random)).await;
        ceiling = (ceiling * 2).min(Duration::from_secs(30));
        match join(plan, index).await {
            Ok(session) => {
                if let Some(&at) = plan.restarted.get() {
                    report.back_after = Some(at.elapsed());
                    plan.back.fetch_add(1, Ordering::Relaxed);
                }
                return session;
            }
            // Refused while the tracker is down is expected; a reset by a running one is not.
            Err(e)
                if plan.restarted.get().is_some()
                    && e.kind() != std::io::ErrorKind::ConnectionRefused =>
            {
                REJOIN_RESETS.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Raises this process's soft descriptor limit to the hard one (the tracker inherits it).
fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// The tracker process: killed when dropped (a panic, an early return) and on SIGINT/SIGTERM.
struct TrackerGuard(Child);

static TRACKER_PID: AtomicI32 = AtomicI32::new(0);
/// Rejoin attempts to the restarted tracker that failed other than by a refused connect.
static REJOIN_RESETS: AtomicUsize = AtomicUsize::new(0);

impl TrackerGuard {
    fn start(addr: &str) -> TrackerGuard {
        let child = Command::new(env!("CARGO_BIN_EXE_p2p-tui"))
            .args(["--tracker", addr, "--peer-timeout", "30"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tracker");
        TRACKER_PID.store(child.id() as i32, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "tracker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TrackerGuard(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// On SIGINT or SIGTERM: kill the tracker, then exit.
fn kill_tracker_on_signal() {
    tokio::spawn(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        let pid = TRACKER_PID.load(Ordering::SeqCst);
        if pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::process::exit(130);
    });
}

#[tokio::main]
async fn main() {
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
    let (peers, files, seconds) = (
        numbers.first().copied().unwrap_or(1000),
        numbers.get(1).copied().unwrap_or(10),
        numbers.get(2).copied().unwrap_or(30),
    );
    let limit = raise_descriptor_limit();
    kill_tracker_on_signal();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut tracker = TrackerGuard::start(&addr);
    let joined_at = Instant::now();
    let measure_from = joined_at + Duration::from_secs(5);
    let stop = measure_from + Duration::from_secs(seconds as u64);
    let plan = Arc::new(Plan {
        addr: addr.clone(),
        mode,
        files,
        measure_from,
        stop,
        change: Change {
            at: measure_from + Duration::from_secs(seconds.saturating_sub(11) as u64),
            sent: OnceLock::new(),
        },
        restarted: OnceLock::new(),
        back: AtomicUsize::new(0),
    });
    let tasks: Vec<_> = (0..peers)
        .map(|i| {
            let offset = Duration::from_micros((i as u64 * 5_000_000) / peers as u64);
            tokio::spawn(peer(Arc::clone(&plan), i, offset))
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let (cpu0, t0) = (cpu_ticks(tracker.pid()), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds as u64) / 4).await;
    let (listening, connected) = tcp_sockets(tracker.pid());
    let rss = status_mib(tracker.pid(), "VmRSS:");
    let (cpu1, wall) = (cpu_ticks(tracker.pid()), t0.elapsed());
    let peak = status_mib(tracker.pid(), "VmHWM:");
    let mut restart_line = None;
    if mode == Mode::Restart {
        drop(tracker);
        let down = Instant::now();
        tracker = TrackerGuard::start(&addr);
        let _ = plan.restarted.set(down);
        let give_up = down + Duration::from_secs(60);
        while plan.back.load(Ordering::Relaxed) < peers && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        restart_line = Some(format!(
            "  restart: {} of {peers} members back on the new tracker {:.1} s after the old one was killed; {} rejoin attempts reset or failed on the new tracker",
            plan.back.load(Ordering::Relaxed),
            down.elapsed().as_secs_f64(),
            REJOIN_RESETS.load(Ordering::Relaxed)
        ));
    }
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(t.await.expect("peer task"));
    }
    drop(tracker);
    print_report(&reports, mode, peers, files, seconds, limit);
    println!(
        "  tracker CPU: {:.1}% of one core over {:.0} s of steady state",
        (cpu1 - cpu0) as f64 / 100.0 / wall.as_secs_f64() * 100.0,
        wall.as_secs_f64()
    );
    println!(
        "  tracker memory: RSS {rss:.1} MiB with every peer connected, peak {peak:.1} MiB (VmRSS, VmHWM)"
    );
    println!(
        "  tracker TCP sockets: {listening} listening + {connected} connected, for {peers} peers"
    );
    if let Some(line) = restart_line {
        println!("{line}");
    }
}

fn print_report(
    reports: &[PeerReport],
    mode: Mode,
    peers: usize,
    files: usize,
    seconds: usize,
    limit: u64,
) {
    let mut latencies: Vec<Duration> = reports.iter().flat_map(|r| r.latencies.clone()).collect();
    latencies.sort();
    let response_bytes = reports.iter().map(|r| r.response_bytes).max().unwrap_or(0);
    let steady_bytes: u64 = reports.iter().map(|r| r.steady_bytes).sum();
    let mut change_seen: Vec<Duration> = reports.iter().filter_map(|r| r.saw_change).collect();
    change_seen.sort();
    let lost: Vec<&String> = reports.iter().filter_map(|r| r.lost.as_ref()).collect();
    let name = match mode {
        Mode::Classroom => "classroom",
        Mode::Members => "members",
        Mode::Restart => "restart",
    };
    println!(
        "tracker load ({name}): {peers} peers x {files} files joining at once, keep-alive every 5 s, {seconds} s measured (descriptor limit {limit})"
    );
    println!(
        "  connections refused, reset or closed by the tracker: {}{}",
        lost.len(),
        lost.first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "  largest response: {response_bytes} bytes; {} responses timed",
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
        "  directory traffic, tracker -> peers: {:.2} MB/s",
        steady_bytes as f64 / seconds as f64 / 1e6
    );
    if change_seen.is_empty() {
        println!("  change: not seen by any peer (run 11 s or longer)");
    } else {
        println!(
            "  a change reached {} of {} other peers: p50 {:.2} s  max {:.2} s after it was sent",
            change_seen.len(),
            peers - 1,
            percentile(&change_seen, 0.50).as_secs_f64(),
            change_seen.last().map_or(0.0, |d| d.as_secs_f64())
        );
    }
}
