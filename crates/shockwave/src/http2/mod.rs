//! HTTP/2 (RFC 9113): the protocol crate `shockwave-http2-frames` re-exported, with its
//! sans-I/O connection [`conn`] and the settings type [`Http2Config`].
//!
//! - [`Connection`] (module [`conn`]) is the whole protocol without I/O, for both roles:
//!   feed it the bytes read from the socket and the time, write what it queues, react to
//!   its [`Event`]s. It implements stream states, identifiers, flow control (1 MiB stream
//!   and connection windows by default, credit given back as the handler reads),
//!   SETTINGS, PING, GOAWAY, RST_STREAM, trailers, and the field checks of RFC 9113 §8.
//! - The tokio drivers live with their roles: `shockwave::server::serve_connection`
//!   serves one connection with the same `Handler` and `RequestContext` as HTTP/1.1 (the
//!   server picks HTTP/2 by preface or ALPN), and
//!   `shockwave::client::Http2Client` is the client connection. Both run the connection's
//!   timers and wake their tasks from its events.
//!
//! ## Defences
//!
//! | attack | defence (default) |
//! |---|---|
//! | Rapid Reset (CVE-2023-44487) | reset streams keep counting as open until their handler stops (it is cancelled); more than [`Http2Config::max_resets_per_window`] (200) peer resets per 10 s → GOAWAY `ENHANCE_YOUR_CALM` |
//! | stream-error floods (CVE-2019-9514) | more than [`Http2Config::max_local_resets_per_window`] RST_STREAMs we send per 10 s → GOAWAY `ENHANCE_YOUR_CALM` |
//! | glitch floods (empty DATA, PRIORITY, unknown frames, repeated SETTINGS) | frames that cost work but carry nothing count as glitches; more than [`Http2Config::max_glitches_per_window`] (1000) per 10 s → GOAWAY `ENHANCE_YOUR_CALM` |
//! | CONTINUATION flood | the field block is capped at [`Http2Config::max_header_block_len`] (64 KiB) and 32 CONTINUATION frames before any decoding → GOAWAY `ENHANCE_YOUR_CALM` |
//! | HPACK bomb | decoded header list capped at [`Http2Config::max_header_list_size`] (16 KiB) → `431` on that stream |
//! | Many tiny fields | fields per header block capped at [`Http2Config::max_header_fields`] (100) → `431` on that stream |
//! | SETTINGS / PING floods | at most [`Http2Config::max_pending_control_frames`] unwritten answers; input is not read while the output buffer is full |
//! | zero-window stalls | body bytes are only copied into the write buffer as the windows allow; a stalled stream holds nothing but its own response, and is reset with CANCEL after [`Http2Config::stream_stall_timeout`] (30 s) |
//! | dead peers | optional keep-alive PINGs ([`Http2Config::keep_alive_interval`]); no ACK within [`Http2Config::keep_alive_timeout`] → GOAWAY and close; SETTINGS not acknowledged within [`Http2Config::settings_timeout`] → GOAWAY `SETTINGS_TIMEOUT` |
//! | too many streams | `REFUSED_STREAM` beyond [`Http2Config::max_concurrent_streams`] (200) |
//! | malformed requests | `PROTOCOL_ERROR` stream errors (pseudo-headers, connection-specific fields, content-length) |
//! | silent or slow clients on the cleartext port (slowloris) | `shockwave::server::sniff_preface` must see the preface or other first bytes within the header-read timeout the server passes (`Timeouts::header_read`, 10 s), or the connection is closed; it sleeps until the socket has new bytes (a stalled partial preface costs no CPU) |

pub use shockwave_http2_frames::conn::{
    self, ArenaHead, Connection, ConnectionError, Event, FieldBlock, Malformed, Role, StreamError,
    StreamId,
};
pub use shockwave_http2_frames::{ErrorCode, PREFACE};

/// The HTTP/2 frame codec (crate `shockwave-http2-frames`), re-exported.
pub use shockwave_http2_frames as frames;

/// HTTP/2 settings and limits of a connection (server or client); every field has a sane
/// default. The same type as [`conn::Config`].
pub use shockwave_http2_frames::conn::Config as Http2Config;

/// The old name of a decoded field block (request, response or trailer section).
pub type RequestHead = FieldBlock;

/// True if `buf` starts like the HTTP/2 client preface (RFC 9113 §3.4): compares the
/// bytes present, up to 24. Use it on the first bytes of a cleartext connection to pick
/// h2c with prior knowledge.
pub fn is_preface_prefix(buf: &[u8]) -> bool {
    let n = buf.len().min(PREFACE.len());
    buf[..n] == PREFACE[..n]
}
