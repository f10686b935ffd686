//! One version per download: two versions of one name never mix, the tracker's newest copy
//! wins, and a server that sends wrong bytes is found out by the content digest.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime};

use crate::tracker::TrackerProcess;
use crate::util::{Net, random_bytes, sha256, wait_until};

pub fn set_mtime(net: &Net, id: &str, name: &str, secs: u64) {
    let path = net.dir(id).join("served_files").join(name);
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("served file");
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .expect("set mtime");
}

const JAN_2024: u64 = 1_704_067_200;
const JAN_2025: u64 = 1_735_689_600;

/// p2 holds `A`x1000 of 2024, p3 `B`x1000 of 2025: same name, same size, two versions.
fn two_versions(net: &mut Net, extra: &[&str]) {
    net.put("p2", "f.txt", &[b'A'; 1000]);
    set_mtime(net, "p2", "f.txt", JAN_2024);
    net.put("p3", "f.txt", &[b'B'; 1000]);
    set_mtime(net, "p3", "f.txt", JAN_2025);
    net.start("p2", extra);
    net.start("p3", extra);
}

#[test]
fn two_versions_of_one_size_are_refused_never_mixed() {
    let mut net = Net::new(&["p1", "p2", "p3"]);
    two_versions(&mut net, &[]);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.txt p2 p3");
    p1.wait_for(
        |l| {
            l.starts_with("File f.txt differs between the serving peers: p2 (version 1")
                && l.contains("p3 (version 2")
        },
        "the refusal naming both peers",
    );
    p1.expect_line("File f.txt download failed");
    assert_eq!(p1.count("File f.txt download success"), 0);
    assert!(net.served("p1", "f.txt").is_none());
    assert!(net.partials("p1").is_empty());
}

#[test]
fn two_sizes_are_refused_naming_the_peers() {
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    net.put("p2", "f.txt", &[b'A'; 1000]);
    net.put("p3", "f.txt", &[b'B'; 1200]);
    net.put("p4", "f.txt", &[b'A'; 1000]);
    for id in ["p2", "p3", "p4"] {
        net.start(id, &[]);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.txt p2 p3 p4");
    p1.expect_line(
        "File f.txt differs between the serving peers: p2 p4 (1000 bytes) | p3 (1200 bytes); \
         not downloaded (name the peers of one version)",
    );
    p1.expect_line("File f.txt download failed");
    assert!(net.served("p1", "f.txt").is_none());
}

#[test]
fn with_the_tracker_the_newest_version_wins_and_is_never_mixed() {
    let tracker = TrackerProcess::start(&[]);
    let join = format!("127.0.0.1:{}", tracker.port);
    let mut net = Net::new(&["p1", "p2", "p3"]);
    two_versions(&mut net, &["--join", &join]);
    let mut probe = tracker.peer();
    wait_until("both holders registered", || {
        probe.ask(serde_json::json!({"holders": "f.txt"}))["holders"]["peers"]
            .as_array()
            .map_or(0, Vec::len)
            == 2
    });
    let mut p1 = net.console("p1", &["--join", &join]);
    p1.send("#DOWNLOAD f.txt");
    p1.wait_for(
        |l| l == "Tracker: 2 live holders of file f.txt; fetching the newest version (mtime 1735689600) from 1 of them",
        "the newest version chosen",
    );
    p1.expect_line("File f.txt download success");
    assert_eq!(net.served("p1", "f.txt"), Some(vec![b'B'; 1000]));
}

/// A stand-in seed-001 server (lockstep, no extensions) that serves `data` but sends every
/// seventh chunk with its first byte flipped.
fn corrupting_server(data: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { break };
            let data = data.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let mut buf = [0u8; 1024];
                loop {
                    let Ok(n) = stream.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    let request = String::from_utf8_lossy(&buf[..n]).trim().to_string();
                    let reply: Vec<u8> = if request == "#DOWNLOAD big.bin" {
                        format!("330 Ready to send file big.bin bytes {}", data.len()).into()
                    } else if let Some(i) = request.strip_prefix("#DOWNLOAD big.bin chunk ") {
                        let i: usize = i.parse().unwrap_or(0);
                        let end = (i * 100 + 100).min(data.len());
                        let mut chunk = data[i * 100..end].to_vec();
                        if i % 7 == 3 {
                            chunk[0] ^= 0xFF;
                        }
                        let mut reply = format!("200 File big.bin chunk {i} ").into_bytes();
                        reply.extend_from_slice(&chunk);
                        reply
                    } else {
                        let _ = stream.write_all(b"250 Unknown request");
                        return;
                    };
                    if stream.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_server_sending_wrong_bytes_is_named_dropped_and_the_file_is_exact() {
    let data = random_bytes(300_000, 22);
    let bad_port = corrupting_server(data.clone());
    let mut net = Net::new(&["p1", "p2", "p3"]);
    net.add_external("bad", bad_port);
    for id in ["p2", "p3"] {
        net.put(id, "big.bin", &data);
        net.start(id, &[]);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD big.bin p2 bad p3");
    p1.wait_for(
        |l| {
            l.starts_with("Server bad sent chunk ")
                && l.ends_with("of file big.bin that does not match its digest")
        },
        "the wrong bytes found out",
    );
    p1.expect_line("File big.bin download success");
    assert_eq!(
        sha256(&net.served("p1", "big.bin").expect("downloaded")),
        sha256(&data)
    );
    assert!(net.partials("p1").is_empty());
}

#[test]
fn classroom_only_downloads_say_they_are_not_verified() {
    let data = random_bytes(5_000, 23);
    let net = Net::new(&["p1", "p2"]);
    let dir = net.dir("p2");
    net.put("p2", "f.bin", &data);
    let _naive = crate::naive::NaiveServer::start(net.port("p2"), dir);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2");
    p1.expect_line("File f.bin download success");
    p1.expect_line(
        "Not verified: no serving peer could describe the content of file f.bin (classroom peers)",
    );
    assert_eq!(net.served("p1", "f.bin"), Some(data));
}
