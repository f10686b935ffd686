//! Servers that the client checker plays: honest ones, and ones that refuse, serve nothing, leave
//! (close everything and stop listening) or go silent (keep every connection open and answer
//! nothing, as a stopped process does) after a few chunks. Each records what it was asked, so the
//! checker can judge the client's round robin and what it uploaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::wire::{Ctx, escape_line};
use crate::core::protocol::{
    Framing, Reply, Request, chunk_count, chunk_len, chunk_offset, decode_request,
};

/// How a played server behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// The files it serves.
    pub files: HashMap<String, Vec<u8>>,
    /// Names it is receiving from another client: `#UPLOAD` of one answers `250 Currently
    /// receiving file f`.
    pub receiving: Vec<String>,
    /// After answering this many chunk requests (uploaded or downloaded, all connections
    /// together), the next one makes it leave or go silent.
    pub fault_after_chunks: Option<(usize, Fault)>,
    /// Sleeps this long before answering a chunk request (a transfer long enough to interrupt).
    pub chunk_delay: Duration,
}

/// How a played server stops taking part in a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Closes every connection and stops listening (a killed server).
    Leave,
    /// Answers nothing more on any connection, old or new, but keeps them open (a stopped or
    /// hung server).
    Silent,
}

/// What a played server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// `#DOWNLOAD f chunk i` indices, in arrival order.
    pub chunks_asked: Vec<u64>,
    /// Files uploaded completely.
    pub uploaded: HashMap<String, Vec<u8>>,
    /// Seed requests received (`#FILELIST`, `#UPLOAD`, `#DOWNLOAD`).
    pub requests: usize,
}

/// Where a played server notes what it receives and sends: the case's journal, under its peer
/// ID.
#[derive(Clone)]
pub struct Tap {
    pub ctx: Ctx,
    pub peer: String,
}

impl Tap {
    fn received(&self, request: &Request) {
        let payload = match request {
            Request::UploadChunk { payload, .. } => format!(" <{} payload bytes>", payload.len()),
            _ => String::new(),
        };
        let text = escape_line(request.to_string().as_bytes());
        self.ctx
            .note(format!("{} < \"{text}\"{payload}", self.peer));
    }

    fn sent(&self, reply: &Reply) {
        let payload = match reply {
            Reply::Chunk { payload, .. } => format!(" <{} payload bytes>", payload.len()),
            _ => String::new(),
        };
        let text = escape_line(reply.to_string().as_bytes());
        self.ctx
            .to_client(format!("{} > \"{text}\"{payload}", self.peer));
    }
}

pub struct Played {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
}

/// Starts a played server on a free loopback port; it stops when `stop` is cancelled.
pub async fn start(
    behaviour: Behaviour,
    stop: CancellationToken,
    tap: Tap,
) -> std::io::Result<Played> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Arc::new(State {
        behaviour,
        seen: Arc::clone(&seen),
        chunks_served: Mutex::new(0),
        left: stop.child_token(),
        silent: CancellationToken::new(),
        tap,
    });
    tokio::spawn(async move {
        loop {
            // `biased`: once the server has left, a connection that is also waiting is never
            // served (select! would otherwise pick either at random, and a client reconnecting
            // after the leave found a server that answered it).
            tokio::select! {
                biased;
                _ = state.left.cancelled() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { break };
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let left = state.left.clone();
                        tokio::select! {
                            biased;
                            _ = left.cancelled() => {}
                            _ = serve(stream, &state) => {}
                        }
                    });
                }
            }
        }
    });
    Ok(Played { port, seen })
}

/// A free loopback port with nothing listening on it (an offline server).
pub async fn offline_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    listener.local_addr().map(|a| a.port())
}

const READ_SIZE: usize = 64 * 1024;

struct State {
    behaviour: Behaviour,
    seen: Arc<Mutex<Seen>>,
    chunks_served: Mutex<usize>,
    /// Cancelled when the server leaves: every connection and the listener close.
    left: CancellationToken,
    /// Cancelled when the server goes silent: every connection reads and answers nothing.
    silent: CancellationToken,
    tap: Tap,
}

struct Upload {
    file: String,
    size: u64,
    data: Vec<u8>,
}

async fn serve(mut stream: TcpStream, state: &State) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::new();
    let mut upload: Option<Upload> = None;
    loop {
        if state.silent.is_cancelled() {
            return hold(stream, state).await;
        }
        let size = upload.as_ref().map(|u| u.size);
        let request = match decode_request(&mut buf, size, true) {
            Ok(Some(decoded)) => {
                state.tap.received(&decoded.message);
                decoded.message
            }
            Ok(None) => {
                // Room for a whole message in one read: a request cut short by a full buffer
                // would be taken as complete (the client waits at rest).
                buf.reserve(READ_SIZE);
                match stream.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
            Err(e) => {
                let _ = send(&mut stream, state, &Reply::Refused(e.to_string())).await;
                return;
            }
        };
        if !answer(&mut stream, state, request, &mut upload).await {
            if state.silent.is_cancelled() {
                return hold(stream, state).await;
            }
            return;
        }
    }
}

/// A silent server's connection: whatever arrives is read and never answered, until the client
/// closes it or the lab ends.
async fn hold(mut stream: TcpStream, state: &State) {
    let mut sink = vec![0u8; READ_SIZE];
    loop {
        tokio::select! {
            _ = state.left.cancelled() => return,
            read = stream.read(&mut sink) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

async fn send(stream: &mut TcpStream, state: &State, reply: &Reply) -> std::io::Result<()> {
    state.tap.sent(reply);
    let mut out = BytesMut::new();
    reply.encode(&mut out, Framing::Bare);
    stream.write_all(&out).await
}

/// Answers one request; `false` ends the connection.
async fn answer(
    stream: &mut TcpStream,
    state: &State,
    request: Request,
    upload: &mut Option<Upload>,
) -> bool {
    if !matches!(request, Request::Extensions | Request::Digest { .. }) {
        if let Ok(mut seen) = state.seen.lock() {
            seen.requests += 1;
        }
    }
    let next = match request {
        Request::FileList => {
            let mut names: Vec<String> = state.behaviour.files.keys().cloned().collect();
            names.sort();
            Next::Reply(Reply::FilesServed(names))
        }
        Request::Extensions
        | Request::Digest { .. }
        | Request::CompactChunk { .. }
        | Request::EndMarker(_) => Next::End,
        Request::UploadStart { file, size } => Next::Reply(upload_start(state, file, size, upload)),
        Request::UploadChunk {
            file,
            index,
            payload,
        } => upload_chunk(stream, state, (file, index, &payload), upload).await,
        Request::DownloadStart { file } => Next::Reply(match state.behaviour.files.get(&file) {
            Some(data) => Reply::ReadyToSend {
                size: data.len() as u64,
                file,
            },
            None => Reply::NotServing { file },
        }),
        Request::DownloadChunk { file, index } => download_chunk(state, file, index).await,
    };
    match next {
        Next::Reply(reply) => send(stream, state, &reply).await.is_ok(),
        Next::Continue => true,
        Next::End => false,
    }
}

/// What follows a request: a reply, nothing yet (an upload goes on), or the end of the
/// connection.
enum Next {
    Reply(Reply),
    Continue,
    End,
}

fn upload_start(state: &State, file: String, size: u64, upload: &mut Option<Upload>) -> Reply {
    if state.behaviour.receiving.contains(&file) {
        Reply::CurrentlyReceiving { file }
    } else if state.behaviour.files.contains_key(&file) {
        Reply::AlreadyServing { file }
    } else {
        *upload = Some(Upload {
            file: file.clone(),
            size,
            data: Vec::new(),
        });
        Reply::ReadyToReceive { file }
    }
}

/// One uploaded chunk: acknowledged; after the last, the upload is kept and its end said.
async fn upload_chunk(
    stream: &mut TcpStream,
    state: &State,
    (file, index, payload): (String, u64, &[u8]),
    upload: &mut Option<Upload>,
) -> Next {
    let Some(u) = upload.as_mut().filter(|u| u.file == file) else {
        return Next::End;
    };
    if !chunk_goes_on(state).await {
        return Next::End;
    }
    u.data.extend_from_slice(payload);
    let done = index + 1 == chunk_count(u.size);
    let ack = Reply::ChunkReceived {
        file: file.clone(),
        index,
    };
    if send(stream, state, &ack).await.is_err() {
        return Next::End;
    }
    if !done {
        return Next::Continue;
    }
    if let (Some(u), Ok(mut seen)) = (upload.take(), state.seen.lock()) {
        seen.uploaded.insert(u.file, u.data);
    }
    // A separate write a moment later, so a client reading one message per recv()
    // sees the two replies apart.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Next::Reply(Reply::FileReceived { file })
}

async fn download_chunk(state: &State, file: String, index: u64) -> Next {
    let Some(data) = state.behaviour.files.get(&file) else {
        return Next::End;
    };
    if let Ok(mut seen) = state.seen.lock() {
        seen.chunks_asked.push(index);
    }
    if !chunk_goes_on(state).await {
        return Next::End;
    }
    let Some(len) = chunk_len(data.len() as u64, index) else {
        return Next::End;
    };
    let start = chunk_offset(index) as usize;
    Next::Reply(Reply::Chunk {
        file,
        index,
        payload: bytes::Bytes::copy_from_slice(&data[start..start + len]),
    })
}

/// Before answering a chunk request: waits the chunk delay, then `false` if this request is the
/// one that makes the server leave or go silent (it is not answered).
async fn chunk_goes_on(state: &State) -> bool {
    if !state.behaviour.chunk_delay.is_zero() {
        tokio::time::sleep(state.behaviour.chunk_delay).await;
    }
    let Some((limit, fault)) = state.behaviour.fault_after_chunks else {
        return true;
    };
    let tripped = match state.chunks_served.lock() {
        Ok(mut served) => {
            *served += 1;
            *served > limit
        }
        Err(_) => true,
    };
    if tripped {
        match fault {
            Fault::Leave => state.left.cancel(),
            Fault::Silent => state.silent.cancel(),
        }
    }
    !tripped
}
