//! Hostile clients against a peer and the tracker (issue 20): every buffer has a bound, every
//! connection a deadline. Each test measures the bound it proves (memory, log bytes, time until
//! a connection is closed) and checks that a well-behaved client is served meanwhile.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Net, Raw, bin, free_port, random_bytes};

/// A server process whose stderr (its log) goes to a file, killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Peer p2 of `net`, headless, logging at `level`.
    fn peer(net: &Net, extra: &[&str], level: &str) -> Server {
        let log = net.root.path().join(format!("p2-{}.log", free_port()));
        let mut cmd = net.peer_command("p2", "--headless", extra);
        cmd.env("RUST_LOG", level);
        Server::spawn(cmd, net.port("p2"), log, None)
    }

    /// A tracker on a free port, logging at `level`.
    fn tracker(extra: &[&str], level: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut cmd = Command::new(bin());
        cmd.arg("--tracker")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("RUST_LOG", level);
        let log = dir.path().join("tracker.log");
        Server::spawn(cmd, port, log, Some(dir))
    }

    fn spawn(mut cmd: Command, port: u16, log: PathBuf, dir: Option<tempfile::TempDir>) -> Server {
        let stderr = File::create(&log).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn server");
        let server = Server {
            child,
            port,
            log,
            _dir: dir,
        };
        wait_for("the server to listen", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// Peak resident memory (VmHWM) in KiB.
    fn peak_rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmHWM:")
    }

    /// Open file descriptors: the listener, logs, and one per open connection.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// CPU time used so far by all its threads (utime + stime from /proc/PID/stat; USER_HZ is
    /// 100 on Linux).
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the command name (which may hold spaces) start at field 3.
        let after = &stat[stat.rfind(')').expect("stat comm") + 2..];
        let fields: Vec<u64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let ticks = fields[11] + fields[12];
        Duration::from_millis(ticks * 10)
    }

    /// Open descriptors once connections made so far (start-up probes) are closed: the count
    /// is the same over half a second.
    fn settled_fds(&self) -> usize {
        let mut last = self.open_fds();
        let mut same = 0;
        wait_for(
            "the descriptor count to settle",
            Duration::from_secs(10),
            || {
                std::thread::sleep(Duration::from_millis(50));
                let now = self.open_fds();
                same = if now == last { same + 1 } else { 0 };
                last = now;
                same >= 10
            },
        );
        last
    }

    /// Waits until the server holds a connection more than `fds` descriptors (it accepted one).
    fn wait_for_fds_above(&self, fds: usize) {
        wait_for(
            "the connection to be accepted",
            Duration::from_secs(10),
            || self.open_fds() > fds,
        );
    }

    /// Waits until the server holds no more than `fds` descriptors; how long that took.
    fn wait_for_fds_at_most(&self, fds: usize, within: Duration) -> Duration {
        let start = Instant::now();
        wait_for("connections to be closed", within, || {
            self.open_fds() <= fds
        });
        start.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Polls `condition` every 10 ms until it holds; fails after `within`.
fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A well-behaved client gets its file list within `within`.
fn served_within(port: u16, within: Duration) -> Duration {
    let start = Instant::now();
    let mut probe = Raw::connect(port);
    probe
        .stream
        .set_read_timeout(Some(within))
        .expect("timeout");
    let reply = probe.ask(b"#FILELIST", "200 Files served:");
    assert!(reply.starts_with("200 Files served:"), "{reply:?}");
    let took = start.elapsed();
    assert!(took < within, "served after {took:?}");
    took
}

fn with_small_file(net: &Net) {
    net.put("p2", "small.txt", &random_bytes(250, 1));
}

/// Everything the server sends until it closes the connection (a reset counts as the close:
/// the server closes with our unread bytes in its buffer).
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("read failed: {e}; got {:?}", String::from_utf8_lossy(&got)),
        }
    }
}

/// Whether the server has closed `stream` (read without blocking: 0 bytes or a reset).
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

fn connect_many(port: u16, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nonblocking(true).expect("nonblocking");
            s
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. A number that never ends.

#[test]
fn a_number_that_never_ends_is_refused_without_buffering_or_logging_it() {
    let net = Net::new(&["p1", "p2"]);
    with_small_file(&net);
    let server = Server::peer(&net, &[], "debug");
    served_within(server.port, Duration::from_secs(10));
    let (rss_before, log_before) = (server.peak_rss_kib(), server.log_bytes());

    let mut raw = Raw::connect(server.port);
    let mut writer = raw.stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let digits = vec![b'7'; 64 * 1024];
        let mut sent = 0usize;
        // The start goes with digits: alone, it would be a complete (wrong) request to a
        // server that takes one write as one message.
        let start = [&b"#DOWNLOAD small.txt chunk "[..], &digits].concat();
        if writer.write_all(&start).is_err() {
            return sent;
        }
        sent += digits.len();
        while sent < 64 << 20 && writer.write_all(&digits).is_ok() {
            sent += digits.len();
        }
        sent
    });
    let reply = String::from_utf8_lossy(&read_to_close(&mut raw.stream)).into_owned();
    let sent = sender.join().expect("sender");
    assert!(reply.starts_with("250 "), "{reply:?}");
    assert!(reply.len() < 200, "{} bytes of reply", reply.len());

    let rss_growth = server.peak_rss_kib().saturating_sub(rss_before);
    let log_growth = server.log_bytes() - log_before;
    eprintln!(
        "endless number: {sent} digits sent before the close, peak RSS {} KiB (+{rss_growth} KiB), log +{log_growth} bytes",
        server.peak_rss_kib()
    );
    assert!(rss_growth < 8 * 1024, "peak RSS grew by {rss_growth} KiB");
    assert!(log_growth < 2048, "log grew by {log_growth} bytes");
    served_within(server.port, Duration::from_secs(10));
}

#[test]
fn overlong_names_and_requests_are_refused_as_soon_as_the_bound_is_crossed() {
    let net = Net::new(&["p1", "p2"]);
    let server = Server::peer(&net, &[], "info");
    for (start, filler, why) in [
        (&b"#DOWNLOAD "[..], b'n', "longer than 255 bytes"),
        (b"#UPLOAD ", b'u', "longer than 255 bytes"),
        (b"#UPLOAD f bytes ", b'9', "20 digits"),
    ] {
        let mut raw = Raw::connect(server.port);
        let mut request = start.to_vec();
        request.extend(std::iter::repeat_n(filler, 300));
        // Sent without an end: the refusal must not wait for one.
        raw.send(&request);
        let reply = String::from_utf8_lossy(&read_to_close(&mut raw.stream)).into_owned();
        assert!(
            reply.starts_with("250 ") && reply.contains(why),
            "{reply:?}"
        );
    }
    served_within(server.port, Duration::from_secs(10));
}

// ---------------------------------------------------------------------------------------------
// 2. Log lines without a bound.

#[test]
fn hostile_text_grows_the_log_by_a_bounded_amount_per_request() {
    let net = Net::new(&["p1", "p2"]);
    let server = Server::peer(&net, &[], "info");
    let before = server.log_bytes();
    let requests = 60;
    let mut sent = 0;
    for i in 0..requests {
        let request: Vec<u8> = match i % 3 {
            // A synchronizer-style file request for a long, unknown name.
            0 => vec![b'a'; 1000],
            // An unknown request with a long tail.
            1 => [&b"#HELLO "[..], &[b'x'; 1000]].concat(),
            // A name of 255 bytes that is not served.
            _ => format!("#UPLOAD {} bytes 99999999999999999999", "é".repeat(127)).into_bytes(),
        };
        sent += request.len();
        let mut raw = Raw::connect(server.port);
        raw.send(&request);
        raw.stream.shutdown(std::net::Shutdown::Write).ok();
        read_to_close(&mut raw.stream);
    }
    // The log is written by the server as it goes: wait until it settles.
    let mut last = 0;
    wait_for("the log to settle", Duration::from_secs(10), || {
        let now = server.log_bytes();
        let settled = now == last;
        last = now;
        std::thread::sleep(Duration::from_millis(100));
        settled
    });
    let growth = server.log_bytes() - before;
    eprintln!(
        "log growth: {growth} bytes for {requests} hostile requests ({sent} bytes sent): {} bytes per request",
        growth / requests as u64
    );
    assert!(
        growth <= requests as u64 * 400,
        "log grew by {growth} bytes for {requests} requests"
    );
}

#[test]
fn tracker_logs_bad_messages_with_a_bounded_line() {
    let server = Server::tracker(&["--peer-timeout", "3"], "info");
    let before = server.log_bytes();
    let long_name = "n/".repeat(50_000);
    let messages = 10;
    for _ in 0..messages {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let message =
            format!(r#"{{"port": 5000, "files": [{{"name": "{long_name}", "mtime": 1}}]}}"#);
        s.write_all(message.as_bytes()).expect("send");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    wait_for("the log lines", Duration::from_secs(10), || {
        server.log_bytes() > before
    });
    let growth = server.log_bytes() - before;
    eprintln!("tracker log growth: {growth} bytes for {messages} 100 KB bad names");
    assert!(
        growth <= messages * 500,
        "tracker log grew by {growth} bytes"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. One declaration reserves the whole disk.

fn free_bytes(dir: &Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(dir).expect("statvfs");
    (stat.blocks_available() as u64) * stat.fragment_size() as u64
}

#[test]
fn declaring_the_whole_disk_does_not_block_other_uploads() {
    let net = Net::new(&["p1", "p2"]);
    let server = Server::peer(&net, &[], "info");
    // Margins of hundreds of MiB: other tests write files on the same disk meanwhile.
    const MIB: u64 = 1 << 20;
    let free = free_bytes(&net.dir("p2"));
    let mut hog = Raw::connect(server.port);
    let reply = hog.ask(
        format!("#UPLOAD hog.bin bytes {}", free - 256 * MIB).as_bytes(),
        "hog.bin",
    );
    assert_eq!(reply, "330 Ready to receive file hog.bin");
    // While the hog sends nothing, a declaration larger than what the hog's claim leaves is
    // still accepted, and another upload completes.
    let mut legit = Raw::connect(server.port);
    let reply = legit.ask(
        format!("#UPLOAD legit.txt bytes {}", 512 * MIB).as_bytes(),
        "legit.txt",
    );
    assert_eq!(reply, "330 Ready to receive file legit.txt");
    let mut small = Raw::connect(server.port);
    small.ask(b"#UPLOAD small.txt bytes 150", "small.txt");
    small.ask(
        &[&b"#UPLOAD small.txt chunk 0 "[..], &[1u8; 100]].concat(),
        "received",
    );
    let reply = small.ask(
        &[&b"#UPLOAD small.txt chunk 1 "[..], &[2u8; 50]].concat(),
        "File small.txt received",
    );
    assert!(reply.ends_with("200 File small.txt received"), "{reply:?}");
    // A size that could never fit is still refused.
    let mut never = Raw::connect(server.port);
    let reply = never.ask(
        format!("#UPLOAD never.bin bytes {}", free + (1 << 40)).as_bytes(),
        "large",
    );
    assert_eq!(reply, "250 File never.bin too large");
}

// ---------------------------------------------------------------------------------------------
// 4. A client that stops reading.

/// Writes `requests` one after another until the server stops taking them (a write does not
/// finish within a second); returns when it stopped.
fn write_until_stalled(stream: &mut TcpStream, requests: impl Iterator<Item = Vec<u8>>) -> Instant {
    stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .expect("write timeout");
    let mut last = Instant::now();
    for request in requests {
        match stream.write_all(&request) {
            Ok(()) => last = Instant::now(),
            Err(_) => break,
        }
    }
    last
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_idle_timeout() {
    let net = Net::new(&["p1", "p2"]);
    let size = 20_000_000;
    net.put("p2", "big.bin", &random_bytes(size, 4));
    let server = Server::peer(&net, &["--idle-timeout", "3"], "info");
    let idle_fds = server.settled_fds();

    // Pipelined chunk requests, never a byte read.
    let mut reader = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let requests = std::iter::once(b"#DOWNLOAD big.bin\n".to_vec())
        .chain((0..size / 100).map(|i| format!("#DOWNLOAD big.bin chunk {i}\n").into_bytes()));
    let stalled = write_until_stalled(&mut reader, requests);
    assert!(
        server.open_fds() > idle_fds,
        "the connection was never accepted"
    );
    let took = server.wait_for_fds_at_most(idle_fds, Duration::from_secs(20));
    let since_stall = stalled.elapsed();
    eprintln!("stopped reader (pipelined chunks) dropped {since_stall:?} after its last request");
    assert!(since_stall < Duration::from_secs(3 + 3), "{since_stall:?}");
    assert!(took <= since_stall);
    served_within(server.port, Duration::from_secs(10));

    // A plain file request (the synchronizer's), never read.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    plain.write_all(b"big.bin").expect("send");
    plain.shutdown(std::net::Shutdown::Write).ok();
    let asked = Instant::now();
    server.wait_for_fds_above(idle_fds);
    server.wait_for_fds_at_most(idle_fds, Duration::from_secs(20));
    let since_ask = asked.elapsed();
    eprintln!("stopped reader (plain file request) dropped {since_ask:?} after asking");
    assert!(since_ask < Duration::from_secs(3 + 3), "{since_ask:?}");
    drop((reader, plain));
}

// ---------------------------------------------------------------------------------------------
// 5. Dripping connections.

#[test]
fn dripping_connections_are_closed_at_the_deadline_while_others_are_served() {
    let net = Net::new(&["p1", "p2"]);
    with_small_file(&net);
    let server = Server::peer(&net, &["--idle-timeout", "3"], "info");
    let mut drippers = connect_many(server.port, 600);
    let opened = Instant::now();
    let mut served = None;
    let mut open = drippers.len();
    // Each dripper sends one line end a second until the server closes it.
    for _round in 0..20 {
        for s in drippers.iter_mut() {
            let _ = s.write(b"\n");
        }
        if served.is_none() {
            served = Some(served_within(server.port, Duration::from_secs(5)));
        }
        drippers.retain_mut(|s| !closed(s));
        open = drippers.len();
        if open == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let all_closed = opened.elapsed();
    eprintln!(
        "600 drippers: all closed {all_closed:?} after connecting; a client served in {served:?} meanwhile"
    );
    assert_eq!(open, 0, "{open} drippers still open after {all_closed:?}");
    assert!(all_closed < Duration::from_secs(3 + 3), "{all_closed:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. A thousand idle connections.

#[test]
fn a_thousand_idle_connections_do_not_lock_out_a_client() {
    let net = Net::new(&["p1", "p2"]);
    with_small_file(&net);
    // The default idle timeout (60 s): only eviction can make room.
    let server = Server::peer(&net, &[], "info");
    let base_fds = server.settled_fds();
    let idle = connect_many(server.port, 1000);
    wait_for(
        "the peer to fill its slots",
        Duration::from_secs(20),
        || server.open_fds() >= base_fds + 500,
    );
    let took = served_within(server.port, Duration::from_secs(10));
    let held = server.open_fds() - base_fds;
    eprintln!(
        "1000 idle connections: a client served in {took:?}; the peer holds {held} connections"
    );
    assert!(held <= 512 + 2, "{held} connections held");
    // And again: evicted connections make room every time.
    served_within(server.port, Duration::from_secs(10));
    drop(idle);
}

#[test]
fn idle_tracker_connections_make_room_for_a_peer_and_registered_peers_stay() {
    let server = Server::tracker(&["--max-connections", "50"], "info");
    let mut registered = Observer::connect(server.port);
    assert!(!registered.lists("nothing"));
    let idle = connect_many(server.port, 100);
    // A new peer is admitted (an idle connection is closed for it) and gets its directory.
    let start = Instant::now();
    let mut newcomer = Observer::connect(server.port);
    assert!(!newcomer.lists("nothing"));
    let took = start.elapsed();
    eprintln!("tracker with 100 idle connections over a cap of 50: a peer served in {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The registered peer was never the one closed.
    assert!(!registered.lists("nothing"));
    drop(idle);
}

// ---------------------------------------------------------------------------------------------
// 7. The tracker re-parsing a trickled message.

#[test]
fn a_trickled_json_value_costs_the_tracker_linear_work() {
    let server = Server::tracker(&[], "warn");
    let pad = "a".repeat(3_500_000);
    let message = format!(r#"{{"port": 5000, "pad": "{pad}"}}"#);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.set_nodelay(true).ok();
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let cpu_before = server.cpu();
    // A trickle: paced so that the tracker reads the pieces one by one rather than coalesced
    // (the attack's shape; the pace is not a wait for anything).
    for piece in message.as_bytes().chunks(1024) {
        s.write_all(piece).expect("send");
        std::thread::sleep(Duration::from_micros(500));
    }
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).expect("reply");
    let cpu = server.cpu() - cpu_before;
    eprintln!("3.5 MB value in 1 KiB writes: tracker CPU {cpu:?}");
    assert!(reply.trim_start().starts_with('{'), "{reply:?}");
    assert!(cpu < Duration::from_secs(1), "tracker spent {cpu:?}");
}

// ---------------------------------------------------------------------------------------------
// 8. A tracker peer that stops reading.

/// A peer that keeps asking the tracker for the directory; whether it lists `name`.
struct Observer(BufReader<TcpStream>);

impl Observer {
    fn connect(port: u16) -> Observer {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        Observer(BufReader::new(s))
    }

    fn lists(&mut self, name: &str) -> bool {
        self.0
            .get_mut()
            .write_all(b"{\"port\": 6000}\n")
            .expect("keep-alive");
        let mut line = String::new();
        self.0.read_line(&mut line).expect("directory");
        line.contains(&format!("\"{name}\""))
    }
}

#[test]
fn a_tracker_peer_that_stops_reading_is_expired_on_time() {
    let server = Server::tracker(&["--peer-timeout", "3"], "info");
    let mut hog = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let files: Vec<String> = (0..3000)
        .map(|i| format!(r#"{{"name": "hog-{i:05}-padding-padding.bin", "mtime": 1}}"#))
        .collect();
    let initial = format!(r#"{{"port": 7000, "files": [{}]}}"#, files.join(","));
    hog.write_all(initial.as_bytes()).expect("initial");
    let mut observer = Observer::connect(server.port);
    wait_for("the hog to be listed", Duration::from_secs(10), || {
        observer.lists("hog-02999-padding-padding.bin")
    });
    // Keep-alives, replies never read, until the tracker's replies fill the socket buffers.
    hog.set_write_timeout(Some(Duration::from_secs(1))).ok();
    let mut last_keep_alive = Instant::now();
    for _ in 0..200 {
        if hog.write_all(b"{\"port\": 7000}\n").is_err() {
            break;
        }
        last_keep_alive = Instant::now();
        std::thread::sleep(Duration::from_millis(10));
    }
    // Then silence.
    wait_for("the hog to be dropped", Duration::from_secs(20), || {
        !observer.lists("hog-02999-padding-padding.bin")
    });
    let dropped = last_keep_alive.elapsed();
    eprintln!("tracker peer that stopped reading dropped {dropped:?} after its last keep-alive");
    assert!(dropped < Duration::from_secs(3 + 2), "{dropped:?}");
    drop(hog);
}

// ---------------------------------------------------------------------------------------------
// The synchronizer's serving side: the same shapes (a dripped name, a stopped reader).

#[test]
fn the_synchronizers_file_server_drops_drippers_and_stopped_readers() {
    let tracker = Server::tracker(&[], "warn");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("big.bin"), random_bytes(20_000_000, 5)).expect("write");
    let port = free_port();
    let mut cmd = Command::new(bin());
    cmd.arg("--sync")
        .arg(format!("127.0.0.1:{}", tracker.port))
        .arg("--dir")
        .arg(dir.path())
        .arg("--port")
        .arg(port.to_string());
    let log = dir.path().join(".sync.log");
    let sync = Server::spawn(cmd, port, log, None);
    let base_fds = sync.settled_fds();
    // The synchronizer's request timeout (5 s), with room to spare.
    let bound = Duration::from_secs(5 + 3);

    // A name dripped one byte every 200 ms (under the 300 ms quiet gap that ends a name).
    let mut dripper = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    dripper.set_nonblocking(true).expect("nonblocking");
    let start = Instant::now();
    for _ in 0..100 {
        let _ = dripper.write(b"x");
        if closed(&mut dripper) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let dripped = start.elapsed();
    eprintln!("sync: a dripped name closed after {dripped:?}");
    assert!(dripped < bound, "{dripped:?}");

    // A file request whose answer is never read.
    let mut reader = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    reader.write_all(b"big.bin").expect("send");
    reader.shutdown(std::net::Shutdown::Write).ok();
    let asked = Instant::now();
    sync.wait_for_fds_above(base_fds);
    sync.wait_for_fds_at_most(base_fds, Duration::from_secs(30));
    let stopped = asked.elapsed();
    eprintln!("sync: a stopped reader dropped {stopped:?} after asking");
    assert!(stopped < bound, "{stopped:?}");
    drop(reader);
}
