use shockwave_arena::ArenaError;
use thiserror::Error;

use crate::{HuffmanError, IntegerError};

/// Why a header block could not be decoded.
///
/// Every variant except [`DecodeError::HeaderListTooLarge`] and [`DecodeError::Arena`]
/// leaves the decoder's dynamic table out of step with the peer's encoder: in HTTP/2 it is
/// a connection error of type `COMPRESSION_ERROR` (RFC 9113 §4.3). After
/// `HeaderListTooLarge` or `Arena` the whole block has still been processed, so the table
/// is in sync and only the stream needs to be refused (HTTP 431, RFC 9113 §10.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block ended in the middle of an integer (RFC 7541 §5.1).
    #[error("header block truncated inside an integer")]
    TruncatedInteger,
    /// An integer does not fit in 64 bits or uses too many continuation bytes.
    #[error("integer overflow in header block")]
    IntegerOverflow,
    /// The decoded header list passed the abort size given to
    /// [`crate::Decoder::decode_until`]; decoding stopped at once, so the dynamic table is
    /// **out of step**: the connection must be closed (in HTTP/2 with GOAWAY
    /// `ENHANCE_YOUR_CALM`), which RFC 7541 §4.3 allows instead of decoding on.
    #[error("header list over {abort} bytes: decoding aborted")]
    HeaderListAborted {
        /// The abort size.
        abort: usize,
    },
    /// A string's declared length runs past the end of the block (RFC 7541 §5.2).
    #[error("string of {len} bytes runs past the end of the header block ({available} left)")]
    StringPastEnd {
        /// The declared length.
        len: u64,
        /// Bytes left in the block.
        available: usize,
    },
    /// A string (encoded or decoded) is longer than the configured maximum.
    #[error("string of {len} bytes exceeds the limit of {limit} bytes")]
    StringTooLong {
        /// The string's length.
        len: u64,
        /// [`crate::DecoderLimits::max_string_len`].
        limit: usize,
    },
    /// Index 0 is not a valid table index (RFC 7541 §6.1).
    #[error("header table index 0")]
    IndexZero,
    /// The index is past the end of the static and dynamic tables (RFC 7541 §2.3.3).
    #[error("header table index {index} out of range (table has {len} entries)")]
    IndexOutOfRange {
        /// The index received.
        index: u64,
        /// Static plus dynamic entries at the time.
        len: usize,
    },
    /// A Huffman-coded string is invalid (RFC 7541 §5.2).
    #[error(transparent)]
    Huffman(#[from] HuffmanError),
    /// A dynamic table size update exceeds the acknowledged maximum (RFC 7541 §6.3).
    #[error("dynamic table size update to {requested} exceeds the maximum of {max}")]
    SizeUpdateTooLarge {
        /// The size the encoder asked for.
        requested: u64,
        /// The maximum set with [`crate::Decoder::set_max_table_size`].
        max: usize,
    },
    /// A dynamic table size update came after a header field (RFC 7541 §4.2: it must be
    /// at the beginning of a block).
    #[error("dynamic table size update after a header field")]
    SizeUpdateAfterField,
    /// The decoded header list is larger than the configured maximum
    /// (SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32 bytes per field, RFC 9113 §6.5.2).
    /// The block was still processed to the end, so the dynamic table is in sync.
    #[error("decoded header list exceeds {limit} bytes")]
    HeaderListTooLarge {
        /// [`crate::DecoderLimits::max_header_list_size`].
        limit: usize,
    },
    /// The output arena is full.
    #[error("arena allocation failed: {0}")]
    Arena(#[from] ArenaError),
}

impl From<IntegerError> for DecodeError {
    fn from(e: IntegerError) -> Self {
        match e {
            IntegerError::Truncated => DecodeError::TruncatedInteger,
            IntegerError::Overflow => DecodeError::IntegerOverflow,
        }
    }
}
