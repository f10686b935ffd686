//! The link to a peer that outlives a close after a reply, reading a batch of replies (one,
//! waiting for it, then every further one already buffered), and why a peer stopped taking part
//! in a transfer.

use std::time::Duration;

use thiserror::Error;

use crate::core::protocol::{Decoded, Expect, Framing, Reply};
use crate::core::settings::PeerAddr;
use crate::peer::connection::{ConnError, Connection};
use crate::peer::transfer::pipelining::PeerWindow;
use crate::peer::transfer::{TransferOptions, describe};

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
    #[error(
        "it acknowledged every chunk but never confirmed the file (no \"200 File {0} received\", no end marker answered) and does not list it"
    )]
    NotConfirmed(String),
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

impl PeerFailure {
    /// Whether the connection ended between two messages: closed, or reset by a write that
    /// followed the peer's close. A peer that closes after its replies shows exactly this.
    fn ended_between_messages(&self) -> bool {
        use std::io::ErrorKind;
        match self {
            PeerFailure::Connection(ConnError::Closed) => true,
            PeerFailure::Connection(ConnError::Io(e)) => matches!(
                e.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}

/// The connection to one peer for one transfer, which outlives the peer closing it after a
/// complete reply.
///
/// Classroom servers may answer one request per connection and close (the seed does not say a
/// connection carries more). So a connection that ends between two messages after at least
/// one complete reply is replaced by a new one, and the unanswered requests go out again there.
/// A peer is gone only when it refuses the new connection, ends one before its first reply or
/// in the middle of a message, or goes silent. Every replacement follows a reply, so this
/// cannot loop without progress. A peer that closes right after its first reply is remembered
/// (for this client, per address): each later request gets a fresh connection up front, and
/// no transfer pays a failed round trip per chunk.
pub struct Link {
    peer: PeerAddr,
    conn: Connection,
    /// Complete replies read on `conn`.
    replies: usize,
    /// Whether `conn` carried the transfer's opening exchange (a compact request names no
    /// file: it asks for a chunk of the download its connection opened).
    opening: bool,
    window: PeerWindow,
    connect_timeout: Duration,
    stall: Duration,
}

impl Link {
    /// `conn` has already carried `replies` complete replies (the `330` that opened the
    /// transfer).
    pub fn new(
        peer: PeerAddr,
        conn: Connection,
        replies: usize,
        window: PeerWindow,
        options: &TransferOptions,
    ) -> Link {
        Link {
            peer,
            conn,
            replies,
            opening: true,
            window,
            connect_timeout: options.connect_timeout,
            stall: options.stall_timeout,
        }
    }

    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn window(&self) -> &PeerWindow {
        &self.window
    }

    /// Whether chunk requests may be compact (`+<index>`) on the current connection: the peer
    /// speaks them and this connection opened the download.
    pub fn compact(&self) -> bool {
        self.opening
            && self
                .window
                .speaks(crate::core::protocol::extensions::COMPACT)
    }

    /// How long the peer may keep silent while a reply is awaited.
    pub fn stall(&self) -> Duration {
        self.stall
    }

    /// Counts complete replies read on the current connection.
    pub fn replied(&mut self, replies: usize) {
        self.replies += replies;
    }

    /// Before requests with nothing in flight: a fresh connection if the peer takes one request
    /// per connection and this one has had its reply.
    pub async fn ready(&mut self) -> Result<(), PeerFailure> {
        if self.window.one_per_connection() && self.replies > 0 {
            self.reconnect().await?;
        }
        Ok(())
    }

    /// After `failure`: true if the peer only closed between messages after a complete reply
    /// and a new connection is now open (the caller sends the unanswered requests again).
    pub async fn recover(&mut self, failure: &PeerFailure) -> bool {
        if !failure.ended_between_messages() || self.replies == 0 || self.conn.has_partial() {
            return false;
        }
        if self.replies == 1 {
            self.window.learn_one_per_connection();
        }
        tracing::debug!(peer = %self.peer.id, replies = self.replies, "closed after a reply; reconnecting");
        self.reconnect().await.is_ok()
    }

    /// Sends what is queued on the connection; a peer that does not take it within the stall
    /// timeout is silent.
    pub async fn flush(&mut self) -> Result<(), PeerFailure> {
        flush(&mut self.conn, self.stall).await
    }

    /// Like `flush`, reading replies meanwhile (at most `read_limit` bytes buffered): for
    /// pipelined requests, so that no window is bounded by the socket buffers.
    pub async fn flush_reading(&mut self, read_limit: usize) -> Result<(), PeerFailure> {
        let flushed = self.conn.flush_reading(read_limit).await;
        flushed.map_err(|e| PeerFailure::from_conn(e.into(), self.stall))
    }

    /// Ends the current connection (some servers act on a client's close).
    pub async fn close(&mut self) {
        self.conn.shutdown().await;
    }

    /// A new connection now, whatever the current one's state.
    pub async fn reconnect(&mut self) -> Result<(), PeerFailure> {
        let connect = tokio::net::TcpStream::connect(self.peer.connect_addr());
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(PeerFailure::Connection(ConnError::Io(e))),
            Err(_) => return Err(PeerFailure::Silent(self.connect_timeout)),
        };
        self.conn = Connection::new(stream, self.stall);
        self.replies = 0;
        self.opening = false;
        Ok(())
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
async fn flush(conn: &mut Connection, stall: Duration) -> Result<(), PeerFailure> {
    match tokio::time::timeout(stall, conn.flush()).await {
        Ok(result) => result.map_err(|e| PeerFailure::Connection(e.into())),
        Err(_) => Err(PeerFailure::Silent(stall)),
    }
}
