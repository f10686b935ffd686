//! Requests (client → server) and replies (server → client): types, encoders and incremental
//! decoders. Encoders write the seed's bytes exactly; decoders are liberal where the meaning is
//! unambiguous (optional line ends, a dropped "file" in `330 Ready to send f bytes N`).

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use super::chunk::chunk_len;
use super::cursor::{Cursor, Step, Stop, mismatch};
use super::digest::ContentDigest;
pub use super::framing::Framing;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    FileList,
    /// `#UPLOAD f bytes N`
    UploadStart {
        file: String,
        size: u64,
    },
    /// `#UPLOAD f chunk i <payload>`
    UploadChunk {
        file: String,
        index: u64,
        payload: Bytes,
    },
    /// `#DOWNLOAD f`
    DownloadStart {
        file: String,
    },
    /// `#DOWNLOAD f chunk i`
    DownloadChunk {
        file: String,
        index: u64,
    },
    /// `#EXTENSIONS`: not in the seeds. p2p-tui's client sends it once per peer, on a
    /// connection of its own, to learn whether the peer may be sent pipelined requests; a
    /// classroom peer answers with an error or closes, and is then spoken to in lockstep.
    Extensions,
    /// `#DIGEST f`: not in the seeds; asked only of peers whose extensions name `digest`, on a
    /// connection of its own. The answer describes the file's content (see `digest.rs`).
    Digest {
        file: String,
    },
    /// `+<index>`: not in the seeds; chunk `index` of the download this connection's
    /// `#DOWNLOAD f` opened, asked only of peers whose extensions name `compact`. Answered by
    /// `+` and the chunk's bytes (see `protocol::fast`).
    CompactChunk {
        index: u64,
    },
    /// A private end marker some course clients send after the last chunk of an upload
    /// (`UPLOAD_COMPLETE`, `Transmission complete`): not in the seeds. p2p-tui's server answers
    /// it with `200 File f received` again for the upload just completed; p2p-tui's client sends
    /// one only to a server that did not confirm an upload in time.
    EndMarker(&'static str),
}

/// End markers seen in course implementations of seed 001 (none is in the seed).
pub const END_MARKERS: [&str; 2] = ["UPLOAD_COMPLETE", "Transmission complete"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `200 Files served: a b c`
    FilesServed(Vec<String>),
    /// `250 Currently receiving file f`
    CurrentlyReceiving { file: String },
    /// `250 Already serving file f`
    AlreadyServing { file: String },
    /// `330 Ready to receive file f`
    ReadyToReceive { file: String },
    /// `200 File f chunk i received`
    ChunkReceived { file: String, index: u64 },
    /// `200 File f received`
    FileReceived { file: String },
    /// `330 Ready to send file f bytes N`
    ReadyToSend { file: String, size: u64 },
    /// `250 Not serving file f`
    NotServing { file: String },
    /// `200 File f chunk i <payload>`
    Chunk {
        file: String,
        index: u64,
        payload: Bytes,
    },
    /// Any other `250 <reason>`.
    Refused(String),
    /// `200 Extensions: pipeline`, the answer to `#EXTENSIONS`.
    Extensions(Vec<String>),
    /// `200 Digest f bytes N group G <whole> <groups...>`, the answer to `#DIGEST f`.
    Digest {
        file: String,
        digest: Box<ContentDigest>,
    },
}

/// What a client waits for; it decides how the next reply is read (payload length, fixed words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    FileList,
    Extensions,
    Digest,
    UploadStart,
    UploadChunkAck,
    UploadDone,
    DownloadStart,
    /// The reply to `#DOWNLOAD f chunk i` of a file of `size` bytes.
    DownloadChunk {
        size: u64,
        index: u64,
    },
}

/// A decoded message, the bytes it came in, and its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<T> {
    pub message: T,
    /// The message's bytes as received; `text()` shows part of them.
    frame: Bytes,
    text: std::ops::Range<usize>,
    pub framing: Framing,
}

impl<T> Decoded<T> {
    /// The text to show in the message log: the message as received, payload left out,
    /// trailing whitespace trimmed. Borrowed unless the bytes are not UTF-8.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match String::from_utf8_lossy(&self.frame[self.text.clone()]) {
            std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.trim_end()),
            std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.trim_end().to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The bytes are not a message of this protocol; `reason` is fit for a `250` reply.
    #[error("{0}")]
    Invalid(String),
}

fn finish<T>(step: Step<Option<T>>) -> Result<Option<T>, ProtocolError> {
    match step {
        Ok(found) => Ok(found),
        Err(Stop::Incomplete) => Ok(None),
        Err(Stop::Mismatch(reason)) => Err(ProtocolError::Invalid(reason)),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Decodes one request from the front of `buf`, removing its bytes.
///
/// `upload_size` is the size declared by this connection's `#UPLOAD f bytes N` (needed to know how
/// long a chunk payload is). `at_rest`: the peer sends one message per write and waits, so a token
/// ending at the end of the buffer is complete. `Ok(None)`: more bytes are needed.
///
/// A request is never longer than `MAX_REQUEST` bytes: past that, the bytes are refused as soon
/// as they are seen (whatever follows), so at most `MAX_REQUEST` bytes wait here for their end.
pub fn decode_request(
    buf: &mut BytesMut,
    upload_size: Option<u64>,
    at_rest: bool,
) -> Result<Option<Decoded<Request>>, ProtocolError> {
    // A compact request (`+<index>\n`) is only ever line-framed: its digits at the end of what
    // has arrived may go on, whatever the peer's framing so far (its first one comes after the
    // seed's bare `#DOWNLOAD f`).
    let compact = buf.iter().find(|&&b| b != b'\r' && b != b'\n') == Some(&b'+');
    let decoded = decode(buf, at_rest && !compact, |cur| {
        parse_request(cur, upload_size)
    })?;
    if decoded.is_none() && buf.len() > MAX_REQUEST {
        return Err(ProtocolError::Invalid(format!(
            "Request longer than {MAX_REQUEST} bytes"
        )));
    }
    Ok(decoded)
}

/// The longest request: `#UPLOAD <255-byte name> chunk <20 digits> <100 bytes>\r\n` is 393
/// bytes; anything longer is not a request of this protocol.
pub const MAX_REQUEST: usize = 1024;

/// A parsed message, where its payload lies in the buffer, where its log text ends, its framing.
struct Parsed<T> {
    message: T,
    /// Where a chunk payload lies in the buffer, if the message carries one.
    payload: Option<std::ops::Range<usize>>,
    /// Where the message's log text ends (the payload and framing left out).
    text_end: usize,
    framing: Framing,
}

impl<T> Parsed<T> {
    fn new(message: T, text_end: usize, framing: Framing) -> Step<Parsed<T>> {
        Ok(Parsed {
            message,
            payload: None,
            text_end,
            framing,
        })
    }

    fn carrying(
        message: T,
        payload: std::ops::Range<usize>,
        text_end: usize,
        framing: Framing,
    ) -> Step<Parsed<T>> {
        Ok(Parsed {
            message,
            payload: Some(payload),
            text_end,
            framing,
        })
    }
}

/// Messages that may carry a chunk payload, attached after parsing without copying it.
trait WithPayload: Sized {
    fn with_payload(self, payload: Bytes) -> Self;
}

impl WithPayload for Request {
    fn with_payload(self, payload: Bytes) -> Self {
        match self {
            Request::UploadChunk { file, index, .. } => Request::UploadChunk {
                file,
                index,
                payload,
            },
            other => other,
        }
    }
}

impl WithPayload for Reply {
    fn with_payload(self, payload: Bytes) -> Self {
        match self {
            Reply::Chunk { file, index, .. } => Reply::Chunk {
                file,
                index,
                payload,
            },
            other => other,
        }
    }
}

/// Runs `parse` on the front of `buf`; on success removes the message's bytes from `buf`.
fn decode<T: WithPayload>(
    buf: &mut BytesMut,
    at_rest: bool,
    parse: impl FnOnce(&mut Cursor<'_>) -> Step<Parsed<T>>,
) -> Result<Option<Decoded<T>>, ProtocolError> {
    // Line ends between messages are dropped at once: they never pile up in the buffer.
    let mut cur = Cursor::new(buf, at_rest);
    cur.skip_newlines();
    let skipped = cur.pos;
    let _ = buf.split_to(skipped);
    if buf.is_empty() {
        return Ok(None);
    }
    let mut cur = Cursor::new(buf, at_rest);
    let Some(Parsed {
        message,
        payload,
        text_end,
        framing,
    }) = finish(parse(&mut cur).map(Some))?
    else {
        return Ok(None);
    };
    let consumed = cur.pos;
    let frame = buf.split_to(consumed).freeze();
    let message = match payload {
        Some(range) => message.with_payload(frame.slice(range)),
        None => message,
    };
    Ok(Some(Decoded {
        message,
        frame,
        text: 0..text_end,
        framing,
    }))
}

fn parse_request(cur: &mut Cursor<'_>, upload_size: Option<u64>) -> Step<Parsed<Request>> {
    if cur.opt_lit("#FILELIST")? {
        let text_end = cur.pos;
        return Parsed::new(Request::FileList, text_end, cur.end()?);
    }
    if cur.opt_lit("#UPLOAD ")? {
        return parse_upload(cur, upload_size);
    }
    if cur.opt_lit("#DOWNLOAD ")? {
        let file = cur.token()?.to_string();
        if cur.opt_lit(" chunk ")? {
            let index = cur.number()?;
            let text_end = cur.pos;
            return Parsed::new(Request::DownloadChunk { file, index }, text_end, cur.end()?);
        }
        let text_end = cur.pos;
        return Parsed::new(Request::DownloadStart { file }, text_end, cur.end()?);
    }
    if cur.opt_lit("+")? {
        let index = cur.number()?;
        let text_end = cur.pos;
        return Parsed::new(Request::CompactChunk { index }, text_end, cur.end()?);
    }
    if cur.opt_lit("#EXTENSIONS")? {
        let text_end = cur.pos;
        return Parsed::new(Request::Extensions, text_end, cur.end()?);
    }
    if cur.opt_lit("#DIGEST ")? {
        let file = cur.token()?.to_string();
        let text_end = cur.pos;
        return Parsed::new(Request::Digest { file }, text_end, cur.end()?);
    }
    for marker in END_MARKERS {
        if cur.opt_lit(marker)? {
            let text_end = cur.pos;
            return Parsed::new(Request::EndMarker(marker), text_end, cur.end()?);
        }
    }
    mismatch("Unknown request")
}

/// The rest of `#UPLOAD f bytes N` or `#UPLOAD f chunk i <payload>` (for an upload of
/// `upload_size` bytes).
fn parse_upload(cur: &mut Cursor<'_>, upload_size: Option<u64>) -> Step<Parsed<Request>> {
    let file = cur.token()?.to_string();
    if cur.opt_lit(" bytes ")? {
        let size = cur.number()?;
        let text_end = cur.pos;
        return Parsed::new(Request::UploadStart { file, size }, text_end, cur.end()?);
    }
    cur.lit(" chunk ")?;
    let index = cur.number()?;
    let text_end = cur.pos;
    let Some(size) = upload_size else {
        return mismatch(format!("No upload of file {file} in progress"));
    };
    let Some(len) = chunk_len(size, index) else {
        return mismatch(format!("Invalid chunk {index} of file {file}"));
    };
    cur.lit(" ")?;
    let payload = cur.take(len)?;
    let framing = cur.end()?;
    let message = Request::UploadChunk {
        file,
        index,
        payload: Bytes::new(),
    };
    Parsed::carrying(message, payload, text_end, framing)
}

impl Request {
    /// Appends the request's exact bytes (plus `\n` for `Framing::Line`).
    pub fn encode(&self, out: &mut BytesMut, framing: Framing) {
        use std::fmt::Write;
        let _ = write!(Fmt(out), "{self}");
        if let Request::UploadChunk { payload, .. } = self {
            out.extend_from_slice(b" ");
            out.extend_from_slice(payload);
        }
        push_framing(out, framing);
    }
}

/// The request as the message log shows it: exact, with any chunk payload left out.
impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::FileList => write!(f, "#FILELIST"),
            Request::UploadStart { file, size } => write!(f, "#UPLOAD {file} bytes {size}"),
            Request::UploadChunk { file, index, .. } => write!(f, "#UPLOAD {file} chunk {index}"),
            Request::DownloadStart { file } => write!(f, "#DOWNLOAD {file}"),
            Request::DownloadChunk { file, index } => write!(f, "#DOWNLOAD {file} chunk {index}"),
            Request::Extensions => write!(f, "#EXTENSIONS"),
            Request::Digest { file } => write!(f, "#DIGEST {file}"),
            Request::CompactChunk { index } => write!(f, "+{index}"),
            Request::EndMarker(marker) => f.write_str(marker),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

/// Decodes the reply to what the client `expect`s from the front of `buf`, removing its bytes.
/// Any reply may instead be a `250 <reason>` refusal.
pub fn decode_reply(
    buf: &mut BytesMut,
    expect: Expect,
    at_rest: bool,
) -> Result<Option<Decoded<Reply>>, ProtocolError> {
    decode(buf, at_rest, |cur| parse_reply(cur, expect))
}

fn parse_reply(cur: &mut Cursor<'_>, expect: Expect) -> Step<Parsed<Reply>> {
    if cur.opt_lit("250 ")? {
        let (reason, text_end, framing) = line_rest(cur)?;
        return Parsed::new(refusal(reason), text_end, framing);
    }
    match expect {
        Expect::FileList => parse_names(cur, "200 Files served:", Reply::FilesServed),
        Expect::Extensions => parse_names(cur, "200 Extensions:", Reply::Extensions),
        Expect::Digest => parse_digest(cur),
        Expect::UploadStart => parse_ready_to_receive(cur),
        Expect::UploadChunkAck => parse_chunk_received(cur),
        Expect::UploadDone => parse_file_received(cur),
        Expect::DownloadStart => parse_ready_to_send(cur),
        Expect::DownloadChunk { size, index } => parse_chunk(cur, size, index),
    }
}

/// The rest of the line, where its text ends (before a line's `\n`) and its framing.
fn line_rest<'a>(cur: &mut Cursor<'a>) -> Step<(&'a str, usize, Framing)> {
    let (text, framing) = cur.rest_of_line()?;
    let text_end = cur.pos - usize::from(framing == Framing::Line);
    Ok((text, text_end, framing))
}

/// `head` and then a space-separated list of names to the end of the line.
fn parse_names(
    cur: &mut Cursor<'_>,
    head: &str,
    reply: fn(Vec<String>) -> Reply,
) -> Step<Parsed<Reply>> {
    cur.lit(head)?;
    let (names, text_end, framing) = line_rest(cur)?;
    let names = names.split_whitespace().map(str::to_string).collect();
    Parsed::new(reply(names), text_end, framing)
}

fn parse_digest(cur: &mut Cursor<'_>) -> Step<Parsed<Reply>> {
    cur.lit("200 Digest ")?;
    let file = cur.token()?.to_string();
    let (words, text_end, framing) = line_rest(cur)?;
    let Some(digest) = ContentDigest::parse_words(words) else {
        return mismatch(format!("Invalid digest of file {file}"));
    };
    let digest = Box::new(digest);
    Parsed::new(Reply::Digest { file, digest }, text_end, framing)
}

fn parse_ready_to_receive(cur: &mut Cursor<'_>) -> Step<Parsed<Reply>> {
    cur.lit("330 Ready to receive file ")?;
    let mut file = cur.token()?.to_string();
    // A 0-byte upload is answered `330 ...` then at once `200 File f received`; a
    // seed-style server's two writes may arrive as one read: "f200 File f received".
    if cur.peek_lit(" File ")?
        && let Some(name) = file.strip_suffix("200").filter(|n| !n.is_empty())
    {
        file = name.to_string();
        cur.pos -= 3;
    }
    let text_end = cur.pos;
    Parsed::new(Reply::ReadyToReceive { file }, text_end, cur.end()?)
}

fn parse_chunk_received(cur: &mut Cursor<'_>) -> Step<Parsed<Reply>> {
    cur.lit("200 File ")?;
    let file = cur.token()?.to_string();
    cur.lit(" chunk ")?;
    let index = cur.number()?;
    cur.lit(" received")?;
    let text_end = cur.pos;
    Parsed::new(Reply::ChunkReceived { file, index }, text_end, cur.end()?)
}

fn parse_file_received(cur: &mut Cursor<'_>) -> Step<Parsed<Reply>> {
    cur.lit("200 File ")?;
    let file = cur.token()?.to_string();
    cur.lit(" received")?;
    let text_end = cur.pos;
    Parsed::new(Reply::FileReceived { file }, text_end, cur.end()?)
}

fn parse_ready_to_send(cur: &mut Cursor<'_>) -> Step<Parsed<Reply>> {
    cur.lit("330 Ready to send ")?;
    // Classroom servers sometimes drop the word "file"; a name is never "file" followed
    // by " bytes", so both forms read unambiguously.
    let mut file = cur.token()?.to_string();
    if file == "file" && !cur.peek_lit(" bytes ")? {
        cur.lit(" ")?;
        file = cur.token()?.to_string();
    }
    cur.lit(" bytes ")?;
    let size = cur.number()?;
    let text_end = cur.pos;
    Parsed::new(Reply::ReadyToSend { file, size }, text_end, cur.end()?)
}

/// Chunk `asked` of a file of `size` bytes: its header, then exactly the chunk's bytes.
fn parse_chunk(cur: &mut Cursor<'_>, size: u64, asked: u64) -> Step<Parsed<Reply>> {
    cur.lit("200 File ")?;
    let file = cur.token()?.to_string();
    cur.lit(" chunk ")?;
    let index = cur.number()?;
    let text_end = cur.pos;
    if index != asked {
        return mismatch(format!("chunk {index} received, chunk {asked} asked for"));
    }
    let Some(len) = chunk_len(size, index) else {
        return mismatch(format!("chunk {index} is out of range"));
    };
    cur.lit(" ")?;
    let payload = cur.take(len)?;
    let framing = cur.end()?;
    let message = Reply::Chunk {
        file,
        index,
        payload: Bytes::new(),
    };
    Parsed::carrying(message, payload, text_end, framing)
}

fn refusal(reason: &str) -> Reply {
    let word = |prefix: &str| {
        reason
            .strip_prefix(prefix)
            .filter(|rest| !rest.is_empty() && !rest.contains(' '))
            .map(str::to_string)
    };
    if let Some(file) = word("Currently receiving file ") {
        Reply::CurrentlyReceiving { file }
    } else if let Some(file) = word("Already serving file ") {
        Reply::AlreadyServing { file }
    } else if let Some(file) = word("Not serving file ") {
        Reply::NotServing { file }
    } else {
        Reply::Refused(reason.to_string())
    }
}

impl Reply {
    /// Appends the reply's exact bytes (plus `\n` for `Framing::Line`).
    pub fn encode(&self, out: &mut BytesMut, framing: Framing) {
        use std::fmt::Write;
        let _ = write!(Fmt(out), "{self}");
        if let Reply::Chunk { payload, .. } = self {
            out.extend_from_slice(b" ");
            out.extend_from_slice(payload);
        }
        push_framing(out, framing);
    }
}

/// The reply as the message log shows it: exact, with any chunk payload left out.
impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::FilesServed(names) => write!(f, "200 Files served: {}", names.join(" ")),
            Reply::CurrentlyReceiving { file } => write!(f, "250 Currently receiving file {file}"),
            Reply::AlreadyServing { file } => write!(f, "250 Already serving file {file}"),
            Reply::ReadyToReceive { file } => write!(f, "330 Ready to receive file {file}"),
            Reply::ChunkReceived { file, index } => {
                write!(f, "200 File {file} chunk {index} received")
            }
            Reply::FileReceived { file } => write!(f, "200 File {file} received"),
            Reply::ReadyToSend { file, size } => {
                write!(f, "330 Ready to send file {file} bytes {size}")
            }
            Reply::NotServing { file } => write!(f, "250 Not serving file {file}"),
            Reply::Chunk { file, index, .. } => write!(f, "200 File {file} chunk {index}"),
            Reply::Refused(reason) => write!(f, "250 {reason}"),
            Reply::Extensions(names) => write!(f, "200 Extensions: {}", names.join(" ")),
            Reply::Digest { file, digest } => write!(f, "200 Digest {file} {}", digest.to_words()),
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn push_framing(out: &mut BytesMut, framing: Framing) {
    if framing == Framing::Line {
        out.extend_from_slice(b"\n");
    }
}

/// `fmt::Write` into a `BytesMut`, so messages are formatted without an intermediate String.
struct Fmt<'a>(&'a mut BytesMut);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
