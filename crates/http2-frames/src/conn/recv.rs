//! Receiving: [`Connection::recv`] and the handling of each frame type (RFC 9113 §6),
//! plus the stream side's reading calls (heads, body bytes, trailers).

use std::time::Instant;

use shockwave_hpack::DecodeError;

use super::{
    Connection, ConnectionError, Event, FieldBlock, OpenBlock, Role, StreamError, StreamId,
};
use crate::{match_preface, Data, ErrorCode, Frame, Headers, RstStream, Scope, SettingsFrame};

impl Connection {
    /// Consumes bytes read from the peer at time `now`: returns how many were used (keep
    /// the rest and call again with more appended). Stops early while the output buffer
    /// is above [`Config::max_output_buffer`](super::Config::max_output_buffer)
    /// (backpressure: write, then call again). On a connection error a GOAWAY is queued,
    /// the error is returned, and later input is refused with the same error. `now` only
    /// feeds the rate limits (resets, glitches); timers advance in
    /// [`Connection::handle_timeout`].
    pub fn recv(&mut self, input: &[u8], now: Instant) -> Result<usize, ConnectionError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut pos = 0;
        if !self.preface_done {
            match match_preface(input) {
                Ok(Some(n)) => {
                    pos = n;
                    self.preface_done = true;
                }
                Ok(None) => return Ok(0),
                Err(_) => return Err(self.conn_error(ErrorCode::ProtocolError, "bad preface")),
            }
        }
        while pos < input.len() && self.error.is_none() {
            if self.pending_output().len() >= self.config.max_output_buffer {
                // Backpressure: answer nothing more until the peer reads what we wrote.
                break;
            }
            match self.frames.decode(&input[pos..]) {
                Ok(Some((frame, n))) => {
                    pos += n;
                    self.timers.heard = true;
                    if !matches!(frame, Frame::Ping(p) if p.ack) {
                        self.timers.activity += 1;
                    }
                    self.handle_frame(frame, now)?;
                }
                Ok(None) => break,
                Err(e) => match e.scope {
                    Scope::Stream(id) if e.frame_len > 0 => {
                        pos += e.frame_len;
                        if !self.got_settings {
                            return Err(self.conn_error(
                                ErrorCode::ProtocolError,
                                "first frame is not SETTINGS",
                            ));
                        }
                        self.stream_error(StreamId::new(id), e.code, now)?;
                    }
                    _ => return Err(self.conn_error(e.code, "invalid frame")),
                },
            }
        }
        Ok(pos)
    }

    fn handle_frame(&mut self, frame: Frame<'_>, now: Instant) -> Result<(), ConnectionError> {
        let first_settings = !self.got_settings;
        if first_settings {
            // §3.4: the preface continues with a SETTINGS frame.
            match frame {
                Frame::Settings(s) if !s.is_ack() => self.got_settings = true,
                _ => {
                    return Err(
                        self.conn_error(ErrorCode::ProtocolError, "first frame is not SETTINGS")
                    )
                }
            }
        }
        match frame {
            Frame::Data(d) => self.on_data(d, now),
            Frame::Headers(h) => self.on_headers(h, now),
            Frame::Continuation(c) => {
                // The frame decoder checked the sequencing and the CONTINUATION-flood
                // limits (total block size and frame count) before we buffer anything.
                self.block_buf.extend_from_slice(c.fragment);
                if c.end_headers {
                    if let Some(b) = self.open_block.take() {
                        let block = std::mem::take(&mut self.block_buf);
                        let r = self.on_header_block(
                            b.stream_id,
                            &block,
                            b.end_stream,
                            b.priority_error,
                            now,
                        );
                        self.block_buf = block;
                        return r;
                    }
                }
                Ok(())
            }
            // §5.3.2: deprecated signal, parsed and ignored; it costs a decode, so it
            // counts as a glitch.
            Frame::Priority(_) => self.glitch(now),
            Frame::RstStream(r) => self.on_rst(r, now),
            Frame::Settings(s) => {
                // Every SETTINGS after the preface's, and every ACK we did not ask for,
                // is a glitch: a peer changes its settings a few times at most.
                if (!s.is_ack() && !first_settings) || (s.is_ack() && self.settings_unacked == 0) {
                    self.glitch(now)?;
                }
                self.on_settings(&s)
            }
            Frame::PushPromise(_) => Err(self.conn_error(
                ErrorCode::ProtocolError,
                // §8.4: a client never pushes; our clients disable push (§6.5.2).
                "PUSH_PROMISE received",
            )),
            Frame::Ping(p) => {
                if !p.ack {
                    self.control_frame()?;
                    let _ = p.pong().encode(&mut self.out);
                } else if self.timers.ping.is_some_and(|(data, _)| data == p.data) {
                    // §6.7: the ACK of our PING (one with other data is ignored).
                    self.timers.ping = None;
                }
                Ok(())
            }
            Frame::GoAway(g) => {
                self.goaway_received = true;
                if self.role == Role::Client {
                    // Streams above the last one the server will process were never
                    // served: fail them as refused (safe to retry, §6.8).
                    for (id, s) in self.store.iter_mut() {
                        if id.value() > g.last_stream_id {
                            s.set_reset(id, ErrorCode::RefusedStream, true, &mut self.events);
                        }
                    }
                }
                self.events.push_back(Event::GoAway {
                    code: g.error_code,
                    last_stream_id: StreamId::new(g.last_stream_id),
                });
                Ok(())
            }
            Frame::WindowUpdate(w) => self.on_window_update(w, now),
            Frame::Unknown(_) => self.glitch(now), // §5.5: ignored, but counted.
        }
    }

    fn on_headers(&mut self, h: Headers<'_>, now: Instant) -> Result<(), ConnectionError> {
        let priority_error = h.check_priority().is_err();
        let id = StreamId::new(h.stream_id);
        if h.end_headers {
            return self.on_header_block(id, h.fragment, h.end_stream, priority_error, now);
        }
        self.block_buf.clear();
        self.block_buf.extend_from_slice(h.fragment);
        self.open_block = Some(OpenBlock {
            stream_id: id,
            end_stream: h.end_stream,
            priority_error,
            started: now,
        });
        Ok(())
    }

    fn on_data(&mut self, d: Data<'_>, now: Instant) -> Result<(), ConnectionError> {
        let id = StreamId::new(d.stream_id);
        let len = d.flow_controlled_len() as i64;
        if d.data.is_empty() && !d.end_stream {
            // Carries nothing (padding at most): a glitch.
            self.glitch(now)?;
        }
        if self.is_idle(id) {
            return Err(self.conn_error(ErrorCode::ProtocolError, "DATA on an idle stream"));
        }
        // §6.9: every DATA frame counts against the connection window.
        if len > self.flow.recv_window {
            return Err(self.conn_error(ErrorCode::FlowControlError, "connection window exceeded"));
        }
        self.flow.recv_window -= len;
        let Some(s) = self.store.get_mut(id) else {
            self.release_conn(len as u32);
            if !self.store.recent.contains(id) {
                // §5.1: DATA on a closed stream.
                return self.stream_error(id, ErrorCode::StreamClosed, now);
            }
            return Ok(());
        };
        if s.reset.is_some() {
            let peer_reset = s.peer_reset;
            self.release_conn(len as u32);
            if peer_reset {
                return self.stream_error(id, ErrorCode::StreamClosed, now);
            }
            return Ok(());
        }
        if s.recv_closed {
            // §5.1 half-closed (remote): STREAM_CLOSED.
            self.release_conn(len as u32);
            return self.stream_error(id, ErrorCode::StreamClosed, now);
        }
        if len > s.recv_window {
            self.release_conn(len as u32);
            return self.stream_error(id, ErrorCode::FlowControlError, now);
        }
        s.recv_window -= len;
        s.received += d.data.len() as u64;
        if s.content_length.is_some_and(|cl| s.received > cl)
            || (d.end_stream && s.content_length.is_some_and(|cl| s.received != cl))
        {
            // §8.1.1: content-length must match the DATA received.
            self.release_conn(len as u32);
            return self.stream_error(id, ErrorCode::ProtocolError, now);
        }
        if s.buf_pos == s.buf.len() {
            s.buf.clear();
            s.buf_pos = 0;
        }
        if s.buf.capacity() == 0 {
            if let Some(b) = self.store.spare_buf() {
                // Re-borrow: the store lent a buffer.
                let s = self.store.get_mut(id).expect("stream exists");
                s.buf = b;
            }
        }
        let s = self.store.get_mut(id).expect("stream exists");
        s.buf.extend_from_slice(d.data);
        self.flow.held += d.data.len() as u64;
        if d.end_stream {
            s.recv_closed = true;
        }
        if !d.data.is_empty() || d.end_stream {
            s.readable(id, &mut self.events);
        }
        let padding = len as u32 - d.data.len() as u32;
        if padding > 0 {
            // Padding is consumed on arrival.
            self.release_conn(padding);
            self.release_stream_window(id, padding);
        }
        Ok(())
    }

    fn on_header_block(
        &mut self,
        id: StreamId,
        block: &[u8],
        end_stream: bool,
        priority_error: bool,
        now: Instant,
    ) -> Result<(), ConnectionError> {
        // Decode first, whatever happens to the stream: the HPACK context is shared by
        // the connection (§4.3).
        self.scratch.clear();
        let mut too_large;
        {
            let scratch = &mut self.scratch;
            // Field count cap: past it nothing more is stored (the block is still decoded
            // to its end so the HPACK table stays in sync) and the block is answered as a
            // too-large one.
            let max_fields = self.config.max_header_fields;
            let mut count = 0usize;
            let mut too_many = false;
            // A peer that already sent an oversized list in this window gets no second
            // full decode: far over the limit decoding stops (the HPACK table is then out
            // of step, so the connection closes below), so a block of thousands of
            // references costs no more than a list of 4x the limit. The first one is
            // decoded to its end and answered 431, the connection kept.
            let abort = if self.oversized_lists.current(now) > 0 {
                (self.config.max_header_list_size as usize)
                    .saturating_mul(super::HEADER_LIST_ABORT_FACTOR)
            } else {
                usize::MAX
            };
            let res = self.decoder.decode_until(block, abort, |n, v| {
                if too_many {
                    return;
                }
                count += 1;
                if count > max_fields {
                    too_many = true;
                    return;
                }
                scratch.push(n, v);
            });
            too_large = too_many;
            match res {
                Ok(()) => {}
                Err(DecodeError::HeaderListTooLarge { .. }) => too_large = true,
                Err(DecodeError::HeaderListAborted { .. }) => {
                    return Err(self
                        .conn_error(ErrorCode::EnhanceYourCalm, "header list far over the limit"))
                }
                Err(_) => {
                    return Err(self.conn_error(ErrorCode::CompressionError, "HPACK decoding"))
                }
            }
        }
        if too_large && self.oversized_lists.hit(now) {
            // A peer that keeps sending lists over the limit makes us decode each one to
            // its end (for the table's sake) only to refuse it: cut it off.
            return Err(self.conn_error(
                ErrorCode::EnhanceYourCalm,
                "too many oversized header lists",
            ));
        }
        if self.role == Role::Client {
            return self.on_response_block(id, end_stream, too_large, now);
        }
        if !id.is_client_initiated() {
            return Err(self.conn_error(ErrorCode::ProtocolError, "even stream id from client"));
        }
        if let Some(s) = self.store.get_mut(id) {
            if s.reset.is_some() {
                if s.peer_reset {
                    return self.stream_error(id, ErrorCode::StreamClosed, now);
                }
                return Ok(());
            }
            if s.recv_closed {
                return self.stream_error(id, ErrorCode::StreamClosed, now);
            }
            // Trailers (§8.1): must end the stream, no pseudo-headers.
            if !end_stream || too_large || self.scratch.validate_trailers().is_err() {
                return self.stream_error(id, ErrorCode::ProtocolError, now);
            }
            if s.content_length.is_some_and(|cl| cl != s.received) {
                return self.stream_error(id, ErrorCode::ProtocolError, now);
            }
            return self.keep_trailers(id);
        }
        if !self.is_idle(id) {
            if self.store.recent.contains(id) {
                return Ok(());
            }
            if self.store.closed.contains(id) {
                // §5.1: a closed stream cannot be reopened.
                return Err(self.conn_error(ErrorCode::StreamClosed, "HEADERS on a closed stream"));
            }
            // §5.1.1: a new stream id must be larger than every earlier one.
            return Err(self.conn_error(ErrorCode::ProtocolError, "stream id went backwards"));
        }
        self.last_stream_id = id;
        if self.goaway_sent.is_some_and(|last| id > last) {
            return Ok(()); // §6.8: streams after our GOAWAY are ignored.
        }
        if priority_error {
            return self.stream_error(id, ErrorCode::ProtocolError, now); // §5.3.1
        }
        if too_large {
            // §10.5.1: answer 431 instead of processing a too-large field section.
            self.respond_431(id, end_stream);
            return Ok(());
        }
        if self.store.len() >= self.config.max_concurrent_streams as usize {
            // §5.1.2: beyond SETTINGS_MAX_CONCURRENT_STREAMS.
            return self.stream_error(id, ErrorCode::RefusedStream, now);
        }
        if self.refuse_bodies && !end_stream {
            // §8.7: REFUSED_STREAM, not processed, safe to retry once memory is released.
            return self.stream_error(id, ErrorCode::RefusedStream, now);
        }
        if self
            .scratch
            .validate_request_with(self.config.enable_connect_protocol)
            .is_err()
        {
            return self.stream_error(id, ErrorCode::ProtocolError, now);
        }
        let mut s = self.new_stream();
        s.recv_closed = end_stream;
        s.content_length = self.scratch.content_length();
        if end_stream && s.content_length.is_some_and(|cl| cl != 0) {
            return self.stream_error(id, ErrorCode::ProtocolError, now);
        }
        let spare = self.store.spare_head();
        let mut head = std::mem::replace(&mut self.scratch, spare);
        head.end_stream = end_stream;
        s.head = Some(head);
        self.store.insert(id, s);
        self.events.push_back(Event::Request { stream_id: id });
        Ok(())
    }

    /// Keeps the validated trailer section in `scratch` for the stream side
    /// (`take_trailers`), in a recycled buffer, and ends the peer's half of the stream.
    fn keep_trailers(&mut self, id: StreamId) -> Result<(), ConnectionError> {
        let spare = self.store.spare_head();
        let trailers = std::mem::replace(&mut self.scratch, spare);
        if let Some(s) = self.store.get_mut(id) {
            s.recv_closed = true;
            s.trailers = Some(trailers);
            s.readable(id, &mut self.events);
        }
        Ok(())
    }

    fn on_response_block(
        &mut self,
        id: StreamId,
        end_stream: bool,
        too_large: bool,
        now: Instant,
    ) -> Result<(), ConnectionError> {
        let Some(s) = self.store.get_mut(id) else {
            if self.is_idle(id) {
                return Err(self.conn_error(ErrorCode::ProtocolError, "HEADERS on an idle stream"));
            }
            if self.store.recent.contains(id) {
                return Ok(());
            }
            return Err(self.conn_error(ErrorCode::StreamClosed, "HEADERS on a closed stream"));
        };
        if s.reset.is_some() {
            return Ok(());
        }
        if s.recv_closed {
            return self.stream_error(id, ErrorCode::StreamClosed, now);
        }
        if too_large {
            return self.stream_error(id, ErrorCode::ProtocolError, now);
        }
        if s.response_received {
            // Trailers (§8.1).
            if !end_stream || self.scratch.validate_trailers().is_err() {
                return self.stream_error(id, ErrorCode::ProtocolError, now);
            }
            return self.keep_trailers(id);
        }
        if self.scratch.validate_response().is_err() {
            return self.stream_error(id, ErrorCode::ProtocolError, now);
        }
        let status = self.scratch.status().unwrap_or(0);
        if status < 200 {
            // §8.1: informational responses come before the final one, never with
            // END_STREAM; they are skipped.
            if end_stream {
                return self.stream_error(id, ErrorCode::ProtocolError, now);
            }
            return Ok(());
        }
        s.response_received = true;
        s.recv_closed = end_stream;
        s.content_length = self.scratch.content_length();
        s.wants_read = false;
        let spare = self.store.spare_head();
        let mut head = std::mem::replace(&mut self.scratch, spare);
        head.end_stream = end_stream;
        if let Some(s) = self.store.get_mut(id) {
            s.head = Some(head);
        }
        self.events.push_back(Event::Response { stream_id: id });
        Ok(())
    }

    fn respond_431(&mut self, id: StreamId, end_stream: bool) {
        self.hblock.clear();
        let fields: [(&[u8], &[u8]); 2] = [(b":status", b"431"), (b"content-length", b"0")];
        self.encoder.encode(fields, &mut self.hblock);
        let _ = Headers {
            stream_id: id.value(),
            fragment: &self.hblock,
            end_stream: true,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
        .encode_split(&mut self.out, self.peer.max_frame_size);
        self.store.recent.insert(id);
        if !end_stream {
            let _ = RstStream {
                stream_id: id.value(),
                error_code: ErrorCode::NoError,
            }
            .encode(&mut self.out);
        }
    }

    fn on_rst(&mut self, r: RstStream, now: Instant) -> Result<(), ConnectionError> {
        let id = StreamId::new(r.stream_id);
        if self.is_idle(id) {
            return Err(self.conn_error(ErrorCode::ProtocolError, "RST_STREAM on an idle stream"));
        }
        let Some(s) = self.store.get_mut(id) else {
            // Resetting a stream we just refused or reset: what a Rapid Reset client
            // does when the concurrency limit is reached. It counts too.
            if self.store.recent.contains(id) && self.peer_resets.hit(now) {
                return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many stream resets"));
            }
            return Ok(());
        };
        if s.reset.is_some() {
            return Ok(());
        }
        let unfinished = !s.send_closed;
        // RFC 9113 §8.1: a server may answer completely (END_STREAM), then ask with
        // RST_STREAM NO_ERROR that the client stop sending; the client must not discard
        // that response, so its unread bytes stay readable.
        let complete =
            self.role == Role::Client && s.recv_closed && r.error_code == ErrorCode::NoError;
        s.set_reset(id, r.error_code, true, &mut self.events);
        s.peer_reset = true;
        if !complete {
            self.discard_stream_data(id);
        }
        // CVE-2023-44487 (Rapid Reset): requests cancelled while being served cost the
        // server work; too many of them in a window end the connection.
        if unfinished && self.peer_resets.hit(now) {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many stream resets"));
        }
        Ok(())
    }

    fn on_settings(&mut self, s: &SettingsFrame<'_>) -> Result<(), ConnectionError> {
        if s.is_ack() {
            self.settings_unacked = self.settings_unacked.saturating_sub(1);
            if let Some(Some(size)) = self.window_changes.pop_front() {
                self.apply_recv_initial(size);
            }
            return Ok(());
        }
        let old_window = self.peer.initial_window_size;
        if let Err(e) = self.peer.apply(s) {
            return Err(self.conn_error(e.code, "invalid SETTINGS value"));
        }
        self.encoder
            .set_max_table_size(self.peer.header_table_size as usize);
        // A higher concurrency limit may let a waiting opener proceed.
        if self.role == Role::Client && std::mem::take(&mut self.open_blocked) {
            self.events.push_back(Event::CanOpenStream);
        }
        let delta = i64::from(self.peer.initial_window_size) - i64::from(old_window);
        self.apply_initial_window(delta)?;
        self.control_frame()?;
        crate::encode_settings_ack(&mut self.out);
        Ok(())
    }

    // ---- the stream side: reading ------------------------------------------------------

    /// Server role: takes the decoded head of a new request (see [`Event::Request`]);
    /// give it back with [`Connection::recycle_head`] to reuse its buffers.
    pub fn take_head(&mut self, id: StreamId) -> Option<FieldBlock> {
        self.store.get_mut(id).and_then(|s| s.head.take())
    }

    /// Client role: the final response head of stream `id` (1xx heads are skipped; see
    /// [`FieldBlock::status`]). `Err(WouldBlock)` until it arrives ([`Event::Response`]
    /// announces it); `Err(Reset)` if the stream was reset first.
    pub fn take_response(&mut self, id: StreamId) -> Result<FieldBlock, StreamError> {
        let Some(s) = self.store.get_mut(id) else {
            return Err(StreamError::Closed);
        };
        if let Some(h) = s.head.take() {
            return Ok(h);
        }
        if let Some(code) = s.reset {
            return Err(StreamError::Reset(code));
        }
        Err(StreamError::WouldBlock)
    }

    /// Returns a head's (or trailers') buffers for reuse.
    pub fn recycle_head(&mut self, head: FieldBlock) {
        self.store.recycle_head(head);
    }

    /// The trailer section the peer sent on stream `id` (§8.1): the request's (server
    /// role) or the response's (client role). Take it once the body has been read to its
    /// end ([`Connection::read_data`] returned `Ok(0)`); the fields were checked (no
    /// pseudo-headers, valid lowercase names). Give it back with
    /// [`Connection::recycle_head`].
    pub fn take_trailers(&mut self, id: StreamId) -> Option<FieldBlock> {
        self.store.get_mut(id).and_then(|s| s.trailers.take())
    }

    /// Reads body bytes of stream `id` into `buf`: `Ok(0)` at the end of the body;
    /// `Err(WouldBlock)` when nothing is buffered yet ([`Event::StreamReadable`] follows
    /// when something arrives). Consumed bytes are given back to the peer as flow-control
    /// credit, unless [`Config::release_on_demand`](super::Config::release_on_demand) is set
    /// (then [`Connection::release_capacity`] does).
    pub fn read_data(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, StreamError> {
        let Some(s) = self.store.get_mut(id) else {
            return Err(StreamError::Closed);
        };
        if let Some(code) = s.reset {
            // Only a complete response survives a reset (see `on_rst`).
            let complete = self.role == Role::Client
                && s.peer_reset
                && s.recv_closed
                && code == ErrorCode::NoError;
            if !complete {
                return Err(StreamError::Reset(code));
            }
        }
        let avail = s.buffered();
        if avail == 0 {
            if s.recv_closed {
                return Ok(0);
            }
            s.wants_read = true;
            return Err(StreamError::WouldBlock);
        }
        let n = avail.min(buf.len());
        buf[..n].copy_from_slice(&s.buf[s.buf_pos..s.buf_pos + n]);
        s.buf_pos += n;
        if s.buf_pos == s.buf.len() {
            s.buf.clear();
            s.buf_pos = 0;
        }
        if self.config.release_on_demand {
            s.unreleased += n as u64;
            return Ok(n);
        }
        self.flow.held -= n as u64;
        self.release_conn(n as u32);
        self.release_stream_window(id, n as u32);
        Ok(n)
    }

    /// True when the peer's side of stream `id` is finished (body complete, or the stream
    /// is unknown).
    pub fn is_recv_closed(&self, id: StreamId) -> bool {
        self.store.get(id).is_none_or(|s| s.recv_closed)
    }

    /// Bytes of body buffered for stream `id` and not yet read.
    pub fn buffered(&self, id: StreamId) -> usize {
        self.store.get(id).map_or(0, |s| s.buffered())
    }

    /// `Some(code)` once stream `id` was reset (CANCEL if it is gone); `None` while it
    /// lives ([`Event::StreamReset`] announces a reset).
    pub fn reset_code(&self, id: StreamId) -> Option<ErrorCode> {
        match self.store.get(id) {
            None => Some(ErrorCode::Cancel),
            Some(s) => s.reset,
        }
    }
}
