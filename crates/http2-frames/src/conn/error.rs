//! Connection and stream errors of [`Connection`](super::Connection).

use crate::ErrorCode;

/// How the connection ended with an error: the code was sent in a GOAWAY frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("HTTP/2 connection error {code}: {reason}")]
pub struct ConnectionError {
    /// The GOAWAY error code.
    pub code: ErrorCode,
    /// Why, for logs.
    pub reason: &'static str,
}

/// Why a stream operation did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Not now: nothing to read yet, no flow-control window, the output buffer is full, or
    /// the peer's stream limit is reached. Retry after the matching [`Event`](super::Event)
    /// (`StreamReadable`, `StreamWritable`, `Response`, `CanOpenStream`) or a reset.
    #[error("operation would block")]
    WouldBlock,
    /// The stream was reset (by the peer, or by us after a protocol error).
    #[error("stream reset ({0})")]
    Reset(ErrorCode),
    /// The stream is unknown or already finished.
    #[error("stream closed")]
    Closed,
    /// The connection is gone.
    #[error("connection closed")]
    ConnectionClosed,
}
