//! The 9-byte frame header (RFC 9113 §4.1), frame types (§6, §11.2) and flags.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// Length of the frame header in bytes (RFC 9113 §4.1).
pub const FRAME_HEADER_LEN: usize = 9;

/// The largest stream identifier (31 bits, RFC 9113 §5.1.1).
pub const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// The type of a frame (RFC 9113 §6). Types not defined by RFC 9113 are preserved as
/// [`FrameKind::Unknown`]; RFC 9113 §4.1 and §5.5 require receivers to ignore them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// DATA, type 0x0 (§6.1).
    Data,
    /// HEADERS, type 0x1 (§6.2).
    Headers,
    /// PRIORITY, type 0x2 (§6.3).
    Priority,
    /// RST_STREAM, type 0x3 (§6.4).
    RstStream,
    /// SETTINGS, type 0x4 (§6.5).
    Settings,
    /// PUSH_PROMISE, type 0x5 (§6.6).
    PushPromise,
    /// PING, type 0x6 (§6.7).
    Ping,
    /// GOAWAY, type 0x7 (§6.8).
    GoAway,
    /// WINDOW_UPDATE, type 0x8 (§6.9).
    WindowUpdate,
    /// CONTINUATION, type 0x9 (§6.10).
    Continuation,
    /// Any other type (extension frames, §5.5), with its wire value.
    Unknown(u8),
}

impl FrameKind {
    /// The kind for a wire type byte.
    pub const fn from_u8(value: u8) -> FrameKind {
        match value {
            0x0 => FrameKind::Data,
            0x1 => FrameKind::Headers,
            0x2 => FrameKind::Priority,
            0x3 => FrameKind::RstStream,
            0x4 => FrameKind::Settings,
            0x5 => FrameKind::PushPromise,
            0x6 => FrameKind::Ping,
            0x7 => FrameKind::GoAway,
            0x8 => FrameKind::WindowUpdate,
            0x9 => FrameKind::Continuation,
            other => FrameKind::Unknown(other),
        }
    }

    /// The wire type byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            FrameKind::Data => 0x0,
            FrameKind::Headers => 0x1,
            FrameKind::Priority => 0x2,
            FrameKind::RstStream => 0x3,
            FrameKind::Settings => 0x4,
            FrameKind::PushPromise => 0x5,
            FrameKind::Ping => 0x6,
            FrameKind::GoAway => 0x7,
            FrameKind::WindowUpdate => 0x8,
            FrameKind::Continuation => 0x9,
            FrameKind::Unknown(v) => v,
        }
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            FrameKind::Data => "DATA",
            FrameKind::Headers => "HEADERS",
            FrameKind::Priority => "PRIORITY",
            FrameKind::RstStream => "RST_STREAM",
            FrameKind::Settings => "SETTINGS",
            FrameKind::PushPromise => "PUSH_PROMISE",
            FrameKind::Ping => "PING",
            FrameKind::GoAway => "GOAWAY",
            FrameKind::WindowUpdate => "WINDOW_UPDATE",
            FrameKind::Continuation => "CONTINUATION",
            FrameKind::Unknown(v) => return write!(f, "UNKNOWN(0x{v:02x})"),
        };
        f.write_str(name)
    }
}

/// The 8-bit flags field of a frame header. The meaning of a bit depends on the frame
/// type; unused flags are ignored on receipt and never set when sending (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No flags.
    pub const EMPTY: Flags = Flags(0);
    /// END_STREAM (0x1) on DATA and HEADERS (§6.1, §6.2).
    pub const END_STREAM: Flags = Flags(0x1);
    /// ACK (0x1) on SETTINGS and PING (§6.5, §6.7).
    pub const ACK: Flags = Flags(0x1);
    /// END_HEADERS (0x4) on HEADERS, PUSH_PROMISE and CONTINUATION (§6.2, §6.6, §6.10).
    pub const END_HEADERS: Flags = Flags(0x4);
    /// PADDED (0x8) on DATA, HEADERS and PUSH_PROMISE (§6.1, §6.2, §6.6).
    pub const PADDED: Flags = Flags(0x8);
    /// PRIORITY (0x20) on HEADERS (§6.2).
    pub const PRIORITY: Flags = Flags(0x20);

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` set when `on`, left alone otherwise.
    pub const fn with(self, other: Flags, on: bool) -> Flags {
        if on {
            Flags(self.0 | other.0)
        } else {
            self
        }
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

/// The 9-byte header that starts every frame (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Payload length (24 bits; the header's 9 bytes are not included).
    pub length: u32,
    /// Frame type.
    pub kind: FrameKind,
    /// Flags, as received.
    pub flags: Flags,
    /// Stream identifier, with the reserved bit cleared (it "MUST be ignored when
    /// receiving", §4.1).
    pub stream_id: u32,
}

impl FrameHeader {
    /// Parses a header from the first 9 bytes of `buf`; `None` if `buf` is shorter.
    #[inline]
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; FRAME_HEADER_LEN] = buf.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: FrameKind::from_u8(h[3]),
            flags: Flags(h[4]),
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & MAX_STREAM_ID,
        })
    }

    /// The 9 wire bytes. The length is truncated to 24 bits and the stream identifier's
    /// reserved bit is cleared; the encoders in this crate check both beforehand.
    #[inline]
    pub fn to_bytes(&self) -> [u8; FRAME_HEADER_LEN] {
        let l = self.length.to_be_bytes();
        let s = (self.stream_id & MAX_STREAM_ID).to_be_bytes();
        [
            l[1],
            l[2],
            l[3],
            self.kind.as_u8(),
            self.flags.0,
            s[0],
            s[1],
            s[2],
            s[3],
        ]
    }

    /// Appends the 9 wire bytes to `dst` (see [`FrameHeader::to_bytes`]).
    #[inline]
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.to_bytes());
    }

    /// Header plus payload length: the bytes the whole frame occupies.
    #[inline]
    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_LEN + self.length as usize
    }
}
