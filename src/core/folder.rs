//! The one folder scanner: a peer's served_files/, what --join announces, the synchronizer's
//! folder. Only regular files whose names the protocols can carry count.

use std::fs;
use std::io;
use std::path::Path;

use crate::core::protocol::validate_file_name;

/// A regular file of a scanned folder whose name the protocols can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    pub name: String,
    pub size: u64,
    /// Modification time in whole seconds since the epoch (as trackers compare them).
    pub mtime: i64,
}

/// A folder's regular files, sorted by name: those the protocols can name, and the others
/// (sorted) with why not.
#[derive(Debug, Default)]
pub struct FolderScan {
    pub files: Vec<FolderEntry>,
    pub unservable: Vec<(String, String)>,
}

/// Scans `dir` once: the one folder scanner of the peers' served_files/ and of the
/// synchronizer's folder. Entries that vanish or cannot be read while scanning are skipped.
pub fn scan_folder(dir: &Path) -> io::Result<FolderScan> {
    let mut scan = FolderScan::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) => match validate_file_name(&name) {
                Ok(()) => scan.files.push(FolderEntry {
                    name,
                    size: meta.len(),
                    mtime: mtime_secs(&meta),
                }),
                Err(why) => scan.unservable.push((name, why.to_string())),
            },
            Err(raw) => scan.unservable.push((
                raw.to_string_lossy().into_owned(),
                "file name is not UTF-8".to_string(),
            )),
        }
    }
    scan.files.sort_by(|a, b| a.name.cmp(&b.name));
    scan.unservable.sort();
    Ok(scan)
}

/// A file's modification time in whole seconds since the epoch (0 if unknown or earlier).
pub fn mtime_secs(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}
