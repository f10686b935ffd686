//! What `--check-sync` plays on 127.0.0.1: the tracker (it records every message the
//! synchronizer sends, with its time, and answers each with the directory the case set) and
//! file servers (they answer a plain file request with the file's raw bytes and close, or say
//! nothing). Everything stops when the case's token is cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::check::tracker::wire::{Ended, JsonConn};
use crate::check::wire::{Checked, Ctx, fail, show};

/// What the played tracker has received.
#[derive(Debug, Default)]
pub struct TrackerSeen {
    /// Every message, with when it arrived.
    pub messages: Vec<(Instant, Value)>,
    pub connections: usize,
}

pub struct PlayedTracker {
    pub port: u16,
    pub seen: Arc<Mutex<TrackerSeen>>,
}

/// Starts the played tracker; it answers every message with `directory`.
pub async fn tracker(
    ctx: &Ctx,
    directory: Value,
    stop: CancellationToken,
) -> Checked<PlayedTracker> {
    let listener = bind().await?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .or_else(|e| fail(e.to_string()))?;
    let seen: Arc<Mutex<TrackerSeen>> = Arc::default();
    let (ctx, record) = (ctx.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, from)) = accepted else {
                continue;
            };
            if let Ok(mut s) = record.lock() {
                s.connections += 1;
            }
            let conn = JsonConn::new(&ctx, "tracker", stream, from);
            let job = serve_peer(conn, directory.clone(), record.clone());
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = job => {}
                }
            });
        }
    });
    Ok(PlayedTracker { port, seen })
}

/// One synchronizer's connection: each message recorded, then answered.
async fn serve_peer(mut conn: JsonConn, directory: Value, seen: Arc<Mutex<TrackerSeen>>) {
    loop {
        match conn.next(Duration::from_secs(3600)).await {
            Ok(message) => {
                if let Ok(mut s) = seen.lock() {
                    s.messages.push((Instant::now(), message));
                }
                if conn.send(&directory).await.is_err() {
                    return;
                }
            }
            Err(Ended::Closed | Ended::TimedOut | Ended::NotJson(_)) => return,
        }
    }
}

/// How a played file server answers.
#[derive(Debug, Clone)]
pub enum Serve {
    /// The raw bytes of each file it holds, then close.
    Files(HashMap<String, Vec<u8>>),
    /// Accepts, reads, and never answers (its connections stay open).
    Silent,
}

/// What a played file server was asked: each request's bytes.
pub type Asked = Arc<Mutex<Vec<Vec<u8>>>>;

pub struct PlayedServer {
    pub port: u16,
    pub asked: Asked,
}

/// Starts a file server named `name` in the journal (`s1 < "f.txt"`).
pub async fn file_server(
    ctx: &Ctx,
    name: &str,
    serve: Serve,
    stop: CancellationToken,
) -> Checked<PlayedServer> {
    let listener = bind().await?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .or_else(|e| fail(e.to_string()))?;
    let asked: Asked = Arc::default();
    let (ctx, record, name) = (ctx.clone(), asked.clone(), name.to_string());
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            ctx.note(format!("{name} accepted a connection"));
            let job = answer(
                stream,
                ctx.clone(),
                name.clone(),
                serve.clone(),
                record.clone(),
            );
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = job => {}
                }
            });
        }
    });
    Ok(PlayedServer { port, asked })
}

/// A file request's name ends at the end of input, or as soon as the bytes read (whitespace
/// and line ends trimmed) name a file held: classroom synchronizers send the bare name and
/// neither close nor end the line.
async fn answer(mut stream: TcpStream, ctx: Ctx, name: String, serve: Serve, asked: Asked) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    let files = match &serve {
        Serve::Files(files) => files.clone(),
        Serve::Silent => HashMap::new(),
    };
    let bytes = loop {
        let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk)).await;
        let n = match read {
            Ok(Ok(n)) => n,
            _ => return,
        };
        request.extend_from_slice(&chunk[..n]);
        let wanted = String::from_utf8_lossy(request.trim_ascii()).into_owned();
        let silent = matches!(serve, Serve::Silent);
        if n == 0 || silent || files.contains_key(&wanted) || request.len() > 4096 {
            ctx.note(format!("{name} < {}", show(&request, 120)));
            if let Ok(mut a) = asked.lock() {
                a.push(request.clone());
            }
            break files.get(&wanted).cloned();
        }
    };
    if matches!(serve, Serve::Silent) {
        ctx.note(format!("{name} says nothing"));
        let _ = stream.read(&mut chunk).await;
        std::future::pending::<()>().await;
    }
    match bytes {
        Some(bytes) => {
            ctx.note(format!(
                "{name} > {} (the file's bytes), then closes",
                show(&bytes, 40)
            ));
            let _ = stream.write_all(&bytes).await;
        }
        None => ctx.note(format!("{name} closes: no such file")),
    }
    let _ = stream.shutdown().await;
}

async fn bind() -> Checked<TcpListener> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .or_else(|e| fail(format!("cannot listen on 127.0.0.1: {e}")))
}
