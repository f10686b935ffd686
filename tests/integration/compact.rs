//! The `compact` extension against a real p2p-tui server, byte for byte: after `#DOWNLOAD f`,
//! `+<index>\n` is answered by `+` and exactly the chunk's bytes, in order, whether the request
//! came alone (the general decoder) or in a pipelined batch (the fast path); a chunk the file
//! does not have, or a connection that opened no download, gets a refusal in the seed's words.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::{Net, random_bytes, serve_each, sha256};

fn connect(net: &Net, id: &str) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", net.port(id))).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    stream.read_exact(&mut bytes).expect("read the reply whole");
    bytes
}

fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        stream.read_exact(&mut byte).expect("read a line");
        line.push(byte[0]);
    }
    String::from_utf8(line).expect("text")
}

#[test]
fn compact_requests_get_exactly_the_chunks_bytes_alone_or_pipelined() {
    let mut net = Net::new(&["p1", "p2"]);
    net.start("p2", &[]);
    // 250 whole chunks and a last one of 37 bytes.
    let data = random_bytes(25_037, 41);
    net.put("p2", "f.bin", &data);

    // A download's probe: the digest asked in the same write, answered on the same connection.
    let mut probe = connect(&net, "p2");
    probe.write_all(b"#EXTENSIONS\n#DIGEST f.bin\n").unwrap();
    let spoken = read_line(&mut probe);
    assert!(
        spoken.starts_with("200 Extensions: ") && spoken.split_whitespace().any(|w| w == "compact"),
        "{spoken:?}"
    );
    let described = read_line(&mut probe);
    assert!(
        described.starts_with("200 Digest f.bin bytes 25037 "),
        "{described:?}"
    );

    let mut conn = connect(&net, "p2");
    conn.write_all(b"#DOWNLOAD f.bin").unwrap();
    assert_eq!(
        read_exactly(&mut conn, 40),
        b"330 Ready to send file f.bin bytes 25037".to_vec()
    );
    // The first alone (the general decoder takes it), then a batch in one write.
    conn.write_all(b"+7\n").unwrap();
    let mut expected = vec![b'+'];
    expected.extend_from_slice(&data[700..800]);
    assert_eq!(read_exactly(&mut conn, 101), expected);
    let batch: Vec<u64> = (0..251).rev().collect();
    let requests: String = batch.iter().map(|i| format!("+{i}\n")).collect();
    conn.write_all(requests.as_bytes()).unwrap();
    for &index in &batch {
        let start = index as usize * 100;
        let chunk = &data[start..(start + 100).min(data.len())];
        let reply = read_exactly(&mut conn, 1 + chunk.len());
        assert_eq!((reply[0], &reply[1..]), (b'+', chunk), "chunk {index}");
    }
    // A chunk past the end: refused in words, and the connection still answers.
    conn.write_all(b"+251\n+250\n").unwrap();
    assert_eq!(
        read_line(&mut conn),
        "250 Invalid chunk 251 of file f.bin\n"
    );
    let mut last = vec![b'+'];
    last.extend_from_slice(&data[25_000..]);
    assert_eq!(read_exactly(&mut conn, 38), last);

    // A connection that opened no download has nothing a compact request could name. (Its
    // first bytes ask for something else: a connection opened by `+` is a synchronizer's
    // plain request for a file of that name, seed 002.)
    let mut stray = connect(&net, "p2");
    stray.write_all(b"#DOWNLOAD missing.bin").unwrap();
    let refused = b"250 Not serving file missing.bin";
    assert_eq!(read_exactly(&mut stray, refused.len()), refused.to_vec());
    stray.write_all(b"+0\n").unwrap();
    assert_eq!(
        read_line(&mut stray),
        "250 No download open on this connection\n"
    );
}

/// What the scripted peer saw, per connection that carried chunk requests: compact requests,
/// and requests in the seed's words.
#[derive(Default, Debug, Clone)]
struct Requests {
    compact: usize,
    worded: usize,
    /// A compact request on a connection that had not opened the download.
    stray: usize,
}

/// Replies to `CLOSE_AFTER` compact requests on the handshake's connection, then ends it (between
/// two replies), as a p2p-tui peer's connection may end: the rest must come in the seed's words
/// on a new connection, which opened nothing.
const CLOSE_AFTER: usize = 50;

fn scripted_compact_peer(listener: TcpListener, data: Vec<u8>) -> Arc<Mutex<Requests>> {
    let seen = Arc::new(Mutex::new(Requests::default()));
    let shared = Arc::clone(&seen);
    serve_each(listener, move |conn| serve(conn, &data, &shared));
    seen
}

/// One connection: a bare message per read until requests come line-framed.
fn serve(mut conn: TcpStream, data: &[u8], seen: &Mutex<Requests>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let (mut buf, mut opened, mut compact_here) = (Vec::new(), false, 0);
    // Once a request has come line-framed, only whole lines are messages.
    let mut lines_seen = false;
    let mut read = [0u8; 65536];
    loop {
        let Ok(n @ 1..) = conn.read(&mut read) else {
            return;
        };
        buf.extend_from_slice(&read[..n]);
        let mut out = Vec::new();
        lines_seen |= buf.contains(&b'\n');
        let messages: Vec<Vec<u8>> = if lines_seen {
            let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
            let lines: Vec<u8> = buf.drain(..end).collect();
            lines
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()
        } else {
            vec![std::mem::take(&mut buf)]
        };
        for message in messages {
            let text = String::from_utf8_lossy(&message).to_string();
            let words: Vec<&str> = text.split(' ').collect();
            let index = match words.as_slice() {
                ["#EXTENSIONS"] => {
                    out.extend_from_slice(b"200 Extensions: pipeline compact\n");
                    None
                }
                ["#DOWNLOAD", "c.bin"] => {
                    opened = true;
                    let ready = format!("330 Ready to send file c.bin bytes {}", data.len());
                    out.extend_from_slice(ready.as_bytes());
                    None
                }
                ["#DOWNLOAD", "c.bin", "chunk", i] => {
                    seen.lock().unwrap().worded += 1;
                    let i: usize = i.parse().unwrap_or(usize::MAX);
                    out.extend_from_slice(format!("200 File c.bin chunk {i} ").as_bytes());
                    Some((i, false))
                }
                [plus] if plus.starts_with('+') => {
                    let mut seen = seen.lock().unwrap();
                    if opened {
                        seen.compact += 1
                    } else {
                        seen.stray += 1
                    }
                    compact_here += 1;
                    out.push(b'+');
                    Some((plus[1..].parse().unwrap_or(usize::MAX), true))
                }
                _ => {
                    out.extend_from_slice(b"250 Unknown request\n");
                    None
                }
            };
            if let Some((i, compact)) = index {
                out.extend_from_slice(data.chunks(100).nth(i).unwrap_or_default());
                if !compact {
                    out.push(b'\n');
                }
            }
            if compact_here == CLOSE_AFTER {
                let _ = conn.write_all(&out);
                // Ends the connection after whole replies; what the client still sends is
                // read and dropped, so the close is a clean end, not a reset.
                let _ = conn.shutdown(std::net::Shutdown::Write);
                while matches!(conn.read(&mut read), Ok(1..)) {}
                return;
            }
        }
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

#[test]
fn a_download_speaks_compact_to_a_peer_that_offers_it_and_names_the_file_on_a_new_connection() {
    let net = Net::new(&["p1", "p2"]);
    let listener = TcpListener::bind(("127.0.0.1", net.port("p2"))).expect("p2's port");
    // 400 chunks: more than the first connection answers.
    let data = random_bytes(39_950, 77);
    let seen = scripted_compact_peer(listener, data.clone());
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD c.bin p2");
    p1.expect_line("File c.bin download success");
    assert_eq!(
        net.served("p1", "c.bin").map(|b| sha256(&b)),
        Some(sha256(&data))
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.compact, CLOSE_AFTER, "{seen:?}");
    assert_eq!(
        seen.stray, 0,
        "a compact request on a new connection: {seen:?}"
    );
    assert!(seen.worded >= 400 - CLOSE_AFTER, "{seen:?}");
    // The log prints the seed's words, compact or not.
    for index in [0, 1, 399] {
        assert_eq!(
            p1.count(&format!("Client (p2): #DOWNLOAD c.bin chunk {index}")),
            1
        );
        assert_eq!(
            p1.count(&format!("Server (p2): 200 File c.bin chunk {index}")),
            1
        );
    }
    let (status, _) = p1.finish();
    assert!(status.success());
}

#[test]
fn a_server_at_chunk_delay_does_not_announce_compact() {
    let mut net = Net::new(&["p1", "p2"]);
    net.start("p2", &["--chunk-delay", "1"]);
    let mut probe = connect(&net, "p2");
    probe.write_all(b"#EXTENSIONS\n").unwrap();
    assert_eq!(read_line(&mut probe), "200 Extensions: pipeline digest\n");
}
