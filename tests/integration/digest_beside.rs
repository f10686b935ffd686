//! A download asks `#DIGEST` beside the seed's `#DOWNLOAD` handshake, not after its reply, so
//! its first chunk request leaves a round trip sooner on a distant path (issue 29). Shown
//! without timing: a scripted peer that answers the handshake only once the `#DIGEST` has
//! arrived (or after `HELD`, noting that it had not).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::util::{Net, random_bytes, serve_each, sha256};

/// How long the scripted peer holds a handshake waiting for the `#DIGEST`.
const HELD: Duration = Duration::from_secs(10);

/// What the scripted peer saw: a `#DIGEST` arrived, and for each handshake whether one had
/// arrived before it was answered.
#[derive(Default)]
struct Seen {
    digest_asked: bool,
    /// A `#DIGEST` came in the probe's write, after `#EXTENSIONS` on its connection.
    digest_on_probe: bool,
    answered_after_digest: Vec<bool>,
}

/// A p2p-tui-like peer serving `data` as `name`: it describes content (but answers `#DIGEST`
/// with "not serving", so the download goes on unverified), in lockstep, one message per read.
fn scripted_peer(
    listener: TcpListener,
    name: &'static str,
    data: Vec<u8>,
) -> Arc<(Mutex<Seen>, Condvar)> {
    let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
    let shared = Arc::clone(&seen);
    serve_each(listener, move |conn| answer(conn, name, &data, &shared));
    seen
}

fn answer(mut conn: TcpStream, name: &str, data: &[u8], seen: &(Mutex<Seen>, Condvar)) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 1024];
    loop {
        let Ok(n @ 1..) = conn.read(&mut buf) else {
            return;
        };
        // A download's probe sends `#EXTENSIONS\n#DIGEST f\n` in one write: each line a message.
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("#EXTENSIONS\n#DIGEST ") {
            seen.0.lock().unwrap().digest_on_probe = true;
        }
        for message in text.split_inclusive('\n') {
            if !reply_to(&mut conn, message.trim_end(), name, data, seen) {
                return;
            }
        }
    }
}

/// Answers one message; false once the connection is gone.
fn reply_to(
    conn: &mut TcpStream,
    message: &str,
    name: &str,
    data: &[u8],
    seen: &(Mutex<Seen>, Condvar),
) -> bool {
    let words: Vec<&str> = message.split(' ').collect();
    let reply: Vec<u8> = match words.as_slice() {
        ["#EXTENSIONS"] => b"200 Extensions: digest\n".to_vec(),
        ["#DIGEST", _] => {
            let (lock, arrived) = seen;
            lock.lock().unwrap().digest_asked = true;
            arrived.notify_all();
            format!("250 Not serving file {name}\n").into_bytes()
        }
        ["#DOWNLOAD", file] if *file == name => {
            let (lock, arrived) = seen;
            let guard = lock.lock().unwrap();
            let (mut guard, _) = arrived
                .wait_timeout_while(guard, HELD, |s| !s.digest_asked)
                .unwrap();
            let before = guard.digest_asked;
            guard.answered_after_digest.push(before);
            format!("330 Ready to send file {name} bytes {}", data.len()).into_bytes()
        }
        ["#DOWNLOAD", file, "chunk", index] if *file == name => {
            let i: usize = index.parse().unwrap_or(usize::MAX);
            let chunk = data.chunks(100).nth(i).unwrap_or_default();
            let mut reply = format!("200 File {name} chunk {i} ").into_bytes();
            reply.extend_from_slice(chunk);
            reply
        }
        _ => b"250 Unknown request".to_vec(),
    };
    conn.write_all(&reply).is_ok()
}

#[test]
fn a_download_asks_its_digest_beside_the_handshake() {
    let net = Net::new(&["p1", "p2"]);
    let listener = TcpListener::bind(("127.0.0.1", net.port("p2"))).expect("p2's port");
    let data = random_bytes(950, 293);
    let seen = scripted_peer(listener, "d.bin", data.clone());
    let mut p1 = net.console("p1", &[]);
    p1.send("#DOWNLOAD d.bin p2");
    p1.expect_line("File d.bin download success");
    assert_eq!(
        net.served("p1", "d.bin").map(|b| sha256(&b)),
        Some(sha256(&data))
    );
    assert!(
        seen.0.lock().unwrap().digest_on_probe,
        "at first contact the probe asks the digest in its own write"
    );
    let answered = seen.0.lock().unwrap().answered_after_digest.clone();
    assert_eq!(
        answered,
        vec![true],
        "the handshake was answered before any #DIGEST came"
    );
    let (status, _) = p1.finish();
    assert!(status.success());
}
