//! # shockwave-http2-frames
//!
//! The HTTP/2 frame layer of [RFC 9113](https://www.rfc-editor.org/rfc/rfc9113), sans I/O:
//! bytes in, typed frames out, and typed frames back to bytes. No tokio, no allocation on
//! the decode path.
//!
//! - [`FrameHeader`] — the 9-byte frame header (§4.1); [`FrameKind`], [`Flags`].
//! - [`Frame`] — every frame type of §6, borrowing its payload from the input (DATA,
//!   field block fragments, GOAWAY debug data); unknown (extension) frame types are
//!   surfaced as [`Frame::Unknown`] so the caller can ignore them (§4.1, §5.5).
//! - [`FrameDecoder`] — incremental decoding from a growing read buffer, enforcing
//!   SETTINGS_MAX_FRAME_SIZE and the field-block (CONTINUATION) rules.
//! - Validation with the RFC's connection- vs stream-error distinction (§5.4): every
//!   [`FrameError`] carries the [`ErrorCode`] to send and its [`Scope`].
//! - Encoders writing into a reused `Vec<u8>`: an `encode` method on every frame type,
//!   [`Headers::encode_split`] / [`PushPromise::encode_split`] (field block into
//!   HEADERS/PUSH_PROMISE + CONTINUATION), [`Data::encode_split`] and [`split_data`] (DATA
//!   payload into frames of at most the peer's max frame size), padding support.
//! - [`Settings`] — RFC defaults, apply a SETTINGS frame, encode, and diff.
//! - [`PREFACE`] and [`match_preface`] — the client connection preface (§3.4).
//!
//! ## Example
//!
//! ```
//! use shockwave_http2_frames::{
//!     match_preface, Data, Frame, FrameDecoder, Headers, Settings, PREFACE,
//! };
//!
//! // A client writes the preface, its SETTINGS, a request field block and a body.
//! let mut out = Vec::new();
//! out.extend_from_slice(PREFACE);
//! let settings = Settings { enable_push: false, ..Settings::default() };
//! settings.encode(&mut out)?;
//! let block = [0x82, 0x86, 0x84]; // HPACK: :method GET, :scheme http, :path /
//! Headers {
//!     stream_id: 1,
//!     fragment: &block,
//!     end_stream: false,
//!     end_headers: true,
//!     priority: None,
//!     pad_len: None,
//! }
//! .encode_split(&mut out, settings.max_frame_size)?;
//! Data { stream_id: 1, data: b"hello", end_stream: true, pad_len: None }.encode(&mut out)?;
//!
//! // The server checks the preface, then decodes frames as bytes arrive.
//! let mut input = &out[..];
//! let n = match_preface(input)?.expect("complete preface");
//! input = &input[n..];
//! let mut decoder = FrameDecoder::new();
//! let mut peer = Settings::default();
//! while let Some((frame, used)) = decoder.decode(input)? {
//!     match frame {
//!         Frame::Settings(s) => peer.apply(&s)?,
//!         Frame::Headers(h) => assert_eq!(h.fragment, &block),
//!         Frame::Data(d) => assert_eq!(d.data, b"hello"),
//!         other => panic!("unexpected {other:?}"),
//!     }
//!     input = &input[used..];
//! }
//! assert!(input.is_empty());
//! assert!(!peer.enable_push);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Errors
//!
//! A [`FrameError`] with [`Scope::Connection`] means: send GOAWAY with its code and close.
//! With [`Scope::Stream`], send RST_STREAM on that stream, discard
//! [`FrameError::frame_len`] bytes and keep decoding. Only three checks produce stream
//! errors here: a PRIORITY frame of the wrong length (FRAME_SIZE_ERROR, §6.3), a PRIORITY
//! frame depending on its own stream (PROTOCOL_ERROR, §5.3.1) and a zero WINDOW_UPDATE
//! increment on a stream (PROTOCOL_ERROR, §6.9). A HEADERS frame depending on itself is
//! reported by [`Headers::check_priority`] after its field block was decoded.
//!
//! What this crate does not do (it belongs to the connection engine): stream states,
//! flow-control accounting, HPACK, SETTINGS acknowledgement timing, the rule that the
//! server's first frame is SETTINGS.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod decoder;
mod encode;
mod error;
mod frame;
mod header;
mod settings;

pub use decoder::{
    decode_frame, match_preface, FrameDecoder, DEFAULT_MAX_CONTINUATION_FRAMES,
    DEFAULT_MAX_HEADER_BLOCK_LEN, PREFACE,
};
pub use encode::{split_data, DataChunks};
pub use error::{EncodeError, ErrorCode, FrameError, InvalidMaxFrameSize, Scope, Violation};
pub use frame::{
    Continuation, Data, Frame, GoAway, Headers, Ping, Priority, PrioritySpec, PushPromise,
    RstStream, UnknownFrame, WindowUpdate,
};
pub use header::{Flags, FrameHeader, FrameKind, FRAME_HEADER_LEN, MAX_STREAM_ID};
pub use settings::{
    encode_settings, encode_settings_ack, Setting, SettingId, Settings, SettingsDiff,
    SettingsFrame, SettingsIter, DEFAULT_HEADER_TABLE_SIZE, DEFAULT_INITIAL_WINDOW_SIZE,
    DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
};

pub mod conn;
