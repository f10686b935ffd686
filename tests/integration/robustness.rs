//! Bad input to a peer's server: a `250 <reason>` reply or a closed connection, a log line, and
//! nothing else: no crash, nothing written outside the peer directory, other clients unaffected.

use crate::util::{Net, Raw, random_bytes, wait_until};

fn server(extra: &[&str]) -> Net {
    let mut net = Net::new(&["p1", "p2"]);
    net.start("p2", extra);
    net
}

/// The server still answers a normal client.
fn still_serving(net: &Net) {
    let mut probe = Raw::connect(net.port("p2"));
    let reply = probe.ask(b"#FILELIST", "200 Files served:");
    assert!(reply.starts_with("200 Files served:"), "{reply}");
}

#[test]
fn garbage_and_unknown_requests_get_250_and_a_closed_connection() {
    let net = server(&[]);
    // (A first byte other than '#' is a synchronizer's file request: see the next test.)
    for garbage in [
        &b"#DELETE f1.txt"[..],
        b"#UPLOADX f",
        b"#FILELISTX",
        b"#DOWNLOAD f chunk x",
    ] {
        let mut raw = Raw::connect(net.port("p2"));
        raw.send(garbage);
        // Read to the end: the server answers and then closes the connection.
        let reply = String::from_utf8_lossy(&raw.read_until(b"\0never")).into_owned();
        assert!(reply.starts_with("250 "), "{garbage:?} -> {reply}");
    }
    still_serving(&net);
}

#[test]
fn plain_name_requests_get_raw_bytes_or_a_closed_connection() {
    // The synchronizer's file request (seed 002) on the same port: name in, raw bytes out.
    let mut net = server(&[]);
    let data = random_bytes(3_000, 9);
    net.put("p2", "sync.bin", &data);
    let mut raw = Raw::connect(net.port("p2"));
    raw.send(b"sync.bin");
    let got = raw.read_until(b"\0never");
    // Said in a line rather than as two 3,000-byte lists: what came back, and whether the
    // server is still there (a server that died mid-request closes with nothing sent).
    assert!(
        got == data,
        "got {} bytes, not the {} of sync.bin{}; {}",
        got.len(),
        data.len(),
        if data.starts_with(&got) {
            " (a prefix)"
        } else {
            ""
        },
        net.describe("p2")
    );
    for unknown in [&b"HELLO"[..], b"../../etc/passwd", b"\x00\xff\xfe#UPLOAD"] {
        let mut raw = Raw::connect(net.port("p2"));
        raw.send(unknown);
        assert!(
            raw.read_until(b"\0never").is_empty(),
            "{unknown:?} got bytes back"
        );
    }
    still_serving(&net);
}

#[test]
fn traversal_and_odd_names_are_refused_and_nothing_is_written_outside() {
    let net = server(&[]);
    for name in ["../escape.txt", "..", "/tmp/abs.txt", "a\\b"] {
        let mut raw = Raw::connect(net.port("p2"));
        let reply = raw.ask(format!("#UPLOAD {name} bytes 5").as_bytes(), name);
        assert_eq!(reply, format!("250 Invalid file name {name}"));
        let reply = raw.ask(format!("#DOWNLOAD {name}").as_bytes(), name);
        assert_eq!(reply, format!("250 Not serving file {name}"));
    }
    assert!(!net.root.path().join("p2").join("escape.txt").exists());
    assert!(!net.root.path().join("escape.txt").exists());
    assert!(net.served_names("p2").is_empty());
    still_serving(&net);
}

#[test]
fn absurd_sizes_and_out_of_range_chunks_are_refused() {
    let net = server(&[]);
    net.put("p2", "small.txt", &random_bytes(250, 1));
    let mut raw = Raw::connect(net.port("p2"));
    assert_eq!(
        raw.ask(b"#UPLOAD huge.bin bytes 18446744073709551615", "large"),
        "250 File huge.bin too large"
    );
    assert_eq!(
        raw.ask(b"#DOWNLOAD small.txt", "250"),
        "330 Ready to send file small.txt bytes 250"
    );
    assert_eq!(
        raw.ask(b"#DOWNLOAD small.txt chunk 3", "small.txt"),
        "250 Invalid chunk 3 of file small.txt"
    );
    // The connection goes on after a refused chunk.
    let reply = raw.ask(b"#DOWNLOAD small.txt chunk 2", "chunk 2 ");
    assert!(reply.starts_with("200 File small.txt chunk 2 "));
    let mut raw = Raw::connect(net.port("p2"));
    let reply = raw.ask(b"#UPLOAD big bytes 99999999999999999999999", "large");
    assert!(reply.starts_with("250 "), "{reply}");
    assert!(raw.closed_by_server());
    assert!(net.partials("p2").is_empty());
    still_serving(&net);
}

#[test]
fn bad_upload_chunks_abort_the_upload_and_free_the_name() {
    let net = server(&[]);
    // Out of order.
    let mut raw = Raw::connect(net.port("p2"));
    raw.ask(b"#UPLOAD u.bin bytes 150", "u.bin");
    let mut chunk = b"#UPLOAD u.bin chunk 1 ".to_vec();
    chunk.extend([7u8; 50]);
    let reply = raw.ask(&chunk, "expected");
    assert_eq!(reply, "250 Invalid chunk 1 of file u.bin, expected chunk 0");
    assert!(raw.closed_by_server());
    wait_until("partial removed", || net.partials("p2").is_empty());
    // A chunk that is not part of the file.
    let mut raw = Raw::connect(net.port("p2"));
    raw.ask(b"#UPLOAD u.bin bytes 150", "u.bin");
    let reply = raw.ask(b"#UPLOAD u.bin chunk 9 x", "u.bin");
    assert_eq!(reply, "250 Invalid chunk 9 of file u.bin");
    assert!(raw.closed_by_server());
    // A short payload and then the client vanishes.
    let mut raw = Raw::connect(net.port("p2"));
    raw.ask(b"#UPLOAD u.bin bytes 150", "u.bin");
    raw.send(b"#UPLOAD u.bin chunk 0 only ten b");
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(raw.closed_by_server());
    wait_until("partial removed", || net.partials("p2").is_empty());
    assert!(net.served("p2", "u.bin").is_none());
    // The name is free: a correct upload goes through.
    let mut raw = Raw::connect(net.port("p2"));
    assert_eq!(
        raw.ask(b"#UPLOAD u.bin bytes 3", "u.bin"),
        "330 Ready to receive file u.bin"
    );
    assert_eq!(
        raw.ask(b"#UPLOAD u.bin chunk 0 abc", "File u.bin received"),
        "200 File u.bin chunk 0 received200 File u.bin received"
    );
    assert_eq!(net.served("p2", "u.bin").as_deref(), Some(&b"abc"[..]));
}

#[test]
fn idle_clients_time_out_and_their_uploads_are_dropped() {
    let net = server(&["--idle-timeout", "1"]);
    let mut raw = Raw::connect(net.port("p2"));
    assert_eq!(
        raw.ask(b"#UPLOAD idle.bin bytes 500", "idle.bin"),
        "330 Ready to receive file idle.bin"
    );
    assert_eq!(net.partials("p2").len(), 1);
    assert!(raw.closed_by_server());
    wait_until("partial removed", || net.partials("p2").is_empty());
    still_serving(&net);
}

#[test]
fn a_misbehaving_client_does_not_disturb_a_download() {
    let net = server(&[]);
    let data = random_bytes(5_000, 3);
    net.put("p2", "f.bin", &data);
    // One client holds a half-sent message open; another floods garbage.
    let mut stuck = Raw::connect(net.port("p2"));
    stuck.send(b"#DOWNLO");
    let mut flood = Raw::connect(net.port("p2"));
    flood.send(&random_bytes(100_000, 4));
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD f.bin p2");
    p1.expect_line("File f.bin download success");
    assert_eq!(net.served("p1", "f.bin"), Some(data));
}

#[test]
fn empty_files_upload_and_download() {
    let mut net = Net::new(&["p1", "p2", "p3"]);
    net.start("p2", &[]);
    net.start("p3", &[]);
    net.put("p1", "empty.txt", b"");
    net.put("p3", "none.txt", b"");
    let mut p1 = net.console("p1", &[]);
    p1.send("#UPLOAD empty.txt p2");
    p1.expect_line("File empty.txt upload success");
    assert_eq!(net.served("p2", "empty.txt"), Some(vec![]));
    p1.send("#DOWNLOAD none.txt p3");
    p1.expect_line("File none.txt download success");
    assert_eq!(net.served("p1", "none.txt"), Some(vec![]));
}
