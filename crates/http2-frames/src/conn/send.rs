//! Sending: field sections (HEADERS + CONTINUATION), DATA within the flow-control windows
//! and the output high-water mark, opening streams (client role), resets and the end of
//! a stream's life (`release`).

use super::stream::Blocked;
use super::{Connection, Role, StreamError, StreamId};
use crate::{Data, ErrorCode, Headers, RstStream};

impl Connection {
    /// Sends a field section on stream `id`: the response head (server role), or trailers
    /// (either role, with `end_stream`). HEADERS plus CONTINUATION frames as needed.
    /// `fields` must be lowercase and valid (RFC 9113 §8.2); they are not checked here.
    pub fn send_headers<'h>(
        &mut self,
        id: StreamId,
        fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        if self.error.is_some() {
            return Err(StreamError::ConnectionClosed);
        }
        let Some(s) = self.store.get_mut(id) else {
            return Err(StreamError::Closed);
        };
        if let Some(code) = s.reset {
            return Err(StreamError::Reset(code));
        }
        if s.send_closed {
            return Err(StreamError::Closed);
        }
        s.headers_sent = true;
        s.send_closed = end_stream;
        self.write_headers(id, fields, end_stream);
        Ok(())
    }

    fn write_headers<'h>(
        &mut self,
        id: StreamId,
        fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        end_stream: bool,
    ) {
        self.hblock.clear();
        self.encoder.encode(fields, &mut self.hblock);
        let _ = Headers {
            stream_id: id.value(),
            fragment: &self.hblock,
            end_stream,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
        .encode_split(&mut self.out, self.peer.max_frame_size);
    }

    /// Client role: opens a stream with a request field section (`:method`, `:scheme`,
    /// `:authority`, `:path`, then lowercase fields) and returns its id.
    /// `Err(WouldBlock)` while the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached or
    /// the output buffer is full ([`Event::CanOpenStream`](super::Event::CanOpenStream)
    /// follows; pass the fields again then). `Err(ConnectionClosed)` after an error, a
    /// GOAWAY, on the server role, or when the stream ids are used up.
    pub fn open_stream<'h>(
        &mut self,
        fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        end_stream: bool,
    ) -> Result<StreamId, StreamError> {
        if self.error.is_some() || self.goaway_received || self.role != Role::Client {
            return Err(StreamError::ConnectionClosed);
        }
        let max = self.peer.max_concurrent_streams.unwrap_or(u32::MAX) as usize;
        if self.store.len() >= max {
            self.open_blocked = true;
            return Err(StreamError::WouldBlock);
        }
        if self.pending_output().len() >= self.config.max_output_buffer {
            self.open_blocked = true;
            self.output_blocked = true;
            return Err(StreamError::WouldBlock);
        }
        let id = self.next_stream_id;
        if id.is_zero() {
            // Every odd id was used (§5.1.1): a new connection is needed.
            return Err(StreamError::ConnectionClosed);
        }
        self.next_stream_id = id.next().unwrap_or(StreamId::ZERO);
        let mut s = self.new_stream();
        s.headers_sent = true;
        s.send_closed = end_stream;
        self.store.insert(id, s);
        self.write_headers(id, fields, end_stream);
        Ok(id)
    }

    /// Sends body bytes on stream `id` within the flow-control windows: `Ok(n)` with `n`
    /// bytes accepted (as DATA frames of at most the peer's max frame size; END_STREAM on
    /// the last one if `end_stream` and everything was accepted). `Err(WouldBlock)` when
    /// no window is open or the output buffer is full;
    /// [`Event::StreamWritable`](super::Event::StreamWritable) follows when that changes.
    /// With empty `data` and `end_stream`, sends an empty DATA frame with END_STREAM.
    pub fn send_data(
        &mut self,
        id: StreamId,
        data: &[u8],
        end_stream: bool,
    ) -> Result<usize, StreamError> {
        if self.error.is_some() {
            return Err(StreamError::ConnectionClosed);
        }
        let out_full = self.pending_output().len() >= self.config.max_output_buffer;
        let room = self
            .config
            .max_output_buffer
            .saturating_sub(self.pending_output().len());
        let conn_window = self.flow.send_window;
        let max_frame = self.peer.max_frame_size;
        let Some(s) = self.store.get_mut(id) else {
            return Err(StreamError::Closed);
        };
        if let Some(code) = s.reset {
            return Err(StreamError::Reset(code));
        }
        if s.send_closed {
            return Err(StreamError::Closed);
        }
        if out_full {
            s.wants_output = true;
            self.output_blocked = true;
            return Err(StreamError::WouldBlock);
        }
        let window = conn_window.min(s.send_window).max(0) as usize;
        let n = data.len().min(window).min(room.max(max_frame as usize));
        if n == 0 && !data.is_empty() {
            s.wants_window = true;
            let cause = if s.send_window <= 0 {
                Blocked::Stream
            } else {
                Blocked::Connection
            };
            if s.blocked != cause {
                // A zero-window stall starts: `handle_timeout` stamps it.
                s.blocked = cause;
                s.stalled_since = None;
                self.timers.stall_scan = true;
            }
            return Err(StreamError::WouldBlock);
        }
        s.blocked = Blocked::No;
        s.stalled_since = None;
        let end = end_stream && n == data.len();
        s.send_window -= n as i64;
        if end {
            s.send_closed = true;
        }
        self.flow.send_window -= n as i64;
        let _ = Data {
            stream_id: id.value(),
            data: &data[..n],
            end_stream: end,
            pad_len: None,
        }
        .encode_split(&mut self.out, max_frame);
        Ok(n)
    }

    /// Resets stream `id` with `code` (e.g. CANCEL or INTERNAL_ERROR from the stream
    /// side): RST_STREAM is queued and [`Event::StreamReset`](super::Event::StreamReset)
    /// emitted. The stream still needs [`Connection::release`].
    pub fn reset(&mut self, id: StreamId, code: ErrorCode) {
        let Some(s) = self.store.get_mut(id) else {
            return;
        };
        if !s.set_reset(id, code, false, &mut self.events) {
            return;
        }
        let _ = RstStream {
            stream_id: id.value(),
            error_code: code,
        }
        .encode(&mut self.out);
        self.store.recent.insert(id);
        self.discard_stream_data(id);
    }

    /// The stream side is finished with stream `id`; the stream is forgotten. Server
    /// role: if the response is complete but the request body is still arriving, the
    /// stream is reset with NO_ERROR (RFC 9113 §8.1); if the response is incomplete, with
    /// INTERNAL_ERROR. Client role: an unfinished exchange is reset with CANCEL.
    pub fn release(&mut self, id: StreamId) {
        let Some(s) = self.store.get(id) else {
            return;
        };
        if s.reset.is_none() {
            if self.role == Role::Client {
                if !s.send_closed || !s.recv_closed {
                    self.reset(id, ErrorCode::Cancel);
                }
            } else if !s.send_closed {
                self.reset(id, ErrorCode::InternalError);
            } else if !s.recv_closed {
                self.reset(id, ErrorCode::NoError);
            }
        }
        self.remove_stream(id);
    }
}
