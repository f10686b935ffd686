//! A read-only cursor over buffered bytes, the shared grammar of requests and replies.
//!
//! Every step either succeeds, asks for more bytes (`Stop::Incomplete`), or reports that the bytes
//! are not this form (`Stop::Mismatch`). "At rest" means the sender is waiting for our answer, so a
//! token that runs to the end of the buffered bytes is complete (SPEC §2).

use super::framing::Framing;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    Incomplete,
    Mismatch(String),
}

pub(crate) type Step<T> = Result<T, Stop>;

pub(crate) fn mismatch<T>(why: impl Into<String>) -> Step<T> {
    Err(Stop::Mismatch(why.into()))
}

/// Longest token (a file name or a word): SPEC §1's name limit. A longer run is refused as soon
/// as it is seen, whatever follows, so a hostile sender cannot make us buffer it.
const MAX_TOKEN: usize = super::names::MAX_NAME_LEN;
/// Longest free-text reply line (`250 <reason>`, a file list) awaited from a line-framed peer.
const MAX_LINE: usize = 64 * 1024;
/// Longest decimal number: `u64::MAX` has 20 digits.
const MAX_DIGITS: usize = 20;

#[cfg(test)]
thread_local! {
    /// Bytes looked at by cursors on this thread: lets tests check that decoding work is bounded.
    pub(crate) static EXAMINED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts `n` bytes looked at (tests only).
fn examined(n: usize) {
    #[cfg(test)]
    EXAMINED.with(|e| e.set(e.get() + n));
    let _ = n;
}

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
    at_rest: bool,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], at_rest: bool) -> Self {
        Cursor {
            buf,
            pos: 0,
            at_rest,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Skips `\r` / `\n` left between messages.
    pub(crate) fn skip_newlines(&mut self) {
        while matches!(self.rest().first(), Some(b'\r' | b'\n')) {
            self.pos += 1;
        }
        examined(self.pos + 1);
    }

    /// Whether the remaining bytes start with `lit` (or could, once more bytes arrive).
    pub(crate) fn peek_lit(&self, lit: &str) -> Step<bool> {
        let rest = self.rest();
        let lit = lit.as_bytes();
        examined(lit.len().min(rest.len()));
        if rest.len() >= lit.len() {
            Ok(rest.starts_with(lit))
        } else if rest.is_empty() && self.at_rest {
            // The message ended here: whatever `lit` would have started is absent.
            Ok(false)
        } else if lit.starts_with(rest) {
            Err(Stop::Incomplete)
        } else {
            Ok(false)
        }
    }

    /// Consumes exactly `lit`.
    pub(crate) fn lit(&mut self, lit: &str) -> Step<()> {
        if self.peek_lit(lit)? {
            self.pos += lit.len();
            Ok(())
        } else {
            mismatch(format!("expected {lit:?}"))
        }
    }

    /// Consumes `lit` if it is next; `Ok(false)` if something else is.
    pub(crate) fn opt_lit(&mut self, lit: &str) -> Step<bool> {
        let found = self.peek_lit(lit)?;
        if found {
            self.pos += lit.len();
        }
        Ok(found)
    }

    /// A run of bytes up to a space, CR, LF (not consumed) or the end of the buffer.
    pub(crate) fn token(&mut self) -> Step<&'a str> {
        let rest = self.rest();
        // Look no further than the bound: the work per attempt stays constant.
        let scan = &rest[..rest.len().min(MAX_TOKEN + 1)];
        examined(scan.len());
        let len = scan
            .iter()
            .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
            .unwrap_or(scan.len());
        if len > MAX_TOKEN {
            return mismatch(format!("File name longer than {MAX_TOKEN} bytes"));
        }
        if len == rest.len() && !self.at_rest {
            return Err(Stop::Incomplete);
        }
        if len == 0 {
            return mismatch("missing word");
        }
        self.pos += len;
        std::str::from_utf8(&rest[..len]).or_else(|_| mismatch("not UTF-8"))
    }

    /// A decimal number; it ends at the first non-digit, or at the end of the buffer at rest.
    pub(crate) fn number(&mut self) -> Step<u64> {
        let rest = self.rest();
        let scan = &rest[..rest.len().min(MAX_DIGITS + 1)];
        examined(scan.len());
        let len = scan
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(scan.len());
        if len > MAX_DIGITS {
            return mismatch(format!(
                "number of more than {MAX_DIGITS} digits is too large"
            ));
        }
        if len == rest.len() && !self.at_rest {
            return Err(Stop::Incomplete);
        }
        if len == 0 {
            return mismatch("expected a number");
        }
        // Only ASCII digits, so from_utf8 cannot fail; overflow is the sender's mistake.
        let digits = std::str::from_utf8(&rest[..len]).unwrap_or_default();
        let value = digits
            .parse::<u64>()
            .or_else(|_| mismatch(format!("number {digits} is too large")))?;
        self.pos += len;
        Ok(value)
    }

    /// Exactly `len` payload bytes.
    pub(crate) fn take(&mut self, len: usize) -> Step<std::ops::Range<usize>> {
        if self.rest().len() < len {
            return Err(Stop::Incomplete);
        }
        let start = self.pos;
        self.pos += len;
        Ok(start..self.pos)
    }

    /// Everything up to a line end (consumed) or, at rest, the end of the buffer.
    pub(crate) fn rest_of_line(&mut self) -> Step<(&'a str, Framing)> {
        let rest = self.rest();
        examined(rest.len());
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
                self.pos += nl + 1;
                Ok((lossy_str(line), Framing::Line))
            }
            None if self.at_rest => {
                self.pos += rest.len();
                Ok((lossy_str(rest), Framing::Bare))
            }
            None if rest.len() > MAX_LINE => mismatch("line too long"),
            None => Err(Stop::Incomplete),
        }
    }

    /// The end of a message: `\r\n`, `\n` (consumed), the start of the next message (not
    /// consumed), or, at rest, the end of the buffer.
    pub(crate) fn end(&mut self) -> Step<Framing> {
        match self.rest() {
            [] if self.at_rest => Ok(Framing::Bare),
            [] | [b'\r'] => Err(Stop::Incomplete),
            [b'\r', b'\n', ..] => {
                self.pos += 2;
                Ok(Framing::Line)
            }
            [b'\n', ..] => {
                self.pos += 1;
                Ok(Framing::Line)
            }
            [b'#' | b'0'..=b'9', ..] => Ok(Framing::Bare),
            _ => mismatch("unexpected bytes after the message"),
        }
    }
}

fn lossy_str(bytes: &[u8]) -> &str {
    // Names were checked to be UTF-8 by `token`; for free text, fall back to the valid prefix.
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}
