//! The decoder's dynamic table (RFC 9204 §3.2): FIFO entries addressed by absolute index,
//! sized by `name + value + 32`, stored in one byte buffer (no allocation per entry).

use std::collections::VecDeque;

/// Per-entry overhead in the size accounting (RFC 9204 §3.2.1).
pub(crate) const ENTRY_OVERHEAD: u64 = 32;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Offset of the name in `buf`; the value follows it.
    off: usize,
    name_len: usize,
    value_len: usize,
}

/// Why an insertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableError {
    /// The entry is larger than the current capacity.
    EntryTooLarge,
    /// A capacity above the maximum we advertised.
    CapacityTooLarge,
}

/// The dynamic table. Entries live back to back in `buf` (oldest first, from `start`);
/// when the tail of the buffer is too short for a new entry the live bytes are moved to
/// the front. The buffer holds twice the capacity, so that happens at most once per
/// `capacity` bytes inserted.
#[derive(Debug, Default)]
pub(crate) struct DynamicTable {
    buf: Vec<u8>,
    slots: VecDeque<Slot>,
    /// Write position in `buf`.
    head: usize,
    capacity: u64,
    max_capacity: u64,
    size: u64,
    inserted: u64,
}

impl DynamicTable {
    /// An empty table (capacity 0) that accepts capacities up to `max_capacity`.
    pub(crate) fn new(max_capacity: u64) -> Self {
        DynamicTable {
            max_capacity,
            ..Default::default()
        }
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Total insertions so far: the decoder's Insert Count.
    pub(crate) fn insert_count(&self) -> u64 {
        self.inserted
    }

    /// Absolute index of the oldest entry still in the table.
    fn dropped(&self) -> u64 {
        self.inserted - self.slots.len() as u64
    }

    /// The entry with absolute index `abs`, if it is still in the table.
    pub(crate) fn get(&self, abs: u64) -> Option<(&[u8], &[u8])> {
        let i = abs.checked_sub(self.dropped())?;
        let slot = self.slots.get(usize::try_from(i).ok()?)?;
        let name_end = slot.off + slot.name_len;
        Some((
            &self.buf[slot.off..name_end],
            &self.buf[name_end..name_end + slot.value_len],
        ))
    }

    /// Set Dynamic Table Capacity (RFC 9204 §4.3.1): evicts down to the new capacity.
    pub(crate) fn set_capacity(&mut self, capacity: u64) -> Result<(), TableError> {
        if capacity > self.max_capacity {
            return Err(TableError::CapacityTooLarge);
        }
        self.capacity = capacity;
        self.evict_to(capacity);
        Ok(())
    }

    /// Inserts an entry, evicting the oldest ones to make room (RFC 9204 §3.2.2). The
    /// slices must not point into this table (callers copy referenced entries first).
    pub(crate) fn insert(&mut self, name: &[u8], value: &[u8]) -> Result<(), TableError> {
        let entry_size = name.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD;
        if entry_size > self.capacity {
            return Err(TableError::EntryTooLarge);
        }
        self.evict_to(self.capacity - entry_size);
        let len = name.len() + value.len();
        // The capacity can be at most `max_capacity`, which the caller bounded; the
        // buffer is twice the current capacity.
        let want = (self.capacity as usize).saturating_mul(2);
        if self.buf.len() < want {
            self.regrow(want);
        }
        if self.head + len > self.buf.len() {
            self.compact();
        }
        let off = self.head;
        self.buf[off..off + name.len()].copy_from_slice(name);
        self.buf[off + name.len()..off + len].copy_from_slice(value);
        self.head += len;
        self.slots.push_back(Slot {
            off,
            name_len: name.len(),
            value_len: value.len(),
        });
        self.size += entry_size;
        self.inserted += 1;
        Ok(())
    }

    fn evict_to(&mut self, target: u64) {
        while self.size > target {
            let Some(slot) = self.slots.pop_front() else {
                break;
            };
            self.size -= (slot.name_len + slot.value_len) as u64 + ENTRY_OVERHEAD;
        }
        if self.slots.is_empty() {
            self.head = 0;
        }
    }

    /// Moves the live bytes to the front of the buffer.
    fn compact(&mut self) {
        let Some(first) = self.slots.front() else {
            self.head = 0;
            return;
        };
        let shift = first.off;
        self.buf.copy_within(shift..self.head, 0);
        self.head -= shift;
        for slot in &mut self.slots {
            slot.off -= shift;
        }
    }

    /// Replaces the buffer by a larger one holding the live bytes at its front.
    fn regrow(&mut self, len: usize) {
        let mut buf = vec![0u8; len];
        let start = self.slots.front().map_or(self.head, |s| s.off);
        let live = self.head - start;
        buf[..live].copy_from_slice(&self.buf[start..self.head]);
        for slot in &mut self.slots {
            slot.off -= start;
        }
        self.head = live;
        self.buf = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_evict_and_compact() {
        let mut t = DynamicTable::new(220);
        assert_eq!(t.insert(b"a", b"b"), Err(TableError::EntryTooLarge));
        assert_eq!(t.set_capacity(221), Err(TableError::CapacityTooLarge));
        t.set_capacity(220).unwrap();
        t.insert(b":authority", b"www.example.com").unwrap();
        t.insert(b":path", b"/sample/path").unwrap();
        assert_eq!(t.size(), 106);
        t.insert(b"custom-key", b"custom-value").unwrap();
        assert_eq!(t.size(), 160);
        t.insert(b":authority", b"www.example.com").unwrap();
        assert_eq!(t.size(), 217);
        t.insert(b"custom-key", b"custom-value2").unwrap();
        assert_eq!(t.size(), 215);
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(1), Some((&b":path"[..], &b"/sample/path"[..])));
        assert_eq!(t.get(4), Some((&b"custom-key"[..], &b"custom-value2"[..])));
        assert_eq!(t.get(5), None);
        // Many inserts through the compaction path keep contents intact.
        for i in 0..1000u32 {
            let v = format!("value-{i}");
            t.insert(b"k", v.as_bytes()).unwrap();
            let (n, got) = t.get(t.insert_count() - 1).unwrap();
            assert_eq!((n, got), (&b"k"[..], v.as_bytes()));
            assert!(t.size() <= t.capacity());
        }
        // Shrinking evicts; zero clears.
        t.set_capacity(50).unwrap();
        assert!(t.size() <= 50);
        t.set_capacity(0).unwrap();
        assert_eq!((t.len(), t.size()), (0, 0));
        t.set_capacity(220).unwrap();
        t.insert(b"x", b"y").unwrap();
        assert_eq!(t.get(t.insert_count() - 1), Some((&b"x"[..], &b"y"[..])));
    }

    #[test]
    fn growing_capacity_keeps_entries() {
        let mut t = DynamicTable::new(4096);
        t.set_capacity(64).unwrap();
        t.insert(b"name", b"value").unwrap();
        t.set_capacity(4096).unwrap();
        t.insert(b"other", b"thing").unwrap();
        assert_eq!(t.get(0), Some((&b"name"[..], &b"value"[..])));
        assert_eq!(t.get(1), Some((&b"other"[..], &b"thing"[..])));
    }
}
