//! What the download and upload loops share: the framing a window implies, reading a batch of
//! replies (one, waiting for it, then every further one already buffered), and why a peer
//! stopped taking part in a transfer.

use std::time::Duration;

use thiserror::Error;

use super::describe;
use crate::peer::connection::{ConnError, Connection};
use crate::protocol::{Decoded, Expect, Framing, Reply};

/// Messages delimited by `\n` once more than one request may be in flight; the seed's bare
/// messages in lockstep.
pub fn framing(window: usize) -> Framing {
    if window > 1 {
        Framing::Line
    } else {
        Framing::Bare
    }
}

/// Why a peer stopped taking part in a transfer.
#[derive(Debug, Error)]
pub enum PeerFailure {
    #[error("silent for {}s", .0.as_secs_f64())]
    Silent(Duration),
    #[error("{}", describe(.0))]
    Connection(ConnError),
    #[error("it refused a chunk")]
    RefusedChunk,
    #[error("unexpected reply to chunk {0}")]
    Unexpected(u64),
    #[error("the server did not keep the file")]
    NotKept,
    #[error("cannot read {file}: {error}")]
    Read { file: String, error: std::io::Error },
}

impl PeerFailure {
    /// A failed read or write: silence has its own words.
    pub fn from_conn(e: ConnError, stall: Duration) -> PeerFailure {
        match e {
            ConnError::Timeout(_) => PeerFailure::Silent(stall),
            e => PeerFailure::Connection(e),
        }
    }
}

/// Reads a batch of replies: the first (waiting for it if need be), then every further one the
/// bytes already read hold whole. `expect(k)` says how to read reply number `k` of the batch,
/// or `None` when no more are awaited. Replies read before an error are returned with it.
pub async fn read_batch(
    conn: &mut Connection,
    mut expect: impl FnMut(usize) -> Option<Expect>,
    framing: Framing,
    on_protocol_error: impl FnOnce(),
) -> (Vec<Decoded<Reply>>, Option<ConnError>) {
    let mut replies = Vec::new();
    let Some(first) = expect(0) else {
        return (replies, None);
    };
    let mut next = conn.read_reply(first).await.map(Some);
    loop {
        match next {
            Ok(Some(decoded)) => replies.push(decoded),
            Ok(None) => return (replies, None),
            Err(e) => {
                // A pipelining peer that breaks the protocol gets the seed's lockstep next time.
                if framing == Framing::Line && matches!(e, ConnError::Protocol(_)) {
                    on_protocol_error();
                }
                return (replies, Some(e));
            }
        }
        let Some(how) = expect(replies.len()) else {
            return (replies, None);
        };
        next = conn.buffered_reply(how);
    }
}

/// Sends what is queued on `conn`; a peer that does not take it within `stall` is silent.
pub async fn flush(conn: &mut Connection, stall: Duration) -> Result<(), PeerFailure> {
    match tokio::time::timeout(stall, conn.flush()).await {
        Ok(result) => result.map_err(|e| PeerFailure::Connection(e.into())),
        Err(_) => Err(PeerFailure::Silent(stall)),
    }
}
