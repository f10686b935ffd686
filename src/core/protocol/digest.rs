//! A file's content digest, the extension p2p-tui peers use to verify what a download received:
//! BLAKE3 of the whole file and of each group of `group_chunks` chunks. Pure: built from bytes
//! fed in file order, formatted and parsed as the words of a `200 Digest` reply.
//!
//! `#DIGEST f` -> `200 Digest f bytes N group G <whole> <group 0> <group 1> ...` (hex). Classroom
//! peers never receive it: it is asked only of peers whose `#EXTENSIONS` answer names `digest`.

use super::chunk::{CHUNK_SIZE, chunk_count};

pub type Hash = [u8; 32];

/// Chunks per verified group for files up to about 90 MB: 102,400 bytes, so a group fits in the
/// download's reassembly ring and can be fetched again before anything of it is written.
pub const GROUP_CHUNKS: u64 = 1024;

/// Groups a digest has at most (while groups stay under 65,536 chunks): the reply stays one
/// line of under 64 KiB whatever the file's size.
const MOST_GROUPS: u64 = 900;

/// The group size for a file of `size` bytes: 1,024 chunks, doubled until the file has at most
/// 900 groups (at most 65,536 chunks, 6.5 MB, which the downloader's ring then holds).
pub fn group_chunks_for(size: u64) -> u64 {
    chunk_count(size)
        .div_ceil(MOST_GROUPS)
        .next_power_of_two()
        .clamp(GROUP_CHUNKS, 65_536)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigest {
    pub size: u64,
    pub group_chunks: u64,
    pub whole: Hash,
    pub groups: Vec<Hash>,
}

impl ContentDigest {
    /// The number of groups a file of `size` bytes has.
    pub fn group_count(size: u64, group_chunks: u64) -> u64 {
        chunk_count(size).div_ceil(group_chunks.max(1))
    }

    #[cfg(test)]
    /// The bytes of group `g`: `[offset, offset + len)`.
    pub fn group_range(&self, g: u64) -> (u64, u64) {
        let bytes = self.group_chunks * CHUNK_SIZE;
        let offset = g * bytes;
        (offset, bytes.min(self.size.saturating_sub(offset)))
    }

    #[cfg(test)]
    /// The digest of `bytes` (a whole file in memory: tests and small files).
    pub fn of(bytes: &[u8]) -> ContentDigest {
        let mut builder = DigestBuilder::new(bytes.len() as u64, GROUP_CHUNKS);
        builder.update(bytes);
        builder.finish()
    }

    /// The reply's words after the file name: `bytes N group G <whole> <groups...>`.
    pub fn to_words(&self) -> String {
        let mut out = format!(
            "bytes {} group {} {}",
            self.size,
            self.group_chunks,
            hex(&self.whole)
        );
        for g in &self.groups {
            out.push(' ');
            out.push_str(&hex(g));
        }
        out
    }

    /// Parses `bytes N group G <whole> <groups...>`; `None` if malformed or inconsistent.
    pub fn parse_words(words: &str) -> Option<ContentDigest> {
        let mut it = words.split_ascii_whitespace();
        (it.next()? == "bytes").then_some(())?;
        let size: u64 = it.next()?.parse().ok()?;
        (it.next()? == "group").then_some(())?;
        let group_chunks: u64 = it.next()?.parse().ok().filter(|&g| g > 0)?;
        let whole = unhex(it.next()?)?;
        let groups: Vec<Hash> = it.map(unhex).collect::<Option<_>>()?;
        (groups.len() as u64 == Self::group_count(size, group_chunks)).then_some(())?;
        Some(ContentDigest {
            size,
            group_chunks,
            whole,
            groups,
        })
    }

    /// Whether `bytes` are group `g` of this version.
    pub fn group_matches(&self, g: u64, bytes: &[u8]) -> bool {
        self.groups
            .get(g as usize)
            .is_some_and(|h| blake3::hash(bytes).as_bytes() == h)
    }
}

/// Builds a digest from the file's bytes fed in order, in pieces of any size.
pub struct DigestBuilder {
    size: u64,
    group_bytes: u64,
    whole: blake3::Hasher,
    group: blake3::Hasher,
    in_group: u64,
    groups: Vec<Hash>,
    group_chunks: u64,
}

impl DigestBuilder {
    pub fn new(size: u64, group_chunks: u64) -> DigestBuilder {
        DigestBuilder {
            size,
            group_bytes: group_chunks * CHUNK_SIZE,
            whole: blake3::Hasher::new(),
            group: blake3::Hasher::new(),
            in_group: 0,
            groups: Vec::new(),
            group_chunks,
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        self.whole.update(bytes);
        while !bytes.is_empty() {
            let take = ((self.group_bytes - self.in_group) as usize).min(bytes.len());
            self.group.update(&bytes[..take]);
            self.in_group += take as u64;
            bytes = &bytes[take..];
            if self.in_group == self.group_bytes {
                self.close_group();
            }
        }
    }

    fn close_group(&mut self) {
        let done = std::mem::replace(&mut self.group, blake3::Hasher::new());
        self.groups.push(*done.finalize().as_bytes());
        self.in_group = 0;
    }

    pub fn finish(mut self) -> ContentDigest {
        if self.in_group > 0 {
            self.close_group();
        }
        ContentDigest {
            size: self.size,
            group_chunks: self.group_chunks,
            whole: *self.whole.finalize().as_bytes(),
            groups: self.groups,
        }
    }
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Hash> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn groups_cover_the_file_and_the_words_round_trip() {
        let bytes: Vec<u8> = (0..250_001u32).map(|i| (i % 253) as u8).collect();
        let d = ContentDigest::of(&bytes);
        assert_eq!(d.groups.len(), 3); // 102,400 + 102,400 + 45,201
        assert_eq!(d.group_range(2), (204_800, 45_201));
        assert!(d.group_matches(1, &bytes[102_400..204_800]));
        assert!(!d.group_matches(1, &bytes[0..102_400]));
        assert_eq!(ContentDigest::parse_words(&d.to_words()), Some(d.clone()));
        assert_eq!(d.whole, *blake3::hash(&bytes).as_bytes());
    }

    #[test]
    fn big_files_get_bigger_groups_and_a_reply_under_64_kib() {
        assert_eq!(group_chunks_for(3_000_000), 1024);
        let gib = 1u64 << 30;
        let g = group_chunks_for(gib);
        assert!(ContentDigest::group_count(gib, g) <= MOST_GROUPS);
        assert!(ContentDigest::group_count(gib, g) * 65 < 64 * 1024);
    }

    #[test]
    fn an_empty_file_has_no_groups() {
        let d = ContentDigest::of(b"");
        assert!(d.groups.is_empty());
        assert_eq!(ContentDigest::parse_words(&d.to_words()), Some(d));
    }

    #[test]
    fn malformed_words_are_refused() {
        let d = ContentDigest::of(&[7; 300]);
        let words = d.to_words();
        assert!(ContentDigest::parse_words(&words.replace("group 1024", "group 0")).is_none());
        assert!(ContentDigest::parse_words(&words.replace("bytes 300", "bytes 999999")).is_none());
        assert!(ContentDigest::parse_words(&words[..words.len() - 1]).is_none());
        assert!(ContentDigest::parse_words("bytes x").is_none());
    }

    proptest! {
        /// Fed in any pieces, the digest is the same.
        #[test]
        fn pieces_do_not_matter(len in 0usize..300_000, cuts in proptest::collection::vec(1usize..70_000, 0..8)) {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let whole = ContentDigest::of(&bytes);
            let mut b = DigestBuilder::new(len as u64, GROUP_CHUNKS);
            let mut rest = &bytes[..];
            for cut in cuts {
                let (head, tail) = rest.split_at(cut.min(rest.len()));
                b.update(head);
                rest = tail;
            }
            b.update(rest);
            prop_assert_eq!(b.finish(), whole);
        }
    }
}
