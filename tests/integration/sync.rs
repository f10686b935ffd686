//! Real `--sync` processes and a real tracker on loopback converge on the newest copies.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::util::{TIMEOUT, bin, random_bytes, wait_until};

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn write_with_mtime(dir: &Path, name: &str, bytes: &[u8], mtime: u64) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
}

fn mtime(path: &Path) -> Option<u64> {
    Some(
        std::fs::metadata(path)
            .ok()?
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs(),
    )
}

#[test]
fn three_synchronizers_converge_on_the_newest_copies() {
    let root = tempfile::tempdir().unwrap();
    let port = crate::util::free_port();
    let tracker_addr = format!("127.0.0.1:{port}");
    let mut procs = Procs(vec![spawn(&["--tracker", &tracker_addr])]);
    wait_until("tracker", || {
        std::net::TcpStream::connect(&tracker_addr).is_ok()
    });
    let dirs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| root.path().join(n))
        .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let big = random_bytes(300_000, 1);
    write_with_mtime(&dirs[0], "only_a.bin", &big, 1_600_000_000);
    write_with_mtime(&dirs[1], "only_b.txt", b"from b", 1_600_000_100);
    // The same name in three versions: c's is newest and must win everywhere; a's older copy
    // must not overwrite b's newer one on the way.
    write_with_mtime(&dirs[0], "shared.txt", b"old (a)", 1_500_000_000);
    write_with_mtime(&dirs[1], "shared.txt", b"middle (b)", 1_550_000_000);
    write_with_mtime(&dirs[2], "shared.txt", b"newest (c)", 1_700_000_000);
    for d in &dirs {
        procs.0.push(spawn(&[
            "--sync",
            &tracker_addr,
            "--dir",
            d.to_str().unwrap(),
        ]));
    }
    let deadline = Instant::now() + TIMEOUT;
    let converged = |d: &Path| {
        std::fs::read(d.join("only_a.bin")).ok().as_deref() == Some(&big[..])
            && std::fs::read(d.join("only_b.txt")).ok().as_deref() == Some(&b"from b"[..])
            && std::fs::read(d.join("shared.txt")).ok().as_deref() == Some(&b"newest (c)"[..])
    };
    while !dirs.iter().all(|d| converged(d)) {
        assert!(Instant::now() < deadline, "did not converge");
        // b's newer copy is never replaced by a's older one.
        let b_shared = std::fs::read(dirs[1].join("shared.txt")).unwrap();
        assert_ne!(b_shared, b"old (a)");
        std::thread::sleep(Duration::from_millis(100));
    }
    for d in &dirs {
        assert_eq!(
            mtime(&d.join("shared.txt")),
            Some(1_700_000_000),
            "{}",
            d.display()
        );
        assert_eq!(mtime(&d.join("only_a.bin")), Some(1_600_000_000));
        assert_eq!(mtime(&d.join("only_b.txt")), Some(1_600_000_100));
        let partials = std::fs::read_dir(d.join(".p2p-tui-partial"))
            .unwrap()
            .count();
        assert_eq!(partials, 0);
    }
}

/// A classroom-style synchronizer: one JSON value per send, one recv per response, the file name
/// sent with no half-close, raw bytes read until the holder closes.
mod naive {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::time::Duration;

    use serde_json::{Value, json};

    pub fn serve(listener: TcpListener, dir: PathBuf) {
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 1024];
                let Ok(n) = stream.read(&mut buf) else {
                    continue;
                };
                let name = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Ok(bytes) = std::fs::read(dir.join(name.trim())) {
                    let _ = stream.write_all(&bytes);
                }
            }
        });
    }

    pub struct Client {
        tracker: TcpStream,
        pub port: u16,
    }

    impl Client {
        pub fn join(tracker: &str, port: u16, files: &[(&str, i64)]) -> (Client, Value) {
            let tracker = TcpStream::connect(tracker).unwrap();
            tracker
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let files: Vec<Value> = files
                .iter()
                .map(|(n, m)| json!({"name": n, "mtime": m}))
                .collect();
            let mut c = Client { tracker, port };
            let dir = c.exchange(json!({"port": port, "files": files}));
            (c, dir)
        }

        pub fn exchange(&mut self, message: Value) -> Value {
            self.tracker
                .write_all(message.to_string().as_bytes())
                .unwrap();
            let mut buf = vec![0u8; 65536];
            let n = self.tracker.read(&mut buf).unwrap();
            serde_json::from_slice(&buf[..n]).expect("one recv holds one directory response")
        }

        pub fn keep_alive(&mut self) -> Value {
            let port = self.port;
            self.exchange(json!({ "port": port }))
        }
    }

    /// Fetches `name` from `ip:port` the classroom way.
    pub fn fetch(ip: &str, port: u16, name: &str) -> Vec<u8> {
        let mut s = TcpStream::connect((ip, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(name.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    }
}

fn start_tracker() -> (Procs, String) {
    let port = crate::util::free_port();
    let addr = format!("127.0.0.1:{port}");
    let procs = Procs(vec![spawn(&["--tracker", &addr])]);
    wait_until("tracker", || std::net::TcpStream::connect(&addr).is_ok());
    (procs, addr)
}

#[test]
fn a_naive_classroom_synchronizer_exchanges_files_with_ours() {
    let (mut procs, tracker) = start_tracker();
    let root = tempfile::tempdir().unwrap();
    let ours = root.path().join("ours");
    let theirs = root.path().join("theirs");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let our_file = random_bytes(40_000, 5);
    write_with_mtime(&ours, "from_ours.bin", &our_file, 1_650_000_000);
    let their_file = random_bytes(12_345, 6);
    std::fs::write(theirs.join("from_theirs.bin"), &their_file).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let naive_port = listener.local_addr().unwrap().port();
    naive::serve(listener, theirs.clone());
    let (mut naive, _) =
        naive::Client::join(&tracker, naive_port, &[("from_theirs.bin", 1_660_000_000)]);
    procs.0.push(spawn(&[
        "--sync",
        &tracker,
        "--dir",
        ours.to_str().unwrap(),
    ]));
    // Ours fetches from the naive holder (through the tracker's directory)...
    let deadline = Instant::now() + TIMEOUT;
    let dir = loop {
        let dir = naive.keep_alive();
        let have = std::fs::read(ours.join("from_theirs.bin")).ok();
        if have.as_deref() == Some(&their_file[..]) && dir.get("from_ours.bin").is_some() {
            break dir;
        }
        assert!(Instant::now() < deadline, "no exchange: {dir}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(mtime(&ours.join("from_theirs.bin")), Some(1_660_000_000));
    // ...and the naive one fetches from ours, the classroom way (no half-close).
    let holder = &dir["from_ours.bin"];
    let got = naive::fetch(
        holder["ip"].as_str().unwrap(),
        holder["port"].as_u64().unwrap() as u16,
        "from_ours.bin",
    );
    assert_eq!(got, our_file);
    assert_eq!(holder["mtime"], 1_650_000_000);
}

#[test]
fn a_synchronizer_killed_mid_fetch_leaves_no_partial_file() {
    let (mut procs, tracker) = start_tracker();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ours");
    std::fs::create_dir_all(&dir).unwrap();
    // A holder that sends half a file and then stalls.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let holder_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut name = [0u8; 256];
            let _ = stream.read(&mut name);
            let _ = stream.write_all(&random_bytes(50_000, 7));
            held.push(stream); // never closed: the fetch waits for the rest
        }
    });
    let (mut fake, _) =
        naive::Client::join(&tracker, holder_port, &[("stalled.bin", 1_700_000_000)]);
    let sync_args = ["--sync", tracker.as_str(), "--dir", dir.to_str().unwrap()];
    procs.0.push(spawn(&sync_args));
    let partials = dir.join(".p2p-tui-partial");
    let count = |p: &Path| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
    wait_until("the fetch to start writing", || {
        let _ = fake.keep_alive();
        count(&partials) == 1
            && std::fs::metadata(
                std::fs::read_dir(&partials)
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .path(),
            )
            .map(|m| m.len() > 0)
            .unwrap_or(false)
    });
    let stale = std::fs::read_dir(&partials)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut killed = procs.0.pop().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(
        !dir.join("stalled.bin").exists(),
        "a partial file became visible"
    );
    assert!(stale.exists());
    // The leftover (named after the killed process) is removed when the synchronizer starts again.
    procs.0.push(spawn(&sync_args));
    wait_until("stale partial removed", || !stale.exists());
    assert!(!dir.join("stalled.bin").exists());
}
