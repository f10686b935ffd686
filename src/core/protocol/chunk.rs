//! Chunk arithmetic: a file is cut into 100-byte chunks, the last one holding the remainder.

/// Bytes per chunk, fixed by the seed.
pub const CHUNK_SIZE: u64 = 100;

/// Number of chunks of a file of `size` bytes (0 for an empty file).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_SIZE)
}

/// Byte offset of chunk `index`.
pub fn chunk_offset(index: u64) -> u64 {
    index.saturating_mul(CHUNK_SIZE)
}

/// Length of chunk `index` of a file of `size` bytes, or `None` when the index is out of range.
pub fn chunk_len(size: u64, index: u64) -> Option<usize> {
    if index >= chunk_count(size) {
        return None;
    }
    let start = chunk_offset(index);
    // Fits in usize: at most CHUNK_SIZE.
    Some((size - start).min(CHUNK_SIZE) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example_876_bytes_is_nine_chunks_last_76() {
        assert_eq!(chunk_count(876), 9);
        assert_eq!(chunk_len(876, 0), Some(100));
        assert_eq!(chunk_len(876, 8), Some(76));
        assert_eq!(chunk_len(876, 9), None);
    }

    #[test]
    fn empty_file_has_no_chunks_and_exact_multiples_have_full_last_chunk() {
        assert_eq!(chunk_count(0), 0);
        assert_eq!(chunk_len(0, 0), None);
        assert_eq!(chunk_count(200), 2);
        assert_eq!(chunk_len(200, 1), Some(100));
        assert_eq!(chunk_count(u64::MAX), u64::MAX / 100 + 1);
    }
}
