//! The files `--check-web` serves itself through the server under test: one of each type the
//! seeds name, and a large binary, written into the web root under names unique to the run
//! and removed when the run ends; and a secret file outside the root that no request may
//! reach.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};

/// One file in the web root.
pub struct File {
    /// Its name in the root (also the request target, after `/`).
    pub name: String,
    /// The `Content-Type` the seeds call for.
    pub media_type: &'static str,
    /// Other names for the same type that a browser accepts (a deviation, not a failure).
    pub also: &'static [&'static str],
    pub bytes: Vec<u8>,
}

/// The kinds of file the checker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Html,
    Txt,
    Jpg,
    Png,
    Mp3,
    Mp4,
    /// A binary over 4 MiB (past any small-file cache, many reads and writes).
    Large,
}

const KINDS: [Kind; 7] = [
    Kind::Html,
    Kind::Txt,
    Kind::Jpg,
    Kind::Png,
    Kind::Mp3,
    Kind::Mp4,
    Kind::Large,
];

/// The size of the large binary: 5 MiB and an odd remainder.
pub const LARGE: usize = (5 << 20) + 7;

pub struct Site {
    root: PathBuf,
    files: Vec<(Kind, File)>,
    /// Outside the root: its path, and its bytes.
    pub secret: (PathBuf, Vec<u8>),
    _outside: tempfile::TempDir,
    /// A name no file in the root has.
    pub missing: String,
}

impl Site {
    /// Writes the files into `root` (names start with `prefix`).
    pub fn create(root: &Path, prefix: &str) -> Result<Site> {
        let outside = tempfile::tempdir().wrap_err("a temporary directory")?;
        let secret_path = outside.path().join(format!("{prefix}-secret.txt"));
        let secret = format!("p2p-tui --check-web secret {prefix}: outside the web root\n");
        std::fs::write(&secret_path, &secret).wrap_err("the secret file")?;
        let mut site = Site {
            root: root.to_path_buf(),
            files: Vec::new(),
            secret: (secret_path, secret.into_bytes()),
            _outside: outside,
            missing: format!("{prefix}-missing.html"),
        };
        for kind in KINDS {
            let file = make(kind, prefix);
            let path = root.join(&file.name);
            std::fs::write(&path, &file.bytes)
                .wrap_err_with(|| format!("cannot write {} into the web root", path.display()))?;
            site.files.push((kind, file));
        }
        Ok(site)
    }

    pub fn file(&self, kind: Kind) -> &File {
        &self
            .files
            .iter()
            .find(|(k, _)| *k == kind)
            .expect("every kind is written")
            .1
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for (_, file) in &self.files {
            let _ = std::fs::remove_file(self.root.join(&file.name));
        }
    }
}

fn make(kind: Kind, prefix: &str) -> File {
    let (what, media_type, also, bytes): (&str, _, &[&str], Vec<u8>) = match kind {
        Kind::Html => ("page.html", "text/html", &[], HTML.as_bytes().to_vec()),
        Kind::Txt => ("notes.txt", "text/plain", &[], TXT.as_bytes().to_vec()),
        Kind::Jpg => (
            "photo.jpg",
            "image/jpeg",
            &["image/jpg", "image/pjpeg"],
            binary(JPEG, 40_000, 1),
        ),
        Kind::Png => ("diagram.png", "image/png", &[], binary(PNG, 30_000, 2)),
        Kind::Mp3 => (
            "chime.mp3",
            "audio/mpeg",
            &["audio/mp3", "audio/mpeg3"],
            binary(MP3, 50_000, 3),
        ),
        Kind::Mp4 => ("clip.mp4", "video/mp4", &[], binary(MP4, 80_000, 4)),
        Kind::Large => (
            "large.jpg",
            "image/jpeg",
            &["image/jpg"],
            binary(JPEG, LARGE, 5),
        ),
    };
    File {
        name: format!("{prefix}-{what}"),
        media_type,
        also,
        bytes,
    }
}

const HTML: &str = "<!DOCTYPE html>\n<html>\n<head><title>p2p-tui --check-web</title></head>\n<body>\n<h1>Success!!!</h1>\n<p>A page served for p2p-tui --check-web.</p>\n</body>\n</html>\n";

const TXT: &str = "Success!!!\nA text file served for p2p-tui --check-web.\nIts last line.\n";

const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";
const MP3: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom";

/// `magic`, then `len - magic.len()` bytes that look like compressed data: every byte value,
/// NUL, CR, LF and invalid UTF-8 among them (deterministic: xorshift from `seed`).
fn binary(magic: &[u8], len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(magic);
    out.extend((0u8..=255).take(len.saturating_sub(out.len())));
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed;
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend(state.to_le_bytes().iter().take(len - out.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_written_and_removed_with_the_site() {
        let root = tempfile::tempdir().unwrap();
        let site = Site::create(root.path(), "chk1").unwrap();
        let large = site.file(Kind::Large);
        assert_eq!(large.bytes.len(), LARGE);
        assert_eq!(
            std::fs::read(root.path().join(&large.name)).unwrap(),
            large.bytes
        );
        assert!(site.file(Kind::Png).bytes.starts_with(b"\x89PNG"));
        assert!(!site.secret.0.starts_with(root.path()));
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 7);
        drop(site);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
