//! Close codes (RFC 6455 §7.4) and the typed protocol errors that map to them.

use std::fmt;

/// A close status code (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: closed without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: service restart.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: TLS handshake failure (never sent on the wire).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether the code may appear in a Close frame (§7.4.1, §7.4.2): 1000–1003,
    /// 1007–1014 (the registered codes), and 3000–4999 (libraries, frameworks and
    /// applications). 1004, 1005, 1006, 1015, anything below 1000, 1016–2999 and
    /// 5000 and above are not.
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

/// Why the connection failed ("_Fail the WebSocket Connection_", RFC 6455 §7.1.7).
///
/// Every kind maps to the close code sent to the peer ([`Error::close_code`]). Once a
/// decode error is returned, the [`Connection`](crate::Connection) has queued that Close
/// frame (see [`Connection::write_pending`](crate::Connection::write_pending)); the
/// driver writes it and closes the transport.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A client sent an unmasked frame (§5.1): 1002.
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A server sent a masked frame (§5.1): 1002.
    #[error("masked frame from a server")]
    MaskedFrame,
    /// An RSV bit without a negotiated extension that defines it (§5.2): 1002.
    #[error("reserved bits set without a negotiated extension")]
    ReservedBits,
    /// A reserved opcode (§5.2): 1002.
    #[error("unknown opcode {0:#x}")]
    UnknownOpcode(u8),
    /// A 64-bit payload length with its most significant bit set (§5.2): 1002.
    #[error("payload length with the most significant bit set")]
    InvalidLength,
    /// A control frame with a payload over 125 bytes (§5.5): 1002.
    #[error("control frame payload over 125 bytes")]
    ControlFrameTooLong,
    /// A control frame without FIN (§5.5): 1002.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A continuation frame outside a fragmented message (§5.4): 1002.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new data message inside a fragmented one (§5.4): 1002.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A Close frame with a one-byte payload (§5.5.1): 1002.
    #[error("close frame with a one-byte payload")]
    InvalidClosePayload,
    /// A close code that may not be sent (§7.4): 1002.
    #[error("close code {0} is not allowed on the wire")]
    InvalidCloseCode(u16),
    /// Text (a message or a close reason) that is not UTF-8 (§8.1): 1007.
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    /// A frame longer than [`Config::max_frame_size`](crate::Config::max_frame_size): 1009.
    #[error("frame of {len} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The frame's payload length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A message (after inflation, for compressed ones) longer than
    /// [`Config::max_message_size`](crate::Config::max_message_size): 1009.
    #[error("message exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Compressed data that does not inflate (RFC 7692 §6.2): 1002.
    #[error("invalid permessage-deflate data")]
    Inflate,
    /// A send after our Close frame was written (§5.5.1: nothing follows a Close).
    /// Local misuse: nothing is queued.
    #[error("the connection is closing: no frame may follow a Close")]
    Closing,
    /// A local send with an invalid argument (a control payload over 125 bytes, a close
    /// code not allowed on the wire, a continuation without a message to continue).
    /// Local misuse: nothing is queued.
    #[error("invalid frame to send: {0}")]
    InvalidSend(&'static str),
}

impl Error {
    /// The close code that reports this error to the peer.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Error::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Error::FrameTooLarge { .. } | Error::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            Error::Closing | Error::InvalidSend(_) => CloseCode::INTERNAL_ERROR,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_rules_of_section_7_4() {
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode(code).is_allowed_on_wire(), "{code}");
        }
        for code in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(CloseCode(code).is_allowed_on_wire(), "{code}");
        }
    }
}
