//! HTTP/2 (RFC 9113) on our own frame codec (`shockwave-http2-frames`) and HPACK
//! (`shockwave-hpack`): a sans-I/O connection engine and a thin tokio driver.
//!
//! - [`ServerConnection`] (module [`engine`]) is the whole protocol without I/O: feed it the
//!   bytes read from the socket, write what it queues, and serve the requests it announces.
//!   It implements stream states, identifiers, flow control (1 MiB stream and connection
//!   windows by default, credit given back as the handler reads), SETTINGS, PING, GOAWAY,
//!   RST_STREAM, trailers, and the request checks of RFC 9113 §8.
//! - [`serve_connection`] drives one connection on tokio with the same
//!   [`Handler`](crate::server::Handler) and
//!   [`RequestContext`](crate::server::RequestContext) as HTTP/1.1: per stream an arena from
//!   the worker's pool, the request body streamed from DATA frames, a panic answered with
//!   500, responses (and trailers) coalesced into few writes, no heap allocation per
//!   request once the connection is warm.
//!
//! ## Defences
//!
//! | attack | defence (default) |
//! |---|---|
//! | Rapid Reset (CVE-2023-44487) | reset streams keep counting as open until their handler stops (it is cancelled); more than [`Http2Config::max_resets_per_window`] (200) peer resets per 10 s → GOAWAY `ENHANCE_YOUR_CALM` |
//! | stream-error floods (CVE-2019-9514) | more than [`Http2Config::max_local_resets_per_window`] RST_STREAMs we send per 10 s → GOAWAY `ENHANCE_YOUR_CALM` |
//! | CONTINUATION flood | the field block is capped at [`Http2Config::max_header_block_len`] (64 KiB) and 32 CONTINUATION frames before any decoding → GOAWAY `ENHANCE_YOUR_CALM` |
//! | HPACK bomb | decoded header list capped at [`Http2Config::max_header_list_size`] (16 KiB) → `431` on that stream |
//! | SETTINGS / PING floods | at most [`Http2Config::max_pending_control_frames`] unwritten answers; input is not read while the output buffer is full |
//! | zero-window stalls | body bytes are only copied into the write buffer as the windows allow; a stalled stream holds nothing but its own response, and is reset with CANCEL after [`Http2Config::stream_stall_timeout`] (30 s) |
//! | dead peers | optional keep-alive PINGs ([`Http2Config::keep_alive_interval`]); no ACK within [`Http2Config::keep_alive_timeout`] → GOAWAY and close; SETTINGS not acknowledged within [`Http2Config::settings_timeout`] → GOAWAY `SETTINGS_TIMEOUT` |
//! | too many streams | `REFUSED_STREAM` beyond [`Http2Config::max_concurrent_streams`] (200) |
//! | malformed requests | `PROTOCOL_ERROR` stream errors (pseudo-headers, connection-specific fields, content-length) |
//! | silent or slow clients on the cleartext port (slowloris) | [`sniff_preface`] must see the preface or other first bytes within the header-read timeout the server passes (`Timeouts::header_read`, 10 s), or the connection is closed; it sleeps until the socket has new bytes (a stalled partial preface costs no CPU) |

pub mod engine;
pub mod head;

use std::time::Duration;

pub use engine::{ConnectionError, Event, Role, ServerConnection, StreamError};

/// The engine is the same for both roles; this name reads better on the client side.
pub type Connection = ServerConnection;
/// The server side of a connection (compatibility path: the driver lives in
/// [`crate::server`], which builds on this module).
#[cfg(feature = "server")]
pub use crate::server::h2::{cached_date, serve_connection, sniff_preface, ServeContext, Sniffed};
pub use head::{ArenaHead, Malformed, RequestHead};

pub use shockwave_http2_frames::{ErrorCode, PREFACE};

/// The HTTP/2 frame codec (crate `shockwave-http2-frames`), re-exported.
pub use shockwave_http2_frames as frames;

/// HTTP/2 settings and limits of a server connection. Every field has a sane default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http2Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS; more streams are refused. Default 200.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: receive window per stream. Default 1 MiB.
    pub initial_stream_window: u32,
    /// Receive window of the connection. Default 1 MiB.
    pub initial_connection_window: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: decoded request head limit (431 beyond). Default 16 KiB.
    pub max_header_list_size: u32,
    /// Largest encoded field block (HEADERS + CONTINUATION). Default 64 KiB.
    pub max_header_block_len: usize,
    /// Most CONTINUATION frames in one field block. Default 32.
    pub max_continuation_frames: u32,
    /// Peer RST_STREAMs on unfinished streams allowed per [`Http2Config::reset_window`].
    /// Default 200.
    pub max_resets_per_window: u32,
    /// RST_STREAMs we send (stream errors, refusals) allowed per window. Default 1000.
    pub max_local_resets_per_window: u32,
    /// The window for both reset limits. Default 10 s.
    pub reset_window: Duration,
    /// Most queued, unwritten answers to the peer's frames (SETTINGS/PING ACKs,
    /// RST_STREAMs) before the connection is closed. Default 1000.
    pub max_pending_control_frames: usize,
    /// Write-buffer high-water mark: above it no more input is read and no more DATA is
    /// queued. Default 1 MiB (a buffer grown past 256 KiB is released once the connection
    /// is idle).
    pub max_output_buffer: usize,
    /// Read buffer size of the driver. Default 64 KiB.
    pub read_buffer_size: usize,
    /// An idle connection (no open stream, nothing received) gets GOAWAY after this long.
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
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            max_concurrent_streams: 200,
            initial_stream_window: 1 << 20,
            initial_connection_window: 1 << 20,
            max_header_list_size: 16 * 1024,
            max_header_block_len: 64 * 1024,
            max_continuation_frames: 32,
            max_resets_per_window: 200,
            max_local_resets_per_window: 1000,
            reset_window: Duration::from_secs(10),
            max_pending_control_frames: 1000,
            max_output_buffer: 1024 * 1024,
            read_buffer_size: 64 * 1024,
            idle_timeout: Duration::from_secs(60),
            settings_timeout: Duration::from_secs(10),
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            stream_stall_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl Http2Config {
    /// The configuration with every value clamped into its RFC range.
    pub fn validated(mut self) -> Self {
        let max = shockwave_http2_frames::MAX_WINDOW_SIZE;
        self.initial_stream_window = self.initial_stream_window.min(max);
        self.initial_connection_window = self.initial_connection_window.clamp(65_535, max);
        self.max_output_buffer = self.max_output_buffer.max(32 * 1024);
        self.read_buffer_size = self.read_buffer_size.max(16 * 1024 + 9);
        self
    }
}

/// True if `buf` starts like the HTTP/2 client preface (RFC 9113 §3.4): compares the
/// bytes present, up to 24. Use it on the first bytes of a cleartext connection to pick
/// h2c with prior knowledge.
pub fn is_preface_prefix(buf: &[u8]) -> bool {
    let n = buf.len().min(PREFACE.len());
    buf[..n] == PREFACE[..n]
}
