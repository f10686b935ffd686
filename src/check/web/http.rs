//! The checker's side of one HTTP exchange with the web server under test: a request written
//! whole (or dripped in pieces, as a slow client sends it), and the response read as a browser
//! would, tolerantly (a head ended by bare line feeds, or by the server closing), its body
//! delimited by `Content-Length` or else by the server closing. Every step goes into the case's
//! journal, the evidence shown when a case does not pass.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::causes;
use crate::check::wire::{Checked, Ctx, escape_line, fail, show};

/// A response head is at most this long (a server that sends no end of head is cut here).
const HEAD_LIMIT: usize = 64 * 1024;

/// A body without `Content-Length` is read until the server closes, up to this many bytes.
const BODY_LIMIT: usize = 64 << 20;

/// What came back.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    /// The status line as sent, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// Header fields, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server closed the connection after the response (within the grace period).
    pub closed: bool,
    /// When the server answered (or closed) before the whole request was sent: the bytes
    /// sent, of how many.
    pub cut: Option<(usize, usize)>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length` as a number, when present and valid.
    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// The media type of `Content-Type`, lowercase, without parameters.
    pub fn media_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let media = value.split(';').next().unwrap_or("").trim();
        Some(media.to_ascii_lowercase())
    }
}

/// How the request is written.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// In one write.
    Whole,
    /// In this many pieces, this long apart.
    Drip(usize, Duration),
}

/// Connects (`label` names the connection in the journal), sends `request`, reads the
/// response.
pub async fn exchange(ctx: &Ctx, label: &str, request: &[u8], pace: Pace) -> Checked<Response> {
    let mut stream = connect(ctx, label).await?;
    let sent = send(ctx, label, &mut stream, request, pace).await;
    let mut response = read_response(ctx, label, &mut stream).await?;
    response.cut = (sent < request.len()).then_some((sent, request.len()));
    Ok(response)
}

async fn connect(ctx: &Ctx, label: &str) -> Checked<TcpStream> {
    match TcpStream::connect(&ctx.addr).await {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            ctx.note(format!("{label} connected"));
            Ok(stream)
        }
        Err(e) => {
            let why = format!("{label}: cannot connect to {}: {e}", ctx.addr);
            ctx.cause(causes::CANNOT_CONNECT, why.clone());
            fail(why)
        }
    }
}

/// Writes `request` at `pace`; returns how many bytes were sent. A server that answers (or
/// closes) before the whole request has arrived is noted, and the rest is not sent: its answer
/// is what the case judges.
async fn send(ctx: &Ctx, label: &str, stream: &mut TcpStream, request: &[u8], pace: Pace) -> usize {
    let (pieces, gap) = match pace {
        Pace::Whole => (1, Duration::ZERO),
        Pace::Drip(pieces, gap) => (pieces.max(1), gap),
    };
    let size = request.len().div_ceil(pieces).max(1);
    let mut sent = 0;
    for (i, piece) in request.chunks(size).enumerate() {
        if i > 0 && tokio::time::timeout(gap, stream.readable()).await.is_ok() {
            ctx.note(format!(
                "{label} < (the server answered or closed after {sent} of the request's {} bytes)",
                request.len()
            ));
            return sent;
        }
        ctx.note(format!("{label} > {}", show(piece, 200)));
        if let Err(e) = stream.write_all(piece).await {
            ctx.note(format!(
                "{label}: the rest of the request could not be sent: {e}"
            ));
            return sent;
        }
        sent += piece.len();
    }
    sent
}

/// Reads a response head and its body.
async fn read_response(ctx: &Ctx, label: &str, stream: &mut TcpStream) -> Checked<Response> {
    let mut buf = Vec::with_capacity(8192);
    let (head, closed) = read_head(ctx, label, stream, &mut buf).await?;
    let mut response = parse_head(ctx, label, &head)?;
    response.body = buf;
    let mut closed = closed;
    match response.content_length() {
        Some(length) if !closed => {
            read_exactly(stream, &mut response.body, length, &mut closed).await;
        }
        Some(_) => {}
        None if !closed => read_to_close(stream, &mut response.body, BODY_LIMIT).await,
        None => {}
    }
    if response.content_length().is_none() {
        closed = true;
    }
    ctx.note(format!(
        "{label} < body: {} bytes{}",
        response.body.len(),
        if closed { ", then closed" } else { "" }
    ));
    if !closed {
        closed = closes_within(stream, ctx.grace).await;
        if closed {
            ctx.note(format!("{label} < connection closed"));
        }
    }
    response.closed = closed;
    Ok(response)
}

/// Reads until the end of the head (an empty line, `\r\n` or bare `\n`), or the server closes.
/// Returns the head and whether the server closed; what follows the head stays in `buf`.
async fn read_head(
    ctx: &Ctx,
    label: &str,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Checked<(Vec<u8>, bool)> {
    loop {
        if let Some((end, skip)) = head_end(buf) {
            let head = buf[..end].to_vec();
            buf.drain(..end + skip);
            return Ok((head, false));
        }
        if buf.len() > HEAD_LIMIT {
            let why = format!("{label}: no end of the response head within {HEAD_LIMIT} bytes");
            ctx.cause(causes::NOT_HTTP, why.clone());
            return fail(why);
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk).await {
            Ok(0) => return head_at_close(ctx, label, std::mem::take(buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                ctx.note(format!("{label} < connection reset ({e})"));
                if buf.is_empty() {
                    let why =
                        format!("{label}: the server reset the connection instead of responding");
                    ctx.cause(causes::CLOSES_WITHOUT_RESPONSE, why.clone());
                    return fail(why);
                }
                return head_at_close(ctx, label, std::mem::take(buf));
            }
        }
    }
}

/// The server closed before an empty line: what it sent is the head, if anything.
fn head_at_close(ctx: &Ctx, label: &str, buf: Vec<u8>) -> Checked<(Vec<u8>, bool)> {
    if buf.is_empty() {
        ctx.note(format!("{label} < connection closed"));
        let why = format!("{label}: the server closed the connection without a response");
        ctx.cause(causes::CLOSES_WITHOUT_RESPONSE, why.clone());
        return fail(why);
    }
    ctx.deviation(
        "no empty line",
        format!(
            "{label}: the response head does not end with an empty line (the server closed after {})",
            show(&buf, 60)
        ),
    );
    Ok((buf, true))
}

/// Where the head ends: (index of the empty line's start, its length).
fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Parses a status line and header fields.
fn parse_head(ctx: &Ctx, label: &str, head: &[u8]) -> Checked<Response> {
    ctx.note(format!("{label} < {}", show(head, 300)));
    let text = String::from_utf8_lossy(head);
    if head.contains(&b'\n') && !head.windows(2).any(|w| w == b"\r\n") {
        ctx.deviation(
            "bare line feeds",
            format!("{label}: the response's header lines end with \\n; HTTP's end with \\r\\n"),
        );
    }
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let status_line = lines.next().unwrap_or("").trim().to_string();
    let mut words = status_line.split_whitespace();
    let version = words.next().unwrap_or("");
    let status = words.next().and_then(|code| code.parse::<u16>().ok());
    let Some(status) = status.filter(|_| version.starts_with("HTTP/")) else {
        let why = format!(
            "{label}: \"{}\" is not an HTTP status line (HTTP/1.1 200 OK)",
            escape_line(status_line.as_bytes())
        );
        ctx.cause(causes::NOT_HTTP, why.clone());
        return fail(why);
    };
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    Ok(Response {
        status,
        status_line,
        headers,
        ..Response::default()
    })
}

/// Reads until `body` holds `length` bytes or the server closes (`closed` set).
async fn read_exactly(
    stream: &mut TcpStream,
    body: &mut Vec<u8>,
    length: usize,
    closed: &mut bool,
) {
    let mut chunk = vec![0u8; 256 * 1024];
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        match stream.read(&mut chunk[..want]).await {
            Ok(0) | Err(_) => {
                *closed = true;
                return;
            }
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads until the server closes, keeping at most `limit` bytes.
async fn read_to_close(stream: &mut TcpStream, body: &mut Vec<u8>, limit: usize) {
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

/// Whether the server closes the connection within `wait` (bytes after the response are
/// read and dropped).
async fn closes_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    let end = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(end, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_ends_at_the_first_empty_line_of_either_kind() {
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\nbody"), Some((15, 4)));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\n\nbody\r\n\r\n"), Some((15, 2)));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn the_media_type_drops_parameters_and_case() {
        let ctx = Ctx::new("", Duration::from_millis(1), "");
        let r = parse_head(
            &ctx,
            "c1",
            b"HTTP/1.1 200 OK\r\nContent-Type: Text/HTML; charset=utf-8\r\ncontent-length: 12",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.media_type().as_deref(), Some("text/html"));
        assert_eq!(r.content_length(), Some(12));
        assert!(parse_head(&ctx, "c1", b"HTTP 404 not found").is_err());
    }
}
