//! A session's download side: the file a `#DOWNLOAD f` opened, and its chunks, in the seed's
//! reply or compact (`+` and the bytes), through the general path one request at a time.

use std::fs::File;
use std::sync::Arc;

use super::{MAX_QUEUED, Next, OpenDownload, ReadAhead, Session};
use tracing::warn;

use crate::core::protocol::{Framing, Reply, chunk_len, chunk_offset, fast};

impl Session {
    pub(super) fn open_for_download(&mut self, file: &str) -> Option<(Arc<File>, u64)> {
        if let Some(open) = &self.download
            && open.name == file
        {
            return Some((Arc::clone(&open.handle), open.size));
        }
        match self.store.open_served(file) {
            Ok(Some((handle, size))) => {
                let handle = Arc::new(handle);
                self.download = Some(OpenDownload {
                    name: file.to_string(),
                    handle: Arc::clone(&handle),
                    size,
                });
                self.read_ahead = ReadAhead::default();
                Some((handle, size))
            }
            Ok(None) => None,
            Err(e) => {
                warn!(%file, error = %e, "cannot open served file");
                None
            }
        }
    }

    /// Chunk `index` of `file`, in the seed's reply or (`compact`) as `+` and its bytes.
    pub(super) async fn download_chunk(
        &mut self,
        file: String,
        index: u64,
        framing: Framing,
        compact: bool,
    ) -> std::io::Result<Next> {
        let Some((handle, size)) = self.open_for_download(&file) else {
            self.reply(Reply::NotServing { file }, framing).await?;
            return Ok(Next::Continue);
        };
        let Some(len) = chunk_len(size, index) else {
            self.reply(
                Reply::Refused(format!("Invalid chunk {index} of file {file}")),
                framing,
            )
            .await?;
            return Ok(Next::Continue);
        };
        let payload = match self
            .read_chunk(&handle, size, chunk_offset(index), len)
            .await
        {
            Ok(payload) => payload,
            Err(e) => {
                warn!(%file, error = %e, "cannot read served file");
                self.reply(Reply::Refused(format!("Cannot read file {file}")), framing)
                    .await?;
                return Ok(Next::Close("read failed"));
            }
        };
        if compact {
            // Queued like any line-framed reply, to go out with the rest of the batch.
            fast::write_compact_reply(self.conn.queue(), &payload);
            if self.conn.queued() >= MAX_QUEUED {
                self.conn.flush().await?;
            }
        } else {
            let reply = Reply::Chunk {
                file,
                index,
                payload,
            };
            self.reply(reply, framing).await?;
        }
        if !self.config.chunk_delay.is_zero() {
            self.conn.flush().await?;
            tokio::time::sleep(self.config.chunk_delay).await;
        }
        Ok(Next::Continue)
    }

    /// `len` bytes at `offset`, from the read-ahead buffer, refilled by one large read when the
    /// chunk is not in it (chunks are mostly asked for in order).
    pub(super) async fn read_chunk(
        &mut self,
        handle: &Arc<File>,
        size: u64,
        offset: u64,
        len: usize,
    ) -> std::io::Result<bytes::Bytes> {
        let at = self.read_ahead.load(handle, size, offset, len).await?;
        Ok(self.read_ahead.data.slice(at..at + len))
    }
}
