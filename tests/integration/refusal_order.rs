//! A reply is written only after the state it announces: a refused chunk ends the upload, so a
//! client that reads the refusal and retries at once must find the name free (`330`), never
//! `250 Currently receiving file` (issue 27, point 1).

use std::io::Read;

use crate::util::{Net, Raw};

const RETRIES: usize = 30;

/// One way to have a chunk refused, on a file of its own (so that one kind's failures cannot
/// spill into the next).
struct Refused {
    what: &'static str,
    file: String,
    chunk: Vec<u8>,
}

impl Refused {
    /// Chunks the server refuses for a 250-byte upload that expects chunk 0, with a payload.
    fn all() -> Vec<Refused> {
        let kinds = [
            ("an index past u64", "99999999999999999999"),
            ("an index past the file's end", "3"),
            ("a negative index", "-1"),
            ("an index out of order", "1"),
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(n, (what, index))| {
                let file = format!("ix{n}.bin");
                let mut chunk = format!("#UPLOAD {file} chunk {index} ").into_bytes();
                chunk.extend([b'x'; 100]);
                Refused { what, file, chunk }
            })
            .collect()
    }

    fn ready(&self) -> String {
        format!("330 Ready to receive file {}", self.file)
    }

    /// Starts the 250-byte upload on `conn`; the reply.
    fn start(&self, conn: &mut Raw) -> String {
        let request = format!("#UPLOAD {} bytes 250", self.file);
        conn.ask(request.as_bytes(), &self.file)
    }

    /// Sends the refused chunk and reads until the server closes: the refusal, a 250.
    fn refuse(&self, conn: &mut Raw) {
        conn.send(&self.chunk);
        let mut reply = Vec::new();
        let _ = conn.stream.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("250 "), "{}: {reply:?}", self.what);
    }

    /// What went wrong with the retries, if anything: how many were not answered `330`, and
    /// the first such reply.
    fn not_ready(&self, replies: &[String]) -> Option<String> {
        let ready = self.ready();
        let wrong: Vec<&String> = replies.iter().filter(|r| **r != ready).collect();
        let first = wrong.first()?;
        Some(format!(
            "after {}, {} of {} retries got {first:?}",
            self.what,
            wrong.len(),
            replies.len()
        ))
    }
}

/// Deterministic: the retry's connection is open before the refusal, and the refused
/// connection stays open until the retry is answered, so the refusal alone must mean the name
/// is free.
#[test]
fn a_retry_opened_before_the_refusal_finds_the_name_free() {
    let mut net = Net::new(&["p2"]);
    net.start("p2", &[]);
    let port = net.port("p2");
    let mut failures = Vec::new();
    for kind in Refused::all() {
        let mut current = Raw::connect(port);
        assert_eq!(kind.start(&mut current), kind.ready(), "{}", kind.what);
        let mut replies = Vec::new();
        for _ in 0..RETRIES {
            let mut retry = Raw::connect(port);
            kind.refuse(&mut current);
            replies.push(kind.start(&mut retry));
            current = retry;
        }
        failures.extend(kind.not_ready(&replies));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The soak's way: refuse, close, reconnect at once.
#[test]
fn a_retry_after_a_refusal_and_a_close_finds_the_name_free() {
    let mut net = Net::new(&["p2"]);
    net.start("p2", &[]);
    let port = net.port("p2");
    let mut failures = Vec::new();
    for kind in Refused::all() {
        let mut conn = Raw::connect(port);
        assert_eq!(kind.start(&mut conn), kind.ready(), "{}", kind.what);
        let mut replies = Vec::new();
        for _ in 0..RETRIES {
            kind.refuse(&mut conn);
            drop(conn);
            conn = Raw::connect(port);
            replies.push(kind.start(&mut conn));
        }
        failures.extend(kind.not_ready(&replies));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
