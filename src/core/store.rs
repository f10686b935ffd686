//! A peer's served_files/ and the partial files that become served files.
//!
//! A file being received lives in `<peer dir>/.p2p-tui-partial/` (never listed, never served) and
//! appears in served_files/ only through `Partial::commit`, an atomic no-clobber link. A `Partial`
//! that is dropped uncommitted (failure, cancel, Ctrl-C) deletes itself and releases the name.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use thiserror::Error;

use crate::core::folder::{FolderEntry, scan_folder};
use crate::core::protocol::validate_file_name;
use crate::core::uploads::{Refusal, UploadRules, UploadStatus};

pub(crate) const PARTIAL_DIR: &str = ".p2p-tui-partial";
/// Bytes of contiguous data gathered before a write, so 100-byte chunks reach the disk in big writes.
const WRITE_RUN: usize = 256 * 1024;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("Invalid file name {0}")]
    InvalidName(String),
    #[error("Currently receiving file {0}")]
    CurrentlyReceiving(String),
    #[error("Already serving file {0}")]
    AlreadyServing(String),
    #[error("File {name} too large ({size} bytes, {available} bytes free)")]
    TooLarge {
        name: String,
        size: u64,
        available: u64,
    },
    /// Refused by the upload rules (`--uploads`, `--max-upload`, `--quota`).
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl StoreError {
    /// What a remote client is told: the error without this machine's paths (those go to the
    /// log and the local user).
    pub fn for_client(&self) -> String {
        match self {
            StoreError::Io(e) => e.kind().to_string(),
            other => other.to_string(),
        }
    }
}

/// A peer directory the peer cannot use, said with the path and the operation that failed.
#[derive(Debug, Error)]
#[error("cannot {verb} peer directory {} ({operation}): {}", path.display(), why(cause))]
pub struct DirError {
    verb: &'static str,
    pub path: PathBuf,
    operation: &'static str,
    cause: io::Error,
}

impl DirError {
    fn write(path: &Path, operation: &'static str) -> impl FnOnce(io::Error) -> DirError {
        let path = path.to_path_buf();
        move |cause| DirError {
            verb: "write in",
            path,
            operation,
            cause,
        }
    }

    fn read(path: &Path, operation: &'static str) -> impl FnOnce(io::Error) -> DirError {
        let path = path.to_path_buf();
        move |cause| DirError {
            verb: "read",
            path,
            operation,
            cause,
        }
    }
}

/// The system's words for `e`, without "(os error N)"; a link across file systems says what
/// the peer needs.
fn why(e: &io::Error) -> String {
    match e.raw_os_error().map(nix::errno::Errno::from_raw) {
        Some(nix::errno::Errno::EXDEV) => {
            "it is on another file system than the peer directory, and finished files are \
             linked into it (make it a directory on the same file system)"
                .into()
        }
        Some(errno) => errno.desc().into(),
        None => e.to_string(),
    }
}

/// `e` saying what was being done to which path (the system's words alone name neither), for
/// the local user and the log.
fn doing(operation: &str, path: &Path) -> impl FnOnce(io::Error) -> io::Error {
    let what = format!("{operation} {}", path.display());
    move |e| io::Error::new(e.kind(), format!("{what}: {}", why(&e)))
}

/// An absolute form of `path` (as given, not resolved), for messages that name it.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFile {
    pub name: String,
    pub size: u64,
}

#[derive(Debug)]
pub struct Store {
    served_dir: PathBuf,
    partial_dir: PathBuf,
    /// Names being received, with the bytes each holds back from other uploads (its next write run).
    receiving: Mutex<HashMap<String, u64>>,
    /// Uploads from other peers: the rules and what the quota has counted.
    uploads: Mutex<UploadLedger>,
    /// Files in served_files/ the protocol cannot name (a space, a control character, not
    /// UTF-8), as of the latest listing; each is said once (a warning in the log), not hidden
    /// without a word.
    unservable: Mutex<Unservable>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each holder leaves the value whole (plain assignments).
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct Unservable {
    latest: Vec<String>,
    said: std::collections::HashSet<String>,
}

#[derive(Debug, Default)]
struct UploadLedger {
    rules: UploadRules,
    /// Bytes of uploads completed since the peer started.
    received: u64,
    /// Bytes declared by uploads in progress: held against the quota until they end.
    in_progress: u64,
}

impl Store {
    /// Opens (creating if needed) served_files/ under `peer_dir`, after proving the peer can
    /// write there and removing stale partial files ([`Store::prepare`]).
    pub fn open(peer_dir: &Path) -> Result<Arc<Store>, DirError> {
        let peer_dir = absolute(peer_dir);
        Store::prepare(&peer_dir)?;
        let served_dir = peer_dir.join("served_files");
        let partial_dir = peer_dir.join(PARTIAL_DIR);
        let store = Arc::new(Store {
            served_dir,
            partial_dir,
            receiving: Mutex::new(HashMap::new()),
            uploads: Mutex::default(),
            unservable: Mutex::default(),
        });
        // Said at start, not only when someone first asks for the list.
        let served_dir = &store.served_dir;
        let scan = scan_folder(served_dir).map_err(DirError::read(served_dir, "listing it"))?;
        store.note_unservable(scan.unservable);
        Ok(store)
    }

    /// Creates served_files/ and the partial-file directory if missing, removes the partial files
    /// an earlier run left (killed mid-transfer), and proves the peer can
    /// do there what it will do later: create a file in the peer directory (the front ends' log
    /// and history) and in the partial-file directory (a file being received), and link one
    /// into served_files/ (a finished file); each probe is removed. Said with the path and the
    /// operation, so a peer that cannot write fails at start, not at its first download.
    pub fn prepare(peer_dir: &Path) -> Result<(), DirError> {
        let peer_dir = absolute(peer_dir);
        let served = peer_dir.join("served_files");
        let partial = peer_dir.join(PARTIAL_DIR);
        for dir in [&served, &partial] {
            fs::create_dir_all(dir).map_err(DirError::write(dir, "creating the directory"))?;
        }
        // Before the peer listens (its callers bind after this): a peer that answers is one
        // whose earlier run's leftovers are gone.
        remove_stale_partials(&partial)?;
        let name = format!("{PROBE}.{}", std::process::id());
        Probe::create(&peer_dir, &name)?.remove()?;
        let received = Probe::create(&partial, &name)?;
        let finished = served.join(&name);
        // A probe left by a crash of an earlier process with this ID.
        let _ = fs::remove_file(&finished);
        fs::hard_link(&received.path, &finished)
            .map_err(DirError::write(&served, "linking a probe file into it"))?;
        let linked = Probe {
            dir: served,
            path: finished,
            removed: false,
        };
        linked.remove()?;
        received.remove()
    }

    pub fn served_dir(&self) -> &Path {
        &self.served_dir
    }

    #[cfg(test)]
    pub fn partial_dir(&self) -> &Path {
        &self.partial_dir
    }

    fn receiving(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        // A panic while holding this lock leaves the map consistent (single inserts/removes).
        self.receiving.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ledger(&self) -> MutexGuard<'_, UploadLedger> {
        // Plain counters, each changed in one statement.
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the rules later uploads are held to (uploads in progress keep their admission).
    pub fn set_upload_rules(&self, rules: UploadRules) {
        self.ledger().rules = rules;
    }

    /// The upload rules and the quota's count, for the UI.
    pub fn upload_status(&self) -> UploadStatus {
        let ledger = self.ledger();
        UploadStatus {
            policy: ledger.rules.policy,
            max_file: ledger.rules.max_file,
            quota: ledger.rules.quota,
            received: ledger.received,
            in_progress: ledger.in_progress,
        }
    }

    pub fn is_receiving(&self, name: &str) -> bool {
        self.receiving().contains_key(name)
    }

    /// Names being received right now, sorted.
    pub fn receiving_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.receiving().keys().cloned().collect();
        names.sort();
        names
    }

    /// Served files (regular files with valid names), sorted by name. A file the protocol
    /// cannot name is left out, and said once (see [`Store::unservable`]).
    pub fn list(&self) -> io::Result<Vec<ServedFile>> {
        Ok(self
            .scan()?
            .into_iter()
            .map(|f| ServedFile {
                name: f.name,
                size: f.size,
            })
            .collect())
    }

    /// [`Store::list`] with each file's modification time, as a tracker is told.
    pub fn scan(&self) -> io::Result<Vec<FolderEntry>> {
        let scan = scan_folder(&self.served_dir).map_err(doing("listing", &self.served_dir))?;
        self.note_unservable(scan.unservable);
        Ok(scan.files)
    }

    /// Files in served_files/ that are not served because the protocol cannot name them (as of
    /// the latest listing), sorted.
    pub fn unservable(&self) -> Vec<String> {
        lock(&self.unservable).latest.clone()
    }

    fn note_unservable(&self, found: Vec<(String, String)>) {
        let mut unservable = lock(&self.unservable);
        for (name, why) in &found {
            if unservable.said.insert(name.clone()) {
                tracing::warn!(
                    "\"{}/{}\" is not served: its {why}; rename it to share it",
                    self.served_dir.display(),
                    name.escape_debug()
                );
            }
        }
        // A name renamed away and back is said again.
        unservable
            .said
            .retain(|said| found.iter().any(|(n, _)| n == said));
        unservable.latest = found.into_iter().map(|(name, _)| name).collect();
    }

    /// Whether `name` is a complete served file.
    pub fn serves(&self, name: &str) -> bool {
        self.served_path(name)
            .and_then(|p| fs::symlink_metadata(p).ok())
            .is_some_and(|m| m.is_file())
    }

    fn served_path(&self, name: &str) -> Option<PathBuf> {
        validate_file_name(name).ok()?;
        Some(self.served_dir.join(name))
    }

    /// Opens a served file for reading, with its size; `None` if it is not served (or still
    /// being received). The handle keeps serving the file as it was, whatever happens to the name.
    pub fn open_served(&self, name: &str) -> io::Result<Option<(File, u64)>> {
        let Some(path) = self.served_path(name) else {
            return Ok(None);
        };
        if self.is_receiving(name) {
            return Ok(None);
        }
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(doing("opening", &path)(e)),
        }
        let file = File::open(&path).map_err(doing("opening", &path))?;
        let size = file.metadata().map_err(doing("opening", &path))?.len();
        Ok(Some((file, size)))
    }

    /// Reserves `name` for a file of `size` bytes about to be received (a download this peer
    /// asked for: the upload rules do not apply).
    pub fn reserve(self: &Arc<Self>, name: &str, size: u64) -> Result<Partial, StoreError> {
        self.reserve_as(name, size, false)
    }

    /// Reserves `name` for a file of `size` bytes that the client at `from` offers (`#UPLOAD`):
    /// refused unless the upload rules admit the client and the size fits the limits. The
    /// declared size is held against the quota until the upload ends, so uploads in progress
    /// can never together pass it.
    pub fn reserve_upload(
        self: &Arc<Self>,
        name: &str,
        size: u64,
        from: std::net::IpAddr,
    ) -> Result<Partial, StoreError> {
        self.ledger()
            .rules
            .admits(name, from)
            .map_err(StoreError::Refused)?;
        self.reserve_as(name, size, true)
    }

    fn reserve_as(
        self: &Arc<Self>,
        name: &str,
        size: u64,
        upload: bool,
    ) -> Result<Partial, StoreError> {
        validate_file_name(name).map_err(|_| StoreError::InvalidName(name.into()))?;
        let mut receiving = self.receiving();
        if receiving.contains_key(name) {
            return Err(StoreError::CurrentlyReceiving(name.into()));
        }
        if self.serves(name) || self.served_dir.join(name).exists() {
            return Err(StoreError::AlreadyServing(name.into()));
        }
        if upload {
            let ledger = self.ledger();
            let used = ledger.received.saturating_add(ledger.in_progress);
            ledger
                .rules
                .fits(name, size, used)
                .map_err(StoreError::Refused)?;
        }
        let claim = self.claim_room(name, size, receiving.values().sum())?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let serial = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.partial_dir.join(partial_file_name(name, serial));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(doing("creating", &path))?;
        receiving.insert(name.to_string(), claim);
        let quota_held = if upload {
            let mut ledger = self.ledger();
            ledger.in_progress = ledger.in_progress.saturating_add(size);
            size
        } else {
            0
        };
        Ok(Partial {
            store: Arc::clone(self),
            name: name.to_string(),
            path,
            file,
            run: Vec::new(),
            run_start: 0,
            committed: false,
            quota_held,
        })
    }
}

impl Store {
    /// The bytes of free space a file of `size` holds back from other receptions, with
    /// `claimed` bytes held by those in progress.
    ///
    /// A declared size is a claim, not a right: refused if it could never fit, otherwise only
    /// the next write run is held back from other uploads (bytes already written have left
    /// the free space on their own), so a client that declares the whole disk and sends
    /// nothing blocks no one. The connection's deadline ends a stalled upload.
    fn claim_room(&self, name: &str, size: u64, claimed: u64) -> Result<u64, StoreError> {
        let free = free_space(&self.partial_dir)?;
        let claim = size.min(WRITE_RUN as u64);
        let available = free.saturating_sub(claimed);
        if size > free || claim > available {
            return Err(StoreError::TooLarge {
                name: name.into(),
                size,
                available: if size > free { free } else { available },
            });
        }
        Ok(claim)
    }
}

fn free_space(dir: &Path) -> io::Result<u64> {
    let stat = nix::sys::statvfs::statvfs(dir)
        .map_err(io::Error::from)
        .map_err(doing("measuring the free space of", dir))?;
    Ok((stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64))
}

/// Removes the partial files an earlier run left (killed mid-transfer).
fn remove_stale_partials(partial_dir: &Path) -> Result<(), DirError> {
    let entries = fs::read_dir(partial_dir).map_err(DirError::read(partial_dir, "listing it"))?;
    for entry in entries {
        let entry = entry.map_err(DirError::read(partial_dir, "listing it"))?;
        let path = entry.path();
        tracing::info!(path = %path.display(), "removing stale partial file");
        fs::remove_file(&path).map_err(DirError::write(
            partial_dir,
            "removing a stale partial file",
        ))?;
    }
    Ok(())
}

/// The start of the probe files' names (hidden; one per process).
const PROBE: &str = ".p2p-tui-probe";

/// A probe file of [`Store::prepare`]: removed by `remove` (which says a failure) or, on the
/// way out of a failed check, when dropped.
struct Probe {
    dir: PathBuf,
    path: PathBuf,
    removed: bool,
}

impl Probe {
    fn create(dir: &Path, name: &str) -> Result<Probe, DirError> {
        let path = dir.join(name);
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(DirError::write(dir, "creating a probe file"))?;
        Ok(Probe {
            dir: dir.to_path_buf(),
            path,
            removed: false,
        })
    }

    fn remove(mut self) -> Result<(), DirError> {
        self.removed = true;
        fs::remove_file(&self.path).map_err(DirError::write(&self.dir, "removing a probe file"))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if !self.removed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A file being received. Data may arrive in any order; contiguous data is gathered into large
/// writes.
#[derive(Debug)]
pub struct Partial {
    store: Arc<Store>,
    name: String,
    path: PathBuf,
    file: File,
    run: Vec<u8>,
    run_start: u64,
    committed: bool,
    /// Of an upload: its declared size, held against the quota.
    quota_held: u64,
}

impl Partial {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `data` at `offset` (buffered while the writes are contiguous).
    pub fn put(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let run_end = self.run_start + self.run.len() as u64;
        if offset != run_end || self.run.len() + data.len() > WRITE_RUN {
            self.flush()?;
            self.run_start = offset;
        }
        if self.run.capacity() == 0 {
            self.run.reserve_exact(WRITE_RUN);
        }
        self.run.extend_from_slice(data);
        Ok(())
    }

    /// Writes `data` at `offset` now, past the buffer: for a caller that gathers large runs
    /// itself (no second copy).
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.flush()?;
        self.file.write_all_at(data, offset)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.run.is_empty() {
            self.file
                .write_all_at(&self.run, self.run_start)
                .map_err(doing("writing", &self.path))?;
            self.run_start += self.run.len() as u64;
            self.run.clear();
        }
        Ok(())
    }

    /// Makes the file visible in served_files/: data synced, then an atomic no-clobber link.
    /// Blocking; call it from a blocking context.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.file
            .sync_data()
            .map_err(doing("writing", &self.path))?;
        let target = self.store.served_dir.join(&self.name);
        match fs::hard_link(&self.path, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::AlreadyServing(self.name.clone()));
            }
            Err(e) => {
                let linking = format!("linking {} to", self.path.display());
                return Err(doing(&linking, &target)(e).into());
            }
        }
        self.committed = true;
        // The served copy is complete; a left-over partial link is cleaned at the next start.
        let _ = fs::remove_file(&self.path);
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.committed {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove partial file");
            }
        }
        self.store.receiving().remove(&self.name);
        if self.quota_held > 0 {
            let mut ledger = self.store.ledger();
            ledger.in_progress = ledger.in_progress.saturating_sub(self.quota_held);
            if self.committed {
                ledger.received = ledger.received.saturating_add(self.quota_held);
            }
        }
    }
}

/// The hidden temporary file's name: the start of the real name (for people looking in the
/// directory) and what makes it unique, within the file system's 255-byte limit whatever the
/// real name's length.
pub(crate) fn partial_file_name(name: &str, serial: u64) -> String {
    let mut keep = name.len().min(200);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}.{}.{serial}.part", &name[..keep], std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn partial_names_fit_the_file_system_whatever_the_name() {
        let long = "é".repeat(127) + "x";
        assert_eq!(long.len(), 255);
        let partial = partial_file_name(&long, u64::MAX);
        assert!(partial.len() <= 255, "{}", partial.len());
        assert!(partial.starts_with(&"é".repeat(100)));
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let reserved = store.reserve(&long, 10).unwrap();
        drop(reserved);
    }

    #[test]
    fn committed_partial_appears_with_its_bytes_in_any_write_order() {
        let (_dir, store) = store();
        let mut p = store.reserve("f.bin", 250).unwrap();
        assert!(store.is_receiving("f.bin"));
        assert!(store.open_served("f.bin").unwrap().is_none());
        p.put(100, &[2; 100]).unwrap();
        p.put(0, &[1; 100]).unwrap();
        p.put(200, &[3; 50]).unwrap();
        p.commit().unwrap();
        let bytes = fs::read(store.served_dir().join("f.bin")).unwrap();
        assert_eq!(&bytes[..100], &[1; 100]);
        assert_eq!(&bytes[100..200], &[2; 100]);
        assert_eq!(&bytes[200..], &[3; 50]);
        assert!(!store.is_receiving("f.bin"));
        assert_eq!(
            store.list().unwrap(),
            vec![ServedFile {
                name: "f.bin".into(),
                size: 250
            }]
        );
        assert_eq!(fs::read_dir(store.partial_dir()).unwrap().count(), 0);
    }

    #[test]
    fn dropped_partial_leaves_nothing_and_frees_the_name() {
        let (_dir, store) = store();
        let mut p = store.reserve("f", 10).unwrap();
        p.put(0, b"half").unwrap();
        assert!(matches!(
            store.reserve("f", 10),
            Err(StoreError::CurrentlyReceiving(_))
        ));
        drop(p);
        assert_eq!(fs::read_dir(store.partial_dir()).unwrap().count(), 0);
        assert!(store.list().unwrap().is_empty());
        assert!(store.reserve("f", 10).is_ok());
    }

    #[test]
    fn reserve_refuses_served_invalid_and_oversized() {
        let (_dir, store) = store();
        fs::write(store.served_dir().join("have.txt"), "x").unwrap();
        assert!(matches!(
            store.reserve("have.txt", 1),
            Err(StoreError::AlreadyServing(_))
        ));
        assert!(matches!(
            store.reserve("../evil", 1),
            Err(StoreError::InvalidName(_))
        ));
        assert!(matches!(
            store.reserve("big", u64::MAX),
            Err(StoreError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_declared_size_holds_back_only_a_write_run_from_other_uploads() {
        let (_dir, store) = store();
        let free = free_space(store.partial_dir()).unwrap();
        let hog = store.reserve("hog.bin", free - 100).unwrap();
        let legit = store.reserve("legit.txt", 1_000_000);
        assert!(legit.is_ok(), "{legit:?}");
        assert!(matches!(
            store.reserve("never.bin", free + (1 << 40)),
            Err(StoreError::TooLarge { .. })
        ));
        drop((hog, legit));
        assert!(store.receiving_names().is_empty());
    }

    #[test]
    fn uploads_hold_their_size_against_the_quota_and_count_once_committed() {
        use crate::core::uploads::{UploadRules, Uploads};
        let (_dir, store) = store();
        let from: std::net::IpAddr = [10, 0, 0, 9].into();
        store.set_upload_rules(UploadRules {
            max_file: Some(600),
            quota: Some(1000),
            ..UploadRules::default()
        });
        let refused = |r: Result<Partial, StoreError>| match r {
            Err(StoreError::Refused(why)) => why.to_string(),
            other => panic!("not refused by the rules: {other:?}"),
        };
        assert!(refused(store.reserve_upload("big", 601, from)).contains("upload limit"));
        let mut a = store.reserve_upload("a", 600, from).unwrap();
        // 600 held: 500 more would pass the quota while `a` is in progress.
        assert!(refused(store.reserve_upload("b", 500, from)).contains("400 bytes are left"));
        let dropped = store.reserve_upload("c", 300, from).unwrap();
        assert_eq!(store.upload_status().in_progress, 900);
        drop(dropped);
        a.put(0, &[7; 600]).unwrap();
        a.commit().unwrap();
        let status = store.upload_status();
        assert_eq!((status.received, status.in_progress), (600, 0));
        assert!(refused(store.reserve_upload("d", 401, from)).contains("quota"));
        assert!(store.reserve_upload("d", 400, from).is_ok());
        // A download this peer asked for is not an upload: no rules, no count.
        drop(store.reserve("mine", 5000).unwrap());
        assert_eq!(store.upload_status().received, 600);
        store.set_upload_rules(UploadRules {
            policy: Uploads::None,
            ..UploadRules::default()
        });
        assert!(refused(store.reserve_upload("e", 1, from)).contains("uploads are off"));
    }

    #[test]
    fn unservable_names_are_left_out_and_known() {
        use std::os::unix::ffi::OsStrExt;
        let (_dir, store) = store();
        let served = store.served_dir().to_path_buf();
        fs::write(served.join("ok.txt"), b"1").unwrap();
        fs::write(served.join("my file.txt"), b"2").unwrap();
        fs::write(served.join("tab\there"), b"3").unwrap();
        fs::write(served.join(std::ffi::OsStr::from_bytes(b"bad\xff")), b"4").unwrap();
        fs::create_dir(served.join("a dir")).unwrap();
        let names: Vec<String> = store.list().unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["ok.txt"]);
        assert_eq!(
            store.unservable(),
            ["bad\u{fffd}", "my file.txt", "tab\there"]
        );
        fs::rename(served.join("my file.txt"), served.join("my_file.txt")).unwrap();
        store.list().unwrap();
        assert_eq!(store.unservable(), ["bad\u{fffd}", "tab\there"]);
    }

    #[test]
    fn the_startup_check_leaves_no_probe_behind() {
        let (dir, store) = store();
        let names = |path: &Path| -> Vec<String> {
            fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        };
        let mut top = names(dir.path());
        top.sort();
        assert_eq!(top, [PARTIAL_DIR, "served_files"]);
        assert!(names(store.served_dir()).is_empty());
        assert!(names(store.partial_dir()).is_empty());
        assert!(store.served_dir().is_absolute());
    }

    #[test]
    fn a_directory_in_the_way_is_said_with_its_path_and_the_operation() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(PARTIAL_DIR), "a file").unwrap();
        let e = Store::open(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot write in peer directory {} (creating the directory): File exists",
                dir.path().join(PARTIAL_DIR).display()
            )
        );
    }

    #[test]
    fn a_failed_save_names_both_paths_but_the_client_is_told_neither() {
        let (dir, store) = store();
        let mut p = store.reserve("f.txt", 3).unwrap();
        p.put(0, b"abc").unwrap();
        fs::remove_dir(store.served_dir()).unwrap();
        let e = p.commit().unwrap_err();
        let said = e.to_string();
        let partial = dir.path().join(PARTIAL_DIR);
        assert!(
            said.starts_with(&format!("linking {}", partial.display())),
            "{said}"
        );
        assert!(
            said.ends_with(&format!(
                " to {}: No such file or directory",
                dir.path().join("served_files/f.txt").display()
            )),
            "{said}"
        );
        assert_eq!(e.for_client(), "entity not found");
    }

    #[test]
    fn stale_partials_are_removed_at_open_and_never_listed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(PARTIAL_DIR)).unwrap();
        fs::write(dir.path().join(PARTIAL_DIR).join("old.1.0.part"), "junk").unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(store.partial_dir()).unwrap().count(), 0);
        fs::create_dir(store.served_dir().join("subdir")).unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    /// `prepare` runs before the peer binds its listener: what a connecting client finds
    /// is a peer whose earlier run's partial files are already gone.
    #[test]
    fn stale_partials_are_gone_before_the_peer_listens() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(PARTIAL_DIR)).unwrap();
        fs::write(
            dir.path().join(PARTIAL_DIR).join("up.bin.13134.0.part"),
            "junk",
        )
        .unwrap();
        Store::prepare(dir.path()).unwrap();
        assert_eq!(
            fs::read_dir(dir.path().join(PARTIAL_DIR)).unwrap().count(),
            0
        );
    }
}
