//! JSON over TCP, the checker's side: seed 002's tracker messages written one per write (each a
//! JSON value and a `\n`, which newline-reading classroom trackers need and stream readers skip),
//! and the replies read as a stream of JSON values, so a reply split across reads or two in one
//! read are both read right. Every message goes into the case's journal. The played tracker of
//! `--check-sync` reads its peer's messages the same way.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::causes;
use crate::check::wire::{Checked, Ctx, fail, show};

/// A JSON value longer than this is not waited for (a directory of thousands of names is far
/// under).
pub const MAX_VALUE: usize = 4 * 1024 * 1024;

/// Messages are shown in the journal cut after this many bytes.
const SHOWN: usize = 160;

/// The next JSON value in `buf`, and how many bytes it took (with the whitespace before it);
/// `Ok(None)` when `buf` holds only part of one (or nothing but whitespace).
pub fn next_value(buf: &[u8]) -> Result<Option<(Value, usize)>, serde_json::Error> {
    let mut values = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => Ok(Some((value, values.byte_offset()))),
        Some(Err(e)) if e.is_eof() => Ok(None),
        Some(Err(e)) => Err(e),
        None => Ok(None),
    }
}

/// What ended a wait for a JSON value.
#[derive(Debug)]
pub enum Ended {
    Closed,
    TimedOut,
    NotJson(String),
}

/// One connection that speaks JSON values, named in the journal (`a > {...}`).
pub struct JsonConn {
    stream: TcpStream,
    buf: Vec<u8>,
    pub name: String,
    ctx: Ctx,
    /// The address the other side sees this connection come from.
    pub local: SocketAddr,
}

impl JsonConn {
    /// Connects to `ctx.addr` from `from` (an address of this host; `None`: any).
    pub async fn connect(ctx: &Ctx, name: &str, from: Option<IpAddr>) -> Checked<JsonConn> {
        let target: SocketAddr = match tokio::net::lookup_host(&ctx.addr).await {
            Ok(mut found) => match found.next() {
                Some(addr) => addr,
                None => return fail(format!("{} names no address", ctx.addr)),
            },
            Err(e) => return fail(format!("{}: {e}", ctx.addr)),
        };
        let connected = match from {
            Some(ip) => connect_from(ip, target).await,
            None => TcpStream::connect(target).await,
        };
        let stream = match connected {
            Ok(stream) => stream,
            Err(e) => {
                ctx.cause(
                    causes::CANNOT_CONNECT,
                    format!("{name}: connecting to {target}: {e}"),
                );
                return fail(format!("{name} cannot connect to {target}: {e}"));
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .or_else(|e| fail(format!("local address: {e}")))?;
        ctx.note(format!("{name} connected from {local}"));
        Ok(JsonConn::new(ctx, name, stream, local))
    }

    pub fn new(ctx: &Ctx, name: &str, stream: TcpStream, local: SocketAddr) -> JsonConn {
        JsonConn {
            stream,
            buf: Vec::new(),
            name: name.to_string(),
            ctx: ctx.clone(),
            local,
        }
    }

    /// Writes `value` and a `\n` in one write.
    pub async fn send(&mut self, value: &Value) -> Checked {
        let mut bytes = value.to_string().into_bytes();
        bytes.push(b'\n');
        self.send_raw(&bytes).await
    }

    /// Writes `bytes` as they are, in one write.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Checked {
        self.ctx
            .note(format!("{} > {}", self.name, show(bytes, SHOWN)));
        if let Err(e) = self.stream.write_all(bytes).await {
            self.ctx.cause(
                causes::CLOSES,
                format!(
                    "{}: the connection was closed before a message could be sent ({e})",
                    self.name
                ),
            );
            return fail(format!("{}: cannot send: {e}", self.name));
        }
        Ok(())
    }

    /// The next JSON value from the other side, within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Value, Ended> {
        let end = tokio::time::Instant::now() + wait;
        loop {
            match next_value(&self.buf) {
                Ok(Some((value, used))) => {
                    self.ctx.note(format!(
                        "{} < {}",
                        self.name,
                        show(self.buf[..used].trim_ascii(), SHOWN)
                    ));
                    self.buf.drain(..used);
                    return Ok(value);
                }
                Ok(None) if self.buf.len() <= MAX_VALUE => {}
                Ok(None) => return Err(Ended::NotJson(format!("over {MAX_VALUE} bytes"))),
                Err(e) => {
                    self.ctx
                        .note(format!("{} < {}", self.name, show(&self.buf, SHOWN)));
                    return Err(Ended::NotJson(e.to_string()));
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(end, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(Ended::TimedOut),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.ctx.note(format!("{} closed", self.name));
                    return Err(Ended::Closed);
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Whether the other side closed the connection (or reset it) within `wait`; what it sent
    /// meanwhile is read and dropped.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let end = tokio::time::Instant::now() + wait;
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(end, self.stream.read(&mut chunk)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

async fn connect_from(ip: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match ip {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(target).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_a_stream() {
        let two = br#" {"a": 1}
{"b": [2]}"#;
        let (first, used) = next_value(two).unwrap().unwrap();
        assert_eq!(first, serde_json::json!({"a": 1}));
        let (second, _) = next_value(&two[used..]).unwrap().unwrap();
        assert_eq!(second, serde_json::json!({"b": [2]}));
        assert!(next_value(br#"{"a": "#).unwrap().is_none());
        assert!(next_value(b"  \n").unwrap().is_none());
        assert!(next_value(b"{]").is_err());
    }
}
