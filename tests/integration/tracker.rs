//! The tracker (SPEC §4) as a real process on loopback, spoken to by hand.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{TIMEOUT, bin, wait_until};

pub(crate) struct TrackerProcess {
    child: Child,
    pub(crate) port: u16,
}

impl TrackerProcess {
    pub(crate) fn start(extra: &[&str]) -> TrackerProcess {
        let (child, port) = spawn_tracker(extra);
        TrackerProcess { child, port }
    }

    pub(crate) fn peer(&self) -> Peer {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect tracker");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Peer {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }
}

/// A `--tracker` process on a free loopback port with `extra` flags, once it listens.
pub(crate) fn spawn_tracker(extra: &[&str]) -> (Child, u16) {
    let port = crate::util::free_port();
    let child = Command::new(bin())
        .args(["--tracker", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tracker");
    wait_until("tracker listening", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (child, port)
}

impl Drop for TrackerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Peer {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// One directory (or holders) response: a JSON value on one line.
    fn response(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("response");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    pub(crate) fn ask(&mut self, message: Value) -> Value {
        self.send(message.to_string().as_bytes());
        self.response()
    }

    fn initial(&mut self, port: u16, files: &[(&str, i64)]) -> Value {
        let files: Vec<Value> = files
            .iter()
            .map(|(n, m)| json!({"name": n, "mtime": m}))
            .collect();
        self.ask(json!({"port": port, "files": files}))
    }

    fn closed_by_tracker(&mut self) -> bool {
        let mut line = String::new();
        matches!(self.reader.read_line(&mut line), Ok(0) | Err(_))
    }
}

#[test]
fn directory_keeps_the_newest_copy_and_answers_every_message() {
    let tracker = TrackerProcess::start(&[]);
    let mut a = tracker.peer();
    let r = a.initial(8001, &[("fileA.txt", 1548878750), ("shared.txt", 100)]);
    assert_eq!(
        r,
        json!({"fileA.txt": {"ip": "127.0.0.1", "port": 8001, "mtime": 1548878750}, "shared.txt": {"ip": "127.0.0.1", "port": 8001, "mtime": 100}})
    );
    let mut b = tracker.peer();
    let r = b.initial(8002, &[("shared.txt", 200), ("fileB.txt", 5)]);
    assert_eq!(r["shared.txt"]["port"], 8002);
    assert_eq!(r["fileA.txt"]["port"], 8001);
    // A keep-alive is answered with the directory too; a float mtime is rounded down.
    assert_eq!(a.ask(json!({"port": 8001}))["fileB.txt"]["port"], 8002);
    let mut c = tracker.peer();
    c.send(br#"{"port": 8003, "files": [{"name": "shared.txt", "mtime": 200.9}]}"#);
    assert_eq!(
        c.response()["shared.txt"]["port"],
        8002,
        "a tie keeps the copy already known"
    );
}

#[test]
fn coalesced_and_split_messages() {
    let tracker = TrackerProcess::start(&[]);
    let mut p = tracker.peer();
    p.send(b"{\"port\": 8001, \"files\": [{\"name\": \"a\", \"mtime\": 1}]}{\"port\": 8001}\n{\"port\": 8001}");
    for _ in 0..3 {
        assert_eq!(p.response()["a"]["port"], 8001);
    }
    p.send(b"{\"port\": 80");
    std::thread::sleep(Duration::from_millis(100)); // the tracker must wait for the rest, not fail
    p.send(b"01, \"files\": [{\"name\": \"b\", \"mtime\": 2}]}");
    let r = p.response();
    assert!(r.get("b").is_some() && r.get("a").is_none(), "{r}");
}

#[test]
fn a_departed_peer_falls_back_to_the_newest_live_copy() {
    let tracker = TrackerProcess::start(&[]);
    let mut old = tracker.peer();
    old.initial(8001, &[("f.txt", 10)]);
    let mut new = tracker.peer();
    assert_eq!(
        new.initial(8002, &[("f.txt", 20), ("only.txt", 1)])["f.txt"]["port"],
        8002
    );
    drop(new);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let r = old.ask(json!({"port": 8001}));
        if r["f.txt"]["port"] == 8001 && r.get("only.txt").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "never fell back: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_silent_peer_is_dropped_after_the_timeout() {
    let tracker = TrackerProcess::start(&["--peer-timeout", "1"]);
    let mut silent = tracker.peer();
    silent.initial(8001, &[("quiet.txt", 1)]);
    let mut talker = tracker.peer();
    assert!(talker.initial(8002, &[])["quiet.txt"].is_object());
    // The talker keeps itself alive while the silent peer's timeout runs out.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let r = talker.ask(json!({"port": 8002}));
        if r.get("quiet.txt").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "silent peer never dropped: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        silent.closed_by_tracker(),
        "the silent peer's connection is closed"
    );
}

#[test]
fn bad_json_and_wrong_types_close_only_that_connection() {
    let tracker = TrackerProcess::start(&[]);
    let mut good = tracker.peer();
    good.initial(8001, &[("keep.txt", 1)]);
    for bad in [
        &b"{oops}"[..],
        br#"{"port": "8001"}"#,
        br#"{"port": 1, "files": [{"name": "../x", "mtime": 1}]}"#,
        br#"[1, 2]"#,
    ] {
        let mut p = tracker.peer();
        p.send(bad);
        assert!(
            p.closed_by_tracker(),
            "{:?} left the connection open",
            String::from_utf8_lossy(bad)
        );
    }
    // Half a message and gone.
    let mut half = tracker.peer();
    half.send(br#"{"port": 9, "files": [{"na"#);
    drop(half);
    assert_eq!(good.ask(json!({"port": 8001}))["keep.txt"]["port"], 8001);
}

#[test]
fn holders_lists_every_live_copy_for_multi_source_download() {
    let tracker = TrackerProcess::start(&[]);
    let mut peers: Vec<Peer> = (0..3).map(|_| tracker.peer()).collect();
    for (n, p) in peers.iter_mut().enumerate() {
        p.initial(8001 + n as u16, &[("big.bin", 7)]);
    }
    let r = peers[0].ask(json!({"holders": "big.bin"}));
    let ports: Vec<u64> = r["holders"]["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, vec![8001, 8002, 8003]);
}

#[test]
fn joined_peers_download_from_every_live_holder_without_a_peer_list() {
    let tracker = TrackerProcess::start(&[]);
    let join = format!("127.0.0.1:{}", tracker.port);
    let mut net = crate::util::Net::new(&["p1", "p2", "p3", "p4"]);
    let data = crate::util::random_bytes(9_000, 31);
    for id in ["p2", "p3", "p4"] {
        net.put(id, "f.bin", &data);
        // One version: the same mtime everywhere (the download takes the newest copies only).
        crate::versions::set_mtime(&net, id, "f.bin", 1_700_000_000);
        net.start(id, &["--join", &join]);
    }
    let mut probe = tracker.peer();
    let holders = |probe: &mut Peer| {
        probe.ask(json!({"holders": "f.bin"}))["holders"]["peers"]
            .as_array()
            .map_or(0, Vec::len)
    };
    wait_until("three holders registered", || holders(&mut probe) == 3);
    let mut p1 = net.console("p1", &["--join", &join]);
    p1.send("#DOWNLOAD f.bin");
    p1.wait_for(
        |l| l.starts_with("Tracker: 3 live holders of file f.bin; fetching the newest version"),
        "three holders",
    );
    p1.expect_line("File f.bin download success");
    // Round robin in the tracker's holder order (which depends on who registered first):
    // chunks 0, 1, 2 from three different peers, and chunk i always from chunk i mod 3's peer.
    let asked = |index: usize| -> Vec<&str> {
        ["p2", "p3", "p4"]
            .into_iter()
            .filter(|id| p1.count(&format!("Client ({id}): #DOWNLOAD f.bin chunk {index}")) == 1)
            .collect()
    };
    let first: Vec<Vec<&str>> = (0..3).map(asked).collect();
    assert!(first.iter().all(|ids| ids.len() == 1), "{first:?}");
    let mut distinct: Vec<&str> = first.iter().map(|ids| ids[0]).collect();
    distinct.sort();
    assert_eq!(distinct, ["p2", "p3", "p4"]);
    for index in 3..90 {
        assert_eq!(asked(index), first[index % 3], "chunk {index}");
    }
    assert_eq!(
        crate::util::sha256(&net.served("p1", "f.bin").unwrap()),
        crate::util::sha256(&data)
    );
    // p1 re-announces its served_files: now four holders.
    wait_until("p1 announced as a holder", || holders(&mut probe) == 4);
}

#[test]
fn a_joined_peer_fetches_from_a_synchronizer_by_plain_request() {
    let tracker = TrackerProcess::start(&[]);
    let join = format!("127.0.0.1:{}", tracker.port);
    let folder = tempfile::tempdir().unwrap();
    let data = crate::util::random_bytes(7_777, 41);
    std::fs::write(folder.path().join("synced.bin"), &data).unwrap();
    let mut sync = Command::new(bin())
        .args(["--sync", &join, "--dir", folder.path().to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut probe = tracker.peer();
    wait_until("the synchronizer registered", || {
        probe.ask(json!({"holders": "synced.bin"}))["holders"]["peers"]
            .as_array()
            .map_or(0, Vec::len)
            == 1
    });
    let net = crate::util::Net::new(&["p1"]);
    let mut p1 = net.console("p1", &["--join", &join]);
    p1.send("#DOWNLOAD synced.bin");
    p1.wait_for(
        |l| l.starts_with("No holder speaks #DOWNLOAD; fetching file synced.bin"),
        "fallback",
    );
    p1.expect_line("File synced.bin download success");
    assert_eq!(net.served("p1", "synced.bin"), Some(data));
    let _ = sync.kill();
    let _ = sync.wait();
}

#[test]
fn floods_and_oversized_messages_close_only_the_flooder() {
    let tracker = TrackerProcess::start(&[]);
    let mut good = tracker.peer();
    good.initial(8001, &[("keep.txt", 1)]);
    // An unterminated value past the 4 MiB limit.
    let mut flooder = tracker.peer();
    let mut flood = b"{\"port\": 1, \"files\": [".to_vec();
    flood.extend(std::iter::repeat_n(b' ', 5 << 20));
    let _ = flooder.stream.write_all(&flood);
    assert!(flooder.closed_by_tracker());
    // A burst of valid keep-alives is simply answered.
    let mut chatty = tracker.peer();
    chatty.initial(8002, &[]);
    let burst: String = (0..500).map(|_| "{\"port\": 8002}").collect();
    chatty.send(burst.as_bytes());
    for _ in 0..500 {
        assert_eq!(chatty.response()["keep.txt"]["port"], 8001);
    }
    assert_eq!(good.ask(json!({"port": 8001}))["keep.txt"]["port"], 8001);
}

#[test]
fn a_lying_peer_does_not_stop_synchronizers() {
    let tracker = TrackerProcess::start(&[]);
    let join = format!("127.0.0.1:{}", tracker.port);
    // The liar claims the newest copy of a name at a port nobody listens on.
    let dead_port = crate::util::free_port();
    let mut liar = tracker.peer();
    liar.initial(dead_port, &[("lie.txt", 2_000_000_000), ("real.txt", 1)]);
    let folder = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("real.txt"), b"the real one").unwrap();
    let spawn_sync = |dir: &std::path::Path| {
        Command::new(bin())
            .args(["--sync", &join, "--dir", dir.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = spawn_sync(source.path());
    let mut b = spawn_sync(folder.path());
    // real.txt's newest copy is the honest synchronizer's (the liar's mtime is older).
    let deadline = Instant::now() + TIMEOUT;
    while std::fs::read(folder.path().join("real.txt"))
        .ok()
        .as_deref()
        != Some(&b"the real one"[..])
    {
        assert!(Instant::now() < deadline, "the lie blocked synchronization");
        let _ = liar.ask(json!({"port": dead_port}));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!folder.path().join("lie.txt").exists());
    for c in [&mut a, &mut b] {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Issue 30: a p2p-tui member (its messages carry `"since"`) gets what changed since the
/// version it holds, in a reply of its own shape; a classroom peer on the same tracker still
/// gets the whole directory, as the seed's, on every keep-alive.
#[test]
fn members_get_deltas_and_classroom_peers_the_whole_directory() {
    let tracker = TrackerProcess::start(&[]);
    let mut member = tracker.peer();
    let full =
        member.ask(json!({"port": 8001, "files": [{"name": "a.txt", "mtime": 1}], "since": 0}));
    assert_eq!(full["delta"]["from"], 0);
    assert_eq!(full["delta"]["changed"]["a.txt"]["port"], 8001);
    let held = full["delta"]["to"].as_u64().unwrap();
    let mut classroom = tracker.peer();
    let r = classroom.initial(8002, &[("b.txt", 2)]);
    assert_eq!(
        r,
        json!({"a.txt": {"ip": "127.0.0.1", "port": 8001, "mtime": 1}, "b.txt": {"ip": "127.0.0.1", "port": 8002, "mtime": 2}})
    );
    // The member's keep-alive: only b.txt, which joined since (within the tracker's snapshot
    // age, half a second).
    let deadline = std::time::Instant::now() + TIMEOUT;
    let delta = loop {
        let r = member.ask(json!({"port": 8001, "since": held}));
        if r["delta"]["changed"] != json!({}) {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b.txt never sent: {r}"
        );
    };
    assert_eq!(delta["delta"]["from"], held);
    assert_eq!(
        delta["delta"]["changed"],
        json!({"b.txt": {"ip": "127.0.0.1", "port": 8002, "mtime": 2}})
    );
    let held = delta["delta"]["to"].as_u64().unwrap();
    // Nothing changed: an empty delta. The classroom peer leaves: b.txt is removed.
    let quiet = member.ask(json!({"port": 8001, "since": held}));
    assert_eq!(quiet["delta"]["changed"], json!({}));
    drop(classroom);
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let r = member.ask(json!({"port": 8001, "since": held}));
        if r["delta"]["removed"] == json!(["b.txt"]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b.txt never removed: {r}"
        );
    }
    // A classroom keep-alive gets the whole directory, exactly as before.
    let mut late = tracker.peer();
    assert_eq!(
        late.ask(json!({"port": 8003})),
        json!({"a.txt": {"ip": "127.0.0.1", "port": 8001, "mtime": 1}})
    );
}

/// Issue 30: a member far behind gets the whole directory (built once per snapshot), not a
/// delta nearly as large built for it alone (2,000 members joined at once each had one built,
/// and the tracker stalled).
#[test]
fn a_member_far_behind_gets_the_whole_directory_not_a_delta_as_large() {
    let tracker = TrackerProcess::start(&[]);
    let mut member = tracker.peer();
    let joined =
        member.ask(json!({"port": 8001, "files": [{"name": "a.txt", "mtime": 1}], "since": 0}));
    let held = joined["delta"]["to"].as_u64().unwrap();
    let files: Vec<(String, i64)> = (0..100).map(|i| (format!("f{i}.txt"), 1)).collect();
    let files: Vec<(&str, i64)> = files.iter().map(|(n, m)| (n.as_str(), *m)).collect();
    let mut classroom = tracker.peer();
    classroom.initial(8002, &files);
    // The member's keep-alives until the tracker's snapshot (half a second old at most) has
    // the 100 new files.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let reply = loop {
        let r = member.ask(json!({"port": 8001, "since": held}));
        if r["delta"]["to"].as_u64() != Some(held) {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the files never came: {r}"
        );
    };
    assert_eq!(
        reply["delta"]["from"], 0,
        "a delta of 100 of 101 names was built"
    );
    assert_eq!(
        reply["delta"]["changed"].as_object().map(|m| m.len()),
        Some(101)
    );
}

/// A file list of 8,000 long names for `peer` (with the two others, a 7 MB directory: more
/// than the kernel buffers between the tracker and a member).
fn long_names(peer: char) -> Vec<Value> {
    (0..8000)
        .map(|i| json!({"name": long_name(peer, i), "mtime": 1}))
        .collect()
}

fn long_name(peer: char, i: usize) -> String {
    format!("{peer}{i:04}{}", "x".repeat(235))
}

/// A connection with a small receive window, set before connecting (set after, the window
/// already offered shrinks: the kernel drops what it had allowed and the sender backs off): a
/// reply waits in the tracker, not in this socket.
fn connect_with_small_window(port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8192).unwrap();
        socket.connect(([127, 0, 0, 1], port).into()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// A member that joins with `long_names(name)`, says so on `joined`, then keeps alive every
/// 200 ms (five times a `--peer-timeout` of 2 s) until `stop`.
fn keep_member_alive(
    mut peer: Peer,
    name: char,
    port: u16,
    joined: std::sync::mpsc::Sender<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let reply = peer.ask(json!({"port": port, "files": long_names(name), "since": 0}));
    let mut holds = reply["delta"]["to"].as_u64().unwrap();
    joined.send(()).unwrap();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let reply = peer.ask(json!({"port": port, "since": holds}));
        holds = reply["delta"]["to"].as_u64().unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Issue 30: a member reading a reply for longer than `--peer-timeout` (the whole directory
/// during a join burst of 10,000) is neither closed for "not reading" nor dropped as silent: it
/// could not speak while the tracker was still sending. Only a write that makes no progress for
/// the timeout ends a connection.
#[test]
fn a_member_reading_a_long_reply_slowly_is_neither_closed_nor_dropped() {
    use std::io::Read;
    use std::sync::{Arc, atomic::AtomicBool, atomic::Ordering};
    let tracker = TrackerProcess::start(&["--peer-timeout", "2"]);
    let stop = Arc::new(AtomicBool::new(false));
    let (joined, others_joined) = std::sync::mpsc::channel();
    let others: Vec<_> = [('b', 8002), ('c', 8003)]
        .into_iter()
        .map(|(name, port)| {
            let (peer, joined, stop) = (tracker.peer(), joined.clone(), Arc::clone(&stop));
            std::thread::spawn(move || keep_member_alive(peer, name, port, joined, stop))
        })
        .collect();
    for _ in 0..2 {
        others_joined.recv_timeout(TIMEOUT).unwrap();
    }
    let stream = connect_with_small_window(tracker.port);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let initial = json!({"port": 8001, "files": long_names('a'), "since": 0}).to_string();
    writer.write_all(initial.as_bytes()).unwrap();
    // Read it slowly, 64 kB every 150 ms (the pace of this reader, not a wait for the tracker):
    // the reply (at least one other peer's 8,000 names, 2.3 MB) takes more than twice the
    // timeout.
    let started = Instant::now();
    let (mut reply, mut chunk) = (Vec::new(), vec![0u8; 64 * 1024]);
    let mut reader = stream.try_clone().unwrap();
    while reply.last() != Some(&b'\n') {
        let goal = reply.len() + chunk.len();
        while reply.len() < goal && reply.last() != Some(&b'\n') {
            let n = reader
                .read(&mut chunk[..goal - reply.len()])
                .unwrap_or_else(|e| panic!("{e} after {} bytes", reply.len()));
            assert!(n > 0, "closed after {} bytes", reply.len());
            reply.extend_from_slice(&chunk[..n]);
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(
        started.elapsed() > Duration::from_secs(4),
        "read too fast to test: {:?}",
        started.elapsed()
    );
    let full: Value = serde_json::from_slice(&reply).unwrap();
    let mut view: Vec<String> = full["delta"]["changed"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let held = full["delta"]["to"].as_u64().unwrap();
    // Still a member, its files still listed (the whole directory may have been taken just
    // before its own files were added: the keep-alive brings them).
    writer
        .write_all(json!({"port": 8001, "since": held}).to_string().as_bytes())
        .unwrap();
    let mut line = String::new();
    BufReader::new(reader).read_line(&mut line).unwrap();
    stop.store(true, Ordering::SeqCst);
    for other in others {
        other.join().unwrap();
    }
    let next: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:.200}"));
    assert_eq!(
        next["delta"]["removed"],
        json!([]),
        "dropped as silent: {line:.200}"
    );
    view.extend(
        next["delta"]["changed"]
            .as_object()
            .unwrap()
            .keys()
            .cloned(),
    );
    view.sort();
    view.dedup();
    assert_eq!(view.len(), 24_000, "dropped as silent: {line:.200}");
    assert!(view.contains(&long_name('a', 7999)));
}
