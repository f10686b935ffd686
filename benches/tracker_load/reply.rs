//! A member's delta reply read as it arrives, never held whole: a byte-at-a-time scanner for
//! `{"delta":{"changed":{name:{holder},...},"from":F,"removed":[name,...],"to":T}}` that hands
//! out each version, entry and removed name, keeping only the string and holder being read
//! (each bounded). A whole directory is about 70 bytes a file: 7 MB for 10,000 peers of 10
//! files, which 10,000 simulated members must not each keep.

/// What the scanner found.
pub enum Event<'a> {
    /// `"from"` or `"to"` and its number.
    Version { key: &'a [u8], value: u64 },
    /// An entry of `"changed"`: the name and the holder object's text.
    Entry { name: &'a [u8], holder: &'a [u8] },
    /// A name of `"removed"`.
    Removed(&'a [u8]),
}

pub trait Handler {
    fn event(&mut self, event: Event<'_>);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Root,
    Delta,
    Changed,
    Removed,
    Holder,
    Other,
}

struct Frame {
    section: Section,
    array: bool,
    expect_key: bool,
    key: Vec<u8>,
}

/// Longest string or holder kept; longer ones are cut (and then match nothing).
const MAX_TEXT: usize = 256;
/// Deepest nesting followed (a delta reply has 4 levels).
const MAX_DEPTH: usize = 8;

#[derive(Default)]
pub struct Scanner {
    stack: Vec<Frame>,
    in_string: bool,
    escape: bool,
    text: Vec<u8>,
    number: Option<u64>,
    capturing: bool,
    capture: Vec<u8>,
    /// Deeper than `MAX_DEPTH`: not a reply of the expected shape (the rest is skipped).
    pub malformed: bool,
    /// Hand out only the first entry of `"changed"` and skip the others (see `skip_entries`).
    skip: bool,
    entries_seen: bool,
    /// Skipping, the last chunk ended with `}`: it may be the last holder's.
    skipped_brace: bool,
}

fn push_bounded(to: &mut Vec<u8>, b: u8) {
    if to.len() < MAX_TEXT {
        to.push(b);
    }
}

impl Scanner {
    /// A scanner that hands out `from`, `to`, the removed names and only the first entry of
    /// `"changed"` (the changed file sorts first): the others are skipped at memory speed
    /// (`"}}"`, the end of `"changed"`, looked for a chunk at a time).
    pub fn skip_entries() -> Scanner {
        Scanner {
            skip: true,
            ..Scanner::default()
        }
    }

    /// Reads the next bytes of the reply.
    pub fn feed(&mut self, chunk: &[u8], handler: &mut impl Handler) {
        let mut at = 0;
        while at < chunk.len() && !self.malformed {
            if self.at_entry() && self.skip && self.entries_seen {
                let Some(len) = self.skipped(&chunk[at..]) else {
                    return;
                };
                // The `}` that ends `"changed"`, walked: the scanner leaves it.
                at += len;
            } else if self.at_entry() {
                if let Some(len) = self.whole_entry(&chunk[at..], handler) {
                    at += len;
                    continue;
                }
            }
            if let Some(&b) = chunk.get(at) {
                self.byte(b, handler);
            }
            at += 1;
        }
    }

    /// Skipping entries: the length of `rest` up to the `}` that ends `"changed"` (its last
    /// holder's `}` skipped), or `None` if `rest` does not reach it.
    fn skipped(&mut self, rest: &[u8]) -> Option<usize> {
        if self.skipped_brace && rest.first() == Some(&b'}') {
            self.skipped_brace = false;
            return Some(0);
        }
        // `str::contains` looks for a short needle with SIMD; the replies are ASCII.
        let none = std::str::from_utf8(rest).is_ok_and(|text| !text.contains("}}"));
        if none {
            self.skipped_brace = rest.last() == Some(&b'}');
            return None;
        }
        let end = rest.windows(2).position(|w| w == b"}}")?;
        self.skipped_brace = false;
        Some(end + 1)
    }

    /// Whether the next byte starts an entry of `"changed"` (its name's opening quote).
    fn at_entry(&self) -> bool {
        !self.in_string
            && self
                .stack
                .last()
                .is_some_and(|top| top.section == Section::Changed && top.expect_key)
    }

    /// The fast way through `"changed"` (nearly all of a reply's bytes): an entry
    /// `"name":{"ip":...,"port":P}` whole within `rest`, its name without escapes, its holder
    /// flat, is handed out without a byte-by-byte walk. Returns its length; `None` (the bytes are
    /// then walked one by one) for anything else.
    fn whole_entry(&mut self, rest: &[u8], handler: &mut impl Handler) -> Option<usize> {
        let window = &rest[..rest.len().min(2 * MAX_TEXT)];
        let after_quote = window.strip_prefix(b"\"")?;
        let name_len = after_quote.iter().position(|&b| b == b'"' || b == b'\\')?;
        let (name, after_name) = after_quote.split_at(name_len);
        let holder_and_rest = after_name.strip_prefix(b"\":")?;
        let close = holder_and_rest.iter().position(|&b| b == b'}')?;
        let holder = &holder_and_rest[..=close];
        let flat = holder.first() == Some(&b'{') && !holder[1..].contains(&b'{');
        if !flat || holder.contains(&b'\\') {
            return None;
        }
        handler.event(Event::Entry { name, holder });
        self.entries_seen = true;
        if let Some(top) = self.stack.last_mut() {
            top.expect_key = false;
        }
        Some(1 + name_len + 2 + holder.len())
    }

    fn byte(&mut self, b: u8, handler: &mut impl Handler) {
        if self.capturing {
            push_bounded(&mut self.capture, b);
        }
        if self.in_string {
            self.string_byte(b, handler);
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                self.text.clear();
            }
            b'{' | b'[' => self.open(b == b'['),
            b'}' | b']' => self.close(handler),
            b':' => {
                if let Some(top) = self.stack.last_mut() {
                    top.expect_key = false;
                }
                self.number = None;
            }
            b',' => {
                self.end_number(handler);
                if let Some(top) = self.stack.last_mut() {
                    top.expect_key = !top.array;
                }
            }
            b'0'..=b'9' => {
                let digit = u64::from(b - b'0');
                self.number = Some(self.number.unwrap_or(0).saturating_mul(10) + digit);
            }
            _ => {}
        }
    }

    fn string_byte(&mut self, b: u8, handler: &mut impl Handler) {
        if self.escape {
            self.escape = false;
            push_bounded(&mut self.text, b);
        } else if b == b'\\' {
            self.escape = true;
        } else if b == b'"' {
            self.in_string = false;
            self.string_done(handler);
        } else {
            push_bounded(&mut self.text, b);
        }
    }

    fn string_done(&mut self, handler: &mut impl Handler) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if !top.array && top.expect_key {
            top.key.clear();
            top.key.extend_from_slice(&self.text);
        } else if top.section == Section::Removed {
            handler.event(Event::Removed(&self.text));
        }
    }

    fn open(&mut self, array: bool) {
        self.number = None;
        let section = match self.stack.last() {
            None => Section::Root,
            Some(parent) => match (parent.section, parent.key.as_slice()) {
                (Section::Root, b"delta") => Section::Delta,
                (Section::Delta, b"changed") => Section::Changed,
                (Section::Delta, b"removed") => Section::Removed,
                (Section::Changed, _) if !array => Section::Holder,
                _ => Section::Other,
            },
        };
        if self.stack.len() >= MAX_DEPTH {
            self.malformed = true;
            return;
        }
        if section == Section::Holder {
            self.capturing = true;
            self.capture.clear();
            self.capture.push(b'{');
        }
        self.stack.push(Frame {
            section,
            array,
            expect_key: !array,
            key: Vec::new(),
        });
    }

    fn close(&mut self, handler: &mut impl Handler) {
        self.end_number(handler);
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if frame.section != Section::Holder {
            return;
        }
        self.capturing = false;
        self.entries_seen = true;
        let name = self
            .stack
            .last()
            .map_or(&[][..], |changed| changed.key.as_slice());
        let entry = Event::Entry {
            name,
            holder: &self.capture,
        };
        handler.event(entry);
    }

    /// A number ends at `,` or `}`: in the `"delta"` object it is `from` or `to`.
    fn end_number(&mut self, handler: &mut impl Handler) {
        let Some(value) = self.number.take() else {
            return;
        };
        let Some(top) = self.stack.last() else {
            return;
        };
        if top.section == Section::Delta {
            let event = Event::Version {
                key: &top.key,
                value,
            };
            handler.event(event);
        }
    }
}
