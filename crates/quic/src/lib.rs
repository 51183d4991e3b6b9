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
//! | [`qpack`] | QPACK [`qpack::Decoder`] (dynamic table, blocked streams) and [`qpack::Encoder`] (static table; opt-in dynamic table) |
//! | [`message`] | pseudo-header and field checks on decoded sections (`H3_MESSAGE_ERROR`) |
//! | [`error`] | [`ErrorCode`] (RFC 9114 §8.1, RFC 9204 §6), the typed [`Error`] and its [`Scope`] |
//!
//! What it does not do: QUIC itself (streams, flow control, loss recovery, TLS) is the
//! QUIC stack's (quinn's); there is no tokio, no `Waker` and no clock read in this crate.
//!
//! ## How a driver uses it (one connection)
//!
//! 1. Create a [`connection::Connection`] for the role (see its module docs for when to
//!    call each method). It owns our control stream (type, SETTINGS, GOAWAY), our QPACK
//!    encoder and decoder streams (write what [`connection::Connection::pending`] returns
//!    and [`advance`](connection::Connection::advance)), the QPACK state and the
//!    peer's SETTINGS and GOAWAY; [`connection::Connection::poll_event`] reports what
//!    happened.
//! 2. Pass every byte read from each peer unidirectional stream to
//!    [`connection::Connection::recv_uni`]: it identifies the stream, enforces RFC 9114
//!    §6.2 and routes control and QPACK instructions. (The lower-level pieces it is built
//!    from stay public: [`stream::UniStreamHeaderReader`], [`stream::PeerUniStreams`],
//!    [`control::ControlStream`], [`qpack::Decoder`], [`qpack::Encoder`].)
//! 3. For each request stream, feed bytes to a [`request::RequestStream`]. On
//!    [`request::RequestEvent::Headers`], decode with
//!    [`connection::Connection::decode_section`] into the request's arena (copy the
//!    section into the arena first if it is in a transient buffer; keep it there while
//!    [`qpack::Decoded::Blocked`], until [`connection::Event::StreamUnblocked`]), check it with
//!    [`message::validate_request`] (a server: [`connection::Connection::validate_request`],
//!    which also refuses `:protocol` unless SETTINGS_ENABLE_CONNECT_PROTOCOL was
//!    advertised, RFC 9220 §3), and pass `content_length` to
//!    [`request::RequestStream::set_content_length`]. DATA comes as zero-copy slices.
//! 4. Respond with [`connection::Connection::encode_headers_frame`] and
//!    [`frame::encode_data_header`] + the body bytes.
//! 5. On any [`Error`]: [`Error::scope`] says whether to reset the stream or close the
//!    connection, [`Error::code`] which code to send. When a request stream is reset or
//!    abandoned, call [`connection::Connection::cancel_stream`].
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
