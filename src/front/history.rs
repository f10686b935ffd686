//! The command history file, `.p2p-tui-history` in the peer directory: one command a line,
//! oldest first, the newest `KEPT` kept. Shared by the full-screen UI's command bar and the
//! `--line` console on a terminal, so either recalls what the other ran.

use std::io::Write;
use std::path::{Path, PathBuf};

/// History entries kept (in memory and in the file).
pub const KEPT: usize = 500;

const FILE: &str = ".p2p-tui-history";

/// The history file of the peer whose served_files/ is `served_dir` (next to it).
pub fn path_beside(served_dir: &Path) -> PathBuf {
    served_dir.parent().unwrap_or(Path::new(".")).join(FILE)
}

/// The history saved by an earlier run (none if there is no file or it cannot be read).
pub fn read(path: &Path) -> Vec<String> {
    // Bounded: a history file is a few kilobytes; a huge one is not read.
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() <= 1 << 20 => {}
        _ => return Vec::new(),
    }
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Saves the whole history for the next run; a failure is logged, never fatal.
pub fn write(path: &Path, history: &[String]) {
    let text: String = history.iter().map(|l| format!("{l}\n")).collect();
    if let Err(e) = std::fs::write(path, text) {
        tracing::warn!(path = %path.display(), error = %e, "cannot save the command history");
    }
}

/// Saves the newest entry of `history` at once (a console killed later keeps it): appended
/// while the history is under `KEPT`, else the file is rewritten to the newest `KEPT`.
pub fn save_newest(path: &Path, history: &[String]) {
    let Some(newest) = history.last() else {
        return;
    };
    if history.len() >= KEPT {
        write(path, history);
        return;
    }
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(format!("{newest}\n").as_bytes()));
    if let Err(e) = appended {
        tracing::warn!(path = %path.display(), error = %e, "cannot save the command history");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_entries_read_back_and_the_file_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_beside(&dir.path().join("served_files"));
        assert_eq!(path, dir.path().join(".p2p-tui-history"));
        assert!(read(&path).is_empty());
        let mut history = Vec::new();
        for n in 0..KEPT + 3 {
            history.push(format!("#L{n}"));
            if history.len() > KEPT {
                history.remove(0);
            }
            save_newest(&path, &history);
        }
        let back = read(&path);
        assert_eq!(back.len(), KEPT);
        assert_eq!(back.first().map(String::as_str), Some("#L3"));
        assert_eq!(back.last(), Some(&format!("#L{}", KEPT + 2)));
    }
}
