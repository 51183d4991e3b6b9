//! The static table (RFC 7541 Appendix A) and the dynamic table (RFC 7541 §2.3.2, §4).

use std::collections::VecDeque;

/// Per-entry overhead counted in the table size (RFC 7541 §4.1).
pub const ENTRY_OVERHEAD: usize = 32;

/// The HPACK static table, RFC 7541 Appendix A. `STATIC_TABLE[i - 1]` is index `i`.
pub static STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Number of static table entries; dynamic indexes start at `STATIC_LEN + 1`.
pub const STATIC_LEN: usize = STATIC_TABLE.len();

/// Metadata of one dynamic table entry; its bytes (`name` then `value`) live in the ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// Offset of the name in the ring.
    pub start: usize,
    pub name_len: usize,
    pub value_len: usize,
    /// Free for the owner (the encoder stores the hash of the pair and of the name).
    pub pair_hash: u64,
    pub name_hash: u64,
}

impl Slot {
    fn end(&self) -> usize {
        self.start + self.name_len + self.value_len
    }
    /// The entry size per RFC 7541 §4.1.
    pub fn size(&self) -> usize {
        self.name_len + self.value_len + ENTRY_OVERHEAD
    }
}

/// Where a new entry's name comes from.
pub(crate) enum NameSrc<'x> {
    /// Bytes outside the table.
    External(&'x [u8]),
    /// The name of the dynamic entry at this 0-based index (0 = newest), which may be
    /// evicted by the insertion itself (RFC 7541 §4.4).
    Entry(usize),
}

/// The dynamic table: entry bytes in ONE ring buffer, entry metadata in one `VecDeque`.
///
/// Each entry's name and value are stored contiguously and never wrap around the end of the
/// ring, so lookups return plain slices. An entry that does not fit before the end of the
/// ring starts over at offset 0. With a ring of at least twice the table's maximum size this
/// always succeeds: live bytes are at most `max - len` after eviction, and an entry is only
/// skipped past the end when the newest entry ends beyond `ring - len >= max`, which leaves
/// at least `len` free bytes at the start. (A compaction fallback covers the impossible
/// case anyway.)
#[derive(Debug)]
pub(crate) struct DynamicTable {
    /// Ring storage, grown lazily (doubling) up to `ring_limit` bytes as entries need it.
    ring: Vec<u8>,
    /// The ring's logical size: at least twice the largest capacity set so far.
    ring_limit: usize,
    /// Oldest first.
    slots: VecDeque<Slot>,
    /// Current size (RFC 7541 §4.1).
    size: usize,
    /// Current maximum size (set by size updates).
    capacity: usize,
    /// Entries inserted since creation: the absolute id of the newest entry is
    /// `inserted - 1`, of the oldest `inserted - len`.
    inserted: u64,
}

impl DynamicTable {
    pub fn new(capacity: usize) -> Self {
        DynamicTable {
            ring: Vec::new(),
            ring_limit: capacity.saturating_mul(2),
            // Grows (doubling) with the entries inserted, like the ring.
            slots: VecDeque::new(),
            size: 0,
            capacity,
            inserted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Absolute id of the entry at 0-based index `i` (0 = newest).
    pub fn abs_id(&self, i: usize) -> u64 {
        self.inserted - 1 - i as u64
    }

    /// 0-based index (0 = newest) of the entry with absolute id `abs`, if still present.
    pub fn index_of_abs(&self, abs: u64) -> Option<usize> {
        let newest = self.inserted.checked_sub(1)?;
        let i = newest.checked_sub(abs)? as usize;
        (i < self.slots.len()).then_some(i)
    }

    /// The slot at 0-based index `i` (0 = newest).
    pub fn slot(&self, i: usize) -> Option<&Slot> {
        let n = self.slots.len();
        if i >= n {
            return None;
        }
        self.slots.get(n - 1 - i)
    }

    /// The `(name, value)` at 0-based index `i` (0 = newest).
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.slot(i).map(|s| self.bytes(s))
    }

    pub fn bytes(&self, s: &Slot) -> (&[u8], &[u8]) {
        let name = &self.ring[s.start..s.start + s.name_len];
        let value = &self.ring[s.start + s.name_len..s.end()];
        (name, value)
    }

    /// Sets the maximum size, evicting as needed (RFC 7541 §4.3).
    pub fn set_capacity(&mut self, capacity: usize, on_evict: &mut impl FnMut(u64, &Slot)) {
        self.capacity = capacity;
        self.evict_until(capacity, on_evict);
        // The ring only ever grows (memory stays bounded by twice the largest capacity);
        // nothing is allocated until entries need the space.
        self.ring_limit = self.ring_limit.max(capacity.saturating_mul(2));
    }

    fn evict_until(&mut self, limit: usize, on_evict: &mut impl FnMut(u64, &Slot)) {
        while self.size > limit {
            let abs = self.inserted - self.slots.len() as u64;
            match self.slots.pop_front() {
                Some(s) => {
                    self.size -= s.size();
                    on_evict(abs, &s);
                }
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    /// Inserts a new newest entry (RFC 7541 §4.4): evicts until it fits; an entry larger
    /// than the maximum size empties the table and is not inserted (returns `false`).
    pub fn insert(
        &mut self,
        name: NameSrc<'_>,
        value: &[u8],
        hashes: (u64, u64),
        on_evict: &mut impl FnMut(u64, &Slot),
    ) -> bool {
        // Where the name comes from, captured before eviction (the bytes stay in the ring).
        let (name_ring, name_ext, name_len) = match name {
            NameSrc::External(n) => (None, n, n.len()),
            NameSrc::Entry(i) => match self.slot(i) {
                Some(s) => (Some(s.start), &[][..], s.name_len),
                None => (None, &[][..], 0),
            },
        };
        let len = name_len + value.len();
        let entry_size = len.saturating_add(ENTRY_OVERHEAD);
        if entry_size > self.capacity {
            self.evict_until(0, on_evict);
            return false;
        }
        self.evict_until(self.capacity - entry_size, on_evict);
        let pos = match self.place(len) {
            Some(pos) => pos,
            None => {
                // Unreachable by the argument on the type; keep correctness regardless.
                let saved: Vec<u8> = match name_ring {
                    Some(start) => self.ring[start..start + name_len].to_vec(),
                    None => name_ext.to_vec(),
                };
                self.rebuild();
                let pos = self.place(len).unwrap_or(0);
                self.grow_to(pos + len);
                self.ring[pos..pos + name_len].copy_from_slice(&saved);
                return self.finish_insert(pos, name_len, value, hashes);
            }
        };
        self.grow_to(pos + len);
        match name_ring {
            Some(start) => self.ring.copy_within(start..start + name_len, pos),
            None => self.ring[pos..pos + name_len].copy_from_slice(name_ext),
        }
        self.finish_insert(pos, name_len, value, hashes)
    }

    fn finish_insert(
        &mut self,
        pos: usize,
        name_len: usize,
        value: &[u8],
        hashes: (u64, u64),
    ) -> bool {
        let vstart = pos + name_len;
        self.ring[vstart..vstart + value.len()].copy_from_slice(value);
        let slot = Slot {
            start: pos,
            name_len,
            value_len: value.len(),
            pair_hash: hashes.0,
            name_hash: hashes.1,
        };
        self.size += slot.size();
        self.slots.push_back(slot);
        self.inserted += 1;
        true
    }

    /// Finds where `len` contiguous bytes can go without touching a live entry.
    fn place(&self, len: usize) -> Option<usize> {
        let ring = self.ring_limit;
        let (Some(oldest), Some(newest)) = (self.slots.front(), self.slots.back()) else {
            return (len <= ring).then_some(0);
        };
        let head = oldest.start;
        let tail = newest.end();
        if head <= newest.start {
            // Live bytes are [head, tail): free space is [tail, ring) and [0, head).
            if ring - tail >= len {
                Some(tail)
            } else if head >= len {
                Some(0)
            } else {
                None
            }
        } else {
            // Wrapped: live bytes are [head, ..) and [0, tail); free space is [tail, head).
            (head - tail >= len).then_some(tail)
        }
    }

    /// Makes the physical ring at least `end` bytes long (doubling, capped at the limit).
    #[inline]
    fn grow_to(&mut self, end: usize) {
        if end > self.ring.len() {
            let target = end
                .max(self.ring.len().saturating_mul(2))
                .max(256)
                .min(self.ring_limit.max(end));
            self.ring.resize(target, 0);
        }
    }

    /// Copies the live entries, in order, to the start of the ring (compaction).
    fn rebuild(&mut self) {
        let mut ring = vec![0u8; self.ring.len()];
        let mut at = 0;
        for s in self.slots.iter_mut() {
            let len = s.name_len + s.value_len;
            ring[at..at + len].copy_from_slice(&self.ring[s.start..s.start + len]);
            s.start = at;
            at += len;
        }
        self.ring = ring;
    }

    #[cfg(test)]
    pub fn force_rebuild(&mut self) {
        self.rebuild();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_evict() -> impl FnMut(u64, &Slot) {
        |_, _| {}
    }

    #[test]
    fn insert_evict_and_lookup() {
        let mut t = DynamicTable::new(100);
        assert!(t.insert(NameSrc::External(b"aaaa"), b"1111", (0, 0), &mut no_evict()));
        assert_eq!(t.size(), 40);
        assert!(t.insert(NameSrc::External(b"bbbb"), b"2222", (0, 0), &mut no_evict()));
        assert_eq!(t.get(0), Some((&b"bbbb"[..], &b"2222"[..])));
        assert_eq!(t.get(1), Some((&b"aaaa"[..], &b"1111"[..])));
        let mut evicted = vec![];
        // A third 40-byte entry evicts the oldest.
        t.insert(NameSrc::Entry(1), b"3333", (0, 0), &mut |abs, _| {
            evicted.push(abs)
        });
        assert_eq!(evicted, [0]);
        assert_eq!(t.len(), 2);
        // The name came from the entry that was evicted by this very insertion.
        assert_eq!(t.get(0), Some((&b"aaaa"[..], &b"3333"[..])));
        // Too big: the table empties.
        assert!(!t.insert(
            NameSrc::External(&[b'x'; 70]),
            b"y",
            (0, 0),
            &mut no_evict()
        ));
        assert_eq!(t.len(), 0);
        assert_eq!(t.size(), 0);
    }

    /// Random insertions against a naive model: the ring never corrupts an entry.
    #[test]
    fn ring_matches_model() {
        let mut state = 12345u64;
        let mut rnd = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n) as usize
        };
        for cap in [0usize, 40, 64, 100, 256, 4096] {
            let mut t = DynamicTable::new(cap);
            let mut model: VecDeque<(Vec<u8>, Vec<u8>)> = VecDeque::new();
            for round in 0..3000 {
                if round % 500 == 499 {
                    let new_cap = rnd(2 * cap as u64 + 1);
                    t.set_capacity(new_cap, &mut no_evict());
                    let mut size: usize = model.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
                    while size > new_cap {
                        let (n, v) = model.pop_back().unwrap();
                        size -= n.len() + v.len() + 32;
                    }
                }
                if round % 700 == 3 {
                    t.force_rebuild();
                }
                let vlen = rnd(cap as u64 / 2 + 2);
                let value: Vec<u8> = (0..vlen).map(|i| (i + round) as u8).collect();
                let (name_src, name): (NameSrc, Vec<u8>) = if !model.is_empty() && rnd(3) == 0 {
                    let i = rnd(model.len() as u64);
                    (NameSrc::Entry(i), model[i].0.clone())
                } else {
                    let n: Vec<u8> = (0..rnd(20))
                        .map(|i| b'a' + ((i + round) % 26) as u8)
                        .collect();
                    (NameSrc::External(&[]), n)
                };
                let name_src = match name_src {
                    NameSrc::External(_) => NameSrc::External(&name),
                    e => e,
                };
                t.insert(name_src, &value, (0, 0), &mut no_evict());
                model.push_front((name, value));
                let mut size: usize = model.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
                while size > t.capacity() {
                    let (n, v) = model.pop_back().unwrap();
                    size -= n.len() + v.len() + 32;
                }
                assert_eq!(t.len(), model.len());
                assert_eq!(t.size(), size);
                for (i, (n, v)) in model.iter().enumerate() {
                    assert_eq!(
                        t.get(i),
                        Some((&n[..], &v[..])),
                        "cap {cap} round {round} i {i}"
                    );
                }
            }
        }
    }
}
