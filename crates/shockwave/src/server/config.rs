//! Server configuration: [`ServerConfig`] and its [`ServerBuilder`].

use std::net::SocketAddr;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::Duration;

use shockwave_arena::PoolConfig;

/// Where per-request data lives: chosen at run time, both strategies are always compiled.
///
/// With either strategy a warmed server answering a small request makes zero heap
/// allocations per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alloc {
    /// Parsed header lists go into the request's arena (the default).
    #[default]
    Arena,
    /// Parsed header lists go into pooled, reused heap buffers (`HeapHeaders`); the request
    /// arena is still lent to the handler for its own allocations.
    Heap,
}

impl std::str::FromStr for Alloc {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "arena" => Ok(Alloc::Arena),
            "heap" => Ok(Alloc::Heap),
            other => Err(format!(
                "unknown allocation strategy `{other}` (arena|heap)"
            )),
        }
    }
}

/// Size and count limits. Every one has a sane default; exceeding one is answered with the
/// matching status (414, 431, 413, ...) and the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Longest request line (method, target, version); 414 beyond. Default 8 KiB.
    pub max_request_line: usize,
    /// Most header fields in one request (and in its trailers); 431 beyond. Default 100.
    /// Governs every protocol: it replaces the HTTP/2 and HTTP/3 `max_header_fields`.
    pub max_headers: usize,
    /// Most bytes in the request head (request line + fields); 431 beyond. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Largest request body; 413 beyond. Default 16 MiB.
    pub max_body_size: u64,
    /// Most open connections per worker; further connections are refused with 503 and
    /// closed, without affecting the served ones. Default 10,000.
    pub max_connections_per_worker: usize,
    /// Largest response batch kept in the write buffer before it is flushed. Default 64 KiB.
    pub write_batch_bytes: usize,
    /// Request-body bytes one connection may hold (received and not released: buffered
    /// by the server, or delivered to handlers whose requests have not finished) before
    /// the server stops giving the peer flow-control credit and refuses new
    /// body-carrying HTTP/2 streams with REFUSED_STREAM (safe to retry, RFC 9113 §8.7).
    /// The oldest unfinished body of a connection always gets credit, so uploads finish
    /// one after the other; a connection therefore holds at most this budget plus one
    /// body ([`ServerLimits::max_body_size`]) plus its flow-control windows. Default
    /// 16 MiB (one maximal body).
    pub max_body_bytes_per_connection: u64,
    /// Request-body bytes all connections of one worker may hold together (counted as
    /// for [`ServerLimits::max_body_bytes_per_connection`]); over it, every connection
    /// of the worker withholds credit as if over its own budget. Default 256 MiB.
    pub max_body_bytes_per_worker: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_request_line: 8 * 1024,
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            max_body_size: 16 * 1024 * 1024,
            max_connections_per_worker: 10_000,
            write_batch_bytes: 64 * 1024,
            max_body_bytes_per_connection: 16 * 1024 * 1024,
            max_body_bytes_per_worker: 256 * 1024 * 1024,
        }
    }
}

/// Timeouts protecting the server from slow and idle clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Time allowed to receive a whole request head once its first byte arrived (and the
    /// TLS handshake), against slowloris. Default 10 s.
    pub header_read: Duration,
    /// Time an idle keep-alive connection may wait for its next request. Default 60 s.
    pub idle: Duration,
    /// Time allowed for one write (or one body read) to make progress. Default 30 s.
    pub write: Duration,
    /// On graceful shutdown, how long in-flight requests may take to finish. Default 10 s.
    pub shutdown_grace: Duration,
    /// Slowest request body the server accepts, on every protocol: once its grace period is
    /// over, a body that averaged less while the handler waited for it is cut (408 on
    /// HTTP/1.1 before the response started, RST_STREAM / H3 stop otherwise). A trickle of
    /// one byte now and then cannot hold a stream open. Default 240 B/s after 5 s;
    /// `None` turns it off.
    pub min_request_body_rate: Option<MinDataRate>,
    /// Slowest response reader the server serves, on every protocol: once the grace period
    /// is over, a response the peer read at less than this rate while the server waited on
    /// it is cut (slow-read defence). Default 240 B/s after 5 s; `None` turns it off.
    pub min_response_rate: Option<MinDataRate>,
}

pub use crate::common::rate::MinDataRate;

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            write: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            min_request_body_rate: Some(MinDataRate::DEFAULT),
            min_response_rate: Some(MinDataRate::DEFAULT),
        }
    }
}

pub use crate::common::io::Io;

/// The whole server configuration. Build it with [`ServerConfig::builder`].
#[derive(Clone)]
pub struct ServerConfig {
    /// Plain-text (HTTP) listening addresses.
    pub addrs: Vec<SocketAddr>,
    /// Unix domain socket paths, served like the plain-text addresses (HTTP/1.1, h2c with
    /// prior knowledge or `Upgrade: h2c`). See [`ServerBuilder::bind_unix`].
    #[cfg(unix)]
    pub unix_paths: Vec<std::path::PathBuf>,
    /// The permission bits of the Unix socket files (set before the socket listens).
    /// Default `0o660`: the owner and the owner's group may connect, nobody else.
    #[cfg(unix)]
    pub unix_socket_mode: u32,
    /// TLS (HTTPS) listening addresses; needs [`ServerConfig::tls`].
    #[cfg(feature = "tls")]
    pub tls_addrs: Vec<SocketAddr>,
    /// The rustls configuration for the TLS addresses (see [`crate::server::tls`]).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Worker threads (each its own runtime and listening sockets). Default: the number of
    /// available cores.
    pub workers: usize,
    /// Allocation strategy for parsed requests.
    pub alloc: Alloc,
    /// Size and count limits.
    pub limits: ServerLimits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// The per-worker arena pool: retained capacity, allocation limit, idle arenas.
    pub arena: PoolConfig,
    /// Size of a connection's read buffer: the most one read takes in the steady state
    /// (a request head larger than this grows it). A connection starts with a 4 KiB
    /// window of it and widens the window while reads fill it, so idle keep-alive
    /// connections keep little of it resident. Default 16 KiB.
    pub read_buffer_size: usize,
    /// Listen backlog. Default 1024.
    pub backlog: i32,
    /// The I/O driver of the cleartext TCP listeners. Default [`Io::Epoll`].
    pub io: Io,
    /// Whether [`crate::server::Server::run`] installs SIGINT/SIGTERM handlers. Default true.
    pub handle_signals: bool,
    /// HTTP/2 settings and defences for h2c, `Upgrade: h2c` and ALPN `h2` connections
    /// (stream limits, windows, reset-rate caps, keep-alive PINGs, stall timeout). Its
    /// `idle_timeout` is replaced by [`Timeouts::idle`] and its `max_header_fields` by
    /// [`ServerLimits::max_headers`] so one setting governs every protocol.
    ///
    /// Unlike [`Http2Config::default`](crate::http2::Http2Config), the server's default
    /// has `enable_connect_protocol` **on**: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 is
    /// announced, so WebSocket handlers ([`crate::server::ws`]) also serve clients that
    /// use HTTP/2 extended CONNECT (RFC 8441), as browsers do once the setting is seen. A
    /// handler only gets such a stream as a tunnel if it accepts it
    /// ([`RequestContext::on_upgrade`](crate::service::RequestContext::on_upgrade)); set
    /// it to `false` to refuse every `:protocol` request as malformed before any handler
    /// runs (hyper's and the `h2` crate's default).
    #[cfg(feature = "http2")]
    pub http2: crate::http2::Http2Config,
    /// UDP addresses for HTTP/3 over QUIC; needs [`ServerConfig::tls`] (TLS 1.3, its ALPN
    /// list is replaced by `h3`). Each worker runs a quinn endpoint on its own
    /// `SO_REUSEPORT` socket. When set, TLS responses over HTTP/1.1 and HTTP/2 advertise
    /// HTTP/3 with `alt-svc` (see [`crate::server::AltSvc`]).
    #[cfg(feature = "http3")]
    pub h3_addrs: Vec<SocketAddr>,
    /// HTTP/3 and QUIC settings. Its `max_body_size`, `shutdown_grace` and
    /// `max_header_fields` are replaced by [`ServerLimits::max_body_size`],
    /// [`Timeouts::shutdown_grace`] and [`ServerLimits::max_headers`] so one setting
    /// governs every protocol.
    #[cfg(feature = "http3")]
    pub http3: crate::http3::Http3Config,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ServerConfig");
        d.field("addrs", &self.addrs);
        #[cfg(unix)]
        d.field("unix_paths", &self.unix_paths).field(
            "unix_socket_mode",
            &format_args!("{:#o}", self.unix_socket_mode),
        );
        #[cfg(feature = "tls")]
        d.field("tls_addrs", &self.tls_addrs)
            .field("tls", &self.tls.is_some());
        d.field("workers", &self.workers)
            .field("alloc", &self.alloc)
            .field("limits", &self.limits)
            .field("timeouts", &self.timeouts)
            .field("arena", &self.arena)
            .field("io", &self.io);
        #[cfg(feature = "http2")]
        d.field("http2", &self.http2);
        #[cfg(feature = "http3")]
        d.field("h3_addrs", &self.h3_addrs)
            .field("http3", &self.http3);
        d.finish_non_exhaustive()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addrs: Vec::new(),
            #[cfg(unix)]
            unix_paths: Vec::new(),
            #[cfg(unix)]
            unix_socket_mode: 0o660,
            #[cfg(feature = "tls")]
            tls_addrs: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            alloc: Alloc::Arena,
            limits: ServerLimits::default(),
            timeouts: Timeouts::default(),
            arena: PoolConfig::default(),
            read_buffer_size: 16 * 1024,
            backlog: 1024,
            io: Io::Epoll,
            handle_signals: true,
            #[cfg(feature = "http2")]
            http2: crate::http2::Http2Config {
                enable_connect_protocol: true,
                ..crate::http2::Http2Config::default()
            },
            #[cfg(feature = "http3")]
            h3_addrs: Vec::new(),
            #[cfg(feature = "http3")]
            http3: crate::http3::Http3Config::default(),
        }
    }
}

impl ServerConfig {
    /// A builder starting from the defaults (no address yet: add one with
    /// [`ServerBuilder::bind`]).
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServerConfig::default(),
        }
    }
}

/// Builds a [`ServerConfig`] (see [`crate::server::Server::builder`]).
///
/// ```
/// use std::time::Duration;
/// use shockwave::server::{Alloc, Server};
///
/// let server = Server::builder()
///     .bind("127.0.0.1:0".parse().unwrap())
///     .workers(2)
///     .alloc(Alloc::Heap)
///     .max_body_size(1 << 20)
///     .header_read_timeout(Duration::from_secs(5))
///     .build();
/// assert_eq!(server.config().workers, 2);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerBuilder {
    config: ServerConfig,
}

impl ServerBuilder {
    /// Adds a plain-text listening address (`127.0.0.1:0` picks a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.addrs.push(addr);
        self
    }
    /// Adds a Unix domain socket to listen on, served like a plain-text address:
    /// HTTP/1.1 and h2c (prior knowledge, `Upgrade: h2c`), by every worker (they share
    /// the one listening socket; the kernel spreads the connections).
    ///
    /// The socket file gets [`ServerBuilder::unix_socket_mode`] (default `0o660`) before
    /// it listens, and is removed when the server stops (graceful stop, signal, or the
    /// [`ServerHandle`](crate::server::ServerHandle) dropped) if it is still the file the
    /// server created. A socket file left behind by a crashed run (nothing accepts on
    /// it) is replaced; a path where a live listener answers, or that is not a socket,
    /// is refused with [`std::io::ErrorKind::AddrInUse`].
    ///
    /// Requests over a Unix socket have no peer address:
    /// [`Request::remote_addr`](crate::server::Request::remote_addr) is
    /// `None`, and the scheme is `http`.
    #[cfg(unix)]
    pub fn bind_unix(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.unix_paths.push(path.into());
        self
    }
    /// The permission bits of the Unix socket files ([`ServerBuilder::bind_unix`]);
    /// connecting needs write permission. Default `0o660` (owner and group).
    #[cfg(unix)]
    pub fn unix_socket_mode(mut self, mode: u32) -> Self {
        self.config.unix_socket_mode = mode & 0o777;
        self
    }
    /// Adds a TLS listening address; also set [`ServerBuilder::tls`].
    #[cfg(feature = "tls")]
    pub fn bind_tls(mut self, addr: SocketAddr) -> Self {
        self.config.tls_addrs.push(addr);
        self
    }
    /// Sets the rustls configuration used on the TLS addresses.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.config.tls = Some(tls);
        self
    }
    /// Number of worker threads (at least 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = workers.max(1);
        self
    }
    /// Allocation strategy.
    pub fn alloc(mut self, alloc: Alloc) -> Self {
        self.config.alloc = alloc;
        self
    }
    /// Replaces all limits.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.config.limits = limits;
        self
    }
    /// Largest request head in bytes (431 beyond).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.config.limits.max_header_bytes = bytes;
        self
    }
    /// Most header fields in a request (431 beyond), on every protocol.
    pub fn max_headers(mut self, count: usize) -> Self {
        self.config.limits.max_headers = count;
        self
    }
    /// Largest request body (413 beyond).
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.config.limits.max_body_size = bytes;
        self
    }
    /// Most open connections per worker (further ones get 503 and are closed).
    pub fn max_connections_per_worker(mut self, count: usize) -> Self {
        self.config.limits.max_connections_per_worker = count.max(1);
        self
    }
    /// Replaces the HTTP/2 settings (see [`ServerConfig::http2`]), e.g. to turn on
    /// keep-alive PINGs or lower `max_concurrent_streams`. Start from
    /// `ServerConfig::default().http2` to keep extended CONNECT on: a config built from
    /// `Http2Config::default()` turns it off.
    #[cfg(feature = "http2")]
    pub fn http2(mut self, config: crate::http2::Http2Config) -> Self {
        self.config.http2 = config;
        self
    }
    /// Also serves HTTP/3 on UDP `addr` (`:0` picks a port), with the TLS configuration
    /// of [`ServerBuilder::tls`]. May be called more than once.
    #[cfg(feature = "http3")]
    pub fn bind_h3(mut self, addr: SocketAddr) -> Self {
        self.config.h3_addrs.push(addr);
        self
    }
    /// Replaces the HTTP/3 and QUIC settings (see [`ServerConfig::http3`]).
    #[cfg(feature = "http3")]
    pub fn http3(mut self, config: crate::http3::Http3Config) -> Self {
        self.config.http3 = config;
        self
    }
    /// Replaces all timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config.timeouts = timeouts;
        self
    }
    /// Time allowed to receive a request head (slowloris protection).
    pub fn header_read_timeout(mut self, t: Duration) -> Self {
        self.config.timeouts.header_read = t;
        self
    }
    /// Time an idle keep-alive connection is kept open.
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.config.timeouts.idle = t;
        self
    }
    /// Time allowed for a write to make progress.
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.config.timeouts.write = t;
        self
    }
    /// Slowest request body accepted (see [`Timeouts::min_request_body_rate`]); `None`
    /// turns the check off.
    pub fn min_request_body_rate(mut self, rate: Option<MinDataRate>) -> Self {
        self.config.timeouts.min_request_body_rate = rate;
        self
    }
    /// Slowest response reader served (see [`Timeouts::min_response_rate`]); `None` turns
    /// the check off.
    pub fn min_response_rate(mut self, rate: Option<MinDataRate>) -> Self {
        self.config.timeouts.min_response_rate = rate;
        self
    }
    /// Request-body bytes one connection may hold (see
    /// [`ServerLimits::max_body_bytes_per_connection`]).
    pub fn max_body_bytes_per_connection(mut self, bytes: u64) -> Self {
        self.config.limits.max_body_bytes_per_connection = bytes;
        self
    }
    /// Request-body bytes one worker's connections may hold together (see
    /// [`ServerLimits::max_body_bytes_per_worker`]).
    pub fn max_body_bytes_per_worker(mut self, bytes: u64) -> Self {
        self.config.limits.max_body_bytes_per_worker = bytes;
        self
    }
    /// Deadline for in-flight requests on graceful shutdown.
    pub fn shutdown_grace(mut self, t: Duration) -> Self {
        self.config.timeouts.shutdown_grace = t;
        self
    }
    /// Replaces the per-worker arena pool configuration.
    pub fn arena(mut self, pool: PoolConfig) -> Self {
        self.config.arena = pool;
        self
    }
    /// An idle arena that grew past this many bytes is dropped instead of reused.
    pub fn arena_retained_capacity(mut self, bytes: usize) -> Self {
        self.config.arena.retained_capacity = bytes;
        self
    }
    /// Per-request arena allocation limit (`None`: unlimited).
    pub fn arena_allocation_limit(mut self, bytes: Option<usize>) -> Self {
        self.config.arena.allocation_limit = bytes;
        self
    }
    /// The I/O driver of the cleartext TCP listeners: [`Io::Epoll`] (the default) or
    /// [`Io::Uring`] (falls back to epoll, with a logged reason, where io_uring is
    /// unavailable).
    pub fn io(mut self, io: Io) -> Self {
        self.config.io = io;
        self
    }
    /// Whether [`crate::server::Server::run`] handles SIGINT/SIGTERM.
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.config.handle_signals = on;
        self
    }
    /// The finished configuration.
    pub fn config(self) -> ServerConfig {
        self.config
    }
    /// The server, ready to [`crate::server::Server::start`] or
    /// [`crate::server::Server::run`].
    pub fn build(self) -> crate::server::Server {
        crate::server::Server::new(self.config)
    }
    /// Shorthand for `build().start(handler)`: binds and starts the workers.
    pub fn start<H: crate::server::Handler>(
        self,
        handler: H,
    ) -> std::io::Result<crate::server::ServerHandle> {
        self.build().start(handler)
    }
    /// Shorthand for `build().run(handler)`: serves until SIGINT/SIGTERM.
    pub fn run<H: crate::server::Handler>(self, handler: H) -> std::io::Result<()> {
        self.build().run(handler)
    }
}
