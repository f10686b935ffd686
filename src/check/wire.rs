//! The checker's side of a connection: requests written byte-exact, one per write, and each reply
//! awaited before the next request, as the classroom clients do. Every message in both directions
//! goes into the case's journal, the evidence shown when a case does not pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::causes;
use crate::core::protocol::{Expect, Framing, Reply, Request, decode_reply};

/// Why a case failed, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

pub fn fail<T>(why: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(why.into()))
}

pub type Checked<T = ()> = Result<T, Failure>;

/// What one case saw: the messages, and the deviations it noticed on the way.
#[derive(Debug, Default)]
pub struct Journal {
    pub lines: Vec<String>,
    pub deviations: Vec<String>,
    /// The kind of each deviation in `deviations`.
    pub kinds: Vec<String>,
    /// Where in `lines` the first deviation was noticed.
    pub deviation_at: Option<usize>,
    /// What the implementation did that explains a failure, in the order seen: a case's
    /// reasons start with these (the cause), then its failure (the consequence).
    pub causes: Vec<Cause>,
    /// The last lines the client under test wrote on its stderr, escaped.
    pub stderr: std::collections::VecDeque<String>,
    /// The last message a played server sent the client under test: `p2 > "..."`.
    pub last_to_client: Option<String>,
    /// What kind of failure the case's failure is, when it has no cause: what the summary
    /// groups it by (else its own sentence).
    pub failure_kind: Option<&'static str>,
}

/// A cause: `kind` is the sentence failures are grouped by (what the implementation does,
/// with the seed's words it breaks), `what` this occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub kind: &'static str,
    pub what: String,
}

/// At most this many of the client's last stderr lines are kept, each cut to `STDERR_LINE`
/// bytes.
pub const STDERR_LINES: usize = 20;
pub const STDERR_LINE: usize = 240;

/// Everything a case needs: where the server is, how long to wait for a reply that may never
/// come, and its journal.
#[derive(Clone)]
pub struct Ctx {
    pub addr: String,
    /// How long to wait for a message the seed requires but a faulty server may never send.
    pub grace: Duration,
    /// Prefix of the names of the files this run uploads (unique per run).
    pub prefix: String,
    journal: Arc<Mutex<Journal>>,
    connections: Arc<AtomicUsize>,
}

impl Ctx {
    pub fn new(addr: &str, grace: Duration, prefix: &str) -> Ctx {
        Ctx {
            addr: addr.to_string(),
            grace,
            prefix: prefix.to_string(),
            journal: Arc::default(),
            connections: Arc::default(),
        }
    }

    /// A file name for this run: `<prefix>-<what>.txt`.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}.txt", self.prefix)
    }

    pub fn note(&self, line: String) {
        if let Ok(mut j) = self.journal.lock() {
            j.lines.push(line);
        }
    }

    /// Records something the seed does not allow but a classroom peer could live with: the
    /// first `what` of each `kind`.
    pub fn deviation(&self, kind: &str, what: String) {
        if let Ok(mut j) = self.journal.lock() {
            if j.kinds.iter().any(|k| k == kind) {
                return;
            }
            j.kinds.push(kind.to_string());
            j.deviations.push(what);
            if j.deviation_at.is_none() {
                j.deviation_at = Some(j.lines.len());
            }
        }
    }

    /// Records a cause (the first of each kind); see `Journal::causes`.
    pub fn cause(&self, kind: &'static str, what: String) {
        if let Ok(mut j) = self.journal.lock() {
            if !j.causes.iter().any(|c| c.kind == kind) {
                j.causes.push(Cause { kind, what });
            }
        }
    }

    /// Names the kind of the failure the case is about to return (see `Journal::failure_kind`).
    pub fn failure_kind(&self, kind: &'static str) {
        if let Ok(mut j) = self.journal.lock() {
            j.failure_kind = Some(kind);
        }
    }

    /// Forgets the causes seen so far: what they explained was tolerated.
    pub fn forget_causes(&self) {
        if let Ok(mut j) = self.journal.lock() {
            j.causes.clear();
        }
    }

    /// Keeps a line the client wrote on its stderr (the last `STDERR_LINES` of them).
    pub fn stderr_line(&self, bytes: &[u8]) {
        if let Ok(mut j) = self.journal.lock() {
            if j.stderr.len() == STDERR_LINES {
                j.stderr.pop_front();
            }
            j.stderr.push_back(escape_line(bytes));
        }
    }

    /// Notes a message a played server sent the client under test.
    pub fn to_client(&self, line: String) {
        if let Ok(mut j) = self.journal.lock() {
            j.last_to_client = Some(line.clone());
            j.lines.push(line);
        }
    }

    pub fn last_to_client(&self) -> Option<String> {
        self.journal
            .lock()
            .ok()
            .and_then(|j| j.last_to_client.clone())
    }

    pub fn take_journal(&self) -> Journal {
        self.journal
            .lock()
            .map(|mut j| std::mem::take(&mut *j))
            .unwrap_or_default()
    }
}

/// Bytes as they would appear in a Rust string literal, cut after `max` bytes.
pub fn show(bytes: &[u8], max: usize) -> String {
    let shown = bytes[..bytes.len().min(max)].escape_ascii().to_string();
    if bytes.len() > max {
        format!("\"{shown}\"… ({} bytes)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}

/// A line an implementation printed, for a report: printable text as it is, control bytes
/// (ESC, BEL, CR, ...), backslashes and bytes that are not UTF-8 escaped as `show` escapes
/// them (`\x1b`, `\r`, `\\`), so a report shows them and a terminal does not obey them.
pub fn escape_line(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_control() || ch == '\\' {
                let mut buf = [0u8; 4];
                for b in ch.encode_utf8(&mut buf).bytes() {
                    out.extend(std::ascii::escape_default(b).map(char::from));
                }
            } else {
                out.push(ch);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// One connection to the server under test.
pub struct Session {
    stream: TcpStream,
    buf: BytesMut,
    label: String,
    ctx: Ctx,
    /// Replies decoded on this connection so far.
    replies: usize,
    /// The checker closed its sending side: the server may close now.
    closing: bool,
}

impl Session {
    pub async fn open(ctx: &Ctx) -> Checked<Session> {
        let n = ctx.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let label = format!("c{n}");
        let stream = match TcpStream::connect(&ctx.addr).await {
            Ok(stream) => stream,
            Err(e) => {
                let why = format!("{label}: cannot connect to {}: {e}", ctx.addr);
                ctx.cause(causes::CANNOT_CONNECT, why.clone());
                return fail(why);
            }
        };
        let _ = stream.set_nodelay(true);
        ctx.note(format!("{label} connected"));
        Ok(Session {
            stream,
            buf: BytesMut::with_capacity(4096),
            label,
            ctx: ctx.clone(),
            replies: 0,
            closing: false,
        })
    }

    /// Writes one request, byte-exact, in one write.
    pub async fn send(&mut self, request: &Request) -> Checked {
        let mut out = BytesMut::new();
        request.encode(&mut out, Framing::Bare);
        self.send_raw(&out).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Checked {
        self.ctx
            .note(format!("{} > {}", self.label, show(bytes, 60)));
        if let Err(e) = self.stream.write_all(bytes).await {
            use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
            if matches!(e.kind(), BrokenPipe | ConnectionReset) {
                return fail(self.closed_cause(&format!(" (the request could not be sent: {e})")));
            }
            return fail(format!("{}: send failed: {e}", self.label));
        }
        Ok(())
    }

    /// Sends `request` and waits for its reply.
    pub async fn ask(&mut self, request: &Request, expect: Expect) -> Checked<Reply> {
        self.send(request).await?;
        self.recv(expect).await
    }

    /// The next reply; a closed connection or bytes that are no reply fail the case.
    pub async fn recv(&mut self, expect: Expect) -> Checked<Reply> {
        self.recv_known(expect, None).await
    }

    /// Like `recv`, where the reply may be exactly `known` followed at once by the next
    /// message: `330 Ready to receive file f` and `200 File f received` for a 0-byte upload
    /// run together when both are sent before the client reads (the seed has no delimiter, so
    /// the name alone cannot tell where the first message ends).
    pub async fn recv_known(&mut self, expect: Expect, known: Option<&str>) -> Checked<Reply> {
        loop {
            if let Some(known) = known.map(str::as_bytes) {
                if self.buf.len() > known.len() && self.buf.starts_with(known) {
                    let rest = self.buf.split_off(known.len());
                    let reply = self.decode(expect);
                    self.buf.unsplit(rest);
                    if let Some(reply) = reply? {
                        return Ok(reply);
                    }
                }
            }
            if let Some(reply) = self.decode(expect)? {
                return Ok(reply);
            }
            // Room for a whole reply in one read, so a reply is never cut by the buffer.
            self.buf.reserve(64 * 1024);
            let read = self.stream.read_buf(&mut self.buf).await;
            match read {
                Ok(0) => {
                    let left = if self.buf.is_empty() {
                        String::new()
                    } else {
                        format!(" (after {})", show(&self.buf, 80))
                    };
                    self.ctx
                        .note(format!("{} < connection closed{left}", self.label));
                    return fail(self.closed_cause(&left));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    self.ctx.note(format!("{} < connection reset", self.label));
                    return fail(self.closed_cause(" (it reset the connection)"));
                }
                Err(e) => return fail(format!("{}: read failed: {e}", self.label)),
            }
        }
    }

    /// Like `recv`, but `None` when nothing complete arrives within `wait`.
    pub async fn recv_within(&mut self, expect: Expect, wait: Duration) -> Checked<Option<Reply>> {
        match tokio::time::timeout(wait, self.recv(expect)).await {
            Ok(reply) => reply.map(Some),
            Err(_) => {
                self.ctx.note(format!(
                    "{} < nothing within {} ms",
                    self.label,
                    wait.as_millis()
                ));
                Ok(None)
            }
        }
    }

    /// Why the server closed, in one sentence (the case's failure), recorded as the cause
    /// unless the checker closed first: after replies on this connection, or before any.
    fn closed_cause(&self, left: &str) -> String {
        let label = &self.label;
        let (kind, why) = if self.replies > 0 {
            (
                causes::CLOSES_AFTER_REPLY,
                format!(
                    "{label}: the server closed the connection instead of replying, after {} earlier reply(ies) on it{left}",
                    self.replies
                ),
            )
        } else {
            (
                causes::CLOSES_INSTEAD_OF_REPLYING,
                format!("{label}: the server closed the connection instead of replying{left}"),
            )
        };
        if !self.closing {
            self.ctx.cause(kind, why.clone());
        }
        why
    }

    /// Closes the writing side, as a client does that has nothing more to send.
    pub async fn half_close(&mut self) {
        self.closing = true;
        self.ctx
            .note(format!("{} > (closes its sending side)", self.label));
        let _ = self.stream.shutdown().await;
    }

    fn decode(&mut self, expect: Expect) -> Checked<Option<Reply>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        // Lockstep: the server has sent its whole reply and waits, so the buffer is at rest.
        let decoded = match decode_reply(&mut self.buf, expect, true) {
            Ok(Some(decoded)) => decoded,
            Ok(None) => return Ok(None),
            Err(e) => {
                let bytes = show(&self.buf, 120);
                self.ctx.note(format!("{} < {bytes}", self.label));
                let why = format!("{}: reply not understood ({e}): {bytes}", self.label);
                self.ctx.cause(causes::NOT_A_REPLY, why.clone());
                return fail(why);
            }
        };
        self.replies += 1;
        let text = decoded.text().into_owned();
        let payload = match &decoded.message {
            Reply::Chunk { payload, .. } => format!(" <{} payload bytes>", payload.len()),
            _ => String::new(),
        };
        self.ctx.note(format!(
            "{} < \"{}\"{payload}",
            self.label,
            escape_line(text.as_bytes())
        ));
        if decoded.framing == Framing::Line {
            self.ctx.deviation(
                "line end",
                format!("reply \"{text}\" ends with a line end; the seed's messages have none"),
            );
        }
        if let Reply::ReadyToSend { file, size } = &decoded.message {
            if !text.starts_with("330 Ready to send file ") {
                self.ctx.deviation(
                    "330 without file",
                    format!(
                    "\"{text}\": the seed's reply is \"330 Ready to send file {file} bytes {size}\" (the word \"file\" is missing)"
                ),
);
            }
        }
        Ok(Some(decoded.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_line_keeps_text_and_escapes_control_bytes_backslashes_and_bad_utf8() {
        assert_eq!(
            escape_line("Server (p2): é ok".as_bytes()),
            "Server (p2): é ok"
        );
        assert_eq!(
            escape_line(b"\x1b[31mred\x1b[0m\x07\r\t\\ \xff end"),
            "\\x1b[31mred\\x1b[0m\\x07\\r\\t\\\\ \\xff end"
        );
    }

    #[test]
    fn a_cause_is_kept_once_per_kind_and_the_stderr_tail_is_bounded() {
        let ctx = Ctx::new("", Duration::from_millis(1), "");
        ctx.cause("k", "first".into());
        ctx.cause("k", "second".into());
        for i in 0..(STDERR_LINES + 5) {
            ctx.stderr_line(format!("line {i}").as_bytes());
        }
        let journal = ctx.take_journal();
        assert_eq!(journal.causes.len(), 1);
        assert_eq!(journal.causes[0].what, "first");
        assert_eq!(journal.stderr.len(), STDERR_LINES);
        assert_eq!(
            journal.stderr.back().unwrap(),
            &format!("line {}", STDERR_LINES + 4)
        );
    }
}
