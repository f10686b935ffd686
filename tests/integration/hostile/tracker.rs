//! Hostile clients against the tracker (`--tracker`), and the synchronizer's file server.

use super::*;

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
