//! HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6) and the typed error of the
//! HTTP/3 framing layer.

use thiserror::Error;

use crate::qpack::QpackError;

/// An HTTP/3 application error code, as carried in QUIC `RESET_STREAM`,
/// `STOP_SENDING` and `CONNECTION_CLOSE` frames (RFC 9114 §8.1, RFC 9204 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ErrorCode {
    /// `H3_NO_ERROR` (0x100): no error, e.g. a graceful close.
    NoError = 0x100,
    /// `H3_GENERAL_PROTOCOL_ERROR` (0x101): a protocol violation without a more specific code.
    GeneralProtocolError = 0x101,
    /// `H3_INTERNAL_ERROR` (0x102): an internal error in the HTTP stack.
    InternalError = 0x102,
    /// `H3_STREAM_CREATION_ERROR` (0x103): the peer created a stream we will not accept.
    StreamCreationError = 0x103,
    /// `H3_CLOSED_CRITICAL_STREAM` (0x104): a control or QPACK stream was closed or reset.
    ClosedCriticalStream = 0x104,
    /// `H3_FRAME_UNEXPECTED` (0x105): a frame not permitted in the current state or stream.
    FrameUnexpected = 0x105,
    /// `H3_FRAME_ERROR` (0x106): a frame with a bad layout or invalid size.
    FrameError = 0x106,
    /// `H3_EXCESSIVE_LOAD` (0x107): the peer is generating excessive load.
    ExcessiveLoad = 0x107,
    /// `H3_ID_ERROR` (0x108): a stream or push ID was used incorrectly.
    IdError = 0x108,
    /// `H3_SETTINGS_ERROR` (0x109): an error in the payload of a SETTINGS frame.
    SettingsError = 0x109,
    /// `H3_MISSING_SETTINGS` (0x10a): the control stream did not start with SETTINGS.
    MissingSettings = 0x10a,
    /// `H3_REQUEST_REJECTED` (0x10b): a request was rejected without any processing.
    RequestRejected = 0x10b,
    /// `H3_REQUEST_CANCELLED` (0x10c): the request or its response was cancelled.
    RequestCancelled = 0x10c,
    /// `H3_REQUEST_INCOMPLETE` (0x10d): the client's stream ended without a full request.
    RequestIncomplete = 0x10d,
    /// `H3_MESSAGE_ERROR` (0x10e): a malformed HTTP message.
    MessageError = 0x10e,
    /// `H3_CONNECT_ERROR` (0x10f): the CONNECT tunnel's TCP connection failed.
    ConnectError = 0x10f,
    /// `H3_VERSION_FALLBACK` (0x110): retry over HTTP/1.1.
    VersionFallback = 0x110,
    /// `QPACK_DECOMPRESSION_FAILED` (0x200): an encoded field section could not be decoded.
    QpackDecompressionFailed = 0x200,
    /// `QPACK_ENCODER_STREAM_ERROR` (0x201): a bad instruction on the peer's encoder stream.
    QpackEncoderStreamError = 0x201,
    /// `QPACK_DECODER_STREAM_ERROR` (0x202): a bad instruction on the peer's decoder stream.
    QpackDecoderStreamError = 0x202,
}

impl ErrorCode {
    /// The wire value.
    pub fn code(self) -> u64 {
        self as u64
    }

    /// The code for a wire value, or `None` for unknown (including reserved `0x1f*N+0x21`)
    /// codes, which RFC 9114 §8 says to treat like `H3_NO_ERROR`.
    pub fn from_code(code: u64) -> Option<ErrorCode> {
        use ErrorCode::*;
        Some(match code {
            0x100 => NoError,
            0x101 => GeneralProtocolError,
            0x102 => InternalError,
            0x103 => StreamCreationError,
            0x104 => ClosedCriticalStream,
            0x105 => FrameUnexpected,
            0x106 => FrameError,
            0x107 => ExcessiveLoad,
            0x108 => IdError,
            0x109 => SettingsError,
            0x10a => MissingSettings,
            0x10b => RequestRejected,
            0x10c => RequestCancelled,
            0x10d => RequestIncomplete,
            0x10e => MessageError,
            0x10f => ConnectError,
            0x110 => VersionFallback,
            0x200 => QpackDecompressionFailed,
            0x201 => QpackEncoderStreamError,
            0x202 => QpackDecoderStreamError,
            _ => return None,
        })
    }

    /// The RFC name, e.g. `"H3_FRAME_UNEXPECTED"`.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            NoError => "H3_NO_ERROR",
            GeneralProtocolError => "H3_GENERAL_PROTOCOL_ERROR",
            InternalError => "H3_INTERNAL_ERROR",
            StreamCreationError => "H3_STREAM_CREATION_ERROR",
            ClosedCriticalStream => "H3_CLOSED_CRITICAL_STREAM",
            FrameUnexpected => "H3_FRAME_UNEXPECTED",
            FrameError => "H3_FRAME_ERROR",
            ExcessiveLoad => "H3_EXCESSIVE_LOAD",
            IdError => "H3_ID_ERROR",
            SettingsError => "H3_SETTINGS_ERROR",
            MissingSettings => "H3_MISSING_SETTINGS",
            RequestRejected => "H3_REQUEST_REJECTED",
            RequestCancelled => "H3_REQUEST_CANCELLED",
            RequestIncomplete => "H3_REQUEST_INCOMPLETE",
            MessageError => "H3_MESSAGE_ERROR",
            ConnectError => "H3_CONNECT_ERROR",
            VersionFallback => "H3_VERSION_FALLBACK",
            QpackDecompressionFailed => "QPACK_DECOMPRESSION_FAILED",
            QpackEncoderStreamError => "QPACK_ENCODER_STREAM_ERROR",
            QpackDecoderStreamError => "QPACK_DECODER_STREAM_ERROR",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:#x})", self.name(), self.code())
    }
}

/// True for the reserved "grease" values `0x1f * N + 0x21` of frame types, stream types,
/// setting identifiers and error codes (RFC 9114 §6.2.3, §7.2.8, §7.2.4.1, §8.1).
#[inline]
pub fn is_reserved(value: u64) -> bool {
    value >= 0x21 && (value - 0x21).is_multiple_of(0x1f)
}

/// Whether an error ends the whole connection or only the stream it occurred on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Close the connection (QUIC `CONNECTION_CLOSE` with [`Error::code`]).
    Connection,
    /// Reset/stop only the affected stream with [`Error::code`] (RFC 9114 §8).
    Stream,
}

/// An HTTP/3 protocol error detected by the framing layer or the stream state machines.
/// [`Error::code`] gives the wire error code and [`Error::scope`] whether it is a stream
/// or a connection error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame type that is not allowed here, e.g. DATA on the control stream, DATA
    /// before HEADERS, a second SETTINGS, or an HTTP/2-only type (RFC 9114 §7.2.8).
    #[error("H3_FRAME_UNEXPECTED: frame type {frame_type:#x} {reason}")]
    FrameUnexpected {
        /// The offending frame type.
        frame_type: u64,
        /// Where/why it was unexpected.
        reason: &'static str,
    },
    /// A frame payload that does not match its layout (RFC 9114 §7.1): too short, extra
    /// bytes, or a stream that ended inside a frame.
    #[error("H3_FRAME_ERROR: frame type {frame_type:#x}: {reason}")]
    FrameError {
        /// The frame type being parsed.
        frame_type: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// A frame larger than our limit for its type (e.g. HEADERS above the max field
    /// section size). A stream error on request streams (the server may answer 431).
    #[error(
        "H3_EXCESSIVE_LOAD: frame type {frame_type:#x} of {len} bytes exceeds the limit of {limit}"
    )]
    FrameTooLarge {
        /// The frame type.
        frame_type: u64,
        /// The frame's announced payload length.
        len: u64,
        /// Our limit for that type.
        limit: u64,
        /// Whether this ends only the stream or the connection.
        scope: Scope,
    },
    /// The control stream's first frame was not SETTINGS (RFC 9114 §6.2.1).
    #[error("H3_MISSING_SETTINGS: first control frame has type {frame_type:#x}")]
    MissingSettings {
        /// The type of the first frame.
        frame_type: u64,
    },
    /// A bad SETTINGS payload: a duplicate identifier or an HTTP/2-only setting (RFC
    /// 9114 §7.2.4.1).
    #[error("H3_SETTINGS_ERROR: {reason} (setting {id:#x})")]
    SettingsError {
        /// The setting identifier.
        id: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// A stream or push ID used incorrectly, e.g. a GOAWAY ID larger than a previous one
    /// or a push ID above MAX_PUSH_ID.
    #[error("H3_ID_ERROR: {reason} (id {id})")]
    IdError {
        /// The offending identifier.
        id: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// A stream the peer must not create: a second control/QPACK stream, or a push stream
    /// from a client (RFC 9114 §6.2, RFC 9204 §4.2).
    #[error("H3_STREAM_CREATION_ERROR: {reason}")]
    StreamCreation {
        /// What was wrong.
        reason: &'static str,
    },
    /// A critical stream (control, QPACK encoder or decoder) was closed.
    #[error("H3_CLOSED_CRITICAL_STREAM: the peer closed its {stream} stream")]
    ClosedCriticalStream {
        /// Which stream.
        stream: &'static str,
    },
    /// The client's request stream ended without a complete request (RFC 9114 §4.1).
    #[error("H3_REQUEST_INCOMPLETE: the stream ended before the request headers")]
    RequestIncomplete,
    /// A malformed message (RFC 9114 §4.1.2), e.g. a content-length mismatch.
    #[error("H3_MESSAGE_ERROR: {reason}")]
    MessageError {
        /// What was wrong.
        reason: &'static str,
    },
    /// The peer makes us track more state than we allow, e.g. too many unidirectional
    /// streams whose type has not arrived yet.
    #[error("H3_EXCESSIVE_LOAD: {reason}")]
    ExcessiveLoad {
        /// What was exceeded.
        reason: &'static str,
    },
    /// A QPACK failure (field section decoding, encoder or decoder stream).
    #[error(transparent)]
    Qpack(#[from] QpackError),
}

impl Error {
    /// The HTTP/3 error code to send.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::FrameUnexpected { .. } => ErrorCode::FrameUnexpected,
            Error::FrameError { .. } => ErrorCode::FrameError,
            Error::FrameTooLarge { .. } => ErrorCode::ExcessiveLoad,
            Error::MissingSettings { .. } => ErrorCode::MissingSettings,
            Error::SettingsError { .. } => ErrorCode::SettingsError,
            Error::IdError { .. } => ErrorCode::IdError,
            Error::StreamCreation { .. } => ErrorCode::StreamCreationError,
            Error::ClosedCriticalStream { .. } => ErrorCode::ClosedCriticalStream,
            Error::RequestIncomplete => ErrorCode::RequestIncomplete,
            Error::MessageError { .. } => ErrorCode::MessageError,
            Error::ExcessiveLoad { .. } => ErrorCode::ExcessiveLoad,
            Error::Qpack(e) => e.code(),
        }
    }

    /// Whether the error ends the connection or only the stream.
    pub fn scope(&self) -> Scope {
        match self {
            Error::FrameTooLarge { scope, .. } => *scope,
            Error::RequestIncomplete | Error::MessageError { .. } => Scope::Stream,
            Error::Qpack(e) => e.scope(),
            _ => Scope::Connection,
        }
    }

    /// Shorthand for `self.scope() == Scope::Connection`.
    pub fn is_connection_error(&self) -> bool {
        self.scope() == Scope::Connection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in (0x100..=0x110).chain(0x200..=0x202) {
            let e = ErrorCode::from_code(code).unwrap();
            assert_eq!(e.code(), code);
            assert!(e.name().starts_with("H3_") || e.name().starts_with("QPACK_"));
        }
        assert_eq!(ErrorCode::from_code(0x111), None);
        assert_eq!(ErrorCode::from_code(0x21), None);
        assert_eq!(ErrorCode::FrameUnexpected.code(), 0x105);
        assert_eq!(ErrorCode::MissingSettings.code(), 0x10a);
        assert_eq!(ErrorCode::QpackDecoderStreamError.code(), 0x202);
        assert_eq!(ErrorCode::FrameError.to_string(), "H3_FRAME_ERROR (0x106)");
    }

    #[test]
    fn reserved_values() {
        assert!(is_reserved(0x21));
        assert!(is_reserved(0x40));
        assert!(is_reserved(0x1f * 1000 + 0x21));
        assert!(is_reserved(0x3fff_ffff_ffff_fffe));
        assert!(!is_reserved(0x20));
        assert!(!is_reserved(0x22));
        assert!(!is_reserved(0));
    }
}
