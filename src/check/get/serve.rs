//! The web server `--check-get` plays for the client under test: on 127.0.0.1, an ephemeral
//! port, one behaviour per case (serve a file, answer 404, or say nothing). It reads the
//! request head, notes it in the case's journal, answers with `Content-Length` and then closes
//! (so a client that reads until the server closes and one that counts bytes both finish), and
//! stops when the case ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::check::wire::{Ctx, show};

/// What the played server does with a request.
#[derive(Clone)]
pub enum Behaviour {
    /// `200 OK` with this file for `GET /name`, else `404 Not Found`.
    Serve {
        name: String,
        media_type: &'static str,
        bytes: Arc<Vec<u8>>,
    },
    /// `404 Not Found` for everything.
    NotFound,
    /// Reads the request and never answers (the connection stays open until the case ends).
    Silent,
}

/// What the played server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The request lines received, e.g. `GET /f.txt HTTP/1.1`.
    pub requests: Vec<String>,
    /// When the first connection was accepted.
    pub first_connection: Option<Instant>,
}

pub struct Played {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
    _stop: DropGuard,
}

/// A request head is at most this long; one not ended within `ctx.grace` of its first byte is
/// answered as it is.
const HEAD_LIMIT: usize = 16 * 1024;

/// The body of the 404 answer.
pub const NOT_FOUND_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>\n";

pub async fn start(ctx: &Ctx, behaviour: Behaviour) -> std::io::Result<Played> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let stop = CancellationToken::new();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (ctx, seen2, token) = (ctx.clone(), Arc::clone(&seen), stop.clone());
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = token.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            if let Ok(mut s) = seen2.lock() {
                s.first_connection.get_or_insert_with(Instant::now);
            }
            let (ctx, seen, b, token) = (
                ctx.clone(),
                Arc::clone(&seen2),
                behaviour.clone(),
                token.clone(),
            );
            tokio::spawn(async move {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = answer(&ctx, stream, &b, &seen) => {}
                }
            });
        }
    });
    Ok(Played {
        port,
        seen,
        _stop: stop.drop_guard(),
    })
}

async fn answer(ctx: &Ctx, mut stream: TcpStream, behaviour: &Behaviour, seen: &Mutex<Seen>) {
    ctx.note("server: a connection".to_string());
    let head = read_head(ctx, &mut stream).await;
    ctx.note(format!("server < {}", show(&head, 200)));
    let line = String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or(&[]))
        .trim()
        .to_string();
    if let Ok(mut s) = seen.lock() {
        s.requests.push(line.clone());
    }
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let (head, body): (String, Vec<u8>) = match behaviour {
        Behaviour::Silent => {
            ctx.note("server: (says nothing)".to_string());
            std::future::pending::<()>().await;
            return;
        }
        Behaviour::Serve {
            name,
            media_type,
            bytes,
        } if target.trim_start_matches('/') == name => (
            response_head("200 OK", media_type, bytes.len()),
            bytes.to_vec(),
        ),
        _ => (
            response_head("404 Not Found", "text/html", NOT_FOUND_PAGE.len()),
            NOT_FOUND_PAGE.as_bytes().to_vec(),
        ),
    };
    ctx.note(format!("server > {}", show(head.as_bytes(), 200)));
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    // In pieces, as a real server's writes reach a client: a client must read until it has
    // them all.
    for piece in body.chunks(16 * 1024) {
        if stream.write_all(piece).await.is_err() {
            ctx.note("server: the client closed before the whole body was sent".to_string());
            return;
        }
    }
    ctx.note(format!("server > body: {} bytes, then closes", body.len()));
    let _ = stream.shutdown().await;
}

fn response_head(status: &str, media_type: &str, length: usize) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

/// Reads the request head: up to its empty line, `HEAD_LIMIT` bytes, the client closing, or
/// `ctx.grace` after its first byte (a head without its empty line is answered all the same).
async fn read_head(ctx: &Ctx, stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut end: Option<Instant> = None;
    loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return head;
        }
        let read = match end {
            Some(end) => match tokio::time::timeout_at(end, stream.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => {
                    ctx.note(
                        "server: (the request has no empty line; answered as it is)".to_string(),
                    );
                    return head;
                }
            },
            None => stream.read(&mut chunk).await,
        };
        match read {
            Ok(0) | Err(_) => return head,
            Ok(n) => {
                head.extend_from_slice(&chunk[..n]);
                end.get_or_insert_with(|| {
                    Instant::now() + ctx.grace.max(Duration::from_millis(500))
                });
                if head.len() > HEAD_LIMIT {
                    return head;
                }
            }
        }
    }
}
