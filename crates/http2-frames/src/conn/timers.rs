//! Time: the SETTINGS ACK timeout (RFC 9113 §6.5.3), keep-alive PINGs and their ACK
//! deadline (§6.7), the reset of streams stalled on flow control, and the deadline of an
//! unfinished field block (§6.10).
//! The connection never reads a clock: time enters through
//! [`Connection::handle_timeout`] (and [`Connection::send_ping`]), and
//! [`Connection::poll_timeout`] says when to call again.

use std::time::Instant;

use super::stream::Blocked;
use super::{Connection, ConnectionError, StreamId};
use crate::ErrorCode;

/// The clock-driven state.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// The time of the latest `handle_timeout` call.
    pub(crate) now: Option<Instant>,
    /// When our SETTINGS went out (the first tick).
    pub(crate) settings_sent: Option<Instant>,
    /// Bytes arrived since the last tick.
    pub(crate) heard: bool,
    /// When the peer was last heard from (stamped at a tick).
    pub(crate) last_heard: Option<Instant>,
    /// Our PING waiting for its ACK: its data and the deadline.
    pub(crate) ping: Option<([u8; 8], Instant)>,
    /// Keep-alive PINGs sent (their opaque data counts up).
    pub(crate) pings_sent: u64,
    /// A stream blocked on flow control that has not been stamped yet (or the
    /// connection window moved).
    pub(crate) stall_scan: bool,
    /// Since when streams wait for a connection window that stays closed.
    pub(crate) conn_stall_since: Option<Instant>,
    /// The earliest stall deadline among stamped, blocked streams.
    pub(crate) next_stall: Option<Instant>,
    /// Reused list of streams to reset.
    pub(crate) due: Vec<StreamId>,
    /// Streams reset because they stalled.
    pub(crate) stall_resets: u64,
    /// Frames received, PING ACKs excepted.
    pub(crate) activity: u64,
}

impl Connection {
    /// The peer did not acknowledge our SETTINGS in time: connection error
    /// SETTINGS_TIMEOUT (§6.5.3). [`Connection::handle_timeout`] calls it when
    /// [`Config::settings_timeout`](super::Config::settings_timeout) passed; a driver
    /// with its own timer may call it directly.
    pub fn settings_timeout(&mut self) -> ConnectionError {
        self.conn_error(ErrorCode::SettingsTimeout, "SETTINGS not acknowledged")
    }

    /// Sends a PING with `data` (§6.7) whose ACK is expected within
    /// [`Config::keep_alive_timeout`](super::Config::keep_alive_timeout) of `now`;
    /// without it, [`Connection::handle_timeout`] closes the connection. `false` (nothing
    /// sent) while an earlier PING is unacknowledged or after a connection error.
    pub fn send_ping(&mut self, data: [u8; 8], now: Instant) -> bool {
        if self.timers.ping.is_some() || self.error.is_some() {
            return false;
        }
        let Some(deadline) = now.checked_add(self.config.keep_alive_timeout) else {
            return false;
        };
        let _ = crate::Ping { ack: false, data }.encode(&mut self.out);
        self.timers.ping = Some((data, deadline));
        true
    }

    /// Counts the frames received except PING ACKs. The driver's idle timer
    /// ([`Config::idle_timeout`](super::Config::idle_timeout)) restarts when it changes,
    /// so acknowledged keep-alive PINGs alone do not keep an idle connection open; when
    /// the timer fires with [`Connection::active_streams`] at 0, call
    /// [`Connection::go_away`].
    pub fn activity(&self) -> u64 {
        self.timers.activity
    }

    /// True while a PING we sent waits for its ACK.
    pub fn ping_outstanding(&self) -> bool {
        self.timers.ping.is_some()
    }

    /// Streams reset (CANCEL) because their body stalled on a zero window longer than
    /// [`Config::stream_stall_timeout`](super::Config::stream_stall_timeout).
    pub fn stall_resets(&self) -> u64 {
        self.timers.stall_resets
    }

    /// Advances the connection's clock to `now` and fires what is due: the SETTINGS
    /// timeout (GOAWAY SETTINGS_TIMEOUT, §6.5.3), a keep-alive PING after
    /// [`Config::keep_alive_interval`](super::Config::keep_alive_interval) without input,
    /// the close (GOAWAY NO_ERROR) when a PING's ACK is late, and RST_STREAM CANCEL for
    /// streams stalled on flow control.
    /// Cheap: call it whenever the driver wakes up (it also stamps the start of new
    /// stalls and of input), then sleep until [`Connection::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.error.is_some() {
            return;
        }
        let t = &mut self.timers;
        t.now = Some(now);
        t.settings_sent.get_or_insert(now);
        if t.heard || t.last_heard.is_none() {
            t.heard = false;
            t.last_heard = Some(now);
        }
        if self.settings_unacked > 0
            && t.settings_sent
                .and_then(|s| s.checked_add(self.config.settings_timeout))
                .is_some_and(|d| now >= d)
        {
            self.settings_timeout();
            return;
        }
        if let Some(deadline) = self.header_block_deadline() {
            if now >= deadline {
                // §6.10: nothing else may arrive until the block ends; a peer that never
                // ends it holds the connection, like a slowloris request head.
                self.conn_error(ErrorCode::EnhanceYourCalm, "header block not completed");
                return;
            }
        }
        let t = &mut self.timers;
        match t.ping {
            Some((_, deadline)) if now >= deadline => {
                // The peer is gone or hung. No error code names a missing PING ACK, and
                // the peer broke no protocol rule: NO_ERROR (§7), in a GOAWAY that still
                // tells a live peer which streams were processed.
                self.conn_error(ErrorCode::NoError, "keep-alive PING not acknowledged");
                return;
            }
            Some(_) => {}
            None => {
                let due = self
                    .config
                    .keep_alive_interval
                    .and_then(|iv| t.last_heard.and_then(|h| h.checked_add(iv)));
                if due.is_some_and(|d| now >= d) {
                    t.pings_sent += 1;
                    let data = t.pings_sent.to_be_bytes();
                    self.send_ping(data, now);
                }
            }
        }
        let t = &self.timers;
        if t.stall_scan || t.next_stall.is_some_and(|d| now >= d) {
            self.scan_stalls(now);
        }
    }

    /// Stamps new stalls, resets the streams stalled for too long, and finds the next
    /// stall deadline.
    fn scan_stalls(&mut self, now: Instant) {
        let t = &mut self.timers;
        t.stall_scan = false;
        t.next_stall = None;
        let Some(limit) = self.config.stream_stall_timeout else {
            return;
        };
        let mut due = std::mem::take(&mut t.due);
        due.clear();
        let conn_open = self.flow.send_window > 0;
        let mut conn_waiters = false;
        let earliest = |next: &mut Option<Instant>, d: Instant| {
            *next = Some(next.map_or(d, |n: Instant| n.min(d)));
        };
        for (id, s) in self.store.iter_mut() {
            if s.reset.is_some() || s.send_closed {
                continue;
            }
            match s.blocked {
                Blocked::No => {}
                Blocked::Stream if s.send_window > 0 => {
                    // Credit arrived; the stream will send when it runs next.
                    s.blocked = Blocked::No;
                    s.stalled_since = None;
                }
                Blocked::Stream => {
                    // The peer keeps this stream's window closed.
                    let since = *s.stalled_since.get_or_insert(now);
                    match since.checked_add(limit) {
                        Some(d) if now >= d => due.push(id),
                        Some(d) => earliest(&mut t.next_stall, d),
                        None => {}
                    }
                }
                Blocked::Connection if conn_open => s.blocked = Blocked::No,
                Blocked::Connection => conn_waiters = true,
            }
        }
        // Streams waiting for the connection window compete for it; a stream that merely
        // loses that race to others is not stalled. They are cancelled only when the
        // connection window itself stays closed for the whole timeout.
        if conn_waiters {
            let since = *t.conn_stall_since.get_or_insert(now);
            match since.checked_add(limit) {
                Some(d) if now >= d => {
                    for (id, s) in self.store.iter() {
                        if s.blocked == Blocked::Connection && s.reset.is_none() && !s.send_closed {
                            due.push(id);
                        }
                    }
                    t.conn_stall_since = None;
                }
                Some(d) => earliest(&mut t.next_stall, d),
                None => {}
            }
        } else {
            t.conn_stall_since = None;
        }
        for &id in &due {
            // §7 CANCEL: we no longer need the stream. Not FLOW_CONTROL_ERROR: a peer
            // that keeps a window closed breaks no rule (§6.9), it just does not read.
            // The reset (Event::StreamReset) tells the stream side to stop.
            self.reset(id, ErrorCode::Cancel);
            self.timers.stall_resets += 1;
        }
        self.timers.due = due;
    }

    /// When [`Connection::handle_timeout`] must be called next (if nothing else happens
    /// before): the earliest of the SETTINGS ACK deadline, the keep-alive PING or its ACK
    /// deadline and the first stall deadline (the idle timeout is the driver's, see
    /// [`Connection::activity`]). `None` when no timer
    /// runs (after a connection error, or before the first `handle_timeout`).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let t = &self.timers;
        let c = &self.config;
        let settings = if self.settings_unacked > 0 {
            t.settings_sent
                .and_then(|s| s.checked_add(c.settings_timeout))
        } else {
            None
        };
        let ping = match t.ping {
            Some((_, deadline)) => Some(deadline),
            None => c
                .keep_alive_interval
                .and_then(|iv| t.last_heard.and_then(|h| h.checked_add(iv))),
        };
        // A stall not stamped yet: as soon as possible.
        let stall = if t.stall_scan && c.stream_stall_timeout.is_some() {
            t.now
        } else {
            t.next_stall
        };
        [settings, ping, stall, self.header_block_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the open field block (HEADERS without END_HEADERS) must be complete.
    fn header_block_deadline(&self) -> Option<Instant> {
        let started = self.open_block.as_ref()?.started;
        started.checked_add(self.config.header_block_timeout?)
    }
}
