//! [`Event`]: what the connection tells its driver.

use super::StreamId;
use crate::ErrorCode;

/// Something the driver must act on, taken with
/// [`Connection::poll_event`](super::Connection::poll_event).
///
/// The `Stream*` events and [`Event::CanOpenStream`] replace wakers: each tells the driver
/// that a call which earlier returned [`StreamError::WouldBlock`](super::StreamError::WouldBlock)
/// (or `None`) is worth retrying now, so it wakes whatever task waits on that stream. An
/// event is emitted once per refusal (no storm of duplicates); retrying when no event
/// came is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server role: a new request; take its head with
    /// [`Connection::take_head`](super::Connection::take_head).
    Request {
        /// The stream.
        stream_id: StreamId,
    },
    /// Client role: the final response head arrived (1xx heads are skipped); take it with
    /// [`Connection::take_response`](super::Connection::take_response).
    Response {
        /// The stream.
        stream_id: StreamId,
    },
    /// Body bytes, the end of the body or the trailers arrived on a stream whose
    /// [`Connection::read_data`](super::Connection::read_data) returned `WouldBlock`.
    StreamReadable {
        /// The stream.
        stream_id: StreamId,
    },
    /// Send capacity appeared (flow-control credit or room in the output buffer) for a
    /// stream whose [`Connection::send_data`](super::Connection::send_data) returned
    /// `WouldBlock`.
    StreamWritable {
        /// The stream.
        stream_id: StreamId,
    },
    /// A stream was reset: by the peer (RST_STREAM, or a GOAWAY that excluded it:
    /// `remote`), or locally (a stream error we detected, a stall, a connection error,
    /// the peer's EOF). Emitted once per stream. Whatever works on the stream should stop
    /// and call [`Connection::release`](super::Connection::release).
    StreamReset {
        /// The stream.
        stream_id: StreamId,
        /// The error code.
        code: ErrorCode,
        /// True when the peer reset the stream (RST_STREAM or GOAWAY).
        remote: bool,
    },
    /// Client role: [`Connection::open_stream`](super::Connection::open_stream) returned
    /// `WouldBlock`, and a stream slot or output space is free now.
    CanOpenStream,
    /// The peer sent GOAWAY.
    GoAway {
        /// Its code.
        code: ErrorCode,
        /// The last stream it will consider.
        last_stream_id: StreamId,
    },
}
