//! The server side of the digest extension: a served file's `ContentDigest`, computed once per
//! (path, size, mtime) on the blocking pool and cached, so repeated downloads of a file cost
//! one read of it.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::core::locks::LockExt;
use crate::core::protocol::digest::{ContentDigest, DigestBuilder, group_chunks_for};
use crate::core::store::Store;

/// Digests kept; past this the cache starts over (a bound, not a policy worth more).
const CACHED: usize = 256;

type Key = (PathBuf, u64, Option<SystemTime>);

fn cache() -> &'static Mutex<HashMap<Key, Arc<ContentDigest>>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<ContentDigest>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The digest of served file `name` as it is now; `None` if it is not served.
pub async fn describe(store: &Store, name: &str) -> Option<Arc<ContentDigest>> {
    let (file, size) = store.open_served(name).ok()??;
    let mtime = file.metadata().ok().and_then(|m| m.modified().ok());
    let key: Key = (store.served_dir().join(name), size, mtime);
    if let Some(hit) = lock().get(&key) {
        return Some(Arc::clone(hit));
    }
    let digest = tokio::task::spawn_blocking(move || digest_of(&file, size))
        .await
        .ok()?
        .ok()?;
    let digest = Arc::new(digest);
    let mut cache = lock();
    if cache.len() >= CACHED {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&digest));
    Some(digest)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<Key, Arc<ContentDigest>>> {
    cache().lock_unpoisoned()
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
