//! A TCP connection carrying seed-001 messages: a read buffer, the incremental decoders, timeouts.
//!
//! Framing follows the other side: until it sends a message ended by `\n` it is taken to be a
//! seed-style peer that sends one message per write and waits ("at rest"), so a trailing number
//! is complete. Once it uses line ends, only line ends and known lengths delimit.
//!
//! Every wait has a deadline (`timeout`): a request must be complete within it from the moment
//! the server starts waiting for it (a byte is not progress: a dripping client is closed), and
//! every write must be taken by the other side within it (a client that stops reading is closed).

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use crate::core::net::IdleSlot;
use crate::core::protocol::{
    Decoded, Expect, Framing, ProtocolError, Reply, Request, decode_reply, decode_request,
};

#[derive(Debug, Error)]
pub enum ConnError {
    #[error("connection closed")]
    Closed,
    #[error("no data for {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
}

pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    out: BytesMut,
    /// Whether the other side delimits its messages with `\n`.
    line_peer: bool,
    read_timeout: Duration,
    /// When the request being waited for must be complete (server side).
    request_deadline: Option<Instant>,
    /// Server side: where this connection shows as idle, so the acceptor may close it.
    idle: Option<IdleSlot>,
}

const READ_SIZE: usize = 64 * 1024;

impl Connection {
    pub fn new(stream: TcpStream, read_timeout: Duration) -> Self {
        // Request/reply traffic of small messages: never wait for Nagle.
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
            out: BytesMut::with_capacity(4096),
            line_peer: false,
            read_timeout,
            request_deadline: None,
            idle: None,
        }
    }

    /// How long each read and write may wait from now on.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
    }

    /// Server side: shows the connection as idle in `slot` whenever it waits for a request with
    /// nothing of one buffered.
    pub fn track_idle(&mut self, slot: IdleSlot) {
        self.idle = Some(slot);
    }

    /// Reads more bytes toward a request, by the request's deadline; `Ok(false)` at end of stream.
    async fn fill_request(&mut self) -> Result<bool, ConnError> {
        let deadline = *self
            .request_deadline
            .get_or_insert_with(|| Instant::now() + self.read_timeout);
        let idle = self.buf.is_empty();
        if let Some(slot) = &mut self.idle {
            if idle { slot.idle() } else { slot.busy() }
        }
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        let read = timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await;
        if let Some(slot) = &mut self.idle {
            slot.busy();
        }
        let read = read.map_err(|_| ConnError::Timeout(self.read_timeout))??;
        Ok(read > 0)
    }

    /// A request was read whole: the next one gets a deadline of its own.
    fn request_done(&mut self) {
        self.request_deadline = None;
    }

    /// Reads more bytes; `Ok(false)` at end of stream.
    async fn fill(&mut self) -> Result<bool, ConnError> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        let read = timeout(self.read_timeout, self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| ConnError::Timeout(self.read_timeout))??;
        Ok(read > 0)
    }

    fn note_framing<T>(&mut self, decoded: &Decoded<T>) {
        if decoded.framing == Framing::Line {
            self.line_peer = true;
        }
    }

    /// The first byte the other side sends, without consuming it (`None`: closed at once).
    pub async fn peek_first(&mut self) -> Result<Option<u8>, ConnError> {
        while self.buf.is_empty() {
            if !self.fill_request().await? {
                return Ok(None);
            }
        }
        Ok(self.buf.first().copied())
    }

    /// A synchronizer's plain file request: the name, ended by a line end, the end of the
    /// requester's stream, or a quiet gap (classroom synchronizers send it and wait).
    pub async fn read_plain_name(&mut self, gap: Duration) -> Result<String, ConnError> {
        const MAX_NAME: usize = 1024;
        // The name must be whole by the request deadline too: a quiet gap is no reset.
        while !self.buf.contains(&b'\n') && self.buf.len() <= MAX_NAME {
            match timeout(gap, self.fill_request()).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) | Err(_) => break,
                Ok(Err(e)) => return Err(e),
            }
        }
        let end = self
            .buf
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.buf.len());
        let name = String::from_utf8_lossy(&self.buf[..end.min(MAX_NAME)])
            .trim()
            .to_string();
        Ok(name)
    }

    /// Streams `file` raw to the other side (the synchronizer's file response); each write must
    /// be taken within the timeout, so a requester that stops reading is dropped.
    pub async fn send_file(&mut self, file: std::fs::File) -> io::Result<u64> {
        let mut file = tokio::fs::File::from_std(file);
        let mut block = vec![0u8; READ_SIZE];
        let mut sent = 0u64;
        loop {
            let len = file.read(&mut block).await?;
            if len == 0 {
                return Ok(sent);
            }
            self.write_by_deadline(&block[..len]).await?;
            sent += len as u64;
        }
    }

    /// Writes `bytes`, or fails if the other side does not take them within the timeout.
    async fn write_by_deadline(&mut self, bytes: &[u8]) -> io::Result<()> {
        let written = timeout(self.read_timeout, self.stream.write_all(bytes)).await;
        written.map_err(|_| not_taken(self.read_timeout))?
    }

    /// The next request; `Ok(None)` when the client closed the connection between messages.
    ///
    /// Replies queued for pipelined requests go out just before this waits for more input, so
    /// a batch of requests read at once is answered in one write.
    pub async fn read_request(
        &mut self,
        upload_size: Option<u64>,
    ) -> Result<Option<Decoded<Request>>, ConnError> {
        loop {
            if let Some(d) = decode_request(&mut self.buf, upload_size, !self.line_peer)? {
                self.note_framing(&d);
                self.request_done();
                return Ok(Some(d));
            }
            if !self.out.is_empty() {
                self.flush().await?;
            }
            if !self.fill_request().await? {
                return match decode_request(&mut self.buf, upload_size, true)? {
                    Some(d) => Ok(Some(d)),
                    None if self.buf.iter().all(u8::is_ascii_whitespace) => Ok(None),
                    None => Err(ConnError::Closed),
                };
            }
        }
    }

    /// The next reply, read as `expect` says.
    pub async fn read_reply(&mut self, expect: Expect) -> Result<Decoded<Reply>, ConnError> {
        loop {
            if let Some(d) = decode_reply(&mut self.buf, expect, !self.line_peer)? {
                self.note_framing(&d);
                return Ok(d);
            }
            if !self.fill().await? {
                return decode_reply(&mut self.buf, expect, true)?.ok_or(ConnError::Closed);
            }
        }
    }

    /// Reads more bytes into the buffer (for the fast path), waiting at most the timeout;
    /// `Err(Closed)` at the end of the stream.
    pub async fn read_more(&mut self) -> Result<(), ConnError> {
        match self.fill().await? {
            true => Ok(()),
            false => Err(ConnError::Closed),
        }
    }

    /// The next reply if the bytes already read hold it whole; never waits.
    pub fn buffered_reply(&mut self, expect: Expect) -> Result<Option<Decoded<Reply>>, ConnError> {
        let decoded = decode_reply(&mut self.buf, expect, !self.line_peer)?;
        if let Some(d) = &decoded {
            self.note_framing(d);
        }
        Ok(decoded)
    }

    /// A reply of unknown length (a file list): read until a line end, the end of the stream, or
    /// a quiet gap once something has arrived.
    pub async fn read_reply_until_quiet(
        &mut self,
        expect: Expect,
        gap: Duration,
    ) -> Result<Decoded<Reply>, ConnError> {
        while !self.buf.contains(&b'\n') {
            let more = if self.buf.is_empty() {
                self.fill().await?
            } else {
                match timeout(gap, self.fill()).await {
                    Ok(more) => more?,
                    Err(_) => break,
                }
            };
            if !more {
                break;
            }
        }
        decode_reply(&mut self.buf, expect, true)?.ok_or(ConnError::Closed)
    }

    /// Whether bytes of an unfinished message were read (a connection that ended now ended in
    /// the middle of a message, not between two).
    pub fn has_partial(&self) -> bool {
        !self.buf.iter().all(u8::is_ascii_whitespace)
    }

    /// Whether the other side delimits its messages with `\n` (has sent one so ended).
    pub fn is_line_peer(&self) -> bool {
        self.line_peer
    }

    /// The bytes read and not yet decoded (for the fast path of `protocol::fast`).
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Server side: a request of `len` bytes at the front of `buffered()` was handled.
    pub fn consume_request(&mut self, len: usize) {
        bytes::Buf::advance(&mut self.buf, len);
        self.request_done();
    }

    /// Client side: a reply of `len` bytes at the front of `buffered()` was handled.
    pub fn consume_reply(&mut self, len: usize) {
        bytes::Buf::advance(&mut self.buf, len);
    }

    /// The output batch, to append encoded messages to (sent by `flush`).
    pub fn queue(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Adds a request to the output batch.
    pub fn queue_request(&mut self, request: &Request, framing: Framing) {
        request.encode(&mut self.out, framing);
    }

    /// Sends the output batch in one write; fails if the other side does not take it within
    /// the timeout.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let written = timeout(self.read_timeout, self.stream.write_all(&self.out)).await;
            written.map_err(|_| not_taken(self.read_timeout))??;
            self.out.clear();
        }
        Ok(())
    }

    /// Sends the output batch like `flush`, reading meanwhile whatever the other side sends
    /// into the read buffer (up to `read_limit` bytes buffered). A peer that answers requests
    /// while more are still being written then never waits on this side to read, however many
    /// requests are in flight: neither side's socket buffers bound the window.
    pub async fn flush_reading(&mut self, read_limit: usize) -> io::Result<()> {
        use bytes::Buf;
        use tokio::io::Interest;
        let deadline = Instant::now() + self.read_timeout;
        let mut reading = true;
        while !self.out.is_empty() {
            reading &= self.buf.len() < read_limit;
            let interest = if reading {
                Interest::WRITABLE | Interest::READABLE
            } else {
                Interest::WRITABLE
            };
            let ready = timeout_at(deadline, self.stream.ready(interest)).await;
            let ready = ready.map_err(|_| not_taken(self.read_timeout))??;
            if ready.is_writable() {
                match self.stream.try_write(&self.out) {
                    Ok(n) => self.out.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if reading && ready.is_readable() {
                match self.stream.try_read_buf(&mut self.buf) {
                    // The end of the stream: the reads that follow see it.
                    Ok(0) => reading = false,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The reads that follow report it, after the replies read before it.
                    Err(_) => reading = false,
                }
            }
        }
        self.out.clear();
        Ok(())
    }

    pub async fn send_request(&mut self, request: &Request, framing: Framing) -> io::Result<()> {
        self.queue_request(request, framing);
        self.flush().await
    }

    /// Sends one reply in one write.
    pub async fn send_reply(&mut self, reply: &Reply, framing: Framing) -> io::Result<()> {
        reply.encode(&mut self.out, framing);
        self.flush().await
    }

    /// Adds a reply to the output batch (sent by `flush`, or before `read_request` waits).
    pub fn queue_reply(&mut self, reply: &Reply, framing: Framing) {
        reply.encode(&mut self.out, framing);
    }

    /// Bytes queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Closes after a refusal so that the refusal arrives: closing with unread input would send
    /// a reset, which may destroy the reply before the client reads it. So the write side is
    /// shut, and input is read and thrown away (never buffered) for at most `linger` and `limit`
    /// bytes (nginx's lingering close).
    pub async fn linger_close(&mut self, linger: Duration, limit: usize) {
        let _ = self.stream.shutdown().await;
        let deadline = Instant::now() + linger;
        let mut scratch = [0u8; 4096];
        let mut discarded = 0;
        while discarded < limit {
            match timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Ok(Ok(read)) if read > 0 => discarded += read,
                _ => break,
            }
        }
    }
}

fn not_taken(deadline: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("bytes not taken for {deadline:?}"),
    )
}
