//! The bytes of a served file read ahead for a connection's download: chunks are 100 bytes and
//! mostly asked for in order, so one large read serves hundreds of them.

use std::fs::File;
use std::sync::Arc;

use crate::core::page_cache::read_at;

/// How much of a served file one read brings in (chunks are 100 bytes).
const READ_AHEAD: usize = 256 * 1024;

/// Bytes of the download's file read ahead, from offset `start`.
#[derive(Default)]
pub(super) struct ReadAhead {
    start: u64,
    pub(super) data: bytes::Bytes,
}

impl ReadAhead {
    /// Makes sure `len` bytes at `offset` are in `data` (one large read if not, see
    /// `core::page_cache`); where they start in it.
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
            let fresh = read_at(handle, vec![0; want.max(len)], offset).await?;
            self.start = offset;
            self.data = bytes::Bytes::from(fresh);
        }
        Ok((offset - self.start) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::page_cache::tests::file_of;

    #[tokio::test]
    async fn load_serves_any_offset_and_rereads_behind_it() {
        let bytes: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
        let (_temp, handle) = file_of(&bytes);
        let size = bytes.len() as u64;
        let mut ahead = ReadAhead::default();
        for offset in [0u64, 100, 262_100, 600_000, 699_900, 50, 300_000] {
            let at = ahead.load(&handle, size, offset, 100).await.unwrap();
            let got = &ahead.data[at..at + 100];
            assert_eq!(
                got,
                &bytes[offset as usize..offset as usize + 100],
                "at {offset}"
            );
        }
    }
}
