//! The checker's side of a connection: requests written byte-exact, one per write, and each reply
//! awaited before the next request, as the classroom clients do. Every message in both directions
//! goes into the case's journal, the evidence shown when a case does not pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::{Expect, Framing, Reply, Request, decode_reply};

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
}

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

/// One connection to the server under test.
pub struct Session {
    stream: TcpStream,
    buf: BytesMut,
    label: String,
    ctx: Ctx,
}

impl Session {
    pub async fn open(ctx: &Ctx) -> Checked<Session> {
        let n = ctx.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let label = format!("c{n}");
        let stream = match TcpStream::connect(&ctx.addr).await {
            Ok(stream) => stream,
            Err(e) => return fail(format!("{label}: cannot connect to {}: {e}", ctx.addr)),
        };
        let _ = stream.set_nodelay(true);
        ctx.note(format!("{label} connected"));
        Ok(Session {
            stream,
            buf: BytesMut::with_capacity(4096),
            label,
            ctx: ctx.clone(),
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
                    return fail(format!(
                        "{}: the server closed the connection instead of replying{left}",
                        self.label
                    ));
                }
                Ok(_) => {}
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

    /// Closes the writing side, as a client does that has nothing more to send.
    pub async fn half_close(&mut self) {
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
                return fail(format!(
                    "{}: reply not understood ({e}): {bytes}",
                    self.label
                ));
            }
        };
        let text = decoded.text().into_owned();
        let payload = match &decoded.message {
            Reply::Chunk { payload, .. } => format!(" <{} payload bytes>", payload.len()),
            _ => String::new(),
        };
        self.ctx
            .note(format!("{} < \"{text}\"{payload}", self.label));
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
