//! The HPACK decoder (RFC 7541 §3, §6).

use shockwave_arena::{Arena, HeaderList};

use crate::table::{DynamicTable, NameSrc, ENTRY_OVERHEAD, STATIC_LEN, STATIC_TABLE};
use crate::{huffman, integer, DecodeError};

/// The default (and initial) dynamic table size, SETTINGS_HEADER_TABLE_SIZE's initial value
/// (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Resource limits of a [`Decoder`]: the HPACK-bomb defences (RFC 7541 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderLimits {
    /// Maximum decoded header list size per block, counted as name + value + 32 bytes per
    /// field (SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 §6.5.2). Default 16 KiB.
    pub max_header_list_size: usize,
    /// Maximum length of one string, Huffman-encoded or decoded. Default 64 KiB.
    pub max_string_len: usize,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        DecoderLimits {
            max_header_list_size: 16 * 1024,
            max_string_len: 64 * 1024,
        }
    }
}

/// One decoded header field, with its representation's never-indexed flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'b> {
    /// The field name.
    pub name: &'b [u8],
    /// The field value.
    pub value: &'b [u8],
    /// True for a "literal header field never indexed" (RFC 7541 §6.2.3): an intermediary
    /// must re-encode it the same way.
    pub never_indexed: bool,
}

/// Bytes handed to a sink: static-table bytes live forever, the rest only for the call.
#[derive(Clone, Copy)]
enum Bytes<'x> {
    Static(&'static [u8]),
    Temp(&'x [u8]),
}

impl<'x> Bytes<'x> {
    fn as_slice(self) -> &'x [u8] {
        match self {
            Bytes::Static(s) => s,
            Bytes::Temp(t) => t,
        }
    }
}

/// Where a decoded string is, while the representation is being decoded.
#[derive(Clone, Copy)]
enum Loc {
    Static(&'static [u8]),
    Block(usize, usize),
    Scratch(usize, usize),
    EntryName(usize),
    EntryValue(usize),
}

/// An HPACK decoder: one per connection direction, fed every header block in order.
///
/// ```
/// use shockwave_hpack::Decoder;
///
/// let mut decoder = Decoder::new();
/// // RFC 7541 C.3.1: GET http://www.example.com/
/// let block = [0x82, 0x86, 0x84, 0x41, 0x0f, b'w', b'w', b'w', b'.', b'e', b'x', b'a',
///              b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm'];
/// let mut fields = Vec::new();
/// decoder.decode(&block, |name, value| fields.push((name.to_vec(), value.to_vec()))).unwrap();
/// assert_eq!(fields[0], (b":method".to_vec(), b"GET".to_vec()));
/// assert_eq!(fields[3], (b":authority".to_vec(), b"www.example.com".to_vec()));
/// assert_eq!(decoder.table_size(), 57);
/// ```
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The largest table size the peer may choose (our acknowledged setting).
    max_allowed: usize,
    limits: DecoderLimits,
    /// Huffman-decoded strings of the current field.
    scratch: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with a 4096-byte dynamic table and default [`DecoderLimits`].
    pub fn new() -> Decoder {
        Self::with_limits(DecoderLimits::default())
    }

    /// A decoder with a 4096-byte dynamic table and the given limits.
    pub fn with_limits(limits: DecoderLimits) -> Decoder {
        Decoder {
            table: DynamicTable::new(DEFAULT_TABLE_SIZE),
            max_allowed: DEFAULT_TABLE_SIZE,
            limits,
            // Allocated by the first Huffman-coded string, then reused.
            scratch: Vec::new(),
        }
    }

    /// Sets the maximum dynamic table size: the SETTINGS_HEADER_TABLE_SIZE we advertised
    /// and the peer acknowledged. Later size updates above it are errors. If the table is
    /// currently larger, it shrinks (and evicts) right away, as the peer's encoder must.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_allowed = size;
        if self.table.capacity() > size {
            self.table.set_capacity(size, &mut |_, _| {});
        }
    }

    /// The maximum set by [`Decoder::set_max_table_size`] (initially 4096).
    pub fn max_table_size(&self) -> usize {
        self.max_allowed
    }

    /// The dynamic table's current maximum size (set by the peer's size updates).
    pub fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// The dynamic table's current size (RFC 7541 §4.1: name + value + 32 per entry).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// The dynamic table entry at `index` (HPACK index space: 62 is the newest entry).
    pub fn table_entry(&self, index: usize) -> Option<(&[u8], &[u8])> {
        index
            .checked_sub(STATIC_LEN + 1)
            .and_then(|i| self.table.get(i))
    }

    /// The decoder's limits.
    pub fn limits(&self) -> &DecoderLimits {
        &self.limits
    }

    /// Changes the decoder's limits.
    pub fn set_limits(&mut self, limits: DecoderLimits) {
        self.limits = limits;
    }

    /// Decodes one complete header block, calling `emit(name, value)` for each field in
    /// order. The slices are valid only during the call.
    ///
    /// On [`DecodeError::HeaderListTooLarge`] fields past the limit were not emitted, but
    /// the block was decoded to its end, so the dynamic table stays in sync (the stream can
    /// be refused with 431 while the connection goes on).
    pub fn decode(
        &mut self,
        block: &[u8],
        mut emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        self.decode_core(block, usize::MAX, |name, value, _| {
            emit(name.as_slice(), value.as_slice());
            Ok(())
        })
    }

    /// Like [`Decoder::decode`], but gives up as soon as the decoded list (counted as for
    /// [`DecoderLimits::max_header_list_size`]) exceeds `abort` bytes, with
    /// [`DecodeError::HeaderListAborted`]. The rest of the block is not decoded, so the
    /// dynamic table no longer matches the peer's: close the connection after that error.
    /// This bounds the work a block far over the limit can cost (a block of thousands of
    /// one-byte references to a large entry), where the plain `decode` would go on to the
    /// end to keep the table in sync. Below `abort`, it behaves exactly like `decode`.
    pub fn decode_until(
        &mut self,
        block: &[u8],
        abort: usize,
        mut emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), DecodeError> {
        self.decode_core(block, abort, |name, value, _| {
            emit(name.as_slice(), value.as_slice());
            Ok(())
        })
    }

    /// Like [`Decoder::decode`], but passes each [`Field`] with its never-indexed flag.
    pub fn decode_fields(
        &mut self,
        block: &[u8],
        mut emit: impl FnMut(Field<'_>),
    ) -> Result<(), DecodeError> {
        self.decode_core(block, usize::MAX, |name, value, never_indexed| {
            emit(Field {
                name: name.as_slice(),
                value: value.as_slice(),
                never_indexed,
            });
            Ok(())
        })
    }

    /// Decodes one header block and appends its fields to `list`, copying names and values
    /// into `arena` (static-table strings are not copied). With a warm arena and decoder
    /// this makes no heap allocation.
    ///
    /// If the arena runs out ([`DecodeError::Arena`]), the fields that fit are in `list`
    /// and the rest of the block is still decoded, so the dynamic table stays in sync.
    pub fn decode_in<'a>(
        &mut self,
        block: &[u8],
        arena: &'a Arena,
        list: &mut HeaderList<'a>,
    ) -> Result<(), DecodeError> {
        self.decode_core(block, usize::MAX, |name, value, _| {
            let name: &'a [u8] = match name {
                Bytes::Static(s) => s,
                Bytes::Temp(t) => arena.alloc_bytes(t)?,
            };
            let value: &'a [u8] = match value {
                Bytes::Static(s) => s,
                Bytes::Temp(t) => arena.alloc_bytes(t)?,
            };
            list.push(name, value)?;
            Ok(())
        })
    }

    fn decode_core<S>(&mut self, block: &[u8], abort: usize, mut sink: S) -> Result<(), DecodeError>
    where
        S: FnMut(Bytes<'_>, Bytes<'_>, bool) -> Result<(), DecodeError>,
    {
        let limit = self.limits.max_header_list_size;
        let mut list_size = 0usize;
        // The first error that stops output (list too large, arena full). Decoding goes on
        // to the end of the block regardless, so the dynamic table stays in sync.
        let mut deferred: Option<DecodeError> = None;
        let mut seen_field = false;
        let mut pos = 0usize;
        while let Some(&first) = block.get(pos) {
            self.scratch.clear();
            let (name, value, never) = if first & 0x80 != 0 {
                // Indexed header field (RFC 7541 §6.1).
                let (index, n) = integer::decode(&block[pos..], 7)?;
                pos += n;
                seen_field = true;
                self.lookup(index)?
            } else if first & 0xe0 == 0x20 {
                // Dynamic table size update (RFC 7541 §6.3), only at the start (§4.2).
                if seen_field {
                    return Err(DecodeError::SizeUpdateAfterField);
                }
                let (size, n) = integer::decode(&block[pos..], 5)?;
                pos += n;
                if size > self.max_allowed as u64 {
                    return Err(DecodeError::SizeUpdateTooLarge {
                        requested: size,
                        max: self.max_allowed,
                    });
                }
                self.table.set_capacity(size as usize, &mut |_, _| {});
                continue;
            } else {
                // Literal header field with incremental indexing (01, 6-bit index), without
                // indexing (0000, 4-bit) or never indexed (0001, 4-bit) (RFC 7541 §6.2).
                let incremental = first & 0x40 != 0;
                let prefix = if incremental { 6 } else { 4 };
                let never = !incremental && first & 0x10 != 0;
                let (index, n) = integer::decode(&block[pos..], prefix)?;
                pos += n;
                seen_field = true;
                let mut name = if index == 0 {
                    self.read_string(block, &mut pos)?
                } else {
                    self.lookup(index)?.0
                };
                let mut value = self.read_string(block, &mut pos)?;
                if incremental {
                    let name_len = match name {
                        Loc::Static(s) => s.len(),
                        Loc::Block(s, e) | Loc::Scratch(s, e) => e - s,
                        Loc::EntryName(i) | Loc::EntryValue(i) => {
                            self.table.slot(i).map_or(0, |s| s.name_len)
                        }
                    };
                    let value_len = match value {
                        Loc::Block(s, e) | Loc::Scratch(s, e) => e - s,
                        _ => 0,
                    };
                    let fits = name_len + value_len + ENTRY_OVERHEAD <= self.table.capacity();
                    if !fits {
                        // The insertion will empty the table (RFC 7541 §4.4): a name taken
                        // from an entry must be saved first.
                        if let Loc::EntryName(i) = name {
                            let start = self.scratch.len();
                            if let Some((n, _)) = self.table.get(i) {
                                self.scratch.extend_from_slice(n);
                            }
                            name = Loc::Scratch(start, self.scratch.len());
                        }
                    }
                    let value_bytes = match value {
                        Loc::Block(s, e) => &block[s..e],
                        Loc::Scratch(s, e) => &self.scratch[s..e],
                        // read_string returns only block or scratch locations.
                        _ => &[][..],
                    };
                    let name_src = match name {
                        Loc::Static(s) => NameSrc::External(s),
                        Loc::Block(s, e) => NameSrc::External(&block[s..e]),
                        Loc::Scratch(s, e) => NameSrc::External(&self.scratch[s..e]),
                        Loc::EntryName(i) | Loc::EntryValue(i) => NameSrc::Entry(i),
                    };
                    if self
                        .table
                        .insert(name_src, value_bytes, (0, 0), &mut |_, _| {})
                    {
                        name = Loc::EntryName(0);
                        value = Loc::EntryValue(0);
                    }
                }
                (name, value, never)
            };
            let name = self.resolve(block, name);
            let value = self.resolve(block, value);
            let size = name
                .as_slice()
                .len()
                .saturating_add(value.as_slice().len())
                .saturating_add(ENTRY_OVERHEAD);
            list_size = list_size.saturating_add(size);
            if list_size > abort {
                return Err(DecodeError::HeaderListAborted { abort });
            }
            if deferred.is_none() && list_size > limit {
                deferred = Some(DecodeError::HeaderListTooLarge { limit });
            }
            if deferred.is_none() {
                if let Err(e) = sink(name, value, never) {
                    deferred = Some(e);
                }
            }
        }
        match deferred {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Resolves a table index (RFC 7541 §2.3.3) to the name and value locations.
    #[inline]
    fn lookup(&self, index: u64) -> Result<(Loc, Loc, bool), DecodeError> {
        if index == 0 {
            return Err(DecodeError::IndexZero);
        }
        if index <= STATIC_LEN as u64 {
            let (n, v) = STATIC_TABLE[index as usize - 1];
            return Ok((Loc::Static(n), Loc::Static(v), false));
        }
        let i = index - STATIC_LEN as u64 - 1;
        if i < self.table.len() as u64 {
            let i = i as usize;
            Ok((Loc::EntryName(i), Loc::EntryValue(i), false))
        } else {
            Err(DecodeError::IndexOutOfRange {
                index,
                len: STATIC_LEN + self.table.len(),
            })
        }
    }

    /// Reads a string literal (RFC 7541 §5.2) at `*pos`; Huffman strings are decoded into
    /// the scratch buffer.
    #[inline]
    fn read_string(&mut self, block: &[u8], pos: &mut usize) -> Result<Loc, DecodeError> {
        let rest = block.get(*pos..).unwrap_or(&[]);
        let huffman = rest.first().is_some_and(|b| b & 0x80 != 0);
        let (len, n) = integer::decode(rest, 7)?;
        let limit = self.limits.max_string_len;
        if len > limit as u64 {
            return Err(DecodeError::StringTooLong { len, limit });
        }
        let start = *pos + n;
        let available = block.len() - start;
        if len > available as u64 {
            return Err(DecodeError::StringPastEnd { len, available });
        }
        let end = start + len as usize;
        *pos = end;
        if !huffman {
            return Ok(Loc::Block(start, end));
        }
        let s = self.scratch.len();
        huffman::decode(&block[start..end], &mut self.scratch)?;
        let e = self.scratch.len();
        if e - s > limit {
            return Err(DecodeError::StringTooLong {
                len: (e - s) as u64,
                limit,
            });
        }
        Ok(Loc::Scratch(s, e))
    }

    #[inline]
    fn resolve<'x>(&'x self, block: &'x [u8], loc: Loc) -> Bytes<'x> {
        match loc {
            Loc::Static(s) => Bytes::Static(s),
            Loc::Block(s, e) => Bytes::Temp(&block[s..e]),
            Loc::Scratch(s, e) => Bytes::Temp(&self.scratch[s..e]),
            Loc::EntryName(i) => Bytes::Temp(self.table.get(i).map_or(&[][..], |(n, _)| n)),
            Loc::EntryValue(i) => Bytes::Temp(self.table.get(i).map_or(&[][..], |(_, v)| v)),
        }
    }
}
