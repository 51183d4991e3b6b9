//! [`StreamId`]: a 31-bit HTTP/2 stream identifier (RFC 9113 §5.1.1).

use std::fmt;

/// A stream identifier (RFC 9113 §5.1.1): 31 bits, odd for streams the client opens, even
/// for streams the server opens (push, which this crate does not use), 0 for the
/// connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: frames about the connection as a whole.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest identifier (2^31 - 1).
    pub const MAX: StreamId = StreamId(crate::MAX_STREAM_ID);

    /// The identifier `id` with the reserved high bit cleared.
    pub const fn new(id: u32) -> StreamId {
        StreamId(id & crate::MAX_STREAM_ID)
    }

    /// The identifier as a number.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// True for stream 0 (the connection).
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True for odd identifiers: streams opened by the client (§5.1.1).
    pub const fn is_client_initiated(self) -> bool {
        !self.0.is_multiple_of(2)
    }

    /// True for even, non-zero identifiers: streams opened by the server (§5.1.1).
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0.is_multiple_of(2)
    }

    /// The next identifier the same end would use (`self + 2`), if any is left.
    pub const fn next(self) -> Option<StreamId> {
        match self.0.checked_add(2) {
            Some(n) if n <= crate::MAX_STREAM_ID => Some(StreamId(n)),
            _ => None,
        }
    }
}

impl From<u32> for StreamId {
    fn from(id: u32) -> Self {
        StreamId::new(id)
    }
}

impl From<StreamId> for u32 {
    fn from(id: StreamId) -> Self {
        id.0
    }
}

impl PartialEq<u32> for StreamId {
    fn eq(&self, other: &u32) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::StreamId;

    #[test]
    fn parity_and_next() {
        assert!(StreamId::new(1).is_client_initiated());
        assert!(!StreamId::new(1).is_server_initiated());
        assert!(StreamId::new(2).is_server_initiated());
        assert!(!StreamId::ZERO.is_server_initiated());
        assert!(StreamId::ZERO.is_zero());
        assert_eq!(StreamId::new(0x8000_0001), 1);
        assert_eq!(StreamId::new(1).next(), Some(StreamId::new(3)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(7).to_string(), "7");
    }
}
