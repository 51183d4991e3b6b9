//! The QPACK decoder (RFC 9204 §2.2, §4.3, §4.4, §4.5).

use shockwave_arena::{Arena, HeaderList};
use shockwave_hpack::huffman;

use super::table::{DynamicTable, TableError, ENTRY_OVERHEAD};
use super::{
    read_int, read_str, static_table, write_insert_count_increment, write_section_ack,
    write_stream_cancel, PrimError, QpackError, RawStr,
};
use crate::error::Scope;

/// Decoder limits; the first two are what we advertise in our SETTINGS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY we send: the largest dynamic table the peer's
    /// encoder may use. Default 4096; 0 disables the dynamic table.
    pub max_table_capacity: u64,
    /// SETTINGS_QPACK_BLOCKED_STREAMS we send: how many streams may wait for encoder
    /// stream data at once. Default 16.
    pub max_blocked_streams: u64,
    /// Largest decoded field section (name + value + 32 per field, RFC 9114 §4.2.2);
    /// default 16 KiB. Also send it as SETTINGS_MAX_FIELD_SECTION_SIZE.
    pub max_field_section_size: u64,
    /// Most field lines in one decoded section; beyond it decoding stops with
    /// [`QpackError::TooManyFields`] (a stream error: a server answers 431). Caps the
    /// memory many tiny indexed lines can pin. Default 100 (HTTP/1.1's `max_headers`).
    pub max_fields: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_table_capacity: 4096,
            max_blocked_streams: 16,
            max_field_section_size: 16 * 1024,
            max_fields: 100,
        }
    }
}

impl DecoderConfig {
    /// Our SETTINGS for these limits (QPACK table capacity, blocked streams and max field
    /// section size), to send as the first frame of our control stream.
    pub fn settings(&self) -> crate::frame::Settings {
        crate::frame::Settings {
            qpack_max_table_capacity: self.max_table_capacity,
            qpack_blocked_streams: self.max_blocked_streams,
            max_field_section_size: Some(self.max_field_section_size),
            ..Default::default()
        }
    }

    /// Frame limits matching these settings: HEADERS payloads up to the max field
    /// section size.
    pub fn frame_limits(&self) -> crate::frame::FrameLimits {
        crate::frame::FrameLimits {
            max_field_section_len: self.max_field_section_size,
            ..Default::default()
        }
    }
}

/// The outcome of decoding a field section.
#[derive(Debug)]
pub enum Decoded<T> {
    /// The section was decoded.
    Done(T),
    /// The section references dynamic table entries that have not arrived yet: keep the
    /// encoded section (e.g. copy it into the request's arena) and decode it again when
    /// [`Decoder::next_unblocked`] returns this stream.
    Blocked,
}

impl<T> Decoded<T> {
    /// The value if decoding completed.
    pub fn done(self) -> Option<T> {
        match self {
            Decoded::Done(v) => Some(v),
            Decoded::Blocked => None,
        }
    }
}

/// A string of a field line before it is materialised.
#[derive(Clone, Copy)]
enum Str<'b, 't> {
    /// Static table bytes or a literal in the block.
    Plain(&'b [u8]),
    /// A Huffman-coded literal in the block.
    Huffman(&'b [u8]),
    /// Bytes of a dynamic table entry (must be copied to outlive the call).
    Table(&'t [u8]),
}

impl<'b> From<RawStr<'b>> for Str<'b, '_> {
    fn from(s: RawStr<'b>) -> Self {
        if s.huffman {
            Str::Huffman(s.bytes)
        } else {
            Str::Plain(s.bytes)
        }
    }
}

/// Where decoded field lines go. Returns the decoded `name.len() + value.len()`.
trait Sink<'b> {
    fn field(&mut self, name: Str<'b, '_>, value: Str<'b, '_>) -> Result<u64, QpackError>;
}

/// Materialises into an arena `HeaderList`; literals borrow the block (which lives in or
/// outlives the arena), Huffman strings are decoded into the arena, table entries copied.
struct ArenaSink<'a, 'l> {
    arena: &'a Arena,
    list: &'l mut HeaderList<'a>,
}

impl<'a> ArenaSink<'a, '_> {
    fn resolve(&self, s: Str<'a, '_>) -> Result<&'a [u8], QpackError> {
        Ok(match s {
            Str::Plain(b) => b,
            Str::Huffman(b) => huffman::decode_in(b, self.arena).map_err(huffman_error)?,
            Str::Table(t) => self.arena.alloc_bytes(t)?,
        })
    }
}

impl<'a> Sink<'a> for ArenaSink<'a, '_> {
    fn field(&mut self, name: Str<'a, '_>, value: Str<'a, '_>) -> Result<u64, QpackError> {
        let name = self.resolve(name)?;
        let value = self.resolve(value)?;
        self.list.push(name, value)?;
        Ok(name.len() as u64 + value.len() as u64)
    }
}

fn huffman_error(e: huffman::HuffmanError) -> QpackError {
    match e {
        huffman::HuffmanError::Arena(a) => QpackError::Arena(a),
        _ => QpackError::Decompression("invalid Huffman string"),
    }
}

/// Hands each field to a callback; Huffman strings are decoded into a reused scratch
/// buffer.
struct FnSink<'s, F> {
    scratch: &'s mut Vec<u8>,
    emit: F,
}

impl<'b, F: FnMut(&[u8], &[u8])> Sink<'b> for FnSink<'_, F> {
    fn field(&mut self, name: Str<'b, '_>, value: Str<'b, '_>) -> Result<u64, QpackError> {
        self.scratch.clear();
        if let Str::Huffman(b) = name {
            huffman::decode(b, self.scratch).map_err(huffman_error)?;
        }
        let name_end = self.scratch.len();
        if let Str::Huffman(b) = value {
            huffman::decode(b, self.scratch).map_err(huffman_error)?;
        }
        let name = match name {
            Str::Plain(b) => b,
            Str::Table(t) => t,
            Str::Huffman(_) => &self.scratch[..name_end],
        };
        let value = match value {
            Str::Plain(b) => b,
            Str::Table(t) => t,
            Str::Huffman(_) => &self.scratch[name_end..],
        };
        (self.emit)(name, value);
        Ok(name.len() as u64 + value.len() as u64)
    }
}

/// A per-connection QPACK decoder: decodes the peer's field sections, consumes its
/// encoder stream and produces our decoder stream (see the [module docs](super)).
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    table: DynamicTable,
    /// Streams blocked on the dynamic table: (stream ID, Required Insert Count).
    blocked: Vec<(u64, u64)>,
    /// The Known Received Count the encoder will have once it reads our decoder stream.
    acknowledged: u64,
    /// Pending decoder stream bytes.
    out: Vec<u8>,
    /// An incomplete encoder-stream instruction carried over between reads.
    pending: Vec<u8>,
    /// Scratch for encoder-stream strings and callback-mode Huffman output.
    scratch: Vec<u8>,
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
            config,
            table: DynamicTable::new(config.max_table_capacity),
            blocked: Vec::new(),
            acknowledged: 0,
            out: Vec::new(),
            pending: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The configuration (advertise `max_table_capacity`, `max_blocked_streams` and
    /// `max_field_section_size` in our SETTINGS).
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// The dynamic table's Insert Count (total insertions so far).
    pub fn insert_count(&self) -> u64 {
        self.table.insert_count()
    }

    /// The dynamic table's current capacity, set by the peer's encoder.
    pub fn table_capacity(&self) -> u64 {
        self.table.capacity()
    }

    /// The dynamic table's current size (sum of name + value + 32 per entry).
    pub fn table_size(&self) -> u64 {
        self.table.size()
    }

    /// Number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// The dynamic table entry with absolute index `abs`, if still present.
    pub fn table_entry(&self, abs: u64) -> Option<(&[u8], &[u8])> {
        self.table.get(abs)
    }

    /// Number of streams currently blocked.
    pub fn blocked_streams(&self) -> usize {
        self.blocked.len()
    }

    /// True if the stream's last field section was blocked and has not been decoded since.
    pub fn is_blocked(&self, stream_id: u64) -> bool {
        self.blocked.iter().any(|&(s, _)| s == stream_id)
    }

    /// Returns (and forgets) a blocked stream whose field section can now be decoded,
    /// because the encoder stream delivered the entries it needs. Call after
    /// [`feed_encoder_stream`](Self::feed_encoder_stream), until it returns `None`.
    pub fn next_unblocked(&mut self) -> Option<u64> {
        let count = self.table.insert_count();
        let i = self.blocked.iter().position(|&(_, ric)| ric <= count)?;
        Some(self.blocked.swap_remove(i).0)
    }

    /// The peer reset the stream or we abandoned reading it before decoding all its field
    /// sections: forgets it and queues a Stream Cancellation (RFC 9204 §4.4.2), omitted
    /// when our table capacity is 0 (the encoder cannot reference it then).
    pub fn cancel_stream(&mut self, stream_id: u64) {
        self.blocked.retain(|&(s, _)| s != stream_id);
        if self.config.max_table_capacity > 0 {
            write_stream_cancel(stream_id, &mut self.out);
        }
    }

    /// True if [`take_decoder_stream`](Self::take_decoder_stream) has something to send.
    pub fn has_decoder_stream_data(&self) -> bool {
        !self.out.is_empty() || self.table.insert_count() > self.acknowledged
    }

    /// Appends the pending decoder stream instructions to `dst`: Section Acknowledgments
    /// and Stream Cancellations in order, then one Insert Count Increment for insertions
    /// not yet acknowledged (RFC 9204 §2.2.2.3). Call once per batch of received data, so
    /// increments coalesce.
    pub fn take_decoder_stream(&mut self, dst: &mut Vec<u8>) {
        let count = self.table.insert_count();
        if count > self.acknowledged {
            write_insert_count_increment(count - self.acknowledged, &mut self.out);
            self.acknowledged = count;
        }
        dst.extend_from_slice(&self.out);
        self.out.clear();
    }

    /// Processes bytes from the peer's encoder stream (RFC 9204 §4.3). Instructions may be
    /// split across calls. Errors are `QPACK_ENCODER_STREAM_ERROR` connection errors.
    pub fn feed_encoder_stream(&mut self, data: &[u8]) -> Result<(), QpackError> {
        if self.pending.is_empty() {
            let n = self.run_instructions(data)?;
            self.pending.extend_from_slice(&data[n..]);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(data);
            let result = self.run_instructions(&pending);
            if let Ok(n) = result {
                pending.drain(..n);
            }
            self.pending = pending;
            result?;
        }
        // An instruction can be at most a name and value that fit the table, Huffman
        // coded (at most 30 bits per byte), plus prefixes.
        let limit = self
            .config
            .max_table_capacity
            .saturating_mul(4)
            .saturating_add(64);
        if self.pending.len() as u64 > limit {
            return Err(QpackError::EncoderStream(
                "instruction longer than the table capacity allows",
            ));
        }
        Ok(())
    }

    /// Runs every complete instruction in `buf`; returns the bytes consumed.
    fn run_instructions(&mut self, buf: &[u8]) -> Result<usize, QpackError> {
        let mut pos = 0;
        while pos < buf.len() {
            let mut p = pos;
            match self.instruction(buf, &mut p) {
                Ok(()) => {
                    pos = p;
                    self.check_blocked_evictions()?;
                }
                Err(Err(PrimError::Truncated)) => break,
                Err(Err(PrimError::Overflow)) => {
                    return Err(QpackError::EncoderStream("integer or length too large"))
                }
                Err(Ok(e)) => return Err(e),
            }
        }
        Ok(pos)
    }

    /// RFC 9204 §2.1.1.1: the encoder must not evict an entry that an unacknowledged field
    /// section references. A blocked section references entry `ric - 1`; once that entry
    /// was inserted and evicted again, the section can never be decoded (and its encoded
    /// Required Insert Count would be reconstructed to another value on retry, §4.5.1.1,
    /// re-blocking a stream [`Decoder::next_unblocked`] reported as decodable). Found by
    /// the `qpack_decode` fuzz target.
    fn check_blocked_evictions(&self) -> Result<(), QpackError> {
        let count = self.table.insert_count();
        let oldest = count - self.table.len() as u64;
        if self
            .blocked
            .iter()
            .any(|&(_, ric)| ric <= count && ric.saturating_sub(1) < oldest)
        {
            return Err(QpackError::EncoderStream(
                "evicted an entry that a blocked stream references",
            ));
        }
        Ok(())
    }

    /// One encoder instruction. The outer error distinguishes protocol errors (`Ok`)
    /// from primitives that ran out of input or overflowed (`Err`).
    fn instruction(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
    ) -> Result<(), Result<QpackError, PrimError>> {
        let first = buf[*pos];
        let err = |m| Err(Ok(QpackError::EncoderStream(m)));
        if first & 0x80 != 0 {
            // Insert with Name Reference: 1 T index(6+), value (8+).
            let is_static = first & 0x40 != 0;
            let index = read_int(buf, pos, 6).map_err(Err)?;
            let value = read_str(buf, pos, 8).map_err(Err)?;
            self.scratch.clear();
            if is_static {
                let Some((name, _)) = static_table::get(index) else {
                    return err("invalid static table index");
                };
                self.scratch.extend_from_slice(name);
            } else {
                // Relative to the most recent insertion (RFC 9204 §3.2.5).
                let count = self.table.insert_count();
                let Some(entry) = index.checked_add(1).and_then(|i| count.checked_sub(i)) else {
                    return err("relative index past the table");
                };
                let Some((name, _)) = self.table.get(entry) else {
                    return err("reference to an evicted entry");
                };
                self.scratch.extend_from_slice(name);
            }
            let name_len = self.scratch.len();
            self.append_str(value).map_err(Ok)?;
            self.insert(name_len).map_err(Ok)
        } else if first & 0x40 != 0 {
            // Insert with Literal Name: 01 H len(5+) name, value (8+).
            let name = read_str(buf, pos, 6).map_err(Err)?;
            let value = read_str(buf, pos, 8).map_err(Err)?;
            self.scratch.clear();
            self.append_str(name).map_err(Ok)?;
            let name_len = self.scratch.len();
            self.append_str(value).map_err(Ok)?;
            self.insert(name_len).map_err(Ok)
        } else if first & 0x20 != 0 {
            // Set Dynamic Table Capacity: 001 capacity(5+).
            let capacity = read_int(buf, pos, 5).map_err(Err)?;
            match self.table.set_capacity(capacity) {
                Ok(()) => Ok(()),
                Err(_) => err("capacity above SETTINGS_QPACK_MAX_TABLE_CAPACITY"),
            }
        } else {
            // Duplicate: 000 index(5+).
            let index = read_int(buf, pos, 5).map_err(Err)?;
            let count = self.table.insert_count();
            let Some(entry) = index.checked_add(1).and_then(|i| count.checked_sub(i)) else {
                return err("relative index past the table");
            };
            let Some((name, value)) = self.table.get(entry) else {
                return err("reference to an evicted entry");
            };
            self.scratch.clear();
            self.scratch.extend_from_slice(name);
            self.scratch.extend_from_slice(value);
            self.insert(name.len()).map_err(Ok)
        }
    }

    fn append_str(&mut self, s: RawStr<'_>) -> Result<(), QpackError> {
        if s.huffman {
            huffman::decode(s.bytes, &mut self.scratch)
                .map_err(|_| QpackError::EncoderStream("invalid Huffman string"))
        } else {
            self.scratch.extend_from_slice(s.bytes);
            Ok(())
        }
    }

    /// Inserts `scratch[..name_len]` / `scratch[name_len..]`.
    fn insert(&mut self, name_len: usize) -> Result<(), QpackError> {
        let (name, value) = self.scratch.split_at(name_len);
        self.table.insert(name, value).map_err(|e| match e {
            TableError::EntryTooLarge => {
                QpackError::EncoderStream("entry larger than the table capacity")
            }
            TableError::CapacityTooLarge => QpackError::EncoderStream("capacity too large"),
        })
    }

    /// Decodes an encoded field section (a HEADERS payload) received on `stream_id` into
    /// a [`HeaderList`] in `arena`. Literal strings borrow `block` (zero copy), so the
    /// block must live as long as the arena's borrow — copy it into the arena first
    /// (`arena.alloc_bytes`) if it is in a transient buffer. Decoding into a warm arena
    /// makes no heap allocation.
    pub fn decode_section<'a>(
        &mut self,
        stream_id: u64,
        block: &'a [u8],
        arena: &'a Arena,
    ) -> Result<Decoded<HeaderList<'a>>, QpackError> {
        let mut list = HeaderList::new_in(arena);
        match self.decode_section_into(stream_id, block, &mut list)? {
            Decoded::Done(()) => Ok(Decoded::Done(list)),
            Decoded::Blocked => Ok(Decoded::Blocked),
        }
    }

    /// As [`decode_section`](Self::decode_section), appending the fields to `list` (in
    /// its arena) instead of returning a new list: nothing is appended while the section
    /// is blocked, or after an error of the section prefix. A list held by the caller is
    /// not copied on its way out, as a returned one is (a few hundred bytes inline).
    pub fn decode_section_into<'a>(
        &mut self,
        stream_id: u64,
        block: &'a [u8],
        list: &mut HeaderList<'a>,
    ) -> Result<Decoded<()>, QpackError> {
        let mut sink = ArenaSink {
            arena: list.arena(),
            list,
        };
        match self.decode_into(stream_id, block, &mut sink)? {
            true => Ok(Decoded::Done(())),
            false => Ok(Decoded::Blocked),
        }
    }

    /// Decodes an encoded field section, passing each field line to `emit(name, value)`
    /// in order. The slices are only valid during the call.
    pub fn decode_section_with(
        &mut self,
        stream_id: u64,
        block: &[u8],
        emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<Decoded<()>, QpackError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut sink = FnSink {
            scratch: &mut scratch,
            emit,
        };
        let result = self.decode_into(stream_id, block, &mut sink);
        self.scratch = scratch;
        Ok(match result? {
            true => Decoded::Done(()),
            false => Decoded::Blocked,
        })
    }

    /// Decodes the prefix and field lines into `sink`; `Ok(false)` if blocked.
    fn decode_into<'b, S: Sink<'b>>(
        &mut self,
        stream_id: u64,
        block: &'b [u8],
        sink: &mut S,
    ) -> Result<bool, QpackError> {
        let mut pos = 0;
        let prim = |e: PrimError| match e {
            PrimError::Truncated => QpackError::Decompression("truncated field section"),
            PrimError::Overflow => QpackError::Decompression("integer or length too large"),
        };
        // Encoded Field Section Prefix (RFC 9204 §4.5.1).
        let encoded_ric = read_int(block, &mut pos, 8).map_err(prim)?;
        let ric = self.required_insert_count(encoded_ric)?;
        if ric > self.table.insert_count() {
            if !self.is_blocked(stream_id) {
                if self.blocked.len() as u64 >= self.config.max_blocked_streams {
                    return Err(QpackError::TooManyBlockedStreams {
                        limit: self.config.max_blocked_streams,
                    });
                }
                self.blocked.push((stream_id, ric));
            }
            return Ok(false);
        }
        self.blocked.retain(|&(s, _)| s != stream_id);
        let sign = block.get(pos).ok_or(prim(PrimError::Truncated))? & 0x80 != 0;
        let delta = read_int(block, &mut pos, 7).map_err(prim)?;
        let base = if sign {
            // RFC 9204 §4.5.1.2: a negative Base is invalid.
            if ric <= delta {
                return Err(QpackError::Decompression("negative Base"));
            }
            ric - delta - 1
        } else {
            ric.checked_add(delta)
                .ok_or(QpackError::Decompression("Base overflows"))?
        };

        let result = decode_lines(&self.table, block, pos, ric, base, &self.config, sink);
        // RFC 9204 §4.4.1: acknowledge every section with dynamic references that was
        // decodable. A stream-level failure (the section is too large for us, or the
        // request's arena is full) still had all the table state it needed, so it is
        // acknowledged too, keeping the encoder's reference tracking right.
        let decodable = match &result {
            Ok(()) => true,
            Err(e) => e.scope() == Scope::Stream,
        };
        if ric > 0 && decodable {
            write_section_ack(stream_id, &mut self.out);
            self.acknowledged = self.acknowledged.max(ric);
        }
        result.map(|()| true)
    }

    /// Reconstructs the Required Insert Count from its encoding (RFC 9204 §4.5.1.1).
    fn required_insert_count(&self, encoded: u64) -> Result<u64, QpackError> {
        if encoded == 0 {
            return Ok(0);
        }
        let invalid = QpackError::Decompression("invalid Required Insert Count");
        let max_entries = self.config.max_table_capacity / 32;
        let full_range = 2 * max_entries;
        if encoded > full_range {
            return Err(invalid);
        }
        let max_value = self.table.insert_count() + max_entries;
        let max_wrapped = (max_value / full_range) * full_range;
        let mut ric = max_wrapped + encoded - 1;
        if ric > max_value {
            if ric <= full_range {
                return Err(invalid);
            }
            ric -= full_range;
        }
        if ric == 0 {
            return Err(invalid);
        }
        Ok(ric)
    }
}

/// Decodes the field lines of a section (after its prefix) into `sink`, within the size
/// and count limits of `config`.
fn decode_lines<'b, S: Sink<'b>>(
    table: &DynamicTable,
    block: &'b [u8],
    mut pos: usize,
    ric: u64,
    base: u64,
    config: &DecoderConfig,
    sink: &mut S,
) -> Result<(), QpackError> {
    let limit = config.max_field_section_size;
    let max_fields = config.max_fields;
    let prim = |e: PrimError| match e {
        PrimError::Truncated => QpackError::Decompression("truncated field section"),
        PrimError::Overflow => QpackError::Decompression("integer or length too large"),
    };
    let mut size: u64 = 0;
    let mut count = 0usize;
    // A dynamic reference must be below the Required Insert Count and still present
    // (RFC 9204 §2.2.3).
    let dynamic = |abs: Option<u64>| -> Result<(&[u8], &[u8]), QpackError> {
        abs.filter(|&a| a < ric)
            .and_then(|a| table.get(a))
            .ok_or(QpackError::Decompression("invalid dynamic table reference"))
    };
    let relative = |idx: u64| idx.checked_add(1).and_then(|i| base.checked_sub(i));
    while pos < block.len() {
        // The count is checked before the line is decoded or handed to the sink.
        count += 1;
        if count > max_fields {
            return Err(QpackError::TooManyFields { limit: max_fields });
        }
        let first = block[pos];
        let n = if first & 0x80 != 0 {
            // Indexed Field Line: 1 T index(6+).
            let index = read_int(block, &mut pos, 6).map_err(prim)?;
            if first & 0x40 != 0 {
                let (name, value) = static_table::get(index)
                    .ok_or(QpackError::Decompression("invalid static table index"))?;
                sink.field(Str::Plain(name), Str::Plain(value))?
            } else {
                let (name, value) = dynamic(relative(index))?;
                sink.field(Str::Table(name), Str::Table(value))?
            }
        } else if first & 0x40 != 0 {
            // Literal Field Line with Name Reference: 01 N T index(4+), value(8+).
            let index = read_int(block, &mut pos, 4).map_err(prim)?;
            let value: Str<'b, '_> = read_str(block, &mut pos, 8).map_err(prim)?.into();
            if first & 0x10 != 0 {
                let (name, _) = static_table::get(index)
                    .ok_or(QpackError::Decompression("invalid static table index"))?;
                sink.field(Str::Plain(name), value)?
            } else {
                let (name, _) = dynamic(relative(index))?;
                sink.field(Str::Table(name), value)?
            }
        } else if first & 0x20 != 0 {
            // Literal Field Line with Literal Name: 001 N H len(3+) name, value(8+).
            let name = read_str(block, &mut pos, 4).map_err(prim)?;
            let value = read_str(block, &mut pos, 8).map_err(prim)?;
            sink.field(name.into(), value.into())?
        } else if first & 0x10 != 0 {
            // Indexed Field Line with Post-Base Index: 0001 index(4+).
            let index = read_int(block, &mut pos, 4).map_err(prim)?;
            let (name, value) = dynamic(base.checked_add(index))?;
            sink.field(Str::Table(name), Str::Table(value))?
        } else {
            // Literal Field Line with Post-Base Name Reference: 0000 N index(3+), value.
            let index = read_int(block, &mut pos, 3).map_err(prim)?;
            let value: Str<'b, '_> = read_str(block, &mut pos, 8).map_err(prim)?.into();
            let (name, _) = dynamic(base.checked_add(index))?;
            sink.field(Str::Table(name), value)?
        };
        size = size.saturating_add(n + ENTRY_OVERHEAD);
        if size > limit {
            return Err(QpackError::FieldSectionTooLarge { size, limit });
        }
    }
    Ok(())
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecoderConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_sections_with_dynamic_references_are_still_acknowledged() {
        let mut d = Decoder::new(DecoderConfig {
            max_field_section_size: 40,
            ..Default::default()
        });
        // Capacity 100, insert ("abc", "x").
        d.feed_encoder_stream(&[0x3f, 0x45, 0x43, b'a', b'b', b'c', 0x01, b'x'])
            .unwrap();
        // RIC 1, Base 1, indexed relative 0, twice: 2 * (4 + 32) > 40.
        let err = d
            .decode_section_with(4, &[0x02, 0x00, 0x80, 0x80], |_, _| {})
            .unwrap_err();
        assert!(matches!(
            err,
            QpackError::FieldSectionTooLarge {
                size: 72,
                limit: 40
            }
        ));
        let mut out = Vec::new();
        d.take_decoder_stream(&mut out);
        assert_eq!(
            out,
            [0x84],
            "Section Acknowledgment, no Insert Count Increment"
        );
        // A connection error (bad reference) is not acknowledged.
        assert!(d
            .decode_section_with(8, &[0x02, 0x00, 0x81], |_, _| {})
            .is_err());
        out.clear();
        d.take_decoder_stream(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn required_insert_count_wraps() {
        // RFC 9204 §4.5.1.1: a 100-byte table encodes modulo 6; with 10 inserts an
        // encoded value of 4 means 9.
        let mut d = Decoder::new(DecoderConfig {
            max_table_capacity: 100,
            ..Default::default()
        });
        d.table.set_capacity(100).unwrap();
        for _ in 0..10 {
            d.table.insert(b"", b"").unwrap();
        }
        assert_eq!(d.required_insert_count(4), Ok(9));
        assert_eq!(d.required_insert_count(0), Ok(0));
        assert!(d.required_insert_count(7).is_err());
        // Encoder side formula: (ric mod 6) + 1, for every ric in the valid window.
        for ric in 8..=13u64 {
            assert_eq!(d.required_insert_count(ric % 6 + 1), Ok(ric), "ric {ric}");
        }
        let fresh = Decoder::new(DecoderConfig {
            max_table_capacity: 100,
            ..Default::default()
        });
        // With no inserts, values that would mean ric > max_value wrap below zero: error.
        assert!(fresh.required_insert_count(6).is_err());
        let none = Decoder::new(DecoderConfig {
            max_table_capacity: 0,
            ..Default::default()
        });
        assert!(none.required_insert_count(1).is_err());
    }
}
