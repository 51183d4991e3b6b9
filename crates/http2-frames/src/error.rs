//! Error codes (RFC 9113 §7), error scopes (§5.4) and the codec's error types.

use std::fmt;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY frames (RFC 9113 §7).
///
/// Unknown codes are preserved in [`ErrorCode::Unknown`]: RFC 9113 §7 says they "MUST NOT
/// trigger any special behavior" and may be treated as [`ErrorCode::InternalError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: graceful shutdown, not an error.
    NoError,
    /// 0x1: unspecific protocol error.
    ProtocolError,
    /// 0x2: unexpected internal error.
    InternalError,
    /// 0x3: the peer violated the flow-control protocol.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame arrived after the stream was half-closed.
    StreamClosed,
    /// 0x6: a frame had an invalid size.
    FrameSizeError,
    /// 0x7: the stream was refused before any application processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the field-compression context could not be maintained.
    CompressionError,
    /// 0xa: the connection of a CONNECT request was reset or closed.
    ConnectError,
    /// 0xb: the peer is generating excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport does not meet minimum security requirements.
    InadequateSecurity,
    /// 0xd: the endpoint requires HTTP/1.1 instead of HTTP/2.
    Http11Required,
    /// Any other value, preserved as received.
    Unknown(u32),
}

impl ErrorCode {
    /// The code for a 32-bit wire value.
    pub const fn from_u32(value: u32) -> ErrorCode {
        match value {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The 32-bit wire value.
    pub const fn as_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(v) => v,
        }
    }

    /// The RFC's name for the code (`"PROTOCOL_ERROR"`), or `None` for unknown codes.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::NoError => "NO_ERROR",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::FlowControlError => "FLOW_CONTROL_ERROR",
            ErrorCode::SettingsTimeout => "SETTINGS_TIMEOUT",
            ErrorCode::StreamClosed => "STREAM_CLOSED",
            ErrorCode::FrameSizeError => "FRAME_SIZE_ERROR",
            ErrorCode::RefusedStream => "REFUSED_STREAM",
            ErrorCode::Cancel => "CANCEL",
            ErrorCode::CompressionError => "COMPRESSION_ERROR",
            ErrorCode::ConnectError => "CONNECT_ERROR",
            ErrorCode::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            ErrorCode::InadequateSecurity => "INADEQUATE_SECURITY",
            ErrorCode::Http11Required => "HTTP_1_1_REQUIRED",
            ErrorCode::Unknown(_) => return None,
        })
    }
}

impl From<u32> for ErrorCode {
    fn from(value: u32) -> Self {
        ErrorCode::from_u32(value)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> Self {
        code.as_u32()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_ERROR(0x{:x})", self.as_u32()),
        }
    }
}

/// Whether an error ends the whole connection or only one stream (RFC 9113 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A connection error (§5.4.1): send GOAWAY with the code and close the connection.
    Connection,
    /// A stream error (§5.4.2) on this stream: send RST_STREAM with the code; the
    /// connection stays usable.
    Stream(u32),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Connection => f.write_str("connection error"),
            Scope::Stream(id) => write!(f, "stream error on stream {id}"),
        }
    }
}

/// What exactly was wrong with a received frame. Carried by [`FrameError`] for logs, GOAWAY
/// debug data and tests; the protocol reaction is given by the error's code and scope.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Violation {
    /// The client connection preface was not `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (§3.4).
    #[error("invalid client connection preface")]
    BadPreface,
    /// The frame's length exceeds SETTINGS_MAX_FRAME_SIZE (§4.2).
    #[error("frame of {length} bytes exceeds the maximum frame size {max}")]
    FrameTooLarge {
        /// The length field of the frame header.
        length: u32,
        /// The maximum frame size in force.
        max: u32,
    },
    /// The frame type must be sent on a stream but had stream identifier 0.
    #[error("frame requires a non-zero stream identifier")]
    StreamIdRequired,
    /// The frame type applies to the connection but had a non-zero stream identifier.
    #[error("frame requires stream identifier 0")]
    StreamIdForbidden,
    /// A fixed-length frame (PING, PRIORITY, RST_STREAM, WINDOW_UPDATE) had another length.
    #[error("frame has length {actual}, expected {expected}")]
    BadLength {
        /// The required payload length.
        expected: u32,
        /// The payload length received.
        actual: u32,
    },
    /// The payload is too short for the frame's mandatory fields (§4.2).
    #[error("frame payload too short for its mandatory fields")]
    PayloadTooShort,
    /// A SETTINGS payload whose length is not a multiple of 6 (§6.5).
    #[error("SETTINGS payload length is not a multiple of 6")]
    SettingsLength,
    /// A SETTINGS frame with the ACK flag and a non-empty payload (§6.5).
    #[error("SETTINGS ACK with a payload")]
    SettingsAckWithPayload,
    /// A SETTINGS value outside its allowed range (§6.5.2, RFC 8441 §3, RFC 9218 §2.1).
    #[error("SETTINGS parameter 0x{id:x} has invalid value {value}")]
    InvalidSetting {
        /// The setting identifier.
        id: u16,
        /// The rejected value.
        value: u32,
    },
    /// The Pad Length is at least as long as the space left for it (§6.1, §6.2, §6.6).
    #[error("padding is longer than the frame payload")]
    PaddingTooLong,
    /// A WINDOW_UPDATE with a zero increment (§6.9).
    #[error("WINDOW_UPDATE with a zero increment")]
    ZeroWindowIncrement,
    /// A PUSH_PROMISE whose promised stream identifier is 0 or odd (§5.1.1, §6.6).
    #[error("PUSH_PROMISE promises an invalid stream identifier {0}")]
    InvalidPromisedStreamId(u32),
    /// A stream declared a dependency on itself (RFC 9113 §5.3.1).
    #[error("stream depends on itself")]
    SelfDependency,
    /// A frame other than CONTINUATION on the same stream arrived while a field block was
    /// open, or a CONTINUATION arrived when none was expected (§4.3, §6.10).
    #[error("invalid frame sequence inside or outside a field block")]
    UnexpectedContinuation,
    /// A field block exceeded the decoder's size or CONTINUATION-count limit (CONTINUATION
    /// flood defence, §10.5).
    #[error("field block exceeds the configured limits")]
    HeaderBlockTooLarge,
}

/// A received frame violated RFC 9113. `code` and `scope` say how to react (RFC 9113 §5.4):
/// GOAWAY and close for [`Scope::Connection`], RST_STREAM for [`Scope::Stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{code} ({scope}): {violation}")]
pub struct FrameError {
    /// The error code to send in GOAWAY or RST_STREAM.
    pub code: ErrorCode,
    /// Connection or stream error.
    pub scope: Scope,
    /// What was wrong.
    pub violation: Violation,
    /// For stream errors: how many bytes the offending frame occupies at the start of the
    /// buffer, to be discarded before decoding continues. 0 for connection errors.
    pub frame_len: usize,
}

impl FrameError {
    /// A connection error (§5.4.1).
    pub const fn connection(code: ErrorCode, violation: Violation) -> FrameError {
        FrameError {
            code,
            scope: Scope::Connection,
            violation,
            frame_len: 0,
        }
    }

    /// A stream error (§5.4.2) on `stream_id` for a frame of `frame_len` bytes.
    pub const fn stream(
        stream_id: u32,
        code: ErrorCode,
        violation: Violation,
        frame_len: usize,
    ) -> FrameError {
        FrameError {
            code,
            scope: Scope::Stream(stream_id),
            violation,
            frame_len,
        }
    }

    /// True for a connection error.
    pub const fn is_connection_error(&self) -> bool {
        matches!(self.scope, Scope::Connection)
    }
}

/// A frame could not be serialized because it would violate RFC 9113.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EncodeError {
    /// The payload would exceed the maximum frame size (`max` is 2^24-1 for single-frame
    /// encoders, or the peer's SETTINGS_MAX_FRAME_SIZE for the splitting helpers).
    #[error("payload of {len} bytes exceeds the maximum frame size {max}")]
    FrameTooLarge {
        /// The payload length that would have been written.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// A stream identifier above 2^31-1 (the reserved bit must be clear, §4.1).
    #[error("stream identifier {0} exceeds 2^31-1")]
    StreamIdOutOfRange(u32),
    /// The frame type needs a non-zero stream identifier.
    #[error("frame requires a non-zero stream identifier")]
    StreamIdRequired,
    /// The frame type must be sent on stream 0.
    #[error("frame requires stream identifier 0")]
    StreamIdForbidden,
    /// A WINDOW_UPDATE increment outside 1..=2^31-1 (§6.9).
    #[error("window increment {0} outside 1..=2^31-1")]
    InvalidWindowIncrement(u32),
    /// A promised stream identifier that is 0, odd or above 2^31-1 (§6.6).
    #[error("invalid promised stream identifier {0}")]
    InvalidPromisedStreamId(u32),
    /// A stream cannot depend on itself (§5.3.1).
    #[error("stream depends on itself")]
    SelfDependency,
    /// A SETTINGS value outside its allowed range (§6.5.2).
    #[error("SETTINGS parameter 0x{id:x} has invalid value {value}")]
    InvalidSetting {
        /// The setting identifier.
        id: u16,
        /// The rejected value.
        value: u32,
    },
    /// A max frame size outside 2^14..=2^24-1 given to a splitting helper (§6.5.2).
    #[error("max frame size {0} outside 16384..=16777215")]
    InvalidMaxFrameSize(u32),
}

/// A max frame size outside 2^14..=2^24-1 was given to the decoder (RFC 9113 §6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("max frame size {0} outside 16384..=16777215")]
pub struct InvalidMaxFrameSize(pub u32);
