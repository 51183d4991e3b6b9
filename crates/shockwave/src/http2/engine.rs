//! The sans-I/O HTTP/2 server connection (RFC 9113): bytes in, frames and events out.
//!
//! [`ServerConnection::recv`] consumes bytes read from the socket, validates and applies
//! every frame (stream states §5.1, stream identifiers §5.1.1, flow control §5.2/§6.9,
//! SETTINGS §6.5, PING §6.7, GOAWAY §6.8, RST_STREAM §6.4, field blocks §4.3) and queues
//! what must be written in [`ServerConnection::pending_output`]. New requests are announced
//! as [`Event::Request`]; their decoded heads wait in the stream until taken.
//!
//! The stream side (the tokio driver, or a test) reads request bodies with
//! [`ServerConnection::poll_read_data`] and answers with [`ServerConnection::send_headers`]
//! and [`ServerConnection::poll_send_data`]. These take a [`Waker`] (from `std`, no
//! runtime): the engine wakes it when data or flow-control credit arrives, or the stream is
//! reset.

use std::collections::{HashMap, VecDeque};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use shockwave_hpack::{DecodeError, Decoder, DecoderLimits, Encoder};
use shockwave_http2_frames::{
    match_preface, Data, ErrorCode, Frame, FrameDecoder, GoAway, Headers, RstStream, Scope,
    Setting, SettingId, Settings, SettingsFrame, WindowUpdate, MAX_WINDOW_SIZE,
};

use super::head::RequestHead;
use super::Http2Config;

/// How the connection ended with an error: the code was sent in a GOAWAY frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("HTTP/2 connection error {code}: {reason}")]
pub struct ConnectionError {
    /// The GOAWAY error code.
    pub code: ErrorCode,
    /// Why, for logs.
    pub reason: &'static str,
}

/// Why a stream operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
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

/// Which end of the connection an engine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts streams (requests) from the peer.
    Server,
    /// Opens streams (requests) to the peer.
    Client,
}

/// Something the stream side must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A new request: take its head with [`ServerConnection::take_head`].
    Request {
        /// The stream.
        stream_id: u32,
    },
    /// A response head arrived (client role): take it with
    /// [`ServerConnection::poll_response`].
    Response {
        /// The stream.
        stream_id: u32,
    },
    /// The peer reset a stream.
    Reset {
        /// The stream.
        stream_id: u32,
        /// The peer's code.
        code: ErrorCode,
    },
    /// The peer sent GOAWAY.
    GoAway {
        /// Its code.
        code: ErrorCode,
        /// The last stream it will consider.
        last_stream_id: u32,
    },
}

#[derive(Debug, Default)]
struct Stream {
    head: Option<RequestHead>,
    recv_closed: bool,
    send_closed: bool,
    headers_sent: bool,
    reset: Option<ErrorCode>,
    /// The peer reset the stream: its further frames are errors (§5.1 "closed").
    peer_reset: bool,
    /// Client role: the final response head arrived.
    response_received: bool,
    /// The peer's trailer section (request or response), once received (RFC 9113 §8.1).
    trailers: Option<RequestHead>,
    send_window: i64,
    recv_window: i64,
    recv_unacked: u32,
    content_length: Option<u64>,
    received: u64,
    buf: Vec<u8>,
    buf_pos: usize,
    read_waker: Option<Waker>,
    send_waker: Option<Waker>,
    reset_waker: Option<Waker>,
    /// The last send was refused for lack of flow-control window, and which one.
    blocked: Blocked,
    /// When the stream's own window stall was first seen (stamped by `handle_timeout`).
    stalled_since: Option<Instant>,
}

impl Stream {
    fn wake_all(&mut self) {
        for w in [
            self.read_waker.take(),
            self.send_waker.take(),
            self.reset_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            w.wake();
        }
    }

    fn buffered(&self) -> usize {
        self.buf.len() - self.buf_pos
    }
}

/// Why a stream's response cannot be sent (stall detection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Blocked {
    /// Not blocked (or not known to be).
    #[default]
    No,
    /// The stream's own send window is used up: the peer does not read this stream.
    Stream,
    /// The connection's send window is used up (the stream's is open).
    Connection,
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    stream_id: u32,
    end_stream: bool,
    priority_error: bool,
}

/// Counts events in a sliding time window (a fixed window, reset when it expires).
#[derive(Debug)]
struct RateLimit {
    max: u32,
    window: Duration,
    start: Option<Instant>,
    count: u32,
}

impl RateLimit {
    fn new(max: u32, window: Duration) -> Self {
        RateLimit {
            max,
            window,
            start: None,
            count: 0,
        }
    }

    /// Records one event; true when the limit is exceeded.
    fn hit(&mut self) -> bool {
        let now = Instant::now();
        match self.start {
            Some(s) if now.duration_since(s) < self.window => self.count += 1,
            _ => {
                self.start = Some(now);
                self.count = 1;
            }
        }
        self.count > self.max
    }
}

/// Recently reset or refused stream ids: frames the peer had in flight for them are
/// ignored instead of answered (RFC 9113 §5.4.2, §6.4).
#[derive(Debug)]
struct RecentResets {
    ids: [u32; 64],
    next: usize,
}

impl RecentResets {
    fn insert(&mut self, id: u32) {
        self.ids[self.next % 64] = id;
        self.next += 1;
    }
    fn contains(&self, id: u32) -> bool {
        id != 0 && self.ids.contains(&id)
    }
}

/// One HTTP/2 connection without I/O: the server side ([`ServerConnection::new`]) or the
/// client side ([`ServerConnection::client`]).
#[derive(Debug)]
pub struct ServerConnection {
    role: Role,
    next_stream_id: u32,
    open_waiters: Vec<Waker>,
    config: Http2Config,
    preface_done: bool,
    got_settings: bool,
    frames: FrameDecoder,
    decoder: Decoder,
    encoder: Encoder,
    peer: Settings,
    settings_unacked: u32,
    streams: HashMap<u32, Stream>,
    last_stream_id: u32,
    conn_send_window: i64,
    conn_recv_window: i64,
    conn_recv_unacked: u32,
    open_block: Option<OpenBlock>,
    block_buf: Vec<u8>,
    scratch: RequestHead,
    spare_heads: Vec<RequestHead>,
    spare_bufs: Vec<Vec<u8>>,
    hblock: Vec<u8>,
    out: Vec<u8>,
    flushed: usize,
    control_queued: usize,
    events: VecDeque<Event>,
    write_waiters: Vec<Waker>,
    goaway_sent: Option<u32>,
    goaway_received: bool,
    error: Option<ConnectionError>,
    peer_resets: RateLimit,
    local_resets: RateLimit,
    recent: RecentResets,
    closed_ids: RecentResets,
    timers: Timers,
}

/// The engine's clock-driven state. Time only enters through
/// [`ServerConnection::handle_timeout`], so tests pass it in.
#[derive(Debug, Default)]
struct Timers {
    /// The time of the latest `handle_timeout` call.
    now: Option<Instant>,
    /// When our SETTINGS went out (the first tick).
    settings_sent: Option<Instant>,
    /// Bytes arrived since the last tick.
    heard: bool,
    /// When the peer was last heard from (stamped at a tick).
    last_heard: Option<Instant>,
    /// Our PING waiting for its ACK: its data and the deadline.
    ping: Option<([u8; 8], Instant)>,
    /// Keep-alive PINGs sent (their opaque data counts up).
    pings_sent: u64,
    /// A stream blocked on flow control that has not been stamped yet (or the
    /// connection window moved).
    stall_scan: bool,
    /// Since when streams wait for a connection window that stays closed.
    conn_stall_since: Option<Instant>,
    /// The earliest stall deadline among stamped, blocked streams.
    next_stall: Option<Instant>,
    /// Reused list of streams to reset.
    due: Vec<u32>,
    /// Streams reset because they stalled.
    stall_resets: u64,
    /// Frames received, PING ACKs excepted.
    activity: u64,
}

impl ServerConnection {
    /// A new connection: our SETTINGS (and a connection WINDOW_UPDATE up to the
    /// configured window) are queued right away (RFC 9113 §3.4).
    pub fn new(config: Http2Config) -> Self {
        Self::with_role(config, Role::Server)
    }

    /// The client side of a connection: the preface, our SETTINGS (push disabled) and a
    /// connection WINDOW_UPDATE are queued; open streams with
    /// [`ServerConnection::poll_open_stream`].
    pub fn client(config: Http2Config) -> Self {
        Self::with_role(config, Role::Client)
    }

    /// The role this engine plays.
    pub fn role(&self) -> Role {
        self.role
    }

    fn with_role(config: Http2Config, role: Role) -> Self {
        let config = config.validated();
        let mut frames = FrameDecoder::new();
        frames.set_max_header_block_len(config.max_header_block_len);
        frames.set_max_continuation_frames(config.max_continuation_frames);
        let decoder = Decoder::with_limits(DecoderLimits {
            max_header_list_size: config.max_header_list_size as usize,
            ..DecoderLimits::default()
        });
        let mut conn = ServerConnection {
            role,
            next_stream_id: 1,
            open_waiters: Vec::new(),
            preface_done: role == Role::Client,
            got_settings: false,
            frames,
            decoder,
            encoder: Encoder::new(),
            peer: Settings::DEFAULT,
            settings_unacked: 0,
            streams: HashMap::with_capacity(config.max_concurrent_streams.min(256) as usize),
            last_stream_id: 0,
            conn_send_window: i64::from(shockwave_http2_frames::DEFAULT_INITIAL_WINDOW_SIZE),
            conn_recv_window: i64::from(shockwave_http2_frames::DEFAULT_INITIAL_WINDOW_SIZE),
            conn_recv_unacked: 0,
            open_block: None,
            block_buf: Vec::new(),
            scratch: RequestHead::default(),
            spare_heads: Vec::new(),
            spare_bufs: Vec::new(),
            hblock: Vec::with_capacity(1024),
            out: Vec::with_capacity(16 * 1024),
            flushed: 0,
            control_queued: 0,
            events: VecDeque::with_capacity(64),
            write_waiters: Vec::new(),
            goaway_sent: None,
            goaway_received: false,
            error: None,
            peer_resets: RateLimit::new(config.max_resets_per_window, config.reset_window),
            local_resets: RateLimit::new(config.max_local_resets_per_window, config.reset_window),
            recent: RecentResets {
                ids: [0; 64],
                next: 0,
            },
            closed_ids: RecentResets {
                ids: [0; 64],
                next: 0,
            },
            timers: Timers::default(),
            config,
        };
        conn.send_settings();
        conn
    }

    fn send_settings(&mut self) {
        let c = &self.config;
        let server = [
            Setting::new(SettingId::MaxConcurrentStreams, c.max_concurrent_streams),
            Setting::new(SettingId::InitialWindowSize, c.initial_stream_window),
            Setting::new(SettingId::MaxHeaderListSize, c.max_header_list_size),
        ];
        let client = [
            Setting::new(SettingId::EnablePush, 0),
            Setting::new(SettingId::InitialWindowSize, c.initial_stream_window),
            Setting::new(SettingId::MaxHeaderListSize, c.max_header_list_size),
        ];
        // Values out of range are clamped by `Http2Config`; encoding cannot fail.
        let entries = match self.role {
            Role::Server => &server,
            Role::Client => {
                self.out.extend_from_slice(shockwave_http2_frames::PREFACE);
                &client
            }
        };
        let _ = shockwave_http2_frames::encode_settings(&mut self.out, entries);
        self.settings_unacked += 1;
        let extra = i64::from(c.initial_connection_window) - self.conn_recv_window;
        if extra > 0 {
            self.window_update(0, extra as u32);
            self.conn_recv_window += extra;
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Http2Config {
        &self.config
    }

    /// The peer's settings as last received.
    pub fn peer_settings(&self) -> &Settings {
        &self.peer
    }

    /// Applies the `HTTP2-Settings` of an HTTP/1.1 `Upgrade: h2c` request (RFC 7540
    /// §3.2.1) and opens stream 1 (half-closed remote) with the upgraded request's head,
    /// which must already be validated. The request's response goes on stream 1.
    pub fn upgrade(&mut self, settings: &Settings, head: RequestHead) {
        self.peer = *settings;
        self.encoder
            .set_max_table_size(settings.header_table_size as usize);
        self.last_stream_id = 1;
        let mut s = self.new_stream();
        s.recv_closed = true;
        s.head = Some(head);
        self.streams.insert(1, s);
        self.events.push_back(Event::Request { stream_id: 1 });
    }

    /// Bytes waiting to be written to the socket (many frames, coalesced).
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.flushed..]
    }

    /// Marks `n` bytes of [`ServerConnection::pending_output`] as written.
    pub fn advance_output(&mut self, n: usize) {
        self.flushed = (self.flushed + n).min(self.out.len());
        if self.flushed == self.out.len() {
            self.out.clear();
            if self.out.capacity() > 256 * 1024 && self.streams.is_empty() {
                // A large transfer grew the buffer: do not keep it on an idle connection.
                self.out = Vec::with_capacity(16 * 1024);
            }
            self.flushed = 0;
            self.control_queued = 0;
            for w in self.write_waiters.drain(..) {
                w.wake();
            }
        }
    }

    /// True when reading more input is reasonable: not closed, and the peer is reading
    /// what we write (backpressure against floods of frames that demand an answer).
    pub fn wants_read(&self) -> bool {
        self.error.is_none() && self.pending_output().len() < self.config.max_output_buffer
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The connection error, once one happened (GOAWAY queued; stop reading).
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    /// True when nothing more will happen: after a connection error, or after GOAWAY (sent
    /// or received) once every stream has finished.
    pub fn is_done(&self) -> bool {
        self.error.is_some()
            || ((self.goaway_sent.is_some() || self.goaway_received) && self.streams.is_empty())
    }

    /// True once the peer acknowledged every SETTINGS frame we sent (§6.5.3).
    pub fn settings_acked(&self) -> bool {
        self.settings_unacked == 0
    }

    /// The peer did not acknowledge our SETTINGS in time: connection error
    /// SETTINGS_TIMEOUT (§6.5.3). Call it from a timer when
    /// [`ServerConnection::settings_acked`] is still false.
    pub fn settings_timeout(&mut self) -> ConnectionError {
        self.conn_error(ErrorCode::SettingsTimeout, "SETTINGS not acknowledged")
    }

    // ---- time: keep-alive PINGs, SETTINGS and stall timeouts ---------------------------

    /// Sends a PING with `data` (RFC 9113 §6.7) whose ACK is expected within
    /// [`Http2Config::keep_alive_timeout`] of `now`; without it,
    /// [`ServerConnection::handle_timeout`] closes the connection. `false` (nothing sent)
    /// while an earlier PING is unacknowledged or after a connection error.
    pub fn send_ping(&mut self, data: [u8; 8], now: Instant) -> bool {
        if self.timers.ping.is_some() || self.error.is_some() {
            return false;
        }
        let Some(deadline) = now.checked_add(self.config.keep_alive_timeout) else {
            return false;
        };
        let _ = shockwave_http2_frames::Ping { ack: false, data }.encode(&mut self.out);
        self.timers.ping = Some((data, deadline));
        true
    }

    /// Counts the frames received except PING ACKs: an idle timer should restart when it
    /// changes, so that acknowledged keep-alive PINGs alone do not keep an idle connection
    /// open.
    pub fn activity(&self) -> u64 {
        self.timers.activity
    }

    /// True while a PING we sent waits for its ACK.
    pub fn ping_outstanding(&self) -> bool {
        self.timers.ping.is_some()
    }

    /// Streams reset (CANCEL) because their response stalled on a zero window longer than
    /// [`Http2Config::stream_stall_timeout`].
    pub fn stall_resets(&self) -> u64 {
        self.timers.stall_resets
    }

    /// Advances the engine's clock to `now` and fires what is due: the SETTINGS timeout
    /// (GOAWAY SETTINGS_TIMEOUT, §6.5.3), a keep-alive PING after
    /// [`Http2Config::keep_alive_interval`] without input, the close (GOAWAY NO_ERROR)
    /// when a PING's ACK is late, and RST_STREAM CANCEL for streams stalled on flow
    /// control. Cheap: call it whenever the driver wakes up (it also stamps the start of
    /// new stalls and of input), then sleep until [`ServerConnection::next_timeout`].
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
        let conn_open = self.conn_send_window > 0;
        let mut conn_waiters = false;
        let earliest = |next: &mut Option<Instant>, d: Instant| {
            *next = Some(next.map_or(d, |n: Instant| n.min(d)));
        };
        for (&id, s) in &mut self.streams {
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
                    for (&id, s) in &self.streams {
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
            // The reset wakes the stream's handler, which is dropped with its response.
            self.reset(id, ErrorCode::Cancel);
            self.timers.stall_resets += 1;
        }
        self.timers.due = due;
    }

    /// When [`ServerConnection::handle_timeout`] must be called next (if nothing else
    /// happens before): the earliest of the SETTINGS ACK deadline, the keep-alive PING or
    /// its ACK deadline, and the first stall deadline. `None` when no timer runs.
    pub fn next_timeout(&self) -> Option<Instant> {
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
        [settings, ping, stall].into_iter().flatten().min()
    }

    /// Streams open on the connection (including reset ones whose handler is still
    /// running).
    pub fn active_streams(&self) -> usize {
        self.streams.len()
    }

    /// Starts a graceful shutdown: GOAWAY with the last stream id seen, NO_ERROR; new
    /// streams are ignored and [`ServerConnection::is_done`] turns true when the open ones
    /// finish (RFC 9113 §6.8).
    pub fn go_away(&mut self) {
        if self.goaway_sent.is_none() && self.error.is_none() {
            self.goaway(ErrorCode::NoError);
        }
    }

    fn goaway(&mut self, code: ErrorCode) {
        let last = self.last_stream_id;
        self.goaway_sent = Some(last);
        let _ = GoAway {
            last_stream_id: last,
            error_code: code,
            debug_data: &[],
        }
        .encode(&mut self.out);
    }

    /// The peer closed its side (EOF): every stream is reset so that its handler stops.
    pub fn peer_closed(&mut self) {
        for s in self.streams.values_mut() {
            if s.reset.is_none() {
                s.reset = Some(ErrorCode::Cancel);
            }
            s.wake_all();
        }
        self.goaway_received = true;
    }

    fn conn_error(&mut self, code: ErrorCode, reason: &'static str) -> ConnectionError {
        let e = ConnectionError { code, reason };
        if self.error.is_none() {
            self.goaway(code);
            self.error = Some(e);
            for s in self.streams.values_mut() {
                s.reset.get_or_insert(code);
                s.wake_all();
            }
        }
        e
    }

    // ---- receiving --------------------------------------------------------------------

    /// Consumes bytes read from the peer: returns how many were used (keep the rest and
    /// call again with more appended). On a connection error a GOAWAY is queued, the error
    /// is returned, and later input is ignored.
    pub fn recv(&mut self, input: &[u8]) -> Result<usize, ConnectionError> {
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
                    self.handle_frame(frame)?;
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
                        self.stream_error(id, e.code)?;
                    }
                    _ => return Err(self.conn_error(e.code, "invalid frame")),
                },
            }
        }
        Ok(pos)
    }

    fn handle_frame(&mut self, frame: Frame<'_>) -> Result<(), ConnectionError> {
        if !self.got_settings {
            // §3.4: the client preface continues with a SETTINGS frame.
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
            Frame::Data(d) => self.on_data(d),
            Frame::Headers(h) => {
                let priority_error = h.check_priority().is_err();
                if h.end_headers {
                    self.on_header_block(h.stream_id, h.fragment, h.end_stream, priority_error)
                } else {
                    self.block_buf.clear();
                    self.block_buf.extend_from_slice(h.fragment);
                    self.open_block = Some(OpenBlock {
                        stream_id: h.stream_id,
                        end_stream: h.end_stream,
                        priority_error,
                    });
                    Ok(())
                }
            }
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
                        );
                        self.block_buf = block;
                        return r;
                    }
                }
                Ok(())
            }
            Frame::Priority(_) => Ok(()), // §5.3.2: deprecated signal, parsed and ignored.
            Frame::RstStream(r) => self.on_rst(r),
            Frame::Settings(s) => self.on_settings(&s),
            Frame::PushPromise(_) => Err(self.conn_error(
                ErrorCode::ProtocolError,
                "PUSH_PROMISE from a client", // §8.4
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
                    // served: fail them as refused (safe to retry).
                    for (id, s) in self.streams.iter_mut() {
                        if *id > g.last_stream_id && s.reset.is_none() {
                            s.reset = Some(ErrorCode::RefusedStream);
                            s.wake_all();
                        }
                    }
                }
                self.events.push_back(Event::GoAway {
                    code: g.error_code,
                    last_stream_id: g.last_stream_id,
                });
                Ok(())
            }
            Frame::WindowUpdate(w) => self.on_window_update(w),
            Frame::Unknown(_) => Ok(()), // §5.5: ignore unknown frame types.
        }
    }

    /// Counts a queued frame that answers the peer (SETTINGS/PING ACK, RST_STREAM): too
    /// many unwritten ones means the peer floods us without reading.
    fn control_frame(&mut self) -> Result<(), ConnectionError> {
        self.control_queued += 1;
        if self.control_queued > self.config.max_pending_control_frames {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "control frame flood"));
        }
        Ok(())
    }

    fn is_idle(&self, id: u32) -> bool {
        match self.role {
            Role::Server => id > self.last_stream_id,
            // Push is disabled: every even stream is idle.
            Role::Client => id.is_multiple_of(2) || id >= self.next_stream_id,
        }
    }

    fn on_data(&mut self, d: Data<'_>) -> Result<(), ConnectionError> {
        let id = d.stream_id;
        let len = d.flow_controlled_len() as i64;
        if self.is_idle(id) {
            return Err(self.conn_error(ErrorCode::ProtocolError, "DATA on an idle stream"));
        }
        // §6.9: every DATA frame counts against the connection window.
        if len > self.conn_recv_window {
            return Err(self.conn_error(ErrorCode::FlowControlError, "connection window exceeded"));
        }
        self.conn_recv_window -= len;
        let Some(s) = self.streams.get_mut(&id) else {
            self.release_conn(len as u32);
            if !self.recent.contains(id) {
                // §5.1: DATA on a closed stream.
                return self.stream_error(id, ErrorCode::StreamClosed);
            }
            return Ok(());
        };
        if s.reset.is_some() {
            let peer_reset = s.peer_reset;
            self.release_conn(len as u32);
            if peer_reset {
                return self.stream_error(id, ErrorCode::StreamClosed);
            }
            return Ok(());
        }
        if s.recv_closed {
            // §5.1 half-closed (remote): STREAM_CLOSED.
            self.release_conn(len as u32);
            return self.stream_error(id, ErrorCode::StreamClosed);
        }
        if len > s.recv_window {
            self.release_conn(len as u32);
            return self.stream_error(id, ErrorCode::FlowControlError);
        }
        s.recv_window -= len;
        s.received += d.data.len() as u64;
        if s.content_length.is_some_and(|cl| s.received > cl)
            || (d.end_stream && s.content_length.is_some_and(|cl| s.received != cl))
        {
            // §8.1.1: content-length must match the DATA received.
            self.release_conn(len as u32);
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        if s.buf_pos == s.buf.len() {
            s.buf.clear();
            s.buf_pos = 0;
        }
        if s.buf.capacity() == 0 {
            if let Some(b) = self.spare_bufs.pop() {
                s.buf = b;
            }
        }
        s.buf.extend_from_slice(d.data);
        if d.end_stream {
            s.recv_closed = true;
        }
        if let Some(w) = s.read_waker.take() {
            w.wake();
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
        id: u32,
        block: &[u8],
        end_stream: bool,
        priority_error: bool,
    ) -> Result<(), ConnectionError> {
        // Decode first, whatever happens to the stream: the HPACK context is shared by
        // the connection (§4.3).
        self.scratch.clear();
        let mut too_large = false;
        {
            let scratch = &mut self.scratch;
            match self.decoder.decode(block, |n, v| scratch.push(n, v)) {
                Ok(()) => {}
                Err(DecodeError::HeaderListTooLarge { .. }) => too_large = true,
                Err(_) => {
                    return Err(self.conn_error(ErrorCode::CompressionError, "HPACK decoding"))
                }
            }
        }
        if self.role == Role::Client {
            return self.on_response_block(id, end_stream, too_large);
        }
        if id.is_multiple_of(2) {
            return Err(self.conn_error(ErrorCode::ProtocolError, "even stream id from client"));
        }
        if let Some(s) = self.streams.get_mut(&id) {
            if s.reset.is_some() {
                if s.peer_reset {
                    return self.stream_error(id, ErrorCode::StreamClosed);
                }
                return Ok(());
            }
            if s.recv_closed {
                return self.stream_error(id, ErrorCode::StreamClosed);
            }
            // Trailers (§8.1): must end the stream, no pseudo-headers.
            if !end_stream || too_large || self.scratch.validate_trailers().is_err() {
                return self.stream_error(id, ErrorCode::ProtocolError);
            }
            if s.content_length.is_some_and(|cl| cl != s.received) {
                return self.stream_error(id, ErrorCode::ProtocolError);
            }
            s.recv_closed = true;
            // Kept for the stream side (`take_trailers`), in a recycled buffer.
            let spare = self.spare_heads.pop().unwrap_or_default();
            s.trailers = Some(std::mem::replace(&mut self.scratch, spare));
            if let Some(w) = s.read_waker.take() {
                w.wake();
            }
            return Ok(());
        }
        if !self.is_idle(id) {
            if self.recent.contains(id) {
                return Ok(());
            }
            if self.closed_ids.contains(id) {
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
            return self.stream_error(id, ErrorCode::ProtocolError); // §5.3.1
        }
        if too_large {
            // §10.5.1: answer 431 instead of processing a too-large field section.
            self.respond_431(id, end_stream);
            return Ok(());
        }
        if self.streams.len() >= self.config.max_concurrent_streams as usize {
            // §5.1.2: beyond SETTINGS_MAX_CONCURRENT_STREAMS.
            return self.stream_error(id, ErrorCode::RefusedStream);
        }
        if self.scratch.validate_request().is_err() {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let mut s = self.new_stream();
        s.recv_closed = end_stream;
        s.content_length = self.scratch.content_length();
        if end_stream && s.content_length.is_some_and(|cl| cl != 0) {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let spare = self.spare_heads.pop().unwrap_or_default();
        let mut head = std::mem::replace(&mut self.scratch, spare);
        head.end_stream = end_stream;
        s.head = Some(head);
        self.streams.insert(id, s);
        self.events.push_back(Event::Request { stream_id: id });
        Ok(())
    }

    fn on_response_block(
        &mut self,
        id: u32,
        end_stream: bool,
        too_large: bool,
    ) -> Result<(), ConnectionError> {
        let Some(s) = self.streams.get_mut(&id) else {
            if self.is_idle(id) {
                return Err(self.conn_error(ErrorCode::ProtocolError, "HEADERS on an idle stream"));
            }
            if self.recent.contains(id) {
                return Ok(());
            }
            return Err(self.conn_error(ErrorCode::StreamClosed, "HEADERS on a closed stream"));
        };
        if s.reset.is_some() {
            return Ok(());
        }
        if s.recv_closed {
            return self.stream_error(id, ErrorCode::StreamClosed);
        }
        if too_large {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        if s.response_received {
            // Trailers (§8.1).
            if !end_stream || self.scratch.validate_trailers().is_err() {
                return self.stream_error(id, ErrorCode::ProtocolError);
            }
            s.recv_closed = true;
            // Kept for the client (see `take_trailers`).
            let spare = self.spare_heads.pop().unwrap_or_default();
            s.trailers = Some(std::mem::replace(&mut self.scratch, spare));
            if let Some(w) = s.read_waker.take() {
                w.wake();
            }
            return Ok(());
        }
        if self.scratch.validate_response().is_err() {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let status = self.scratch.status().unwrap_or(0);
        if status < 200 {
            // §8.1: informational responses come before the final one, never with
            // END_STREAM; they are skipped.
            if end_stream {
                return self.stream_error(id, ErrorCode::ProtocolError);
            }
            return Ok(());
        }
        s.response_received = true;
        s.recv_closed = end_stream;
        s.content_length = self.scratch.content_length();
        let spare = self.spare_heads.pop().unwrap_or_default();
        let mut head = std::mem::replace(&mut self.scratch, spare);
        head.end_stream = end_stream;
        s.head = Some(head);
        if let Some(w) = s.read_waker.take() {
            w.wake();
        }
        self.events.push_back(Event::Response { stream_id: id });
        Ok(())
    }

    fn new_stream(&mut self) -> Stream {
        Stream {
            send_window: i64::from(self.peer.initial_window_size),
            recv_window: i64::from(self.config.initial_stream_window),
            ..Stream::default()
        }
    }

    fn respond_431(&mut self, id: u32, end_stream: bool) {
        self.hblock.clear();
        let fields: [(&[u8], &[u8]); 2] = [(b":status", b"431"), (b"content-length", b"0")];
        self.encoder.encode(fields, &mut self.hblock);
        let _ = Headers {
            stream_id: id,
            fragment: &self.hblock,
            end_stream: true,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
        .encode_split(&mut self.out, self.peer.max_frame_size);
        self.recent.insert(id);
        if !end_stream {
            let _ = RstStream {
                stream_id: id,
                error_code: ErrorCode::NoError,
            }
            .encode(&mut self.out);
        }
    }

    fn on_rst(&mut self, r: RstStream) -> Result<(), ConnectionError> {
        if self.is_idle(r.stream_id) {
            return Err(self.conn_error(ErrorCode::ProtocolError, "RST_STREAM on an idle stream"));
        }
        let Some(s) = self.streams.get_mut(&r.stream_id) else {
            // Resetting a stream we just refused or reset: what a Rapid Reset client
            // does when the concurrency limit is reached. It counts too.
            if self.recent.contains(r.stream_id) && self.peer_resets.hit() {
                return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many stream resets"));
            }
            return Ok(());
        };
        if s.reset.is_some() {
            return Ok(());
        }
        let unfinished = !s.send_closed;
        s.reset = Some(r.error_code);
        s.peer_reset = true;
        s.wake_all();
        self.events.push_back(Event::Reset {
            stream_id: r.stream_id,
            code: r.error_code,
        });
        self.discard_stream_data(r.stream_id);
        // CVE-2023-44487 (Rapid Reset): requests cancelled while being served cost the
        // server work; too many of them in a window end the connection.
        if unfinished && self.peer_resets.hit() {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many stream resets"));
        }
        Ok(())
    }

    fn on_settings(&mut self, s: &SettingsFrame<'_>) -> Result<(), ConnectionError> {
        if s.is_ack() {
            self.settings_unacked = self.settings_unacked.saturating_sub(1);
            return Ok(());
        }
        let old_window = self.peer.initial_window_size;
        if let Err(e) = self.peer.apply(s) {
            return Err(self.conn_error(e.code, "invalid SETTINGS value"));
        }
        self.encoder
            .set_max_table_size(self.peer.header_table_size as usize);
        let delta = i64::from(self.peer.initial_window_size) - i64::from(old_window);
        if delta != 0 {
            // §6.9.2: the change applies to every stream's send window.
            let mut overflow = false;
            for st in self.streams.values_mut() {
                st.send_window += delta;
                if st.send_window > i64::from(MAX_WINDOW_SIZE) {
                    overflow = true;
                }
                if delta > 0 {
                    if let Some(w) = st.send_waker.take() {
                        w.wake();
                    }
                }
            }
            if overflow {
                return Err(self.conn_error(ErrorCode::FlowControlError, "window overflow"));
            }
        }
        self.control_frame()?;
        shockwave_http2_frames::encode_settings_ack(&mut self.out);
        Ok(())
    }

    fn on_window_update(&mut self, w: WindowUpdate) -> Result<(), ConnectionError> {
        let inc = i64::from(w.increment);
        if w.stream_id == 0 {
            self.conn_send_window += inc;
            if self.conn_send_window > i64::from(MAX_WINDOW_SIZE) {
                return Err(self.conn_error(ErrorCode::FlowControlError, "window overflow"));
            }
            if self.conn_send_window > 0 {
                // The connection window moved: a connection-level stall starts over.
                self.timers.conn_stall_since = None;
                self.timers.stall_scan = true;
            }
            for s in self.streams.values_mut() {
                if let Some(w) = s.send_waker.take() {
                    w.wake();
                }
            }
            return Ok(());
        }
        if self.is_idle(w.stream_id) {
            return Err(
                self.conn_error(ErrorCode::ProtocolError, "WINDOW_UPDATE on an idle stream")
            );
        }
        let Some(s) = self.streams.get_mut(&w.stream_id) else {
            return Ok(());
        };
        if s.reset.is_some() {
            return Ok(());
        }
        s.send_window += inc;
        if s.send_window > i64::from(MAX_WINDOW_SIZE) {
            return self.stream_error(w.stream_id, ErrorCode::FlowControlError);
        }
        if let Some(w) = s.send_waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// Sends RST_STREAM with `code` and forgets the stream's state (a stream error,
    /// §5.4.2). Too many of them in a window is a connection error (CVE-2019-9514).
    fn stream_error(&mut self, id: u32, code: ErrorCode) -> Result<(), ConnectionError> {
        self.control_frame()?;
        let _ = RstStream {
            stream_id: id,
            error_code: code,
        }
        .encode(&mut self.out);
        self.recent.insert(id);
        if let Some(s) = self.streams.get_mut(&id) {
            s.reset.get_or_insert(code);
            s.wake_all();
            self.discard_stream_data(id);
        }
        if self.local_resets.hit() {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many stream errors"));
        }
        Ok(())
    }

    fn discard_stream_data(&mut self, id: u32) {
        if let Some(s) = self.streams.get_mut(&id) {
            let n = s.buffered() as u32;
            s.buf.clear();
            s.buf_pos = 0;
            if n > 0 {
                self.release_conn(n);
            }
        }
    }

    fn remove_stream(&mut self, id: u32) {
        if let Some(mut s) = self.streams.remove(&id) {
            if !self.recent.contains(id) {
                self.closed_ids.insert(id);
            }
            let n = s.buffered() as u32;
            if n > 0 {
                self.release_conn(n);
            }
            for mut h in [s.head.take(), s.trailers.take()].into_iter().flatten() {
                if self.spare_heads.len() < 32 {
                    h.clear();
                    self.spare_heads.push(h);
                }
            }
            if s.buf.capacity() > 0 && s.buf.capacity() <= 1 << 20 && self.spare_bufs.len() < 32 {
                s.buf.clear();
                self.spare_bufs.push(std::mem::take(&mut s.buf));
            }
            for w in self.open_waiters.drain(..) {
                w.wake();
            }
        }
    }

    fn window_update(&mut self, id: u32, inc: u32) {
        let _ = WindowUpdate {
            stream_id: id,
            increment: inc,
        }
        .encode(&mut self.out);
    }

    /// Gives connection-level receive credit back once half the window is consumed.
    fn release_conn(&mut self, n: u32) {
        self.conn_recv_unacked += n;
        if self.conn_recv_unacked >= self.config.initial_connection_window / 2 {
            let inc = self.conn_recv_unacked;
            self.conn_recv_unacked = 0;
            self.conn_recv_window += i64::from(inc);
            self.window_update(0, inc);
        }
    }

    fn release_stream_window(&mut self, id: u32, n: u32) {
        let threshold = self.config.initial_stream_window / 2;
        let Some(s) = self.streams.get_mut(&id) else {
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

    // ---- the stream side -------------------------------------------------------------

    /// Takes the decoded head of a new request (see [`Event::Request`]); give it back with
    /// [`ServerConnection::recycle_head`] to reuse its buffers.
    pub fn take_head(&mut self, id: u32) -> Option<RequestHead> {
        self.streams.get_mut(&id).and_then(|s| s.head.take())
    }

    /// Returns a head's buffers for reuse.
    pub fn recycle_head(&mut self, mut head: RequestHead) {
        if self.spare_heads.len() < 32 {
            head.clear();
            self.spare_heads.push(head);
        }
    }

    /// Reads request body bytes of stream `id` into `buf`: `Ready(Ok(0))` at the end of
    /// the body; `Pending` (waking `waker` later) when nothing is buffered yet. Consumed
    /// bytes are given back to the peer as flow-control credit.
    pub fn poll_read_data(
        &mut self,
        id: u32,
        waker: &Waker,
        buf: &mut [u8],
    ) -> Poll<Result<usize, StreamError>> {
        let Some(s) = self.streams.get_mut(&id) else {
            return Poll::Ready(Err(StreamError::Closed));
        };
        if let Some(code) = s.reset {
            return Poll::Ready(Err(StreamError::Reset(code)));
        }
        let avail = s.buffered();
        if avail == 0 {
            if s.recv_closed {
                return Poll::Ready(Ok(0));
            }
            s.read_waker = Some(waker.clone());
            return Poll::Pending;
        }
        let n = avail.min(buf.len());
        buf[..n].copy_from_slice(&s.buf[s.buf_pos..s.buf_pos + n]);
        s.buf_pos += n;
        if s.buf_pos == s.buf.len() {
            s.buf.clear();
            s.buf_pos = 0;
        }
        self.release_conn(n as u32);
        self.release_stream_window(id, n as u32);
        Poll::Ready(Ok(n))
    }

    /// True when the request body of `id` has been received completely.
    pub fn is_recv_closed(&self, id: u32) -> bool {
        self.streams.get(&id).is_none_or(|s| s.recv_closed)
    }

    /// Bytes of request body buffered for stream `id` and not yet read.
    pub fn buffered(&self, id: u32) -> usize {
        self.streams.get(&id).map_or(0, Stream::buffered)
    }

    /// `Ready(code)` once stream `id` was reset (or is gone); otherwise registers `waker`.
    pub fn poll_reset(&mut self, id: u32, waker: &Waker) -> Poll<ErrorCode> {
        match self.streams.get_mut(&id) {
            None => Poll::Ready(ErrorCode::Cancel),
            Some(s) => match s.reset {
                Some(code) => Poll::Ready(code),
                None => {
                    s.reset_waker = Some(waker.clone());
                    Poll::Pending
                }
            },
        }
    }

    /// Sends a response (or trailers) field section on stream `id`: HEADERS plus
    /// CONTINUATION frames as needed. `fields` must be lowercase and valid.
    pub fn send_headers<'h>(
        &mut self,
        id: u32,
        fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        if self.error.is_some() {
            return Err(StreamError::ConnectionClosed);
        }
        let Some(s) = self.streams.get_mut(&id) else {
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
        id: u32,
        fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        end_stream: bool,
    ) {
        self.hblock.clear();
        self.encoder.encode(fields, &mut self.hblock);
        let _ = Headers {
            stream_id: id,
            fragment: &self.hblock,
            end_stream,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
        .encode_split(&mut self.out, self.peer.max_frame_size);
    }

    /// Client role: opens a stream with a request field section (`:method`, `:scheme`,
    /// `:authority`, `:path`, then lowercase fields). `Pending` while the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS is reached or the write buffer is full (`waker`
    /// is woken when that changes; pass the fields again then).
    pub fn poll_open_stream<'h>(
        &mut self,
        waker: &Waker,
        fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        end_stream: bool,
    ) -> Poll<Result<u32, StreamError>> {
        if self.error.is_some() || self.goaway_received || self.role != Role::Client {
            return Poll::Ready(Err(StreamError::ConnectionClosed));
        }
        let max = self.peer.max_concurrent_streams.unwrap_or(u32::MAX) as usize;
        if self.streams.len() >= max {
            self.open_waiters.push(waker.clone());
            return Poll::Pending;
        }
        if self.pending_output().len() >= self.config.max_output_buffer {
            self.write_waiters.push(waker.clone());
            return Poll::Pending;
        }
        let id = self.next_stream_id;
        if id > shockwave_http2_frames::MAX_STREAM_ID {
            return Poll::Ready(Err(StreamError::ConnectionClosed));
        }
        self.next_stream_id += 2;
        let mut s = self.new_stream();
        s.headers_sent = true;
        s.send_closed = end_stream;
        self.streams.insert(id, s);
        self.write_headers(id, fields, end_stream);
        Poll::Ready(Ok(id))
    }

    /// Client role: the response head of stream `id` once it arrived (informational 1xx
    /// responses are skipped).
    pub fn poll_response(
        &mut self,
        id: u32,
        waker: &Waker,
    ) -> Poll<Result<RequestHead, StreamError>> {
        let Some(s) = self.streams.get_mut(&id) else {
            return Poll::Ready(Err(StreamError::Closed));
        };
        if let Some(h) = s.head.take() {
            return Poll::Ready(Ok(h));
        }
        if let Some(code) = s.reset {
            return Poll::Ready(Err(StreamError::Reset(code)));
        }
        s.read_waker = Some(waker.clone());
        Poll::Pending
    }

    /// The trailer section the peer sent on stream `id` (RFC 9113 §8.1): the request's
    /// (server role) or the response's (client role). Take it once the body has been read
    /// to its end ([`ServerConnection::poll_read_data`] returned `Ok(0)`); the fields were
    /// checked (no pseudo-headers, valid lowercase names). Give it back with
    /// [`ServerConnection::recycle_head`].
    pub fn take_trailers(&mut self, id: u32) -> Option<RequestHead> {
        self.streams.get_mut(&id).and_then(|s| s.trailers.take())
    }

    /// Sends body bytes on stream `id` within the flow-control windows: `Ready(Ok(n))`
    /// with `n` bytes accepted (as DATA frames of at most the peer's max frame size;
    /// END_STREAM on the last one if `end_stream` and everything was accepted). `Pending`
    /// when no window is open or the write buffer is full; `waker` is woken when that
    /// changes. With empty `data` and `end_stream`, sends an empty DATA frame with
    /// END_STREAM.
    pub fn poll_send_data(
        &mut self,
        id: u32,
        waker: &Waker,
        data: &[u8],
        end_stream: bool,
    ) -> Poll<Result<usize, StreamError>> {
        if self.error.is_some() {
            return Poll::Ready(Err(StreamError::ConnectionClosed));
        }
        if self.pending_output().len() >= self.config.max_output_buffer {
            self.write_waiters.push(waker.clone());
            return Poll::Pending;
        }
        let room = self.config.max_output_buffer - self.pending_output().len();
        let conn_window = self.conn_send_window;
        let max_frame = self.peer.max_frame_size;
        let Some(s) = self.streams.get_mut(&id) else {
            return Poll::Ready(Err(StreamError::Closed));
        };
        if let Some(code) = s.reset {
            return Poll::Ready(Err(StreamError::Reset(code)));
        }
        if s.send_closed {
            return Poll::Ready(Err(StreamError::Closed));
        }
        let window = conn_window.min(s.send_window).max(0) as usize;
        let n = data.len().min(window).min(room.max(max_frame as usize));
        if n == 0 && !data.is_empty() {
            s.send_waker = Some(waker.clone());
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
            return Poll::Pending;
        }
        s.blocked = Blocked::No;
        s.stalled_since = None;
        let end = end_stream && n == data.len();
        s.send_window -= n as i64;
        if end {
            s.send_closed = true;
        }
        self.conn_send_window -= n as i64;
        let _ = Data {
            stream_id: id,
            data: &data[..n],
            end_stream: end,
            pad_len: None,
        }
        .encode_split(&mut self.out, max_frame);
        Poll::Ready(Ok(n))
    }

    /// Resets stream `id` with `code` (e.g. CANCEL or INTERNAL_ERROR from the handler
    /// side).
    pub fn reset(&mut self, id: u32, code: ErrorCode) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.reset.is_some() {
            return;
        }
        s.reset = Some(code);
        s.wake_all();
        let _ = RstStream {
            stream_id: id,
            error_code: code,
        }
        .encode(&mut self.out);
        self.recent.insert(id);
        self.discard_stream_data(id);
    }

    /// The stream side is finished with stream `id`. If the response is complete but the
    /// request body is still arriving, the stream is reset with NO_ERROR (RFC 9113 §8.1);
    /// if the response is incomplete, with INTERNAL_ERROR / CANCEL.
    pub fn release(&mut self, id: u32) {
        let Some(s) = self.streams.get_mut(&id) else {
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
