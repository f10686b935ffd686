//! The behaviour docs/design.md describes when it answers seed 000's design questions, checked
//! on real processes: the sockets a tracker and a synchronizer hold, how the tracker learns of
//! additions, modifications and deletions, what becomes of a deleted file, keep-alive expiry, the
//! whole directory on every keep-alive, and the limits of "newest mtime wins" (whole seconds,
//! clocks). Socket counts come from the process's own file descriptors matched against
//! /proc/PID/net/tcp.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::tracker::spawn_tracker;
use crate::util::{TIMEOUT, bin, free_port, random_bytes, sha256, wait_until};

/// Child processes killed when the test ends, however it ends.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `--sync` process for `dir`, serving on `port`.
fn synchronizer(tracker_port: u16, dir: &Path, port: u16) -> Child {
    Command::new(bin())
        .args(["--sync", &format!("127.0.0.1:{tracker_port}"), "--dir"])
        .arg(dir)
        .args(["--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn --sync")
}

/// A hand-driven tracker connection: one JSON value out, one response line back.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(tracker_port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", tracker_port)).expect("connect tracker");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// Sends `message`; returns the response line as received (JSON and `\n`).
    fn ask_raw(&mut self, message: &Value) -> String {
        self.stream
            .write_all(message.to_string().as_bytes())
            .unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("response");
        line
    }

    fn ask(&mut self, message: Value) -> Value {
        let line = self.ask_raw(&message);
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// Every live copy of `name` as (serving port, mtime), newest first (p2p-tui's `holders`).
    fn holders(&mut self, name: &str) -> Vec<(u64, i64)> {
        let reply = self.ask(json!({ "holders": name }));
        reply["holders"]["peers"]
            .as_array()
            .map(|peers| {
                peers
                    .iter()
                    .map(|h| (h["port"].as_u64().unwrap(), h["mtime"].as_i64().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The TCP sockets process `pid` holds open: how many listen, and the (local port, remote port)
/// of every other one. Its socket descriptors (`/proc/PID/fd` -> `socket:[inode]`) matched
/// against the kernel's TCP tables by inode, so a process's other sockets (tokio's signal pipe
/// is a Unix socket pair) do not count.
fn tcp_sockets(pid: u32) -> (usize, Vec<(u16, u16)>) {
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
    let port = |address: &str| {
        address
            .rsplit(':')
            .next()
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            .unwrap_or(0)
    };
    let (mut listening, mut connected) = (0, Vec::new());
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(inode) = fields.get(9).and_then(|i| i.parse::<u64>().ok()) else {
                continue;
            };
            if inode == 0 || !inodes.contains(&inode) {
                continue;
            }
            // State 0A is LISTEN.
            if fields[3] == "0A" {
                listening += 1;
            } else {
                connected.push((port(fields[1]), port(fields[2])));
            }
        }
    }
    connected.sort_unstable();
    (listening, connected)
}

/// Writes `bytes` with `mtime` next to the folder and renames it in: a rescan never sees the new
/// bytes with another mtime.
fn place(dir: &Path, name: &str, bytes: &[u8], mtime: i64) {
    let staging = dir.with_extension("staging");
    std::fs::write(&staging, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&staging).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime as u64))
        .unwrap();
    drop(f);
    std::fs::rename(&staging, dir.join(name)).unwrap();
}

fn mtime(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn folders(root: &Path, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| {
            let d = root.join(n);
            std::fs::create_dir_all(&d).unwrap();
            d
        })
        .collect()
}

/// Question 5: the tracker never connects out; it holds its listener and exactly one connection
/// per live peer, and closes a peer's socket when the peer goes.
#[test]
fn the_tracker_holds_one_listening_socket_and_one_socket_per_live_peer() {
    let (child, port) = spawn_tracker(&[]);
    let pid = child.id();
    let _procs = Procs(vec![child]);
    // (The connection that saw it listening is closed: wait for the tracker to close its end.)
    wait_until("a tracker with no peer: its listener alone", || {
        tcp_sockets(pid) == (1, vec![])
    });
    let mut peers: Vec<Client> = (0..3u16)
        .map(|n| {
            let mut p = Client::connect(port);
            p.ask(json!({"port": 8001 + n, "files": [{"name": format!("f{n}.txt"), "mtime": 1}]}));
            p
        })
        .collect();
    // Every peer has had its directory response: the tracker has accepted all three.
    let (listening, connected) = tcp_sockets(pid);
    assert_eq!(listening, 1);
    assert_eq!(connected.len(), 3, "one socket per peer: {connected:?}");
    assert!(
        connected.iter().all(|&(local, _)| local == port),
        "every socket is one the tracker accepted: {connected:?}"
    );
    // Messages travel over the same socket: a keep-alive opens nothing new.
    peers[0].ask(json!({"port": 8001}));
    assert_eq!(tcp_sockets(pid).1.len(), 3);
    // A peer that leaves takes its socket with it (and its files leave the directory).
    drop(peers.pop());
    wait_until("the departed peer's socket closed", || {
        tcp_sockets(pid).1.len() == 2
    });
    assert!(peers[0].ask(json!({"port": 8001})).get("f2.txt").is_none());
}

/// Question 6: a synchronizer holds its file-serving listener, one connection to the tracker,
/// and one fetch connection at a time, even with several files due.
#[test]
fn a_synchronizer_holds_a_listener_one_tracker_socket_and_one_fetch_at_a_time() {
    let (child, tracker_port) = spawn_tracker(&[]);
    let mut procs = Procs(vec![child]);
    // A holder that trickles a byte a second and never finishes: the fetch stays open.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let holder_port = holder.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in holder.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut name = [0u8; 256];
                let _ = std::io::Read::read(&mut stream, &mut name);
                // The stand-in's pace (the scenario), not a wait in the test.
                while stream.write_all(b"x").is_ok() {
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    let mut registrar = Client::connect(tracker_port);
    registrar.ask(json!({"port": holder_port, "files": [
        {"name": "slow1.bin", "mtime": 1_700_000_000},
        {"name": "slow2.bin", "mtime": 1_700_000_000},
    ]}));
    let root = tempfile::tempdir().unwrap();
    let dir = &folders(root.path(), &["s"])[0];
    let sync_port = free_port();
    procs.0.push(synchronizer(tracker_port, dir, sync_port));
    let pid = procs.0[1].id();
    let remote_ports = |sockets: &(usize, Vec<(u16, u16)>)| {
        let mut remote: Vec<u16> = sockets.1.iter().map(|&(_, r)| r).collect();
        remote.sort_unstable();
        remote
    };
    let mut expected = vec![tracker_port, holder_port];
    expected.sort_unstable();
    wait_until("the synchronizer fetching from the holder", || {
        let _ = registrar.ask(json!({ "port": holder_port }));
        remote_ports(&tcp_sockets(pid)) == expected
    });
    let sockets = tcp_sockets(pid);
    assert_eq!(sockets.0, 1, "the file-serving listener");
    assert_eq!(
        remote_ports(&sockets),
        expected,
        "one socket to the tracker, one fetch: {sockets:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "two files due, one fetch connection"
    );
    assert!(
        !sockets.1.iter().any(|&(local, _)| local == sync_port),
        "nobody is fetching from the synchronizer"
    );
}

/// Question 3: the synchronizer re-sends its whole initial message when its folder changes, and
/// the tracker replaces that peer's list: additions, modifications (a later mtime) and deletions
/// all reach the directory.
#[test]
fn additions_modifications_and_deletions_reach_the_tracker_as_a_repeated_initial() {
    let (child, tracker_port) = spawn_tracker(&[]);
    let mut procs = Procs(vec![child]);
    let root = tempfile::tempdir().unwrap();
    let dir = &folders(root.path(), &["a"])[0];
    let port = free_port();
    procs.0.push(synchronizer(tracker_port, dir, port));
    let mut probe = Client::connect(tracker_port);
    let p = u64::from(port);
    // Registered, so what follows is seen by its rescans.
    place(dir, "present.txt", b"here from the start", 1_600_000_000);
    wait_until("the synchronizer registered", || {
        probe.holders("present.txt") == [(p, 1_600_000_000)]
    });
    let mut step = |what: &str, change: &dyn Fn(), expected: Vec<(u64, i64)>| {
        let started = Instant::now();
        change();
        wait_until(what, || probe.holders("f.txt") == expected);
        eprintln!("{what}: in the directory after {:?}", started.elapsed());
        // The re-announce replaced the whole list: the unchanged file is in it again.
        assert_eq!(probe.holders("present.txt"), [(p, 1_600_000_000)]);
    };
    step(
        "addition",
        &|| place(dir, "f.txt", b"first", 1_700_000_000),
        vec![(p, 1_700_000_000)],
    );
    step(
        "modification",
        &|| place(dir, "f.txt", b"second, longer", 1_700_000_500),
        vec![(p, 1_700_000_500)],
    );
    step(
        "deletion",
        &|| std::fs::remove_file(dir.join("f.txt")).unwrap(),
        vec![],
    );
}

/// Question 3, the limit: seed 002's synchronizer has no deletion message. A file deleted on one
/// peer is still announced by a peer that fetched it, so the deleting peer fetches it back.
#[test]
fn a_deleted_file_comes_back_from_a_peer_that_fetched_it() {
    let (child, tracker_port) = spawn_tracker(&[]);
    let mut procs = Procs(vec![child]);
    let root = tempfile::tempdir().unwrap();
    let dirs = folders(root.path(), &["a", "b"]);
    let data = random_bytes(20_000, 18);
    place(&dirs[0], "gone.bin", &data, 1_650_000_000);
    let (pa, pb) = (free_port(), free_port());
    procs.0.push(synchronizer(tracker_port, &dirs[0], pa));
    procs.0.push(synchronizer(tracker_port, &dirs[1], pb));
    wait_until("b fetched the file", || {
        std::fs::read(dirs[1].join("gone.bin")).ok().as_ref() == Some(&data)
    });
    std::fs::remove_file(dirs[0].join("gone.bin")).unwrap();
    wait_until("the deleted file back in a", || {
        std::fs::read(dirs[0].join("gone.bin")).ok().as_ref() == Some(&data)
    });
    assert_eq!(mtime(&dirs[0].join("gone.bin")), Some(1_650_000_000));
    let mut probe = Client::connect(tracker_port);
    wait_until("both copies listed again", || {
        let mut ports: Vec<u64> = probe.holders("gone.bin").iter().map(|h| h.0).collect();
        ports.sort_unstable();
        ports == [u64::from(pa), u64::from(pb)]
    });
}

/// Question 2: a peer is alive while it sends something at least every timeout; a silent peer
/// leaves the directory once the timeout has passed since its last message, never before.
#[test]
fn a_silent_peer_is_dropped_after_the_timeout_never_before_and_a_talking_one_stays() {
    const TIMEOUT_SECS: u64 = 2;
    let (child, port) = spawn_tracker(&["--peer-timeout", &TIMEOUT_SECS.to_string()]);
    let _procs = Procs(vec![child]);
    let mut talker = Client::connect(port);
    talker.ask(json!({"port": 8002, "files": [{"name": "talker.txt", "mtime": 1}]}));
    let mut silent = Client::connect(port);
    let last_message = Instant::now();
    let r = silent.ask(json!({"port": 8001, "files": [{"name": "quiet.txt", "mtime": 1}]}));
    assert!(r.get("quiet.txt").is_some());
    let deadline = Instant::now() + TIMEOUT;
    let dropped_after = loop {
        let r = talker.ask(json!({"port": 8002}));
        assert!(
            r.get("talker.txt").is_some(),
            "the talking peer was dropped"
        );
        if r.get("quiet.txt").is_none() {
            break last_message.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the silent peer was never dropped"
        );
        // The talker's keep-alive period.
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "silent peer dropped {dropped_after:?} after its last message (timeout {TIMEOUT_SECS} s)"
    );
    assert!(
        dropped_after >= Duration::from_secs(TIMEOUT_SECS),
        "dropped after {dropped_after:?}"
    );
    // The talker has outlived the timeout by keeping alive.
    assert!(last_message.elapsed() > Duration::from_secs(TIMEOUT_SECS));
    assert!(
        talker
            .ask(json!({"port": 8002}))
            .get("talker.txt")
            .is_some()
    );
}

/// Question 4, pull: the tracker writes only answers. Every keep-alive is answered with the whole
/// directory, the same bytes when nothing changed (so a peer cannot tell "no change" without
/// reading it all), and a change by another peer is not pushed: it arrives in the next answer.
#[test]
fn every_keep_alive_is_answered_with_the_whole_directory_and_nothing_is_pushed() {
    let (child, port) = spawn_tracker(&[]);
    let _procs = Procs(vec![child]);
    let files = |prefix: &str| -> Vec<Value> {
        (0..3)
            .map(|i| json!({"name": format!("{prefix}{i}.txt"), "mtime": 1_700_000_000 + i}))
            .collect()
    };
    let mut a = Client::connect(port);
    a.ask(json!({"port": 8001, "files": files("a")}));
    let mut b = Client::connect(port);
    b.ask(json!({"port": 8002, "files": files("b")}));
    let first = a.ask_raw(&json!({"port": 8001}));
    let second = a.ask_raw(&json!({"port": 8001}));
    assert_eq!(first, second, "nothing changed, the same directory resent");
    let directory: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(directory.as_object().unwrap().len(), 6, "{directory}");
    assert!(first.ends_with("}\n"));
    eprintln!(
        "directory of 6 names: {} bytes on every keep-alive",
        first.len()
    );
    // b changes its list (and has its answer, so the tracker has applied the change)...
    b.ask(json!({"port": 8002, "files": files("c")}));
    // ...a hears of it only by asking: its next line is the answer to its keep-alive, and
    // nothing else has arrived, before or after it.
    let third: Value = serde_json::from_str(&a.ask_raw(&json!({"port": 8001}))).unwrap();
    assert!(
        third.get("c0.txt").is_some() && third.get("b0.txt").is_none(),
        "{third}"
    );
    assert!(a.reader.buffer().is_empty(), "more than the answer arrived");
    a.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let unasked = std::io::Read::read(&mut a.stream, &mut byte);
    assert!(
        matches!(&unasked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the tracker wrote unasked: {unasked:?}"
    );
}

/// Question 7: a version is (name, mtime in whole seconds). Two contents stamped with the same
/// second are the same version to the synchronizer: neither replaces the other.
#[test]
fn two_contents_with_the_same_mtime_are_never_reconciled() {
    let (child, tracker_port) = spawn_tracker(&[]);
    let mut procs = Procs(vec![child]);
    let root = tempfile::tempdir().unwrap();
    let dirs = folders(root.path(), &["a", "b"]);
    place(&dirs[0], "same.txt", b"a's content", 1_700_000_000);
    place(&dirs[1], "same.txt", b"b's content", 1_700_000_000);
    place(&dirs[0], "a_marker.txt", b"from a", 1_700_000_001);
    place(&dirs[1], "b_marker.txt", b"from b", 1_700_000_001);
    procs
        .0
        .push(synchronizer(tracker_port, &dirs[0], free_port()));
    procs
        .0
        .push(synchronizer(tracker_port, &dirs[1], free_port()));
    // Each has acted on a directory listing the other's files (same.txt among them), and the
    // tracker knows both copies.
    wait_until("each fetched the other's marker", || {
        std::fs::read(dirs[1].join("a_marker.txt")).ok().as_deref() == Some(&b"from a"[..])
            && std::fs::read(dirs[0].join("b_marker.txt")).ok().as_deref() == Some(&b"from b"[..])
    });
    let mut probe = Client::connect(tracker_port);
    assert_eq!(probe.holders("same.txt").len(), 2);
    assert_eq!(
        std::fs::read(dirs[0].join("same.txt")).unwrap(),
        b"a's content"
    );
    assert_eq!(
        std::fs::read(dirs[1].join("same.txt")).unwrap(),
        b"b's content"
    );
}

/// Question 7, clock skew: "newest" means the largest mtime, not the latest edit. An edit made
/// now on a peer whose clock is an hour slow is stamped older than the copy everyone has, and
/// that copy overwrites it.
#[test]
fn an_edit_stamped_by_a_slow_clock_is_overwritten_by_the_older_edit() {
    let (child, tracker_port) = spawn_tracker(&[]);
    let mut procs = Procs(vec![child]);
    let root = tempfile::tempdir().unwrap();
    let dirs = folders(root.path(), &["a", "b"]);
    let original = random_bytes(5_000, 7);
    let written = now_secs() - 60;
    place(&dirs[0], "notes.txt", &original, written);
    procs
        .0
        .push(synchronizer(tracker_port, &dirs[0], free_port()));
    procs
        .0
        .push(synchronizer(tracker_port, &dirs[1], free_port()));
    let mut probe = Client::connect(tracker_port);
    wait_until("b holds the file too", || {
        probe.holders("notes.txt").len() == 2
    });
    // b edits the file now, its clock an hour behind.
    place(&dirs[1], "notes.txt", b"b's later edit", now_secs() - 3600);
    wait_until("b's edit replaced by a's copy", || {
        std::fs::read(dirs[1].join("notes.txt"))
            .ok()
            .is_some_and(|bytes| sha256(&bytes) == sha256(&original))
    });
    assert_eq!(mtime(&dirs[1].join("notes.txt")), Some(written));
}
