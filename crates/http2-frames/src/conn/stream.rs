//! One stream's state (RFC 9113 §5.1): which halves are closed, reset, windows, the
//! buffered body, the decoded heads, and which retries the driver waits for.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Event, FieldBlock, StreamId};
use crate::ErrorCode;

/// Why a stream's body cannot be sent (stall detection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// Not blocked (or not known to be).
    #[default]
    No,
    /// The stream's own send window is used up: the peer does not read this stream.
    Stream,
    /// The connection's send window is used up (the stream's is open).
    Connection,
}

/// A stream's state. §5.1 states map onto the two `*_closed` flags and `reset`: open
/// (neither closed), half-closed local (`send_closed`), half-closed remote
/// (`recv_closed`), closed (both, or `reset`). Idle streams have no entry.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// The request head (server role) or final response head (client role), until taken.
    pub(crate) head: Option<FieldBlock>,
    pub(crate) recv_closed: bool,
    pub(crate) send_closed: bool,
    pub(crate) headers_sent: bool,
    pub(crate) reset: Option<ErrorCode>,
    /// The peer reset the stream: its further frames are errors (§5.1 "closed").
    pub(crate) peer_reset: bool,
    /// Client role: the final response head arrived.
    pub(crate) response_received: bool,
    /// The peer's trailer section (request or response), once received (§8.1).
    pub(crate) trailers: Option<FieldBlock>,
    pub(crate) send_window: i64,
    pub(crate) recv_window: i64,
    pub(crate) recv_unacked: u32,
    pub(crate) content_length: Option<u64>,
    pub(crate) received: u64,
    pub(crate) buf: Vec<u8>,
    pub(crate) buf_pos: usize,
    /// Bytes read by the stream side and not released yet
    /// ([`Config::release_on_demand`](super::Config::release_on_demand)).
    pub(crate) unreleased: u64,
    /// `read_data` / `take_response` returned `WouldBlock`: emit `StreamReadable`.
    pub(crate) wants_read: bool,
    /// `send_data` returned `WouldBlock` for lack of window: emit `StreamWritable`.
    pub(crate) wants_window: bool,
    /// `send_data` returned `WouldBlock` for lack of output space: emit `StreamWritable`
    /// once the output is drained.
    pub(crate) wants_output: bool,
    /// The last send was refused for lack of flow-control window, and which one.
    pub(crate) blocked: Blocked,
    /// When the stream's own window stall was first seen (stamped by `handle_timeout`).
    pub(crate) stalled_since: Option<Instant>,
}

impl Stream {
    /// Body bytes buffered and not read yet.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len() - self.buf_pos
    }

    /// Something to read arrived: tells a waiting reader.
    pub(crate) fn readable(&mut self, id: StreamId, events: &mut VecDeque<Event>) {
        if std::mem::take(&mut self.wants_read) {
            events.push_back(Event::StreamReadable { stream_id: id });
        }
    }

    /// Flow-control credit arrived: tells a waiting writer.
    pub(crate) fn writable(&mut self, id: StreamId, events: &mut VecDeque<Event>) {
        if std::mem::take(&mut self.wants_window) {
            events.push_back(Event::StreamWritable { stream_id: id });
        }
    }

    /// Marks the stream reset with `code` unless it already was; the first time, emits
    /// [`Event::StreamReset`] (which stands for every waiter of the stream).
    pub(crate) fn set_reset(
        &mut self,
        id: StreamId,
        code: ErrorCode,
        remote: bool,
        events: &mut VecDeque<Event>,
    ) -> bool {
        if self.reset.is_some() {
            return false;
        }
        self.reset = Some(code);
        self.wants_read = false;
        self.wants_window = false;
        self.wants_output = false;
        events.push_back(Event::StreamReset {
            stream_id: id,
            code,
            remote,
        });
        true
    }
}
