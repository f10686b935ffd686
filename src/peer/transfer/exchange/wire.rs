//! What the chunk messages of one direction look like: how a request in flight is written (the
//! fast writers of `protocol::fast` when line-framed, the general encoder otherwise), what the
//! fast path takes from the read buffer, and what a reply read by the general decoder means.

use std::collections::VecDeque;
use std::ops::Range;

use bytes::Bytes;

use super::link::PeerFailure;
use crate::core::protocol::{Expect, Framing, Reply, Request, fast};
use crate::peer::connection::Connection;
use crate::peer::events::LineBatch;

/// How requests are written on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The seed's bare messages, in lockstep.
    Bare,
    /// The seed's words delimited by `\n`, pipelined.
    Line,
    /// A download's `+<index>\n`, pipelined, to a peer that speaks `compact`.
    Compact,
}

impl Form {
    /// Messages delimited by `\n` once more than one request may be in flight (compact ones if
    /// `compact`); the seed's bare messages in lockstep.
    pub fn of(window: usize, compact: bool) -> Form {
        match (window > 1, compact) {
            (false, _) => Form::Bare,
            (true, false) => Form::Line,
            (true, true) => Form::Compact,
        }
    }

    pub fn framing(self) -> Framing {
        match self {
            Form::Bare => Framing::Bare,
            Form::Line | Form::Compact => Framing::Line,
        }
    }
}

/// Which way the chunks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// `#DOWNLOAD f chunk i`, answered by `200 File f chunk i <payload>`.
    Download,
    /// `#UPLOAD f chunk i <payload>`, answered by `200 File f chunk i received`.
    Upload,
}

/// A request in flight: the chunk asked for, or the chunk sent with its bytes (kept to send
/// again on a new connection; empty for a download).
#[derive(Debug, Clone)]
pub struct Sent {
    pub index: u64,
    pub payload: Bytes,
}

impl Sent {
    /// A download's request for chunk `index`.
    pub fn request(index: u64) -> Sent {
        Sent {
            index,
            payload: Bytes::new(),
        }
    }
}

/// The requests in flight, oldest first (replies come in this order): the chunks' indices,
/// and an upload's bytes. Apart, so that a download's thousands in flight take 8 bytes each,
/// not a `Sent`'s 40.
#[derive(Debug, Default)]
pub struct InFlight {
    indices: VecDeque<u64>,
    /// Empty for a download.
    payloads: VecDeque<Bytes>,
}

impl InFlight {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The chunk of the `k`-th oldest request.
    pub fn index(&self, k: usize) -> Option<u64> {
        self.indices.get(k).copied()
    }

    /// The chunks awaited, oldest first.
    pub fn indices(&self) -> impl Iterator<Item = u64> + '_ {
        self.indices.iter().copied()
    }

    /// `sent` went out after those in flight (it is left empty).
    pub fn extend(&mut self, sent: &mut Vec<Sent>, way: Way) {
        self.indices.extend(sent.iter().map(|s| s.index));
        match way {
            Way::Upload => self.payloads.extend(sent.drain(..).map(|s| s.payload)),
            Way::Download => sent.clear(),
        }
    }

    /// The `count` oldest were answered.
    pub fn answered(&mut self, count: usize) {
        self.indices.drain(..count);
        let paid = count.min(self.payloads.len());
        self.payloads.drain(..paid);
    }

    /// Each request in flight again, oldest first.
    pub fn requests(&self) -> impl Iterator<Item = Sent> + '_ {
        self.indices.iter().enumerate().map(|(k, &index)| Sent {
            index,
            payload: self.payloads.get(k).cloned().unwrap_or_default(),
        })
    }
}

/// A reply the fast path found whole at the front of a buffer: where its parts lie.
struct FastReply {
    index: u64,
    /// The index's digits, as sent.
    digits: Range<usize>,
    /// Empty for an acknowledgement.
    payload: Range<usize>,
    /// The bytes the reply took.
    used: usize,
}

/// The chunk messages of one file, one way.
#[derive(Debug, Clone)]
pub struct Chunks {
    pub way: Way,
    pub file: String,
    pub size: u64,
}

impl Chunks {
    /// Queues `sent` on `conn`, with its line in `log` if given (a request sent again on a new
    /// connection is not printed again: the user saw each once, as the peer did).
    pub fn queue(
        &self,
        conn: &mut Connection,
        sent: &Sent,
        form: Form,
        log: Option<(&mut LineBatch, &str)>,
    ) {
        if form != Form::Bare {
            // The same bytes and line as the general encoder's, without `fmt`; or compact,
            // logged in the seed's words.
            let out = conn.queue();
            match self.way {
                Way::Download if form == Form::Compact => {
                    fast::write_compact_request(out, sent.index);
                }
                Way::Download => fast::write_chunk_request(out, &self.file, sent.index),
                Way::Upload => fast::write_upload_chunk(out, &self.file, sent.index, &sent.payload),
            }
            if let Some((lines, id)) = log {
                match self.way {
                    Way::Download => lines.sent_chunk_request(id, &self.file, sent.index),
                    Way::Upload => lines.sent_upload_chunk(id, &self.file, sent.index),
                }
            }
        } else {
            let request = self.request(sent);
            if let Some((lines, id)) = log {
                lines.sent(id, &request);
            }
            conn.queue_request(&request, Framing::Bare);
        }
    }

    /// The most bytes a reply of this exchange takes (for reading ahead while sending).
    pub fn reply_bound(&self) -> usize {
        let payload = match self.way {
            Way::Download => crate::core::protocol::CHUNK_SIZE as usize,
            Way::Upload => 0,
        };
        self.file.len() + payload + 64
    }

    fn request(&self, sent: &Sent) -> Request {
        let (file, index) = (self.file.clone(), sent.index);
        match self.way {
            Way::Download => Request::DownloadChunk { file, index },
            Way::Upload => Request::UploadChunk {
                file,
                index,
                payload: sent.payload.clone(),
            },
        }
    }

    /// How the general decoder reads the reply to the request for chunk `index`.
    pub fn expect(&self, index: u64) -> Expect {
        match self.way {
            Way::Download => Expect::DownloadChunk {
                size: self.size,
                index,
            },
            Way::Upload => Expect::UploadChunkAck,
        }
    }

    /// The replies at the front of `buf` that are whole and answer, in order, the requests
    /// `awaited`, through the fast path: each `(index, payload)`, their lines added to `lines`,
    /// and the bytes they took. Anything else (not yet whole, a refusal, out of order) is left
    /// to the general decoder.
    pub fn take_fast<'b>(
        &self,
        buf: &'b [u8],
        awaited: impl Iterator<Item = u64>,
        compact: bool,
        (lines, id): (&mut LineBatch, &str),
    ) -> (Vec<(u64, &'b [u8])>, usize) {
        let mut answers = Vec::new();
        let mut at = 0;
        for expected in awaited {
            let Some(reply) = self.fast_reply(&buf[at..], expected, compact) else {
                break;
            };
            if reply.index != expected {
                break;
            }
            let digits = &buf[at + reply.digits.start..at + reply.digits.end];
            match self.way {
                Way::Download if digits.is_empty() => {
                    lines.replied_compact_chunk(id, &self.file, expected);
                }
                // `200 File <file> chunk ` then the digits as received (a leading zero shows).
                Way::Download => lines.replied_chunk(id, &self.file, digits),
                Way::Upload => lines.replied_ack(id, &self.file, digits),
            }
            answers.push((
                reply.index,
                &buf[at + reply.payload.start..at + reply.payload.end],
            ));
            at += reply.used;
        }
        (answers, at)
    }

    /// The reply at the front of `buf`, if whole, to the request for chunk `expected`: a
    /// compact one (`+<payload>`, no digits) if they were asked for (`compact`), or the seed's
    /// words.
    fn fast_reply(&self, buf: &[u8], expected: u64, compact: bool) -> Option<FastReply> {
        match self.way {
            Way::Download if compact && buf.first() == Some(&b'+') => {
                let (payload, used) = fast::compact_reply(buf, self.size, expected)?;
                Some(FastReply {
                    index: expected,
                    digits: 0..0,
                    payload,
                    used,
                })
            }
            Way::Download => {
                let (reply, used) = fast::chunk_reply(buf, &self.file, self.size)?;
                Some(FastReply {
                    index: reply.index,
                    digits: reply.digits,
                    payload: reply.payload,
                    used,
                })
            }
            Way::Upload => {
                let (index, digits, used) = fast::chunk_ack(buf, &self.file)?;
                Some(FastReply {
                    index,
                    digits,
                    payload: 0..0,
                    used,
                })
            }
        }
    }

    /// What a reply read by the general decoder answers: `(index, payload)`, or why the peer
    /// leaves when it answers something else (`first`: the chunk whose answer was awaited).
    pub fn answer<'r>(&self, reply: &'r Reply, first: u64) -> Result<(u64, &'r [u8]), PeerFailure> {
        match (self.way, reply) {
            (Way::Download, Reply::Chunk { payload, index, .. }) => Ok((*index, &payload[..])),
            (Way::Download, _) => Err(PeerFailure::RefusedChunk),
            (Way::Upload, Reply::ChunkReceived { index, .. }) => Ok((*index, &[])),
            (Way::Upload, _) => Err(PeerFailure::Unexpected(first)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_replies_are_taken_only_from_a_connection_that_asked_for_them() {
        let chunks = Chunks {
            way: Way::Download,
            file: "f".into(),
            size: 250,
        };
        let mut wire = vec![b'+'];
        wire.extend_from_slice(&[7; 100]);
        wire.push(b'+');
        wire.extend_from_slice(&[9; 50]);
        let mut lines = LineBatch::default();
        // From a peer sent the seed's requests, bytes starting with `+` are no reply: left to
        // the general decoder, which refuses them.
        let (taken, used) = chunks.take_fast(&wire, [1, 2].into_iter(), false, (&mut lines, "p2"));
        assert_eq!((taken.len(), used), (0, 0));
        let (taken, used) = chunks.take_fast(&wire, [1, 2].into_iter(), true, (&mut lines, "p2"));
        assert_eq!(taken, vec![(1, &[7u8; 100][..]), (2, &[9u8; 50][..])]);
        assert_eq!(used, wire.len());
    }

    fn sent(index: u64, payload: &'static [u8]) -> Sent {
        Sent {
            index,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn requests_in_flight_go_out_again_with_their_bytes_once_the_answered_ones_are_gone() {
        let mut upload = InFlight::default();
        let mut batch = vec![sent(4, b"four"), sent(5, b"five")];
        upload.extend(&mut batch, Way::Upload);
        assert!(
            batch.is_empty(),
            "the batch's buffer is left empty, to be used again"
        );
        batch.push(sent(6, b"six"));
        upload.extend(&mut batch, Way::Upload);
        upload.answered(1);
        let again: Vec<(u64, Bytes)> = upload.requests().map(|s| (s.index, s.payload)).collect();
        assert_eq!(
            again,
            vec![
                (5, Bytes::from_static(b"five")),
                (6, Bytes::from_static(b"six"))
            ]
        );
        assert_eq!(
            (upload.len(), upload.index(1), upload.index(2)),
            (2, Some(6), None)
        );

        let mut download = InFlight::default();
        let mut batch: Vec<Sent> = (7..10).map(Sent::request).collect();
        download.extend(&mut batch, Way::Download);
        download.answered(2);
        let again: Vec<Sent> = download.requests().collect();
        assert_eq!((again.len(), again[0].index), (1, 9));
        assert!(again[0].payload.is_empty());
        download.answered(1);
        assert!(download.is_empty());
    }
}
