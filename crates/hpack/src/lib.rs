//! # shockwave-hpack
//!
//! A sans-I/O implementation of HPACK, the HTTP/2 header compression format
//! ([RFC 7541](https://www.rfc-editor.org/rfc/rfc7541)): bytes in, header fields out, and
//! back. No tokio, no frames: the HTTP/2 layer hands complete header blocks (HEADERS plus
//! CONTINUATION payloads) to a [`Decoder`], and gets blocks from an [`Encoder`].
//!
//! - [`Decoder`]: static and dynamic table (one ring buffer of bytes, not one allocation
//!   per entry), size updates (only at the start of a block, never above the value set with
//!   [`Decoder::set_max_table_size`]), all literal forms, overflow-checked integers and a
//!   table-driven [`huffman`] decoder. Output goes to a callback ([`Decoder::decode`],
//!   [`Decoder::decode_fields`]) or into an arena-backed [`HeaderList`](shockwave_arena::HeaderList)
//!   ([`Decoder::decode_in`]), which makes no heap allocation once the arena is warm.
//! - Limits ([`DecoderLimits`]) against HPACK bombs: the decoded header list size
//!   (16 KiB by default, name + value + 32 per field), one string's length, and the table
//!   size. Exceeding one is a typed [`DecodeError`], never unbounded memory.
//! - [`Encoder`]: static table lookup and dynamic table lookup through hash indexes,
//!   Huffman coding when shorter, never-indexed literals for sensitive fields
//!   (`authorization`, `proxy-authorization`, short cookies, and a user predicate), and
//!   size updates when the peer's SETTINGS_HEADER_TABLE_SIZE changes.
//! - [`huffman`] and [`integer`]: the primitive codecs, public because QPACK
//!   (RFC 9204) reuses them unchanged.
//!
//! ```
//! use shockwave_arena::{Arena, HeaderList};
//! use shockwave_hpack::{Decoder, Encoder};
//!
//! let mut encoder = Encoder::new();
//! let mut decoder = Decoder::new();
//! let request: [(&[u8], &[u8]); 4] = [
//!     (b":method", b"GET"),
//!     (b":path", b"/index.html"),
//!     (b":authority", b"example.com"),
//!     (b"user-agent", b"shockwave"),
//! ];
//!
//! let mut block = Vec::new();
//! encoder.encode(request, &mut block);
//!
//! // Decode into a per-request arena...
//! let arena = Arena::new();
//! let mut headers = HeaderList::new_in(&arena);
//! decoder.decode_in(&block, &arena, &mut headers).unwrap();
//! assert_eq!(headers.get(b":authority"), Some(&b"example.com"[..]));
//!
//! // ...and the same request again: now mostly indexes into the dynamic table.
//! block.clear();
//! encoder.encode(request, &mut block);
//! assert_eq!(block, [0x82, 0x85, 0xbf, 0xbe]);
//! let mut n = 0;
//! decoder.decode(&block, |name, value| {
//!     assert_eq!((name, value), request[n]);
//!     n += 1;
//! }).unwrap();
//! assert_eq!(n, 4);
//! ```
//!
//! Errors other than [`DecodeError::HeaderListTooLarge`] and [`DecodeError::Arena`] leave
//! the decoder's table out of step with the peer: treat them as a connection error
//! (`COMPRESSION_ERROR`, RFC 9113 §4.3).

#![warn(missing_docs)]

mod decoder;
mod encoder;
mod error;
pub mod huffman;
pub mod integer;
mod table;

pub use decoder::{Decoder, DecoderLimits, Field, DEFAULT_TABLE_SIZE};
pub use encoder::{Encoder, HuffmanPolicy, SensitivePredicate, SHORT_COOKIE_LEN};
pub use error::DecodeError;
pub use huffman::HuffmanError;
pub use integer::IntegerError;
pub use table::{ENTRY_OVERHEAD, STATIC_LEN, STATIC_TABLE};
