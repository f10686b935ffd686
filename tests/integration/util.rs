//! Test harness: a network of real `p2p-tui` processes on 127.0.0.1 in a temporary directory.
//! Every wait is a condition polled against a deadline, never a bare sleep.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

pub const TIMEOUT: Duration = Duration::from_secs(30);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_p2p-tui")
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic pseudo-random bytes (every byte value appears: binary-safe checks).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// Polls `condition` until it holds or `TIMEOUT` passes.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A loopback port for one server of this test process, never handed out twice.
///
/// Choosing a port and binding it later races with every other process on the machine unless
/// nobody else takes ports from the same place. So test ports come from 20000-31999, below the
/// kernel's ephemeral range (checked: see `port_block`), in blocks of `BLOCK` ports; a test
/// process owns its block by holding an exclusive `flock` on a file named after it for its whole
/// life (a parallel test run, or another worktree's, takes another block), hands its ports out
/// with an atomic counter, and still skips a port it cannot bind now (some unrelated listener).
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let first = port_block();
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(
            offset < BLOCK,
            "this test process used all {BLOCK} of its ports"
        );
        let port = first + offset;
        if bindable(port) {
            return port;
        }
    }
}

/// Whether a listener could bind `port` now, as our servers bind (SO_REUSEADDR: connections
/// of an earlier test run lingering in TIME_WAIT do not count, a listener does).
fn bindable(port: u16) -> bool {
    tokio::net::TcpSocket::new_v4()
        .and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        })
        .is_ok()
}

const PORTS_FROM: u16 = 20_000;
const PORTS_TO: u16 = 32_000;
const BLOCK: u16 = 1000;

/// The first port of the block this process holds (claimed on first use).
fn port_block() -> u16 {
    static BLOCK_START: OnceLock<u16> = OnceLock::new();
    *BLOCK_START.get_or_init(|| {
        let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
            .unwrap_or(32_768);
        let top = PORTS_TO.min(ephemeral);
        assert!(
            top >= PORTS_FROM + BLOCK,
            "the kernel hands out ephemeral ports from {ephemeral}: no room for test ports"
        );
        let blocks = (top - PORTS_FROM) / BLOCK;
        let dir = std::env::temp_dir().join("p2p-tui-test-ports");
        std::fs::create_dir_all(&dir).expect("port lock directory");
        let start = std::process::id() as u16 % blocks;
        for i in 0..blocks {
            let block = (start + i) % blocks;
            let file =
                std::fs::File::create(dir.join(format!("block-{block}"))).expect("lock file");
            if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                // Held until the process exits: the kernel releases it then, however we end.
                std::mem::forget(lock);
                return PORTS_FROM + block * BLOCK;
            }
        }
        panic!("all {blocks} test port blocks are held by other test processes");
    })
}

/// Collects everything a child writes on a pipe (stderr), for assertions about what it said.
pub fn collect(pipe: impl Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&text);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

pub struct Net {
    pub root: tempfile::TempDir,
    ids: Vec<String>,
    ports: HashMap<String, u16>,
    servers: HashMap<String, Child>,
}

impl Net {
    /// Peer directories (with served_files/) and a settings file for `ids`, on free ports.
    pub fn new(ids: &[&str]) -> Net {
        let root = tempfile::tempdir().expect("tempdir");
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let ports = ids.iter().map(|id| (id.clone(), free_port())).collect();
        for id in &ids {
            std::fs::create_dir_all(root.path().join(id).join("served_files")).expect("peer dir");
        }
        let net = Net {
            root,
            ids,
            ports,
            servers: HashMap::new(),
        };
        net.write_settings();
        net
    }

    fn write_settings(&self) {
        let text: String = self
            .ids
            .iter()
            .map(|id| format!("{id} localhost {}\n", self.ports[id]))
            .collect();
        std::fs::write(self.settings(), text).expect("settings");
    }

    pub fn settings(&self) -> PathBuf {
        self.root.path().join("peer_settings.txt")
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.path().join(id)
    }

    pub fn port(&self, id: &str) -> u16 {
        self.ports[id]
    }

    pub fn put(&self, id: &str, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir(id).join("served_files").join(name), bytes).expect("put");
    }

    pub fn served(&self, id: &str, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir(id).join("served_files").join(name)).ok()
    }

    pub fn served_names(&self, id: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir(id).join("served_files"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Files in the peer's hidden partial-file directory.
    pub fn partials(&self, id: &str) -> Vec<String> {
        std::fs::read_dir(self.dir(id).join(".p2p-tui-partial"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn peer_command(&self, id: &str, mode: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(["--peer", id, mode, "--settings"])
            .arg(self.settings())
            .arg("--dir")
            .arg(self.dir(id))
            .args(extra)
            .env("RUST_LOG", "warn");
        cmd
    }

    /// Starts `id` headless and waits until it accepts connections.
    pub fn start(&mut self, id: &str, extra: &[&str]) {
        let mut child = self
            .peer_command(id, "--headless", extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peer");
        let port = self.ports[id];
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                panic!("peer {id} exited at start ({status}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "peer {id} did not start listening"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.servers.insert(id.to_string(), child);
    }

    /// Hands over a running headless peer's process (to signal it and wait for it).
    pub fn take(&mut self, id: &str) -> Child {
        self.servers.remove(id).expect("peer running")
    }

    /// SIGKILLs a running headless peer (a peer leaving without warning).
    pub fn kill(&mut self, id: &str) {
        let mut child = self.servers.remove(id).expect("peer running");
        child.kill().expect("kill");
        child.wait().expect("reap");
    }

    /// How headless peer `id` is doing, for a failure message: running, or how it ended and
    /// what it said on stderr.
    pub fn describe(&mut self, id: &str) -> String {
        let Some(child) = self.servers.get_mut(id) else {
            return format!("{id} is not running under this test");
        };
        match child.try_wait() {
            Ok(None) => format!("{id} is still running"),
            Ok(Some(status)) => {
                let mut err = String::new();
                let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                format!("{id} ended ({status}); stderr: {err}")
            }
            Err(e) => format!("{id}: {e}"),
        }
    }

    /// A `--line` console for `id`, its stdin a pipe.
    pub fn console(&self, id: &str, extra: &[&str]) -> Console {
        let child = self
            .peer_command(id, "--line", extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn console");
        Console::new(child)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in self.servers.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `--line` peer driven through its stdin, its stdout read line by line.
pub struct Console {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Console {
    fn new(mut child: Child) -> Console {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Console {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("write command");
        stdin.flush().expect("flush");
    }

    /// Waits for a line equal to `wanted` (printed at any time); returns every line seen so far.
    pub fn expect_line(&mut self, wanted: &str) -> &[String] {
        self.wait_for(|l| l == wanted, wanted)
    }

    /// Waits until `wanted` has been printed `times` times.
    pub fn expect_count(&mut self, wanted: &str, times: usize) {
        while self.count(wanted) < times {
            self.wait_from(self.seen.len(), |l| l == wanted, wanted);
        }
    }

    /// Waits for a matching line among all lines printed so far or still to come.
    pub fn wait_for(&mut self, matches: impl FnMut(&str) -> bool, what: &str) -> &[String] {
        self.wait_from(0, matches, what)
    }

    /// Waits for a matching line at position `from` or later.
    pub fn wait_from(
        &mut self,
        from: usize,
        mut matches: impl FnMut(&str) -> bool,
        what: &str,
    ) -> &[String] {
        let deadline = Instant::now() + TIMEOUT;
        if self.seen.iter().skip(from).any(|l| matches(l)) {
            return &self.seen;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = matches(&line);
                    self.seen.push(line);
                    if hit {
                        return &self.seen;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out waiting for {what:?}; output:\n{}",
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "console ended before {what:?}; output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    pub fn count(&self, wanted: &str) -> usize {
        self.seen.iter().filter(|l| *l == wanted).count()
    }

    /// Closes stdin (end of input) and waits for a clean exit; returns all output lines.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "console did not exit at end of input"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }

    /// Sends `signal` to the console process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal");
    }

    /// Waits for the process to exit by itself (stdin left open).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "console did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    }

    /// SIGKILLs the console process (a client leaving without warning).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw TCP client speaking the protocol by hand, one message per write.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        Raw { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads until `wanted` bytes are buffered (or the connection closes); returns them all.
    pub fn read_until(&mut self, wanted: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(wanted.len()).any(|w| w == wanted) {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!(
                    "read failed waiting for {:?}: {e}; got {:?}",
                    String::from_utf8_lossy(wanted),
                    String::from_utf8_lossy(&got)
                ),
            }
        }
        got
    }

    /// Sends one request and returns the reply text once `wanted` appears in it.
    pub fn ask(&mut self, request: &[u8], wanted: &str) -> String {
        self.send(request);
        String::from_utf8_lossy(&self.read_until(wanted.as_bytes())).into_owned()
    }

    /// True once the server has closed the connection.
    pub fn closed_by_server(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

impl Net {
    /// Sends `signal` to running headless peer `id` (SIGSTOP: a peer that goes silent with
    /// its connections open).
    pub fn signal(&self, id: &str, signal: nix::sys::signal::Signal) {
        let child = self.servers.get(id).expect("peer running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal");
    }
}

impl Net {
    /// Adds a peer `id` that the test serves itself on `port` (a stand-in server).
    pub fn add_external(&mut self, id: &str, port: u16) {
        self.ids.push(id.to_string());
        self.ports.insert(id.to_string(), port);
        self.write_settings();
    }
}

/// A mount (needs root) that is undone (lazily, so a busy file cannot keep it) when dropped. Where
/// mounting is not allowed, the constructors say so on stderr and return `None`: the test skips.
pub struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str], at: &Path) -> bool {
        match Command::new("mount").args(args).arg(at).output() {
            Ok(out) if out.status.success() => true,
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr);
                eprintln!("skipped: cannot mount {args:?} here: {}", why.trim());
                false
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                false
            }
        }
    }

    /// A small tmpfs over `at` (which then starts empty).
    pub fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        let options = format!("size={size}");
        Mount::run(&["-t", "tmpfs", "-o", &options, "tmpfs"], at).then(|| Mount(at.into()))
    }

    /// `at` bound onto itself, read-only from now on.
    pub fn read_only(at: &Path) -> Option<Mount> {
        if !Mount::run(&["--bind", &at.display().to_string()], at) {
            return None;
        }
        let mount = Mount(at.into());
        Mount::run(&["-o", "remount,bind,ro"], at).then_some(mount)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

impl Net {
    /// A `--line` console for `id` reading `settings` instead of the network's own (e.g. one
    /// naming relays in place of some peers' ports).
    pub fn console_with_settings(
        &self,
        id: &str,
        settings: &std::path::Path,
        extra: &[&str],
    ) -> Console {
        let child = Command::new(bin())
            .args(["--peer", id, "--line", "--settings"])
            .arg(settings)
            .arg("--dir")
            .arg(self.dir(id))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn console");
        Console::new(child)
    }
}

/// The seed for a test's random moments: `FAULT_SEED` if set, else fresh; printed, so that a
/// failure can be replayed.
pub fn fault_seed(test: &str) -> u64 {
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("{test}: FAULT_SEED={seed}");
    seed
}

/// A number in `range` drawn from `seed` (SplitMix64 step).
pub fn pick_seeded(seed: u64, range: std::ops::Range<usize>) -> usize {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    range.start + (z ^ (z >> 31)) as usize % (range.end - range.start)
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Serves each connection `listener` accepts on a thread of its own with `serve` (a scripted
/// peer), until the test process ends.
pub fn serve_each(listener: TcpListener, serve: impl Fn(TcpStream) + Send + Sync + 'static) {
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let serve = std::sync::Arc::clone(&serve);
            std::thread::spawn(move || serve(conn));
        }
    });
}
