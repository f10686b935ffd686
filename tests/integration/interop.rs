//! Interoperation with a naive lockstep peer, in both directions.

use crate::naive::{NaiveClient, NaiveServer};
use crate::util::{Net, random_bytes, sha256};

#[test]
fn our_client_downloads_and_uploads_with_a_naive_server() {
    // p2 is the naive peer; p3 is ours. A download is shared between them.
    let mut net = Net::new(&["p1", "p2", "p3"]);
    let naive = NaiveServer::start(net.port("p2"), net.dir("p2"));
    net.start("p3", &[]);
    let data = random_bytes(9_999, 21);
    net.put("p2", "f.bin", &data);
    net.put("p3", "f.bin", &data);
    let up = random_bytes(1_234, 22);
    net.put("p1", "up.bin", &up);
    let mut p1 = net.console("p1", &[]);
    p1.send("#FILELIST p2");
    p1.expect_line("Server (p2): 200 Files served: f.bin");
    p1.send("#DOWNLOAD f.bin p2 p3");
    p1.expect_line("File f.bin download success");
    assert_eq!(p1.count("Client (p2): #DOWNLOAD f.bin chunk 98"), 1);
    assert_eq!(sha256(&net.served("p1", "f.bin").unwrap()), sha256(&data));
    p1.send("#UPLOAD up.bin p2");
    p1.expect_line("File up.bin upload success");
    assert_eq!(net.served("p2", "up.bin"), Some(up));
    let violations = naive.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "the naive server saw: {violations:?}"
    );
}

#[test]
fn a_naive_client_uses_our_server() {
    let mut net = Net::new(&["p1", "p2"]);
    net.start("p2", &[]);
    let data = random_bytes(5_432, 23);
    net.put("p2", "f.bin", &data);
    let list = NaiveClient::connect(net.port("p2")).exchange(b"#FILELIST");
    assert_eq!(list, b"200 Files served: f.bin");
    let got = NaiveClient::connect(net.port("p2")).download("f.bin");
    assert_eq!(sha256(&got), sha256(&data));
    let up = random_bytes(250, 24);
    let replies = NaiveClient::connect(net.port("p2")).upload("up.bin", &up);
    assert_eq!(replies[0], "330 Ready to receive file up.bin");
    assert_eq!(replies[1], "200 File up.bin chunk 0 received");
    let tail = replies[3..].concat();
    assert_eq!(
        tail,
        "200 File up.bin chunk 2 received200 File up.bin received"
    );
    assert_eq!(net.served("p2", "up.bin"), Some(up));
}

/// The most chunk requests a peer had outstanding at once, read from the console's lines:
/// each `Client (pX): #DOWNLOAD f chunk i` is printed when sent, each `Server (pX): 200 File f
/// chunk i` when its reply arrives.
fn most_in_flight(lines: &[String], peer: &str, file: &str) -> usize {
    let request = format!("Client ({peer}): #DOWNLOAD {file} chunk ");
    let reply = format!("Server ({peer}): 200 File {file} chunk ");
    let (mut now, mut most) = (0i64, 0i64);
    for line in lines {
        if line.starts_with(&request) {
            now += 1;
        } else if line.starts_with(&reply) {
            now -= 1;
        }
        most = most.max(now);
    }
    most as usize
}

#[test]
fn one_download_pipelines_to_our_peers_and_keeps_lockstep_with_a_naive_one() {
    // p2 and p3 are ours, p4 is a naive classroom peer; one command uses all three.
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    net.start("p2", &[]);
    net.start("p3", &[]);
    let naive = NaiveServer::start(net.port("p4"), net.dir("p4"));
    let data = random_bytes(300_000, 23);
    for p in ["p2", "p3", "p4"] {
        net.put(p, "f.bin", &data);
    }
    // Strict round robin: the naive peer, in lockstep, is slower than ours, whose idle tasks
    // would otherwise take its chunks (tests/integration/rebalance.rs).
    let mut p1 = net.console("p1", &["--strict-round-robin"]);
    p1.send("#DOWNLOAD f.bin p2 p3 p4");
    let lines = p1.expect_line("File f.bin download success").to_vec();
    assert_eq!(sha256(&net.served("p1", "f.bin").unwrap()), sha256(&data));
    // Every chunk was asked for once, by its round-robin owner.
    for (peer, first) in [("p2", 0), ("p3", 1), ("p4", 2)] {
        for index in [first, first + 300, first + 2997] {
            let line = format!("Client ({peer}): #DOWNLOAD f.bin chunk {index}");
            assert_eq!(p1.count(&line), 1, "{line}");
        }
    }
    assert!(
        most_in_flight(&lines, "p2", "f.bin") > 1,
        "p2 was not pipelined"
    );
    assert!(
        most_in_flight(&lines, "p3", "f.bin") > 1,
        "p3 was not pipelined"
    );
    assert_eq!(
        most_in_flight(&lines, "p4", "f.bin"),
        1,
        "p4 got two requests at once"
    );
    let violations = naive.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "the naive server saw: {violations:?}"
    );
    let (status, _) = p1.finish();
    assert!(status.success());
    // `--window 1` keeps lockstep with everyone.
    let mut lockstep = net.console("p1", &["--window", "1"]);
    std::fs::remove_file(net.dir("p1").join("served_files/f.bin")).unwrap();
    lockstep.send("#DOWNLOAD f.bin p2 p3 p4");
    let lines = lockstep.expect_line("File f.bin download success").to_vec();
    for peer in ["p2", "p3", "p4"] {
        assert_eq!(most_in_flight(&lines, peer, "f.bin"), 1, "{peer}");
    }
    assert_eq!(sha256(&net.served("p1", "f.bin").unwrap()), sha256(&data));
}

#[test]
fn the_longest_names_pipeline_too() {
    // 255-byte names make every message long; the window shrinks so that neither side's
    // socket buffers can fill while the other waits.
    let mut net = Net::new(&["p1", "p2", "p3"]);
    net.start("p2", &[]);
    net.start("p3", &[]);
    let name = format!("{}.bin", "n".repeat(251));
    let data = random_bytes(400_000, 24);
    net.put("p2", &name, &data);
    net.put("p3", &name, &data);
    let mut p1 = net.console("p1", &[]);
    p1.send(&format!("#DOWNLOAD {name} p2 p3"));
    let lines = p1
        .expect_line(&format!("File {name} download success"))
        .to_vec();
    assert_eq!(sha256(&net.served("p1", &name).unwrap()), sha256(&data));
    assert!(most_in_flight(&lines, "p2", &name) > 1);
    p1.send(&format!("#UPLOAD {name} p3"));
    // p3 already has it: refused, nothing overwritten.
    p1.expect_line(&format!("Server (p3): 250 Already serving file {name}"));
    let up = format!("{}.up", "u".repeat(252));
    net.put("p1", &up, &data);
    p1.send(&format!("#UPLOAD {up} p2 p3"));
    p1.expect_count(&format!("File {up} upload success"), 2);
    assert_eq!(net.served("p2", &up), Some(data.clone()));
    assert_eq!(net.served("p3", &up), Some(data));
}

#[test]
fn each_peer_gets_the_window_its_rate_deserves() {
    // Peers that sleep 40 ms after each chunk (the demo's slow peers) get two requests
    // at a time, so the log reads request, reply, request as in the seed; fast peers get
    // hundreds (the adaptive window, src/peer/transfer/window.rs; at least 64 even on a busy
    // machine).
    let mut net = Net::new(&["p1", "p2", "p3", "p4", "p5"]);
    for slow in ["p2", "p3"] {
        net.start(slow, &["--chunk-delay", "40"]);
    }
    for fast in ["p4", "p5"] {
        net.start(fast, &[]);
    }
    let small = random_bytes(6_000, 31);
    let big = random_bytes(3_000_000, 32);
    for p in ["p2", "p3"] {
        net.put(p, "slow.bin", &small);
    }
    for p in ["p4", "p5"] {
        net.put(p, "fast.bin", &big);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD slow.bin p2 p3");
    let lines = p1.expect_line("File slow.bin download success").to_vec();
    for peer in ["p2", "p3"] {
        let most = most_in_flight(&lines, peer, "slow.bin");
        assert!(most <= 2, "{peer} had {most} requests in flight");
    }
    p1.send("#DOWNLOAD fast.bin p4 p5");
    let lines = p1.expect_line("File fast.bin download success").to_vec();
    for peer in ["p4", "p5"] {
        let most = most_in_flight(&lines, peer, "fast.bin");
        assert!(most >= 64, "{peer} had at most {most} requests in flight");
    }
    assert_eq!(
        sha256(&net.served("p1", "slow.bin").unwrap()),
        sha256(&small)
    );
    assert_eq!(sha256(&net.served("p1", "fast.bin").unwrap()), sha256(&big));
    let (status, _) = p1.finish();
    assert!(status.success());
}
