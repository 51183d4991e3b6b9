//! QPACK field compression for HTTP/3 (RFC 9204).
//!
//! * [`Decoder`]: decodes encoded field sections (HEADERS payloads) into an arena
//!   [`HeaderList`](shockwave_arena::HeaderList) or a callback, with the full dynamic table:
//!   it processes the peer's encoder stream ([`Decoder::feed_encoder_stream`]), produces
//!   our decoder stream ([`Decoder::take_decoder_stream`]: Section Acknowledgment, Stream
//!   Cancellation, Insert Count Increment) and handles blocked streams, bounded by
//!   SETTINGS_QPACK_BLOCKED_STREAMS.
//! * [`Encoder`]: encodes with the static table and literals (Required Insert Count 0,
//!   never blocking the peer), Huffman-coding strings when that is shorter; it validates
//!   the peer's decoder stream. Opt-in ([`Encoder::use_dynamic_table`]), it also inserts
//!   field lines into a dynamic table (never evicting) and references them.
//!
//! Huffman coding and prefixed integers are shared with HPACK (`shockwave_hpack`).
//!
//! ```
//! use shockwave_arena::Arena;
//! use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig, Encoder};
//!
//! let mut block = Vec::new();
//! Encoder::new().encode_section(
//!     [(&b":method"[..], &b"GET"[..]), (b":path", b"/index.html"), (b"x-trace", b"abc")],
//!     &mut block,
//! );
//!
//! let arena = Arena::new();
//! let mut decoder = Decoder::new(DecoderConfig::default());
//! let Decoded::Done(fields) = decoder.decode_section(0, &block, &arena).unwrap() else {
//!     unreachable!("static-only sections never block")
//! };
//! assert_eq!(fields.get(b":path"), Some(&b"/index.html"[..]));
//! assert_eq!(fields.get(b"x-trace"), Some(&b"abc"[..]));
//! ```

mod decoder;
mod encoder;
mod encoder_table;
pub mod static_table;
mod table;

pub use decoder::{Decoded, Decoder, DecoderConfig};
pub use encoder::Encoder;

use shockwave_arena::ArenaError;
use shockwave_hpack::{huffman, integer};
use thiserror::Error;

use crate::error::{ErrorCode, Scope};

/// A QPACK failure. [`QpackError::code`] maps it to the RFC 9204 §6 error code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QpackError {
    /// An encoded field section could not be decoded: `QPACK_DECOMPRESSION_FAILED`, a
    /// connection error.
    #[error("QPACK_DECOMPRESSION_FAILED: {0}")]
    Decompression(&'static str),
    /// More streams are blocked than we allowed with SETTINGS_QPACK_BLOCKED_STREAMS
    /// (RFC 9204 §2.1.2): `QPACK_DECOMPRESSION_FAILED`.
    #[error("QPACK_DECOMPRESSION_FAILED: more than {limit} blocked streams")]
    TooManyBlockedStreams {
        /// Our SETTINGS_QPACK_BLOCKED_STREAMS.
        limit: u64,
    },
    /// A bad instruction on the peer's encoder stream: `QPACK_ENCODER_STREAM_ERROR`.
    #[error("QPACK_ENCODER_STREAM_ERROR: {0}")]
    EncoderStream(&'static str),
    /// A bad instruction on the peer's decoder stream: `QPACK_DECODER_STREAM_ERROR`.
    #[error("QPACK_DECODER_STREAM_ERROR: {0}")]
    DecoderStream(&'static str),
    /// The decoded field section exceeds our max field section size (name + value + 32
    /// per field, RFC 9114 §4.2.2). A stream error (`H3_EXCESSIVE_LOAD`); a server may
    /// answer 431 instead.
    #[error("field section of at least {size} bytes exceeds the limit of {limit}")]
    FieldSectionTooLarge {
        /// The size reached when the limit was crossed.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The decoded field section has more field lines than our
    /// [`DecoderConfig::max_fields`](crate::qpack::DecoderConfig::max_fields). A stream
    /// error (`H3_EXCESSIVE_LOAD`); a server may answer 431 instead.
    #[error("field section has more than {limit} field lines")]
    TooManyFields {
        /// The limit.
        limit: usize,
    },
    /// The request's arena refused an allocation (its limit): a stream error
    /// (`H3_EXCESSIVE_LOAD`).
    #[error("arena: {0}")]
    Arena(#[from] ArenaError),
}

impl QpackError {
    /// The HTTP/3 error code to send.
    pub fn code(&self) -> ErrorCode {
        match self {
            QpackError::Decompression(_) | QpackError::TooManyBlockedStreams { .. } => {
                ErrorCode::QpackDecompressionFailed
            }
            QpackError::EncoderStream(_) => ErrorCode::QpackEncoderStreamError,
            QpackError::DecoderStream(_) => ErrorCode::QpackDecoderStreamError,
            QpackError::FieldSectionTooLarge { .. }
            | QpackError::TooManyFields { .. }
            | QpackError::Arena(_) => ErrorCode::ExcessiveLoad,
        }
    }

    /// Whether the error ends the connection or only the stream.
    pub fn scope(&self) -> Scope {
        match self {
            QpackError::FieldSectionTooLarge { .. }
            | QpackError::TooManyFields { .. }
            | QpackError::Arena(_) => Scope::Stream,
            _ => Scope::Connection,
        }
    }
}

/// Where a primitive failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrimError {
    /// The input ended inside the primitive.
    Truncated,
    /// An integer too large for 62 bits (RFC 9204 §4.1.1: must decode up to 62 bits).
    Overflow,
}

/// Largest integer we accept anywhere in QPACK: 2^62 - 1.
const MAX_INT: u64 = (1 << 62) - 1;

/// Reads an `prefix`-bit prefixed integer at `*pos` (RFC 9204 §4.1.1).
#[inline]
fn read_int(buf: &[u8], pos: &mut usize, prefix: u8) -> Result<u64, PrimError> {
    let rest = buf.get(*pos..).unwrap_or_default();
    match integer::decode(rest, prefix) {
        Ok((v, n)) if v <= MAX_INT => {
            *pos += n;
            Ok(v)
        }
        Ok(_) | Err(integer::IntegerError::Overflow) => Err(PrimError::Overflow),
        Err(integer::IntegerError::Truncated) => Err(PrimError::Truncated),
    }
}

/// A string literal as it appears on the wire.
#[derive(Debug, Clone, Copy)]
struct RawStr<'b> {
    bytes: &'b [u8],
    huffman: bool,
}

/// Reads an `n`-bit prefix string literal at `*pos` (RFC 9204 §4.1.2): the H flag is bit
/// `n - 1` of the first byte, the length an `(n - 1)`-bit prefixed integer.
#[inline]
fn read_str<'b>(buf: &'b [u8], pos: &mut usize, n: u8) -> Result<RawStr<'b>, PrimError> {
    let first = *buf.get(*pos).ok_or(PrimError::Truncated)?;
    let huffman = first & (1 << (n - 1)) != 0;
    let len = read_int(buf, pos, n - 1)?;
    let start = *pos;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .ok_or(PrimError::Overflow)?;
    let bytes = buf.get(start..end).ok_or(PrimError::Truncated)?;
    *pos = end;
    Ok(RawStr { bytes, huffman })
}

/// Appends a string literal with an `n`-bit prefix whose first byte carries `flags` in
/// its high `8 - n` bits; Huffman-codes it when that is shorter.
fn write_str(value: &[u8], n: u8, flags: u8, dst: &mut Vec<u8>) {
    let huffman_len = huffman::encoded_len(value);
    if huffman_len < value.len() {
        integer::encode(huffman_len as u64, n - 1, flags | (1 << (n - 1)), dst);
        huffman::encode(value, dst);
    } else {
        integer::encode(value.len() as u64, n - 1, flags, dst);
        dst.extend_from_slice(value);
    }
}

/// Appends a decoder-stream Section Acknowledgment (RFC 9204 §4.4.1).
fn write_section_ack(stream_id: u64, dst: &mut Vec<u8>) {
    integer::encode(stream_id, 7, 0x80, dst);
}

/// Appends a decoder-stream Stream Cancellation (RFC 9204 §4.4.2).
fn write_stream_cancel(stream_id: u64, dst: &mut Vec<u8>) {
    integer::encode(stream_id, 6, 0x40, dst);
}

/// Appends a decoder-stream Insert Count Increment (RFC 9204 §4.4.3).
fn write_insert_count_increment(increment: u64, dst: &mut Vec<u8>) {
    integer::encode(increment, 6, 0x00, dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives() {
        let mut buf = Vec::new();
        write_str(b"custom-key", 6, 0x40, &mut buf);
        let mut pos = 0;
        let s = read_str(&buf, &mut pos, 6).unwrap();
        assert!(s.huffman);
        let mut out = Vec::new();
        huffman::decode(s.bytes, &mut out).unwrap();
        assert_eq!(out, b"custom-key");
        assert_eq!(pos, buf.len());
        // Truncation anywhere is Truncated, never a panic.
        for cut in 0..buf.len() {
            let mut pos = 0;
            assert_eq!(
                read_str(&buf[..cut], &mut pos, 6).unwrap_err(),
                PrimError::Truncated
            );
        }
        // 2^62 is too large; 2^62 - 1 is fine.
        let mut big = Vec::new();
        integer::encode(1 << 62, 8, 0, &mut big);
        assert_eq!(read_int(&big, &mut 0, 8), Err(PrimError::Overflow));
        big.clear();
        integer::encode(MAX_INT, 8, 0, &mut big);
        assert_eq!(read_int(&big, &mut 0, 8), Ok(MAX_INT));
        // A string length beyond the buffer.
        assert_eq!(
            read_str(&[0x7f, 0x80, 0x01], &mut 0, 8).unwrap_err(),
            PrimError::Truncated
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            QpackError::Decompression("x").code(),
            ErrorCode::QpackDecompressionFailed
        );
        assert_eq!(QpackError::EncoderStream("x").code().code(), 0x201);
        assert_eq!(QpackError::DecoderStream("x").code().code(), 0x202);
        assert_eq!(
            QpackError::FieldSectionTooLarge { size: 1, limit: 0 }.scope(),
            Scope::Stream
        );
    }
}
