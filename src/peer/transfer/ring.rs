//! The reassembly ring of a download (see `scheduler`): chunks arrive in any order within its
//! reach and leave for the disk in contiguous runs. It starts small and grows, up to the
//! download's memory budget, when the windows in flight need a longer reach.

use std::io;

use crate::core::protocol::{CHUNK_SIZE, chunk_count};

/// Memory per slot: the payload, a presence flag, and who sent it.
pub(super) const SLOT_BYTES: u64 = CHUNK_SIZE + 1 + std::mem::size_of::<usize>() as u64;

/// The reassembly ring: chunks arrive in any order within the reach; the disk gets contiguous
/// runs. Chunk i lives in slot i mod `slots`; a chunk is requested only when its slot is free
/// (`index < written + slots`), so memory is bounded by the ring whatever the file size.
pub(super) struct Ring {
    size: u64,
    chunks: u64,
    pub(super) slots: u64,
    buf: Vec<u8>,
    present: Vec<bool>,
    /// Who sent the chunk in each slot.
    owner: Vec<usize>,
    /// Chunks below this are written.
    pub(super) written: u64,
    /// Chunks from `written` up to this are present.
    pub(super) ready: u64,
    /// Chunks held (present and not written).
    pub(super) held: u64,
    /// Runs are written once they are this long (or reach the end of the file).
    run: u64,
    /// Runs of any length are written (verification checks whole groups itself).
    any_run: bool,
}

impl Ring {
    pub(super) fn new(size: u64, slots: usize) -> Ring {
        let chunks = chunk_count(size);
        let slots = (slots.max(1) as u64).min(chunks.max(1));
        Ring {
            size,
            chunks,
            slots,
            buf: Vec::new(),
            present: vec![false; slots as usize],
            owner: vec![0; slots as usize],
            written: 0,
            ready: 0,
            held: 0,
            run: (slots / 4).max(1),
            any_run: false,
        }
    }

    /// Chunks below this may be requested.
    pub(super) fn limit(&self) -> u64 {
        self.written + self.slots
    }

    /// Holds at least `chunks` chunks (a whole verification group), unless the file is smaller.
    pub(super) fn widen_to(&mut self, chunks: u64) {
        let slots = self.slots.max(chunks).min(self.chunks.max(1));
        if slots != self.slots {
            *self = Ring::new(self.size, slots as usize);
        }
        self.run = 1;
        self.any_run = true;
    }

    /// Chunks `from..to` (all present) as a slice of the ring, if they do not wrap around it.
    pub(super) fn contiguous(&self, from: u64, to: u64) -> Option<&[u8]> {
        let slot = from % self.slots;
        if to - from > self.slots - slot {
            return None;
        }
        let start = (slot * CHUNK_SIZE) as usize;
        let len = ((to * CHUNK_SIZE).min(self.size) - from * CHUNK_SIZE) as usize;
        self.buf.get(start..start + len)
    }

    /// Chunks `from..to` (all present) as one piece of bytes, and who sent each.
    pub(super) fn run(&self, from: u64, to: u64) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::with_capacity(((to - from) * CHUNK_SIZE) as usize);
        let mut owners = Vec::with_capacity((to - from) as usize);
        for index in from..to {
            let slot = (index % self.slots) as usize;
            let start = slot * CHUNK_SIZE as usize;
            let len = crate::core::protocol::chunk_len(self.size, index).unwrap_or(0);
            bytes.extend_from_slice(&self.buf[start..start + len]);
            owners.push(self.owner[slot]);
        }
        (bytes, owners)
    }

    /// Writes chunks `written..to` (all present), then frees their slots.
    pub(super) fn write_run(
        &mut self,
        to: u64,
        mut write: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut from = self.written;
        while from < to {
            let slot = from % self.slots;
            let until = to.min(from + (self.slots - slot));
            let offset = from * CHUNK_SIZE;
            let len = (until * CHUNK_SIZE).min(self.size) - offset;
            let start = (slot * CHUNK_SIZE) as usize;
            write(offset, &self.buf[start..start + len as usize])?;
            for s in slot..slot + (until - from) {
                self.present[s as usize] = false;
            }
            self.held -= until - from;
            from = until;
        }
        self.written = to;
        if self.written == self.chunks {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Chunks `from..to` are to be fetched again: their slots are emptied.
    pub(super) fn forget(&mut self, from: u64, to: u64) {
        for index in from..to {
            let slot = (index % self.slots) as usize;
            if self.present[slot] {
                self.present[slot] = false;
                self.held -= 1;
            }
        }
        self.ready = self.ready.min(from);
    }

    pub(super) fn put(&mut self, index: u64, payload: &[u8], peer: usize) {
        debug_assert!(index >= self.written && index < self.limit());
        if self.buf.is_empty() {
            self.buf = vec![0; (self.slots * CHUNK_SIZE) as usize];
        }
        let slot = (index % self.slots) as usize;
        let start = slot * CHUNK_SIZE as usize;
        self.buf[start..start + payload.len()].copy_from_slice(payload);
        self.owner[slot] = peer;
        if !self.present[slot] {
            self.present[slot] = true;
            self.held += 1;
        }
        let end = self.chunks.min(self.limit());
        while self.ready < end && self.present[(self.ready % self.slots) as usize] {
            self.ready += 1;
        }
    }

    /// Whether chunk `index` has arrived (written, or held in the ring).
    pub(super) fn has(&self, index: u64) -> bool {
        index < self.written
            || (index < self.limit() && self.present[(index % self.slots) as usize])
    }

    /// At least `slots` slots (never more than the file has chunks): the chunks held move to
    /// their places in a larger ring. Called rarely (the reach doubles at least each time). The
    /// bytes stay in the same buffer, grown in place: its pages are not touched afresh.
    pub(super) fn grow_to(&mut self, slots: u64) {
        let slots = slots.min(self.chunks.max(1));
        if slots <= self.slots {
            return;
        }
        let old = self.slots;
        let (present, owner) = (
            std::mem::take(&mut self.present),
            std::mem::take(&mut self.owner),
        );
        move_slots(&mut self.buf, old, slots, self.written);
        self.slots = slots;
        self.present = vec![false; slots as usize];
        self.owner = vec![0; slots as usize];
        if !self.any_run {
            self.run = (slots / 4).max(1);
        }
        self.held = 0;
        for index in self.written..self.chunks.min(self.written + old) {
            let (from, to) = ((index % old) as usize, (index % slots) as usize);
            if present[from] {
                self.present[to] = true;
                self.owner[to] = owner[from];
                self.held += 1;
            }
        }
        self.ready = self.written;
        let end = self.chunks.min(self.limit());
        while self.ready < end && self.present[(self.ready % self.slots) as usize] {
            self.ready += 1;
        }
    }

    /// Writes the ready run if it is long enough or ends the file; true if anything was written.
    pub(super) fn flush(
        &mut self,
        write: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        let pending = self.ready - self.written;
        if pending == 0 || (pending < self.run && self.ready < self.chunks) {
            return Ok(false);
        }
        self.write_run(self.ready, write)?;
        Ok(true)
    }
}

/// Grows a ring's bytes from `old` to `new` slots in place, each chunk from `written` on moving
/// from slot `index mod old` to slot `index mod new`. An empty buffer (nothing put yet) stays
/// empty.
fn move_slots(buf: &mut Vec<u8>, old: u64, new: u64, written: u64) {
    if buf.is_empty() {
        return;
    }
    let slot = CHUNK_SIZE as usize;
    // Chunk `written + j` at slot j, then at slot `(written + j) mod new`.
    buf.rotate_left((written % old) as usize * slot);
    buf.reserve_exact((new - old) as usize * slot);
    buf.resize(new as usize * slot, 0);
    buf.rotate_right((written % new) as usize * slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunk `index`'s bytes: its number, over and over.
    fn payload(size: u64, index: u64) -> Vec<u8> {
        let len = crate::core::protocol::chunk_len(size, index).unwrap();
        (0..len).map(|k| (index as usize * 7 + k) as u8).collect()
    }

    #[test]
    fn growing_keeps_every_chunk_held_and_its_sender_whatever_the_ring_position() {
        let size = 1000 * CHUNK_SIZE - 37;
        for (first, written, to) in [
            (8, 5, 17),
            (8, 13, 11),
            (10, 7, 16),
            (6, 0, 40),
            (5, 3, 500),
        ] {
            let mut ring = Ring::new(size, first);
            for next in 0..written {
                ring.put(next, &payload(size, next), 1);
                ring.write_run(next + 1, |_, _| Ok(())).unwrap();
            }
            // Every other chunk of the reach, some from peer 2.
            let held: Vec<u64> = (written..ring.limit()).filter(|i| i % 3 != 1).collect();
            for &i in &held {
                ring.put(i, &payload(size, i), (i % 2 + 1) as usize);
            }
            ring.grow_to(to);
            assert_eq!(ring.slots, to);
            assert_eq!(ring.held, held.len() as u64);
            for i in written..ring.limit() {
                assert_eq!(
                    ring.has(i),
                    held.contains(&i),
                    "chunk {i} after {first} -> {to}"
                );
            }
            for &i in &held {
                let (bytes, owners) = ring.run(i, i + 1);
                assert_eq!(bytes, payload(size, i), "chunk {i} after {first} -> {to}");
                assert_eq!(owners, vec![(i % 2 + 1) as usize]);
            }
            let ready = held
                .iter()
                .zip(written..)
                .take_while(|(h, i)| *h == i)
                .count();
            assert_eq!(ring.ready, written + ready as u64);
        }
    }
}
