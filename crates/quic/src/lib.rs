//! # shockwave-quic
//!
//! Sans-I/O HTTP/3 (RFC 9114) and QPACK (RFC 9204) codecs for Shockwave: bytes in,
//! events out, no tokio, no QUIC. A driver over a QUIC stack (quinn) owns the streams
//! and feeds their bytes to the state machines here.
//!
//! | module | what it is |
//! |---|---|
//! | [`varint`] | QUIC variable-length integers (RFC 9000 §16) |
//! | [`frame`] | HTTP/3 frames: incremental zero-copy [`frame::FrameDecoder`], encoders, [`frame::Settings`] |
//! | [`stream`] | roles, stream IDs, unidirectional stream types and the peer's stream bookkeeping |
//! | [`connection`] | the connection state machine for both roles: [`connection::Connection`] (control and QPACK streams, peer uni streams, SETTINGS, GOAWAY, field sections) |
//! | [`control`] | the peer's control stream: [`control::ControlStream`] |
//! | [`request`] | one request stream: [`request::RequestStream`] (HEADERS, DATA*, trailers) |
//! | [`qpack`] | QPACK [`qpack::Decoder`] (dynamic table, blocked streams) and static-only [`qpack::Encoder`] |
//! | [`message`] | pseudo-header and field checks on decoded sections (`H3_MESSAGE_ERROR`) |
//! | [`error`] | [`ErrorCode`] (RFC 9114 §8.1, RFC 9204 §6), the typed [`Error`] and its [`Scope`] |
//!
//! ## How a driver uses it (one connection)
//!
//! 1. Open our control stream: [`stream::encode_uni_stream_header`] with
//!    [`stream::UniStreamKind::Control`], then [`qpack::DecoderConfig::settings`]`.encode`.
//!    If our QPACK table capacity is non-zero, also open a QPACK decoder stream (type
//!    0x03) for [`qpack::Decoder::take_decoder_stream`] output. Our encoder never needs
//!    an encoder stream.
//! 2. For each peer unidirectional stream, read its type with
//!    [`stream::UniStreamHeaderReader`], register it in [`stream::PeerUniStreams`], then
//!    route the rest: control → [`control::ControlStream::recv`]; QPACK encoder stream →
//!    [`qpack::Decoder::feed_encoder_stream`] (then retry the streams
//!    [`qpack::Decoder::next_unblocked`] returns); QPACK decoder stream →
//!    [`qpack::Encoder::feed_decoder_stream`]; unknown types → stop reading.
//! 3. For each request stream, feed bytes to a [`request::RequestStream`]. On
//!    [`request::RequestEvent::Headers`], decode with [`qpack::Decoder::decode_section`]
//!    into the request's arena (copy the section into the arena first if it is in a
//!    transient buffer; keep it there while [`qpack::Decoded::Blocked`]), check it with
//!    [`message::validate_request`], and pass `content_length` to
//!    [`request::RequestStream::set_content_length`]. DATA comes as zero-copy slices.
//! 4. Respond with [`qpack::Encoder::encode_headers_frame`] and
//!    [`frame::encode_data_header`] + the body bytes.
//! 5. On any [`Error`]: [`Error::scope`] says whether to reset the stream or close the
//!    connection, [`Error::code`] which code to send. When a request stream is reset or
//!    abandoned, call [`qpack::Decoder::cancel_stream`].
//!
//! ```
//! use shockwave_arena::Arena;
//! use shockwave_quic::qpack::{Decoder, DecoderConfig, Encoder};
//! use shockwave_quic::request::{RequestEvent, RequestStream};
//! use shockwave_quic::stream::Role;
//! use shockwave_quic::{frame, message};
//!
//! // What a client sends on a request stream.
//! let mut wire = Vec::new();
//! let fields: [(&[u8], &[u8]); 4] =
//!     [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"example.com"), (b":path", b"/upload")];
//! Encoder::new().encode_headers_frame(fields, &mut wire).unwrap();
//! frame::encode_data(b"payload", &mut wire).unwrap();
//!
//! // The server side.
//! let config = DecoderConfig::default();
//! let mut qpack = Decoder::new(config);
//! let mut stream = RequestStream::with_limits(Role::Server, config.frame_limits());
//! let arena = Arena::new();
//! let mut input = &wire[..];
//! let mut body = Vec::new();
//! while let (n, Some(event)) = stream.recv(input).unwrap() {
//!     match event {
//!         RequestEvent::Headers(section) => {
//!             let section = arena.alloc_bytes(section).unwrap();
//!             let fields = qpack.decode_section(0, section, &arena).unwrap().done().unwrap();
//!             let head = message::validate_request(&fields).unwrap();
//!             assert_eq!((head.method, head.path), (&b"POST"[..], Some(&b"/upload"[..])));
//!         }
//!         RequestEvent::Data(chunk) => body.extend_from_slice(chunk),
//!         _ => unreachable!(),
//!     }
//!     input = &input[n..];
//! }
//! stream.finish().unwrap();
//! assert_eq!(body, b"payload");
//! ```

#![warn(missing_docs)]

pub mod connection;
pub mod control;
pub mod error;
pub mod frame;
pub mod message;
pub mod qpack;
pub mod request;
pub mod stream;
pub mod varint;

pub use error::{Error, ErrorCode, Scope};
