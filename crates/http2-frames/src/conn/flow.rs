//! Flow control (RFC 9113 §5.2, §6.9): the connection windows, credit given back to the
//! peer as the stream side reads, and WINDOW_UPDATE / SETTINGS_INITIAL_WINDOW_SIZE from
//! the peer.

use std::time::Instant;

use super::{Connection, ConnectionError, StreamId};
use crate::{ErrorCode, WindowUpdate, MAX_WINDOW_SIZE};

/// The connection-level windows (stream-level ones live in each stream).
#[derive(Debug)]
pub(crate) struct ConnFlow {
    /// What we may still send on the connection.
    pub(crate) send_window: i64,
    /// What the peer may still send on the connection.
    pub(crate) recv_window: i64,
    /// Consumed bytes not yet given back with WINDOW_UPDATE.
    pub(crate) recv_unacked: u32,
    /// Body bytes received on live streams and not released yet: buffered here, or read
    /// by the stream side and not released ([`Connection::held_bytes`]).
    pub(crate) held: u64,
    /// Connection credit granted ahead of released bytes
    /// ([`Connection::grant_connection_credit`]): paid back from later releases.
    pub(crate) granted: u64,
}

impl ConnFlow {
    pub(crate) fn new() -> Self {
        let w = i64::from(crate::DEFAULT_INITIAL_WINDOW_SIZE);
        ConnFlow {
            send_window: w,
            recv_window: w,
            recv_unacked: 0,
            held: 0,
            granted: 0,
        }
    }
}

impl Connection {
    pub(crate) fn window_update(&mut self, id: StreamId, inc: u32) {
        let _ = WindowUpdate {
            stream_id: id.value(),
            increment: inc,
        }
        .encode(&mut self.out);
    }

    /// Gives connection-level receive credit back once half the window is consumed.
    pub(crate) fn release_conn(&mut self, n: u32) {
        // Credit granted in advance is paid back first: grants do not grow the window
        // for good.
        let pay = u64::from(n).min(self.flow.granted);
        self.flow.granted -= pay;
        let n = n - pay as u32;
        if n == 0 {
            return;
        }
        self.flow.recv_unacked += n;
        if self.flow.recv_unacked >= self.config.initial_connection_window / 2 {
            let inc = self.flow.recv_unacked;
            self.flow.recv_unacked = 0;
            self.flow.recv_window += i64::from(inc);
            self.window_update(StreamId::ZERO, inc);
        }
    }

    /// Gives stream-level receive credit back once half the stream window is consumed
    /// (not on a stream whose peer side is finished or reset).
    pub(crate) fn release_stream_window(&mut self, id: StreamId, n: u32) {
        let threshold = (self.recv_initial / 2).max(1);
        let Some(s) = self.store.get_mut(id) else {
            return;
        };
        s.recv_unacked += n;
        if s.recv_unacked >= threshold && !s.recv_closed && s.reset.is_none() {
            let inc = s.recv_unacked;
            s.recv_unacked = 0;
            s.recv_window += i64::from(inc);
            self.window_update(id, inc);
        }
    }

    /// Drops a stream's unread body, giving its connection credit back (bytes the stream
    /// side read and did not release stay held until it releases them or the stream).
    pub(crate) fn discard_stream_data(&mut self, id: StreamId) {
        if let Some(s) = self.store.get_mut(id) {
            let n = s.buffered() as u32;
            s.buf.clear();
            s.buf_pos = 0;
            if n > 0 {
                self.flow.held -= u64::from(n);
                self.release_conn(n);
            }
        }
    }

    /// Gives the flow-control credit of `n` body bytes of stream `id` back to the peer:
    /// the stream side read them and no longer holds them. Only needed with
    /// [`Config::release_on_demand`](super::Config::release_on_demand) (otherwise reading
    /// releases); at most the bytes read and not released yet are released. Credit goes
    /// out in WINDOW_UPDATE frames once half a window is due (RFC 9113 §6.9). A stream
    /// that was released already gave its credit back.
    pub fn release_capacity(&mut self, id: StreamId, n: usize) {
        let Some(s) = self.store.get_mut(id) else {
            return;
        };
        let n = (n as u64).min(s.unreleased);
        if n == 0 {
            return;
        }
        s.unreleased -= n;
        self.flow.held -= n;
        self.release_conn(n as u32);
        self.release_stream_window(id, n as u32);
    }

    /// Body bytes the peer sent on live streams that were not released yet: buffered in
    /// the connection, or (with
    /// [`Config::release_on_demand`](super::Config::release_on_demand)) read by the stream
    /// side and not given back with [`Connection::release_capacity`].
    pub fn held_bytes(&self) -> u64 {
        self.flow.held
    }

    /// What the peer may still send on the connection before it needs more credit.
    pub fn connection_recv_window(&self) -> i64 {
        self.flow.recv_window
    }

    /// Opens the connection's receive window by `n` bytes at once (a WINDOW_UPDATE on
    /// stream 0), without releasing any stream's bytes: lets one stream make progress
    /// while bytes the stream side holds on others keep the window closed. The grant is
    /// an advance: the next `n` bytes released give no further connection credit, so
    /// grants do not widen the window for good. The window never grows past 2^31-1
    /// (RFC 9113 §6.9.1).
    pub fn grant_connection_credit(&mut self, n: u32) {
        let room = i64::from(crate::MAX_WINDOW_SIZE) - self.flow.recv_window;
        let n = i64::from(n).min(room);
        if n <= 0 || self.error.is_some() {
            return;
        }
        self.flow.recv_window += n;
        self.flow.granted += n as u64;
        self.window_update(StreamId::ZERO, n as u32);
    }

    /// Changes the receive window of every stream (ours, SETTINGS_INITIAL_WINDOW_SIZE,
    /// RFC 9113 §6.9.2): a SETTINGS frame is sent, and once the peer acknowledges it every
    /// stream's window moves by the difference (it may turn negative: the peer then waits
    /// for WINDOW_UPDATE), and new streams start with `size`. This takes back credit the
    /// peer was given but did not use, e.g. while the stream side holds too many body
    /// bytes; restore the configured size later the same way. Until the ACK the old
    /// windows apply; the peer must acknowledge within
    /// [`Config::settings_timeout`](super::Config::settings_timeout). Asking for the
    /// value asked for last sends nothing.
    pub fn set_initial_stream_window(&mut self, size: u32) {
        let size = size.min(crate::MAX_WINDOW_SIZE);
        if size == self.recv_initial_wanted || self.error.is_some() {
            return;
        }
        self.recv_initial_wanted = size;
        let entries = [crate::Setting::new(
            crate::SettingId::InitialWindowSize,
            size,
        )];
        let _ = crate::encode_settings(&mut self.out, &entries);
        if self.settings_unacked == 0 {
            // The SETTINGS timeout runs from this frame.
            self.timers.settings_sent = None;
        }
        self.settings_unacked += 1;
        self.window_changes.push_back(Some(size));
    }

    /// Every stream's receive window moves to the acknowledged `size`.
    pub(crate) fn apply_recv_initial(&mut self, size: u32) {
        let delta = i64::from(size) - i64::from(self.recv_initial);
        self.recv_initial = size;
        let max = i64::from(MAX_WINDOW_SIZE);
        for (_, s) in self.store.iter_mut() {
            s.recv_window = (s.recv_window + delta).min(max);
        }
    }

    /// True while a change of the streams' receive window waits for the peer's ACK.
    pub fn window_change_pending(&self) -> bool {
        self.window_changes.iter().any(Option::is_some)
    }

    /// What the peer may still send on stream `id` (0 if unknown).
    pub fn stream_recv_window(&self, id: StreamId) -> i64 {
        self.store.get(id).map_or(0, |s| s.recv_window)
    }

    /// Opens stream `id`'s receive window by `n` bytes at once (a WINDOW_UPDATE), e.g. for
    /// the one stream that must progress while the others' windows are shrunk with
    /// [`Connection::set_initial_stream_window`].
    pub fn grant_stream_credit(&mut self, id: StreamId, n: u32) {
        let Some(s) = self.store.get_mut(id) else {
            return;
        };
        if s.recv_closed || s.reset.is_some() {
            return;
        }
        let n = i64::from(n).min(i64::from(MAX_WINDOW_SIZE) - s.recv_window);
        if n <= 0 {
            return;
        }
        s.recv_window += n;
        self.window_update(id, n as u32);
    }

    /// Bytes of stream `id` read by the stream side and not released yet.
    pub fn unreleased(&self, id: StreamId) -> u64 {
        self.store.get(id).map_or(0, |s| s.unreleased)
    }

    /// WINDOW_UPDATE from the peer (§6.9): more send credit; writers that waited are told.
    pub(crate) fn on_window_update(
        &mut self,
        w: WindowUpdate,
        now: Instant,
    ) -> Result<(), ConnectionError> {
        let inc = i64::from(w.increment);
        let id = StreamId::new(w.stream_id);
        if id.is_zero() {
            self.flow.send_window += inc;
            if self.flow.send_window > i64::from(MAX_WINDOW_SIZE) {
                return Err(self.conn_error(ErrorCode::FlowControlError, "window overflow"));
            }
            if self.flow.send_window > 0 {
                // The connection window moved: a connection-level stall starts over.
                self.timers.conn_stall_since = None;
                self.timers.stall_scan = true;
            }
            for (id, s) in self.store.iter_mut() {
                s.writable(id, &mut self.events);
            }
            return Ok(());
        }
        if self.is_idle(id) {
            return Err(
                self.conn_error(ErrorCode::ProtocolError, "WINDOW_UPDATE on an idle stream")
            );
        }
        // Credit for a stream that is gone or reset is ignored: a few arrive after a
        // stream ends, a stream of them is a glitch flood.
        let Some(s) = self.store.get_mut(id) else {
            return self.glitch(now);
        };
        if s.reset.is_some() {
            return self.glitch(now);
        }
        s.send_window += inc;
        if s.send_window > i64::from(MAX_WINDOW_SIZE) {
            return self.stream_error(id, ErrorCode::FlowControlError, now);
        }
        s.writable(id, &mut self.events);
        Ok(())
    }

    /// A new SETTINGS_INITIAL_WINDOW_SIZE changes every stream's send window by the
    /// difference (§6.9.2); growth lets waiting writers try again.
    pub(crate) fn apply_initial_window(&mut self, delta: i64) -> Result<(), ConnectionError> {
        if delta == 0 {
            return Ok(());
        }
        let mut overflow = false;
        for (id, st) in self.store.iter_mut() {
            st.send_window += delta;
            if st.send_window > i64::from(MAX_WINDOW_SIZE) {
                overflow = true;
            }
            if delta > 0 {
                st.writable(id, &mut self.events);
            }
        }
        if overflow {
            return Err(self.conn_error(ErrorCode::FlowControlError, "window overflow"));
        }
        Ok(())
    }
}
