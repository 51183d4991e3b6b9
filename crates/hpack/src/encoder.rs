//! The HPACK encoder (RFC 7541 §3, §6).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::decoder::DEFAULT_TABLE_SIZE;
use crate::table::{DynamicTable, NameSrc, Slot, ENTRY_OVERHEAD, STATIC_LEN};
use crate::{huffman, integer, Field};

/// When the encoder Huffman-codes string literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HuffmanPolicy {
    /// When the Huffman form is strictly shorter (the default).
    #[default]
    WhenShorter,
    /// Never: every string is sent as raw octets.
    Never,
    /// Always, even when longer.
    Always,
}

/// A user predicate marking fields as sensitive: they are sent as "never indexed"
/// literals (RFC 7541 §6.2.3, §7.1.3) and never enter the dynamic table.
pub type SensitivePredicate = fn(name: &[u8], value: &[u8]) -> bool;

/// Cookies shorter than this are treated as sensitive by default: a short, low-entropy
/// value could be guessed through compression (RFC 7541 §7.1.3).
pub const SHORT_COOKIE_LEN: usize = 20;

/// An identity hasher for keys that are already 64-bit hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are used; fold anything else for completeness.
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u64, BuildHasherDefault<IdentityHasher>>;

const K: u64 = 0x517c_c1b7_2722_0a95;

/// A fast multiplicative hash over bytes (8 at a time). Only used for table lookups whose
/// hits are verified byte for byte, so collisions cost a miss, never a wrong index.
#[inline]
fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut w = [0u8; 8];
        w[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    (h.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(K)
}

/// The static table index of `name`, and of `(name, value)` when both match
/// (RFC 7541 Appendix A).
#[inline]
fn static_lookup(name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
    let (name_index, values): (usize, &[(&[u8], usize)]) = match name {
        b":authority" => (1, &[]),
        b":method" => (2, &[(b"GET", 2), (b"POST", 3)]),
        b":path" => (4, &[(b"/", 4), (b"/index.html", 5)]),
        b":scheme" => (6, &[(b"http", 6), (b"https", 7)]),
        b":status" => (
            8,
            &[
                (b"200", 8),
                (b"204", 9),
                (b"206", 10),
                (b"304", 11),
                (b"400", 12),
                (b"404", 13),
                (b"500", 14),
            ],
        ),
        b"accept-charset" => (15, &[]),
        b"accept-encoding" => (16, &[(b"gzip, deflate", 16)]),
        b"accept-language" => (17, &[]),
        b"accept-ranges" => (18, &[]),
        b"accept" => (19, &[]),
        b"access-control-allow-origin" => (20, &[]),
        b"age" => (21, &[]),
        b"allow" => (22, &[]),
        b"authorization" => (23, &[]),
        b"cache-control" => (24, &[]),
        b"content-disposition" => (25, &[]),
        b"content-encoding" => (26, &[]),
        b"content-language" => (27, &[]),
        b"content-length" => (28, &[]),
        b"content-location" => (29, &[]),
        b"content-range" => (30, &[]),
        b"content-type" => (31, &[]),
        b"cookie" => (32, &[]),
        b"date" => (33, &[]),
        b"etag" => (34, &[]),
        b"expect" => (35, &[]),
        b"expires" => (36, &[]),
        b"from" => (37, &[]),
        b"host" => (38, &[]),
        b"if-match" => (39, &[]),
        b"if-modified-since" => (40, &[]),
        b"if-none-match" => (41, &[]),
        b"if-range" => (42, &[]),
        b"if-unmodified-since" => (43, &[]),
        b"last-modified" => (44, &[]),
        b"link" => (45, &[]),
        b"location" => (46, &[]),
        b"max-forwards" => (47, &[]),
        b"proxy-authenticate" => (48, &[]),
        b"proxy-authorization" => (49, &[]),
        b"range" => (50, &[]),
        b"referer" => (51, &[]),
        b"refresh" => (52, &[]),
        b"retry-after" => (53, &[]),
        b"server" => (54, &[]),
        b"set-cookie" => (55, &[]),
        b"strict-transport-security" => (56, &[]),
        b"transfer-encoding" => (57, &[]),
        b"user-agent" => (58, &[]),
        b"vary" => (59, &[]),
        b"via" => (60, &[]),
        b"www-authenticate" => (61, &[]),
        _ => return (None, None),
    };
    let full = values.iter().find(|(v, _)| *v == value).map(|&(_, i)| i);
    // Empty-valued static entries match an empty value exactly.
    let full = full.or_else(|| (values.is_empty() && value.is_empty()).then_some(name_index));
    (Some(name_index), full)
}

/// An HPACK encoder: one per connection direction, encoding every header block in order.
///
/// Fields are looked up in the static table and, through hash indexes, in the dynamic
/// table; misses are sent as literals and (unless sensitive or too large) added to the
/// dynamic table. Strings are Huffman-coded when that is shorter.
///
/// ```
/// use shockwave_hpack::{Decoder, Encoder};
///
/// let mut encoder = Encoder::new();
/// let mut block = Vec::new();
/// let headers: [(&[u8], &[u8]); 3] =
///     [(b":method", b"GET"), (b":path", b"/"), (b"user-agent", b"shockwave")];
/// encoder.encode(headers, &mut block);
/// assert_eq!(&block[..2], [0x82, 0x84]); // both fully in the static table
///
/// let mut decoder = Decoder::new();
/// let mut n = 0;
/// decoder.decode(&block, |name, value| {
///     assert_eq!((name, value), headers[n]);
///     n += 1;
/// }).unwrap();
/// assert_eq!(n, 3);
/// ```
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// Our own cap on the table size we use, whatever the peer allows.
    size_limit: usize,
    /// The peer's SETTINGS_HEADER_TABLE_SIZE.
    peer_max: usize,
    /// Size updates to emit at the start of the next block: (smallest, final).
    pending_update: Option<(usize, usize)>,
    /// `(name, value)` hash → absolute id of the newest entry with that pair.
    pairs: HashIndex,
    /// name hash → absolute id of the newest entry with that name.
    names: HashIndex,
    huffman: HuffmanPolicy,
    sensitive: Option<SensitivePredicate>,
    indexing: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder for a peer with the default 4096-byte table.
    pub fn new() -> Encoder {
        Self::with_table_size(DEFAULT_TABLE_SIZE)
    }

    /// An encoder whose peer's dynamic table starts at `size` bytes, without a size
    /// update (the RFC 7541 Appendix C.5/C.6 setting, or a peer whose setting was known
    /// before the first block). Also our own limit on the table size.
    pub fn with_table_size(size: usize) -> Encoder {
        // The table and both indexes start empty and grow with the entries actually
        // inserted (an idle connection keeps a few hundred bytes, not a full-size table).
        let pairs = HashIndex::default();
        let names = HashIndex::default();
        Encoder {
            table: DynamicTable::new(size),
            size_limit: size.max(DEFAULT_TABLE_SIZE),
            peer_max: size,
            pending_update: None,
            pairs,
            names,
            huffman: HuffmanPolicy::default(),
            sensitive: None,
            indexing: true,
        }
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE: the encoder uses
    /// `min(size, table size limit)` and signals the change with a dynamic table size
    /// update at the start of the next block (RFC 7541 §4.2; if the size went down and back
    /// up between blocks, the smallest value is signalled first).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.peer_max = size;
        self.retarget();
    }

    /// Caps the table size the encoder uses whatever the peer allows (default 4096; a
    /// bigger table costs memory per connection).
    pub fn set_table_size_limit(&mut self, limit: usize) {
        self.size_limit = limit;
        self.retarget();
    }

    fn retarget(&mut self) {
        let target = self.peer_max.min(self.size_limit);
        let current = match self.pending_update {
            Some((_, last)) => last,
            None => self.table.capacity(),
        };
        if target == current {
            return;
        }
        let smallest = match self.pending_update {
            Some((min, _)) => min.min(target),
            None => self.table.capacity().min(target),
        };
        self.pending_update = Some((smallest, target));
    }

    /// The size of the peer's dynamic table as the encoder tracks it.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The current maximum size of the dynamic table (after pending updates are sent).
    pub fn table_capacity(&self) -> usize {
        match self.pending_update {
            Some((_, last)) => last,
            None => self.table.capacity(),
        }
    }

    /// Number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Chooses when strings are Huffman-coded.
    pub fn set_huffman(&mut self, policy: HuffmanPolicy) {
        self.huffman = policy;
    }

    /// Marks more fields as sensitive (never indexed), on top of `authorization`,
    /// `proxy-authorization` and short cookies.
    pub fn set_sensitive_predicate(&mut self, predicate: Option<SensitivePredicate>) {
        self.sensitive = predicate;
    }

    /// Turns insertion into the dynamic table on or off (lookups still use it).
    pub fn set_indexing(&mut self, on: bool) {
        self.indexing = on;
    }

    /// Encodes one header block into `dst` (appending).
    pub fn encode<'h, I>(&mut self, headers: I, dst: &mut Vec<u8>)
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])>,
    {
        self.begin_block(dst);
        for (name, value) in headers {
            let sensitive = self.is_sensitive(name, value);
            self.encode_one(name, value, sensitive, dst);
        }
    }

    /// Encodes one header block; a field with `never_indexed` set is sent as a never
    /// indexed literal (as are the default sensitive fields).
    pub fn encode_fields<'h, I>(&mut self, fields: I, dst: &mut Vec<u8>)
    where
        I: IntoIterator<Item = Field<'h>>,
    {
        self.begin_block(dst);
        for f in fields {
            let sensitive = f.never_indexed || self.is_sensitive(f.name, f.value);
            self.encode_one(f.name, f.value, sensitive, dst);
        }
    }

    fn is_sensitive(&self, name: &[u8], value: &[u8]) -> bool {
        name.eq_ignore_ascii_case(b"authorization")
            || name.eq_ignore_ascii_case(b"proxy-authorization")
            || (name.eq_ignore_ascii_case(b"cookie") && value.len() < SHORT_COOKIE_LEN)
            || self.sensitive.is_some_and(|p| p(name, value))
    }

    /// Emits pending dynamic table size updates (RFC 7541 §6.3) and applies them.
    fn begin_block(&mut self, dst: &mut Vec<u8>) {
        if let Some((smallest, last)) = self.pending_update.take() {
            if smallest < last {
                integer::encode(smallest as u64, 5, 0x20, dst);
                self.set_capacity(smallest);
            }
            integer::encode(last as u64, 5, 0x20, dst);
            self.set_capacity(last);
        }
    }

    fn set_capacity(&mut self, capacity: usize) {
        let (pairs, names) = (&mut self.pairs, &mut self.names);
        self.table
            .set_capacity(capacity, &mut |abs, slot| forget(pairs, names, abs, slot));
    }

    fn encode_one(&mut self, name: &[u8], value: &[u8], sensitive: bool, dst: &mut Vec<u8>) {
        let (static_name, static_full) = static_lookup(name, value);
        if let (Some(index), false) = (static_full, sensitive) {
            integer::encode(index as u64, 7, 0x80, dst);
            return;
        }
        let name_hash = hash_bytes(0, name);
        let pair_hash = hash_bytes(name_hash, value);
        if !sensitive {
            if let Some(i) = self.find(&self.pairs, pair_hash, |n, v| n == name && v == value) {
                integer::encode((STATIC_LEN + 1 + i) as u64, 7, 0x80, dst);
                return;
            }
        }
        let name_index = static_name.or_else(|| {
            self.find(&self.names, name_hash, |n, _| n == name)
                .map(|i| STATIC_LEN + 1 + i)
        });
        let entry_size = name.len() + value.len() + ENTRY_OVERHEAD;
        let index = !sensitive
            && self.indexing
            // Entries over 3/4 of the table would flush most of it for one field.
            && entry_size.saturating_mul(4) <= self.table.capacity().saturating_mul(3);
        let (flags, prefix) = if index {
            (0x40, 6)
        } else if sensitive {
            (0x10, 4)
        } else {
            (0x00, 4)
        };
        match name_index {
            Some(i) => integer::encode(i as u64, prefix, flags, dst),
            None => {
                integer::encode(0, prefix, flags, dst);
                self.write_string(name, dst);
            }
        }
        self.write_string(value, dst);
        if index {
            let (pairs, names) = (&mut self.pairs, &mut self.names);
            let inserted = self.table.insert(
                NameSrc::External(name),
                value,
                (pair_hash, name_hash),
                &mut |abs, slot| forget(pairs, names, abs, slot),
            );
            if inserted {
                let abs = self.table.abs_id(0);
                self.pairs.insert(pair_hash, abs);
                self.names.insert(name_hash, abs);
            }
        }
    }

    /// Looks `hash` up in `index` and returns the entry's 0-based dynamic index if `eq`
    /// confirms it.
    #[inline]
    fn find(
        &self,
        index: &HashIndex,
        hash: u64,
        eq: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Option<usize> {
        let abs = *index.get(&hash)?;
        let i = self.table.index_of_abs(abs)?;
        let (n, v) = self.table.get(i)?;
        eq(n, v).then_some(i)
    }

    #[inline]
    fn write_string(&self, s: &[u8], dst: &mut Vec<u8>) {
        let huffman = match self.huffman {
            HuffmanPolicy::Never => false,
            HuffmanPolicy::Always => true,
            HuffmanPolicy::WhenShorter => {
                let hlen = huffman::encoded_len(s);
                if hlen < s.len() {
                    integer::encode(hlen as u64, 7, 0x80, dst);
                    huffman::encode(s, dst);
                    return;
                }
                false
            }
        };
        if huffman {
            integer::encode(huffman::encoded_len(s) as u64, 7, 0x80, dst);
            huffman::encode(s, dst);
        } else {
            integer::encode(s.len() as u64, 7, 0, dst);
            dst.extend_from_slice(s);
        }
    }
}

/// Drops an evicted entry from the hash indexes (unless a newer entry took its key).
fn forget(pairs: &mut HashIndex, names: &mut HashIndex, abs: u64, slot: &Slot) {
    if pairs.get(&slot.pair_hash) == Some(&abs) {
        pairs.remove(&slot.pair_hash);
    }
    if names.get(&slot.name_hash) == Some(&abs) {
        names.remove(&slot.name_hash);
    }
}
