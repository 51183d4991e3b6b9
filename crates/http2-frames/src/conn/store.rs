//! The stream store: open streams by id, the pools of reusable buffers (heads, bodies)
//! that keep the steady state free of heap allocation, and the short memory of closed
//! and reset ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::limits::RecentIds;
use super::stream::Stream;
use super::{FieldBlock, StreamId};

/// How many spare body buffers are kept (and spare heads at least).
const SPARES: usize = 32;

/// A spare head whose buffers grew past this many bytes is dropped instead of kept.
const SPARE_HEAD_BYTES: usize = 16 * 1024;

/// A [`Hasher`] for maps keyed by [`StreamId`] (use it as
/// `HashMap<StreamId, V, BuildHasherDefault<IdHasher>>`): one multiplication per id
/// (Fibonacci hashing: ids are distinct integers, the product spreads them over the high
/// bits the map's tags use). Ids are the peer's choice, but a connection holds at most
/// `max_concurrent_streams` of them, which bounds what colliding ids could cost; SipHash
/// cost more per request than that. Not for keys an attacker can pick without such a
/// bound.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
        self.0 = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Debug)]
pub(crate) struct Store {
    streams: HashMap<StreamId, Stream, BuildHasherDefault<IdHasher>>,
    /// Heads kept for reuse: as many as streams may be open at once, since a burst of
    /// requests takes one each before any is handed to the stream side.
    spare_heads: Vec<FieldBlock>,
    spare_head_limit: usize,
    spare_bufs: Vec<Vec<u8>>,
    /// Recently reset or refused ids (§5.4.2, §6.4).
    pub(crate) recent: RecentIds,
    /// Recently closed ids (§5.1: a closed stream cannot be reopened).
    pub(crate) closed: RecentIds,
}

impl Store {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Store {
            // No room reserved: the map grows with the streams the connection really has
            // open at once (and keeps that capacity), so an idle connection does not hold
            // a map sized for `max_concurrent_streams`.
            streams: HashMap::default(),
            spare_heads: Vec::new(),
            spare_head_limit: n.max(SPARES),
            spare_bufs: Vec::new(),
            recent: RecentIds::new(),
            closed: RecentIds::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
    pub(crate) fn get(&self, id: StreamId) -> Option<&Stream> {
        self.streams.get(&id)
    }
    pub(crate) fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.streams.get_mut(&id)
    }
    pub(crate) fn insert(&mut self, id: StreamId, s: Stream) {
        self.streams.insert(id, s);
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = (StreamId, &Stream)> {
        self.streams.iter().map(|(id, s)| (*id, s))
    }
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (StreamId, &mut Stream)> {
        self.streams.iter_mut().map(|(id, s)| (*id, s))
    }

    /// An empty head, recycled if one is spare.
    pub(crate) fn spare_head(&mut self) -> FieldBlock {
        self.spare_heads.pop().unwrap_or_default()
    }

    /// Keeps a head's buffers for reuse.
    pub(crate) fn recycle_head(&mut self, mut head: FieldBlock) {
        if self.spare_heads.len() < self.spare_head_limit
            && head.capacity_bytes() <= SPARE_HEAD_BYTES
        {
            head.clear();
            self.spare_heads.push(head);
        }
    }

    /// A body buffer for a stream that has none yet.
    pub(crate) fn spare_buf(&mut self) -> Option<Vec<u8>> {
        self.spare_bufs.pop()
    }

    /// Forgets stream `id`, recycling its buffers; returns how many body bytes it still
    /// held, buffered or read and not released (credit to give back to the connection
    /// window), or `None` if it was unknown.
    pub(crate) fn remove(&mut self, id: StreamId) -> Option<usize> {
        let mut s = self.streams.remove(&id)?;
        if !self.recent.contains(id) {
            self.closed.insert(id);
        }
        let n = s.buffered() + s.unreleased as usize;
        for h in [s.head.take(), s.trailers.take()].into_iter().flatten() {
            self.recycle_head(h);
        }
        if s.buf.capacity() > 0 && s.buf.capacity() <= 1 << 20 && self.spare_bufs.len() < SPARES {
            s.buf.clear();
            self.spare_bufs.push(std::mem::take(&mut s.buf));
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of as many requests as may be open at once takes that many heads before
    /// any goes back: all of them are kept for the next burst (not only 32), and a head
    /// that grew large is not.
    #[test]
    fn spare_heads_cover_every_concurrent_stream() {
        let mut store = Store::with_capacity(100);
        let heads: Vec<FieldBlock> = (0..100)
            .map(|i| {
                let mut h = store.spare_head();
                h.push(b"x-field", format!("value {i}").as_bytes());
                h
            })
            .collect();
        for h in heads {
            store.recycle_head(h);
        }
        assert_eq!(store.spare_heads.len(), 100);
        assert!(store.spare_heads.iter().all(|h| h.capacity_bytes() > 0));
        let mut big = FieldBlock::default();
        big.push(b"x-big", &vec![b'a'; SPARE_HEAD_BYTES + 1]);
        let mut store = Store::with_capacity(100);
        store.recycle_head(big);
        assert!(
            store.spare_heads.is_empty(),
            "a head past the size cap is dropped"
        );
        // At least `SPARES` are kept whatever the concurrency.
        assert_eq!(Store::with_capacity(1).spare_head_limit, SPARES);
    }

    #[test]
    fn ids_hash_apart() {
        let hash = |n: u32| {
            let mut h = IdHasher::default();
            h.write_u32(n);
            h.finish()
        };
        // Consecutive client ids differ in the top 7 bits (hashbrown's tags).
        let tags: std::collections::HashSet<u64> =
            (0..64u32).map(|i| hash(2 * i + 1) >> 57).collect();
        assert!(tags.len() > 32, "{} distinct tags", tags.len());
        assert_ne!(hash(1) >> 57, hash(3) >> 57);
        assert_ne!(hash(3) >> 57, hash(5) >> 57);
    }
}
