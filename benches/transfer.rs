//! Transfer speed: a random file moved between real `p2p-tui` processes on loopback, 100-byte
//! chunks, release build. Prints, side by side: the raw loopback TCP rate (the ceiling), a
//! download from three `--headless` peers by a `--line` peer in lockstep (window 1) and with the
//! default (adaptive) window, an upload to three peers at once, and peak memory. Every copy is checked
//! byte for byte.
//!
//! Usage: cargo bench --bench transfer [-- SIZE_MIB [--no-lockstep]]   (default 64 MiB)
//! With `P2P_TUI_BEFORE=<another p2p-tui binary>`, that binary is measured first, then this
//! build: a change's before and after in one run.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_p2p-tui");
const DEFAULT_WINDOW: &str = "512";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let size_mib: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(64);
    let lockstep = !args.iter().any(|a| a == "--no-lockstep");
    println!(
        "transfer benchmark: {size_mib} MiB random file, 100-byte chunks, loopback, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let raw = raw_loopback((size_mib << 20).max(256 << 20));
    println!("  raw loopback TCP, one stream (ceiling)      {raw:>9.1} MB/s");
    // Another build measured first in the same run (a change's before and after, same machine
    // and moment): `P2P_TUI_BEFORE=/path/to/p2p-tui cargo bench --bench transfer`.
    if let Some(before) = std::env::var_os("P2P_TUI_BEFORE") {
        let before = PathBuf::from(before);
        println!("before: {}", before.display());
        measure(&before, size_mib, lockstep);
        println!("after: {BIN}");
    }
    measure(Path::new(BIN), size_mib, lockstep);
}

/// Every measurement with the `p2p-tui` binary at `bin`, in a directory of its own.
fn measure(bin: &Path, size_mib: u64, lockstep: bool) {
    let size = size_mib << 20;
    let work = tempfile::tempdir().expect("temporary directory");
    let root = work.path();
    let source = root.join("source.bin");
    let ports = set_up(root, &source, size);
    let servers: Vec<Child> = ["p2", "p3", "p4"]
        .iter()
        .map(|p| start_server(bin, root, p))
        .collect();
    for port in &ports[1..] {
        wait_for_port(*port);
    }
    if lockstep {
        let secs = command(bin, root, "#DOWNLOAD big.bin p2 p3 p4", "1");
        check_same(&source, &served(root, "p1", "big.bin"));
        print_rate("download from 3 peers, window 1 (lockstep)", size, secs, "");
        fs::remove_file(served(root, "p1", "big.bin")).unwrap();
    }
    let secs = command(bin, root, "#DOWNLOAD big.bin p2 p3 p4", DEFAULT_WINDOW);
    check_same(&source, &served(root, "p1", "big.bin"));
    let what = format!("download from 3 peers, adaptive window <= {DEFAULT_WINDOW}");
    print_rate(&what, size, secs, "");
    fs::hard_link(&source, served(root, "p1", "up.bin")).unwrap();
    let secs = command(bin, root, "#UPLOAD up.bin p2 p3 p4", DEFAULT_WINDOW);
    for p in ["p2", "p3", "p4"] {
        check_same(&source, &served(root, p, "up.bin"));
    }
    let what = format!("upload to 3 peers at once, window <= {DEFAULT_WINDOW}");
    print_rate(&what, size, secs, " per target");
    print_memory(&servers);
    println!("  every copy is byte-identical to the source");
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
}

/// Four peers' settings and folders under `root`, the random file at `source` served by p2,
/// p3 and p4; the peers' ports.
fn set_up(root: &Path, source: &Path, size: u64) -> Vec<u16> {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut settings = String::new();
    for (i, port) in ports.iter().enumerate() {
        settings.push_str(&format!("p{} 127.0.0.1 {port}\n", i + 1));
        fs::create_dir_all(root.join(format!("p{}/served_files", i + 1))).unwrap();
    }
    fs::write(root.join("peer_settings.txt"), settings).unwrap();
    write_random(source, size);
    for p in ["p2", "p3", "p4"] {
        fs::hard_link(source, served(root, p, "big.bin")).unwrap();
    }
    ports
}

fn start_server(bin: &Path, root: &Path, peer: &str) -> Child {
    Command::new(bin)
        .args(["--peer", peer, "--headless", "--settings"])
        .arg(root.join("peer_settings.txt"))
        .arg("--dir")
        .arg(root.join(peer))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a server")
}

fn print_memory(servers: &[Child]) {
    let server_rss: Vec<String> = servers
        .iter()
        .map(|s| format!("{:.1}", vm_hwm_kib(s.id()) as f64 / 1024.0))
        .collect();
    println!(
        "  peak RSS: --line peer {:.1} MiB (largest of its runs so far), servers {} MiB",
        children_max_rss_kib() as f64 / 1024.0,
        server_rss.join(" / ")
    );
}

fn served(root: &Path, peer: &str, name: &str) -> PathBuf {
    root.join(peer).join("served_files").join(name)
}

/// Runs one command in a `--line` p1 with stdout to /dev/null; its wall time in seconds.
fn command(bin: &Path, root: &Path, line: &str, window: &str) -> f64 {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["--peer", "p1", "--line", "--window", window, "--settings"])
        .arg(root.join("peer_settings.txt"))
        .arg("--dir")
        .arg(root.join("p1"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start p1");
    // The console runs the command to its end, then sees end of input and exits.
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{line}").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "p1 exited with {status}");
    started.elapsed().as_secs_f64()
}

fn print_rate(what: &str, size: u64, secs: f64, unit_suffix: &str) {
    println!(
        "  {what:<43} {:>9.1} MB/s{unit_suffix}  ({secs:.2} s)",
        size as f64 / 1e6 / secs
    );
}

/// Bytes through one loopback TCP connection, written in 256 KiB blocks; MB/s.
fn raw_loopback(bytes: u64) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n as u64,
            }
        }
    });
    let block = vec![0x5au8; 256 << 10];
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut sent = 0;
    while sent < bytes {
        stream.write_all(&block).unwrap();
        sent += block.len() as u64;
    }
    drop(stream);
    let received = reader.join().unwrap();
    assert_eq!(received, sent);
    sent as f64 / 1e6 / started.elapsed().as_secs_f64()
}

fn write_random(path: &Path, size: u64) {
    let mut file = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut left = size;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        let n = left.min(8) as usize;
        file.write_all(&bytes[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

fn check_same(a: &Path, b: &Path) {
    let (mut fa, mut fb) = (fs::File::open(a).unwrap(), fs::File::open(b).unwrap());
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        assert_eq!(
            &ba[..na],
            &bb[..nb],
            "{} differs from {}",
            b.display(),
            a.display()
        );
        if na == 0 {
            return;
        }
    }
}

fn read_full(file: &mut fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => panic!("read: {e}"),
        }
    }
    filled
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The largest peak RSS among the child processes waited for so far (getrusage).
fn children_max_rss_kib() -> u64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss() as u64)
        .unwrap_or(0)
}

/// A live process's peak RSS from /proc.
fn vm_hwm_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
