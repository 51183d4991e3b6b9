//! [`Config`]: the settings we announce and the limits that defend the connection.

use std::time::Duration;

/// HTTP/2 settings and limits of a connection (either role). Every field has a sane
/// default; [`Connection`](super::Connection) applies [`Config::validated`] itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS; more streams are refused. Default 200.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: receive window per stream. Default 1 MiB.
    pub initial_stream_window: u32,
    /// Receive window of the connection. Default 1 MiB.
    pub initial_connection_window: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: decoded request head limit (431 beyond). Default 16 KiB.
    pub max_header_list_size: u32,
    /// Most fields in one decoded field block (request headers, trailers); beyond it the
    /// block is answered like one over [`Config::max_header_list_size`] (431 on a request,
    /// the stream reset on trailers). Caps the server memory that many tiny indexed
    /// fields can pin. Default 100 (HTTP/1.1's `max_headers`).
    pub max_header_fields: usize,
    /// Largest encoded field block (HEADERS + CONTINUATION). Default 64 KiB.
    pub max_header_block_len: usize,
    /// Most CONTINUATION frames in one field block. Default 32.
    pub max_continuation_frames: u32,
    /// Peer RST_STREAMs on unfinished streams allowed per [`Config::reset_window`].
    /// Default 200.
    pub max_resets_per_window: u32,
    /// RST_STREAMs we send (stream errors, refusals) allowed per window. Default 1000.
    pub max_local_resets_per_window: u32,
    /// Glitches allowed per [`Config::reset_window`]: frames that cost work but carry
    /// nothing (empty DATA without END_STREAM, PRIORITY, unknown frame types, SETTINGS
    /// after the first, WINDOW_UPDATE for a stream that is gone or reset); beyond it
    /// GOAWAY `ENHANCE_YOUR_CALM`. Default 1000 (nghttp2's default; a legitimate
    /// peer sends a handful).
    pub max_glitches_per_window: u32,
    /// The window of the reset and glitch limits. Default 10 s.
    pub reset_window: Duration,
    /// Most queued, unwritten answers to the peer's frames (SETTINGS/PING ACKs,
    /// RST_STREAMs) before the connection is closed. Default 1000.
    pub max_pending_control_frames: usize,
    /// Write-buffer high-water mark: above it no more input is read and no more DATA is
    /// queued. Default 1 MiB (a buffer grown past 256 KiB is released once the connection
    /// is idle).
    pub max_output_buffer: usize,
    /// Read buffer size of the driver (the connection does not read; drivers size their
    /// buffer with it: Shockwave's start with a 4 KiB window of it and widen it while
    /// reads fill it). Default 64 KiB.
    pub read_buffer_size: usize,
    /// An idle connection (no open stream, nothing received) gets GOAWAY after this long
    /// (fired by [`Connection::handle_timeout`](super::Connection::handle_timeout)).
    /// Default 60 s.
    pub idle_timeout: Duration,
    /// Our SETTINGS must be acknowledged within this time, else GOAWAY SETTINGS_TIMEOUT.
    /// Default 10 s.
    pub settings_timeout: Duration,
    /// Keep-alive: when nothing was received from the peer for this long, send a PING
    /// (RFC 9113 §6.7) to check that it is still there. `None` (the default): never.
    pub keep_alive_interval: Option<Duration>,
    /// A keep-alive PING must be acknowledged within this time, else the connection is
    /// closed (GOAWAY, then the socket). Default 20 s.
    pub keep_alive_timeout: Duration,
    /// A stream whose response has been blocked on its own zero flow-control window for
    /// this long is reset with CANCEL and its handler stopped, so a peer that never sends
    /// WINDOW_UPDATE cannot pin it forever; streams waiting for the connection window are
    /// cancelled when that window stays closed this long (losing the race for a moving
    /// window is no stall). `None`: never. Default 30 s.
    pub stream_stall_timeout: Option<Duration>,
    /// A field block (a HEADERS frame without END_HEADERS and its CONTINUATION frames)
    /// must be complete within this long from its first frame, else GOAWAY
    /// `ENHANCE_YOUR_CALM`: while a block is open no other frame may arrive (RFC 9113
    /// §6.10), so a peer that never ends it would hold the connection until the idle
    /// timeout. `None`: never. Default 10 s (the built-in server uses
    /// `Timeouts::header_read`, and its driver also closes a connection whose first frame
    /// has not arrived after this long, instead of waiting for [`Config::idle_timeout`]).
    pub header_block_timeout: Option<Duration>,
    /// Field blocks whose decoded list is over [`Config::max_header_list_size`] (or
    /// [`Config::max_header_fields`]), each answered with 431 or a stream reset, allowed
    /// per [`Config::reset_window`]; one more is GOAWAY `ENHANCE_YOUR_CALM`. After the
    /// first such block in a window, a block whose list passes
    /// [`HEADER_LIST_ABORT_FACTOR`] × `max_header_list_size` is not decoded further and
    /// closes the connection at once. Default 10.
    pub max_oversized_header_lists: u32,
    /// Flow-control credit on release (as h2's `release_capacity` and nghttp2's
    /// `consume`): when true, [`Connection::read_data`](super::Connection::read_data) gives
    /// no credit back; the stream side calls
    /// [`Connection::release_capacity`](super::Connection::release_capacity) once the
    /// bytes it read are no longer held (and the connection credit of a stream's unreleased
    /// bytes comes back when the stream is released). Then the windows bound what the
    /// stream side holds, not only what is buffered here. Default false: credit goes back
    /// as bytes are read.
    pub release_on_demand: bool,
    /// Server role: announce SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3) and accept
    /// the extended CONNECT method: a `CONNECT` request with a `:protocol` pseudo-header,
    /// which then needs `:scheme`, `:path` and `:authority` (RFC 8441 §4); the driver reads
    /// the protocol with [`FieldBlock::protocol`](super::FieldBlock::protocol). When false
    /// (the default), `:protocol` is malformed (a stream error of type PROTOCOL_ERROR).
    /// Ignored in the client role.
    pub enable_connect_protocol: bool,
}

/// Once a peer has sent one oversized field list, a later list this many times over
/// [`Config::max_header_list_size`] stops decoding and closes the connection with GOAWAY
/// `ENHANCE_YOUR_CALM` (the h2 crate's factor). Answering every such block with 431 would
/// mean decoding each to its end to keep the HPACK table in sync (RFC 7541 §4.3): a core's
/// worth of work for a peer that sends nothing else. The first one still gets its 431 and
/// the connection lives on (a client with one oversized request is not cut off).
pub const HEADER_LIST_ABORT_FACTOR: usize = 4;

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 200,
            initial_stream_window: 1 << 20,
            initial_connection_window: 1 << 20,
            max_header_list_size: 16 * 1024,
            max_header_fields: 100,
            max_header_block_len: 64 * 1024,
            max_continuation_frames: 32,
            max_resets_per_window: 200,
            max_local_resets_per_window: 1000,
            max_glitches_per_window: 1000,
            reset_window: Duration::from_secs(10),
            max_pending_control_frames: 1000,
            max_output_buffer: 1024 * 1024,
            read_buffer_size: 64 * 1024,
            idle_timeout: Duration::from_secs(60),
            settings_timeout: Duration::from_secs(10),
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            stream_stall_timeout: Some(Duration::from_secs(30)),
            header_block_timeout: Some(Duration::from_secs(10)),
            max_oversized_header_lists: 10,
            release_on_demand: false,
            enable_connect_protocol: false,
        }
    }
}

impl Config {
    /// The configuration with every value clamped into its RFC range.
    pub fn validated(mut self) -> Self {
        let max = crate::MAX_WINDOW_SIZE;
        self.initial_stream_window = self.initial_stream_window.min(max);
        self.initial_connection_window = self.initial_connection_window.clamp(65_535, max);
        self.max_output_buffer = self.max_output_buffer.max(32 * 1024);
        self.read_buffer_size = self.read_buffer_size.max(16 * 1024 + 9);
        self
    }
}
