//! Whole cached files sent with `sendfile(2)` instead of copied into the socket.
//!
//! A profile of `--web` serving a 1 MiB file from memory showed nearly half the server's time in
//! the kernel's `_copy_from_iter`: every response copied its megabyte from our memory into the
//! socket. nginx sends the page cache's pages with `sendfile` instead. So a cached file of at
//! least [`MIN_LEN`] bytes is kept in a [`Sealed`] copy: a `memfd` that can no longer change
//! (sealed against writes and resizes), mapped read-only. Its mapping is the body hyper is given
//! (a `Bytes`, no copy); the connection's socket wrapper recognises that memory among the slices
//! hyper writes and hands the kernel the `memfd`'s pages instead ([`Sends::poll_write_vectored`]).
//!
//! Nothing depends on the recognition for correctness: memory it does not recognise is written
//! as usual, and the mapping is the same bytes.

use std::ffi::c_void;
use std::io::{self, IoSlice};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use nix::sys::socket::{MsgFlags, SockaddrStorage, sendmsg};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::core::locks::LockExt;

/// Files smaller than this are copied as before: for them one copy costs less than the extra
/// system call, and the bound keeps the number of `memfd`s (one file descriptor each) at most
/// the cache's capacity / `MIN_LEN` (256 for 64 MiB).
pub const MIN_LEN: u64 = 256 << 10;

/// An immutable in-memory copy of a file: a sealed `memfd`, mapped read-only.
pub struct Sealed {
    fd: OwnedFd,
    ptr: NonNull<c_void>,
    len: usize,
}

// SAFETY: the mapping is read-only and the memfd is sealed against writes, shrinking and
// growing: the memory never changes and stays valid until `drop` unmaps it.
unsafe impl Send for Sealed {}
unsafe impl Sync for Sealed {}

impl Sealed {
    /// Copies what `source` yields (at most `limit` bytes) into a new sealed `memfd`. `None` for
    /// nothing read.
    pub fn copy_of(source: impl io::Read, limit: u64) -> io::Result<Option<Sealed>> {
        let fd = memfd_create(
            "p2p-tui-web-cache",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )?;
        let mut file = std::fs::File::from(fd);
        let len = io::copy(&mut source.take(limit), &mut file)?;
        let fd = OwnedFd::from(file);
        let Some(length) = NonZeroUsize::new(len as usize) else {
            return Ok(None);
        };
        fcntl(
            &fd,
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_SHRINK
                    | SealFlag::F_SEAL_GROW
                    | SealFlag::F_SEAL_WRITE
                    | SealFlag::F_SEAL_SEAL,
            ),
        )?;
        // SAFETY: a fresh shared read-only mapping of a sealed memfd of exactly `length` bytes:
        // it cannot be truncated under us (no SIGBUS) nor written.
        let ptr = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ,
                MapFlags::MAP_SHARED,
                &fd,
                0,
            )?
        };
        Ok(Some(Sealed {
            fd,
            ptr,
            len: length.get(),
        }))
    }

    /// The contents, without a copy (the `Bytes` keeps `self` alive).
    pub fn bytes(self: &Arc<Self>) -> Bytes {
        Bytes::from_owner(Contents(Arc::clone(self)))
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes that never change while `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr() as *const u8, self.len) }
    }

    /// Where `slice` starts in this copy, if it lies wholly within it.
    fn offset_of(&self, slice: &[u8]) -> Option<usize> {
        let start = self.ptr.as_ptr() as usize;
        let at = slice.as_ptr() as usize;
        (!slice.is_empty() && at >= start && at + slice.len() <= start + self.len)
            .then(|| at - start)
    }
}

impl Drop for Sealed {
    fn drop(&mut self) {
        // SAFETY: mapped in `copy_of` with this length; nothing borrows it once `self` goes
        // (every `Bytes` of it holds an `Arc` of `self`).
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}

struct Contents(Arc<Sealed>);

impl AsRef<[u8]> for Contents {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// One connection's sealed copies in its responses not yet fully written.
#[derive(Default)]
pub struct Sends {
    pending: Mutex<Vec<Arc<Sealed>>>,
}

/// More than this many whole-file responses queued on one connection (hyper queues at most 16
/// buffers) and the oldest is forgotten: its bytes are then copied, still correct.
const MAX_PENDING: usize = 16;

impl Sends {
    /// A response's body is `sealed.bytes()`: send it from the `memfd` when hyper writes it.
    pub fn expect(&self, sealed: Arc<Sealed>) {
        let mut pending = self.pending.lock_unpoisoned();
        if pending.len() >= MAX_PENDING {
            pending.remove(0);
        }
        pending.push(sealed);
    }

    /// Writes `bufs` to `socket` with the first slice that is part of an expected sealed copy
    /// sent by `sendfile` (the slices before it by one `sendmsg` flagged `MSG_MORE`, so a
    /// response's head and body leave together). `None`: no such slice, write as usual.
    pub fn poll_write_vectored(
        &self,
        socket: &TcpStream,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Option<Poll<io::Result<usize>>> {
        let (index, sealed, offset) = {
            let pending = self.pending.lock_unpoisoned();
            if pending.is_empty() {
                return None;
            }
            bufs.iter().enumerate().find_map(|(i, buf)| {
                pending
                    .iter()
                    .find_map(|s| s.offset_of(buf).map(|at| (i, Arc::clone(s), at)))
            })?
        };
        let before = &bufs[..index];
        let count = bufs[index].len();
        loop {
            match socket.poll_write_ready(cx) {
                Poll::Pending => return Some(Poll::Pending),
                Poll::Ready(Err(e)) => return Some(Poll::Ready(Err(e))),
                Poll::Ready(Ok(())) => {}
            }
            let sent = socket.try_io(Interest::WRITABLE, || {
                send_then_sendfile(socket, before, &sealed, offset, count)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok((n, body)) => {
                    if body > 0 && offset + body == sealed.len {
                        // Done with this copy: forget it (once, it may be queued twice).
                        let mut pending = self.pending.lock_unpoisoned();
                        if let Some(i) = pending.iter().position(|s| Arc::ptr_eq(s, &sealed)) {
                            pending.remove(i);
                        }
                    }
                    return Some(Poll::Ready(Ok(n)));
                }
                Err(e) => return Some(Poll::Ready(Err(e))),
            }
        }
    }
}

/// Sends `before` and then `count` bytes of `sealed` from `offset`; returns the bytes sent in
/// all and of `sealed`. `WouldBlock` only if nothing was sent.
fn send_then_sendfile(
    socket: &TcpStream,
    before: &[IoSlice<'_>],
    sealed: &Sealed,
    offset: usize,
    count: usize,
) -> io::Result<(usize, usize)> {
    let mut sent = 0;
    if !before.is_empty() {
        let want: usize = before.iter().map(|b| b.len()).sum();
        sent = sendmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            before,
            &[],
            // (nix has no name for MSG_MORE.)
            MsgFlags::from_bits_retain(nix::libc::MSG_MORE) | MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        if sent < want {
            return Ok((sent, 0));
        }
    }
    let mut at = offset as i64;
    match nix::sys::sendfile::sendfile(socket.as_fd(), &sealed.fd, Some(&mut at), count) {
        Ok(n) => Ok((sent + n, n)),
        // What went before is sent: report that; the error (if it is one) comes back next time.
        Err(_) if sent > 0 => Ok((sent, 0)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_copy_holds_the_bytes_and_cannot_change() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sealed = Arc::new(Sealed::copy_of(&mut &data[..], 1 << 20).unwrap().unwrap());
        let bytes = sealed.bytes();
        assert_eq!(&bytes[..], &data[..]);
        assert_eq!(sealed.offset_of(&bytes[10..20]), Some(10));
        assert_eq!(sealed.offset_of(&data[..]), None);
        // The limit cuts the copy short; nothing read: no copy.
        let short = Sealed::copy_of(&mut &data[..], 1000).unwrap().unwrap();
        assert_eq!(short.as_slice(), &data[..1000]);
        assert!(Sealed::copy_of(&mut &b""[..], 10).unwrap().is_none());
        // Sealed: neither written nor resized.
        let file = std::fs::File::from(sealed.fd.try_clone().unwrap());
        assert!(file.set_len(1).is_err());
        use std::os::unix::fs::FileExt;
        assert!(file.write_at(b"x", 0).is_err());
        drop(bytes);
        assert_eq!(Arc::strong_count(&sealed), 1);
    }

    #[tokio::test]
    async fn a_sealed_body_is_sent_whole_behind_its_head() {
        use tokio::io::AsyncReadExt;
        let data: Vec<u8> = (0..(3u32 << 20)).map(|i| (i * 13 % 253) as u8).collect();
        let sealed = Arc::new(Sealed::copy_of(&mut &data[..], 4 << 20).unwrap().unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        let sends = Sends::default();
        sends.expect(Arc::clone(&sealed));
        let head = b"HEAD\r\n\r\n".to_vec();
        let body = sealed.bytes();
        // As hyper does: write what remains of [head, body] until nothing does.
        let (mut head_at, mut body_at) = (0, 0);
        while body_at < body.len() {
            let bufs = [
                IoSlice::new(&head[head_at..]),
                IoSlice::new(&body[body_at..]),
            ];
            let bufs: Vec<IoSlice> = bufs.into_iter().filter(|b| !b.is_empty()).collect();
            let n =
                std::future::poll_fn(|cx| sends.poll_write_vectored(&server, cx, &bufs).unwrap())
                    .await
                    .unwrap();
            let from_head = n.min(head.len() - head_at);
            head_at += from_head;
            body_at += n - from_head;
        }
        // Sent through: forgotten.
        assert!(sends.pending.lock_unpoisoned().is_empty());
        assert!(
            sends
                .poll_write_vectored(
                    &server,
                    &mut Context::from_waker(std::task::Waker::noop()),
                    &[IoSlice::new(&body)]
                )
                .is_none()
        );
        drop(server);
        let got = reader.await.unwrap();
        assert_eq!(&got[..head.len()], &head[..]);
        assert!(got[head.len()..] == data[..], "body differs");
    }
}
