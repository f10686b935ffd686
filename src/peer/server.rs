//! The peer's server: an accept loop and one task per client connection.
//!
//! A client's mistake is answered with `250 <reason>` (and, when the byte stream can no longer
//! be trusted, a closed connection) and a log line; it never affects other clients.

use std::fs::File;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use super::connection::{ConnError, Connection};
use crate::core::logging::Clip;
use crate::core::net::{Acceptor, AddressCap};
use crate::core::protocol::{
    Framing, Reply, Request, chunk_count, chunk_len, chunk_offset, extensions, fast,
};
use crate::core::store::{Partial, Store, StoreError};

use super::transfer::plain::{self, Answered};

mod download;
mod read_ahead;
use read_ahead::ReadAhead;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Pause after each chunk sent, so a person can kill a peer mid-transfer.
    pub chunk_delay: Duration,
    /// A client silent this long is disconnected (and its upload dropped).
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Connections one client address may hold (`--max-per-address`); `None`: the default
    /// share, loopback exempt (see `net`).
    pub max_per_address: Option<usize>,
}

/// What a client over its address's connection cap reads before the close (one bare reply, as
/// the seed's clients read them).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"250 Too many connections from your address; close one and try again";

/// What a client reads before the close when the peer is at its connection capacity.
pub const SERVER_BUSY: &[u8] = b"250 Server busy: too many connections; try again later";

/// Accepts clients until `shutdown` is cancelled; each connection runs in a task of `tasks`.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let cap = AddressCap::chosen(config.max_per_address, config.max_connections);
    let mut acceptor = Acceptor::new(listener, config.max_connections)
        .with_address_cap(cap)
        .with_refusal(TOO_MANY_CONNECTIONS)
        .with_busy_refusal(SERVER_BUSY);
    while let Some(admitted) = acceptor.next_evicting(&shutdown).await {
        let evicted = admitted.slot.eviction();
        let mut conn = Connection::new(admitted.stream, config.idle_timeout);
        conn.track_idle(admitted.slot);
        let session = Session {
            conn,
            store: Arc::clone(&store),
            config: Arc::clone(&config),
            client: admitted.addr.ip(),
            upload: None,
            received: None,
            download: None,
            read_ahead: ReadAhead::default(),
        };
        let (shutdown, permit) = (shutdown.clone(), admitted.permit);
        tasks.spawn(
            async move {
                debug!("connected");
                tokio::select! {
                    _ = shutdown.cancelled() => debug!("server shutting down"),
                    _ = evicted.cancelled() => debug!("closed while idle, to admit a new client"),
                    end = session.run() => debug!("{end}"),
                }
                drop(permit);
            }
            .instrument(info_span!("client", addr = %admitted.addr)),
        );
    }
}

/// After a refusal that closes the connection, how long and how many bytes of further input
/// are read and thrown away so that the refusal reaches the client before the close.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1 << 20;

/// Queued replies past this are sent without waiting for the batch to end.
const MAX_QUEUED: usize = 64 * 1024;

struct Upload {
    partial: Partial,
    size: u64,
    next_index: u64,
}

struct Session {
    conn: Connection,
    store: Arc<Store>,
    config: Arc<ServerConfig>,
    /// The client's address, which the upload policy judges.
    client: IpAddr,
    upload: Option<Upload>,
    /// The last upload completed on this connection (a course client's end marker names none).
    received: Option<String>,
    /// The file opened by `#DOWNLOAD f`: chunks are served from this handle, as the file was.
    download: Option<OpenDownload>,
    /// Bytes of the download's file read ahead: (offset, data).
    read_ahead: ReadAhead,
}

/// The file a `#DOWNLOAD f` opened on this connection: its chunks are served from this handle,
/// as the file was when `330` was sent.
struct OpenDownload {
    name: String,
    handle: Arc<File>,
    size: u64,
}

/// The extensions this server speaks. Not `compact` at `--chunk-delay`, whose point is the
/// seed's one chunk at a time: a downloader gives a `compact` peer a first flight of requests
/// (`window::FIRST_FLIGHT`), and such a peer should start from two, as the seed's exchange.
fn extensions_spoken(chunk_delay: std::time::Duration) -> Reply {
    let mut names = vec![extensions::PIPELINE, extensions::DIGEST];
    if chunk_delay.is_zero() {
        names.push(extensions::COMPACT);
    }
    Reply::Extensions(names.into_iter().map(str::to_string).collect())
}

/// Whether the session goes on after a request.
enum Next {
    Continue,
    Close(&'static str),
}

/// The names in served_files/ (a directory scan: off the async workers).
async fn served_names(store: &Arc<Store>) -> Vec<String> {
    let store = Arc::clone(store);
    let listed = tokio::task::spawn_blocking(move || store.list()).await;
    match listed.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
        Ok(files) => files.into_iter().map(|f| f.name).collect(),
        Err(e) => {
            warn!(error = %e, "cannot list served_files");
            Vec::new()
        }
    }
}

impl Session {
    async fn run(mut self) -> String {
        // The synchronizer's file request (seed 002) shares the port: it does not start with '#'.
        match self.conn.peek_first().await {
            Ok(Some(b'#' | b'\r' | b'\n')) => {}
            Ok(Some(_)) => return self.plain_file_request().await,
            Ok(None) => return "client closed the connection".into(),
            Err(e) => return format!("connection ended: {e}"),
        }
        loop {
            if let Err(e) = self.answer_buffered_chunk_requests().await {
                return self.closed(&format!("send failed: {e}"));
            }
            let upload_size = self.upload.as_ref().map(|u| u.size);
            let request = match self.conn.read_request(upload_size).await {
                Ok(Some(request)) => request,
                Ok(None) => return self.closed("client closed the connection"),
                Err(ConnError::Protocol(e)) => {
                    info!(reason = %Clip(&e.to_string()), "bad request");
                    // Released before the refusal is written: a client that reads it and
                    // retries at once finds the name free.
                    self.abandon_upload("closed after a bad request");
                    let _ = self
                        .conn
                        .send_reply(&Reply::Refused(e.to_string()), Framing::Bare)
                        .await;
                    self.conn.linger_close(LINGER, LINGER_BYTES).await;
                    return self.closed("closed after a bad request");
                }
                Err(e) => return self.closed(&format!("connection ended: {e}")),
            };
            debug!(request = %Clip(&request.text()), "request");
            match self.handle(request.message, request.framing).await {
                Ok(Next::Continue) => {}
                Ok(Next::Close(why)) => {
                    let _ = self.conn.flush().await;
                    return self.closed(why);
                }
                Err(e) => return self.closed(&format!("send failed: {e}")),
            }
        }
    }

    /// Answers a synchronizer's plain file request from served_files (seed 002).
    async fn plain_file_request(&mut self) -> String {
        let store = Arc::clone(&self.store);
        let open = |name: &str| store.open_served(name).ok().flatten().map(|(file, _)| file);
        match plain::answer(&mut self.conn, open).await {
            Answered::Sent { name, bytes } => {
                info!(file = %Clip(&name), sent = bytes, "file request served");
                "file request served".into()
            }
            Answered::NotHere { name } => {
                info!(file = %Clip(&name), "file request for a file not served; closing");
                "file request for a file not served".into()
            }
            Answered::Failed { name, why } => {
                format!("file request for {} failed: {why}", Clip(&name))
            }
        }
    }

    fn closed(&mut self, why: &str) -> String {
        self.abandon_upload(why);
        why.to_string()
    }

    /// Ends the upload in progress, if any: its partial file removed and its name released
    /// (by dropping the `Partial`), then said in the log. Called before any reply or close that
    /// ends the upload, so that what the client reads is already true.
    fn abandon_upload(&mut self, why: &str) {
        if let Some(upload) = self.upload.take() {
            let file = upload.partial.name().to_string();
            drop(upload);
            info!(%file, "upload abandoned ({why}); partial file removed");
        }
    }

    /// Sends a reply: at once, in its own write, to a seed-style (bare) client; queued for a
    /// line-framed (pipelining) client, to go out with the rest of the batch.
    async fn reply(&mut self, reply: Reply, framing: Framing) -> std::io::Result<()> {
        debug!(reply = %reply, "reply");
        self.conn.queue_reply(&reply, framing);
        if framing == Framing::Bare || self.conn.queued() >= MAX_QUEUED {
            self.conn.flush().await?;
        }
        Ok(())
    }

    async fn handle(&mut self, request: Request, framing: Framing) -> std::io::Result<Next> {
        let (reply, next) = match request {
            Request::FileList => (
                Reply::FilesServed(served_names(&self.store).await),
                Next::Close("file list sent"),
            ),
            // The connection stays: a download's probe asks `#DIGEST` in the same write.
            Request::Extensions => (extensions_spoken(self.config.chunk_delay), Next::Continue),
            Request::Digest { file } => (self.digest(file).await, Next::Close("digest sent")),
            Request::UploadStart { file, size } => {
                return self.upload_start(file, size, framing).await;
            }
            Request::UploadChunk {
                file,
                index,
                payload,
            } => return self.upload_chunk(file, index, &payload, framing).await,
            Request::DownloadStart { file } => (self.ready_to_send(file), Next::Continue),
            Request::DownloadChunk { file, index } => {
                return self.download_chunk(file, index, framing, false).await;
            }
            Request::CompactChunk { index } => match &self.download {
                Some(open) => {
                    let file = open.name.clone();
                    return self.download_chunk(file, index, framing, true).await;
                }
                None => (
                    Reply::Refused("No download open on this connection".into()),
                    Next::Continue,
                ),
            },
            Request::EndMarker(_) => (self.confirmation_again(), Next::Continue),
        };
        if let Next::Close(_) = next {
            // The close after the reply ends the upload: released before the reply is written.
            self.abandon_upload("the connection ends after this reply");
        }
        self.reply(reply, framing).await?;
        Ok(next)
    }

    async fn digest(&self, file: String) -> Reply {
        match super::content::describe(&self.store, &file).await {
            Some(digest) => Reply::Digest {
                file,
                digest: Box::new((*digest).clone()),
            },
            None => Reply::NotServing { file },
        }
    }

    fn ready_to_send(&mut self, file: String) -> Reply {
        match self.open_for_download(&file) {
            Some((_, size)) => {
                super::content::describe_soon(&self.store, &file);
                Reply::ReadyToSend { file, size }
            }
            None => Reply::NotServing { file },
        }
    }

    /// A course client's private end marker: the confirmation again, if there is one.
    fn confirmation_again(&self) -> Reply {
        match &self.received {
            Some(file) => Reply::FileReceived { file: file.clone() },
            None => Reply::Refused("No upload to complete".into()),
        }
    }

    async fn upload_start(
        &mut self,
        file: String,
        size: u64,
        framing: Framing,
    ) -> std::io::Result<Next> {
        if let Some(old) = self.upload.take() {
            info!(
                file = old.partial.name(),
                "new #UPLOAD before the last one finished; dropped it"
            );
        }
        let partial = match self.store.reserve_upload(&file, size, self.client) {
            Ok(partial) => partial,
            Err(e) => {
                info!(file = %Clip(&file), reason = %Clip(&e.to_string()), "upload refused");
                let reply = match e {
                    StoreError::CurrentlyReceiving(file) => Reply::CurrentlyReceiving { file },
                    StoreError::AlreadyServing(file) => Reply::AlreadyServing { file },
                    StoreError::TooLarge { name, .. } => {
                        Reply::Refused(format!("File {name} too large"))
                    }
                    other => Reply::Refused(other.for_client()),
                };
                self.reply(reply, framing).await?;
                return Ok(Next::Continue);
            }
        };
        info!(%file, size, "receiving upload");
        self.reply(Reply::ReadyToReceive { file: file.clone() }, framing)
            .await?;
        self.upload = Some(Upload {
            partial,
            size,
            next_index: 0,
        });
        if size == 0 {
            return self.finish_upload(file, framing).await;
        }
        Ok(Next::Continue)
    }

    async fn upload_chunk(
        &mut self,
        file: String,
        index: u64,
        payload: &[u8],
        framing: Framing,
    ) -> std::io::Result<Next> {
        // Each refusal below ends the upload: released first, then the reply is written.
        let Some(upload) = self.upload.as_mut().filter(|u| u.partial.name() == file) else {
            self.abandon_upload("a chunk of another file");
            let reply = Reply::Refused(format!("No upload of file {file} in progress"));
            self.reply(reply, framing).await?;
            return Ok(Next::Close("chunk without an upload"));
        };
        if index != upload.next_index {
            let expected = upload.next_index;
            self.abandon_upload("chunk out of order");
            let reply = Reply::Refused(format!(
                "Invalid chunk {index} of file {file}, expected chunk {expected}"
            ));
            self.reply(reply, framing).await?;
            return Ok(Next::Close("chunk out of order"));
        }
        if let Err(e) = upload.partial.put(chunk_offset(index), payload) {
            warn!(%file, error = %e, "cannot write upload");
            self.abandon_upload("write failed");
            // The client is told what failed, not where: local paths stay in the log.
            let reply = Reply::Refused(format!("Cannot store file {file}: {}", e.kind()));
            self.reply(reply, framing).await?;
            return Ok(Next::Close("write failed"));
        }
        upload.next_index += 1;
        let complete = upload.next_index == chunk_count(upload.size);
        self.reply(
            Reply::ChunkReceived {
                file: file.clone(),
                index,
            },
            framing,
        )
        .await?;
        if complete {
            return self.finish_upload(file, framing).await;
        }
        Ok(Next::Continue)
    }

    async fn finish_upload(&mut self, file: String, framing: Framing) -> std::io::Result<Next> {
        let Some(upload) = self.upload.take() else {
            return Ok(Next::Continue);
        };
        let committed = tokio::task::spawn_blocking(move || upload.partial.commit()).await;
        let reply = match committed {
            Ok(Ok(())) => {
                info!(%file, "upload complete");
                self.received = Some(file.clone());
                Reply::FileReceived { file }
            }
            Ok(Err(e)) => {
                warn!(%file, error = %e, "cannot save upload");
                Reply::Refused(format!("Cannot save file {file}: {}", e.for_client()))
            }
            Err(e) => Reply::Refused(format!("Cannot save file {file}: {e}")),
        };
        self.reply(reply, framing).await?;
        Ok(Next::Continue)
    }

    /// The `#UPLOAD f chunk i <payload>` requests already buffered for this connection's
    /// upload, in order, stored and acknowledged without the general decoder and encoder
    /// ([`fast`]). The last chunk, and anything unexpected (out of order, another file, not
    /// yet whole, a write that fails), is left to the general path, which finishes the upload
    /// or refuses as always.
    async fn take_buffered_upload_chunks(&mut self) -> std::io::Result<()> {
        let Some(upload) = self.upload.as_mut() else {
            return Ok(());
        };
        let name = upload.partial.name().to_string();
        let last = chunk_count(upload.size).saturating_sub(1);
        loop {
            let Some(upload) = self.upload.as_mut() else {
                return Ok(());
            };
            let Some((index, payload, used)) =
                fast::upload_chunk(self.conn.buffered(), &name, upload.size)
            else {
                return Ok(());
            };
            if index != upload.next_index || index >= last {
                return Ok(());
            }
            if upload
                .partial
                .put(chunk_offset(index), &self.conn.buffered()[payload])
                .is_err()
            {
                return Ok(());
            }
            upload.next_index += 1;
            self.conn.consume_request(used);
            fast::write_chunk_ack(self.conn.queue(), &name, index);
            if self.conn.queued() >= MAX_QUEUED {
                self.conn.flush().await?;
            }
        }
    }

    /// The `#DOWNLOAD f chunk i` requests already buffered for the file this connection has
    /// open, answered without the general decoder and encoder ([`fast`]): nearly all of a
    /// download's traffic. Anything else (another file, a bad chunk, a request not yet whole)
    /// is left to the general path, which answers it as always. Not at `--chunk-delay`, whose
    /// point is one chunk at a time.
    async fn answer_buffered_chunk_requests(&mut self) -> std::io::Result<()> {
        if !self.conn.is_line_peer() || !self.config.chunk_delay.is_zero() {
            return Ok(());
        }
        if self.upload.is_some() {
            return self.take_buffered_upload_chunks().await;
        }
        let Some(open) = &self.download else {
            return Ok(());
        };
        let (name, handle, size) = (open.name.clone(), Arc::clone(&open.handle), open.size);
        loop {
            let buffered = self.conn.buffered();
            let (index, used, compact) = match fast::chunk_request(buffered, &name) {
                Some((index, used)) => (index, used, false),
                None => match fast::compact_request(buffered) {
                    Some((index, used)) => (index, used, true),
                    None => break,
                },
            };
            let Some(len) = chunk_len(size, index) else {
                break;
            };
            let Ok(at) = self
                .read_ahead
                .load(&handle, size, chunk_offset(index), len)
                .await
            else {
                break;
            };
            self.conn.consume_request(used);
            let payload = &self.read_ahead.data[at..at + len];
            if compact {
                fast::write_compact_reply(self.conn.queue(), payload);
            } else {
                fast::write_chunk_reply(self.conn.queue(), &name, index, payload);
            }
            if self.conn.queued() >= MAX_QUEUED {
                self.conn.flush().await?;
            }
        }
        Ok(())
    }
}
