//! # shockwave-websocket
//!
//! A sans-I/O WebSocket implementation ([RFC 6455](https://www.rfc-editor.org/rfc/rfc6455))
//! with permessage-deflate ([RFC 7692](https://www.rfc-editor.org/rfc/rfc7692)): bytes in,
//! messages out, and messages back to bytes, for both roles with one codec.
//!
//! ## What it does
//!
//! - [`Connection`]: the role-aware protocol state ([`Role::Server`] or [`Role::Client`]).
//!   Frame parsing and writing with 7/16/64-bit lengths ([`frame`]), masking (clients mask
//!   with keys from the OS random source or a caller's [`Connection::with_mask_source`];
//!   servers reject unmasked frames and clients masked ones), fragmentation with control
//!   frames interleaved, ping/pong (the pong is queued automatically), the close handshake
//!   (§7.4 code rules: 1004–1006, 1015, codes under 1000, 1016–2999 and 5000+ are refused),
//!   incremental UTF-8 validation of text across fragments (failing on the first
//!   impossible byte, [`utf8`]) and of close reasons, reserved bits and opcodes, frame and
//!   message size limits ([`Config`]).
//! - [`deflate`]: permessage-deflate negotiation (both roles, §7.1's validation rules) and
//!   the per-message codec (RSV1 on the first frame, the `00 00 ff ff` tail, context
//!   takeover or reset per message, a hard limit on the inflated size: a deflate bomb is a
//!   1009 close, never unbounded memory).
//! - [`handshake`]: the opening handshake as pure functions: `Sec-WebSocket-Accept`,
//!   request validation for HTTP/1.1 and for extended CONNECT (RFC 8441, RFC 9220),
//!   subprotocol and extension parsing, and the client's check of the answer.
//! - Typed errors ([`Error`]), each with its close code ([`Error::close_code`],
//!   [`CloseCode`]).
//!
//! ## What it does NOT do
//!
//! No I/O of any kind: no sockets, no tokio, no timers, no clock reads. It does not send
//! or receive the HTTP handshake (the HTTP layer does, using [`handshake`]'s verdicts), it
//! does not decide when to ping or when an idle connection dies (the driver's timers), and
//! it does not buffer the transport: the driver owns the read buffer.
//!
//! ## The driver's contract
//!
//! 1. After the handshake, build a [`Connection`] with the role and a [`Config`] (with the
//!    negotiated [`deflate::DeflateParams`], if any).
//! 2. Read bytes from the transport onto the end of a buffer the driver owns, then call
//!    [`Connection::decode`] with the unconsumed part and an assembly buffer (a `Vec<u8>`
//!    or a `bumpalo` vector, reused: see [`MessageBuffer`]). Handle the returned
//!    [`Message`], drop [`Decoded::consumed`] bytes from the front, and call again until
//!    no message comes back; [`Decoded::needed`] says how large the buffer must get for
//!    the next frame (at most the frame limit plus 14). Whole unfragmented frames are
//!    unmasked in place and returned without a copy.
//! 3. After every decode (and after a decode error) call [`Connection::write_pending`] and
//!    write what it produced: pongs, and the Close frame that answers the peer's or
//!    reports the error.
//! 4. To send, call [`Connection::encode_text`], [`Connection::encode_binary`],
//!    [`Connection::encode_fragment`], [`Connection::encode_ping`],
//!    [`Connection::encode_close`] with the driver's output buffer (`Vec<u8>` or
//!    `BytesMut`, see [`frame::FrameSink`]) and write it.
//! 5. When [`Connection::is_closed`] is true (or after a decode error) and the output is
//!    written, close the transport (the server first, §7.1.1).
//!
//! Once the buffers are warm, decoding and encoding make no heap allocation per message
//! (asserted by `tests/zero_alloc.rs`, with and without compression).
//!
//! ```
//! use shockwave_websocket::{Config, Connection, Message, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default())
//!     .with_mask_source(|| [1, 2, 3, 4]);
//! let mut server = Connection::new(Role::Server, Config::default());
//!
//! let mut wire = Vec::new();
//! client.encode_text("hello", &mut wire).unwrap();
//! client.encode_ping(b"p", &mut wire).unwrap();
//!
//! let mut assembly = Vec::new();
//! let mut pos = 0;
//! let decoded = server.decode(&mut wire[pos..], &mut assembly).unwrap();
//! assert_eq!(decoded.message, Some(Message::Text("hello")));
//! pos += decoded.consumed;
//! let decoded = server.decode(&mut wire[pos..], &mut assembly).unwrap();
//! assert_eq!(decoded.message, Some(Message::Ping(b"p")));
//!
//! let mut reply = Vec::new();
//! assert!(server.write_pending(&mut reply)); // the pong
//! assert_eq!(reply, [0x8a, 0x01, b'p']);
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod connection;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
pub mod utf8;

pub use connection::{Config, Connection, Decoded, Message, MessageBuffer, Role};
pub use error::{CloseCode, Error};
pub use frame::OpCode;
