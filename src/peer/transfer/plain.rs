//! The synchronizer's plain file request (seed 002), both sides: the name out, raw bytes back
//! until the holder closes. `request` fetches, `answer` serves; the synchronizer uses both, a
//! peer's server answers on its seed-001 port, and a peer's client fetches (`fetch`) when the
//! tracker's holders are synchronizers, which do not speak seed 001.

use std::fs::File;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::TransferContext;
use crate::core::protocol::lines;
use crate::core::settings::PeerAddr;
use crate::peer::connection::Connection;

/// How long a holder may send nothing before the request is given up.
pub const QUIET: Duration = Duration::from_secs(10);

/// How long a requester may take to finish the name (classroom synchronizers send it and wait).
const NAME_GAP: Duration = Duration::from_millis(300);

/// Why a plain file request brought no file.
#[derive(Debug, Error)]
pub enum PlainError {
    #[error("connection timed out")]
    ConnectTimeout,
    #[error("the holder went quiet")]
    Quiet,
    /// An empty answer is the holder's "not here" (an empty file cannot be told apart).
    #[error("the holder sent nothing")]
    Nothing,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Asks the holder at `addr` for `name`; hands every block received to `put(offset, bytes)`.
/// Returns the bytes received.
pub async fn request(
    addr: &str,
    name: &str,
    connect_timeout: Duration,
    quiet: Duration,
    mut put: impl FnMut(u64, &[u8]) -> std::io::Result<()>,
) -> Result<u64, PlainError> {
    let mut stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| PlainError::ConnectTimeout)??;
    stream.write_all(name.as_bytes()).await?;
    stream.shutdown().await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = tokio::time::timeout(quiet, stream.read(&mut buf))
            .await
            .map_err(|_| PlainError::Quiet)??;
        if n == 0 {
            break;
        }
        put(total, &buf[..n])?;
        total += n as u64;
    }
    if total == 0 {
        return Err(PlainError::Nothing);
    }
    Ok(total)
}

/// What became of a plain file request that `answer` read.
#[derive(Debug)]
pub enum Answered {
    Sent {
        name: String,
        bytes: u64,
    },
    /// Not a file this side serves: closed with nothing (a synchronizer would store any text
    /// as the file's content).
    NotHere {
        name: String,
    },
    Failed {
        name: String,
        why: String,
    },
}

/// Reads a plain file request on `conn` and answers it with the raw bytes of what `open` finds
/// for the name (each write taken within the connection's timeout), or with nothing.
pub async fn answer(conn: &mut Connection, open: impl FnOnce(&str) -> Option<File>) -> Answered {
    let name = match conn.read_plain_name(NAME_GAP).await {
        Ok(name) => name,
        Err(e) => {
            return Answered::Failed {
                name: String::new(),
                why: e.to_string(),
            };
        }
    };
    let answered = match open(&name) {
        Some(file) => match conn.send_file(file).await {
            Ok(bytes) => Answered::Sent { name, bytes },
            Err(e) => Answered::Failed {
                name,
                why: e.to_string(),
            },
        },
        None => Answered::NotHere { name },
    };
    conn.shutdown().await;
    answered
}

/// Fetches `file` from `holder` into served_files (atomically); prints the seed's result line.
pub async fn fetch(
    ctx: &TransferContext,
    file: &str,
    holder: &PeerAddr,
    cancel: &CancellationToken,
) -> bool {
    let out = &ctx.out;
    out.note(lines::plain_fallback(file, &holder.id));
    let result = tokio::select! {
        result = fetch_into_store(ctx, file, holder) => result,
        _ = cancel.cancelled() => Err("cancelled".to_string()),
    };
    match result {
        Ok(bytes) => {
            out.note(lines::plain_received(bytes, file, &holder.id));
            out.outcome(lines::download_result(file, true));
            true
        }
        Err(why) => {
            out.note(lines::plain_failed(&holder.id, &why));
            out.error(lines::download_result(file, false));
            false
        }
    }
}

async fn fetch_into_store(
    ctx: &TransferContext,
    file: &str,
    holder: &PeerAddr,
) -> Result<u64, String> {
    // The size is known only at the end, so no free-space check can be made up front.
    let mut partial = ctx.store.reserve(file, 0).map_err(|e| e.to_string())?;
    let addr = holder.connect_addr();
    let total = request(
        &addr,
        file,
        ctx.options.connect_timeout,
        QUIET,
        |offset, bytes| partial.put(offset, bytes),
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || partial.commit())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(total)
}
