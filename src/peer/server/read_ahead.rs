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
    /// Makes sure `len` bytes at `offset` are in `data` (one large read if not); where they
    /// start in it. The read is done in place when the page cache holds every byte (almost
    /// always: a served file is read again and again), else on a blocking thread: a disk may be
    /// slow, and the async workers must not wait for it. Handing every read to a thread and back
    /// cost a serving peer a quarter more CPU (perf: the wake-ups, `finish_task_switch`).
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
            let mut fresh = vec![0; want.max(len)];
            if !read_cached(handle, &mut fresh, offset) {
                let handle = Arc::clone(handle);
                fresh = tokio::task::spawn_blocking(move || {
                    handle.read_exact_at(&mut fresh, offset).map(|()| fresh)
                })
                .await
                .map_err(std::io::Error::other)??;
            }
            self.start = offset;
            self.data = bytes::Bytes::from(fresh);
        }
        Ok((offset - self.start) as usize)
    }
}

/// Fills `buf` from `offset` of `file` if the page cache holds all of it, without waiting for
/// the disk (`preadv2` with `RWF_NOWAIT`); false if it does not (or the file system cannot
/// say, or the file is shorter): the caller reads it the ordinary way.
fn read_cached(file: &File, buf: &mut [u8], offset: u64) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(offset) = libc::off_t::try_from(offset) else {
        return false;
    };
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, which is valid for writes of `buf.len()` bytes and
    // outlives the call; the descriptor is open for as long as `file` is borrowed.
    let read = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    // A short read (part of the range cached, or end of file) is redone in full the usual way.
    usize::try_from(read).is_ok_and(|n| n == buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, Arc<File>) {
        let mut temp = tempfile::NamedTempFile::new().unwrap();
        temp.write_all(bytes).unwrap();
        temp.flush().unwrap();
        let handle = Arc::new(File::open(temp.path()).unwrap());
        (temp, handle)
    }

    #[test]
    fn a_cached_read_gives_the_files_bytes_or_declines() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (_temp, handle) = file_of(&bytes);
        let mut buf = vec![0; 1000];
        // Just written, so cached (where the file system can say so at all).
        if read_cached(&handle, &mut buf, 12_345) {
            assert_eq!(buf, bytes[12_345..13_345]);
        }
        // Past the end: short, so declined, whatever the cache holds.
        assert!(!read_cached(&handle, &mut buf, 299_500));
    }

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
