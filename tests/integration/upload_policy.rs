//! Who may write to a peer's disk (issue 17): `--uploads all|known|none`, `--max-upload`,
//! `--quota`, and per-address connection caps, against real processes on loopback. A second
//! client address is another loopback address (127.0.0.2): Linux routes all of 127/8 to `lo`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Net, TIMEOUT, bin, free_port, random_bytes, sha256, wait_until};

const HOME: [u8; 4] = [127, 0, 0, 1];
const STRANGER: [u8; 4] = [127, 0, 0, 2];

/// A blocking client socket bound to `from` before it connects to 127.0.0.1:`port`.
fn connect_from(from: [u8; 4], port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::from((from, 0))).expect("bind");
        socket
            .connect(SocketAddr::from((HOME, port)))
            .await
            .expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Everything the server sends until `wanted` appears or it closes (a reset counts as the close).
fn read_until(stream: &mut TcpStream, wanted: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(wanted) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}; got {:?}", String::from_utf8_lossy(&got)),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn ask(stream: &mut TcpStream, request: &str, wanted: &str) -> String {
    stream.write_all(request.as_bytes()).expect("send");
    read_until(stream, wanted)
}

/// Uploads `bytes` as `name` the way the seed's client does; the last reply.
fn upload(from: [u8; 4], port: u16, name: &str, bytes: &[u8]) -> String {
    let mut s = connect_from(from, port);
    let first = ask(
        &mut s,
        &format!("#UPLOAD {name} bytes {}", bytes.len()),
        name,
    );
    if !first.starts_with("330") {
        return first;
    }
    let mut last = first;
    for (index, chunk) in bytes.chunks(100).enumerate() {
        let mut request = format!("#UPLOAD {name} chunk {index} ").into_bytes();
        request.extend_from_slice(chunk);
        s.write_all(&request).expect("chunk");
        let wanted = if (index + 1) * 100 >= bytes.len() {
            format!("File {name} received")
        } else {
            format!("chunk {index}")
        };
        last = read_until(&mut s, &wanted);
    }
    // The last chunk's reply and the file's may arrive in one read.
    let done = format!("200 File {name} received");
    match last.find(&done) {
        Some(at) => last[at..].to_string(),
        None => last,
    }
}

fn start_p2(extra: &[&str]) -> Net {
    let mut net = Net::new(&["p1", "p2"]);
    net.put("p2", "small.txt", &random_bytes(250, 7));
    net.start("p2", extra);
    net
}

/// A download still works from `from`: the file's size comes back.
fn can_download(from: [u8; 4], port: u16) {
    let mut s = connect_from(from, port);
    let reply = ask(&mut s, "#DOWNLOAD small.txt", "bytes 250");
    assert_eq!(reply, "330 Ready to send file small.txt bytes 250");
}

#[test]
fn the_default_takes_uploads_from_the_settings_peers_only() {
    let net = start_p2(&[]);
    let port = net.port("p2");
    let bytes = random_bytes(1050, 1);
    // The settings file lists every peer at localhost: a client there is a known peer.
    let reply = upload(HOME, port, "home.bin", &bytes);
    assert_eq!(reply, "200 File home.bin received");
    assert_eq!(
        sha256(&net.served("p2", "home.bin").unwrap()),
        sha256(&bytes)
    );
    let reply = upload(STRANGER, port, "stranger.bin", &bytes);
    assert_eq!(
        reply,
        "250 Not receiving file stranger.bin: this peer takes uploads only from known peers, and 127.0.0.2 is not one"
    );
    assert_eq!(net.served_names("p2"), ["home.bin", "small.txt"]);
    assert!(net.partials("p2").is_empty());
    can_download(STRANGER, port);
}

#[test]
fn uploads_all_takes_them_from_anyone() {
    let net = start_p2(&["--uploads", "all"]);
    let bytes = random_bytes(333, 2);
    let reply = upload(STRANGER, net.port("p2"), "any.bin", &bytes);
    assert_eq!(reply, "200 File any.bin received");
    assert_eq!(
        sha256(&net.served("p2", "any.bin").unwrap()),
        sha256(&bytes)
    );
}

#[test]
fn uploads_none_refuses_everyone_and_downloads_stay_open() {
    let net = start_p2(&["--uploads", "none"]);
    let port = net.port("p2");
    for from in [HOME, STRANGER] {
        let reply = upload(from, port, "x.bin", &random_bytes(10, 3));
        assert_eq!(
            reply,
            "250 Not receiving file x.bin: uploads are off on this peer"
        );
        can_download(from, port);
    }
    assert_eq!(net.served_names("p2"), ["small.txt"]);
    assert!(net.partials("p2").is_empty());
}

#[test]
fn the_file_limit_and_the_quota_refuse_before_any_byte_is_written() {
    let net = start_p2(&["--max-upload", "1K", "--quota", "2k"]);
    let port = net.port("p2");
    let reply = upload(HOME, port, "big.bin", &random_bytes(1025, 4));
    assert_eq!(
        reply,
        "250 File big.bin too large: 1025 bytes, over this peer's upload limit of 1K (1024 bytes) a file"
    );
    for name in ["a.bin", "b.bin"] {
        assert_eq!(
            upload(HOME, port, name, &random_bytes(1000, 5)),
            format!("200 File {name} received")
        );
    }
    let reply = upload(HOME, port, "c.bin", &random_bytes(49, 6));
    assert_eq!(
        reply,
        "250 File c.bin too large: 49 bytes, and only 48 bytes are left of this peer's upload quota of 2K (2048 bytes)"
    );
    assert_eq!(
        upload(HOME, port, "d.bin", &random_bytes(48, 6)),
        "200 File d.bin received"
    );
    assert_eq!(
        net.served_names("p2"),
        ["a.bin", "b.bin", "d.bin", "small.txt"]
    );
    assert!(net.partials("p2").is_empty());
}

#[test]
fn an_upload_in_progress_holds_its_size_against_the_quota() {
    let net = start_p2(&["--quota", "1000"]);
    let port = net.port("p2");
    let mut slow = connect_from(HOME, port);
    let reply = ask(&mut slow, "#UPLOAD slow.bin bytes 800", "slow.bin");
    assert_eq!(reply, "330 Ready to receive file slow.bin");
    let reply = upload(STRANGER, port, "x.bin", &[]);
    assert!(reply.starts_with("250 Not receiving"), "{reply}");
    let reply = upload(HOME, port, "more.bin", &random_bytes(201, 1));
    assert!(reply.contains("only 200 bytes are left"), "{reply}");
    // The slow upload ends unfinished: its hold is released.
    drop(slow);
    wait_until("the abandoned upload to release its hold", || {
        upload(HOME, port, "more.bin", &random_bytes(1000, 1)) == "200 File more.bin received"
    });
}

#[test]
fn sizes_in_flags_are_checked_and_the_help_names_the_defaults() {
    let out = Command::new(bin())
        .args(["--peer", "p1", "--quota", "10X"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"10X\" is not a size"), "{err}");
    let out = Command::new(bin()).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--uploads <WHO>",
        "[default: known]",
        "--max-upload <SIZE>",
        "--quota <SIZE>",
        "--max-per-address <N>",
        "64 for a peer, an eighth of its capacity for the tracker",
        "128 for the web server",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

/// Whether the server has closed `stream` (a read without blocking: 0 bytes or an error).
fn closed(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 64];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).expect("blocking");
    closed
}

const TOO_MANY: &str = "250 Too many connections from your address; close one and try again";

/// Opens connections from 127.0.0.1 until one is refused; the refusal. Each connection kept
/// starts an upload and sends half a chunk: busy with a request it never finishes (until the
/// 60 s idle timeout), so it cannot be closed to make room. Connections closed meanwhile (a
/// newcomer may evict one that had not sent its half chunk yet) are dropped from `hostile`.
fn open_until_refused(port: u16, hostile: &mut Vec<TcpStream>, cap: usize) -> String {
    let mut opened = 0;
    let refusal = loop {
        assert!(opened < 10 * cap, "never refused");
        opened += 1;
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "h{}.bin",
            SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut s = connect_from(HOME, port);
        // Kept: the 330 names the file; refused: the refusal, then the close.
        let reply = ask(&mut s, &format!("#UPLOAD {name} bytes 1000"), &name);
        if !reply.starts_with("330") {
            break reply;
        }
        s.write_all(format!("#UPLOAD {name} chunk 0 {}", "x".repeat(50)).as_bytes())
            .expect("half a chunk");
        hostile.push(s);
    };
    hostile.retain_mut(|s| !closed(s));
    assert!(hostile.len() <= cap, "{} connections held", hostile.len());
    refusal
}

#[test]
fn a_client_that_opens_connections_until_refused_locks_out_only_itself() {
    const CAP: usize = 8;
    let net = start_p2(&["--max-per-address", "8"]);
    let port = net.port("p2");
    let mut hostile = Vec::new();
    let started = Instant::now();
    let refusal = open_until_refused(port, &mut hostile, CAP);
    assert_eq!(refusal, TOO_MANY);
    eprintln!(
        "hostile client refused after {:?} with {} connections open",
        started.elapsed(),
        hostile.len()
    );
    // The well-behaved client from another address is served at once, and can upload.
    let start = Instant::now();
    let mut good = connect_from(STRANGER, port);
    let reply = ask(&mut good, "#FILELIST", "small.txt");
    assert!(reply.starts_with("200 Files served:"), "{reply}");
    can_download(STRANGER, port);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "served after {took:?}");
    // The hostile address is still held to its cap...
    assert_eq!(open_until_refused(port, &mut hostile, CAP), TOO_MANY);
    // ...until it lets go: the cap counts open connections, it bans no one.
    drop(hostile);
    wait_until("the hostile address to be served again", || {
        let mut s = connect_from(HOME, port);
        ask(&mut s, "#FILELIST", "small.txt").starts_with("200 Files served:")
    });
}

#[test]
fn idle_connections_over_the_cap_make_room_for_their_own_address_only() {
    let net = start_p2(&["--max-per-address", "4"]);
    let port = net.port("p2");
    let mut stranger = connect_from(STRANGER, port);
    // 127.0.0.1 opens 40 connections and sends nothing: each newcomer over 4 closes the oldest
    // idle one of its own address (or is refused), never the stranger's.
    let mut idle: Vec<TcpStream> = (0..40).map(|_| connect_from(HOME, port)).collect();
    let reply = ask(&mut stranger, "#FILELIST", "small.txt");
    assert!(reply.starts_with("200 Files served:"), "{reply}");
    wait_until("127.0.0.1 to be held to 4 connections", || {
        idle.retain_mut(|s| !closed(s));
        idle.len() <= 4
    });
    let mut home = connect_from(HOME, port);
    let reply = ask(&mut home, "#FILELIST", "small.txt");
    assert!(reply.starts_with("200 Files served:"), "{reply}");
}

#[test]
fn the_tracker_and_the_web_server_cap_each_address_too() {
    // Tracker: registered peers are never evicted, so the fifth from one address is refused.
    let port = free_port();
    let mut tracker = Command::new(bin())
        .args([
            "--tracker",
            &format!("127.0.0.1:{port}"),
            "--max-per-address",
            "4",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tracker");
    wait_until("the tracker to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let register = |from, peer_port: usize| {
        let mut s = connect_from(from, port);
        s.write_all(format!("{{\"port\": {peer_port}}}\n").as_bytes())
            .ok()?;
        let reply = read_until(&mut s, "\n");
        reply.starts_with('{').then_some(s)
    };
    let mut peers = Vec::new();
    while let Some(peer) = register(HOME, 6000 + peers.len()) {
        peers.push(peer);
        assert!(peers.len() <= 4, "a fifth peer from 127.0.0.1 registered");
    }
    assert!(!peers.is_empty());
    assert!(register(STRANGER, 6000).is_some(), "127.0.0.2 locked out");
    let _ = tracker.kill();
    let _ = tracker.wait();

    // Web server: connections that never send a whole request head count against their address.
    let root = tempfile::tempdir().expect("www");
    std::fs::write(root.path().join("hello.txt"), "hi\n").expect("file");
    let port = free_port();
    let mut web = Command::new(bin())
        .args(["--web", &format!("127.0.0.1:{port}"), "--www"])
        .arg(root.path())
        .args(["--max-per-address", "3", "--header-timeout", "60"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("web");
    wait_until("the web server to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // 127.0.0.1 opens keep-alive connections, each answered and left open, until one is
    // refused: at most three are kept.
    let get = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut held = Vec::new();
    let refusal = loop {
        assert!(
            held.len() <= 3,
            "a fourth connection from 127.0.0.1 was kept"
        );
        let mut s = connect_from(HOME, port);
        // Answered: up to the file's body; refused: the 503, to the close.
        let reply = ask(&mut s, get, "hi\n");
        if !reply.starts_with("HTTP/1.1 200") {
            break reply;
        }
        held.push(s);
    };
    assert!(!held.is_empty());
    assert!(
        refusal.starts_with("HTTP/1.1 503 Service Unavailable\r\n")
            && refusal.ends_with("Too many connections from your address\n"),
        "{refusal:?}"
    );
    let mut good = connect_from(STRANGER, port);
    let reply = ask(
        &mut good,
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "hi\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let _ = web.kill();
    let _ = web.wait();
}
