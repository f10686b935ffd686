//! The file system as `ServeDir` sees it: a [`Backend`] that keeps small files in memory and
//! never sends a cached request to the blocking pool.
//!
//! `ServeDir` still does everything HTTP (paths and traversal, `index.html`, redirects, `Range`,
//! conditional requests, content types); only where its bytes come from changes. With tokio's
//! file system a request went to the blocking pool three times or more (the directory check,
//! the open, the open file's metadata, each read), and each trip is a thread hand-off.
//!
//! Here:
//! - a cached copy is validated against its file (size and modification time, by a plain
//!   `stat` on the calling worker thread: microseconds for a file the kernel has seen recently)
//!   at most every [`FileCache::REVALIDATE`]; one that no longer matches is dropped, so a file
//!   changed on disk is served fresh within that time;
//! - `metadata` of a path not cached is that `stat`;
//! - `open` answers from memory when the path is cached and still valid; otherwise one trip to
//!   the blocking pool opens the file, reads its metadata and, if it is at most
//!   [`FileCache::max_entry`] bytes, reads it whole and caches it;
//! - larger files are read from disk as before (tokio's file, in chunks).
//!
//! The cache holds at most [`FileCache::capacity`] bytes of file contents; beyond that the
//! oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, Ready, ready};
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use super::zero_copy::{self, Sealed};
use crate::core::locks::RwLockExt;
use bytes::Bytes;
use futures::future::{BoxFuture, Either};
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use tower_http::services::fs::{Backend, File as BackendFile, Metadata as BackendMetadata};

/// What `ServeDir` needs to know about a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    is_dir: bool,
    modified: Option<SystemTime>,
    len: u64,
}

impl Meta {
    fn of(m: &std::fs::Metadata) -> Meta {
        Meta {
            is_dir: m.is_dir(),
            modified: m.modified().ok(),
            len: m.len(),
        }
    }
}

impl BackendMetadata for Meta {
    fn is_dir(&self) -> bool {
        self.is_dir
    }

    fn modified(&self) -> io::Result<SystemTime> {
        self.modified
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "no modification time"))
    }

    fn len(&self) -> u64 {
        self.len
    }
}

struct Entry {
    bytes: Bytes,
    /// The sealed copy `bytes` maps, for files of at least [`zero_copy::MIN_LEN`] bytes.
    sealed: Option<Arc<Sealed>>,
    meta: Meta,
    /// Distinguishes this entry from an earlier one for the same path in the eviction queue.
    generation: u64,
    /// When the entry was last found to match the file, in ms since [`FileCache::epoch`].
    validated_ms: AtomicU64,
}

#[derive(Default)]
struct State {
    entries: HashMap<PathBuf, Arc<Entry>>,
    /// Insertion order, oldest first; entries replaced since leave stale items behind.
    order: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    next_generation: u64,
}

impl State {
    fn remove(&mut self, path: &Path) {
        if let Some(old) = self.entries.remove(path) {
            self.bytes -= old.bytes.len() as u64;
        }
    }
}

/// Small files' contents, keyed by their path, bounded in total size.
pub struct FileCache {
    max_entry: u64,
    capacity: u64,
    epoch: Instant,
    state: RwLock<State>,
}

impl FileCache {
    /// A cached copy validated this recently is served without another `stat`.
    pub const REVALIDATE: Duration = Duration::from_millis(20);

    /// Files of at most `max_entry` bytes are kept, `capacity` bytes in all (0: no cache).
    pub fn new(max_entry: u64, capacity: u64) -> Arc<FileCache> {
        Arc::new(FileCache {
            max_entry: max_entry.min(capacity),
            capacity,
            epoch: Instant::now(),
            state: RwLock::default(),
        })
    }

    #[cfg(test)]
    /// The most bytes of file contents kept.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    #[cfg(test)]
    /// Bytes of file contents held now.
    pub fn bytes(&self) -> u64 {
        self.read().bytes
    }

    #[cfg(test)]
    /// Whether `path` is cached now.
    pub fn contains(&self, path: &Path) -> bool {
        self.read().entries.contains_key(path)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read_unpoisoned()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write_unpoisoned()
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether `entry` was found to match its file within [`Self::REVALIDATE`].
    fn fresh(&self, entry: &Entry) -> bool {
        let age = self
            .now_ms()
            .saturating_sub(entry.validated_ms.load(Ordering::Relaxed));
        age <= Self::REVALIDATE.as_millis() as u64
    }

    /// `stat`s `path` here and now (unless its cached copy was validated within
    /// [`Self::REVALIDATE`]), and drops its cached copy if the file has changed.
    pub fn stat(&self, path: &Path) -> io::Result<Meta> {
        if let Some(entry) = self.read().entries.get(path)
            && self.fresh(entry)
        {
            return Ok(entry.meta);
        }
        match std::fs::metadata(path) {
            Ok(m) => {
                let meta = Meta::of(&m);
                self.check(path, &meta);
                Ok(meta)
            }
            Err(e) => {
                if self.read().entries.contains_key(path) {
                    self.write().remove(path);
                }
                Err(e)
            }
        }
    }

    /// Compares the cached copy of `path` (if any) with the file's `meta`.
    fn check(&self, path: &Path, meta: &Meta) -> bool {
        let entry = self.read().entries.get(path).cloned();
        let Some(entry) = entry else {
            return false;
        };
        if entry.meta == *meta {
            entry.validated_ms.store(self.now_ms(), Ordering::Relaxed);
            true
        } else {
            let mut state = self.write();
            if state
                .entries
                .get(path)
                .is_some_and(|e| e.generation == entry.generation)
            {
                state.remove(path);
            }
            false
        }
    }

    /// The cached copy of `path` if it is still the file's content.
    pub fn hit(&self, path: &Path) -> Option<CachedFile> {
        let entry = self.read().entries.get(path).cloned()?;
        if !self.fresh(&entry) {
            let meta = Meta::of(&std::fs::metadata(path).ok()?);
            if !self.check(path, &meta) {
                return None;
            }
        }
        Some(CachedFile::memory(
            entry.bytes.clone(),
            entry.sealed.clone(),
            entry.meta,
        ))
    }

    /// Opens `path` (blocking): from memory if cached; a small file is read whole and cached.
    pub fn load(&self, path: &Path) -> io::Result<CachedFile> {
        if let Some(file) = self.hit(path) {
            return Ok(file);
        }
        let mut file = std::fs::File::open(path)?;
        let meta = Meta::of(&file.metadata()?);
        if meta.is_dir || meta.len > self.max_entry || self.capacity == 0 {
            return Ok(CachedFile {
                meta,
                inner: Inner::Disk(tokio::fs::File::from_std(file)),
            });
        }
        let limit = self.max_entry + 1;
        // A large file goes into a sealed copy that can be sent without copying it; where
        // that cannot be had (no memfd, out of file descriptors), into plain memory.
        let sealed = if meta.len >= zero_copy::MIN_LEN {
            match Sealed::copy_of(&mut file, limit) {
                Ok(sealed) => sealed.map(Arc::new),
                Err(_) => {
                    file.seek(io::SeekFrom::Start(0))?;
                    None
                }
            }
        } else {
            None
        };
        let bytes = match &sealed {
            Some(sealed) => sealed.bytes(),
            None => {
                let mut bytes = Vec::with_capacity(meta.len as usize);
                file.by_ref().take(limit).read_to_end(&mut bytes)?;
                Bytes::from(bytes)
            }
        };
        if bytes.len() as u64 != meta.len {
            // Changed while being read: serve what was read, keep nothing.
            let meta = Meta {
                len: bytes.len() as u64,
                ..meta
            };
            return Ok(CachedFile::memory(bytes, sealed, meta));
        }
        self.insert(path, bytes.clone(), sealed.clone(), meta);
        Ok(CachedFile::memory(bytes, sealed, meta))
    }

    fn insert(&self, path: &Path, bytes: Bytes, sealed: Option<Arc<Sealed>>, meta: Meta) {
        let size = bytes.len() as u64;
        let mut state = self.write();
        state.remove(path);
        while state.bytes + size > self.capacity {
            let Some((old, generation)) = state.order.pop_front() else {
                break;
            };
            if state
                .entries
                .get(&old)
                .is_some_and(|e| e.generation == generation)
            {
                state.remove(&old);
            }
        }
        if state.bytes + size > self.capacity {
            return;
        }
        state.next_generation += 1;
        let generation = state.next_generation;
        state.entries.insert(
            path.to_path_buf(),
            Arc::new(Entry {
                bytes,
                sealed,
                meta,
                generation,
                validated_ms: AtomicU64::new(self.now_ms()),
            }),
        );
        state.order.push_back((path.to_path_buf(), generation));
        state.bytes += size;
        // Replaced entries leave stale items in the queue: keep it proportionate.
        if state.order.len() > 2 * state.entries.len() + 64 {
            let State { entries, order, .. } = &mut *state;
            order.retain(|(p, g)| entries.get(p).is_some_and(|e| e.generation == *g));
        }
    }
}

tokio::task_local! {
    /// The cached contents of the file the request in this scope opened, for
    /// [`with_memory_body`].
    static OPENED: std::cell::RefCell<Option<Memory>>;
}

/// A whole file's contents from memory.
pub struct Memory {
    pub bytes: Bytes,
    /// The sealed copy `bytes` maps, if it is one: it can be sent with `sendfile`.
    pub sealed: Option<Arc<Sealed>>,
}

/// Runs `serve` (a `ServeDir` call), and returns with its response the whole contents of the
/// file it opened if they came from memory: the caller can send those as they are (one frame,
/// no copy) instead of having `ServeDir` copy them out chunk by chunk.
pub async fn with_memory_body<F: Future>(serve: F) -> (F::Output, Option<Memory>) {
    OPENED
        .scope(std::cell::RefCell::new(None), async {
            let out = serve.await;
            (out, OPENED.with(|o| o.borrow_mut().take()))
        })
        .await
}

fn note_opened(file: &CachedFile) {
    if let Inner::Memory(c, sealed) = &file.inner {
        let memory = Memory {
            bytes: c.get_ref().clone(),
            sealed: sealed.clone(),
        };
        let _ = OPENED.try_with(|o| *o.borrow_mut() = Some(memory));
    }
}

/// `ServeDir`'s file system: [`FileCache`] in front of the disk.
#[derive(Clone)]
pub struct CachedFs(pub Arc<FileCache>);

impl Backend for CachedFs {
    type File = CachedFile;
    type Metadata = Meta;
    type OpenFuture =
        Either<Ready<io::Result<CachedFile>>, BoxFuture<'static, io::Result<CachedFile>>>;
    type MetadataFuture = Ready<io::Result<Meta>>;

    fn open(&self, path: PathBuf) -> Self::OpenFuture {
        if let Some(file) = self.0.hit(&path) {
            note_opened(&file);
            return Either::Left(ready(Ok(file)));
        }
        let cache = Arc::clone(&self.0);
        Either::Right(Box::pin(async move {
            let file = tokio::task::spawn_blocking(move || cache.load(&path))
                .await
                .map_err(io::Error::other)??;
            note_opened(&file);
            Ok(file)
        }))
    }

    fn metadata(&self, path: PathBuf) -> Self::MetadataFuture {
        ready(self.0.stat(&path))
    }
}

/// An open file: a cached copy in memory, or a file on disk.
pub struct CachedFile {
    meta: Meta,
    inner: Inner,
}

enum Inner {
    Memory(io::Cursor<Bytes>, Option<Arc<Sealed>>),
    Disk(tokio::fs::File),
}

impl CachedFile {
    fn memory(bytes: Bytes, sealed: Option<Arc<Sealed>>, meta: Meta) -> CachedFile {
        CachedFile {
            meta,
            inner: Inner::Memory(io::Cursor::new(bytes), sealed),
        }
    }

    #[cfg(test)]
    /// Whether this is a cached copy (for tests).
    pub fn in_memory(&self) -> bool {
        matches!(self.inner, Inner::Memory(..))
    }
}

impl AsyncRead for CachedFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Memory(c, _) => Pin::new(c).poll_read(cx, buf),
            Inner::Disk(f) => Pin::new(f).poll_read(cx, buf),
        }
    }
}

impl AsyncSeek for CachedFile {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        match &mut self.inner {
            Inner::Memory(c, _) => Pin::new(c).start_seek(position),
            Inner::Disk(f) => Pin::new(f).start_seek(position),
        }
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        match &mut self.inner {
            Inner::Memory(c, _) => Pin::new(c).poll_complete(cx),
            Inner::Disk(f) => Pin::new(f).poll_complete(cx),
        }
    }
}

impl BackendFile for CachedFile {
    type Metadata = Meta;
    type MetadataFuture<'a> = Ready<io::Result<Meta>>;

    fn metadata(&self) -> Self::MetadataFuture<'_> {
        ready(Ok(self.meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn read_all(mut f: CachedFile) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        f.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn a_small_file_is_cached_and_served_fresh_after_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a.txt", b"first");
        let cache = FileCache::new(1024, 4096);
        let fs = CachedFs(Arc::clone(&cache));
        let f = fs.open(path.clone()).await.unwrap();
        assert!(f.in_memory());
        assert_eq!(read_all(f).await, b"first");
        assert!(cache.contains(&path));
        assert_eq!(cache.bytes(), 5);
        // Changed on disk, same size and a different one: the next request sees it.
        for content in [&b"2econd"[..], b"third, longer"] {
            std::thread::sleep(FileCache::REVALIDATE * 2);
            std::fs::write(&path, content).unwrap();
            let past = SystemTime::now() + Duration::from_secs(content.len() as u64);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(past)
                .unwrap();
            let meta = fs.metadata(path.clone()).await.unwrap();
            assert_eq!(meta.len(), content.len() as u64);
            assert_eq!(
                read_all(fs.open(path.clone()).await.unwrap()).await,
                content
            );
        }
        // Without the metadata call first, open alone checks.
        std::thread::sleep(FileCache::REVALIDATE * 2);
        std::fs::write(&path, b"fourth!!").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(100))
            .unwrap();
        assert_eq!(
            read_all(fs.open(path.clone()).await.unwrap()).await,
            b"fourth!!"
        );
        // A deleted file is not served from memory.
        std::thread::sleep(FileCache::REVALIDATE * 2);
        std::fs::remove_file(&path).unwrap();
        assert!(fs.metadata(path.clone()).await.is_err());
        assert!(!cache.contains(&path));
        assert!(fs.open(path.clone()).await.is_err());
    }

    #[tokio::test]
    async fn a_large_file_is_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let big = write(dir.path(), "big.bin", &[7; 2000]);
        let cache = FileCache::new(1024, 1 << 20);
        let fs = CachedFs(Arc::clone(&cache));
        let f = fs.open(big.clone()).await.unwrap();
        assert!(!f.in_memory());
        assert_eq!(read_all(f).await, vec![7; 2000]);
        assert!(!cache.contains(&big));
        assert_eq!(cache.bytes(), 0);
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_capacity_oldest_out_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(400, 1000);
        let fs = CachedFs(Arc::clone(&cache));
        let paths: Vec<PathBuf> = (0..10)
            .map(|i| write(dir.path(), &format!("{i}.txt"), &[i as u8; 300]))
            .collect();
        for (i, p) in paths.iter().enumerate() {
            let f = fs.open(p.clone()).await.unwrap();
            assert!(f.in_memory());
            assert_eq!(read_all(f).await, vec![i as u8; 300]);
            assert!(cache.bytes() <= cache.capacity());
        }
        // Three of 300 bytes fit in 1000: the newest three.
        assert_eq!(cache.bytes(), 900);
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(cache.contains(p), i >= 7, "{i}");
        }
        // Replacing one entry over and over does not grow anything.
        for n in 0..20u64 {
            std::thread::sleep(FileCache::REVALIDATE * 2);
            let p = &paths[9];
            std::fs::write(p, [n as u8; 300]).unwrap();
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(n + 1))
                .unwrap();
            // As ServeDir does: the metadata (which validates), then the open.
            fs.metadata(p.clone()).await.unwrap();
            assert_eq!(
                read_all(fs.open(p.clone()).await.unwrap()).await,
                vec![n as u8; 300]
            );
        }
        assert!(cache.bytes() <= 1000);
        assert!(cache.read().order.len() <= 2 * cache.read().entries.len() + 64);
        // No cache at all.
        let none = CachedFs(FileCache::new(1024, 0));
        assert!(!none.open(paths[0].clone()).await.unwrap().in_memory());
    }

    #[tokio::test]
    async fn large_files_are_sealed_copies_within_the_same_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let min = zero_copy::MIN_LEN as usize;
        let cache = FileCache::new(4 * min as u64, 5 * min as u64);
        let fs = CachedFs(Arc::clone(&cache));
        let sealed = |p: &Path| cache.read().entries.get(p).map(|e| e.sealed.is_some());
        // Just below the threshold: plain memory; at and above it: a sealed copy.
        let small = write(dir.path(), "small.bin", &vec![1; min - 1]);
        let a = write(dir.path(), "a.bin", &vec![2; min]);
        let b = write(dir.path(), "b.bin", &vec![3; 3 * min]);
        for (p, byte, len) in [(&small, 1, min - 1), (&a, 2, min), (&b, 3, 3 * min)] {
            let f = fs.open(p.clone()).await.unwrap();
            assert!(f.in_memory());
            assert_eq!(read_all(f).await, vec![byte; len]);
        }
        assert_eq!(sealed(&small), Some(false));
        assert_eq!(sealed(&a), Some(true));
        assert_eq!(sealed(&b), Some(true));
        assert_eq!(cache.bytes(), (5 * min - 1) as u64);
        // Above the per-file bound: from disk, nothing kept.
        let big = write(dir.path(), "big.bin", &vec![4; 4 * min + 1]);
        let f = fs.open(big.clone()).await.unwrap();
        assert!(!f.in_memory());
        assert_eq!(read_all(f).await, vec![4; 4 * min + 1]);
        assert!(!cache.contains(&big));
        // Another sealed file pushes the oldest out: the total stays within the capacity.
        let c = write(dir.path(), "c.bin", &vec![5; 2 * min]);
        assert_eq!(
            read_all(fs.open(c.clone()).await.unwrap()).await,
            vec![5; 2 * min]
        );
        assert!(cache.bytes() <= cache.capacity());
        assert!(cache.contains(&c) && !cache.contains(&small) && !cache.contains(&a));
        // A sealed copy is not changed by the file's change: the new bytes are served, and a
        // response still holding the old copy keeps the old bytes whole.
        let mut held = fs.open(b.clone()).await.unwrap();
        std::thread::sleep(FileCache::REVALIDATE * 2);
        std::fs::write(&b, vec![6; 3 * min]).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(100))
            .unwrap();
        assert_eq!(
            read_all(fs.open(b.clone()).await.unwrap()).await,
            vec![6; 3 * min]
        );
        let mut old = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut held, &mut old)
            .await
            .unwrap();
        assert_eq!(old, vec![3; 3 * min]);
        assert!(cache.bytes() <= cache.capacity());
    }
}
