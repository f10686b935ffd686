//! One version per download: which copy of a file the serving peers agree on. Pure.
//!
//! The seed protocol cannot tell two versions of the same size apart, so sizes are compared
//! first (the `330 ... bytes N` replies), then the content digests of the peers that give one.

use crate::core::protocol::digest::ContentDigest;

/// What a download may fetch, given each serving peer's size and digest (if it gave one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Every digest given agrees: verify against it; `vouching` are the peers that gave it.
    Verified {
        digest: ContentDigest,
        vouching: Vec<usize>,
    },
    /// Sizes agree and nobody could describe the content (classroom peers): unverifiable.
    Unverified,
    /// The peers hold different versions: (position, size, digest's first bytes if any) of
    /// each group that disagrees; the download is refused.
    Disagree(Vec<Vec<usize>>),
}

/// Groups the serving peers (by position) by what they said of the file; one group is one
/// version. Peers without a digest join the group of their size if it is the only one.
pub fn choose(sizes: &[u64], digests: &[Option<&ContentDigest>]) -> Version {
    let mut by_size: Vec<(u64, Vec<usize>)> = Vec::new();
    for (p, &size) in sizes.iter().enumerate() {
        match by_size.iter_mut().find(|(s, _)| *s == size) {
            Some((_, peers)) => peers.push(p),
            None => by_size.push((size, vec![p])),
        }
    }
    if by_size.len() > 1 {
        return Version::Disagree(by_size.into_iter().map(|(_, peers)| peers).collect());
    }
    let mut by_digest: Vec<(&ContentDigest, Vec<usize>)> = Vec::new();
    for (p, digest) in digests.iter().enumerate() {
        let Some(d) = digest else { continue };
        match by_digest
            .iter_mut()
            .find(|(known, _)| known.whole == d.whole)
        {
            Some((_, peers)) => peers.push(p),
            None => by_digest.push((d, vec![p])),
        }
    }
    match by_digest.as_slice() {
        [] => Version::Unverified,
        [(digest, vouching)] if digest.size == sizes.first().copied().unwrap_or(0) => {
            Version::Verified {
                digest: (*digest).clone(),
                vouching: vouching.clone(),
            }
        }
        _ => Version::Disagree(by_digest.into_iter().map(|(_, peers)| peers).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_differ_are_two_versions() {
        assert_eq!(
            choose(&[1000, 1200, 1000], &[None, None, None]),
            Version::Disagree(vec![vec![0, 2], vec![1]])
        );
    }

    #[test]
    fn digests_decide_between_same_size_versions() {
        let a = ContentDigest::of(&[b'A'; 1000]);
        let b = ContentDigest::of(&[b'B'; 1000]);
        assert_eq!(
            choose(&[1000, 1000], &[Some(&a), Some(&b)]),
            Version::Disagree(vec![vec![0], vec![1]])
        );
        assert_eq!(
            choose(&[1000, 1000, 1000], &[Some(&a), None, Some(&a)]),
            Version::Verified {
                digest: a.clone(),
                vouching: vec![0, 2]
            }
        );
        assert_eq!(choose(&[1000, 1000], &[None, None]), Version::Unverified);
    }
}
