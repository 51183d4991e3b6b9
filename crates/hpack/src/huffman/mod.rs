//! The HPACK static Huffman code (RFC 7541 §5.2 and Appendix B), shared by HPACK and QPACK
//! (RFC 9204 §4.1.2 reuses it unchanged).
//!
//! Encoding packs codes into a 64-bit accumulator and writes whole bytes. Decoding is
//! table-driven: the lookup tables are built at compile time by `const fn`s from the
//! Appendix B code table ([`codes`](self) module), so nothing is computed at run time:
//!
//! * the main loop looks up the next 11 bits in a two-symbol table that yields up to two
//!   whole codes at once (most header text uses 5- to 8-bit codes, so pairs are common);
//! * near the end of the input, a single-symbol table indexed by the next [`FAST_BITS`]
//!   bits gives one symbol and its length;
//! * the remaining, longer codes are resolved with the canonical-code limits: the code is
//!   canonical (checked by `tools/gen_huffman_codes.py` and by a test here), so the length of
//!   the next code is the first length whose left-aligned limit exceeds the next 32 input
//!   bits, and the symbol is an offset into a table of symbols sorted by code.
//!
//! Decoding enforces RFC 7541 §5.2: a decoded EOS symbol is an error, and the bits after the
//! last symbol (the padding) must be fewer than 8 and all ones (a prefix of EOS).
//!
//! ```
//! use shockwave_hpack::huffman;
//!
//! let mut wire = Vec::new();
//! huffman::encode(b"www.example.com", &mut wire);
//! assert_eq!(wire, [0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]);
//! assert_eq!(huffman::encoded_len(b"www.example.com"), 12);
//!
//! let mut text = Vec::new();
//! huffman::decode(&wire, &mut text).unwrap();
//! assert_eq!(text, b"www.example.com");
//! ```

mod codes;

use shockwave_arena::{Arena, ArenaError};
use thiserror::Error;

use codes::CODES;

/// Why a Huffman-coded string could not be decoded (RFC 7541 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HuffmanError {
    /// The string contains the EOS symbol, which "MUST be treated as a decoding error".
    #[error("Huffman string contains the EOS symbol")]
    Eos,
    /// More than 7 bits of padding follow the last symbol.
    #[error("Huffman padding longer than 7 bits")]
    PaddingTooLong,
    /// The padding bits are not all ones (not the most significant bits of EOS).
    #[error("Huffman padding is not a prefix of EOS (not all ones)")]
    InvalidPadding,
    /// The arena could not hold the decoded string ([`decode_in`] only).
    #[error("arena allocation failed while decoding a Huffman string: {0}")]
    Arena(#[from] ArenaError),
}

/// Bits looked up at once by the first-level decoding table.
pub const FAST_BITS: u32 = 10;

/// The longest code in the table (symbols 10, 13, 22 and EOS use 30 bits).
const MAX_CODE_LEN: u32 = 30;

/// First-level table: for each `FAST_BITS`-bit prefix, `sym | len << 8` when a code of at
/// most `FAST_BITS` bits matches it, else 0 (a longer code: take the slow path).
static FAST: [u16; 1 << FAST_BITS] = build_fast();

/// Bits looked up at once by the two-symbol table used in the main decoding loop.
const PAIR_BITS: u32 = 11;

/// Two-symbol table: for each `PAIR_BITS`-bit prefix, up to two whole codes that fit in it:
/// `sym1 | sym2 << 8 | bits << 16 | count << 24`; `count == 0` means the first code is
/// longer than `PAIR_BITS` bits.
static PAIRS: [u32; 1 << PAIR_BITS] = build_pairs();

/// Canonical-code decoding tables for the slow path (see [`Canonical`]).
static CANON: Canonical = build_canonical();

/// Tables for decoding a canonical code one length at a time.
struct Canonical {
    /// `limit[len]`: one past the last code of length `len`, left-aligned to 32 bits (as a
    /// u64 because the last limit is 2^32). Lengths without codes repeat the previous limit.
    limit: [u64; MAX_CODE_LEN as usize + 1],
    /// `base[len]`: the index in `symbols` of the first code of length `len`, minus the
    /// code's numeric value (so `symbols[base + code]` is its symbol; may be negative).
    base: [i64; MAX_CODE_LEN as usize + 1],
    /// Symbols (0..=256) in code order: by length, then by code value.
    symbols: [u16; 257],
}

const fn build_fast() -> [u16; 1 << FAST_BITS] {
    let mut table = [0u16; 1 << FAST_BITS];
    let mut sym = 0;
    while sym < 256 {
        let (code, len) = CODES[sym];
        let len = len as u32;
        if len <= FAST_BITS {
            let first = (code << (FAST_BITS - len)) as usize;
            let count = 1usize << (FAST_BITS - len);
            let mut i = 0;
            while i < count {
                table[first + i] = (sym as u16) | ((len as u16) << 8);
                i += 1;
            }
        }
        sym += 1;
    }
    table
}

const fn build_pairs() -> [u32; 1 << PAIR_BITS] {
    // One symbol per PAIR_BITS-bit prefix first: `sym | len << 8`, 0 when longer.
    let mut single = [0u32; 1 << PAIR_BITS];
    let mut sym = 0;
    while sym < 256 {
        let (code, len) = CODES[sym];
        let len = len as u32;
        if len <= PAIR_BITS {
            let first = (code << (PAIR_BITS - len)) as usize;
            let count = 1usize << (PAIR_BITS - len);
            let mut i = 0;
            while i < count {
                single[first + i] = sym as u32 | (len << 8);
                i += 1;
            }
        }
        sym += 1;
    }
    let mask = (1usize << PAIR_BITS) - 1;
    let mut table = [0u32; 1 << PAIR_BITS];
    let mut i = 0;
    while i < (1 << PAIR_BITS) {
        let first = single[i];
        if first != 0 {
            let len1 = first >> 8;
            // The bits after the first code, left-aligned (zeros past the prefix).
            let second = single[(i << len1) & mask];
            let len2 = second >> 8;
            table[i] = if second != 0 && len1 + len2 <= PAIR_BITS {
                (first & 0xff) | ((second & 0xff) << 8) | ((len1 + len2) << 16) | (2 << 24)
            } else {
                (first & 0xff) | (len1 << 16) | (1 << 24)
            };
        }
        i += 1;
    }
    table
}

const fn build_canonical() -> Canonical {
    let mut limit = [0u64; MAX_CODE_LEN as usize + 1];
    let mut base = [0i64; MAX_CODE_LEN as usize + 1];
    let mut symbols = [0u16; 257];
    // Symbols sorted by (length, code): a counting pass per length keeps this O(30 * 257).
    let mut n = 0usize;
    let mut len = 1u32;
    while len <= MAX_CODE_LEN {
        let mut first_code: i64 = -1;
        let mut last_code: u64 = 0;
        // Codes of one length are consecutive in a canonical code; collect them in order.
        let mut sym = 0usize;
        let start = n;
        while sym < 257 {
            if CODES[sym].1 as u32 == len {
                symbols[n] = sym as u16;
                n += 1;
            }
            sym += 1;
        }
        // Sort this length's symbols by code value (insertion sort, tiny groups).
        let mut i = start + 1;
        while i < n {
            let mut j = i;
            while j > start && CODES[symbols[j - 1] as usize].0 > CODES[symbols[j] as usize].0 {
                let t = symbols[j - 1];
                symbols[j - 1] = symbols[j];
                symbols[j] = t;
                j -= 1;
            }
            i += 1;
        }
        if n > start {
            first_code = CODES[symbols[start] as usize].0 as i64;
            last_code = CODES[symbols[n - 1] as usize].0 as u64;
        }
        if first_code >= 0 {
            limit[len as usize] = (last_code + 1) << (32 - len);
            base[len as usize] = start as i64 - first_code;
        } else {
            limit[len as usize] = limit[len as usize - 1];
        }
        len += 1;
    }
    Canonical {
        limit,
        base,
        symbols,
    }
}

/// The number of bytes [`encode`] writes for `src`.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: u64 = src.iter().map(|&b| CODES[b as usize].1 as u64).sum();
    bits.div_ceil(8) as usize
}

/// Appends the Huffman encoding of `src` to `dst`, padded with the most significant bits
/// of EOS (ones) to a whole byte (RFC 7541 §5.2). Writes exactly [`encoded_len`] bytes.
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(src));
    // `acc` holds `nbits` pending bits in its low end; at most 31 + 30 bits at a time.
    let mut acc: u64 = 0;
    let mut nbits: u32 = 0;
    for &b in src {
        let (code, len) = CODES[b as usize];
        acc = (acc << len) | code as u64;
        nbits += len as u32;
        if nbits >= 32 {
            nbits -= 32;
            dst.extend_from_slice(&((acc >> nbits) as u32).to_be_bytes());
        }
    }
    if !nbits.is_multiple_of(8) {
        let pad = 8 - nbits % 8;
        acc = (acc << pad) | ((1u64 << pad) - 1);
        nbits += pad;
    }
    while nbits >= 8 {
        nbits -= 8;
        dst.push((acc >> nbits) as u8);
    }
}

/// The largest number of bytes `encoded` Huffman bytes can decode to (the shortest code
/// has 5 bits).
pub fn max_decoded_len(encoded: usize) -> usize {
    encoded.saturating_mul(8) / 5
}

/// Appends the decoding of the Huffman string `src` to `dst`.
///
/// On error `dst` is left with its original length.
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let old = dst.len();
    dst.resize(old + max_decoded_len(src.len()), 0);
    match decode_to_slice(src, &mut dst[old..]) {
        Ok(n) => {
            dst.truncate(old + n);
            Ok(())
        }
        Err(e) => {
            dst.truncate(old);
            Err(e)
        }
    }
}

/// Decodes the Huffman string `src` into `arena` and returns the decoded bytes.
///
/// The arena slice is sized for the worst case ([`max_decoded_len`]); the decoded string is
/// a prefix of it.
pub fn decode_in<'a>(src: &[u8], arena: &'a Arena) -> Result<&'a [u8], HuffmanError> {
    let out = arena.alloc_zeroed(max_decoded_len(src.len()))?;
    let n = decode_to_slice(src, out)?;
    Ok(&out[..n])
}

/// Decodes the Huffman string `src` into `out` and returns the number of bytes written.
///
/// `out` must hold at least [`max_decoded_len`]`(src.len())` bytes; a shorter `out` is a
/// caller bug and yields a truncated result (never a panic).
pub fn decode_to_slice(src: &[u8], out: &mut [u8]) -> Result<usize, HuffmanError> {
    // `acc` holds `nbits` undecoded bits, left-aligned (the next bit is bit 63).
    let mut acc: u64 = 0;
    let mut nbits: u32 = 0;
    let mut pos = 0usize;
    let mut written = 0usize;

    // Main loop: while at least 8 input bytes remain, refill whole bytes at once.
    while pos + 8 <= src.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&src[pos..pos + 8]);
        let next = u64::from_be_bytes(word);
        // Take as many whole bytes as fit: nbits + 8*k <= 64.
        let take = (64 - nbits) / 8;
        // take >= 1 because nbits < MAX_CODE_LEN + 8 here.
        acc |= if take == 8 {
            next
        } else {
            (next >> (64 - 8 * take)) << (64 - 8 * take - nbits)
        };
        nbits += 8 * take;
        pos += take as usize;
        while nbits >= MAX_CODE_LEN {
            let entry = PAIRS[(acc >> (64 - PAIR_BITS)) as usize];
            let count = entry >> 24;
            if count != 0 {
                // Write both bytes (the second is overwritten later when count == 1).
                match out.get_mut(written..written + 2) {
                    Some(pair) => {
                        pair[0] = entry as u8;
                        pair[1] = (entry >> 8) as u8;
                    }
                    None => {
                        if let Some(slot) = out.get_mut(written) {
                            *slot = entry as u8;
                        }
                    }
                }
                let bits = (entry >> 16) & 0xff;
                written += count as usize;
                acc <<= bits;
                nbits -= bits;
            } else {
                let (sym, len) = slow_symbol(acc)?;
                if let Some(slot) = out.get_mut(written) {
                    *slot = sym;
                }
                written += 1;
                acc <<= len;
                nbits -= len;
            }
        }
    }
    // Tail: byte-at-a-time refill, then decode while a full symbol is available.
    loop {
        while nbits <= 56 && pos < src.len() {
            acc |= (src[pos] as u64) << (56 - nbits);
            nbits += 8;
            pos += 1;
        }
        if nbits == 0 {
            break;
        }
        // Bits past `nbits` are zero, so a lookup may report a code longer than what is
        // left; by the prefix property any code that fits is found exactly.
        let (sym, len) = next_symbol(acc)?;
        if len > nbits {
            break;
        }
        if let Some(slot) = out.get_mut(written) {
            *slot = sym;
        }
        written += 1;
        acc <<= len;
        nbits -= len;
    }
    // What is left is padding: fewer than 8 bits, all ones (RFC 7541 §5.2).
    if nbits > 0 {
        let ones = if nbits >= 64 {
            u64::MAX
        } else {
            !(u64::MAX >> nbits)
        };
        if acc & ones != ones {
            return Err(HuffmanError::InvalidPadding);
        }
        if nbits > 7 {
            return Err(HuffmanError::PaddingTooLong);
        }
    }
    Ok(written.min(out.len()))
}

/// Decodes the symbol at the top of `acc`; returns it with its code length. EOS is an
/// error. A result whose length exceeds the bits actually available is possible at the end
/// of input and is handled by the caller.
#[inline(always)]
fn next_symbol(acc: u64) -> Result<(u8, u32), HuffmanError> {
    let entry = FAST[(acc >> (64 - FAST_BITS)) as usize];
    if entry != 0 {
        return Ok((entry as u8, (entry >> 8) as u32));
    }
    slow_symbol(acc)
}

#[cold]
#[inline(never)]
fn slow_symbol(acc: u64) -> Result<(u8, u32), HuffmanError> {
    let top = acc >> 32; // the next 32 bits, as a number below 2^32
    let mut len = FAST_BITS + 1;
    while len < MAX_CODE_LEN && top >= CANON.limit[len as usize] {
        len += 1;
    }
    let code = (top >> (32 - len)) as i64;
    let index = (CANON.base[len as usize] + code) as usize;
    match CANON.symbols.get(index) {
        Some(&256) | None => Err(HuffmanError::Eos),
        Some(&sym) => Ok((sym as u8, len)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Bit-by-bit reference decoder over the code table (slow and obviously correct).
    fn reference_decode(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let by_code: std::collections::HashMap<(u32, u8), usize> =
            (0..257).map(|s| (CODES[s], s)).collect();
        let mut out = Vec::new();
        let mut code: u32 = 0;
        let mut len: u8 = 0;
        for i in 0..src.len() * 8 {
            let bit = (src[i / 8] >> (7 - i % 8)) & 1;
            code = (code << 1) | bit as u32;
            len += 1;
            if let Some(&sym) = by_code.get(&(code, len)) {
                if sym == 256 {
                    return Err(HuffmanError::Eos);
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            }
        }
        if len > 0 && code != (1u32 << len) - 1 {
            return Err(HuffmanError::InvalidPadding);
        }
        if len > 7 {
            return Err(HuffmanError::PaddingTooLong);
        }
        Ok(out)
    }

    #[test]
    fn code_is_canonical_and_complete() {
        let kraft: u64 = CODES.iter().map(|&(_, l)| 1u64 << (30 - l)).sum();
        assert_eq!(kraft, 1 << 30);
        let mut order: Vec<usize> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[s].1, s));
        let mut code = 0u32;
        let mut prev = CODES[order[0]].1;
        for s in order {
            code <<= CODES[s].1 - prev;
            prev = CODES[s].1;
            assert_eq!(CODES[s].0, code, "symbol {s}");
            code += 1;
        }
    }

    #[test]
    fn rfc7541_appendix_c4_strings() {
        let cases: [(&str, &str); 4] = [
            ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            ("no-cache", "a8eb10649cbf"),
            ("custom-key", "25a849e95ba97d7f"),
            ("custom-value", "25a849e95bb8e8b4bf"),
        ];
        for (text, wire) in cases {
            let wire = hex(wire);
            let mut enc = Vec::new();
            encode(text.as_bytes(), &mut enc);
            assert_eq!(enc, wire, "{text}");
            assert_eq!(encoded_len(text.as_bytes()), wire.len());
            let mut dec = Vec::new();
            decode(&wire, &mut dec).unwrap();
            assert_eq!(dec, text.as_bytes());
        }
    }

    #[test]
    fn rfc7541_appendix_c6_strings() {
        let cases: [(&str, &str); 3] = [
            ("302", "6402"),
            ("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"),
            (
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ),
        ];
        for (text, wire) in cases {
            let wire = hex(wire);
            let mut enc = Vec::new();
            encode(text.as_bytes(), &mut enc);
            assert_eq!(enc, wire, "{text}");
            let mut dec = Vec::new();
            decode(&wire, &mut dec).unwrap();
            assert_eq!(dec, text.as_bytes());
        }
    }

    #[test]
    fn every_symbol_round_trips_alone_and_together() {
        let all: Vec<u8> = (0..=255).collect();
        for b in 0..=255u8 {
            let mut enc = Vec::new();
            encode(&[b], &mut enc);
            let mut dec = Vec::new();
            decode(&enc, &mut dec).unwrap();
            assert_eq!(dec, [b]);
        }
        for n in 0..all.len() {
            let src: Vec<u8> = all
                .iter()
                .cycle()
                .skip(n * 7)
                .take(n * 3)
                .copied()
                .collect();
            let mut enc = Vec::new();
            encode(&src, &mut enc);
            assert_eq!(enc.len(), encoded_len(&src));
            let mut dec = vec![b'x'];
            decode(&enc, &mut dec).unwrap();
            assert_eq!(&dec[1..], &src[..]);
            assert_eq!(reference_decode(&enc).unwrap(), src);
        }
    }

    #[test]
    fn rejects_eos_and_bad_padding() {
        // EOS (30 ones) padded with two ones: a whole EOS symbol.
        assert_eq!(decode(&[0xff; 4], &mut Vec::new()), Err(HuffmanError::Eos));
        // 'a' (00011) then EOS.
        let mut v = Vec::new();
        let err = decode(&[0x1f, 0xff, 0xff, 0xff, 0xff], &mut v);
        assert_eq!(err, Err(HuffmanError::Eos));
        assert!(v.is_empty(), "dst restored on error");
        // A full byte of ones as padding.
        assert_eq!(
            decode(&[0xff], &mut Vec::new()),
            Err(HuffmanError::PaddingTooLong)
        );
        // 'a' (00011) + 111 padding is fine; 'a' + 110 is not.
        let mut ok = Vec::new();
        decode(&[0x1f], &mut ok).unwrap();
        assert_eq!(ok, b"a");
        assert_eq!(
            decode(&[0x1e], &mut Vec::new()),
            Err(HuffmanError::InvalidPadding)
        );
        // '0' (00000) + 000 padding: zeros are not EOS bits.
        assert_eq!(
            decode(&[0x00], &mut Vec::new()),
            Err(HuffmanError::InvalidPadding)
        );
        // 'a' then 11 ones: padding too long (and a prefix of a long code).
        assert_eq!(
            decode(&[0x1f, 0xff], &mut Vec::new()),
            Err(HuffmanError::PaddingTooLong)
        );
        // Empty input decodes to nothing.
        let mut e = Vec::new();
        decode(&[], &mut e).unwrap();
        assert!(e.is_empty());
    }

    #[test]
    fn matches_reference_on_pseudo_random_input() {
        // xorshift: deterministic, no extra dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..3000 {
            let len = round % 40;
            let src: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Bias towards ones so long codes and EOS show up.
                    (state as u8) | if round % 3 == 0 { 0xf0 } else { 0 }
                })
                .collect();
            let mut fast = Vec::new();
            let got = decode(&src, &mut fast).map(|()| fast);
            assert_eq!(got, reference_decode(&src), "input {src:02x?}");
        }
    }

    #[test]
    fn decode_in_arena() {
        let arena = Arena::new();
        let s = decode_in(&hex("a8eb10649cbf"), &arena).unwrap();
        assert_eq!(s, b"no-cache");
        assert_eq!(
            decode_in(&[0xff], &arena),
            Err(HuffmanError::PaddingTooLong)
        );
        let limited = Arena::with_limit(0, Some(16));
        let big = vec![0xffu8 >> 3; 4096];
        assert!(matches!(
            decode_in(&big, &limited),
            Err(HuffmanError::Arena(_))
        ));
    }

    #[test]
    fn short_output_slice_never_panics() {
        let mut enc = Vec::new();
        encode(b"hello world", &mut enc);
        let mut out = [0u8; 3];
        assert_eq!(decode_to_slice(&enc, &mut out), Ok(3));
        assert_eq!(&out, b"hel");
    }
}
