//! The server side of the digest extension: a served file's `ContentDigest`, computed once per
//! (path, size, mtime) on the blocking pool and cached, so repeated downloads of a file cost
//! one read of it. The computation starts at a download's handshake ([`describe_soon`]): the
//! client asks `#DIGEST` a round trip later, and on a distant path the first digest of a large
//! file is then ready when asked (100 MB take about 76 ms here, most of a 100 ms round trip).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use tokio::sync::{OnceCell, Semaphore};

use crate::core::locks::LockExt;
use crate::core::protocol::digest::{ContentDigest, DigestBuilder, group_chunks_for};
use crate::core::store::Store;

/// Digests kept; past this the cache starts over (a bound, not a policy worth more).
const CACHED: usize = 256;

type Key = (PathBuf, u64, Option<SystemTime>);
/// A digest computed once: callers asking while it is computed wait for the same one.
type Slot = Arc<OnceCell<Arc<ContentDigest>>>;

fn cache() -> &'static Mutex<HashMap<Key, Slot>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Slot>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The digest of served file `name` as it is now; `None` if it is not served (or unreadable).
pub async fn describe(store: &Store, name: &str) -> Option<Arc<ContentDigest>> {
    let (file, size) = store.open_served(name).ok()??;
    let mtime = file.metadata().ok().and_then(|m| m.modified().ok());
    let key: Key = (store.served_dir().join(name), size, mtime);
    let slot = slot(key);
    let digest = slot.get_or_try_init(|| async move {
        let _turn = computing().acquire().await.map_err(|_| ())?;
        let computed = tokio::task::spawn_blocking(move || {
            #[cfg(test)]
            let _counted = tests::Computing::start();
            digest_of(&file, size)
        });
        let computed = computed.await;
        computed.map_err(|_| ())?.map(Arc::new).map_err(|_| ())
    });
    digest.await.ok().map(Arc::clone)
}

/// Starts computing the digest of served file `name` in the background (a download's handshake
/// arrived: its `#DIGEST` follows).
pub fn describe_soon(store: &Arc<Store>, name: &str) {
    let (store, name) = (Arc::clone(store), name.to_string());
    tokio::spawn(async move { describe(&store, &name).await });
}

/// Digests computed at once, whoever asks (handshakes and `#DIGEST`s for many files cost a
/// core or two, not one thread per file).
const COMPUTING: usize = 2;

fn computing() -> &'static Semaphore {
    static COMPUTING_NOW: Semaphore = Semaphore::const_new(COMPUTING);
    &COMPUTING_NOW
}

fn slot(key: Key) -> Slot {
    let mut cache = cache().lock_unpoisoned();
    if let Some(slot) = cache.get(&key) {
        return Arc::clone(slot);
    }
    if cache.len() >= CACHED {
        cache.clear();
    }
    Arc::clone(cache.entry(key).or_default())
}

/// Reads `size` bytes of `file` in large blocks and digests them.
fn digest_of(file: &File, size: u64) -> std::io::Result<ContentDigest> {
    const BLOCK: usize = 1 << 20;
    let mut builder = DigestBuilder::new(size, group_chunks_for(size));
    let mut buf = vec![0u8; BLOCK];
    let mut offset = 0u64;
    while offset < size {
        let want = (size - offset).min(BLOCK as u64) as usize;
        file.read_exact_at(&mut buf[..want], offset)?;
        builder.update(&buf[..want]);
        offset += want as u64;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn served(bytes: &[u8]) -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::write(store.served_dir().join("f.bin"), bytes).unwrap();
        (dir, store)
    }

    /// A `#DIGEST` that arrives while the handshake's computation runs waits for it: one
    /// computation, one digest (two would be two `Arc`s).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_digest_asked_while_it_is_computed_is_computed_once() {
        let bytes: Vec<u8> = (0..8u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let (_dir, store) = served(&bytes);
        let (a, b) = tokio::join!(describe(&store, "f.bin"), describe(&store, "f.bin"));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        let again = describe(&store, "f.bin").await.unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(describe(&store, "missing.bin").await.is_none());
    }

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);

    /// Counts the digests being computed, in every test at once.
    pub(super) struct Computing;

    impl Computing {
        pub(super) fn start() -> Computing {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            Computing
        }
    }

    impl Drop for Computing {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Handshakes for many files at once compute their digests [`COMPUTING`] at a time (the
    /// blocking pool would run all twelve), and every one of them is computed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_files_asked_at_once_are_computed_a_few_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let names: Vec<String> = (0..12).map(|i| format!("g{i}.bin")).collect();
        for (i, name) in names.iter().enumerate() {
            std::fs::write(store.served_dir().join(name), vec![i as u8; 4 << 20]).unwrap();
        }
        let digests = futures::future::join_all(names.iter().map(|n| describe(&store, n))).await;
        assert!(digests.iter().all(Option::is_some));
        let most = MOST.load(Ordering::SeqCst);
        assert!((1..=COMPUTING).contains(&most), "{most} computed at once");
    }

    /// The handshake's computation fills the cache on its own.
    #[tokio::test]
    async fn a_digest_started_at_the_handshake_is_ready_later() {
        let (_dir, store) = served(b"some bytes");
        describe_soon(&store, "f.bin");
        let key = |store: &Store| {
            let path = store.served_dir().join("f.bin");
            let meta = std::fs::metadata(&path).unwrap();
            (path, meta.len(), meta.modified().ok())
        };
        let ready = async {
            while slot(key(&store)).get().is_none() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), ready)
            .await
            .expect("the digest was never computed");
    }
}
