//! HPACK prefixed integers (RFC 7541 §5.1), shared with QPACK (RFC 9204 §4.1.1).
//!
//! An integer starts in the low `N` bits of a byte (the "prefix", 1 ≤ N ≤ 8) whose high
//! bits carry flags; values of `2^N - 1` or more continue in 7-bit groups, least
//! significant first, with the high bit of each byte set while more follow.
//!
//! ```
//! use shockwave_hpack::integer;
//!
//! // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
//! let mut buf = Vec::new();
//! integer::encode(1337, 5, 0b1110_0000, &mut buf);
//! assert_eq!(buf, [0xff, 0x9a, 0x0a]);
//! assert_eq!(integer::decode(&buf, 5), Ok((1337, 3)));
//! assert_eq!(integer::decode(&buf[..2], 5), Err(integer::IntegerError::Truncated));
//! ```

use thiserror::Error;

/// Why a prefixed integer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IntegerError {
    /// The buffer ended before the integer did (more bytes may complete it).
    #[error("truncated HPACK integer")]
    Truncated,
    /// The value does not fit in 64 bits (or uses more continuation bytes than a 64-bit
    /// value needs): a malformed or hostile encoding.
    #[error("HPACK integer overflows 64 bits")]
    Overflow,
}

/// Most continuation bytes a 64-bit value needs after the prefix: ceil(64 / 7).
const MAX_CONTINUATION_BYTES: usize = 10;

#[inline]
fn prefix_mask(prefix_bits: u8) -> u8 {
    debug_assert!((1..=8).contains(&prefix_bits), "prefix_bits must be 1..=8");
    let bits = prefix_bits.clamp(1, 8);
    (((1u16) << bits) - 1) as u8
}

/// Appends `value` encoded with an `prefix_bits`-bit prefix (1..=8); `first_byte_flags`
/// supplies the high bits of the first byte (bits inside the prefix are ignored).
#[inline]
pub fn encode(value: u64, prefix_bits: u8, first_byte_flags: u8, dst: &mut Vec<u8>) {
    let mask = prefix_mask(prefix_bits);
    let flags = first_byte_flags & !mask;
    if value < mask as u64 {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | mask);
    let mut rest = value - mask as u64;
    while rest >= 0x80 {
        dst.push((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// The number of bytes [`encode`] writes for `value` with `prefix_bits`.
pub fn encoded_len(value: u64, prefix_bits: u8) -> usize {
    let mask = prefix_mask(prefix_bits) as u64;
    if value < mask {
        return 1;
    }
    let mut rest = value - mask;
    let mut n = 2;
    while rest >= 0x80 {
        rest >>= 7;
        n += 1;
    }
    n
}

/// Decodes an integer with a `prefix_bits`-bit prefix (1..=8) from the start of `buf`
/// (the flag bits of the first byte are ignored). Returns the value and the bytes consumed.
#[inline]
pub fn decode(buf: &[u8], prefix_bits: u8) -> Result<(u64, usize), IntegerError> {
    let mask = prefix_mask(prefix_bits);
    let Some(&first) = buf.first() else {
        return Err(IntegerError::Truncated);
    };
    let value = (first & mask) as u64;
    if value < mask as u64 {
        return Ok((value, 1));
    }
    decode_continuation(buf, value)
}

#[inline]
fn decode_continuation(buf: &[u8], mut value: u64) -> Result<(u64, usize), IntegerError> {
    let mut shift = 0u32;
    for (i, &b) in buf.iter().enumerate().skip(1) {
        if i > MAX_CONTINUATION_BYTES {
            return Err(IntegerError::Overflow);
        }
        let group = (b & 0x7f) as u64;
        // `group << shift` must not lose bits, and the sum must not wrap.
        let part = group.checked_shl(shift).ok_or(IntegerError::Overflow)?;
        if part >> shift != group {
            return Err(IntegerError::Overflow);
        }
        value = value.checked_add(part).ok_or(IntegerError::Overflow)?;
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
        shift += 7;
    }
    Err(IntegerError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7541_c1_examples() {
        // C.1.1: 10 with a 5-bit prefix.
        let mut b = Vec::new();
        encode(10, 5, 0, &mut b);
        assert_eq!(b, [0x0a]);
        assert_eq!(decode(&b, 5), Ok((10, 1)));
        // C.1.2: 1337 with a 5-bit prefix.
        b.clear();
        encode(1337, 5, 0, &mut b);
        assert_eq!(b, [0x1f, 0x9a, 0x0a]);
        assert_eq!(decode(&b, 5), Ok((1337, 3)));
        // C.1.3: 42 at an octet boundary (8-bit prefix).
        b.clear();
        encode(42, 8, 0, &mut b);
        assert_eq!(b, [0x2a]);
        assert_eq!(decode(&b, 8), Ok((42, 1)));
    }

    #[test]
    fn flags_are_kept_and_ignored() {
        let mut b = Vec::new();
        encode(3, 6, 0b0100_0000, &mut b);
        assert_eq!(b, [0x43]);
        assert_eq!(decode(&b, 6), Ok((3, 1)));
        b.clear();
        encode(62, 7, 0xff, &mut b); // flags inside the prefix are masked off
        assert_eq!(b, [0x80 | 62]);
    }

    #[test]
    fn round_trips_edges_for_every_prefix() {
        let values = [
            0,
            1,
            30,
            31,
            32,
            126,
            127,
            128,
            254,
            255,
            256,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ];
        for prefix in 1..=8u8 {
            for &v in &values {
                let mut b = vec![];
                encode(v, prefix, 0, &mut b);
                assert_eq!(b.len(), encoded_len(v, prefix), "{v} {prefix}");
                assert_eq!(decode(&b, prefix), Ok((v, b.len())), "{v} {prefix}");
                for cut in 0..b.len() {
                    assert_eq!(decode(&b[..cut], prefix), Err(IntegerError::Truncated));
                }
                b.push(0xaa); // trailing bytes are not consumed
                assert_eq!(decode(&b, prefix).unwrap().1, b.len() - 1);
            }
        }
    }

    #[test]
    fn rejects_overflow() {
        // u64::MAX + 1 with an 8-bit prefix: 255 + (2^64 - 256 + 1).
        let mut over = vec![0xff];
        over.extend_from_slice(&[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(decode(&over, 8), Err(IntegerError::Overflow));
        // Bits shifted out of the top.
        let mut big = vec![0x1f];
        big.extend_from_slice(&[0xff; 9]);
        big.push(0x7f);
        assert_eq!(decode(&big, 5), Err(IntegerError::Overflow));
        // Endless zero continuation bytes are cut off after 10.
        let mut zeros = vec![0x1f];
        zeros.extend_from_slice(&[0x80; 20]);
        zeros.push(0);
        assert_eq!(decode(&zeros, 5), Err(IntegerError::Overflow));
        // ...but a few redundant ones are accepted.
        assert_eq!(decode(&[0x1f, 0x80, 0x80, 0x00], 5), Ok((31, 4)));
        assert_eq!(decode(&[], 5), Err(IntegerError::Truncated));
    }
}
