//! This peer's served_files as the Served files panel shows it: the files (new ones highlighted
//! a while, ones being received marked), the names it cannot serve, and who may upload here.

use std::time::{Duration, Instant};

use crate::core::store::ServedFile;
use crate::core::uploads::UploadStatus;

/// How long a newly arrived file stays highlighted.
const NEW_FILE_HIGHLIGHT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub name: String,
    pub size: u64,
    /// Still being received: shown, but not as served.
    pub receiving: bool,
    pub new_until: Option<Instant>,
}

#[derive(Default)]
pub struct ServedFiles {
    pub files: Vec<FileRow>,
    /// Files in served_files/ not served because the protocol cannot name them, sorted.
    pub unservable: Vec<String>,
    /// Who may upload to this peer and the limits (`UploadStatus`'s words).
    pub uploads: Option<UploadStatus>,
    /// Whether a listing came before (files in the first one are not new).
    listed_before: bool,
}

impl ServedFiles {
    /// The runtime's latest listing of served_files/.
    pub fn on_files(
        &mut self,
        served: Vec<ServedFile>,
        receiving: Vec<String>,
        unservable: Vec<String>,
        now: Instant,
    ) {
        let mut rows: Vec<FileRow> = (served.into_iter()).map(|f| self.row(f, now)).collect();
        rows.extend(receiving.into_iter().map(|name| FileRow {
            name,
            size: 0,
            receiving: true,
            new_until: None,
        }));
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        self.files = rows;
        self.listed_before = true;
        self.unservable = unservable;
    }

    /// A served file's row: highlighted a while if it was not served in the listing before.
    fn row(&self, f: ServedFile, now: Instant) -> FileRow {
        let old = (self.files.iter()).find(|r| r.name == f.name && !r.receiving);
        let new_until = match old {
            None if self.listed_before => Some(now + NEW_FILE_HIGHLIGHT),
            None => None,
            Some(r) => r.new_until,
        };
        FileRow {
            name: f.name,
            size: f.size,
            receiving: false,
            new_until: new_until.filter(|t| *t > now),
        }
    }

    /// The names of the files listed (served or being received).
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.files.iter().map(|f| f.name.clone())
    }

    /// How many are served (not being received).
    pub fn served(&self) -> usize {
        self.files.iter().filter(|f| !f.receiving).count()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn names_not_servable_follow_each_listing() {
        let mut served = ServedFiles::default();
        let list = |served: &mut ServedFiles, unservable: &[&str]| {
            let ok = ServedFile {
                name: "ok.txt".into(),
                size: 1,
            };
            let unservable = unservable.iter().map(|n| n.to_string()).collect();
            served.on_files(vec![ok], vec![], unservable, Instant::now());
        };
        assert!(served.unservable.is_empty());
        list(&mut served, &["a b.txt", "tab\tname"]);
        assert_eq!(served.unservable, ["a b.txt", "tab\tname"]);
        assert_eq!(served.files.len(), 1, "not among the served files");
        // Renamed: the next listing no longer has it.
        list(&mut served, &["tab\tname"]);
        assert_eq!(served.unservable, ["tab\tname"]);
        list(&mut served, &[]);
        assert!(served.unservable.is_empty());
    }

    #[test]
    fn new_files_are_highlighted_and_received_ones_marked() {
        let mut served = ServedFiles::default();
        let t0 = Instant::now();
        let f = |name: &str| ServedFile {
            name: name.into(),
            size: 10,
        };
        served.on_files(vec![f("a")], vec![], vec![], t0);
        assert_eq!(served.files[0].new_until, None);
        served.on_files(vec![f("a")], vec!["b".into()], vec![], t0);
        assert!(served.files[1].receiving);
        served.on_files(vec![f("a"), f("b")], vec![], vec![], t0);
        assert!(served.files[1].new_until.is_some() && !served.files[1].receiving);
        served.on_files(
            vec![f("a"), f("b")],
            vec![],
            vec![],
            t0 + Duration::from_secs(6),
        );
        assert_eq!(served.files[1].new_until, None);
    }
}
