//! The encoder's side of the QPACK dynamic table (RFC 9204 §2.1, §3.2, §4.3, §4.4, §4.5).
//!
//! Deliberately simple: an entry is inserted the first time a field line is sent (when it
//! fits in the free space), referenced by later sections (and by the inserting one when
//! it may block), and never evicted. Once the table is full, new field lines go out as
//! literals. This needs no eviction bookkeeping ("draining") and can never reference an
//! entry the decoder might have dropped. Sensitive fields and cookies are never inserted
//! (RFC 9204 §7.1: a shared table is a compression oracle); the encoder decides that.
//!
//! Blocking (RFC 9204 §2.1.2): a section may reference entries the decoder has not
//! acknowledged yet only while fewer than the peer's SETTINGS_QPACK_BLOCKED_STREAMS
//! streams have such sections outstanding (or the stream already has one).
//!
//! Memory: entries are bounded by the table capacity; sections awaiting a Section
//! Acknowledgment by `MAX_OUTSTANDING`, past which sections are encoded without the table
//! (a peer that never acknowledges gets static-table sections).

use shockwave_hpack::integer;

use super::{read_int, write_str, PrimError, QpackError};

/// Sections awaiting acknowledgment beyond which new sections do not use the table.
const MAX_OUTSTANDING: usize = 1024;

/// One entry: name then value, as inserted.
#[derive(Debug)]
struct Entry {
    name: Vec<u8>,
    value: Vec<u8>,
}

/// A field section that references the dynamic table and is not acknowledged yet.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    stream_id: u64,
    /// Its Required Insert Count.
    ric: u64,
}

/// The encoder's dynamic table state.
#[derive(Debug)]
pub(super) struct EncoderTable {
    /// The capacity we set (at most the peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY).
    capacity: u64,
    /// The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY: MaxEntries derives from it.
    peer_max_capacity: u64,
    /// The peer's SETTINGS_QPACK_BLOCKED_STREAMS.
    max_blocked: u64,
    /// Entries by absolute index (nothing is ever evicted).
    entries: Vec<Entry>,
    size: u64,
    /// Known Received Count (RFC 9204 §2.1.4).
    known_received: u64,
    outstanding: Vec<Outstanding>,
    /// An incomplete decoder-stream instruction carried over between reads.
    pending: Vec<u8>,
}

/// How a field line can be represented with the table.
pub(super) enum Lookup {
    /// Reference the entry with this absolute index.
    Index(u64),
    /// Nothing usable: send a literal.
    Literal,
}

impl EncoderTable {
    /// A table of `capacity` bytes for a peer that advertised `peer_max_capacity` and
    /// `max_blocked`; appends the Set Dynamic Table Capacity instruction (§4.3.1) to
    /// `encoder_stream`.
    pub(super) fn new(
        capacity: u64,
        peer_max_capacity: u64,
        max_blocked: u64,
        encoder_stream: &mut Vec<u8>,
    ) -> Self {
        let capacity = capacity.min(peer_max_capacity);
        integer::encode(capacity, 5, 0x20, encoder_stream);
        EncoderTable {
            capacity,
            peer_max_capacity,
            max_blocked,
            entries: Vec::new(),
            size: 0,
            known_received: 0,
            outstanding: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Insert Count: entries inserted so far.
    pub(super) fn insert_count(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The Known Received Count.
    pub(super) fn known_received(&self) -> u64 {
        self.known_received
    }

    /// True if a section on `stream_id` may reference unacknowledged entries: the
    /// stream already has such a section outstanding, or fewer than the peer's limit of
    /// streams have one.
    pub(super) fn may_block(&self, stream_id: u64) -> bool {
        let known = self.known_received;
        let mut blocking = 0u64;
        for (i, o) in self.outstanding.iter().enumerate() {
            if o.ric <= known {
                continue;
            }
            if o.stream_id == stream_id {
                return true;
            }
            // Count each stream once (only streams allowed to block are here, so this
            // stays short).
            let counted = self.outstanding[..i]
                .iter()
                .any(|p| p.stream_id == o.stream_id && p.ric > known);
            if !counted {
                blocking += 1;
            }
        }
        blocking < self.max_blocked
    }

    /// True when so many sections await acknowledgment that new sections should not
    /// reference the table at all (they then need no acknowledgment): bounds what a
    /// peer that never acknowledges can make us remember.
    pub(super) fn too_many_outstanding(&self) -> bool {
        self.outstanding.len() >= MAX_OUTSTANDING
    }

    /// Finds or inserts `(name, value)`; `may_block` says whether an unacknowledged entry
    /// may be referenced (if not, a new entry is still inserted for later sections).
    pub(super) fn lookup_or_insert(
        &mut self,
        name: &[u8],
        value: &[u8],
        may_block: bool,
        encoder_stream: &mut Vec<u8>,
    ) -> Lookup {
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.name == name && e.value == value)
        {
            let abs = i as u64;
            if abs < self.known_received || may_block {
                return Lookup::Index(abs);
            }
            return Lookup::Literal;
        }
        let entry_size = name.len() as u64 + value.len() as u64 + 32;
        if self.size + entry_size > self.capacity {
            return Lookup::Literal;
        }
        // Insert with Literal Name (RFC 9204 §4.3.3): 01 H NameLen(5+), then the value
        // with a 7-bit prefix length.
        write_str(name, 6, 0x40, encoder_stream);
        write_str(value, 8, 0, encoder_stream);
        self.entries.push(Entry {
            name: name.to_vec(),
            value: value.to_vec(),
        });
        self.size += entry_size;
        // Without blocking, the new entry is used once the decoder acknowledged it.
        if may_block {
            Lookup::Index(self.insert_count() - 1)
        } else {
            Lookup::Literal
        }
    }

    /// The encoded Required Insert Count for `ric` (RFC 9204 §4.5.1.1).
    pub(super) fn encode_ric(&self, ric: u64) -> u64 {
        if ric == 0 {
            return 0;
        }
        let max_entries = (self.peer_max_capacity / 32).max(1);
        ric % (2 * max_entries) + 1
    }

    /// Records a sent section with Required Insert Count `ric` (> 0) on `stream_id`.
    pub(super) fn sent(&mut self, stream_id: u64, ric: u64) {
        self.outstanding.push(Outstanding { stream_id, ric });
    }

    /// Processes bytes of the peer's decoder stream (RFC 9204 §4.4).
    pub(super) fn feed_decoder_stream(&mut self, data: &[u8]) -> Result<(), QpackError> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            let Some(&first) = buf.get(pos) else {
                break Ok(());
            };
            let mut p = pos;
            let prefix = if first & 0x80 != 0 { 7 } else { 6 };
            let value = match read_int(&buf, &mut p, prefix) {
                Ok(v) => v,
                Err(PrimError::Truncated) => break Ok(()),
                Err(PrimError::Overflow) => {
                    break Err(QpackError::DecoderStream("integer too large"))
                }
            };
            pos = p;
            let step = if first & 0x80 != 0 {
                self.section_ack(value)
            } else if first & 0x40 != 0 {
                self.outstanding.retain(|o| o.stream_id != value);
                Ok(())
            } else {
                self.insert_count_increment(value)
            };
            if let Err(e) = step {
                break Err(e);
            }
        };
        buf.drain(..pos);
        self.pending = buf;
        result?;
        if self.pending.len() > 16 {
            return Err(QpackError::DecoderStream("integer too long"));
        }
        Ok(())
    }

    /// Section Acknowledgment (§4.4.1): the oldest outstanding section of the stream.
    fn section_ack(&mut self, stream_id: u64) -> Result<(), QpackError> {
        let i = self
            .outstanding
            .iter()
            .position(|o| o.stream_id == stream_id)
            .ok_or(QpackError::DecoderStream(
                "Section Acknowledgment for a stream without outstanding sections",
            ))?;
        let o = self.outstanding.remove(i);
        self.known_received = self.known_received.max(o.ric);
        Ok(())
    }

    /// Insert Count Increment (§4.4.3).
    fn insert_count_increment(&mut self, increment: u64) -> Result<(), QpackError> {
        let known = self.known_received.saturating_add(increment);
        if increment == 0 || known > self.insert_count() {
            return Err(QpackError::DecoderStream(
                "Insert Count Increment beyond the entries sent",
            ));
        }
        self.known_received = known;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn table(max_blocked: u64) -> (EncoderTable, Vec<u8>) {
        let mut stream = Vec::new();
        let t = EncoderTable::new(4096, 220, max_blocked, &mut stream);
        (t, stream)
    }

    #[test]
    fn capacity_is_capped_by_the_peer_and_announced() {
        let (t, stream) = table(1);
        assert_eq!(t.capacity, 220);
        // Set Dynamic Table Capacity 220: 001 + 5-bit prefix 31, then 189.
        assert_eq!(stream, [0x3f, 189, 1]);
    }

    #[test]
    fn insert_reference_and_full_table() {
        let (mut t, mut s) = table(1);
        assert!(matches!(
            t.lookup_or_insert(b"a", b"1", true, &mut s),
            Lookup::Index(0)
        ));
        assert!(matches!(
            t.lookup_or_insert(b"a", b"1", true, &mut s),
            Lookup::Index(0)
        ));
        // Not yet acknowledged and no blocking allowed: a literal.
        assert!(matches!(
            t.lookup_or_insert(b"a", b"1", false, &mut s),
            Lookup::Literal
        ));
        // Six entries of 34 bytes fit in 220; a 135-byte one does not.
        for i in 0..5u8 {
            t.lookup_or_insert(b"b", &[i], true, &mut s);
        }
        assert_eq!(t.insert_count(), 6);
        assert!(matches!(
            t.lookup_or_insert(b"big", &[0; 100], true, &mut s),
            Lookup::Literal
        ));
        assert_eq!(t.insert_count(), 6);
        // The Required Insert Count wraps at 2 * MaxEntries (220 / 32 = 6).
        assert_eq!(t.encode_ric(0), 0);
        assert_eq!(t.encode_ric(1), 2);
        assert_eq!(t.encode_ric(12), 1);
    }

    #[test]
    fn blocked_stream_accounting() {
        let (mut t, mut s) = table(1);
        t.lookup_or_insert(b"a", b"1", true, &mut s);
        assert!(t.may_block(0));
        t.sent(0, 1);
        assert!(t.may_block(0), "the same stream may block again");
        assert!(!t.may_block(4), "the peer allows one blocked stream");
        // Insert Count Increment 1: nothing blocks any more.
        t.feed_decoder_stream(&[0x01]).unwrap();
        assert_eq!(t.known_received(), 1);
        assert!(t.may_block(4));
        // Section Acknowledgment for stream 0 (split over two reads is fine).
        t.feed_decoder_stream(&[0x80]).unwrap();
        assert!(t.outstanding.is_empty());
        // Stream Cancellation drops a stream's outstanding sections.
        t.sent(8, 1);
        t.feed_decoder_stream(&[0x48]).unwrap();
        assert!(t.outstanding.is_empty());
    }

    #[test]
    fn outstanding_sections_are_bounded() {
        let (mut t, _) = table(1);
        for i in 0..MAX_OUTSTANDING as u64 {
            assert!(!t.too_many_outstanding());
            t.sent(4 * i, 1);
        }
        assert!(t.too_many_outstanding());
        t.entries.push(Entry {
            name: b"a".to_vec(),
            value: b"1".to_vec(),
        });
        t.feed_decoder_stream(&[0x80]).unwrap(); // Section Acknowledgment, stream 0
        assert!(!t.too_many_outstanding());
    }

    #[test]
    fn decoder_stream_errors() {
        let cases: [(&str, &[u8]); 4] = [
            ("ack without section", &[0x84]),
            ("increment of zero", &[0x00]),
            ("increment beyond inserts", &[0x02]),
            (
                "integer too large",
                &[
                    0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ],
            ),
        ];
        for (name, bytes) in cases {
            let (mut t, mut s) = table(1);
            t.lookup_or_insert(b"a", b"1", true, &mut s);
            let e = t.feed_decoder_stream(bytes).expect_err(name);
            assert_eq!(e.code(), ErrorCode::QpackDecoderStreamError, "{name}");
        }
    }
}
