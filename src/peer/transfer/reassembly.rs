//! Chunks arrive out of order (peer i mod n, several in flight each); the disk wants large
//! contiguous writes. `Reassembly` holds a bounded ring of chunk slots just past the part of the
//! file already handed out, and hands out contiguous runs.
//!
//! Pure: the caller supplies the `write(offset, bytes)` to use. When a chunk arrives too far
//! ahead for the ring (a slow or departed peer holds up the front), the ring writes what it
//! holds and moves forward past the hole; the hole's chunks, when they come, are written on
//! their own. Memory stays bounded whatever the order.

use std::io;

use crate::protocol::{CHUNK_SIZE, chunk_len};

pub struct Reassembly {
    size: u64,
    slots: u64,
    buf: Vec<u8>,
    present: Vec<bool>,
    /// Chunks below this have been handed out.
    written: u64,
    /// Chunks from `written` up to this are present (a contiguous run waiting to be written).
    ready: u64,
    /// Runs are written once they are this many chunks long.
    run: u64,
}

impl Reassembly {
    /// For a file of `size` bytes, holding at most `slots` chunks.
    pub fn new(size: u64, slots: usize) -> Reassembly {
        let slots = slots.max(1) as u64;
        Reassembly {
            size,
            slots,
            buf: Vec::new(),
            present: vec![false; slots as usize],
            written: 0,
            ready: 0,
            run: (slots / 4).max(1),
        }
    }

    /// Every chunk below this has arrived (or was moved past).
    pub fn ready(&self) -> u64 {
        self.ready
    }

    /// How far past `ready()` a chunk may be and still fit in the ring whatever is unwritten.
    pub fn reach(&self) -> u64 {
        self.slots - self.run
    }

    /// Takes chunk `index`; `write` receives every run that is complete enough to write.
    pub fn put(
        &mut self,
        index: u64,
        payload: &[u8],
        mut write: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if index < self.ready {
            // Behind the ring (a hole it moved past): straight through.
            return write(index * CHUNK_SIZE, payload);
        }
        if index >= self.written + self.slots {
            self.move_past_holes(index, &mut write)?;
        }
        if self.buf.is_empty() {
            self.buf = vec![0; (self.slots * CHUNK_SIZE) as usize];
        }
        let slot = (index % self.slots) as usize;
        let at = slot * CHUNK_SIZE as usize;
        self.buf[at..at + payload.len()].copy_from_slice(payload);
        self.present[slot] = true;
        while self.ready < self.written + self.slots
            && self.present[(self.ready % self.slots) as usize]
        {
            self.ready += 1;
        }
        if self.ready - self.written >= self.run {
            self.flush(&mut write)?;
        }
        Ok(())
    }

    /// Writes every run the ring holds, holes and all, and moves the ring on so that `index`
    /// fits in it.
    fn move_past_holes(
        &mut self,
        index: u64,
        write: &mut impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.flush(&mut *write)?;
        let end = self.written + self.slots;
        if index < end {
            // Writing the front made room.
            return Ok(());
        }
        let mut chunk = self.written;
        while chunk < end {
            if !self.present[(chunk % self.slots) as usize] {
                chunk += 1;
                continue;
            }
            let start = chunk;
            while chunk < end && self.present[(chunk % self.slots) as usize] {
                self.present[(chunk % self.slots) as usize] = false;
                chunk += 1;
            }
            self.write_range(start, chunk, &mut *write)?;
        }
        let base = end.max(index + 1 - self.slots);
        self.written = base;
        self.ready = base;
        Ok(())
    }

    /// Writes chunks `from..to` (held in the ring) in at most two pieces.
    fn write_range(
        &self,
        from: u64,
        to: u64,
        write: &mut impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut chunk = from;
        while chunk < to {
            let first_slot = chunk % self.slots;
            let count = (to - chunk).min(self.slots - first_slot);
            let last = chunk + count - 1;
            let bytes = (count - 1) * CHUNK_SIZE + chunk_len(self.size, last).unwrap_or(0) as u64;
            let at = (first_slot * CHUNK_SIZE) as usize;
            write(chunk * CHUNK_SIZE, &self.buf[at..at + bytes as usize])?;
            chunk += count;
        }
        Ok(())
    }

    /// Hands out the run of present chunks at the front.
    pub fn flush(&mut self, mut write: impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<()> {
        if self.written < self.ready {
            self.write_range(self.written, self.ready, &mut write)?;
            for chunk in self.written..self.ready {
                self.present[(chunk % self.slots) as usize] = false;
            }
            self.written = self.ready;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(size: usize) -> Vec<u8> {
        (0..size).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Feeds `order` through a ring of `slots`; returns the rebuilt file and the writes' sizes.
    fn rebuild(data: &[u8], order: &[u64], slots: usize) -> (Vec<u8>, Vec<usize>) {
        let size = data.len() as u64;
        let mut out = vec![0xEEu8; data.len()];
        let mut writes = Vec::new();
        let mut sink = |offset: u64, bytes: &[u8]| {
            out[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
            writes.push(bytes.len());
            Ok(())
        };
        let mut r = Reassembly::new(size, slots);
        for &i in order {
            let start = (i * CHUNK_SIZE) as usize;
            let end = (start + CHUNK_SIZE as usize).min(data.len());
            r.put(i, &data[start..end], &mut sink).unwrap();
        }
        r.flush(&mut sink).unwrap();
        (out, writes)
    }

    #[test]
    fn in_order_chunks_leave_in_large_runs() {
        let data = file(100_000 + 37);
        let order: Vec<u64> = (0..1001).collect();
        let (out, writes) = rebuild(&data, &order, 400);
        assert_eq!(out, data);
        assert!(
            writes
                .iter()
                .all(|&w| w >= 100 * 100 || w == *writes.last().unwrap())
        );
        assert!(writes.len() <= 11, "{writes:?}");
    }

    #[test]
    fn a_stalled_front_chunk_does_not_grow_memory() {
        let data = file(50_000);
        // Chunk 0 comes last; everything else streams past the ring.
        let mut order: Vec<u64> = (1..500).collect();
        order.push(0);
        let (out, _) = rebuild(&data, &order, 16);
        assert_eq!(out, data);
    }

    proptest! {
        #[test]
        fn any_order_rebuilds_the_file(
            size in 0usize..5000,
            slots in 1usize..64,
            seed in any::<u64>(),
        ) {
            let data = file(size);
            let count = (size as u64).div_ceil(CHUNK_SIZE);
            let mut order: Vec<u64> = (0..count).collect();
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            for i in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let (out, _) = rebuild(&data, &order, slots);
            prop_assert_eq!(out, data);
        }
    }
}
