//! HTTP/3 frames (RFC 9114 §7): types, an incremental zero-copy decoder and encoders.
//!
//! Every frame is `Type (i), Length (i), Payload` with QUIC variable-length integers.
//! [`FrameDecoder`] is fed the bytes of one stream in whatever pieces the transport
//! delivers them and yields [`FrameEvent`]s:
//!
//! * [`FrameEvent::Header`] for every frame header (known, unknown or reserved), before
//!   any of its payload, so a stream state machine can reject a frame type early;
//! * [`FrameEvent::Data`] for DATA payload, streamed in pieces, never buffered;
//! * [`FrameEvent::Frame`] for every other known frame, once its payload is complete.
//!   The payload borrows the caller's input when it arrived in one piece (zero copy),
//!   otherwise the decoder's own bounded buffer.
//!
//! Unknown and reserved (`0x1f * N + 0x21`) frame types are skipped without buffering
//! (RFC 9114 §7.2.8, §9); HTTP/2-only types (0x02, 0x06, 0x08, 0x09) are
//! `H3_FRAME_UNEXPECTED`.
//!
//! ```
//! use shockwave_quic::frame::{self, Frame, FrameDecoder, FrameEvent, FrameLimits};
//!
//! let mut wire = Vec::new();
//! frame::encode_headers(b"\x00\x00\xd1", &mut wire).unwrap();
//! frame::encode_data(b"hello", &mut wire).unwrap();
//!
//! let mut dec = FrameDecoder::new(FrameLimits::default());
//! let mut input = &wire[..];
//! let mut body = Vec::new();
//! let mut headers = 0;
//! loop {
//!     let (n, event) = dec.decode(input).unwrap();
//!     input = &input[n..];
//!     match event {
//!         None => break,
//!         Some(FrameEvent::Frame(Frame::Headers(section))) => {
//!             assert_eq!(section, b"\x00\x00\xd1");
//!             headers += 1;
//!         }
//!         Some(FrameEvent::Data(chunk)) => body.extend_from_slice(chunk),
//!         Some(_) => {}
//!     }
//! }
//! assert_eq!((headers, &body[..]), (1, &b"hello"[..]));
//! ```

use crate::error::{is_reserved, Error, Scope};
use crate::varint::{self, VarIntError};

/// Frame type codes (RFC 9114 §7.2, §11.2.1).
pub mod frame_type {
    /// DATA (0x00): request or response content.
    pub const DATA: u64 = 0x00;
    /// HEADERS (0x01): a QPACK-encoded field section.
    pub const HEADERS: u64 = 0x01;
    /// CANCEL_PUSH (0x03): cancel a server push (control stream).
    pub const CANCEL_PUSH: u64 = 0x03;
    /// SETTINGS (0x04): connection parameters, first frame of the control stream.
    pub const SETTINGS: u64 = 0x04;
    /// PUSH_PROMISE (0x05): a promised request (request streams, server to client).
    pub const PUSH_PROMISE: u64 = 0x05;
    /// GOAWAY (0x07): graceful shutdown (control stream).
    pub const GOAWAY: u64 = 0x07;
    /// MAX_PUSH_ID (0x0d): the largest push ID the client accepts (control stream).
    pub const MAX_PUSH_ID: u64 = 0x0d;
    /// HTTP/2 PRIORITY (0x02): reserved, receipt is `H3_FRAME_UNEXPECTED`.
    pub const H2_PRIORITY: u64 = 0x02;
    /// HTTP/2 PING (0x06): reserved, receipt is `H3_FRAME_UNEXPECTED`.
    pub const H2_PING: u64 = 0x06;
    /// HTTP/2 WINDOW_UPDATE (0x08): reserved, receipt is `H3_FRAME_UNEXPECTED`.
    pub const H2_WINDOW_UPDATE: u64 = 0x08;
    /// HTTP/2 CONTINUATION (0x09): reserved, receipt is `H3_FRAME_UNEXPECTED`.
    pub const H2_CONTINUATION: u64 = 0x09;

    /// True for the frame types HTTP/3 reserves because they only exist in HTTP/2.
    pub fn is_http2_only(t: u64) -> bool {
        matches!(
            t,
            H2_PRIORITY | H2_PING | H2_WINDOW_UPDATE | H2_CONTINUATION
        )
    }

    /// True for the frame types this crate understands (everything else is skipped).
    pub fn is_known(t: u64) -> bool {
        matches!(
            t,
            DATA | HEADERS | CANCEL_PUSH | SETTINGS | PUSH_PROMISE | GOAWAY | MAX_PUSH_ID
        )
    }
}

/// SETTINGS identifiers (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220, RFC 9297).
pub mod setting_id {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY (0x01), default 0.
    pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (0x06), default unlimited.
    pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
    /// SETTINGS_QPACK_BLOCKED_STREAMS (0x07), default 0.
    pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (0x08, RFC 9220), 0 or 1.
    pub const ENABLE_CONNECT_PROTOCOL: u64 = 0x08;
    /// SETTINGS_H3_DATAGRAM (0x33, RFC 9297), 0 or 1.
    pub const H3_DATAGRAM: u64 = 0x33;

    /// True for the HTTP/2 setting identifiers HTTP/3 reserves: receipt is
    /// `H3_SETTINGS_ERROR` (RFC 9114 §7.2.4.1, §11.2.2).
    pub fn is_http2_only(id: u64) -> bool {
        matches!(id, 0x00 | 0x02 | 0x03 | 0x04 | 0x05)
    }
}

/// The parameters of a SETTINGS frame (RFC 9114 §7.2.4). Unknown and reserved
/// identifiers are ignored on receipt, as the RFC requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY: the largest dynamic table the sender's QPACK
    /// decoder accepts (0 = static table only).
    pub qpack_max_table_capacity: u64,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE: the largest field section the sender accepts
    /// (name + value + 32 per field); `None` means unlimited.
    pub max_field_section_size: Option<u64>,
    /// SETTINGS_QPACK_BLOCKED_STREAMS: how many streams may be blocked on the sender's
    /// QPACK decoder.
    pub qpack_blocked_streams: u64,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220): extended CONNECT is allowed.
    pub enable_connect_protocol: bool,
    /// SETTINGS_H3_DATAGRAM (RFC 9297): HTTP datagrams are supported.
    pub h3_datagram: bool,
}

impl Default for Settings {
    /// The RFC defaults: what a peer's settings are until its SETTINGS frame arrives.
    fn default() -> Self {
        Settings {
            qpack_max_table_capacity: 0,
            max_field_section_size: None,
            qpack_blocked_streams: 0,
            enable_connect_protocol: false,
            h3_datagram: false,
        }
    }
}

impl Settings {
    /// Parses a SETTINGS payload. Duplicate known identifiers and HTTP/2-only identifiers
    /// are `H3_SETTINGS_ERROR`; a payload ending inside a parameter is `H3_FRAME_ERROR`.
    pub fn parse(mut payload: &[u8]) -> Result<Settings, Error> {
        let mut s = Settings::default();
        let mut seen: u8 = 0;
        let frame_error = |_| Error::FrameError {
            frame_type: frame_type::SETTINGS,
            reason: "truncated setting",
        };
        while !payload.is_empty() {
            let (id, n) = varint::decode(payload).map_err(frame_error)?;
            payload = &payload[n..];
            let (value, n) = varint::decode(payload).map_err(frame_error)?;
            payload = &payload[n..];
            if setting_id::is_http2_only(id) {
                return Err(Error::SettingsError {
                    id,
                    reason: "HTTP/2 setting in HTTP/3 SETTINGS",
                });
            }
            let bit = match id {
                setting_id::QPACK_MAX_TABLE_CAPACITY => 1,
                setting_id::MAX_FIELD_SECTION_SIZE => 2,
                setting_id::QPACK_BLOCKED_STREAMS => 4,
                setting_id::ENABLE_CONNECT_PROTOCOL => 8,
                setting_id::H3_DATAGRAM => 16,
                _ => continue, // unknown or reserved: ignored (RFC 9114 §7.2.4)
            };
            if seen & bit != 0 {
                return Err(Error::SettingsError {
                    id,
                    reason: "duplicate setting",
                });
            }
            seen |= bit;
            let boolean = |v: u64| match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(Error::SettingsError {
                    id,
                    reason: "boolean setting must be 0 or 1",
                }),
            };
            match id {
                setting_id::QPACK_MAX_TABLE_CAPACITY => s.qpack_max_table_capacity = value,
                setting_id::MAX_FIELD_SECTION_SIZE => s.max_field_section_size = Some(value),
                setting_id::QPACK_BLOCKED_STREAMS => s.qpack_blocked_streams = value,
                setting_id::ENABLE_CONNECT_PROTOCOL => s.enable_connect_protocol = boolean(value)?,
                _ => s.h3_datagram = boolean(value)?,
            }
        }
        Ok(s)
    }

    /// Appends a complete SETTINGS frame with every parameter that differs from its
    /// default. `grease` adds one reserved setting (RFC 9114 §7.2.4.1 says endpoints
    /// SHOULD include one) whose identifier and value derive from the given number.
    pub fn encode(&self, grease: Option<u64>, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
        let start = dst.len();
        let mut put = |id: u64, v: u64| -> Result<(), VarIntError> {
            varint::encode(id, dst)?;
            varint::encode(v, dst)
        };
        let result = (|| {
            if self.qpack_max_table_capacity != 0 {
                put(
                    setting_id::QPACK_MAX_TABLE_CAPACITY,
                    self.qpack_max_table_capacity,
                )?;
            }
            if let Some(max) = self.max_field_section_size {
                put(setting_id::MAX_FIELD_SECTION_SIZE, max)?;
            }
            if self.qpack_blocked_streams != 0 {
                put(
                    setting_id::QPACK_BLOCKED_STREAMS,
                    self.qpack_blocked_streams,
                )?;
            }
            if self.enable_connect_protocol {
                put(setting_id::ENABLE_CONNECT_PROTOCOL, 1)?;
            }
            if self.h3_datagram {
                put(setting_id::H3_DATAGRAM, 1)?;
            }
            if let Some(g) = grease {
                // 0x1f * N + 0x21 with N small enough to stay in 4 bytes.
                put(0x1f * (g % 0x0100_0000) + 0x21, g % 64)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => wrap_payload(frame_type::SETTINGS, start, dst),
            Err(e) => {
                dst.truncate(start);
                Err(e)
            }
        }
    }
}

/// Turns the bytes appended to `dst` since `start` into the payload of a frame of type
/// `frame_type` by inserting the frame header in front of them (one small memmove).
pub fn wrap_payload(frame_type: u64, start: usize, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    let len = (dst.len() - start) as u64;
    let before = dst.len();
    if let Err(e) = write_header(frame_type, len, dst) {
        dst.truncate(start);
        return Err(e);
    }
    let header_len = dst.len() - before;
    dst[start..].rotate_right(header_len);
    Ok(())
}

/// A complete, non-DATA frame (DATA is streamed as [`FrameEvent::Data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// HEADERS: a QPACK-encoded field section.
    Headers(&'a [u8]),
    /// SETTINGS, parsed.
    Settings(Settings),
    /// GOAWAY with its stream ID (from a server) or push ID (from a client).
    GoAway(u64),
    /// CANCEL_PUSH with its push ID.
    CancelPush(u64),
    /// MAX_PUSH_ID with its push ID.
    MaxPushId(u64),
    /// PUSH_PROMISE: a push ID and the QPACK-encoded promised request.
    PushPromise {
        /// The push ID.
        push_id: u64,
        /// The encoded field section.
        field_section: &'a [u8],
    },
}

impl Frame<'_> {
    /// The frame's type code.
    pub fn frame_type(&self) -> u64 {
        match self {
            Frame::Headers(_) => frame_type::HEADERS,
            Frame::Settings(_) => frame_type::SETTINGS,
            Frame::GoAway(_) => frame_type::GOAWAY,
            Frame::CancelPush(_) => frame_type::CANCEL_PUSH,
            Frame::MaxPushId(_) => frame_type::MAX_PUSH_ID,
            Frame::PushPromise { .. } => frame_type::PUSH_PROMISE,
        }
    }
}

/// A frame's type and payload length, as read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The frame type (may be unknown or reserved).
    pub frame_type: u64,
    /// The payload length in bytes.
    pub len: u64,
}

impl FrameHeader {
    /// True for frame types that are skipped (unknown or reserved).
    pub fn is_unknown(&self) -> bool {
        !frame_type::is_known(self.frame_type) && !frame_type::is_http2_only(self.frame_type)
    }

    /// True for reserved "grease" frame types (`0x1f * N + 0x21`).
    pub fn is_reserved(&self) -> bool {
        is_reserved(self.frame_type)
    }
}

/// Something the [`FrameDecoder`] found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent<'a> {
    /// A frame header: comes first for every frame, before any of its payload.
    Header(FrameHeader),
    /// A piece of DATA payload (zero copy: a slice of the input).
    Data(&'a [u8]),
    /// A complete non-DATA known frame.
    Frame(Frame<'a>),
}

/// Size limits for buffered frames. DATA and unknown frames are streamed or skipped and
/// need no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest HEADERS (and PUSH_PROMISE field section) payload; default 16 KiB, the
    /// default max field section size. Larger is `H3_EXCESSIVE_LOAD` on the stream.
    pub max_field_section_len: u64,
    /// Largest SETTINGS payload; default 4 KiB. Larger is `H3_EXCESSIVE_LOAD`.
    pub max_settings_len: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_field_section_len: 16 * 1024,
            max_settings_len: 4 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a frame header.
    Header,
    /// A header was returned; limits are checked on the next call (after the stream
    /// state machine has had the chance to reject the frame type).
    Pending(FrameHeader),
    /// Streaming DATA payload.
    Data { remaining: u64 },
    /// Skipping an unknown frame's payload.
    Skip { remaining: u64 },
    /// Collecting a known frame's payload.
    Buffer { frame_type: u64, len: usize },
}

/// What [`FrameDecoder::advance`] stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A frame header was read.
    Header(FrameHeader),
    /// All input consumed; more is needed.
    NeedMore,
    /// A payload is ready for [`FrameDecoder::payload`].
    Payload,
}

/// Incremental HTTP/3 frame decoder for one stream (see the [module docs](self)).
///
/// Call [`decode`](FrameDecoder::decode) with the stream's unconsumed bytes until it
/// returns `None`; at that point all the input has been consumed (anything incomplete is
/// kept inside). At the end of the stream, call [`finish`](FrameDecoder::finish).
#[derive(Debug)]
pub struct FrameDecoder {
    limits: FrameLimits,
    state: State,
    /// Partial frame header (type and length are at most 8 bytes each).
    hdr: [u8; 16],
    hdr_len: usize,
    /// Partial payload of a buffered frame.
    buf: Vec<u8>,
    /// `buf` was handed out by the previous call and must be cleared.
    buf_emitted: bool,
}

impl FrameDecoder {
    /// A decoder with the given limits.
    pub fn new(limits: FrameLimits) -> Self {
        FrameDecoder {
            limits,
            state: State::Header,
            hdr: [0; 16],
            hdr_len: 0,
            buf: Vec::new(),
            buf_emitted: false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> FrameLimits {
        self.limits
    }

    /// True between frames (nothing partial is held).
    pub fn is_idle(&self) -> bool {
        self.state == State::Header && self.hdr_len == 0
    }

    /// Bytes of DATA payload still expected in the current DATA frame (0 otherwise).
    pub fn data_remaining(&self) -> u64 {
        match self.state {
            State::Data { remaining } => remaining,
            State::Pending(h) if h.frame_type == frame_type::DATA => h.len,
            _ => 0,
        }
    }

    /// Decodes the next event from `input`. Returns the number of bytes consumed and the
    /// event; `None` means more input is needed, and then all of `input` was consumed.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<FrameEvent<'a>>), Error> {
        let (n, step) = self.advance(input)?;
        match step {
            Step::Header(h) => Ok((n, Some(FrameEvent::Header(h)))),
            Step::NeedMore => Ok((n, None)),
            Step::Payload => {
                let (m, event) = self.payload(&input[n..])?;
                Ok((n + m, event))
            }
        }
    }

    /// Moves through headers and skipped payloads without borrowing the output. Stops at
    /// a header, when input runs out, or when a payload (DATA or buffered) is ready for
    /// [`payload`](Self::payload).
    pub(crate) fn advance(&mut self, input: &[u8]) -> Result<(usize, Step), Error> {
        if self.buf_emitted {
            self.buf.clear();
            self.buf_emitted = false;
        }
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            match self.state {
                State::Header => {
                    let (n, header) = self.read_header(rest)?;
                    consumed += n;
                    return Ok(match header {
                        Some(h) => {
                            self.state = State::Pending(h);
                            (consumed, Step::Header(h))
                        }
                        None => (consumed, Step::NeedMore),
                    });
                }
                State::Pending(h) => self.start_payload(h)?,
                State::Data { remaining: 0 } => self.state = State::Header,
                State::Data { .. } if rest.is_empty() => return Ok((consumed, Step::NeedMore)),
                State::Data { .. } | State::Buffer { .. } => return Ok((consumed, Step::Payload)),
                State::Skip { remaining } => {
                    let n = (remaining.min(rest.len() as u64)) as usize;
                    consumed += n;
                    if remaining == n as u64 {
                        self.state = State::Header;
                    } else {
                        self.state = State::Skip {
                            remaining: remaining - n as u64,
                        };
                        return Ok((consumed, Step::NeedMore));
                    }
                }
            }
        }
    }

    /// Takes DATA payload or completes a buffered frame from `rest`; call only after
    /// [`advance`](Self::advance) returned [`Step::Payload`].
    pub(crate) fn payload<'a>(
        &'a mut self,
        rest: &'a [u8],
    ) -> Result<(usize, Option<FrameEvent<'a>>), Error> {
        match self.state {
            State::Data { remaining } => {
                let n = (remaining.min(rest.len() as u64)) as usize;
                self.state = if remaining == n as u64 {
                    State::Header
                } else {
                    State::Data {
                        remaining: remaining - n as u64,
                    }
                };
                if n == 0 {
                    return Ok((0, None));
                }
                Ok((n, Some(FrameEvent::Data(&rest[..n]))))
            }
            State::Buffer { frame_type, len } => {
                if self.buf.is_empty() && rest.len() >= len {
                    // Zero copy: the whole payload is in this input.
                    self.state = State::Header;
                    let frame = parse_payload(frame_type, &rest[..len])?;
                    return Ok((len, Some(FrameEvent::Frame(frame))));
                }
                let n = (len - self.buf.len()).min(rest.len());
                self.buf.extend_from_slice(&rest[..n]);
                if self.buf.len() < len {
                    return Ok((n, None));
                }
                self.state = State::Header;
                self.buf_emitted = true;
                let frame = parse_payload(frame_type, &self.buf)?;
                Ok((n, Some(FrameEvent::Frame(frame))))
            }
            _ => Ok((0, None)),
        }
    }

    /// Call when the stream ended cleanly: a partially received frame is
    /// `H3_FRAME_ERROR` (RFC 9114 §7.1).
    pub fn finish(&self) -> Result<(), Error> {
        let frame_type = match self.state {
            State::Header if self.hdr_len == 0 => return Ok(()),
            State::Header => varint::decode(&self.hdr[..self.hdr_len])
                .map(|(t, _)| t)
                .unwrap_or(u64::MAX),
            State::Pending(h) if h.len == 0 => {
                // A zero-length frame whose (empty) payload was not processed yet.
                let t = h.frame_type;
                if frame_type::is_http2_only(t) {
                    return Err(Error::FrameUnexpected {
                        frame_type: t,
                        reason: "is an HTTP/2 frame type reserved in HTTP/3",
                    });
                }
                if t == frame_type::DATA || !frame_type::is_known(t) {
                    return Ok(());
                }
                return parse_payload(t, &[]).map(|_| ());
            }
            State::Pending(h) => h.frame_type,
            State::Data { remaining: 0 } | State::Skip { remaining: 0 } => return Ok(()),
            State::Data { .. } => frame_type::DATA,
            State::Skip { .. } => u64::MAX,
            State::Buffer { frame_type, .. } => frame_type,
        };
        Err(Error::FrameError {
            frame_type,
            reason: "stream ended inside a frame",
        })
    }

    /// Reads a frame header from `rest`, using the partial-header buffer across calls.
    fn read_header(&mut self, rest: &[u8]) -> Result<(usize, Option<FrameHeader>), Error> {
        if self.hdr_len == 0 {
            if let Some((h, n)) = parse_header(rest) {
                return Ok((n, Some(h)));
            }
            // Incomplete: keep what there is (at most 15 bytes can be pending).
            let n = rest.len().min(self.hdr.len());
            self.hdr[..n].copy_from_slice(&rest[..n]);
            self.hdr_len = n;
            return Ok((n, None));
        }
        let old = self.hdr_len;
        let n = rest.len().min(self.hdr.len() - old);
        self.hdr[old..old + n].copy_from_slice(&rest[..n]);
        match parse_header(&self.hdr[..old + n]) {
            Some((h, used)) => {
                self.hdr_len = 0;
                Ok((used - old, Some(h)))
            }
            None => {
                self.hdr_len = old + n;
                Ok((n, None))
            }
        }
    }

    fn start_payload(&mut self, h: FrameHeader) -> Result<(), Error> {
        let t = h.frame_type;
        if frame_type::is_http2_only(t) {
            return Err(Error::FrameUnexpected {
                frame_type: t,
                reason: "is an HTTP/2 frame type reserved in HTTP/3",
            });
        }
        let too_large = |limit: u64, scope| Error::FrameTooLarge {
            frame_type: t,
            len: h.len,
            limit,
            scope,
        };
        self.state = match t {
            frame_type::DATA => State::Data { remaining: h.len },
            frame_type::HEADERS | frame_type::PUSH_PROMISE => {
                let limit = self.limits.max_field_section_len
                    + if t == frame_type::PUSH_PROMISE { 8 } else { 0 };
                if h.len > limit {
                    return Err(too_large(limit, Scope::Stream));
                }
                State::Buffer {
                    frame_type: t,
                    len: h.len as usize,
                }
            }
            frame_type::SETTINGS => {
                if h.len > self.limits.max_settings_len {
                    return Err(too_large(self.limits.max_settings_len, Scope::Connection));
                }
                State::Buffer {
                    frame_type: t,
                    len: h.len as usize,
                }
            }
            frame_type::GOAWAY | frame_type::CANCEL_PUSH | frame_type::MAX_PUSH_ID => {
                if h.len == 0 || h.len > 8 {
                    return Err(Error::FrameError {
                        frame_type: t,
                        reason: "payload must be exactly one variable-length integer",
                    });
                }
                State::Buffer {
                    frame_type: t,
                    len: h.len as usize,
                }
            }
            _ => State::Skip { remaining: h.len },
        };
        Ok(())
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(FrameLimits::default())
    }
}

/// Parses a frame header from the start of `buf`; `None` if incomplete.
fn parse_header(buf: &[u8]) -> Option<(FrameHeader, usize)> {
    let (frame_type, a) = varint::decode(buf).ok()?;
    let (len, b) = varint::decode(&buf[a..]).ok()?;
    Some((FrameHeader { frame_type, len }, a + b))
}

/// Parses the payload of a complete known non-DATA frame.
fn parse_payload(t: u64, payload: &[u8]) -> Result<Frame<'_>, Error> {
    let single_varint = || -> Result<u64, Error> {
        match varint::decode(payload) {
            Ok((v, n)) if n == payload.len() => Ok(v),
            Ok(_) => Err(Error::FrameError {
                frame_type: t,
                reason: "extra bytes after the identifier",
            }),
            Err(_) => Err(Error::FrameError {
                frame_type: t,
                reason: "truncated identifier",
            }),
        }
    };
    Ok(match t {
        frame_type::HEADERS => Frame::Headers(payload),
        frame_type::SETTINGS => Frame::Settings(Settings::parse(payload)?),
        frame_type::GOAWAY => Frame::GoAway(single_varint()?),
        frame_type::CANCEL_PUSH => Frame::CancelPush(single_varint()?),
        frame_type::MAX_PUSH_ID => Frame::MaxPushId(single_varint()?),
        frame_type::PUSH_PROMISE => {
            let (push_id, n) = varint::decode(payload).map_err(|_| Error::FrameError {
                frame_type: t,
                reason: "truncated push ID",
            })?;
            Frame::PushPromise {
                push_id,
                field_section: &payload[n..],
            }
        }
        // Only known types are ever buffered.
        _ => {
            return Err(Error::FrameError {
                frame_type: t,
                reason: "internal: unexpected buffered frame type",
            })
        }
    })
}

/// Appends a frame header (type and payload length).
pub fn write_header(frame_type: u64, len: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    let tl = varint::encoded_len(frame_type).ok_or(VarIntError::TooLarge(frame_type))?;
    let ll = varint::encoded_len(len).ok_or(VarIntError::TooLarge(len))?;
    dst.reserve(tl + ll);
    varint::encode(frame_type, dst)?;
    varint::encode(len, dst)
}

/// Appends the header of a DATA frame of `len` payload bytes (write the payload yourself,
/// e.g. with a vectored write, to avoid copying it).
pub fn encode_data_header(len: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    write_header(frame_type::DATA, len, dst)
}

/// Appends a complete DATA frame.
pub fn encode_data(payload: &[u8], dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    write_header(frame_type::DATA, payload.len() as u64, dst)?;
    dst.extend_from_slice(payload);
    Ok(())
}

/// Appends a HEADERS frame carrying an already encoded field section. (To QPACK-encode
/// straight into a frame, use [`crate::qpack::Encoder::encode_headers_frame`].)
pub fn encode_headers(field_section: &[u8], dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    write_header(frame_type::HEADERS, field_section.len() as u64, dst)?;
    dst.extend_from_slice(field_section);
    Ok(())
}

fn encode_single(t: u64, id: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    let len = varint::encoded_len(id).ok_or(VarIntError::TooLarge(id))?;
    write_header(t, len as u64, dst)?;
    varint::encode(id, dst)
}

/// Appends a GOAWAY frame with a stream ID (server) or push ID (client).
pub fn encode_goaway(id: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    encode_single(frame_type::GOAWAY, id, dst)
}

/// Appends a CANCEL_PUSH frame.
pub fn encode_cancel_push(push_id: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    encode_single(frame_type::CANCEL_PUSH, push_id, dst)
}

/// Appends a MAX_PUSH_ID frame.
pub fn encode_max_push_id(push_id: u64, dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    encode_single(frame_type::MAX_PUSH_ID, push_id, dst)
}

/// Appends a PUSH_PROMISE frame.
pub fn encode_push_promise(
    push_id: u64,
    field_section: &[u8],
    dst: &mut Vec<u8>,
) -> Result<(), VarIntError> {
    let id_len = varint::encoded_len(push_id).ok_or(VarIntError::TooLarge(push_id))?;
    write_header(
        frame_type::PUSH_PROMISE,
        (id_len + field_section.len()) as u64,
        dst,
    )?;
    varint::encode(push_id, dst)?;
    dst.extend_from_slice(field_section);
    Ok(())
}

/// Appends a reserved ("grease") frame of type `0x1f * n + 0x21` with `payload`, which
/// receivers must ignore (RFC 9114 §7.2.8).
pub fn encode_reserved(n: u64, payload: &[u8], dst: &mut Vec<u8>) -> Result<(), VarIntError> {
    let t = n
        .checked_mul(0x1f)
        .and_then(|v| v.checked_add(0x21))
        .ok_or(VarIntError::TooLarge(n))?;
    write_header(t, payload.len() as u64, dst)?;
    dst.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    /// Owned copy of an event, for comparisons across calls.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Header(u64, u64),
        Data(Vec<u8>),
        Headers(Vec<u8>),
        Settings(Settings),
        GoAway(u64),
        CancelPush(u64),
        MaxPushId(u64),
        PushPromise(u64, Vec<u8>),
    }

    fn own(e: FrameEvent<'_>) -> Ev {
        match e {
            FrameEvent::Header(h) => Ev::Header(h.frame_type, h.len),
            FrameEvent::Data(d) => Ev::Data(d.to_vec()),
            FrameEvent::Frame(Frame::Headers(h)) => Ev::Headers(h.to_vec()),
            FrameEvent::Frame(Frame::Settings(s)) => Ev::Settings(s),
            FrameEvent::Frame(Frame::GoAway(i)) => Ev::GoAway(i),
            FrameEvent::Frame(Frame::CancelPush(i)) => Ev::CancelPush(i),
            FrameEvent::Frame(Frame::MaxPushId(i)) => Ev::MaxPushId(i),
            FrameEvent::Frame(Frame::PushPromise {
                push_id,
                field_section,
            }) => Ev::PushPromise(push_id, field_section.to_vec()),
        }
    }

    /// Feeds `wire` in pieces of `chunk` bytes; merges adjacent Data events.
    fn decode_all(wire: &[u8], chunk: usize) -> Result<Vec<Ev>, Error> {
        let mut dec = FrameDecoder::default();
        let mut out: Vec<Ev> = Vec::new();
        for piece in wire.chunks(chunk.max(1)) {
            let mut input = piece;
            loop {
                let (n, ev) = dec.decode(input)?;
                input = &input[n..];
                let Some(ev) = ev else {
                    assert!(input.is_empty());
                    break;
                };
                match (own(ev), out.last_mut()) {
                    (Ev::Data(d), Some(Ev::Data(prev))) => prev.extend_from_slice(&d),
                    (e, _) => out.push(e),
                }
            }
        }
        dec.finish()?;
        Ok(out)
    }

    fn sample_wire() -> Vec<u8> {
        let mut w = Vec::new();
        let settings = Settings {
            qpack_max_table_capacity: 4096,
            max_field_section_size: Some(16384),
            qpack_blocked_streams: 16,
            enable_connect_protocol: true,
            h3_datagram: false,
        };
        settings.encode(Some(7), &mut w).unwrap();
        encode_headers(b"\x00\x00\xd1\xd7", &mut w).unwrap();
        encode_reserved(3, b"grease!", &mut w).unwrap();
        encode_data(b"hello ", &mut w).unwrap();
        encode_data(b"", &mut w).unwrap();
        encode_data(b"world", &mut w).unwrap();
        encode_goaway(400, &mut w).unwrap();
        encode_cancel_push(3, &mut w).unwrap();
        encode_max_push_id(1_000_000, &mut w).unwrap();
        encode_push_promise(9, b"\x00\x00", &mut w).unwrap();
        write_header(0xabcdef, 3, &mut w).unwrap(); // unknown type, skipped
        w.extend_from_slice(b"xyz");
        w
    }

    #[test]
    fn round_trip_in_every_chunking() {
        let wire = sample_wire();
        let whole = decode_all(&wire, wire.len()).unwrap();
        assert_eq!(
            whole,
            vec![
                Ev::Header(4, whole_settings_len(&wire)),
                Ev::Settings(Settings {
                    qpack_max_table_capacity: 4096,
                    max_field_section_size: Some(16384),
                    qpack_blocked_streams: 16,
                    enable_connect_protocol: true,
                    h3_datagram: false,
                }),
                Ev::Header(1, 4),
                Ev::Headers(b"\x00\x00\xd1\xd7".to_vec()),
                Ev::Header(0x1f * 3 + 0x21, 7),
                Ev::Header(0, 6),
                Ev::Data(b"hello ".to_vec()),
                Ev::Header(0, 0),
                Ev::Header(0, 5),
                Ev::Data(b"world".to_vec()),
                Ev::Header(7, 2),
                Ev::GoAway(400),
                Ev::Header(3, 1),
                Ev::CancelPush(3),
                Ev::Header(0xd, 4),
                Ev::MaxPushId(1_000_000),
                Ev::Header(5, 3),
                Ev::PushPromise(9, b"\x00\x00".to_vec()),
                Ev::Header(0xabcdef, 3),
            ]
        );
        for chunk in 1..wire.len() {
            assert_eq!(decode_all(&wire, chunk).unwrap(), whole, "chunk {chunk}");
        }
    }

    fn whole_settings_len(wire: &[u8]) -> u64 {
        parse_header(wire).unwrap().0.len
    }

    #[test]
    fn zero_copy_when_whole() {
        let mut wire = Vec::new();
        encode_headers(b"abc", &mut wire).unwrap();
        let mut dec = FrameDecoder::default();
        let (n, _) = dec.decode(&wire).unwrap();
        let rest = &wire[n..];
        let (_, ev) = dec.decode(rest).unwrap();
        match ev {
            Some(FrameEvent::Frame(Frame::Headers(h))) => {
                assert_eq!(h.as_ptr(), rest.as_ptr(), "payload borrows the input")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_rules() {
        let mut p = Vec::new();
        for v in [6u64, 100, 6, 200] {
            varint::encode(v, &mut p).unwrap();
        }
        assert!(matches!(
            Settings::parse(&p),
            Err(Error::SettingsError { id: 6, .. })
        ));
        for id in [0u64, 2, 3, 4, 5] {
            let mut p = Vec::new();
            varint::encode(id, &mut p).unwrap();
            varint::encode(1, &mut p).unwrap();
            let e = Settings::parse(&p).unwrap_err();
            assert_eq!(e.code(), ErrorCode::SettingsError, "id {id}");
        }
        // Unknown and reserved ids are ignored, even repeated.
        let mut p = Vec::new();
        for v in [0x21u64, 1, 0x21, 2, 0x4242, 7] {
            varint::encode(v, &mut p).unwrap();
        }
        assert_eq!(Settings::parse(&p).unwrap(), Settings::default());
        // Truncated parameter.
        assert_eq!(
            Settings::parse(&[0x06]).unwrap_err().code(),
            ErrorCode::FrameError
        );
        assert_eq!(
            Settings::parse(&[0x08, 0x02]).unwrap_err().code(),
            ErrorCode::SettingsError
        );
    }

    #[test]
    fn limits_and_truncation() {
        let mut wire = Vec::new();
        write_header(frame_type::HEADERS, 16 * 1024 + 1, &mut wire).unwrap();
        let e = decode_all(&wire, 100).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ExcessiveLoad);
        assert_eq!(e.scope(), Scope::Stream);

        let mut wire = Vec::new();
        encode_data(b"abcdef", &mut wire).unwrap();
        let e = decode_all(&wire[..wire.len() - 1], 3).unwrap_err();
        assert_eq!(e.code(), ErrorCode::FrameError);
        // A lone partial header is truncation too.
        assert_eq!(
            decode_all(&[0x40], 1).unwrap_err().code(),
            ErrorCode::FrameError
        );
        // finish() right after a header event, before the (empty) payload was processed.
        for (wire, ok) in [
            (&[0x00, 0x00][..], true),
            (&[0x21, 0x00], true),
            (&[0x04, 0x00], true),
            (&[0x07, 0x00], false),
            (&[0x06, 0x00], false),
        ] {
            let mut dec = FrameDecoder::default();
            let (n, ev) = dec.decode(wire).unwrap();
            assert_eq!(n, 2);
            assert!(matches!(ev, Some(FrameEvent::Header(_))));
            assert_eq!(dec.finish().is_ok(), ok, "{wire:02x?}");
        }
        // A zero-length GOAWAY is malformed even at the end of the stream.
        assert_eq!(
            decode_all(&[0x07, 0x00], 1).unwrap_err().code(),
            ErrorCode::FrameError
        );
    }
}
