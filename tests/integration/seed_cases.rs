//! The seed's testing scheme (section IV), one test per case, against real peer processes.

use crate::util::{Net, Raw, random_bytes, sha256, wait_until};

/// Peers p1..p4 in the settings; `servers` started headless, the rest free for consoles.
fn net_with_servers(servers: &[&str], extra: &[&str]) -> Net {
    let mut net = Net::new(&["p1", "p2", "p3", "p4"]);
    for id in servers {
        net.start(id, extra);
    }
    net
}

fn assert_same_file(net: &Net, id: &str, name: &str, original: &[u8]) {
    let got = net
        .served(id, name)
        .unwrap_or_else(|| panic!("{id} has no {name}"));
    assert_eq!(sha256(&got), sha256(original), "{id}/{name} differs");
}

// 1) Retrieve the file lists from multiple servers.
#[test]
fn case01_filelist_from_multiple_servers() {
    let net = net_with_servers(&["p2", "p3", "p4"], &[]);
    net.put("p2", "b.txt", b"b");
    net.put("p2", "a.txt", b"a");
    net.put("p4", "c.bin", &[0, 1, 2]);
    let mut p1 = net.console("p1", &[]);
    p1.send("#FILELIST p2 p3 p4");
    p1.expect_line("Server (p2): 200 Files served: a.txt b.txt");
    p1.expect_line("Server (p3): 200 Files served:");
    p1.expect_line("Server (p4): 200 Files served: c.bin");
    for id in ["p2", "p3", "p4"] {
        assert_eq!(p1.count(&format!("Client ({id}): #FILELIST")), 1);
    }
}

// 2) Upload a file to multiple servers.
#[test]
fn case02_upload_to_multiple_servers() {
    let net = net_with_servers(&["p2", "p3"], &[]);
    let data = random_bytes(10_050, 2);
    net.put("p1", "up.bin", &data);
    let mut p1 = net.console("p1", &[]);
    p1.send("#UPLOAD up.bin p2 p3");
    p1.expect_line("Uploading file up.bin");
    p1.expect_count("File up.bin upload success", 2);
    let (status, lines) = p1.finish();
    assert!(status.success());
    assert!(lines.contains(&"Client (p2): #UPLOAD up.bin bytes 10050".to_string()));
    assert!(lines.contains(&"Server (p3): 200 File up.bin chunk 100 received".to_string()));
    assert!(lines.contains(&"Server (p2): 200 File up.bin received".to_string()));
    assert_same_file(&net, "p2", "up.bin", &data);
    assert_same_file(&net, "p3", "up.bin", &data);
}

// 3) Multiple clients upload different files to the same server.
#[test]
fn case03_multiple_clients_upload_different_files_to_one_server() {
    let net = net_with_servers(&["p2"], &[]);
    let one = random_bytes(3_000, 31);
    let three = random_bytes(2_500, 33);
    net.put("p1", "one.bin", &one);
    net.put("p3", "three.bin", &three);
    // A chunk delay on the uploaders keeps both uploads open at the same time.
    let mut c1 = net.console("p1", &["--chunk-delay", "5"]);
    let mut c3 = net.console("p3", &["--chunk-delay", "5"]);
    c1.send("#UPLOAD one.bin p2");
    c3.send("#UPLOAD three.bin p2");
    c1.expect_line("File one.bin upload success");
    c3.expect_line("File three.bin upload success");
    assert_same_file(&net, "p2", "one.bin", &one);
    assert_same_file(&net, "p2", "three.bin", &three);
}

// 4) While receiving a file, a server rejects another #UPLOAD of it and accepts a different file.
#[test]
fn case04_upload_of_a_file_being_received_is_refused_and_another_file_is_accepted() {
    let net = net_with_servers(&["p2"], &[]);
    let mut slow = Raw::connect(net.port("p2"));
    assert_eq!(
        slow.ask(b"#UPLOAD busy.txt bytes 150", "busy.txt"),
        "330 Ready to receive file busy.txt"
    );
    net.put("p1", "busy.txt", b"another copy");
    net.put("p1", "other.txt", b"a different file");
    let mut p1 = net.console("p1", &[]);
    p1.send("#UPLOAD busy.txt p2");
    p1.expect_line("Server (p2): 250 Currently receiving file busy.txt");
    p1.send("#UPLOAD other.txt p2");
    p1.expect_line("File other.txt upload success");
    assert_eq!(
        p1.count("File busy.txt upload success") + p1.count("File busy.txt upload failed"),
        0
    );
    // The first upload is unaffected and completes.
    let data = random_bytes(150, 4);
    let mut chunk0 = b"#UPLOAD busy.txt chunk 0 ".to_vec();
    chunk0.extend_from_slice(&data[..100]);
    assert_eq!(
        slow.ask(&chunk0, "received"),
        "200 File busy.txt chunk 0 received"
    );
    let mut chunk1 = b"#UPLOAD busy.txt chunk 1 ".to_vec();
    chunk1.extend_from_slice(&data[100..]);
    let reply = slow.ask(&chunk1, "200 File busy.txt received");
    assert_eq!(
        reply,
        "200 File busy.txt chunk 1 received200 File busy.txt received"
    );
    assert_same_file(&net, "p2", "busy.txt", &data);
    assert_same_file(&net, "p2", "other.txt", b"a different file");
}

// 5a) During an upload a server is shut down: that target fails, the others succeed.
#[test]
fn case05a_upload_survives_a_server_killed_mid_upload() {
    let mut net = net_with_servers(&["p2", "p3"], &[]);
    let data = random_bytes(8_000, 5);
    net.put("p1", "up.bin", &data);
    let mut p1 = net.console("p1", &["--chunk-delay", "20"]);
    p1.send("#UPLOAD up.bin p2 p3");
    p1.expect_line("Server (p3): 200 File up.bin chunk 5 received");
    net.kill("p3");
    p1.expect_line("File up.bin upload failed");
    p1.expect_line("File up.bin upload success");
    assert_same_file(&net, "p2", "up.bin", &data);
    // The killed server shows nothing partial; its leftover is removed when it starts again.
    assert!(net.served("p3", "up.bin").is_none());
    net.start("p3", &[]);
    assert!(net.partials("p3").is_empty(), "{:?}", net.partials("p3"));
    assert!(net.served("p3", "up.bin").is_none());
}

// 5b) During an upload the client is shut down: the server drops the partial file and the name.
#[test]
fn case05b_client_killed_mid_upload_leaves_no_partial_file() {
    let net = net_with_servers(&["p2"], &[]);
    let data = random_bytes(8_000, 55);
    net.put("p1", "up.bin", &data);
    let mut p1 = net.console("p1", &["--chunk-delay", "20"]);
    p1.send("#UPLOAD up.bin p2");
    p1.expect_line("Server (p2): 200 File up.bin chunk 3 received");
    assert_eq!(net.partials("p2").len(), 1);
    p1.kill();
    wait_until("p2 to drop the partial upload", || {
        net.partials("p2").is_empty()
    });
    assert!(net.served("p2", "up.bin").is_none());
    // The name is free again: a new upload of it is accepted and completes.
    net.put("p3", "up.bin", &data);
    let mut p3 = net.console("p3", &[]);
    p3.send("#UPLOAD up.bin p2");
    p3.expect_line("File up.bin upload success");
    assert_same_file(&net, "p2", "up.bin", &data);
}

// 6) Upload a file the client does not serve.
#[test]
fn case06_upload_of_a_missing_file_is_refused_locally() {
    let net = net_with_servers(&["p2"], &[]);
    let mut p1 = net.console("p1", &[]);
    p1.send("#UPLOAD nope.txt p2");
    p1.expect_line("Peer p1 does not serve file nope.txt");
    let (status, lines) = p1.finish();
    assert!(status.success());
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("Client (") || l.starts_with("Uploading")),
        "{lines:?}"
    );
}

// 7) Download a file from multiple servers: chunk i comes from serving peer i mod n.
#[test]
fn case07_download_from_multiple_servers_round_robin() {
    let net = net_with_servers(&["p2", "p3", "p4"], &[]);
    let data = random_bytes(25_049, 7);
    for id in ["p2", "p3", "p4"] {
        net.put(id, "f.bin", &data);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2 p3 p4");
    p1.expect_line("File f.bin download success");
    assert_same_file(&net, "p1", "f.bin", &data);
    let serving = ["p2", "p3", "p4"];
    for i in 0..251 {
        let owner = serving[i % 3];
        let line = format!("Client ({owner}): #DOWNLOAD f.bin chunk {i}");
        assert_eq!(p1.count(&line), 1, "{line}");
        assert_eq!(
            p1.count(&format!("Server ({owner}): 200 File f.bin chunk {i}")),
            1
        );
    }
    assert!(net.partials("p1").is_empty());
}

// 8) Multiple clients download files from the same server.
#[test]
fn case08_multiple_clients_download_from_one_server() {
    let net = net_with_servers(&["p2"], &["--chunk-delay", "1"]);
    let data = random_bytes(20_000, 8);
    net.put("p2", "f.bin", &data);
    let mut c1 = net.console("p1", &[]);
    let mut c3 = net.console("p3", &[]);
    c1.send("#DOWNLOAD f.bin p2");
    c3.send("#DOWNLOAD f.bin p2");
    c1.expect_line("File f.bin download success");
    c3.expect_line("File f.bin download success");
    assert_same_file(&net, "p1", "f.bin", &data);
    assert_same_file(&net, "p3", "f.bin", &data);
}

// 9) While receiving a file, a server turns down #DOWNLOAD of it and serves other files.
#[test]
fn case09_download_of_a_file_being_received_is_refused_and_a_served_file_is_sent() {
    let net = net_with_servers(&["p2"], &[]);
    let served = random_bytes(777, 9);
    net.put("p2", "have.bin", &served);
    let mut uploader = Raw::connect(net.port("p2"));
    assert_eq!(
        uploader.ask(b"#UPLOAD busy.txt bytes 500", "busy.txt"),
        "330 Ready to receive file busy.txt"
    );
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD busy.txt p2");
    p1.expect_line("Server (p2): 250 Not serving file busy.txt");
    p1.expect_line("File busy.txt download failed, peers p2 are not serving the file");
    p1.send("#DOWNLOAD have.bin p2");
    p1.expect_line("File have.bin download success");
    assert_same_file(&net, "p1", "have.bin", &served);
    assert!(net.served("p1", "busy.txt").is_none());
}

// 10a) A serving peer is killed mid-download: its chunks go to the others and the download succeeds.
#[test]
fn case10a_download_survives_a_server_killed_mid_transfer() {
    let mut net = net_with_servers(&["p2", "p3", "p4"], &["--chunk-delay", "10"]);
    let data = random_bytes(60_000, 10);
    for id in ["p2", "p3", "p4"] {
        net.put(id, "f.bin", &data);
    }
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2 p3 p4");
    p1.expect_line("Server (p3): 200 File f.bin chunk 31");
    net.kill("p3");
    p1.wait_for(
        |l| {
            l.starts_with("Server p3 stopped serving file f.bin")
                && l.contains("reassigned to p2 p4")
        },
        "takeover",
    );
    p1.expect_line("File f.bin download success");
    assert_eq!(p1.count("File f.bin download failed"), 0);
    assert_same_file(&net, "p1", "f.bin", &data);
    assert!(net.partials("p1").is_empty());
}

// 10b) Every serving peer leaves: the download fails and the partial file is removed.
#[test]
fn case10b_download_fails_and_removes_the_partial_when_all_servers_leave() {
    let mut net = net_with_servers(&["p2", "p3"], &["--chunk-delay", "10"]);
    let data = random_bytes(50_000, 11);
    net.put("p2", "f.bin", &data);
    net.put("p3", "f.bin", &data);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2 p3");
    p1.expect_line("Server (p2): 200 File f.bin chunk 20");
    net.kill("p2");
    p1.wait_for(
        |l| l.starts_with("Server p2 stopped serving"),
        "first takeover",
    );
    net.kill("p3");
    p1.expect_line("File f.bin download failed");
    assert!(net.served("p1", "f.bin").is_none());
    assert!(net.partials("p1").is_empty(), "{:?}", net.partials("p1"));
}

// 10c) The downloading client is killed: nothing partial is visible, the leftover is cleaned at
// its next start, and the server keeps serving others.
#[test]
fn case10c_client_killed_mid_download_leaves_nothing_visible() {
    let net = net_with_servers(&["p2"], &["--chunk-delay", "5"]);
    let data = random_bytes(30_000, 12);
    net.put("p2", "f.bin", &data);
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2");
    p1.expect_line("Server (p2): 200 File f.bin chunk 10");
    p1.kill();
    assert!(net.served("p1", "f.bin").is_none());
    let mut again = net.console("p1", &[]);
    again.send("#FILELIST p2");
    again.expect_line("Server (p2): 200 Files served: f.bin");
    assert!(
        net.partials("p1").is_empty(),
        "stale partial not cleaned: {:?}",
        net.partials("p1")
    );
    again.send("#DOWNLOAD f.bin p2");
    again.expect_line("File f.bin download success");
    assert_same_file(&net, "p1", "f.bin", &data);
}

// 10d) Ctrl-C in the client mid-download: the transfer is cancelled, the partial file removed,
// and the console exits cleanly.
#[test]
fn case10d_ctrl_c_mid_download_cancels_and_removes_the_partial() {
    let net = net_with_servers(&["p2"], &["--chunk-delay", "5"]);
    net.put("p2", "f.bin", &random_bytes(30_000, 13));
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2");
    p1.expect_line("Server (p2): 200 File f.bin chunk 10");
    assert_eq!(net.partials("p1").len(), 1);
    p1.interrupt();
    p1.expect_line("Partial file f.bin removed");
    let (status, lines) = p1.finish();
    assert!(status.success(), "exit status {status}");
    assert!(lines.contains(&"File f.bin download failed".to_string()));
    assert!(net.partials("p1").is_empty());
    assert!(net.served("p1", "f.bin").is_none());
}

// 11) Download a file the client already serves.
#[test]
fn case11_download_of_an_existing_file_is_refused_locally() {
    let net = net_with_servers(&["p2"], &[]);
    net.put("p1", "f1.txt", b"mine");
    net.put("p2", "f1.txt", b"theirs");
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f1.txt p2");
    p1.expect_line("File f1.txt already exists");
    let (_, lines) = p1.finish();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("Client (") || l.starts_with("Downloading")),
        "{lines:?}"
    );
    assert_eq!(net.served("p1", "f1.txt").as_deref(), Some(&b"mine"[..]));
}
