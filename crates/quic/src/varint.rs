//! QUIC variable-length integers (RFC 9000 §16), used by every HTTP/3 frame and stream
//! header.
//!
//! The two most significant bits of the first byte give the encoded length (1, 2, 4 or 8
//! bytes); the remaining 6, 14, 30 or 62 bits hold the value in network byte order.
//! Non-minimal encodings are valid (RFC 9000 §16: only QUIC frame types must be minimal,
//! which does not apply to HTTP/3), so decoding never fails on well-formed length bits:
//! the only outcome besides a value is "need more bytes".
//!
//! ```
//! use shockwave_quic::varint;
//!
//! // RFC 9000 §A.1: 0x7bbd decodes to 15,293.
//! assert_eq!(varint::decode(&[0x7b, 0xbd]), Ok((15_293, 2)));
//! assert_eq!(varint::decode(&[0x7b]), Err(varint::VarIntError::Incomplete { needed: 2 }));
//! let mut out = Vec::new();
//! varint::encode(15_293, &mut out).unwrap();
//! assert_eq!(out, [0x7b, 0xbd]);
//! ```

use thiserror::Error;

/// The largest value a variable-length integer can hold: 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// Why a variable-length integer could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VarIntError {
    /// The buffer ends before the integer does: `needed` bytes in total are required
    /// (the caller should wait for more input).
    #[error("incomplete variable-length integer: {needed} bytes needed")]
    Incomplete {
        /// Total encoded length of the integer, in bytes (1, 2, 4 or 8).
        needed: usize,
    },
    /// The value is larger than 2^62 - 1 and cannot be encoded.
    #[error("value {0} exceeds the variable-length integer maximum 2^62-1")]
    TooLarge(u64),
}

/// The encoded length (1, 2, 4 or 8) announced by a first byte.
#[inline]
pub fn len_from_first_byte(first: u8) -> usize {
    1 << (first >> 6)
}

/// Decodes one integer from the start of `buf`; returns the value and the bytes consumed.
/// Fails only with [`VarIntError::Incomplete`] (an empty buffer needs at least 1 byte).
#[inline]
pub fn decode(buf: &[u8]) -> Result<(u64, usize), VarIntError> {
    let Some(&first) = buf.first() else {
        return Err(VarIntError::Incomplete { needed: 1 });
    };
    let len = len_from_first_byte(first);
    let Some(bytes) = buf.get(..len) else {
        return Err(VarIntError::Incomplete { needed: len });
    };
    let mut value = (first & 0x3f) as u64;
    for &b in &bytes[1..] {
        value = (value << 8) | b as u64;
    }
    Ok((value, len))
}

/// The number of bytes [`encode`] writes for `value` (the minimal encoding), or `None`
/// if `value` exceeds [`MAX`].
#[inline]
pub fn encoded_len(value: u64) -> Option<usize> {
    match value {
        0..=63 => Some(1),
        64..=16_383 => Some(2),
        16_384..=1_073_741_823 => Some(4),
        1_073_741_824..=MAX => Some(8),
        _ => None,
    }
}

/// Appends the minimal encoding of `value` to `dst`. Fails (writing nothing) if `value`
/// exceeds [`MAX`].
#[inline]
pub fn encode(value: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    match encoded_len(value) {
        Some(1) => dst.push(value as u8),
        Some(2) => dst.extend_from_slice(&((value as u16) | 0x4000).to_be_bytes()),
        Some(4) => dst.extend_from_slice(&((value as u32) | 0x8000_0000).to_be_bytes()),
        Some(_) => dst.extend_from_slice(&(value | 0xc000_0000_0000_0000).to_be_bytes()),
        None => return Err(VarIntError::TooLarge(value)),
    }
    Ok(())
}

/// Appends `value` using exactly `len` bytes (1, 2, 4 or 8), e.g. to reserve a fixed-size
/// length field. Fails if `value` does not fit in `len` bytes or `len` is not a valid size.
pub fn encode_with_len(value: u64, len: usize, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    let fits = match len {
        1 => value <= 63,
        2 => value <= 16_383,
        4 => value <= 1_073_741_823,
        8 => value <= MAX,
        _ => false,
    };
    if !fits {
        return Err(VarIntError::TooLarge(value));
    }
    let tag = (len.trailing_zeros() as u64) << (len * 8 - 2);
    let v = value | tag;
    dst.extend_from_slice(&v.to_be_bytes()[8 - len..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §A.1 examples.
    #[test]
    fn rfc9000_a1_examples() {
        let cases: &[(&[u8], u64)] = &[
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
            (&[0x40, 0x25], 37),
        ];
        for &(bytes, value) in cases {
            assert_eq!(decode(bytes), Ok((value, bytes.len())), "{bytes:02x?}");
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut]),
                    Err(VarIntError::Incomplete {
                        needed: if cut == 0 { 1 } else { bytes.len() }
                    })
                );
            }
            let mut extra = bytes.to_vec();
            extra.push(0xff);
            assert_eq!(decode(&extra), Ok((value, bytes.len())));
        }
        // Minimal encodings of the same values.
        for (value, want) in [
            (
                151_288_809_941_952_652u64,
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
            ),
            (494_878_333, &[0x9d, 0x7f, 0x3e, 0x7d]),
            (15_293, &[0x7b, 0xbd]),
            (37, &[0x25]),
        ] {
            let mut out = Vec::new();
            encode(value, &mut out).unwrap();
            assert_eq!(out, want);
            assert_eq!(encoded_len(value), Some(want.len()));
        }
    }

    #[test]
    fn boundaries_round_trip() {
        for v in [0, 63, 64, 16_383, 16_384, 1_073_741_823, 1_073_741_824, MAX] {
            let mut out = Vec::new();
            encode(v, &mut out).unwrap();
            assert_eq!(out.len(), encoded_len(v).unwrap());
            assert_eq!(decode(&out), Ok((v, out.len())));
        }
        let mut out = Vec::new();
        assert_eq!(
            encode(MAX + 1, &mut out),
            Err(VarIntError::TooLarge(MAX + 1))
        );
        assert_eq!(
            encode(u64::MAX, &mut out),
            Err(VarIntError::TooLarge(u64::MAX))
        );
        assert!(out.is_empty());
        assert_eq!(encoded_len(MAX + 1), None);
    }

    #[test]
    fn fixed_length_encoding() {
        for len in [1, 2, 4, 8] {
            let mut out = Vec::new();
            encode_with_len(37, len, &mut out).unwrap();
            assert_eq!(out.len(), len);
            assert_eq!(decode(&out), Ok((37, len)));
        }
        let mut out = Vec::new();
        assert!(encode_with_len(64, 1, &mut out).is_err());
        assert!(encode_with_len(1, 3, &mut out).is_err());
        assert!(out.is_empty());
    }
}
