//! What the benchmark measures with and checks against: loopback TCP, random files, byte
//! comparison, ports, peak memory from /proc.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes through one loopback TCP connection, written in 256 KiB blocks; MB/s.
pub fn raw_loopback(bytes: u64) -> f64 {
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

pub fn write_random(path: &Path, size: u64) {
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

pub fn check_same(a: &Path, b: &Path) {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A live process's peak RSS from /proc.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
