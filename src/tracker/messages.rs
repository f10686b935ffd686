//! Tracker messages as pure functions: a stream of JSON values cut out of a byte buffer (several
//! in one read, one over several reads), and their meaning.

use bytes::{Buf, BytesMut};
use serde_json::Value;
use thiserror::Error;

use super::directory::{FileEntry, Holder};

/// Why bytes from the other side are not a tracker message (the connection then ends).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrackerError {
    #[error("bad JSON: a tracker message is a JSON object")]
    NotAnObject,
    #[error("bad JSON: {0}")]
    BadJson(String),
    #[error("message longer than {0} bytes")]
    TooLong(usize),
    /// Valid JSON that is not a message of the protocol, and why.
    #[error("{0}")]
    Invalid(String),
}

impl From<&str> for TrackerError {
    fn from(why: &str) -> TrackerError {
        TrackerError::Invalid(why.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerRequest {
    /// `{"port": 8001, "files": [{"name": "a", "mtime": 1548878750}]}`; `since`: a p2p-tui
    /// member's directory version (see `delta`), `None` from a classroom peer.
    Initial {
        port: u16,
        files: Vec<FileEntry>,
        since: Option<u64>,
    },
    /// `{"port": 8001}` (a p2p-tui member's with `"since": N`)
    KeepAlive { port: u16, since: Option<u64> },
    /// p2p-tui's extension: `{"holders": "a"}`, answered with every live copy of a name.
    Holders { name: String },
}

/// A p2p-tui member's initial message: the seed's, with the directory version it holds.
pub fn initial_since(port: u16, files: &[FileEntry], since: u64) -> Vec<u8> {
    let files: Vec<Value> = files
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "mtime": f.mtime}))
        .collect();
    let mut bytes = serde_json::json!({"port": port, "files": files, "since": since})
        .to_string()
        .into_bytes();
    bytes.push(b'\n');
    bytes
}

/// A p2p-tui member's keep-alive, with the directory version it holds.
pub fn keep_alive_since(port: u16, since: u64) -> Vec<u8> {
    format!("{{\"port\": {port}, \"since\": {since}}}\n").into_bytes()
}

/// p2p-tui's holders query for `name`, ready to send.
pub fn holders_request(name: &str) -> Vec<u8> {
    format!("{}\n", serde_json::json!({ "holders": name })).into_bytes()
}

/// The tracker's answer to a holders query: every live copy of `name`, ready to send.
pub fn holders_answer(name: &str, holders: &[Holder]) -> Vec<u8> {
    let reply = serde_json::json!({ "holders": { "name": name, "peers": holders } });
    let mut json = serde_json::to_vec(&reply).unwrap_or_default();
    json.push(b'\n');
    json
}

/// Reads a holders answer: the name and its holders; `None` if `value` is not one (a
/// directory, even one that lists a file named "holders": that has no "peers" key).
pub fn holders_reply(value: &Value) -> Option<(String, Vec<Holder>)> {
    let answer = value.get("holders").filter(|a| a.get("peers").is_some())?;
    let name = answer.get("name").and_then(Value::as_str).unwrap_or("");
    let holders = answer
        .get("peers")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    Some((name.to_string(), holders))
}

/// Cuts complete JSON values off the front of a buffer, with a cap on a value's size.
///
/// Each byte is scanned once, whatever the reads it arrives in (nesting depth and string state
/// are kept between calls), and a value is parsed once, when its last byte has arrived: the
/// work is linear in the input even when a large value trickles in.
pub struct JsonStream {
    buf: BytesMut,
    max_message: usize,
    scan: Scan,
    scanned: u64,
}

/// How far the value at the front of the buffer has been scanned.
#[derive(Debug, Default)]
struct Scan {
    /// Bytes of the value scanned so far (0: its first byte has not been seen).
    len: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Takes one byte of the value; true when it ends the value.
    fn step(&mut self, byte: u8) -> bool {
        self.len += 1;
        if self.in_string {
            match (self.escaped, byte) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return false;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                return self.depth == 0;
            }
            _ => {}
        }
        false
    }
}

impl JsonStream {
    pub fn new(max_message: usize) -> JsonStream {
        JsonStream {
            buf: BytesMut::new(),
            max_message,
            scan: Scan::default(),
            scanned: 0,
        }
    }

    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    #[cfg(test)]
    /// Bytes scanned since the start: never more than the bytes received.
    pub fn bytes_scanned(&self) -> u64 {
        self.scanned
    }

    #[cfg(test)]
    /// Bytes held, waiting for the end of a value.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete value; `Ok(None)` when more bytes are needed.
    pub fn next_value(&mut self) -> Result<Option<Value>, TrackerError> {
        if self.scan.len == 0 {
            let start = self
                .buf
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(self.buf.len());
            self.scanned += start as u64;
            self.buf.advance(start);
            match self.buf.first() {
                None => return Ok(None),
                Some(b'{' | b'[') => {}
                Some(_) => return Err(TrackerError::NotAnObject),
            }
        }
        while self.scan.len < self.buf.len() {
            let byte = self.buf[self.scan.len];
            self.scanned += 1;
            let done = self.scan.step(byte);
            if self.scan.len > self.max_message {
                return Err(TrackerError::TooLong(self.max_message));
            }
            if done {
                let value = serde_json::from_slice(&self.buf[..self.scan.len])
                    .map_err(|e| TrackerError::BadJson(e.to_string()))?;
                self.buf.advance(self.scan.len);
                self.scan = Scan::default();
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

/// What a value asks for, or why it is not a tracker message.
pub fn classify(value: &Value) -> Result<TrackerRequest, TrackerError> {
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    if let Some(name) = map.get("holders") {
        let name = name.as_str().ok_or("\"holders\" must be a file name")?;
        return Ok(TrackerRequest::Holders {
            name: name.to_string(),
        });
    }
    let port = map
        .get("port")
        .and_then(Value::as_u64)
        .filter(|p| (1..=65535).contains(p))
        .ok_or("\"port\" must be an integer from 1 to 65535")? as u16;
    let since = match map.get("since") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or("\"since\" must be a directory version")?),
    };
    let Some(files) = map.get("files") else {
        return Ok(TrackerRequest::KeepAlive { port, since });
    };
    let files = files.as_array().ok_or("\"files\" must be a list")?;
    let files = files
        .iter()
        .map(file_entry)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TrackerRequest::Initial { port, files, since })
}

fn file_entry(value: &Value) -> Result<FileEntry, TrackerError> {
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a file needs a \"name\" string")?;
    crate::core::protocol::validate_file_name(name)
        .map_err(|e| TrackerError::Invalid(format!("file {name:?}: {e}")))?;
    let mtime = value.get("mtime").ok_or("a file needs an \"mtime\"")?;
    // Seconds, rounded down when a float is sent.
    let mtime = match (mtime.as_i64(), mtime.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.is_finite() => f.floor() as i64,
        _ => {
            return Err(TrackerError::Invalid(format!(
                "file {name:?}: \"mtime\" must be a number"
            )));
        }
    };
    Ok(FileEntry {
        name: name.to_string(),
        mtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stream_of(bytes: &[u8]) -> (Vec<Value>, Result<(), String>) {
        let mut s = JsonStream::new(1 << 20);
        s.buffer().extend_from_slice(bytes);
        let mut out = vec![];
        loop {
            match s.next_value() {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return (out, Ok(())),
                Err(e) => return (out, Err(e.to_string())),
            }
        }
    }

    #[test]
    fn seed_messages_classify() {
        let initial: Value = serde_json::from_str(
            r#"{"port": 8001, "files": [{"mtime": 1548878750.9, "name": "fileA.txt"}]}"#,
        )
        .unwrap();
        assert_eq!(
            classify(&initial),
            Ok(TrackerRequest::Initial {
                port: 8001,
                files: vec![FileEntry {
                    name: "fileA.txt".into(),
                    mtime: 1548878750
                }],
                since: None
            })
        );
        let keep: Value = serde_json::from_str(r#"{"port": 8001}"#).unwrap();
        assert_eq!(
            classify(&keep),
            Ok(TrackerRequest::KeepAlive {
                port: 8001,
                since: None
            })
        );
        let holders: Value = serde_json::from_str(r#"{"holders": "fileA.txt"}"#).unwrap();
        assert_eq!(
            classify(&holders),
            Ok(TrackerRequest::Holders {
                name: "fileA.txt".into()
            })
        );
    }

    #[test]
    fn wrong_types_are_refused_with_a_reason() {
        for bad in [
            r#"[1]"#,
            r#"{"port": "8001"}"#,
            r#"{"port": 70000}"#,
            r#"{"port": 1, "files": {}}"#,
            r#"{"port": 1, "files": [{"name": "../x", "mtime": 1}]}"#,
            r#"{"port": 1, "files": [{"name": "a"}]}"#,
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(classify(&v).is_err(), "{bad}");
        }
    }

    #[test]
    fn coalesced_and_split_values() {
        let (values, end) = stream_of(
            br#"{"port": 1}{"port": 2}
 {"port": 3}"#,
        );
        assert_eq!(values.len(), 3);
        assert!(end.is_ok());
        let mut s = JsonStream::new(1 << 20);
        s.buffer().extend_from_slice(br#"{"port": 80"#);
        assert_eq!(s.next_value(), Ok(None));
        s.buffer().extend_from_slice(br#"01}"#);
        assert_eq!(s.next_value().unwrap().unwrap()["port"], 8001);
        let (_, end) = stream_of(b"{oops}");
        assert!(end.unwrap_err().starts_with("bad JSON"));
        let mut s = JsonStream::new(16);
        s.buffer().extend_from_slice(br#"{"port": 1, "files": ["#);
        assert_eq!(s.next_value(), Err(TrackerError::TooLong(16)));
    }

    proptest! {
        #[test]
        fn any_split_of_a_value_stream_yields_the_same_values(ports in proptest::collection::vec(1u16..65535, 1..10), cut in any::<usize>()) {
            let wire: String = ports.iter().map(|p| format!("{{\"port\": {p}}}\n")).collect();
            let cut = cut % (wire.len() + 1);
            let mut s = JsonStream::new(1 << 20);
            let mut got = vec![];
            for piece in [&wire.as_bytes()[..cut], &wire.as_bytes()[cut..]] {
                s.buffer().extend_from_slice(piece);
                while let Some(v) = s.next_value().unwrap() { got.push(v["port"].as_u64().unwrap() as u16); }
            }
            prop_assert_eq!(got, ports);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (values, _) = stream_of(&bytes);
            for v in values { let _ = classify(&v); }
        }

        #[test]
        fn any_byte_stream_cut_anywhere_is_held_within_the_bound_and_scanned_once(bytes in json_like_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
            const MAX: usize = 2_000;
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.push(bytes.len());
            points.sort_unstable();
            let mut s = JsonStream::new(MAX);
            let mut fed = 0;
            'feed: for point in points {
                s.buffer().extend_from_slice(&bytes[fed..point]);
                fed = point;
                loop {
                    match s.next_value() {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            prop_assert!(s.buffered() <= MAX, "{} bytes held", s.buffered());
                            break;
                        }
                        Err(_) => break 'feed,
                    }
                }
            }
            prop_assert!(s.bytes_scanned() <= fed as u64, "{} scanned of {fed}", s.bytes_scanned());
        }
    }

    /// JSON-ish bytes: brackets, strings with escapes, whitespace, long runs and noise.
    fn json_like_stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\\"".to_vec()),
            Just(br#"{"port": 8001}"#.to_vec()),
            Just(b" \n".to_vec()),
            (any::<u8>(), 1usize..3000).prop_map(|(b, n)| vec![b; n]),
            proptest::collection::vec(any::<u8>(), 0..40),
        ];
        proptest::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
    }
}
