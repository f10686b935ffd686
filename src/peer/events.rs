//! What peer tasks report to a front end: the seed's terminal lines, typed by kind.
//!
//! Lines go through a `LineSink` (a buffered writer for the console, a bounded ring for the TUI),
//! never one channel message per chunk.

use std::fmt::Display;
use std::sync::Arc;

use crate::core::protocol::lines::{self, LineKind};

/// Receives the lines a command prints. Implementations must be cheap: called per chunk.
pub trait LineSink: Send + Sync {
    fn emit(&self, kind: LineKind, text: String);

    /// Several lines at once, in order (a transfer's batch of chunk lines).
    fn emit_batch(&self, batch: &LineBatch) {
        for (kind, text) in batch.lines() {
            self.emit(kind, text.to_string());
        }
    }
}

/// Lines gathered by a transfer task and handed to the sink together, formatted straight
/// into one reused buffer: a chunk's line costs no allocation of its own.
#[derive(Default)]
pub struct LineBatch {
    /// Every line, each ended by `\n`.
    text: String,
    /// Each line's kind and where its `\n` ends in `text`.
    ends: Vec<(LineKind, usize)>,
}

impl LineBatch {
    /// `Client (pX): <request>`
    pub fn sent(&mut self, peer: &str, request: impl Display) {
        let _ = lines::write_client_sent(&mut self.text, peer, request);
        self.end(LineKind::Request);
    }

    /// `Server (pX): <reply>`
    pub fn replied(&mut self, peer: &str, reply: impl Display) {
        let _ = lines::write_server_replied(&mut self.text, peer, reply);
        self.end(LineKind::Reply);
    }

    /// `Client (pX): #DOWNLOAD f chunk i`, as `sent` writes it, without `fmt` (the most
    /// frequent line of all).
    pub fn sent_chunk_request(&mut self, peer: &str, file: &str, index: u64) {
        self.chunk_line("Client (", peer, "): #DOWNLOAD ", file);
        crate::core::protocol::fast::push_number(&mut self.text, index);
        self.end(LineKind::Request);
    }

    /// `Client (pX): #UPLOAD f chunk i`, as `sent` writes it (payload left out), without `fmt`.
    pub fn sent_upload_chunk(&mut self, peer: &str, file: &str, index: u64) {
        self.chunk_line("Client (", peer, "): #UPLOAD ", file);
        crate::core::protocol::fast::push_number(&mut self.text, index);
        self.end(LineKind::Request);
    }

    /// `Server (pX): 200 File f chunk i`, with the index's `digits` as received, as `replied`
    /// writes it from the general decoder's text, without `fmt` or a UTF-8 check.
    pub fn replied_chunk(&mut self, peer: &str, file: &str, digits: &[u8]) {
        self.replied_digits(peer, file, digits, "");
    }

    /// `Server (pX): 200 File f chunk i`, for a compact reply (which carries no words).
    pub fn replied_compact_chunk(&mut self, peer: &str, file: &str, index: u64) {
        self.chunk_line("Server (", peer, "): 200 File ", file);
        crate::core::protocol::fast::push_number(&mut self.text, index);
        self.end(LineKind::Reply);
    }

    /// `Server (pX): 200 File f chunk i received`, with the index's `digits` as received.
    pub fn replied_ack(&mut self, peer: &str, file: &str, digits: &[u8]) {
        self.replied_digits(peer, file, digits, " received");
    }

    fn replied_digits(&mut self, peer: &str, file: &str, digits: &[u8], last: &str) {
        self.chunk_line("Server (", peer, "): 200 File ", file);
        // Matched as ASCII digits: each byte is its char.
        self.text.extend(digits.iter().map(|&d| char::from(d)));
        self.text.push_str(last);
        self.end(LineKind::Reply);
    }

    /// `<side><peer><message><file> chunk `: what every chunk line starts with.
    fn chunk_line(&mut self, side: &str, peer: &str, message: &str, file: &str) {
        for part in [side, peer, message, file, " chunk "] {
            self.text.push_str(part);
        }
    }

    fn end(&mut self, kind: LineKind) {
        self.text.push('\n');
        self.ends.push((kind, self.text.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// All the lines, each ended by `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The lines one by one, without their `\n`.
    pub fn lines(&self) -> impl Iterator<Item = (LineKind, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(kind, end)| {
            let line = &self.text[start..end - 1];
            start = end;
            (kind, line)
        })
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// The handle peer tasks use to report; cloned into every task.
#[derive(Clone)]
pub struct Reporter {
    sink: Arc<dyn LineSink>,
}

impl Reporter {
    pub fn new(sink: Arc<dyn LineSink>) -> Self {
        Reporter { sink }
    }

    pub fn line(&self, kind: LineKind, text: String) {
        self.sink.emit(kind, text);
    }

    /// Emits and empties `batch`.
    pub fn emit(&self, batch: &mut LineBatch) {
        if !batch.is_empty() {
            self.sink.emit_batch(batch);
            batch.clear();
        }
    }

    /// `Client (pX): <request>`
    pub fn sent(&self, peer: &str, request: impl Display) {
        self.line(LineKind::Request, lines::client_sent(peer, request));
    }

    /// `Server (pX): <reply>`
    pub fn replied(&self, peer: &str, reply: impl Display) {
        self.line(LineKind::Reply, lines::server_replied(peer, reply));
    }

    pub fn outcome(&self, text: String) {
        self.line(LineKind::Outcome, text);
    }

    pub fn error(&self, text: String) {
        self.line(LineKind::Error, text);
    }

    /// A command's final line: an outcome if it succeeded, an error if not.
    pub fn result(&self, success: bool, text: String) {
        self.line(
            if success {
                LineKind::Outcome
            } else {
                LineKind::Error
            },
            text,
        );
    }

    pub fn note(&self, text: String) {
        self.line(LineKind::Note, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::Request;

    #[test]
    fn the_fast_chunk_lines_are_the_general_ones() {
        let mut fast = LineBatch::default();
        fast.sent_chunk_request("p2", "big.bin", 1_234_567);
        fast.replied_chunk("p3", "big.bin", b"0042");
        fast.sent_chunk_request("p4", "a", 0);
        fast.sent_upload_chunk("p2", "up.bin", 17);
        fast.replied_ack("p2", "up.bin", b"17");
        let mut general = LineBatch::default();
        let request = Request::DownloadChunk {
            file: "big.bin".into(),
            index: 1_234_567,
        };
        general.sent("p2", &request);
        general.replied("p3", "200 File big.bin chunk 0042");
        let request = Request::DownloadChunk {
            file: "a".into(),
            index: 0,
        };
        general.sent("p4", &request);
        let request = Request::UploadChunk {
            file: "up.bin".into(),
            index: 17,
            payload: bytes::Bytes::from_static(b"payload"),
        };
        general.sent("p2", &request);
        general.replied("p2", "200 File up.bin chunk 17 received");
        assert_eq!(fast.text(), general.text());
        assert_eq!(
            fast.text(),
            "Client (p2): #DOWNLOAD big.bin chunk 1234567\nServer (p3): 200 File big.bin chunk 0042\nClient (p4): #DOWNLOAD a chunk 0\nClient (p2): #UPLOAD up.bin chunk 17\nServer (p2): 200 File up.bin chunk 17 received\n"
        );
        let kinds: Vec<LineKind> = fast.lines().map(|(k, _)| k).collect();
        let general_kinds: Vec<LineKind> = general.lines().map(|(k, _)| k).collect();
        assert_eq!(kinds, general_kinds);
    }
}
