//! Hostile clients against a peer's server (`--peer p2 --headless`).

use super::*;

// ---------------------------------------------------------------------------------------------
// 1. A number that never ends.

#[test]
fn a_number_that_never_ends_is_refused_without_buffering_or_logging_it() {
    let net = Net::new(&["p1", "p2"]);
    with_small_file(&net);
    let server = Server::peer(&net, &[], "debug");
    served_within(server.port, Duration::from_secs(10));
    let (rss_before, log_before) = (server.peak_rss_kib(), server.log_bytes());

    let mut raw = Raw::connect(server.port);
    let mut writer = raw.stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let digits = vec![b'7'; 64 * 1024];
        let mut sent = 0usize;
        // The start goes with digits: alone, it would be a complete (wrong) request to a
        // server that takes one write as one message.
        let start = [&b"#DOWNLOAD small.txt chunk "[..], &digits].concat();
        if writer.write_all(&start).is_err() {
            return sent;
        }
        sent += digits.len();
        while sent < 64 << 20 && writer.write_all(&digits).is_ok() {
            sent += digits.len();
        }
        sent
    });
    let reply = String::from_utf8_lossy(&read_to_close(&mut raw.stream)).into_owned();
    let sent = sender.join().expect("sender");
    assert!(reply.starts_with("250 "), "{reply:?}");
    assert!(reply.len() < 200, "{} bytes of reply", reply.len());

    let rss_growth = server.peak_rss_kib().saturating_sub(rss_before);
    let log_growth = server.log_bytes() - log_before;
    eprintln!(
        "endless number: {sent} digits sent before the close, peak RSS {} KiB (+{rss_growth} KiB), log +{log_growth} bytes",
        server.peak_rss_kib()
    );
    assert!(rss_growth < 8 * 1024, "peak RSS grew by {rss_growth} KiB");
    assert!(log_growth < 2048, "log grew by {log_growth} bytes");
    served_within(server.port, Duration::from_secs(10));
}

#[test]
fn overlong_names_and_requests_are_refused_as_soon_as_the_bound_is_crossed() {
    let net = Net::new(&["p1", "p2"]);
    let server = Server::peer(&net, &[], "info");
    for (start, filler, why) in [
        (&b"#DOWNLOAD "[..], b'n', "longer than 255 bytes"),
        (b"#UPLOAD ", b'u', "longer than 255 bytes"),
        (b"#UPLOAD f bytes ", b'9', "20 digits"),
    ] {
        let mut raw = Raw::connect(server.port);
        let mut request = start.to_vec();
        request.extend(std::iter::repeat_n(filler, 300));
        // Sent without an end: the refusal must not wait for one.
        raw.send(&request);
        let reply = String::from_utf8_lossy(&read_to_close(&mut raw.stream)).into_owned();
        assert!(
            reply.starts_with("250 ") && reply.contains(why),
            "{reply:?}"
        );
    }
    served_within(server.port, Duration::from_secs(10));
}

// ---------------------------------------------------------------------------------------------
// 2. Log lines without a bound.

#[test]
fn hostile_text_grows_the_log_by_a_bounded_amount_per_request() {
    let net = Net::new(&["p1", "p2"]);
    let server = Server::peer(&net, &[], "info");
    let before = server.log_bytes();
    let requests = 60;
    let mut sent = 0;
    for i in 0..requests {
        let request: Vec<u8> = match i % 3 {
            // A synchronizer-style file request for a long, unknown name.
            0 => vec![b'a'; 1000],
            // An unknown request with a long tail.
            1 => [&b"#HELLO "[..], &[b'x'; 1000]].concat(),
            // A name of 255 bytes that is not served.
            _ => format!("#UPLOAD {} bytes 99999999999999999999", "é".repeat(127)).into_bytes(),
        };
        sent += request.len();
        let mut raw = Raw::connect(server.port);
        raw.send(&request);
        raw.stream.shutdown(std::net::Shutdown::Write).ok();
        read_to_close(&mut raw.stream);
    }
    // The log is written by the server as it goes: wait until it settles.
    let mut last = 0;
    wait_for("the log to settle", Duration::from_secs(10), || {
        let now = server.log_bytes();
        let settled = now == last;
        last = now;
        std::thread::sleep(Duration::from_millis(100));
        settled
    });
    let growth = server.log_bytes() - before;
    eprintln!(
        "log growth: {growth} bytes for {requests} hostile requests ({sent} bytes sent): {} bytes per request",
        growth / requests as u64
    );
    assert!(
        growth <= requests as u64 * 400,
        "log grew by {growth} bytes for {requests} requests"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. One declaration reserves the whole disk.

fn free_bytes(dir: &Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(dir).expect("statvfs");
    (stat.blocks_available() as u64) * stat.fragment_size() as u64
}

#[test]
fn declaring_the_whole_disk_does_not_block_other_uploads() {
    let net = Net::new(&["p1", "p2"]);
    let server = Server::peer(&net, &[], "info");
    // Margins of hundreds of MiB: other tests write files on the same disk meanwhile.
    const MIB: u64 = 1 << 20;
    let free = free_bytes(&net.dir("p2"));
    let mut hog = Raw::connect(server.port);
    let reply = hog.ask(
        format!("#UPLOAD hog.bin bytes {}", free - 256 * MIB).as_bytes(),
        "hog.bin",
    );
    assert_eq!(reply, "330 Ready to receive file hog.bin");
    // While the hog sends nothing, a declaration larger than what the hog's claim leaves is
    // still accepted, and another upload completes.
    let mut legit = Raw::connect(server.port);
    let reply = legit.ask(
        format!("#UPLOAD legit.txt bytes {}", 512 * MIB).as_bytes(),
        "legit.txt",
    );
    assert_eq!(reply, "330 Ready to receive file legit.txt");
    let mut small = Raw::connect(server.port);
    small.ask(b"#UPLOAD small.txt bytes 150", "small.txt");
    small.ask(
        &[&b"#UPLOAD small.txt chunk 0 "[..], &[1u8; 100]].concat(),
        "received",
    );
    let reply = small.ask(
        &[&b"#UPLOAD small.txt chunk 1 "[..], &[2u8; 50]].concat(),
        "File small.txt received",
    );
    assert!(reply.ends_with("200 File small.txt received"), "{reply:?}");
    // A size that could never fit is still refused.
    let mut never = Raw::connect(server.port);
    let reply = never.ask(
        format!("#UPLOAD never.bin bytes {}", free + (1 << 40)).as_bytes(),
        "large",
    );
    assert_eq!(reply, "250 File never.bin too large");
}

// ---------------------------------------------------------------------------------------------
// 4. A client that stops reading.

/// Writes `requests` one after another until the server stops taking them (a write does not
/// finish within a second); returns when it stopped.
fn write_until_stalled(stream: &mut TcpStream, requests: impl Iterator<Item = Vec<u8>>) -> Instant {
    stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .expect("write timeout");
    let mut last = Instant::now();
    for request in requests {
        match stream.write_all(&request) {
            Ok(()) => last = Instant::now(),
            Err(_) => break,
        }
    }
    last
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_idle_timeout() {
    let net = Net::new(&["p1", "p2"]);
    let size = 20_000_000;
    net.put("p2", "big.bin", &random_bytes(size, 4));
    let server = Server::peer(&net, &["--idle-timeout", "3"], "info");
    let idle_fds = server.settled_fds();

    // Pipelined chunk requests, never a byte read (the server may close the connection
    // before the requests stop being taken: the clock runs from whichever comes first).
    let mut reader = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    reader.write_all(b"#DOWNLOAD big.bin\n").expect("send");
    server.wait_for_fds_above(idle_fds);
    let requests = (0..size / 100).map(|i| format!("#DOWNLOAD big.bin chunk {i}\n").into_bytes());
    let stalled = write_until_stalled(&mut reader, requests);
    let took = server.wait_for_fds_at_most(idle_fds, Duration::from_secs(20));
    let since_stall = stalled.elapsed();
    eprintln!("stopped reader (pipelined chunks) dropped {since_stall:?} after its last request");
    assert!(since_stall < Duration::from_secs(3 + 3), "{since_stall:?}");
    assert!(took <= since_stall);
    served_within(server.port, Duration::from_secs(10));

    // A plain file request (the synchronizer's), never read.
    let idle_fds = server.settled_fds();
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    plain.write_all(b"big.bin").expect("send");
    plain.shutdown(std::net::Shutdown::Write).ok();
    let asked = Instant::now();
    server.wait_for_fds_above(idle_fds);
    server.wait_for_fds_at_most(idle_fds, Duration::from_secs(20));
    let since_ask = asked.elapsed();
    eprintln!("stopped reader (plain file request) dropped {since_ask:?} after asking");
    assert!(since_ask < Duration::from_secs(3 + 3), "{since_ask:?}");
    drop((reader, plain));
}

// ---------------------------------------------------------------------------------------------
// 5. Dripping connections.

#[test]
fn dripping_connections_are_closed_at_the_deadline_while_others_are_served() {
    let net = Net::new(&["p1", "p2"]);
    with_small_file(&net);
    let server = Server::peer(&net, &["--idle-timeout", "3"], "info");
    let mut drippers = connect_many(server.port, 600);
    let opened = Instant::now();
    let mut served = None;
    let mut open = drippers.len();
    // Each dripper sends one line end a second until the server closes it.
    for _round in 0..20 {
        for s in drippers.iter_mut() {
            let _ = s.write(b"\n");
        }
        if served.is_none() {
            served = Some(served_within(server.port, Duration::from_secs(5)));
        }
        drippers.retain_mut(|s| !closed(s));
        open = drippers.len();
        if open == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let all_closed = opened.elapsed();
    eprintln!(
        "600 drippers: all closed {all_closed:?} after connecting; a client served in {served:?} meanwhile"
    );
    assert_eq!(open, 0, "{open} drippers still open after {all_closed:?}");
    assert!(all_closed < Duration::from_secs(3 + 3), "{all_closed:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. A thousand idle connections.

#[test]
fn a_thousand_idle_connections_do_not_lock_out_a_client() {
    let net = Net::new(&["p1", "p2"]);
    with_small_file(&net);
    // The default idle timeout (60 s): only eviction can make room.
    let server = Server::peer(&net, &[], "info");
    let base_fds = server.settled_fds();
    let idle = connect_many(server.port, 1000);
    wait_for(
        "the peer to fill its slots",
        Duration::from_secs(20),
        || server.open_fds() >= base_fds + 500,
    );
    let took = served_within(server.port, Duration::from_secs(10));
    let held = server.open_fds() - base_fds;
    eprintln!(
        "1000 idle connections: a client served in {took:?}; the peer holds {held} connections"
    );
    assert!(held <= 512 + 2, "{held} connections held");
    // And again: evicted connections make room every time.
    served_within(server.port, Duration::from_secs(10));
    drop(idle);
}
