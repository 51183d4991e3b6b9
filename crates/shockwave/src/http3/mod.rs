//! HTTP/3 (RFC 9114) over QUIC (quinn): the sans-I/O protocol crate `shockwave-quic`
//! re-exported ([`connection`], the HTTP/3 connection state machine both drivers run on;
//! [`frame`], [`qpack`], [`request`], [`control`], [`message`], ...), plus what both
//! roles configure: [`Http3Config`] and the quinn configurations built from it
//! ([`quic_server_config`], [`quic_client_config`]).
//!
//! - The server side is the one `shockwave::server::Server`: give it HTTP/3 addresses
//!   with `ServerBuilder::bind_h3` and each worker runs a quinn endpoint beside its TCP
//!   listeners, with the same handler, arena pool, counters and shutdown.
//! - The client side is the one `shockwave::client::Client`: HTTP/3 connections share
//!   its pool with HTTP/1.1 and HTTP/2 ones.
//!
//! This module names neither: both drivers build on it.
//!
//! QUIC itself (TLS 1.3, loss recovery, flow control, stream limits, idle timeout) is
//! quinn's, configured from [`Http3Config`]. TLS uses the ring provider and ALPN `h3`.
//!
//! ```no_run
//! use shockwave::server::{handler_fn, Response, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = shockwave::server::tls::self_signed(&["localhost"])?;
//! let handle = Server::builder()
//!     .bind_h3("127.0.0.1:4433".parse()?)
//!     .tls(tls.config)
//!     .build()
//!     .start(handler_fn(async |_cx| Response::text("Hello over HTTP/3")))?;
//! println!("listening on udp {:?}", handle.h3_local_addrs());
//! handle.wait()?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

pub use shockwave_quic::*;

use qpack::DecoderConfig;

/// The ALPN protocol identifier of HTTP/3 (RFC 9114 §3.1).
pub const ALPN: &[u8] = b"h3";

/// The largest [`Http3Config::mtu_discovery_upper_bound`] used: 10 datagrams of this
/// size (quinn's batch per segmentation-offload send) still fit in the 65,507-byte UDP
/// payload an IPv4 datagram can carry.
pub const MAX_MTU_UPPER_BOUND: u16 = 6_550;

/// HTTP/3 and QUIC transport limits. Every field has a sane default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http3Config {
    /// SETTINGS_MAX_FIELD_SECTION_SIZE: largest decoded header section we accept
    /// (name + value + 32 per field); `431` (server) beyond. Default 16 KiB.
    pub max_field_section_size: u64,
    /// Most fields in one decoded header or trailer section; `431` (server) beyond, like
    /// an oversized section. Default 100 (HTTP/1.1's `max_headers`).
    pub max_header_fields: usize,
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY: the dynamic table the peer's QPACK encoder
    /// may use. Default 4096 on servers; 0 disables the dynamic table.
    pub qpack_max_table_capacity: u64,
    /// SETTINGS_QPACK_BLOCKED_STREAMS: streams that may wait for QPACK encoder stream
    /// data at once. Default 16.
    pub qpack_blocked_streams: u64,
    /// Most concurrent request streams the peer may open (QUIC stream limit). Default 100.
    pub max_concurrent_streams: u32,
    /// Most concurrent unidirectional streams the peer may open. Default 8 (control,
    /// QPACK encoder and decoder, a few reserved ones).
    pub max_concurrent_uni_streams: u32,
    /// The connection is closed after this long without activity. Default 30 s.
    pub idle_timeout: Duration,
    /// QUIC flow-control window per stream (receive side). Default 1.25 MB.
    pub stream_receive_window: u32,
    /// QUIC flow-control window for the whole connection (receive side). Default 16 MB.
    pub receive_window: u32,
    /// Bytes buffered for sending per connection. Default 16 MB.
    pub send_window: u64,
    /// Largest request body a handler may read (server). Default 16 MiB.
    pub max_body_size: u64,
    /// On graceful shutdown, how long in-flight requests may take. Default 10 s.
    pub shutdown_grace: Duration,
    /// (Server) most QUIC connections per worker endpoint, in handshake or established;
    /// a connection attempt beyond it is refused at once (`CONNECTION_REFUSED`, no
    /// connection state kept) and counted in `ServerStats::connections_refused`.
    /// Default 4096 (about 160 MiB of QUIC and TLS state at ~40 KiB per connection).
    pub max_connections: usize,
    /// (Server) most QUIC handshakes in progress per worker endpoint (half-open
    /// connections); an attempt beyond it is refused like one beyond
    /// [`max_connections`](Self::max_connections). quinn's `max_incoming` (attempts
    /// not yet looked at) is 4 × this. Default 256.
    pub max_handshakes: usize,
    /// (Server) when a client's address is validated with a QUIC Retry (RFC 9000
    /// §8.1.2) before the server keeps any state for it or sends more than the Retry.
    /// Default [`AddressValidation::UnderLoad`].
    pub address_validation: AddressValidation,
    /// Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3): a server then accepts
    /// extended CONNECT (`:protocol`, e.g. WebSocket over HTTP/3) and hands such a
    /// request to the handler, which may turn the stream into a tunnel with
    /// `RequestContext::on_upgrade`. Without it a `:protocol` request is the stream
    /// error `H3_MESSAGE_ERROR`. Plain CONNECT (RFC 9114 §4.4) needs no setting.
    /// Server only (a client never sends it). Default `true`.
    pub enable_connect_protocol: bool,
    /// Upper bound of QUIC path MTU discovery (RFC 9000 §14.3, the DPLPMTUD of RFC 8899
    /// §5): the largest UDP payload this side probes for and then sends. Discovery
    /// starts at 1200 bytes after the handshake and binary-searches up to the smaller of
    /// this and the peer's `max_udp_payload_size` transport parameter; a lost probe only
    /// ends the search lower, and black-hole detection falls back to 1200, so a bound
    /// above what the path carries costs a few extra probes, never the connection.
    /// Default 1452 (a 1500-byte Ethernet MTU under IPv6), quinn's default. Raise it on
    /// loopback or jumbo-frame paths: each datagram costs about the same CPU on both ends
    /// whatever its size, so larger datagrams move bulk data faster. Values above
    /// [`MAX_MTU_UPPER_BOUND`] (6550) are lowered to it: quinn hands the kernel up to 10
    /// datagrams per segmentation-offload (GSO) send, which must fit one 64 KiB UDP
    /// datagram (RFC 768, IPv4 total length), and a larger batch fails the send and turns
    /// segmentation offload off for the whole endpoint. Measured on loopback
    /// (`h3_baseline`, 6550 on both ends): a 64 MiB download arrives in 10,306
    /// datagrams instead of 47,365 and costs the server about 45% less CPU, but bursts of
    /// small concurrent requests were sometimes several times slower (the client mostly
    /// idle, waiting): keep the default unless bulk transfers dominate.
    pub mtu_discovery_upper_bound: u16,
    /// The `max_udp_payload_size` transport parameter (RFC 9000 §18.2): the largest UDP
    /// payload this endpoint accepts, which also bounds what the peer's MTU discovery
    /// may probe for. Clamped to 1200..=65527. Applies to the endpoints Shockwave creates
    /// (server workers, the client's HTTP/3 endpoint) and to
    /// [`endpoint_config`](Self::endpoint_config). Each endpoint's receive buffer grows
    /// linearly with it (quinn keeps 32 datagrams × 64 GRO segments of this size, the
    /// size capped at 64 KiB). Default 1472 (1500-byte Ethernet under IPv4), quinn's
    /// default.
    pub max_udp_payload_size: u16,
}

/// When the server answers a connection attempt from an address it has not validated
/// yet with a QUIC Retry (RFC 9000 §8.1.2): a small stateless packet carrying a token
/// the client must echo. It costs an honest client one round trip and a spoofed source
/// everything: no connection state, no handshake, nothing beyond the Retry is sent to
/// it (amplification well under the 3× of RFC 9000 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AddressValidation {
    /// Every new connection attempt without a valid token gets a Retry.
    Always,
    /// Once half of [`Http3Config::max_handshakes`] handshakes are in progress, new
    /// attempts without a valid token get a Retry (a flood of spoofed Initials then
    /// costs no state). The default.
    #[default]
    UnderLoad,
    /// Never: every attempt gets a handshake at once (quinn still keeps to QUIC's 3×
    /// anti-amplification limit until the address is validated).
    Never,
}

impl Default for Http3Config {
    fn default() -> Self {
        Http3Config {
            max_field_section_size: 16 * 1024,
            max_header_fields: 100,
            qpack_max_table_capacity: 4096,
            qpack_blocked_streams: 16,
            max_concurrent_streams: 100,
            max_concurrent_uni_streams: 8,
            idle_timeout: Duration::from_secs(30),
            stream_receive_window: 1_250_000,
            receive_window: 16 * 1024 * 1024,
            send_window: 16 * 1024 * 1024,
            max_body_size: 16 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(10),
            max_connections: 4096,
            max_handshakes: 256,
            address_validation: AddressValidation::UnderLoad,
            enable_connect_protocol: true,
            mtu_discovery_upper_bound: 1452,
            max_udp_payload_size: 1472,
        }
    }
}

impl Http3Config {
    /// The QPACK decoder limits (and our SETTINGS) for this configuration.
    pub fn decoder_config(&self) -> DecoderConfig {
        DecoderConfig {
            max_table_capacity: self.qpack_max_table_capacity,
            max_blocked_streams: self.qpack_blocked_streams,
            max_field_section_size: self.max_field_section_size,
            max_fields: self.max_header_fields,
        }
    }

    /// The quinn transport configuration: stream limits, windows and idle timeout.
    pub fn transport_config(&self) -> quinn::TransportConfig {
        let mut t = quinn::TransportConfig::default();
        t.max_concurrent_bidi_streams(self.max_concurrent_streams.into())
            .max_concurrent_uni_streams(self.max_concurrent_uni_streams.into())
            .stream_receive_window(self.stream_receive_window.into())
            .receive_window(self.receive_window.into())
            .send_window(self.send_window)
            .max_idle_timeout(quinn::IdleTimeout::try_from(self.idle_timeout).ok());
        let mut mtu = quinn::MtuDiscoveryConfig::default();
        mtu.upper_bound(self.mtu_discovery_upper_bound.min(MAX_MTU_UPPER_BOUND));
        t.mtu_discovery_config(Some(mtu));
        t
    }

    /// The quinn endpoint configuration: [`max_udp_payload_size`](Self::max_udp_payload_size)
    /// (clamped to 1200..=65527), everything else quinn's default. For endpoints created
    /// outside Shockwave that should behave like its own.
    pub fn endpoint_config(&self) -> quinn::EndpointConfig {
        let mut e = quinn::EndpointConfig::default();
        // Within the bounds quinn accepts, so this cannot fail.
        let _ = e.max_udp_payload_size(self.max_udp_payload_size.clamp(1200, 65_527));
        e
    }
}

/// Why a QUIC configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The rustls configuration cannot be used for QUIC (it needs TLS 1.3 and
    /// `TLS13_AES_128_GCM_SHA256`).
    #[error("TLS configuration unusable for QUIC: {0}")]
    Tls(String),
    /// Binding the UDP socket failed.
    #[error("binding the UDP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// A quinn server configuration from a rustls server configuration (its ALPN list is
/// replaced by `h3`) and `config`'s transport limits.
pub fn quic_server_config(
    tls: &rustls::ServerConfig,
    config: &Http3Config,
) -> Result<quinn::ServerConfig, SetupError> {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| SetupError::Tls(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(config.transport_config()));
    // Connection attempts the accept loop has not looked at yet (it decides each at once,
    // see `max_handshakes`): a few times the handshakes allowed, and so are the packets
    // quinn buffers for them (0-RTT is off, so only a few handshake packets each).
    let pending = config.max_handshakes.max(1).saturating_mul(4);
    server
        .max_incoming(pending)
        .incoming_buffer_size(64 * 1024)
        .incoming_buffer_size_total(pending as u64 * 16 * 1024);
    Ok(server)
}

/// A quinn client configuration from a rustls client configuration (its ALPN list is
/// replaced by `h3`) and `config`'s transport limits.
pub fn quic_client_config(
    tls: &rustls::ClientConfig,
    config: &Http3Config,
) -> Result<quinn::ClientConfig, SetupError> {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| SetupError::Tls(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(Arc::new(config.transport_config()));
    Ok(client)
}

/// The QUIC application error code for an HTTP/3 error code.
pub(crate) fn varint(code: ErrorCode) -> quinn::VarInt {
    quinn::VarInt::from_u64(code.code()).unwrap_or(quinn::VarInt::from_u32(0x102))
}
