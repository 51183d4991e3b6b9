//! The QPACK encoder (RFC 9204 §4.5). By default static table and literals only, so
//! every section has Required Insert Count 0, never blocks the peer and needs no encoder
//! stream. [`Encoder::use_dynamic_table`] turns on a simple dynamic table
//! (see `encoder_table.rs`) whose instructions go to our encoder stream.

use shockwave_hpack::integer;

use super::encoder_table::{EncoderTable, Lookup};
use super::{read_int, static_table, write_str, PrimError, QpackError};
use crate::frame::{self, frame_type};
use crate::varint::VarIntError;

/// Values of these fields are sent as literals with the N ("never index") bit set
/// (RFC 9204 §7.1.3), so intermediaries do not put them in a dynamic table.
fn is_sensitive(name: &[u8], value: &[u8]) -> bool {
    match name {
        b"authorization" | b"proxy-authorization" => true,
        // Short cookies are guessable by probing (RFC 9204 §7.1.3 suggests the same).
        b"cookie" | b"set-cookie" => value.len() < 20,
        _ => false,
    }
}

/// Field lines remembered by [`Memo`].
const MEMO_LINES: usize = 16;
/// Longest name + value remembered.
const MEMO_MAX_FIELD: usize = 128;

/// The encodings of recently sent literal field lines (e.g. `content-type`, `date`,
/// `server` of every response), so that a field sent again is copied instead of looked
/// up and Huffman-coded again. The output is byte for byte what [`encode_field`] gives:
/// encoding is a pure function of name and value (this encoder has no dynamic table).
/// Sensitive fields are never remembered.
#[derive(Debug, Default)]
struct Memo {
    lines: Vec<MemoLine>,
    /// The slot replaced next once `lines` is full (round robin).
    next: usize,
}

#[derive(Debug, Default)]
struct MemoLine {
    /// Name then value.
    key: Vec<u8>,
    name_len: usize,
    encoded: Vec<u8>,
}

impl Memo {
    fn find(&self, name: &[u8], value: &[u8]) -> Option<&[u8]> {
        self.lines
            .iter()
            .find(|l| {
                l.name_len == name.len()
                    && l.key.len() == name.len() + value.len()
                    && l.key[..name.len()] == *name
                    && l.key[name.len()..] == *value
            })
            .map(|l| &l.encoded[..])
    }

    /// Remembers `encoded` for `(name, value)`, reusing a slot's buffers when full.
    fn insert(&mut self, name: &[u8], value: &[u8], encoded: &[u8]) {
        let line = if self.lines.len() < MEMO_LINES {
            self.lines.push(MemoLine::default());
            self.lines.last_mut()
        } else {
            let i = self.next;
            self.next = (i + 1) % MEMO_LINES;
            self.lines.get_mut(i)
        };
        if let Some(line) = line {
            line.key.clear();
            line.key.extend_from_slice(name);
            line.key.extend_from_slice(value);
            line.name_len = name.len();
            line.encoded.clear();
            line.encoded.extend_from_slice(encoded);
        }
    }
}

/// A QPACK encoder (see the [module docs](super)): static-table-only unless
/// [`use_dynamic_table`](Encoder::use_dynamic_table) was called. One per connection; it
/// also processes the peer's decoder stream.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Lowercased field names.
    scratch: Vec<u8>,
    /// An incomplete decoder-stream instruction carried over between reads.
    pending: Vec<u8>,
    /// Recently encoded literal field lines.
    memo: Memo,
    /// The dynamic table, once enabled.
    table: Option<EncoderTable>,
    /// Field lines of a dynamic section, before its prefix is known.
    lines: Vec<u8>,
}

impl Encoder {
    /// A new encoder.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Appends an encoded field section for `fields` to `dst` and returns its field
    /// section size (name + value + 32 per field, RFC 9114 §4.2.2) so the caller can
    /// compare it with the peer's SETTINGS_MAX_FIELD_SECTION_SIZE. Field names are
    /// lowercased (HTTP/3 requires lowercase names); pseudo-header fields must come
    /// first, which is the caller's order to keep.
    pub fn encode_section<'h, I>(&mut self, fields: I, dst: &mut Vec<u8>) -> u64
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        // Required Insert Count 0, Base 0 (RFC 9204 §4.5.1).
        dst.extend_from_slice(&[0x00, 0x00]);
        let mut size = 0u64;
        for (name, value) in fields {
            size = size.saturating_add(name.len() as u64 + value.len() as u64 + 32);
            let name = if name.iter().any(u8::is_ascii_uppercase) {
                self.scratch.clear();
                self.scratch.extend(name.iter().map(u8::to_ascii_lowercase));
                &self.scratch[..]
            } else {
                name
            };
            if let Some(line) = self.memo.find(name, value) {
                dst.extend_from_slice(line);
                continue;
            }
            let start = dst.len();
            encode_field(name, value, dst);
            // Indexed lines (one or two bytes) are cheaper to encode than to look up.
            let encoded = &dst[start..];
            if encoded.len() > 2
                && name.len() + value.len() <= MEMO_MAX_FIELD
                && !is_sensitive(name, value)
                && !matches!(name, b"cookie" | b"set-cookie")
            {
                self.memo.insert(name, value, encoded);
            }
        }
        size
    }

    /// Appends a complete HEADERS frame whose payload is the encoded `fields`; returns
    /// the field section size as [`encode_section`](Self::encode_section) does.
    pub fn encode_headers_frame<'h, I>(
        &mut self,
        fields: I,
        dst: &mut Vec<u8>,
    ) -> Result<u64, VarIntError>
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        let start = dst.len();
        let size = self.encode_section(fields, dst);
        frame::wrap_payload(frame_type::HEADERS, start, dst)?;
        Ok(size)
    }

    /// Starts using a dynamic table of up to `capacity` bytes (capped at the peer's
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY `peer_max_capacity`), blocking at most
    /// `peer_blocked_streams` streams (the peer's SETTINGS_QPACK_BLOCKED_STREAMS).
    /// Appends the Set Dynamic Table Capacity instruction to `encoder_stream` (our QPACK
    /// encoder stream's content). Does nothing if the resulting capacity is 0 or a table
    /// is already in use. Sections are then encoded with
    /// [`encode_section_on`](Self::encode_section_on).
    pub fn use_dynamic_table(
        &mut self,
        capacity: u64,
        peer_max_capacity: u64,
        peer_blocked_streams: u64,
        encoder_stream: &mut Vec<u8>,
    ) {
        if self.table.is_none() && capacity.min(peer_max_capacity) > 0 {
            self.table = Some(EncoderTable::new(
                capacity,
                peer_max_capacity,
                peer_blocked_streams,
                encoder_stream,
            ));
        }
    }

    /// True once [`use_dynamic_table`](Self::use_dynamic_table) enabled a table.
    pub fn has_dynamic_table(&self) -> bool {
        self.table.is_some()
    }

    /// Entries inserted into our dynamic table so far (0 without a table).
    pub fn insert_count(&self) -> u64 {
        self.table.as_ref().map_or(0, EncoderTable::insert_count)
    }

    /// The Known Received Count: insertions the peer's decoder has acknowledged.
    pub fn known_received_count(&self) -> u64 {
        self.table.as_ref().map_or(0, EncoderTable::known_received)
    }

    /// Encodes a field section for request stream `stream_id`, using the dynamic table
    /// if one is in use (new entries' insert instructions are appended to
    /// `encoder_stream`, which must reach the peer, or the stream stays blocked there).
    /// Without a table this is [`encode_section`](Self::encode_section). Returns the
    /// field section size like `encode_section`.
    pub fn encode_section_on<'h, I>(
        &mut self,
        stream_id: u64,
        fields: I,
        dst: &mut Vec<u8>,
        encoder_stream: &mut Vec<u8>,
    ) -> u64
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        let table = match self.table.as_mut() {
            Some(t) if !t.too_many_outstanding() => t,
            // No table, or a peer that stopped acknowledging: static table and literals
            // (Required Insert Count 0 needs no acknowledgment).
            _ => return self.encode_section(fields, dst),
        };
        let may_block = table.may_block(stream_id);
        // Base is the Insert Count before this section: entries inserted while encoding
        // it are referenced with post-base indices (RFC 9204 §4.5.3).
        let base = table.insert_count();
        let mut ric = 0u64;
        let mut size = 0u64;
        self.lines.clear();
        for (name, value) in fields {
            size = size.saturating_add(name.len() as u64 + value.len() as u64 + 32);
            let name = if name.iter().any(u8::is_ascii_uppercase) {
                self.scratch.clear();
                self.scratch.extend(name.iter().map(u8::to_ascii_lowercase));
                &self.scratch[..]
            } else {
                name
            };
            let static_exact = matches!(static_table::lookup(name, value), Some((_, true)));
            // Never into the table: secrets, and cookies of any length (RFC 9204 §7.1).
            let secret = is_sensitive(name, value) || matches!(name, b"cookie" | b"set-cookie");
            if static_exact || secret {
                encode_field(name, value, &mut self.lines);
                continue;
            }
            match table.lookup_or_insert(name, value, may_block, encoder_stream) {
                Lookup::Index(abs) if abs < base => {
                    // Indexed Field Line, dynamic, relative: 1 0 index(6+).
                    integer::encode(base - 1 - abs, 6, 0x80, &mut self.lines);
                    ric = ric.max(abs + 1);
                }
                Lookup::Index(abs) => {
                    // Indexed Field Line with Post-Base Index: 0001 index(4+).
                    integer::encode(abs - base, 4, 0x10, &mut self.lines);
                    ric = ric.max(abs + 1);
                }
                Lookup::Literal => encode_field(name, value, &mut self.lines),
            }
        }
        // Prefix (RFC 9204 §4.5.1): Encoded Required Insert Count, then S + Delta Base.
        integer::encode(table.encode_ric(ric), 8, 0, dst);
        if ric == 0 {
            dst.push(0);
        } else if base >= ric {
            integer::encode(base - ric, 7, 0, dst);
        } else {
            integer::encode(ric - base - 1, 7, 0x80, dst);
        }
        if ric > 0 {
            table.sent(stream_id, ric);
        }
        dst.extend_from_slice(&self.lines);
        size
    }

    /// As [`encode_headers_frame`](Self::encode_headers_frame), through
    /// [`encode_section_on`](Self::encode_section_on).
    pub fn encode_headers_frame_on<'h, I>(
        &mut self,
        stream_id: u64,
        fields: I,
        dst: &mut Vec<u8>,
        encoder_stream: &mut Vec<u8>,
    ) -> Result<u64, VarIntError>
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        let start = dst.len();
        let size = self.encode_section_on(stream_id, fields, dst, encoder_stream);
        frame::wrap_payload(frame_type::HEADERS, start, dst)?;
        Ok(size)
    }

    /// Processes bytes from the peer's decoder stream (RFC 9204 §4.4). With the dynamic
    /// table, Section Acknowledgments and Insert Count Increments advance the Known
    /// Received Count; one for a section or insertion never sent is a
    /// `QPACK_DECODER_STREAM_ERROR`. Without it, this encoder never references the
    /// dynamic table, so a Section Acknowledgment or an Insert Count Increment is a
    /// `QPACK_DECODER_STREAM_ERROR` (§4.4.1, §4.4.3); Stream Cancellations are accepted.
    pub fn feed_decoder_stream(&mut self, data: &[u8]) -> Result<(), QpackError> {
        if let Some(table) = self.table.as_mut() {
            return table.feed_decoder_stream(data);
        }
        let carried = !self.pending.is_empty();
        if carried {
            self.pending.extend_from_slice(data);
        }
        let buf = if carried { &self.pending[..] } else { data };
        let (pos, result) = scan_decoder_instructions(buf);
        if carried {
            self.pending.drain(..pos);
        } else {
            self.pending.extend_from_slice(&data[pos..]);
        }
        result?;
        if self.pending.len() > 16 {
            return Err(QpackError::DecoderStream("integer too long"));
        }
        Ok(())
    }
}

/// Validates complete decoder instructions; returns the bytes they span.
fn scan_decoder_instructions(buf: &[u8]) -> (usize, Result<(), QpackError>) {
    let mut pos = 0;
    while let Some(&first) = buf.get(pos) {
        let (prefix, refused) = if first & 0x80 != 0 {
            (
                7,
                Some("Section Acknowledgment for a section without dynamic references"),
            )
        } else if first & 0x40 != 0 {
            (6, None) // Stream Cancellation: nothing to release
        } else {
            (6, Some("Insert Count Increment beyond the entries sent"))
        };
        let mut p = pos;
        match read_int(buf, &mut p, prefix) {
            Ok(_) => {}
            Err(PrimError::Truncated) => break,
            Err(PrimError::Overflow) => {
                return (pos, Err(QpackError::DecoderStream("integer too large")))
            }
        }
        if let Some(what) = refused {
            return (pos, Err(QpackError::DecoderStream(what)));
        }
        pos = p;
    }
    (pos, Ok(()))
}

/// Encodes one field line: indexed if the static table has the exact field, else a
/// literal with a static name reference, else a literal with a literal name.
fn encode_field(name: &[u8], value: &[u8], dst: &mut Vec<u8>) {
    let never_index = is_sensitive(name, value);
    match static_table::lookup(name, value) {
        Some((index, true)) if !never_index => {
            // Indexed Field Line, static: 1 1 index(6+).
            integer::encode(index as u64, 6, 0xc0, dst);
        }
        Some((index, _)) => {
            // Literal Field Line with Name Reference, static: 01 N 1 index(4+).
            let flags = 0x50 | if never_index { 0x20 } else { 0 };
            integer::encode(index as u64, 4, flags, dst);
            write_str(value, 8, 0, dst);
        }
        None => {
            // Literal Field Line with Literal Name: 001 N H len(3+).
            let flags = 0x20 | if never_index { 0x10 } else { 0 };
            write_str(name, 4, flags, dst);
            write_str(value, 8, 0, dst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn representations() {
        let mut e = Encoder::new();
        let mut out = Vec::new();
        e.encode_section([(&b":path"[..], &b"/"[..])], &mut out);
        assert_eq!(out, [0x00, 0x00, 0xc1]);
        out.clear();
        // RFC 9204 B.1 uses a non-Huffman literal; ours Huffman-codes "/index.html"
        // because that is shorter.
        e.encode_section([(&b":path"[..], &b"/index.html"[..])], &mut out);
        assert_eq!(out[..3], [0x00, 0x00, 0x51]);
        assert_eq!(out[3] & 0x80, 0x80, "Huffman flag");
        out.clear();
        e.encode_section([(&b"Authorization"[..], &b"secret"[..])], &mut out);
        // 01 N=1 T=1 index 84 (15 + 69 in a continuation byte).
        assert_eq!(out[2..4], [0x7f, 69]);
        out.clear();
        e.encode_section([(&b"X-Y"[..], &b"z"[..])], &mut out);
        // 001 N=0 H=? name "x-y" (3 bytes, not shorter in Huffman), value "z".
        assert_eq!(out, [0x00, 0x00, 0x23, b'x', b'-', b'y', 0x01, b'z']);
    }

    #[test]
    fn memo_gives_the_same_bytes_and_skips_secrets() {
        let fields: [(&[u8], &[u8]); 5] = [
            (b":status", b"200"),
            (b"content-type", b"text/plain"),
            (b"date", b"Tue, 25 Nov 2026 22:37:00 GMT"),
            (b"X-Custom", b"some value"),
            (b"authorization", b"Bearer abc"),
        ];
        let mut fresh = Vec::new();
        Encoder::new().encode_section(fields, &mut fresh);
        let mut e = Encoder::new();
        for _ in 0..3 {
            let mut out = Vec::new();
            e.encode_section(fields, &mut out);
            assert_eq!(out, fresh);
        }
        // date and x-custom remembered; :status 200 and content-type text/plain are
        // indexed static entries, the authorization value is never kept.
        assert_eq!(e.memo.lines.len(), 2);
        assert!(e.memo.find(b"authorization", b"Bearer abc").is_none());
        assert!(e.memo.find(b"x-custom", b"some value").is_some());
        // Many distinct values: slots are recycled and every output stays exact.
        for i in 0..100u32 {
            let v = format!("value-{i}");
            let line: [(&[u8], &[u8]); 1] = [(b"etag", v.as_bytes())];
            let mut a = Vec::new();
            e.encode_section(line, &mut a);
            let mut b = Vec::new();
            Encoder::new().encode_section(line, &mut b);
            assert_eq!(a, b);
            let mut again = Vec::new();
            e.encode_section(line, &mut again);
            assert_eq!(again, b);
        }
        assert_eq!(e.memo.lines.len(), MEMO_LINES);
        // A value that is a prefix of a remembered one is not confused with it.
        let mut a = Vec::new();
        e.encode_section([(&b"etag"[..], &b"value-9"[..])], &mut a);
        let mut b = Vec::new();
        Encoder::new().encode_section([(&b"etag"[..], &b"value-9"[..])], &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn headers_frame_wrapping() {
        let mut e = Encoder::new();
        let mut out = vec![0xaa];
        let size = e
            .encode_headers_frame([(&b":status"[..], &b"200"[..])], &mut out)
            .unwrap();
        assert_eq!(size, 7 + 3 + 32);
        assert_eq!(out, [0xaa, 0x01, 0x03, 0x00, 0x00, 0xd9]);
    }

    #[test]
    fn decoder_stream_validation() {
        let mut e = Encoder::new();
        e.feed_decoder_stream(&[0x48, 0x7f]).unwrap(); // cancel stream 8, then partial
        e.feed_decoder_stream(&[0x05]).unwrap(); // ...cancel stream 68
        assert_eq!(
            e.feed_decoder_stream(&[0x84]).unwrap_err().code(),
            ErrorCode::QpackDecoderStreamError
        );
        let mut e = Encoder::new();
        assert_eq!(
            e.feed_decoder_stream(&[0x01]).unwrap_err().code(),
            ErrorCode::QpackDecoderStreamError
        );
        let mut e = Encoder::new();
        let mut huge = vec![0x7f];
        huge.extend_from_slice(&[0xff; 20]);
        assert!(e.feed_decoder_stream(&huge).is_err());
    }
}
