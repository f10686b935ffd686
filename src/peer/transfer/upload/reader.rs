//! A served file read for an upload, chunk by chunk: a blocking thread reads it ahead in large
//! blocks (disk reads never hold up an async worker), and chunks are slices of a block (no
//! copy).

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::core::protocol::CHUNK_SIZE;

/// Chunks per block read (about 256 KiB: few hand-overs between the threads).
const BLOCK_CHUNKS: usize = 2621;

/// Blocks read ahead of the sending.
const BLOCKS_AHEAD: usize = 1;

pub struct ChunkReader {
    blocks: mpsc::Receiver<io::Result<Bytes>>,
    block: Bytes,
}

impl ChunkReader {
    /// Opens `path` and starts reading its `size` bytes.
    pub async fn open(path: PathBuf, size: u64) -> io::Result<ChunkReader> {
        let file = tokio::task::spawn_blocking(move || File::open(path))
            .await
            .map_err(io::Error::other)??;
        let (blocks, receiver) = mpsc::channel(BLOCKS_AHEAD);
        tokio::task::spawn_blocking(move || read_blocks(file, size, &blocks));
        Ok(ChunkReader {
            blocks: receiver,
            block: Bytes::new(),
        })
    }

    pub async fn next_chunk(&mut self) -> io::Result<Bytes> {
        if self.block.is_empty() {
            self.block = match self.blocks.recv().await {
                Some(block) => block?,
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
        let len = self.block.len().min(CHUNK_SIZE as usize);
        Ok(self.block.split_to(len))
    }
}

/// Reads `left` bytes of `file` block by block into `blocks`, until an error (sent too) or
/// until the reader is dropped.
fn read_blocks(mut file: File, mut left: u64, blocks: &mpsc::Sender<io::Result<Bytes>>) {
    while left > 0 {
        let want = left.min((BLOCK_CHUNKS * CHUNK_SIZE as usize) as u64) as usize;
        let mut block = vec![0; want];
        let read = file.read_exact(&mut block).map(|()| Bytes::from(block));
        let failed = read.is_err();
        if blocks.blocking_send(read).is_err() || failed {
            return;
        }
        left -= want as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_come_in_order_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let bytes: Vec<u8> = (0..(BLOCK_CHUNKS as u32 * 250 + 42))
            .map(|i| (i % 253) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut reader = ChunkReader::open(path, bytes.len() as u64).await.unwrap();
        let mut read = Vec::new();
        while read.len() < bytes.len() {
            let chunk = reader.next_chunk().await.unwrap();
            assert_eq!(chunk.len(), (bytes.len() - read.len()).min(100));
            read.extend_from_slice(&chunk);
        }
        assert!(read == bytes, "the chunks differ from the file");
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_size_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.bin");
        std::fs::write(&path, [7u8; 250]).unwrap();
        let mut reader = ChunkReader::open(path, 1000).await.unwrap();
        let error = reader.next_chunk().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
