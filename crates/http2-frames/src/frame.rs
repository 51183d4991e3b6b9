//! Typed, zero-copy frames (RFC 9113 §6) and their per-frame validation.

use crate::error::{ErrorCode, FrameError, Violation};
use crate::header::{Flags, FrameHeader, FrameKind, FRAME_HEADER_LEN, MAX_STREAM_ID};
use crate::settings::SettingsFrame;

/// Stream dependency and weight, carried by PRIORITY frames and HEADERS frames with the
/// PRIORITY flag (RFC 9113 §5.3.2, §6.3; the scheme itself is deprecated but the fields must
/// still be parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrioritySpec {
    /// The stream this one depends on (31 bits).
    pub dependency: u32,
    /// The E flag: the dependency is exclusive.
    pub exclusive: bool,
    /// The weight field as sent: the priority weight is this value plus one (1..=256).
    pub weight: u8,
}

impl PrioritySpec {
    /// Length of the priority fields on the wire.
    pub const LEN: usize = 5;

    /// The effective weight, 1..=256.
    pub const fn weight_value(&self) -> u16 {
        self.weight as u16 + 1
    }

    pub(crate) fn parse(b: &[u8]) -> PrioritySpec {
        let raw = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        PrioritySpec {
            dependency: raw & MAX_STREAM_ID,
            exclusive: raw >> 31 == 1,
            weight: b[4],
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; 5] {
        let raw = (self.dependency & MAX_STREAM_ID) | ((self.exclusive as u32) << 31);
        let d = raw.to_be_bytes();
        [d[0], d[1], d[2], d[3], self.weight]
    }
}

/// A DATA frame (RFC 9113 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Data<'a> {
    /// The stream (never 0).
    pub stream_id: u32,
    /// The application data, borrowed from the input.
    pub data: &'a [u8],
    /// END_STREAM flag: the last frame the sender will send on this stream.
    pub end_stream: bool,
    /// The Pad Length field when the PADDED flag is set. Padding is written as zeros.
    pub pad_len: Option<u8>,
}

impl Data<'_> {
    /// The bytes that count against flow-control windows: the whole payload, including the
    /// Pad Length field and the padding (§6.1, §6.9.1).
    pub fn flow_controlled_len(&self) -> usize {
        self.data.len() + padding_overhead(self.pad_len)
    }
}

/// A HEADERS frame (RFC 9113 §6.2). A field block that does not fit is continued by
/// CONTINUATION frames until one carries END_HEADERS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Headers<'a> {
    /// The stream (never 0).
    pub stream_id: u32,
    /// The field block fragment (HPACK-encoded), borrowed from the input.
    pub fragment: &'a [u8],
    /// END_STREAM flag.
    pub end_stream: bool,
    /// END_HEADERS flag: the field block is complete in this frame.
    pub end_headers: bool,
    /// Priority fields, present when the PRIORITY flag is set.
    pub priority: Option<PrioritySpec>,
    /// The Pad Length field when the PADDED flag is set.
    pub pad_len: Option<u8>,
}

impl Headers<'_> {
    /// RFC 9113 §5.3.1: a stream that depends on itself is a stream error of type
    /// PROTOCOL_ERROR. The frame decoder does not reject it, because the field block must
    /// still be decoded to keep the HPACK context in sync (§4.3); call this after decoding
    /// the block and reset the stream if it fails.
    pub fn check_priority(&self) -> Result<(), FrameError> {
        match self.priority {
            Some(p) if p.dependency == self.stream_id => Err(FrameError::stream(
                self.stream_id,
                ErrorCode::ProtocolError,
                Violation::SelfDependency,
                0,
            )),
            _ => Ok(()),
        }
    }
}

/// A PRIORITY frame (RFC 9113 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Priority {
    /// The stream whose priority is given (never 0).
    pub stream_id: u32,
    /// Dependency and weight.
    pub spec: PrioritySpec,
}

/// A RST_STREAM frame (RFC 9113 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RstStream {
    /// The stream being reset (never 0).
    pub stream_id: u32,
    /// Why.
    pub error_code: ErrorCode,
}

/// A PUSH_PROMISE frame (RFC 9113 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PushPromise<'a> {
    /// The stream the promise is associated with (never 0).
    pub stream_id: u32,
    /// The promised (server-initiated, hence even) stream.
    pub promised_stream_id: u32,
    /// The field block fragment of the promised request.
    pub fragment: &'a [u8],
    /// END_HEADERS flag.
    pub end_headers: bool,
    /// The Pad Length field when the PADDED flag is set.
    pub pad_len: Option<u8>,
}

/// A PING frame (RFC 9113 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ping {
    /// ACK flag: this is the response to a PING.
    pub ack: bool,
    /// The 8 opaque bytes, echoed in the response.
    pub data: [u8; 8],
}

impl Ping {
    /// The acknowledgement to send back for this PING: same data, ACK set (§6.7).
    pub const fn pong(&self) -> Ping {
        Ping {
            ack: true,
            data: self.data,
        }
    }
}

/// A GOAWAY frame (RFC 9113 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GoAway<'a> {
    /// The highest peer-initiated stream that was or might be processed.
    pub last_stream_id: u32,
    /// Why the connection is closing.
    pub error_code: ErrorCode,
    /// Opaque diagnostic data, borrowed from the input.
    pub debug_data: &'a [u8],
}

/// A WINDOW_UPDATE frame (RFC 9113 §6.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection window.
    pub stream_id: u32,
    /// The increment, 1..=2^31-1.
    pub increment: u32,
}

/// A CONTINUATION frame (RFC 9113 §6.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Continuation<'a> {
    /// The stream of the field block being continued.
    pub stream_id: u32,
    /// The next field block fragment.
    pub fragment: &'a [u8],
    /// END_HEADERS flag: the field block ends here.
    pub end_headers: bool,
}

/// A frame of a type RFC 9113 does not define (§5.5). Receivers must ignore it — unless
/// it arrives in the middle of a field block, which the decoder rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnknownFrame<'a> {
    /// Its header as received (type, flags, stream).
    pub header: FrameHeader,
    /// Its payload.
    pub payload: &'a [u8],
}

/// One HTTP/2 frame, borrowing its variable-length parts from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame<'a> {
    /// DATA (§6.1).
    Data(Data<'a>),
    /// HEADERS (§6.2).
    Headers(Headers<'a>),
    /// PRIORITY (§6.3).
    Priority(Priority),
    /// RST_STREAM (§6.4).
    RstStream(RstStream),
    /// SETTINGS (§6.5).
    Settings(SettingsFrame<'a>),
    /// PUSH_PROMISE (§6.6).
    PushPromise(PushPromise<'a>),
    /// PING (§6.7).
    Ping(Ping),
    /// GOAWAY (§6.8).
    GoAway(GoAway<'a>),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (§6.10).
    Continuation(Continuation<'a>),
    /// An unknown (extension) frame type, to be ignored (§4.1, §5.5).
    Unknown(UnknownFrame<'a>),
}

impl<'a> Frame<'a> {
    /// The frame's type.
    pub fn kind(&self) -> FrameKind {
        match self {
            Frame::Data(_) => FrameKind::Data,
            Frame::Headers(_) => FrameKind::Headers,
            Frame::Priority(_) => FrameKind::Priority,
            Frame::RstStream(_) => FrameKind::RstStream,
            Frame::Settings(_) => FrameKind::Settings,
            Frame::PushPromise(_) => FrameKind::PushPromise,
            Frame::Ping(_) => FrameKind::Ping,
            Frame::GoAway(_) => FrameKind::GoAway,
            Frame::WindowUpdate(_) => FrameKind::WindowUpdate,
            Frame::Continuation(_) => FrameKind::Continuation,
            Frame::Unknown(u) => u.header.kind,
        }
    }

    /// The stream identifier (0 for connection-level frames).
    pub fn stream_id(&self) -> u32 {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.header.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => 0,
        }
    }

    /// True for a DATA or HEADERS frame carrying END_STREAM (the sender's last frame on
    /// the stream, §5.1).
    pub fn end_stream(&self) -> bool {
        match self {
            Frame::Data(f) => f.end_stream,
            Frame::Headers(f) => f.end_stream,
            _ => false,
        }
    }

    /// The flags this frame has on the wire (only the defined ones; unknown frames keep
    /// theirs).
    pub fn flags(&self) -> Flags {
        let e = Flags::EMPTY;
        match self {
            Frame::Data(f) => e
                .with(Flags::END_STREAM, f.end_stream)
                .with(Flags::PADDED, f.pad_len.is_some()),
            Frame::Headers(f) => e
                .with(Flags::END_STREAM, f.end_stream)
                .with(Flags::END_HEADERS, f.end_headers)
                .with(Flags::PADDED, f.pad_len.is_some())
                .with(Flags::PRIORITY, f.priority.is_some()),
            Frame::PushPromise(f) => e
                .with(Flags::END_HEADERS, f.end_headers)
                .with(Flags::PADDED, f.pad_len.is_some()),
            Frame::Continuation(f) => e.with(Flags::END_HEADERS, f.end_headers),
            Frame::Settings(f) => e.with(Flags::ACK, f.is_ack()),
            Frame::Ping(f) => e.with(Flags::ACK, f.ack),
            Frame::Unknown(f) => f.header.flags,
            Frame::Priority(_)
            | Frame::RstStream(_)
            | Frame::GoAway(_)
            | Frame::WindowUpdate(_) => e,
        }
    }

    /// The payload length this frame has on the wire.
    pub fn payload_len(&self) -> usize {
        match self {
            Frame::Data(f) => f.data.len() + padding_overhead(f.pad_len),
            Frame::Headers(f) => {
                f.fragment.len()
                    + padding_overhead(f.pad_len)
                    + if f.priority.is_some() {
                        PrioritySpec::LEN
                    } else {
                        0
                    }
            }
            Frame::Priority(_) => PrioritySpec::LEN,
            Frame::RstStream(_) | Frame::WindowUpdate(_) => 4,
            Frame::Settings(f) => f.payload().len(),
            Frame::PushPromise(f) => f.fragment.len() + 4 + padding_overhead(f.pad_len),
            Frame::Ping(_) => 8,
            Frame::GoAway(f) => 8 + f.debug_data.len(),
            Frame::Continuation(f) => f.fragment.len(),
            Frame::Unknown(f) => f.payload.len(),
        }
    }

    /// The bytes the whole frame occupies on the wire (header included).
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN + self.payload_len()
    }

    /// Parses and validates one frame from its header and its complete payload
    /// (`payload.len()` must equal `header.length`). This checks everything that can be
    /// checked on a single frame; [`FrameDecoder`](crate::FrameDecoder) adds the maximum
    /// frame size and the field-block sequencing rules.
    #[inline]
    pub fn parse(header: FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if payload.len() != header.length as usize {
            return Err(conn(
                ErrorCode::FrameSizeError,
                Violation::BadLength {
                    expected: header.length,
                    actual: payload.len() as u32,
                },
            ));
        }
        let sid = header.stream_id;
        let flags = header.flags;
        let frame_len = FRAME_HEADER_LEN + payload.len();
        Ok(match header.kind {
            FrameKind::Data => {
                require_stream(sid)?;
                let Padded {
                    body: data,
                    pad_len,
                    ..
                } = split_padded(payload, flags, 0)?;
                Frame::Data(Data {
                    stream_id: sid,
                    data,
                    end_stream: flags.contains(Flags::END_STREAM),
                    pad_len,
                })
            }
            FrameKind::Headers => {
                require_stream(sid)?;
                let has_priority = flags.contains(Flags::PRIORITY);
                let fixed = if has_priority { PrioritySpec::LEN } else { 0 };
                let Padded {
                    fixed: fixed_bytes,
                    body: fragment,
                    pad_len,
                } = split_padded(payload, flags, fixed)?;
                Frame::Headers(Headers {
                    stream_id: sid,
                    fragment,
                    end_stream: flags.contains(Flags::END_STREAM),
                    end_headers: flags.contains(Flags::END_HEADERS),
                    priority: has_priority.then(|| PrioritySpec::parse(fixed_bytes)),
                    pad_len,
                })
            }
            FrameKind::Priority => {
                // §6.3: stream 0 is a connection error; a bad length only a stream error.
                require_stream(sid)?;
                if payload.len() != PrioritySpec::LEN {
                    return Err(FrameError::stream(
                        sid,
                        ErrorCode::FrameSizeError,
                        Violation::BadLength {
                            expected: 5,
                            actual: header.length,
                        },
                        frame_len,
                    ));
                }
                let spec = PrioritySpec::parse(payload);
                if spec.dependency == sid {
                    // §5.3.1: a stream cannot depend on itself.
                    return Err(FrameError::stream(
                        sid,
                        ErrorCode::ProtocolError,
                        Violation::SelfDependency,
                        frame_len,
                    ));
                }
                Frame::Priority(Priority {
                    stream_id: sid,
                    spec,
                })
            }
            FrameKind::RstStream => {
                // §6.4: stream 0 -> PROTOCOL_ERROR, length != 4 -> FRAME_SIZE_ERROR,
                // both connection errors.
                require_stream(sid)?;
                let code = fixed_u32(payload, header.length)?;
                Frame::RstStream(RstStream {
                    stream_id: sid,
                    error_code: ErrorCode::from_u32(code),
                })
            }
            FrameKind::Settings => {
                // §6.5: SETTINGS always applies to the connection.
                forbid_stream(sid)?;
                Frame::Settings(SettingsFrame::parse(flags.contains(Flags::ACK), payload)?)
            }
            FrameKind::PushPromise => {
                require_stream(sid)?;
                let Padded {
                    fixed: fixed_bytes,
                    body: fragment,
                    pad_len,
                } = split_padded(payload, flags, 4)?;
                let promised = read_u32(fixed_bytes) & MAX_STREAM_ID;
                // §5.1.1: server-initiated streams are even; 0 is never a valid stream. An
                // invalid promise is a connection error of type PROTOCOL_ERROR (§6.6).
                if promised == 0 || promised % 2 == 1 {
                    return Err(conn(
                        ErrorCode::ProtocolError,
                        Violation::InvalidPromisedStreamId(promised),
                    ));
                }
                Frame::PushPromise(PushPromise {
                    stream_id: sid,
                    promised_stream_id: promised,
                    fragment,
                    end_headers: flags.contains(Flags::END_HEADERS),
                    pad_len,
                })
            }
            FrameKind::Ping => {
                // §6.7: stream must be 0 (PROTOCOL_ERROR), length 8 (FRAME_SIZE_ERROR).
                forbid_stream(sid)?;
                let data: [u8; 8] = payload.try_into().map_err(|_| {
                    conn(
                        ErrorCode::FrameSizeError,
                        Violation::BadLength {
                            expected: 8,
                            actual: header.length,
                        },
                    )
                })?;
                Frame::Ping(Ping {
                    ack: flags.contains(Flags::ACK),
                    data,
                })
            }
            FrameKind::GoAway => {
                // §6.8: stream must be 0; §4.2: shorter than its 8 mandatory bytes is a
                // FRAME_SIZE_ERROR (a connection error: the frame has stream id 0).
                forbid_stream(sid)?;
                if payload.len() < 8 {
                    return Err(conn(ErrorCode::FrameSizeError, Violation::PayloadTooShort));
                }
                Frame::GoAway(GoAway {
                    last_stream_id: read_u32(payload) & MAX_STREAM_ID,
                    error_code: ErrorCode::from_u32(read_u32(&payload[4..])),
                    debug_data: &payload[8..],
                })
            }
            FrameKind::WindowUpdate => {
                // §6.9: length != 4 is a connection FRAME_SIZE_ERROR.
                let increment = fixed_u32(payload, header.length)? & MAX_STREAM_ID;
                if increment == 0 {
                    // §6.9: a zero increment is a stream error on a stream and a
                    // connection error on the connection's flow-control window.
                    return Err(if sid == 0 {
                        conn(ErrorCode::ProtocolError, Violation::ZeroWindowIncrement)
                    } else {
                        FrameError::stream(
                            sid,
                            ErrorCode::ProtocolError,
                            Violation::ZeroWindowIncrement,
                            frame_len,
                        )
                    });
                }
                Frame::WindowUpdate(WindowUpdate {
                    stream_id: sid,
                    increment,
                })
            }
            FrameKind::Continuation => {
                require_stream(sid)?;
                Frame::Continuation(Continuation {
                    stream_id: sid,
                    fragment: payload,
                    end_headers: flags.contains(Flags::END_HEADERS),
                })
            }
            FrameKind::Unknown(_) => Frame::Unknown(UnknownFrame { header, payload }),
        })
    }
}

pub(crate) fn padding_overhead(pad_len: Option<u8>) -> usize {
    pad_len.map_or(0, |p| 1 + p as usize)
}

fn conn(code: ErrorCode, violation: Violation) -> FrameError {
    FrameError::connection(code, violation)
}

/// DATA, HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE and CONTINUATION need a stream:
/// stream 0 is a connection error of type PROTOCOL_ERROR (§6.1-§6.4, §6.6, §6.10).
fn require_stream(sid: u32) -> Result<(), FrameError> {
    if sid == 0 {
        return Err(conn(ErrorCode::ProtocolError, Violation::StreamIdRequired));
    }
    Ok(())
}

/// SETTINGS, PING and GOAWAY apply to the connection: a non-zero stream is a connection
/// error of type PROTOCOL_ERROR (§6.5, §6.7, §6.8).
fn forbid_stream(sid: u32) -> Result<(), FrameError> {
    if sid != 0 {
        return Err(conn(ErrorCode::ProtocolError, Violation::StreamIdForbidden));
    }
    Ok(())
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A 4-byte payload (RST_STREAM, WINDOW_UPDATE); any other length is a connection
/// FRAME_SIZE_ERROR (§6.4, §6.9).
fn fixed_u32(payload: &[u8], length: u32) -> Result<u32, FrameError> {
    match payload {
        [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(conn(
            ErrorCode::FrameSizeError,
            Violation::BadLength {
                expected: 4,
                actual: length,
            },
        )),
    }
}

/// Splits a possibly padded payload into (fixed fields, body, pad length).
///
/// Layout: [Pad Length (1, if PADDED)] [fixed fields] [body] [padding].
/// - PADDED without room for the Pad Length byte or the fixed fields: the frame is too
///   small for its mandatory fields, a connection FRAME_SIZE_ERROR (§4.2; these frames
///   carry field blocks or DATA whose accounting affects the connection).
/// - Padding longer than what is left: connection PROTOCOL_ERROR (§6.1, §6.2, §6.6).
fn split_padded(payload: &[u8], flags: Flags, fixed: usize) -> Result<Padded<'_>, FrameError> {
    let (pad_len, rest) = if flags.contains(Flags::PADDED) {
        match payload.split_first() {
            Some((&p, rest)) => (Some(p), rest),
            None => return Err(conn(ErrorCode::FrameSizeError, Violation::PayloadTooShort)),
        }
    } else {
        (None, payload)
    };
    if rest.len() < fixed {
        return Err(conn(ErrorCode::FrameSizeError, Violation::PayloadTooShort));
    }
    let (fixed_bytes, rest) = rest.split_at(fixed);
    let pad = pad_len.unwrap_or(0) as usize;
    if pad > rest.len() {
        return Err(conn(ErrorCode::ProtocolError, Violation::PaddingTooLong));
    }
    Ok(Padded {
        fixed: fixed_bytes,
        body: &rest[..rest.len() - pad],
        pad_len,
    })
}

/// The parts of a possibly padded payload.
struct Padded<'a> {
    fixed: &'a [u8],
    body: &'a [u8],
    pad_len: Option<u8>,
}
