//! The messages of a pipelined download and upload, which outnumber all others by millions to
//! one, read and written without the general codec: no allocation, no `fmt`, no UTF-8 check of
//! bytes matched against known ASCII. Only the line-framed form p2p-tui's own peers use
//! (`#DOWNLOAD f chunk i\n`, `200 File f chunk i <payload>\n`, `#UPLOAD f chunk i <payload>\n`,
//! `200 File f chunk i received\n`) is taken here, and only when it
//! is whole; anything else — another framing, a refusal, another file, a message not yet
//! complete — is left to the general decoder (`None`), so what is accepted and what it means
//! never differs (the tests check the two against each other on random bytes).
//!
//! Between p2p-tui peers whose probe named `compact`, a download's chunk messages drop the
//! words the connection already settled: the request `+<index>\n` asks for a chunk of the file
//! its `#DOWNLOAD f` opened, and the reply is `+` and exactly the chunk's bytes (its length
//! follows from the file's size and the index, and replies come in the order asked). A chunk
//! then costs 101 bytes on the wire instead of about 130: on a path whose rate, not its round
//! trip, bounds the download, that is a quarter more file per second. The log still prints
//! the seed's lines for them.

use std::ops::Range;

use bytes::BufMut;

use super::chunk::chunk_len;

/// The most digits a number may have (as the general decoder).
const MAX_DIGITS: usize = 20;

/// `#DOWNLOAD <file> chunk <index>\n`, whole, at the front of `buf`: the index and the
/// bytes it took.
pub fn chunk_request(buf: &[u8], file: &str) -> Option<(u64, usize)> {
    let mut at = Reader { buf, pos: 0 };
    let matched = at.lit(b"#DOWNLOAD ") && at.lit(file.as_bytes()) && at.lit(b" chunk ");
    let index = at.number().filter(|_| matched)?;
    at.lit(b"\n").then_some((index, at.pos))
}

/// `200 File <file> chunk <index> <payload>\n`, whole, at the front of `buf` (for a file of
/// `size` bytes), and the bytes it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkReply {
    pub index: u64,
    /// The log text: `200 File f chunk i`.
    pub text: Range<usize>,
    /// The index's digits, as sent.
    pub digits: Range<usize>,
    pub payload: Range<usize>,
}

pub fn chunk_reply(buf: &[u8], file: &str, size: u64) -> Option<(ChunkReply, usize)> {
    let mut at = Reader { buf, pos: 0 };
    let matched = at.lit(b"200 File ") && at.lit(file.as_bytes()) && at.lit(b" chunk ");
    let digits_start = at.pos;
    let index = at.number().filter(|_| matched)?;
    let text = 0..at.pos;
    let digits = digits_start..at.pos;
    let len = chunk_len(size, index)?;
    if !at.lit(b" ") {
        return None;
    }
    let payload = at.pos..at.pos + len;
    at.pos = payload.end;
    // `get`: the payload, or the `\n` after it, may not have arrived.
    (buf.get(payload.end) == Some(&b'\n')).then_some((
        ChunkReply {
            index,
            text,
            digits,
            payload,
        },
        at.pos + 1,
    ))
}

/// `200 File <file> chunk <index> received\n`, whole, at the front of `buf`: the index, where
/// its digits lie, and the bytes it took.
pub fn chunk_ack(buf: &[u8], file: &str) -> Option<(u64, Range<usize>, usize)> {
    let mut at = Reader { buf, pos: 0 };
    let matched = at.lit(b"200 File ") && at.lit(file.as_bytes()) && at.lit(b" chunk ");
    let digits_start = at.pos;
    let index = at.number().filter(|_| matched)?;
    let digits = digits_start..at.pos;
    (at.lit(b" received\n")).then_some((index, digits, at.pos))
}

/// `#UPLOAD <file> chunk <index> <payload>\n`, whole, at the front of `buf`, for an upload of
/// `size` bytes: the index, where the payload lies, and the bytes it took.
pub fn upload_chunk(buf: &[u8], file: &str, size: u64) -> Option<(u64, Range<usize>, usize)> {
    let mut at = Reader { buf, pos: 0 };
    let matched = at.lit(b"#UPLOAD ") && at.lit(file.as_bytes()) && at.lit(b" chunk ");
    let index = at.number().filter(|_| matched)?;
    let len = chunk_len(size, index)?;
    if !at.lit(b" ") {
        return None;
    }
    let payload = at.pos..at.pos + len;
    (buf.get(payload.end) == Some(&b'\n')).then_some((index, payload.clone(), payload.end + 1))
}

/// `+<index>\n`, whole, at the front of `buf`: the index and the bytes it took.
pub fn compact_request(buf: &[u8]) -> Option<(u64, usize)> {
    let mut at = Reader { buf, pos: 0 };
    if !at.lit(b"+") {
        return None;
    }
    let index = at.number()?;
    at.lit(b"\n").then_some((index, at.pos))
}

/// `+<payload>`, whole, at the front of `buf`, for chunk `index` of a file of `size` bytes:
/// where the payload lies and the bytes it took.
pub fn compact_reply(buf: &[u8], size: u64, index: u64) -> Option<(Range<usize>, usize)> {
    let len = chunk_len(size, index)?;
    let whole = buf.first() == Some(&b'+') && buf.len() > len;
    whole.then_some((1..1 + len, 1 + len))
}

/// Appends `+<index>\n`.
pub fn write_compact_request(out: &mut impl BufMut, index: u64) {
    out.put_u8(b'+');
    write_number(out, index);
    out.put_u8(b'\n');
}

/// Appends `+<payload>`.
pub fn write_compact_reply(out: &mut impl BufMut, payload: &[u8]) {
    out.put_u8(b'+');
    out.put_slice(payload);
}

/// Appends `200 File <file> chunk <index> received\n`.
pub fn write_chunk_ack(out: &mut impl BufMut, file: &str, index: u64) {
    write_head(out, b"200 File ", file, index);
    out.put_slice(b" received\n");
}

/// Appends `#UPLOAD <file> chunk <index> <payload>\n`.
pub fn write_upload_chunk(out: &mut impl BufMut, file: &str, index: u64, payload: &[u8]) {
    write_head(out, b"#UPLOAD ", file, index);
    write_payload(out, payload);
}

/// Appends `#DOWNLOAD <file> chunk <index>\n`.
pub fn write_chunk_request(out: &mut impl BufMut, file: &str, index: u64) {
    write_head(out, b"#DOWNLOAD ", file, index);
    out.put_u8(b'\n');
}

/// Appends `200 File <file> chunk <index> <payload>\n`.
pub fn write_chunk_reply(out: &mut impl BufMut, file: &str, index: u64, payload: &[u8]) {
    write_head(out, b"200 File ", file, index);
    write_payload(out, payload);
}

/// `<verb><file> chunk <index>`: the start all four messages share.
fn write_head(out: &mut impl BufMut, verb: &[u8], file: &str, index: u64) {
    out.put_slice(verb);
    out.put_slice(file.as_bytes());
    out.put_slice(b" chunk ");
    write_number(out, index);
}

/// ` <payload>\n`
fn write_payload(out: &mut impl BufMut, payload: &[u8]) {
    out.put_u8(b' ');
    out.put_slice(payload);
    out.put_u8(b'\n');
}

/// Appends `n` in decimal.
pub fn write_number(out: &mut impl BufMut, n: u64) {
    let mut digits = [0u8; MAX_DIGITS];
    out.put_slice(format_number(&mut digits, n));
}

/// `n` in decimal, as a string (for log text).
pub fn push_number(out: &mut String, n: u64) {
    let mut digits = [0u8; MAX_DIGITS];
    // Only ASCII digits: this cannot fail.
    out.push_str(std::str::from_utf8(format_number(&mut digits, n)).unwrap_or_default());
}

fn format_number(digits: &mut [u8; MAX_DIGITS], mut n: u64) -> &[u8] {
    let mut at = MAX_DIGITS;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

/// A position in a buffer being matched.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Matches `lit` whole; false if it differs or the buffer ends first.
    fn lit(&mut self, lit: &[u8]) -> bool {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Digits (1 to 20, value within u64) followed by something else.
    fn number(&mut self) -> Option<u64> {
        let rest = self.rest();
        let len = rest
            .iter()
            .take(MAX_DIGITS + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if len == 0 || len > MAX_DIGITS || len == rest.len() {
            return None;
        }
        let mut value = 0u64;
        for &d in &rest[..len] {
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.pos += len;
        Some(value)
    }
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
