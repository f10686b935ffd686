//! Reads of a file at an offset without holding up an async worker on a disk: done in place
//! when the page cache holds every byte (almost always for a file read again and again, or just
//! written), else on a blocking thread. Handing every read to a thread and back cost a serving
//! peer a quarter more CPU (perf: the wake-ups, `finish_task_switch`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// `buf` filled from `offset` of `file` (all of it, or an error: a file shorter than that is
/// `UnexpectedEof`).
pub async fn read_at(file: &Arc<File>, mut buf: Vec<u8>, offset: u64) -> io::Result<Vec<u8>> {
    if read_cached(file, &mut buf, offset) {
        return Ok(buf);
    }
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || file.read_exact_at(&mut buf, offset).map(|()| buf))
        .await
        .map_err(io::Error::other)?
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
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A temporary file holding `bytes`, opened for reading.
    pub(crate) fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, Arc<File>) {
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
    async fn read_at_gives_the_files_bytes_or_an_end_of_file_error() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (_temp, handle) = file_of(&bytes);
        let got = read_at(&handle, vec![0; 70_000], 200_000).await.unwrap();
        assert!(got == bytes[200_000..270_000]);
        let short = read_at(&handle, vec![0; 1000], 299_500).await.unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
    }
}
