//! The bytes of a served file read ahead for a connection's download: chunks are 100 bytes and
//! mostly asked for in order, so one large read serves hundreds of them.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// How much of a served file one read brings in (chunks are 100 bytes).
const READ_AHEAD: usize = 256 * 1024;

/// Bytes of the download's file read ahead, from offset `start`.
#[derive(Default)]
pub(super) struct ReadAhead {
    start: u64,
    pub(super) data: bytes::Bytes,
}

impl ReadAhead {
    /// Makes sure `len` bytes at `offset` are in `data` (one large read if not, on a blocking
    /// thread: a disk may be slow, the async workers must not wait for it); where they start
    /// in it.
    pub(super) async fn load(
        &mut self,
        handle: &Arc<File>,
        size: u64,
        offset: u64,
        len: usize,
    ) -> std::io::Result<usize> {
        let end = offset + len as u64;
        if offset < self.start || end > self.start + self.data.len() as u64 {
            let want = (size - offset).min(READ_AHEAD as u64) as usize;
            let handle = Arc::clone(handle);
            let fresh = tokio::task::spawn_blocking(move || {
                let mut fresh = vec![0; want.max(len)];
                handle.read_exact_at(&mut fresh, offset).map(|()| fresh)
            })
            .await
            .map_err(std::io::Error::other)??;
            self.start = offset;
            self.data = bytes::Bytes::from(fresh);
        }
        Ok((offset - self.start) as usize)
    }
}
