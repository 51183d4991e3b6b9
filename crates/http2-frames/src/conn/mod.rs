//! The HTTP/2 connection (RFC 9113) without I/O, for both roles: bytes and time in,
//! bytes and [`Event`]s out.
//!
//! # What it does
//!
//! [`Connection`] validates and applies every frame the peer sends (stream states §5.1,
//! stream identifiers §5.1.1, flow control §5.2/§6.9, SETTINGS §6.5, PING §6.7, GOAWAY
//! §6.8, RST_STREAM §6.4, field blocks §4.3 with HPACK, the field rules of §8), queues
//! what must be written (answers, our frames, coalesced into one buffer), keeps request
//! and response bodies within the flow-control windows, runs its timers (SETTINGS ACK
//! timeout, keep-alive PING and its ACK, stalled streams) on the time the driver passes
//! in, and defends itself (see the table in the crate docs).
//!
//! # What it does not do
//!
//! No socket, no task, no waker, no clock: it never reads the time (`now` is always a
//! parameter), never blocks and never wakes anything. It does not run handlers or pick
//! what to send: the stream side (the driver's tasks) reads bodies, sends heads and
//! bodies, and releases streams through the methods below. Server push is not supported
//! (the client announces SETTINGS_ENABLE_PUSH 0; PUSH_PROMISE is a connection error).
//!
//! # Driving it: when to call what
//!
//! - **Create**: [`Connection::new`] (server) or [`Connection::client`]; our SETTINGS (and,
//!   for a client, the preface) are queued at once.
//! - **Input**: for bytes read from the socket call [`Connection::recv`] with the bytes
//!   not consumed yet and `now`; it returns how many it used (keep the rest, append new
//!   bytes, call again). Read from the socket only while [`Connection::wants_read`] (the
//!   output buffer is above [`Config::max_output_buffer`] when it is false: backpressure).
//!   At EOF call [`Connection::peer_closed`].
//! - **Events**: after `recv`, after `handle_timeout`, after [`Connection::advance_output`]
//!   and after every stream-side call, drain [`Connection::poll_event`] and react: start a
//!   handler on [`Event::Request`], wake the task waiting on a stream for the `Stream*`
//!   events and [`Event::Response`], wake tasks waiting to open a stream on
//!   [`Event::CanOpenStream`].
//! - **Output**: write [`Connection::pending_output`] to the socket, then call
//!   [`Connection::advance_output`] with the count written. Output appears after `recv`,
//!   `handle_timeout` and any stream-side call.
//! - **Time**: call [`Connection::handle_timeout`] with the current time whenever the
//!   driver wakes up (cheap), then sleep until [`Connection::poll_timeout`] if nothing
//!   else happens before. The idle timeout ([`Config::idle_timeout`]) is the driver's:
//!   restart it when [`Connection::activity`] changes; when it fires with
//!   [`Connection::active_streams`] at 0, call [`Connection::go_away`].
//! - **Stream side** (non-blocking; [`StreamError::WouldBlock`] means "retry after the
//!   matching event"): server: [`Connection::take_head`], [`Connection::read_data`],
//!   [`Connection::take_trailers`], [`Connection::send_headers`],
//!   [`Connection::send_data`], [`Connection::reset`]; client:
//!   [`Connection::open_stream`], [`Connection::take_response`], then the same body and
//!   trailer calls. Every stream must end with [`Connection::release`] (it also resets an
//!   unfinished stream as §8.1 asks), or it keeps counting against the concurrency limit.
//! - **End**: [`Connection::go_away`] for a graceful shutdown; close the socket once
//!   [`Connection::is_done`] and the output is written.

mod config;
mod error;
mod event;
mod fields;
mod flow;
mod limits;
mod recv;
mod send;
mod store;
mod stream;
mod stream_id;
mod timers;

use std::collections::VecDeque;
use std::time::Instant;

use shockwave_hpack::{Decoder, DecoderLimits, Encoder};

pub use config::{Config, HEADER_LIST_ABORT_FACTOR};
pub use error::{ConnectionError, StreamError};
pub use event::Event;
pub use fields::{ArenaHead, FieldBlock, Malformed};
pub use store::IdHasher;
pub use stream_id::StreamId;

use crate::{ErrorCode, FrameDecoder, GoAway, RstStream, Setting, SettingId, Settings};
use flow::ConnFlow;
use limits::RateLimit;
use store::Store;
use timers::Timers;

/// Which end of the connection a [`Connection`] plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts streams (requests) from the peer.
    Server,
    /// Opens streams (requests) to the peer.
    Client,
}

/// A field block whose HEADERS frame had no END_HEADERS: CONTINUATION frames follow.
#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    stream_id: StreamId,
    end_stream: bool,
    priority_error: bool,
    /// When its HEADERS frame arrived ([`Config::header_block_timeout`] runs from here).
    started: Instant,
}

/// The output buffer's first capacity (the preface's SETTINGS and a few responses).
const INITIAL_OUTPUT: usize = 1024;

/// One HTTP/2 connection without I/O: the server side ([`Connection::new`]) or the client
/// side ([`Connection::client`]). See the [module docs](self) for the driving contract.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    /// Client role: the id of the next stream we open.
    next_stream_id: StreamId,
    /// Client role: `open_stream` returned `WouldBlock`.
    open_blocked: bool,
    config: Config,
    preface_done: bool,
    got_settings: bool,
    frames: FrameDecoder,
    decoder: Decoder,
    encoder: Encoder,
    peer: Settings,
    settings_unacked: u32,
    store: Store,
    /// Server role: the highest stream id the peer opened.
    last_stream_id: StreamId,
    flow: ConnFlow,
    open_block: Option<OpenBlock>,
    block_buf: Vec<u8>,
    scratch: FieldBlock,
    hblock: Vec<u8>,
    out: Vec<u8>,
    flushed: usize,
    control_queued: usize,
    events: VecDeque<Event>,
    /// A stream-side call was refused because the output buffer is full.
    output_blocked: bool,
    goaway_sent: Option<StreamId>,
    goaway_received: bool,
    error: Option<ConnectionError>,
    peer_resets: RateLimit,
    local_resets: RateLimit,
    glitches: RateLimit,
    /// Field blocks over the list-size or field-count limit.
    oversized_lists: RateLimit,
    timers: Timers,
    /// Server role: new requests with a body are refused ([`Connection::refuse_bodies`]).
    refuse_bodies: bool,
    /// The receive window of new streams, as last acknowledged by the peer (our
    /// SETTINGS_INITIAL_WINDOW_SIZE, RFC 9113 §6.9.2).
    recv_initial: u32,
    /// The last value asked for with [`Connection::set_initial_stream_window`].
    recv_initial_wanted: u32,
    /// One entry per SETTINGS frame we sent and the peer did not acknowledge yet: the
    /// SETTINGS_INITIAL_WINDOW_SIZE it changes, applied when its ACK arrives.
    window_changes: VecDeque<Option<u32>>,
}

impl Connection {
    /// The server side of a new connection: our SETTINGS (and a connection WINDOW_UPDATE
    /// up to the configured window) are queued right away (RFC 9113 §3.4). The client's
    /// preface is expected first in [`Connection::recv`].
    pub fn new(config: Config) -> Self {
        Self::with_role(config, Role::Server)
    }

    /// The client side of a connection: the preface, our SETTINGS (push disabled) and a
    /// connection WINDOW_UPDATE are queued; open streams with [`Connection::open_stream`].
    pub fn client(config: Config) -> Self {
        Self::with_role(config, Role::Client)
    }

    /// The role this connection plays.
    pub fn role(&self) -> Role {
        self.role
    }

    fn with_role(config: Config, role: Role) -> Self {
        let config = config.validated();
        let mut frames = FrameDecoder::new();
        frames.set_max_header_block_len(config.max_header_block_len);
        frames.set_max_continuation_frames(config.max_continuation_frames);
        let decoder = Decoder::with_limits(DecoderLimits {
            max_header_list_size: config.max_header_list_size as usize,
            ..DecoderLimits::default()
        });
        let mut conn = Connection {
            role,
            next_stream_id: StreamId::new(1),
            open_blocked: false,
            preface_done: role == Role::Client,
            got_settings: false,
            frames,
            decoder,
            encoder: Encoder::new(),
            peer: Settings::DEFAULT,
            settings_unacked: 0,
            store: Store::with_capacity(config.max_concurrent_streams.min(256) as usize),
            last_stream_id: StreamId::ZERO,
            flow: ConnFlow::new(),
            open_block: None,
            block_buf: Vec::new(),
            scratch: FieldBlock::default(),
            hblock: Vec::with_capacity(1024),
            // Grows with what the connection sends (and keeps that): an idle connection
            // does not hold a 16 KiB buffer.
            out: Vec::with_capacity(INITIAL_OUTPUT),
            flushed: 0,
            control_queued: 0,
            events: VecDeque::with_capacity(64),
            output_blocked: false,
            goaway_sent: None,
            goaway_received: false,
            error: None,
            peer_resets: RateLimit::new(config.max_resets_per_window, config.reset_window),
            local_resets: RateLimit::new(config.max_local_resets_per_window, config.reset_window),
            glitches: RateLimit::new(config.max_glitches_per_window, config.reset_window),
            oversized_lists: RateLimit::new(config.max_oversized_header_lists, config.reset_window),
            timers: Timers::default(),
            refuse_bodies: false,
            recv_initial: config.initial_stream_window,
            recv_initial_wanted: config.initial_stream_window,
            window_changes: VecDeque::new(),
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
            // RFC 8441 §3: sent only when extended CONNECT is accepted.
            Setting::new(SettingId::EnableConnectProtocol, 1),
        ];
        let server_len = if c.enable_connect_protocol { 4 } else { 3 };
        let client = [
            Setting::new(SettingId::EnablePush, 0),
            Setting::new(SettingId::InitialWindowSize, c.initial_stream_window),
            Setting::new(SettingId::MaxHeaderListSize, c.max_header_list_size),
        ];
        // Values out of range are clamped by `Config::validated`; encoding cannot fail.
        let entries = match self.role {
            Role::Server => &server[..server_len],
            Role::Client => {
                self.out.extend_from_slice(crate::PREFACE);
                &client[..]
            }
        };
        let _ = crate::encode_settings(&mut self.out, entries);
        self.settings_unacked += 1;
        self.window_changes.push_back(None);
        let extra = i64::from(c.initial_connection_window) - self.flow.recv_window;
        if extra > 0 {
            self.window_update(StreamId::ZERO, extra as u32);
            self.flow.recv_window += extra;
        }
    }

    /// The configuration (validated).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The peer's settings as last received.
    pub fn peer_settings(&self) -> &Settings {
        &self.peer
    }

    /// True once the peer's first SETTINGS frame arrived: before it,
    /// [`Connection::peer_settings`] holds the protocol's defaults, which is not yet the
    /// peer's answer for settings that are off by default (RFC 8441 §3: a client waits
    /// for SETTINGS_ENABLE_CONNECT_PROTOCOL before an extended CONNECT).
    pub fn peer_settings_received(&self) -> bool {
        self.got_settings
    }

    /// Server role: applies the `HTTP2-Settings` of an HTTP/1.1 `Upgrade: h2c` request
    /// (RFC 7540 §3.2.1) and opens stream 1 (half-closed remote) with the upgraded
    /// request's head, which must already be validated. The response goes on stream 1;
    /// [`Event::Request`] announces it.
    pub fn upgrade(&mut self, settings: &Settings, mut head: FieldBlock) {
        // The upgraded request had no body: its stream is half-closed (remote) at once.
        head.end_stream = true;
        self.peer = *settings;
        self.encoder
            .set_max_table_size(settings.header_table_size as usize);
        let id = StreamId::new(1);
        self.last_stream_id = id;
        let mut s = self.new_stream();
        s.recv_closed = true;
        s.head = Some(head);
        self.store.insert(id, s);
        self.events.push_back(Event::Request { stream_id: id });
    }

    // ---- output ------------------------------------------------------------------------

    /// Bytes waiting to be written to the socket (many frames, coalesced).
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.flushed..]
    }

    /// Marks `n` bytes of [`Connection::pending_output`] as written. Once everything is
    /// written, writers refused for lack of output space get [`Event::StreamWritable`]
    /// and a refused opener [`Event::CanOpenStream`].
    pub fn advance_output(&mut self, n: usize) {
        self.flushed = (self.flushed + n).min(self.out.len());
        if self.flushed == self.out.len() {
            self.out.clear();
            if self.out.capacity() > 256 * 1024 && self.store.is_empty() {
                // A large transfer grew the buffer: do not keep it on an idle connection.
                self.out = Vec::with_capacity(INITIAL_OUTPUT);
            }
            self.flushed = 0;
            self.control_queued = 0;
            if std::mem::take(&mut self.output_blocked) {
                for (id, s) in self.store.iter_mut() {
                    if std::mem::take(&mut s.wants_output) {
                        self.events
                            .push_back(Event::StreamWritable { stream_id: id });
                    }
                }
                if std::mem::take(&mut self.open_blocked) {
                    self.events.push_back(Event::CanOpenStream);
                }
            }
        }
    }

    /// True when reading more input is reasonable: not closed, and the peer is reading
    /// what we write (backpressure against floods of frames that demand an answer).
    pub fn wants_read(&self) -> bool {
        self.error.is_none() && self.pending_output().len() < self.config.max_output_buffer
    }

    /// The next event, if any (see [`Event`]).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- connection state --------------------------------------------------------------

    /// The connection error, once one happened (GOAWAY queued; stop reading).
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    /// True when nothing more will happen: after a connection error, or after GOAWAY (sent
    /// or received) once every stream has been released.
    pub fn is_done(&self) -> bool {
        self.error.is_some()
            || ((self.goaway_sent.is_some() || self.goaway_received) && self.store.is_empty())
    }

    /// True once the peer acknowledged every SETTINGS frame we sent (§6.5.3).
    pub fn settings_acked(&self) -> bool {
        self.settings_unacked == 0
    }

    /// Server role: while `on`, a new request whose HEADERS frame does not end the stream
    /// (one that carries a body) is refused with RST_STREAM REFUSED_STREAM, which tells
    /// the client it was not processed and is safe to retry (RFC 9113 §8.7). A server
    /// that holds as many request-body bytes as it wants to turns it on, and off again
    /// once memory is released; requests without a body are still served.
    pub fn refuse_bodies(&mut self, on: bool) {
        self.refuse_bodies = on;
    }

    /// Streams open on the connection (including reset ones not yet released).
    pub fn active_streams(&self) -> usize {
        self.store.len()
    }

    /// Starts a graceful shutdown: GOAWAY with the last stream id seen, NO_ERROR; new
    /// streams are ignored and [`Connection::is_done`] turns true when the open ones are
    /// released (RFC 9113 §6.8).
    pub fn go_away(&mut self) {
        if self.goaway_sent.is_none() && self.error.is_none() {
            self.goaway(ErrorCode::NoError);
        }
    }

    fn goaway(&mut self, code: ErrorCode) {
        let last = self.last_stream_id;
        self.goaway_sent = Some(last);
        let _ = GoAway {
            last_stream_id: last.value(),
            error_code: code,
            debug_data: &[],
        }
        .encode(&mut self.out);
    }

    /// The peer closed its side (EOF): every stream is reset (CANCEL,
    /// [`Event::StreamReset`]) so that its stream side stops.
    pub fn peer_closed(&mut self) {
        for (id, s) in self.store.iter_mut() {
            s.set_reset(id, ErrorCode::Cancel, false, &mut self.events);
        }
        self.goaway_received = true;
    }

    /// Ends the connection with `code`: GOAWAY, every stream reset, later input refused.
    pub(crate) fn conn_error(&mut self, code: ErrorCode, reason: &'static str) -> ConnectionError {
        let e = ConnectionError { code, reason };
        if self.error.is_none() {
            self.goaway(code);
            self.error = Some(e);
            for (id, s) in self.store.iter_mut() {
                s.set_reset(id, code, false, &mut self.events);
            }
        }
        e
    }

    /// Sends RST_STREAM with `code` and forgets the stream's data (a stream error,
    /// §5.4.2). Too many of them in a window is a connection error (CVE-2019-9514).
    pub(crate) fn stream_error(
        &mut self,
        id: StreamId,
        code: ErrorCode,
        now: Instant,
    ) -> Result<(), ConnectionError> {
        self.control_frame()?;
        let _ = RstStream {
            stream_id: id.value(),
            error_code: code,
        }
        .encode(&mut self.out);
        self.store.recent.insert(id);
        if let Some(s) = self.store.get_mut(id) {
            s.set_reset(id, code, false, &mut self.events);
            self.discard_stream_data(id);
        }
        if self.local_resets.hit(now) {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many stream errors"));
        }
        Ok(())
    }

    /// Counts a glitch: a frame from the peer that costs work but carries nothing (an
    /// empty DATA frame, PRIORITY, an unknown frame type, a repeated SETTINGS, a
    /// WINDOW_UPDATE for a stream that is gone). Floods of them (hundreds of millions of
    /// empty DATA frames burn a core) end the connection like Rapid Reset does.
    fn glitch(&mut self, now: Instant) -> Result<(), ConnectionError> {
        if self.glitches.hit(now) {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "too many glitches"));
        }
        Ok(())
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

    /// True for a stream id the peer may not use yet (§5.1 "idle").
    fn is_idle(&self, id: StreamId) -> bool {
        match self.role {
            Role::Server => id > self.last_stream_id,
            // Push is disabled: every even stream is idle. Once every odd id was used
            // (`next_stream_id` is 0), none of ours is idle.
            Role::Client => {
                !id.is_client_initiated()
                    || (!self.next_stream_id.is_zero() && id >= self.next_stream_id)
            }
        }
    }

    fn new_stream(&self) -> stream::Stream {
        stream::Stream {
            send_window: i64::from(self.peer.initial_window_size),
            recv_window: i64::from(self.recv_initial),
            ..stream::Stream::default()
        }
    }

    /// Forgets a released stream: its unread body's credit goes back to the connection,
    /// its buffers to the pools, and a waiting opener may proceed.
    fn remove_stream(&mut self, id: StreamId) {
        if let Some(n) = self.store.remove(id) {
            if n > 0 {
                self.flow.held -= n as u64;
                self.release_conn(n as u32);
            }
            if std::mem::take(&mut self.open_blocked) {
                self.events.push_back(Event::CanOpenStream);
            }
        }
    }
}
