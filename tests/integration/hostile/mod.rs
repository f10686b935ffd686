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

mod peer;
mod tracker;

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
