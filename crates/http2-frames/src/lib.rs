//! # shockwave-http2-frames
//!
//! HTTP/2 ([RFC 9113](https://www.rfc-editor.org/rfc/rfc9113)) sans I/O, in two layers:
//!
//! 1. The frame layer (the crate root): bytes in, typed frames out, and typed frames back
//!    to bytes. No allocation on the decode path.
//! 2. The connection ([`conn`]): one role-aware [`conn::Connection`] (server or client)
//!    that owns every protocol rule above frames: stream states and identifiers
//!    ([`conn::StreamId`]), flow control, SETTINGS/PING/GOAWAY/RST_STREAM, HPACK field
//!    blocks (via `shockwave-hpack`) and the §8 field checks ([`conn::FieldBlock`]),
//!    timers and the defences below.
//!
//! ## The contract
//!
//! No tokio, no sockets, no `Waker`, no clock reads. The driver (a tokio task, a test, a
//! fuzzer) passes in the bytes it read (`Connection::recv(bytes, now)`) and the current
//! time (`Connection::handle_timeout(now)`), writes what `Connection::pending_output`
//! holds, sleeps until `Connection::poll_timeout`, and reacts to the [`conn::Event`]s
//! from `Connection::poll_event`. Stream-side calls never block: they return data, or
//! [`conn::StreamError::WouldBlock`] followed later by an event saying that a retry makes
//! sense (`StreamReadable`, `StreamWritable`, `Response`, `CanOpenStream`,
//! `StreamReset`). The driver owns the wakers (for instance a map from stream id to
//! waker) and wakes them on those events. The [`conn`] module docs list when each method
//! must be called.
//!
//! Why one crate and not a separate `http2` crate: the connection is the only user of
//! the frame layer's validation split (connection vs stream errors) and of its
//! CONTINUATION limits, and no other crate needs frames without the connection; keeping
//! both here gives one sans-I/O HTTP/2 crate, the way `shockwave-quic` holds HTTP/3.
//!
//! ## Defences of the connection
//!
//! | attack | defence (default) |
//! |---|---|
//! | Rapid Reset (CVE-2023-44487) | reset streams keep counting as open until the driver releases them; more than [`conn::Config::max_resets_per_window`] (200) peer resets per [`conn::Config::reset_window`] (10 s) → GOAWAY `ENHANCE_YOUR_CALM` |
//! | stream-error floods (CVE-2019-9514) | more than [`conn::Config::max_local_resets_per_window`] (1000) RST_STREAMs we send per window → GOAWAY `ENHANCE_YOUR_CALM` |
//! | glitch floods (empty DATA, PRIORITY, unknown frames, repeated SETTINGS: work for nothing) | empty DATA without END_STREAM, PRIORITY, unknown frame types, SETTINGS after the first, unsolicited SETTINGS ACKs and WINDOW_UPDATEs for streams that are gone or reset count as glitches; more than [`conn::Config::max_glitches_per_window`] (1000) per [`conn::Config::reset_window`] (10 s) → GOAWAY `ENHANCE_YOUR_CALM`. A zero WINDOW_UPDATE increment is already an error (connection: `PROTOCOL_ERROR`; stream: RST_STREAM, counted as a stream error) |
//! | CONTINUATION flood | field block capped at [`conn::Config::max_header_block_len`] (64 KiB) and [`conn::Config::max_continuation_frames`] (32) before any decoding → GOAWAY `ENHANCE_YOUR_CALM` |
//! | HPACK bomb | decoded field section capped at [`conn::Config::max_header_list_size`] (16 KiB) → `431` on that stream, the connection survives |
//! | Many tiny fields | fields per field block capped at [`conn::Config::max_header_fields`] (100) → `431` on that stream, the connection survives |
//! | SETTINGS / PING floods | at most [`conn::Config::max_pending_control_frames`] (1000) unwritten answers; no input is consumed while the output is above [`conn::Config::max_output_buffer`] (1 MiB) |
//! | zero-window stalls | body bytes are queued only as the windows allow; a stream stalled for [`conn::Config::stream_stall_timeout`] (30 s) is reset with CANCEL |
//! | dead peers | keep-alive PINGs ([`conn::Config::keep_alive_interval`], off by default), no ACK within [`conn::Config::keep_alive_timeout`] (20 s) → GOAWAY and done; SETTINGS not acknowledged within [`conn::Config::settings_timeout`] (10 s) → GOAWAY `SETTINGS_TIMEOUT`; idle connections: the driver's [`conn::Config::idle_timeout`] timer with `Connection::activity` |
//! | too many streams | `REFUSED_STREAM` beyond [`conn::Config::max_concurrent_streams`] (200) |
//! | malformed messages | `PROTOCOL_ERROR` stream errors (§8: pseudo-headers, connection-specific fields, content-length) |
//!
//! ## The frame layer
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
//! ### Example
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
//! ### Errors
//!
//! A [`FrameError`] with [`Scope::Connection`] means: send GOAWAY with its code and close.
//! With [`Scope::Stream`], send RST_STREAM on that stream, discard
//! [`FrameError::frame_len`] bytes and keep decoding. Only three checks produce stream
//! errors here: a PRIORITY frame of the wrong length (FRAME_SIZE_ERROR, §6.3), a PRIORITY
//! frame depending on its own stream (PROTOCOL_ERROR, §5.3.1) and a zero WINDOW_UPDATE
//! increment on a stream (PROTOCOL_ERROR, §6.9). A HEADERS frame depending on itself is
//! reported by [`Headers::check_priority`] after its field block was decoded.
//!
//! What the frame layer does not do (it belongs to [`conn`]): stream states,
//! flow-control accounting, HPACK, SETTINGS acknowledgement timing, the rule that the
//! peer's first frame is SETTINGS.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod conn;
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
