//! Fetching a whole file by the synchronizer's plain file request (seed 002): the name out, raw
//! bytes back until the holder closes. Used when the tracker's holders are synchronizers, which do
//! not speak seed 001.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::TransferContext;
use crate::protocol::lines;
use crate::settings::PeerAddr;

const QUIET: Duration = Duration::from_secs(10);

/// Fetches `file` from `holder` into served_files (atomically); prints the seed's result line.
pub async fn fetch(
    ctx: &TransferContext,
    file: &str,
    holder: &PeerAddr,
    cancel: &CancellationToken,
) -> bool {
    let out = &ctx.out;
    out.note(format!(
        "No holder speaks #DOWNLOAD; fetching file {file} from {} by plain file request",
        holder.id
    ));
    let result = tokio::select! {
        result = fetch_into_store(ctx, file, holder) => result,
        _ = cancel.cancelled() => Err("cancelled".to_string()),
    };
    match result {
        Ok(bytes) => {
            out.note(format!(
                "Received {bytes} bytes of file {file} from {}",
                holder.id
            ));
            out.outcome(lines::download_result(file, true));
            true
        }
        Err(why) => {
            out.note(format!("Plain file request to {} failed: {why}", holder.id));
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
    let mut stream = tokio::time::timeout(
        ctx.options.connect_timeout,
        TcpStream::connect(holder.connect_addr()),
    )
    .await
    .map_err(|_| "connection timed out".to_string())?
    .map_err(|e| e.to_string())?;
    stream
        .write_all(file.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.shutdown().await.map_err(|e| e.to_string())?;
    // The size is known only at the end, so no free-space check can be made up front.
    let mut partial = ctx.store.reserve(file, 0).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = tokio::time::timeout(QUIET, stream.read(&mut buf))
            .await
            .map_err(|_| "the holder went quiet".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        partial.put(total, &buf[..n]).map_err(|e| e.to_string())?;
        total += n as u64;
    }
    if total == 0 {
        return Err("the holder sent nothing".into());
    }
    tokio::task::spawn_blocking(move || partial.commit())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(total)
}
