//! What p2p-tui sends a tracker, seen by a classroom tracker written here: one `recv()` is one
//! JSON value, and a read holding two values (or half of one) is dropped and counted. Also: a
//! synchronizer outlives a tracker restart.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::util::{Net, TIMEOUT, bin, free_port, random_bytes, wait_until};

/// Per connection: every value read, and every read that was not exactly one value.
#[derive(Default)]
struct Seen {
    values: Vec<Value>,
    dropped: Vec<String>,
}

#[derive(Default)]
struct ClassroomState {
    /// Connection number -> (announced port, files: name -> mtime).
    peers: BTreeMap<usize, (u64, BTreeMap<String, i64>)>,
    seen: BTreeMap<usize, Seen>,
}

/// The seed-002 tracker as students write it: `recv(65536)`, `json.loads`, answer.
struct ClassroomTracker {
    port: u16,
    state: Arc<Mutex<ClassroomState>>,
}

impl ClassroomTracker {
    fn start() -> ClassroomTracker {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let state = Arc::new(Mutex::new(ClassroomState::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve_one(n, stream, &state));
            }
        });
        ClassroomTracker { port, state }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn dropped(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .seen
            .values()
            .flat_map(|s| s.dropped.clone())
            .collect()
    }

    /// Keep-alives (`{"port": N}` alone) and initials received, over all connections.
    fn counts(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        let values = state.seen.values().flat_map(|s| &s.values);
        values.fold((0, 0), |(k, i), v| match v.get("files") {
            Some(_) => (k, i + 1),
            None => (k + 1, i),
        })
    }
}

/// A busy tracker: it gets round to each peer's socket every 250 ms (a non-blocking `recv`), so
/// two messages sent within 250 ms land in one read. Its rounds are half a round out of phase
/// with the peer's timers (which start when the peer connects), so messages a peer sends at the
/// same tick are never split by a round.
fn serve_one(n: usize, mut stream: TcpStream, state: &Mutex<ClassroomState>) {
    let mut buf = vec![0u8; 65536];
    stream.set_nonblocking(true).unwrap();
    let first_round = Instant::now() + Duration::from_millis(125);
    for round in 0u32.. {
        let at = first_round + Duration::from_millis(250) * round;
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let read = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        };
        let text = String::from_utf8_lossy(&buf[..read]).into_owned();
        let mut state = state.lock().unwrap();
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            eprintln!("classroom tracker: dropped a read that is not one JSON value: {text:?}");
            state.seen.entry(n).or_default().dropped.push(text);
            continue;
        };
        let port = value["port"].as_u64().unwrap_or(0);
        if let Some(files) = value["files"].as_array() {
            let files = files
                .iter()
                .map(|f| {
                    (
                        f["name"].as_str().unwrap().to_string(),
                        f["mtime"].as_i64().unwrap(),
                    )
                })
                .collect();
            state.peers.insert(n, (port, files));
        }
        state.seen.entry(n).or_default().values.push(value);
        let reply = directory(&state.peers).to_string();
        drop(state);
        if stream.write_all(reply.as_bytes()).is_err() {
            break;
        }
    }
    state.lock().unwrap().peers.remove(&n);
}

/// Newest copy of every name (the first announced wins a tie).
fn directory(peers: &BTreeMap<usize, (u64, BTreeMap<String, i64>)>) -> Value {
    let mut newest: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for (port, files) in peers.values() {
        for (name, &mtime) in files {
            if newest.get(name.as_str()).is_none_or(|&(_, m)| m < mtime) {
                newest.insert(name, (*port, mtime));
            }
        }
    }
    let map: serde_json::Map<String, Value> = newest
        .into_iter()
        .map(|(name, (port, mtime))| {
            let holder = json!({"ip": "127.0.0.1", "port": port, "mtime": mtime});
            (name.to_string(), holder)
        })
        .collect();
    Value::Object(map)
}

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sync(tracker: &str, dir: &Path) -> Child {
    Command::new(bin())
        .args(["--sync", tracker, "--dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn --sync")
}

/// Writes next to the folder, sets the mtime, then renames in: a rescan never sees the new
/// bytes with the wrong mtime.
fn write_with_mtime(path: &Path, bytes: &[u8], mtime: u64) {
    let staging = path.parent().unwrap().with_extension("staging");
    std::fs::write(&staging, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&staging).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
    drop(f);
    std::fs::rename(&staging, path).unwrap();
}

#[test]
fn a_classroom_tracker_never_gets_two_messages_in_one_read_from_sync_or_join() {
    let tracker = ClassroomTracker::start();
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let mut procs = Procs(vec![sync(&tracker.addr(), &a), sync(&tracker.addr(), &b)]);
    let mut net = Net::new(&["p1"]);
    net.start("p1", &["--join", &tracker.addr()]);
    // Changes in a and in p1's served_files for 16 s: three keep-alive periods, with the 5 s
    // keep-alive and the 2 s rescan coinciding at 10 s.
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_secs(16) {
        let bytes = random_bytes(2_000 + i as usize * 100, i);
        let name = format!("f{}.bin", i % 4);
        write_with_mtime(&a.join(&name), &bytes, 1_700_000_000 + i);
        expected.insert(name, bytes);
        if i % 3 == 0 {
            let name = format!("peer{i}.bin");
            let bytes = random_bytes(500, 1000 + i);
            net.put("p1", &name, &bytes);
            expected.insert(name, bytes);
        }
        i += 1;
        // Paced changes (this is the scenario, not a wait for something to happen).
        std::thread::sleep(Duration::from_millis(1_300));
    }
    wait_until("every change in b", || {
        expected
            .iter()
            .all(|(name, bytes)| std::fs::read(b.join(name)).ok().as_ref() == Some(bytes))
    });
    let (keep_alives, initials) = tracker.counts();
    assert_eq!(tracker.dropped(), Vec::<String>::new(), "reads dropped");
    assert!(
        keep_alives >= 6,
        "{keep_alives} keep-alives in 16 s from 3 peers"
    );
    assert!(initials >= 10, "{initials} initial messages");
    assert!(procs.0.iter_mut().all(|c| c.try_wait().unwrap().is_none()));
}

#[test]
fn a_synchronizer_reconnects_when_the_tracker_restarts() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let start_tracker = || {
        let child = Command::new(bin())
            .args(["--tracker", &addr])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tracker");
        wait_until("tracker listening", || TcpStream::connect(&addr).is_ok());
        child
    };
    let mut tracker = Procs(vec![start_tracker()]);
    let root = tempfile::tempdir().unwrap();
    write_with_mtime(&root.path().join("kept.txt"), b"still here", 1_600_000_000);
    let mut synchronizer = Command::new(bin())
        .args(["--sync", &addr, "--dir"])
        .arg(root.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = crate::util::collect(synchronizer.stderr.take().unwrap());
    let _sync = Procs(vec![synchronizer]);
    let has_kept = || {
        let Ok(mut peer) = TcpStream::connect(&addr) else {
            return false;
        };
        peer.set_read_timeout(Some(TIMEOUT)).unwrap();
        peer.write_all(br#"{"port": 1, "files": []}"#).unwrap();
        let mut reply = [0u8; 4096];
        let n = peer.read(&mut reply).unwrap_or(0);
        String::from_utf8_lossy(&reply[..n]).contains("kept.txt")
    };
    wait_until("the synchronizer registered", has_kept);
    drop(tracker);
    tracker = Procs(vec![start_tracker()]);
    wait_until("the synchronizer registered again", has_kept);
    // The lines were written before the new registration, but reach the collected text through
    // a pipe and a reader thread: wait for them rather than race the reader.
    let said = || stderr.lock().unwrap().clone();
    wait_until("the reconnection logged", || {
        said().contains("reconnecting in") && said().contains("reconnected to tracker")
    });
    drop(tracker);
}
