//! Servers that the client checker plays: honest ones, and ones that refuse, or leave after a
//! few chunks. Each records what it was asked, so the checker can judge the client's round robin
//! and what it uploaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::protocol::{
    Framing, Reply, Request, chunk_count, chunk_len, chunk_offset, decode_request,
};

/// How a played server behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// The files it serves.
    pub files: HashMap<String, Vec<u8>>,
    /// Closes the connection (and stops listening) after answering this many chunk requests.
    pub leave_after_chunks: Option<usize>,
}

/// What a played server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// `#DOWNLOAD f chunk i` indices, in arrival order.
    pub chunks_asked: Vec<u64>,
    /// Files uploaded completely.
    pub uploaded: HashMap<String, Vec<u8>>,
}

pub struct Played {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
}

/// Starts a played server on a free loopback port; it stops when `stop` is cancelled.
pub async fn start(behaviour: Behaviour, stop: CancellationToken) -> std::io::Result<Played> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Arc::new(State {
        behaviour,
        seen: Arc::clone(&seen),
        chunks_served: Mutex::new(0),
        left: stop.child_token(),
    });
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = state.left.cancelled() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { break };
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let left = state.left.clone();
                        tokio::select! {
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
        let size = upload.as_ref().map(|u| u.size);
        let request = match decode_request(&mut buf, size, true) {
            Ok(Some(decoded)) => decoded.message,
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
                let _ = send(&mut stream, &Reply::Refused(e.to_string())).await;
                return;
            }
        };
        if !answer(&mut stream, state, request, &mut upload).await {
            return;
        }
    }
}

async fn send(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
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
    let files = &state.behaviour.files;
    let reply = match request {
        Request::FileList => {
            let mut names: Vec<String> = files.keys().cloned().collect();
            names.sort();
            Reply::FilesServed(names)
        }
        Request::Extensions | Request::Digest { .. } | Request::EndMarker(_) => return false,
        Request::UploadStart { file, size } => {
            if files.contains_key(&file) {
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
        Request::UploadChunk {
            file,
            index,
            payload,
        } => {
            let Some(u) = upload.as_mut().filter(|u| u.file == file) else {
                return false;
            };
            u.data.extend_from_slice(&payload);
            let done = index + 1 == chunk_count(u.size);
            if send(
                stream,
                &Reply::ChunkReceived {
                    file: file.clone(),
                    index,
                },
            )
            .await
            .is_err()
            {
                return false;
            }
            if !done {
                return true;
            }
            if let (Some(u), Ok(mut seen)) = (upload.take(), state.seen.lock()) {
                seen.uploaded.insert(u.file, u.data);
            }
            // A separate write a moment later, so a client reading one message per recv()
            // sees the two replies apart.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Reply::FileReceived { file }
        }
        Request::DownloadStart { file } => match files.get(&file) {
            Some(data) => Reply::ReadyToSend {
                size: data.len() as u64,
                file,
            },
            None => Reply::NotServing { file },
        },
        Request::DownloadChunk { file, index } => {
            let Some(data) = files.get(&file) else {
                return false;
            };
            if let Ok(mut seen) = state.seen.lock() {
                seen.chunks_asked.push(index);
            }
            if leaves_now(state) {
                state.left.cancel();
                return false;
            }
            let Some(len) = chunk_len(data.len() as u64, index) else {
                return false;
            };
            let start = chunk_offset(index) as usize;
            Reply::Chunk {
                file,
                index,
                payload: bytes::Bytes::copy_from_slice(&data[start..start + len]),
            }
        }
    };
    send(stream, &reply).await.is_ok()
}

fn leaves_now(state: &State) -> bool {
    let Some(limit) = state.behaviour.leave_after_chunks else {
        return false;
    };
    let Ok(mut served) = state.chunks_served.lock() else {
        return false;
    };
    *served += 1;
    *served > limit
}
