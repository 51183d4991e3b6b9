//! The Shockwave HTTP client: a connection pool per (scheme, host, port), TLS with
//! rustls, and two ways to receive a response.
//!
//! * **Owned** ([`Client::get`] ... [`RequestBuilder::send`]): a [`Response`] that owns
//!   its head (an `http::HeaderMap`) and streams its body ([`Response::chunk`],
//!   [`Response::bytes`], [`Response::text`]). It is `Send + 'static`, like reqwest's.
//! * **Arena** ([`Client::send_in`]): an [`ArenaResponse<'a>`] whose status line,
//!   headers and whole body live in the caller's [`Arena`](crate::arena::Arena); the
//!   borrow checker ties the response to the arena. With a warm pool and a warm arena a
//!   keep-alive GET makes no heap allocation at all (a test asserts at most 2).
//!
//! ```no_run
//! # async fn demo() -> Result<(), shockwave::client::Error> {
//! use shockwave::arena::Arena;
//! use shockwave::client::{ArenaRequest, Client};
//!
//! let client = Client::new();
//! // Owned: streams the body, outlives everything.
//! let body = client.get("http://127.0.0.1:8080/").send().await?.text().await?;
//! println!("{body}");
//!
//! // Arena: everything lives in `arena`, freed at once when it is dropped or reset.
//! let arena = Arena::with_capacity(16 * 1024);
//! let resp = client.send_in(&arena, ArenaRequest::get("http://127.0.0.1:8080/")).await?;
//! println!("{} {} bytes", resp.status(), resp.body().len());
//! # Ok(()) }
//! ```
//!
//! ## Protocols
//!
//! This module is the `client` feature: HTTP/1.1 to `http://` URLs is always there;
//! HTTP/2 needs the `http2` feature, `https://` URLs need `tls`, HTTP/3 needs `http3`
//! (see the crate's feature table). A request for a version that is not compiled in
//! fails with an invalid-request [`Error`].
//!
//! * **HTTP/1.1**: one exchange per pooled connection at a time (keep-alive reuse).
//! * **HTTP/2** over TLS: ALPN offers `h2` then `http/1.1` by default; when the server
//!   selects `h2`, one connection per origin is shared by all concurrent requests (up to
//!   the server's SETTINGS_MAX_CONCURRENT_STREAMS; then another connection, up to
//!   [`ClientBuilder::http2_max_connections_per_host`], then requests wait for a stream
//!   slot). Cleartext HTTP/2 needs [`ClientBuilder::http2_prior_knowledge`]. Requests
//!   the server did not process (REFUSED_STREAM, or above a GOAWAY's last stream id)
//!   are retried once on another connection.
//! * **HTTP/3** (QUIC) for `https://` URLs with [`ClientBuilder::http3`] or per request
//!   ([`RequestBuilder::version`], [`ArenaRequest::version`] with `Version::HTTP_3`):
//!   one QUIC connection per origin, multiplexed.
//!
//! One pool ([`ClientStats`] counts all of it) holds every version's connections:
//! HTTP/1.1 ones are checked out per exchange, HTTP/2 and HTTP/3 ones are shared. One TLS
//! configuration ([`TlsOptions`]) serves all three (ALPN `h2`/`http/1.1`, `http/1.1`
//! alone, or `h3` for QUIC), URLs are parsed once into a [`Target`], and every failure is
//! one [`Error`] ([`Error::kind`], `is_timeout()`, `is_connect()`, ...).
//!
//! The protocol drivers are `h1` (HTTP/1.1 over [`Transport`]), `h2` ([`Http2Client`],
//! on the HTTP/2 engine, which it drives with the engine's timers: keep-alive PINGs,
//! SETTINGS and stall timeouts) and `h3` ([`Http3Connection`], on quinn and
//! `shockwave-quic`); the pool (`pool`) and the request/response types sit above them.
//!
//! Every protocol works with both APIs, and response trailers (HTTP/1.1 chunked,
//! HTTP/2, HTTP/3) are available from [`Response::trailers`] once the body is read
//! and from [`ArenaResponse::trailers`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), shockwave::client::Error> {
//! use shockwave::client::Client;
//! use http::Version;
//!
//! // h2 over TLS is negotiated automatically; h2c needs prior knowledge.
//! let client = Client::builder().http2_prior_knowledge().build()?;
//! let resp = client.get("http://127.0.0.1:8080/").send().await?;
//! assert_eq!(resp.version(), Version::HTTP_2);
//!
//! // HTTP/3 for one request.
//! let resp = Client::new()
//!     .get("https://localhost:4433/")
//!     .version(Version::HTTP_3)
//!     .send()
//!     .await?;
//! println!("{:?}", resp.trailers());
//! # Ok(()) }
//! ```

mod arena;
mod body;
mod connect;
#[cfg(feature = "cookies")]
pub mod cookies;
mod decompress;
mod error;
mod h1;
#[cfg(feature = "http2")]
mod h2;
#[cfg(feature = "http3")]
mod h3;
mod pool;
mod proxy;
mod redirect;
mod request;
mod request_url;
mod response;
mod target;
#[cfg(feature = "tls")]
mod tls;
mod transport;
mod tunnel;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;
mod ws;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Version};
use shockwave_http11::{BodyLength, Limits, RequestHead};

pub use crate::common::io::Io;
pub use arena::{ArenaFields, ArenaRequest, ArenaResponse};
pub use body::{Body, BodyStream};
pub use connect::{GaiResolver, Resolve, Resolving};
#[cfg(feature = "cookies")]
pub use cookies::{CookieLimits, CookieStore, Jar};
pub use error::{BoxError, ClosedDuring, Error, ErrorKind, Result, TimeoutKind};
#[cfg(feature = "http2")]
pub use h2::{H2Stream, Http2Client};
#[cfg(feature = "http3")]
pub use h3::{
    Http3Body, Http3ConnectRequest, Http3Connection, Http3Request, Http3Response,
    Http3StreamingResponse, Http3Tunnel,
};
pub use proxy::{NoProxy, Proxy};
pub use redirect::RedirectPolicy;
pub use request::RequestBuilder;
pub use response::Response;
pub use target::{Scheme, Target};
#[cfg(feature = "tls")]
pub use tls::TlsOptions;
pub use transport::Transport;
pub use tunnel::Tunnel;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub use uring::UringStream;
pub use ws::WebSocketRequest;

use body::BodyKind;
use h1::Http1Conn;
use pool::{Checkout, Pool, PoolConn, PoolLimits};
#[cfg(feature = "http2")]
use pool::{H2Pick, HostPool};

#[cfg(feature = "http2")]
use crate::http2::{ErrorCode, Http2Config, RequestHead as H2Head};
#[cfg(feature = "http3")]
use crate::http3::Http3Config;

/// How the owned API parses response heads. Both strategies are compiled; the choice is
/// run-time configuration (see `docs/arenas.md`). The arena API always uses the
/// caller's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllocStrategy {
    /// Parse into a per-connection arena that is reset for every response (default).
    #[default]
    Arena,
    /// Parse into a per-connection reusable heap header buffer.
    Heap,
}

/// Counters of a [`Client`] (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Connections opened (TCP, plus TLS where used).
    pub connections_opened: u64,
    /// Requests sent on a pooled (reused) connection.
    pub connections_reused: u64,
    /// Idle connections dropped: expired, closed by the peer, or over the idle limit.
    pub connections_evicted: u64,
    /// Requests retried on a fresh connection after a stale pooled one failed (or an
    /// HTTP/2 stream the server refused or did not process before GOAWAY).
    pub retries: u64,
    /// HTTP/2 connections opened (included in `connections_opened`).
    pub http2_connections_opened: u64,
    /// HTTP/3 (QUIC) connections opened (not included in `connections_opened`).
    pub http3_connections_opened: u64,
}

/// How the client uses HTTP/2 (see [`ClientBuilder::http2_prior_knowledge`]).
#[cfg(feature = "http2")]
#[derive(Debug, Clone)]
pub(crate) struct H2Options {
    /// Offer `h2` in TLS ALPN (default true).
    pub alpn: bool,
    /// Speak HTTP/2 with prior knowledge over cleartext `http://` (default false).
    pub prior_knowledge: bool,
    /// The HTTP/2 connection settings.
    pub config: Http2Config,
}

/// The client's configuration; built by [`ClientBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) max_body: u64,
    pub(crate) redirect: RedirectPolicy,
    pub(crate) alloc: AllocStrategy,
    pub(crate) user_agent: Option<http::HeaderValue>,
    pub(crate) decompress: decompress::Settings,
    #[cfg(feature = "http2")]
    pub(crate) h2: H2Options,
    #[cfg(feature = "http3")]
    pub(crate) http3: bool,
    #[cfg(feature = "http3")]
    pub(crate) h3_config: Http3Config,
    #[cfg(feature = "cookies")]
    pub(crate) cookies: Option<CookieProvider>,
    /// Proxies and the resolver (see [`ClientBuilder::proxy`], [`ClientBuilder::resolver`]).
    pub(crate) net: connect::Network,
}

/// The client's cookie store (see [`ClientBuilder::cookie_provider`]).
#[cfg(feature = "cookies")]
#[derive(Clone)]
pub(crate) struct CookieProvider(pub(crate) Arc<dyn CookieStore>);

#[cfg(feature = "cookies")]
impl std::fmt::Debug for CookieProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieStore")
    }
}

struct Inner {
    config: Config,
    /// The TLS configuration of connections that may speak HTTP/2 or HTTP/3.
    #[cfg(any(feature = "http2", feature = "http3"))]
    tls: transport::TlsConfig,
    /// `tls` without `h2` in ALPN, for connections that must speak HTTP/1.1.
    tls_h1: transport::TlsConfig,
    pool: Pool,
    /// The QUIC endpoint of HTTP/3 connections (bound on first use).
    #[cfg(feature = "http3")]
    h3: tokio::sync::OnceCell<quinn::Endpoint>,
}

/// An HTTP client with a connection pool. Cheap to clone (an `Arc`), `Send + Sync`, and
/// usable from any tokio runtime (multi-thread or current-thread).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// Builds a [`Client`]. Every limit has a default; see each method.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    config: Config,
    pool: PoolLimits,
    #[cfg(feature = "tls")]
    tls: TlsOptions,
    #[cfg(feature = "tls")]
    tls_config: Option<Arc<rustls::ClientConfig>>,
    /// Proxies added with [`ClientBuilder::proxy`].
    proxies: Vec<Proxy>,
    /// Read the proxy environment variables at build time (default true).
    env_proxies: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            config: Config {
                connect_timeout: Duration::from_secs(10),
                request_timeout: Some(Duration::from_secs(30)),
                limits: Limits::default(),
                max_body: 256 * 1024 * 1024,
                redirect: RedirectPolicy::none(),
                alloc: AllocStrategy::Arena,
                user_agent: None,
                decompress: Default::default(),
                #[cfg(feature = "http2")]
                h2: H2Options {
                    alpn: true,
                    prior_knowledge: false,
                    config: Http2Config::default(),
                },
                #[cfg(feature = "http3")]
                http3: false,
                #[cfg(feature = "http3")]
                h3_config: Http3Config::default(),
                #[cfg(feature = "cookies")]
                cookies: None,
                net: connect::Network::default(),
            },
            pool: PoolLimits {
                max_per_host: 256,
                max_idle_per_host: 64,
                idle_timeout: Duration::from_secs(90),
                wait_timeout: Duration::from_secs(30),
                #[cfg(feature = "http2")]
                max_h2_per_host: 4,
            },
            #[cfg(feature = "tls")]
            tls: TlsOptions::default(),
            #[cfg(feature = "tls")]
            tls_config: None,
            proxies: Vec::new(),
            env_proxies: true,
        }
    }
}

impl ClientBuilder {
    /// Most connections to one (scheme, host, port) in use at once (default 256).
    /// Requests beyond it wait for a free connection, up to [`Self::pool_wait_timeout`].
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.pool.max_per_host = n.max(1);
        self
    }

    /// Most idle connections kept per host (default 64; 0 disables keep-alive reuse).
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.pool.max_idle_per_host = n;
        self
    }

    /// How long an idle connection is kept (default 90 s).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.pool.idle_timeout = d;
        self
    }

    /// How long a request waits for a free connection when the per-host limit is
    /// reached (default 30 s); then it fails with [`TimeoutKind::PoolWait`].
    pub fn pool_wait_timeout(mut self, d: Duration) -> Self {
        self.pool.wait_timeout = d;
        self
    }

    /// TCP connect plus TLS handshake deadline (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// Whole-request deadline, body included (default 30 s; `None` for none).
    pub fn request_timeout(mut self, d: Option<Duration>) -> Self {
        self.config.request_timeout = d;
        self
    }

    /// Largest response head accepted, in bytes (default 64 KiB).
    pub fn max_response_header_size(mut self, bytes: usize) -> Self {
        self.config.limits.max_header_bytes = bytes.max(64);
        self
    }

    /// Most response header fields accepted (default 100).
    pub fn max_response_headers(mut self, n: usize) -> Self {
        self.config.limits.max_headers = n;
        self
    }

    /// Largest body [`Response::bytes`]/[`Response::text`] or the arena API will buffer
    /// (default 256 MiB). Streaming with [`Response::chunk`] is not limited.
    pub fn max_response_body_size(mut self, bytes: u64) -> Self {
        self.config.max_body = bytes;
        self
    }

    /// The codec's parsing limits in full.
    pub fn parse_limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// The redirect policy (default: [`RedirectPolicy::none`], redirects are returned).
    pub fn redirect(mut self, policy: RedirectPolicy) -> Self {
        self.config.redirect = policy;
        self
    }

    /// How the owned API parses response heads (default [`AllocStrategy::Arena`]).
    pub fn alloc_strategy(mut self, alloc: AllocStrategy) -> Self {
        self.config.alloc = alloc;
        self
    }

    /// A `User-Agent` sent with owned-API requests that have none (default: none).
    pub fn user_agent(mut self, ua: &str) -> Result<Self> {
        self.config.user_agent =
            Some(
                http::HeaderValue::from_str(ua).map_err(|_| Error::InvalidHeader {
                    name: "user-agent".into(),
                })?,
            );
        Ok(self)
    }

    /// Offer HTTP/2 in TLS ALPN (default true: `["h2", "http/1.1"]`; with `false`,
    /// `["http/1.1"]`). An explicit [`TlsOptions::alpn`] list or [`Self::tls_config`]
    /// wins over this.
    #[cfg(feature = "http2")]
    pub fn http2(mut self, enabled: bool) -> Self {
        self.config.h2.alpn = enabled;
        self
    }

    /// Only HTTP/1.1: no `h2` in ALPN, no prior knowledge.
    #[cfg_attr(not(any(feature = "http2", feature = "http3")), allow(unused_mut))]
    pub fn http1_only(mut self) -> Self {
        #[cfg(feature = "http2")]
        {
            self.config.h2.alpn = false;
            self.config.h2.prior_knowledge = false;
        }
        #[cfg(feature = "http3")]
        {
            self.config.http3 = false;
        }
        self
    }

    /// Speak HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) to `http://` URLs.
    #[cfg(feature = "http2")]
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.config.h2.prior_knowledge = true;
        self
    }

    /// Most HTTP/2 connections per origin (default 4). A new one is opened only when
    /// every existing one has reached the server's SETTINGS_MAX_CONCURRENT_STREAMS;
    /// beyond this limit requests wait for a free stream slot.
    #[cfg(feature = "http2")]
    pub fn http2_max_connections_per_host(mut self, n: usize) -> Self {
        self.pool.max_h2_per_host = n.max(1);
        self
    }

    /// HTTP/2 connection settings (windows, limits); see [`Http2Config`].
    #[cfg(feature = "http2")]
    pub fn http2_config(mut self, config: Http2Config) -> Self {
        self.config.h2.config = config;
        self
    }

    /// Use HTTP/3 (QUIC over UDP) for `https://` URLs by default. A request can still
    /// choose another version with [`RequestBuilder::version`].
    #[cfg(feature = "http3")]
    pub fn http3(mut self) -> Self {
        self.config.http3 = true;
        self
    }

    /// HTTP/3 settings (QUIC windows, idle timeout, field section limit); see
    /// [`Http3Config`].
    #[cfg(feature = "http3")]
    pub fn http3_config(mut self, config: Http3Config) -> Self {
        self.config.h3_config = config;
        self
    }

    /// Keeps cookies in a new in-memory [`Jar`] (RFC 6265 rules; see the [`cookies`]
    /// module) with `true`, or none with `false` (the default: no cookie is stored or
    /// sent). Cookies apply to the owned API ([`RequestBuilder::send`],
    /// [`Client::send_http`]), redirects included; the arena API sends only the headers
    /// it is given. Needs the `cookies` feature.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), shockwave::client::Error> {
    /// let client = shockwave::client::Client::builder().cookie_store(true).build()?;
    /// client.post("http://127.0.0.1:8080/login").send().await?; // Set-Cookie: session=...
    /// client.get("http://127.0.0.1:8080/me").send().await?; // Cookie: session=...
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "cookies")]
    pub fn cookie_store(mut self, enable: bool) -> Self {
        self.config.cookies = enable.then(|| CookieProvider(Arc::new(Jar::default())));
        self
    }

    /// Uses `store` for cookies: a [`Jar`] shared with other clients or inspected by
    /// the caller, or any [`CookieStore`]. Needs the `cookies` feature.
    #[cfg(feature = "cookies")]
    pub fn cookie_provider<C: CookieStore>(mut self, store: Arc<C>) -> Self {
        self.config.cookies = Some(CookieProvider(store));
        self
    }

    /// TLS settings: roots, ALPN, verification (default: webpki roots, ALPN `h2`,
    /// `http/1.1`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts one more root certificate (DER), in addition to the current roots.
    #[cfg(feature = "tls")]
    pub fn add_root_certificate(mut self, der: rustls::pki_types::CertificateDer<'static>) -> Self {
        self.tls = self.tls.add_root_certificate(der);
        self
    }

    /// **Dangerous**: accept invalid server certificates. Only for tests.
    #[cfg(feature = "tls")]
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls = self.tls.danger_accept_invalid_certs(accept);
        self
    }

    /// Uses this rustls configuration as is (overrides [`Self::tls`]).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls_config = Some(config);
        self
    }

    /// Sends requests through `proxy` (see [`Proxy`]); proxies added first are tried
    /// first. The proxies of the environment (`HTTP_PROXY`, ...) still apply after them
    /// unless [`Self::no_proxy`] is called.
    ///
    /// An `http://` URL through an HTTP proxy is sent in absolute form over HTTP/1.1
    /// (HTTP/2 prior knowledge does not apply); an `https://` URL goes through a
    /// `CONNECT` tunnel, with TLS (and ALPN, so HTTP/2 too) end to end inside it. HTTP/3
    /// requests cannot use a proxy and fail if one applies.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxies.push(proxy);
        self
    }

    /// Sends every request over the Unix domain socket at `path`, like curl's
    /// `--unix-socket`: the URL still gives the request's target and `Host`
    /// (`http://localhost/path`), but no name is resolved and no proxy applies. HTTP/1.1
    /// and h2c (with [`Self::http2_prior_knowledge`] or a request's `HTTP_2` version)
    /// work over it; `https://` and HTTP/3 URLs fail. Connections are pooled per socket.
    ///
    /// ```no_run
    /// # async fn f() -> shockwave::client::Result<()> {
    /// let client = shockwave::client::Client::builder()
    ///     .unix_socket("/run/app.sock")
    ///     .build()?;
    /// let body = client.get("http://localhost/health").send().await?.text().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(unix)]
    pub fn unix_socket(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        let key = format!("unix:{}", path.display());
        self.config.net.unix = Some(connect::UnixSocket { path, key });
        self
    }

    /// Ignores the proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`,
    /// `ALL_PROXY`, `NO_PROXY` and their lowercase forms), which are otherwise read when
    /// the client is built. Proxies added with [`Self::proxy`] still apply.
    pub fn no_proxy(mut self) -> Self {
        self.env_proxies = false;
        self
    }

    /// Resolves host names with `resolver` instead of the system's `getaddrinfo`
    /// ([`GaiResolver`]). It also resolves proxy host names (and, for `socks5://`
    /// proxies, the target's).
    pub fn resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.config.net.dialer.resolver = resolver;
        self
    }

    /// Connects to `addr` for the host name `host`, without asking the resolver (like
    /// curl's `--resolve`). Port 0 in `addr` means the URL's port. Calling it again for
    /// the same host replaces the address.
    pub fn resolve(self, host: &str, addr: std::net::SocketAddr) -> Self {
        self.resolve_to_addrs(host, &[addr])
    }

    /// [`Self::resolve`] with several addresses (tried with Happy Eyeballs).
    pub fn resolve_to_addrs(mut self, host: &str, addrs: &[std::net::SocketAddr]) -> Self {
        self.config
            .net
            .dialer
            .overrides
            .insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }

    /// The Happy Eyeballs Connection Attempt Delay (RFC 8305 §5; default 250 ms): when
    /// a host has several addresses, the next one is tried after this long without an
    /// answer (or at once when an attempt fails); the first connection wins. The
    /// [connect timeout](Self::connect_timeout) bounds the whole race.
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> Self {
        self.config.net.dialer.attempt_delay = delay;
        self
    }

    /// The I/O driver of cleartext TCP connections (HTTP/1.1 and h2c; TLS, HTTP/3 and
    /// Unix-socket connections always use epoll): [`Io::Epoll`] (the default) or
    /// [`Io::Uring`] (the `io-uring` feature, Linux 6.0 or later). Where io_uring is
    /// unavailable, or `SHOCKWAVE_IO_URING=off`, [`Self::build`] logs the reason and the
    /// client uses epoll; [`Client::io`] tells which driver runs.
    ///
    /// ```no_run
    /// # async fn f() -> shockwave::client::Result<()> {
    /// use shockwave::client::{Client, Io};
    ///
    /// let client = Client::builder().io(Io::Uring).build()?;
    /// println!("driver: {:?}", client.io());
    /// let body = client.get("http://127.0.0.1:8080/").send().await?.text().await?;
    /// # Ok(()) }
    /// ```
    pub fn io(mut self, io: Io) -> Self {
        self.config.net.io = io;
        self
    }

    /// Builds the client (fails only on an invalid TLS configuration).
    pub fn build(self) -> Result<Client> {
        #[cfg(feature = "tls")]
        let tls = match self.tls_config {
            Some(c) => c,
            None => {
                #[cfg(feature = "http2")]
                let offer_h2 = self.config.h2.alpn;
                #[cfg(not(feature = "http2"))]
                let offer_h2 = false;
                let default_alpn: &[&[u8]] = if offer_h2 {
                    &[b"h2", b"http/1.1"]
                } else {
                    &[b"http/1.1"]
                };
                self.tls.build_with_default_alpn(default_alpn)?
            }
        };
        #[cfg(feature = "tls")]
        let tls_h1 = without_h2(&tls);
        #[cfg(not(feature = "tls"))]
        let tls_h1 = ();
        #[cfg(all(feature = "http2", not(feature = "tls")))]
        let tls = ();
        let mut config = self.config;
        config.net.proxies = proxy::Proxies::new(self.proxies, self.env_proxies);
        config.net.settle_io();
        #[cfg(feature = "http2")]
        {
            config.h2.config = config.h2.config.validated();
        }
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                #[cfg(any(feature = "http2", feature = "http3"))]
                tls,
                tls_h1,
                pool: Pool::new(self.pool),
                #[cfg(feature = "http3")]
                h3: tokio::sync::OnceCell::new(),
            }),
        })
    }
}

/// What to send, borrowed (shared by the owned and arena APIs).
pub(crate) struct Outgoing<'x> {
    pub method: &'x Method,
    pub target: Target<'x>,
    pub headers: &'x [(&'x [u8], &'x [u8])],
    pub body: OutBody<'x>,
    /// The HTTP version asked for (`None`: the client's default).
    pub version: Option<Version>,
}

/// The body of an [`Outgoing`] request.
pub(crate) enum OutBody<'x> {
    Full(&'x [u8]),
    Stream {
        stream: &'x mut BodyStream,
        len: Option<u64>,
    },
}

impl OutBody<'_> {
    fn replayable(&self) -> bool {
        matches!(self, OutBody::Full(_))
    }
}

impl<'x> OutBody<'x> {
    pub(crate) fn from_body(body: &'x mut Body) -> OutBody<'x> {
        match &mut body.kind {
            BodyKind::Empty => OutBody::Full(&[]),
            BodyKind::Full(b) => OutBody::Full(b),
            BodyKind::Stream { stream, len } => OutBody::Stream { stream, len: *len },
        }
    }
}

/// A request whose response head has arrived.
pub(crate) enum Exchange {
    /// HTTP/1.1: the head is buffered on `conn` (`head_len` bytes).
    H1 {
        slot: Checkout,
        conn: Box<Http1Conn>,
        head_len: usize,
    },
    /// HTTP/2: the stream and its response head.
    #[cfg(feature = "http2")]
    H2 { stream: H2Stream, head: H2Head },
    /// HTTP/3: nothing sent yet; the caller sends on this connection (the HTTP/3 client
    /// writes and reads a whole exchange).
    #[cfg(feature = "http3")]
    H3(Http3Connection),
}

/// A protocol chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    H1,
    /// HTTP/2 with prior knowledge (cleartext).
    #[cfg(feature = "http2")]
    H2c,
    /// TLS with ALPN: HTTP/2 if the server selects `h2`, else HTTP/1.1.
    #[cfg(feature = "http2")]
    Alpn,
    #[cfg(feature = "http3")]
    H3,
}

/// Where a request goes after connection routing.
#[cfg(feature = "http2")]
enum Route {
    H1(Checkout, Box<Http1Conn>, bool),
    H2(Http2Client),
}

/// Why an HTTP/2 exchange failed, and whether it may be retried on another connection.
#[cfg(feature = "http2")]
enum H2Fail {
    /// The server did not process the request (never sent, REFUSED_STREAM, above the
    /// GOAWAY last stream id), or the connection died before a response to an
    /// idempotent request: safe to resend.
    Retry(Error),
    Fatal(Error),
}

/// RFC 9110 section 9.2.2: idempotent methods may be retried automatically.
fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

impl Client {
    /// A client with the default configuration (see [`ClientBuilder`]).
    pub fn new() -> Client {
        // The default TLS options (webpki roots, ring) always build.
        ClientBuilder::default()
            .build()
            .expect("the default client configuration is valid")
    }

    /// A builder to configure pool limits, timeouts, TLS and parsing limits.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The I/O driver of this client's cleartext TCP connections: [`Io::Uring`] when
    /// it was asked for ([`ClientBuilder::io`]) and io_uring works here, else
    /// [`Io::Epoll`].
    pub fn io(&self) -> Io {
        self.inner.config.net.io
    }

    /// A `GET` request to `url`.
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` request to `url`.
    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` request to `url`.
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `DELETE` request to `url`.
    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A `HEAD` request to `url`.
    pub fn head(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.as_ref())
    }

    /// Sends an `http::Request` (interop with the `http` crate ecosystem). The URI must
    /// be absolute (`http://` or `https://`).
    pub async fn send_http<B: Into<Body>>(&self, req: http::Request<B>) -> Result<Response> {
        let (parts, body) = req.into_parts();
        let url = parts.uri.to_string();
        let mut rb = RequestBuilder::new(self.clone(), parts.method, &url);
        rb = rb.headers(parts.headers).body(body);
        if let Some(t) = parts.extensions.get::<RequestTimeout>() {
            rb = rb.timeout(t.0);
        }
        rb.send().await
    }

    /// A snapshot of the client's counters.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.pool.counters;
        ClientStats {
            connections_opened: c.opened.load(Relaxed),
            connections_reused: c.reused.load(Relaxed),
            connections_evicted: c.evicted.load(Relaxed),
            retries: c.retried.load(Relaxed),
            http2_connections_opened: c.h2_opened.load(Relaxed),
            http3_connections_opened: c.h3_opened.load(Relaxed),
        }
    }

    /// Shared HTTP/2 connections pooled for `url`'s origin (0 for an invalid URL).
    #[cfg(feature = "http2")]
    pub fn http2_connections(&self, url: &str) -> usize {
        Target::parse(url).map_or(0, |t| self.inner.pool.h2_count(&t, self.via_key(&t)))
    }

    /// Idle connections pooled for `url`'s origin (0 for an invalid URL).
    pub fn idle_connections(&self, url: &str) -> usize {
        Target::parse(url).map_or(0, |t| self.inner.pool.idle_count(&t, self.via_key(&t)))
    }

    /// Opens a new connection to `url`'s origin (TCP, plus TLS for `https`) outside the
    /// pool, for callers that drive HTTP/1.1 themselves (e.g. pipelining load tests):
    /// ALPN never offers `h2` here. Through a proxy, the connection is a tunnel
    /// (`CONNECT` or SOCKS5) to the origin, also for `http://` URLs.
    pub async fn connect(&self, url: &str) -> Result<Transport> {
        let t = Target::parse(url)?;
        let cfg = &self.inner.config;
        transport::connect(&t, &self.inner.tls_h1, &cfg.net, false, cfg.connect_timeout).await
    }

    /// The pool key part of `t`'s proxy ("" when it connects directly).
    fn via_key(&self, t: &Target<'_>) -> &str {
        #[cfg(unix)]
        if let Some(unix) = &self.inner.config.net.unix {
            return &unix.key;
        }
        self.inner.config.net.proxies.key(t)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    async fn connect_new(&self, t: &Target<'_>) -> Result<Box<Http1Conn>> {
        let cfg = &self.inner.config;
        // Boxed: the connect (and TLS handshake) future is large, and inline it would be
        // part of every request's future, copied at each await on the hot path.
        let io = Box::pin(transport::connect(
            t,
            &self.inner.tls_h1,
            &cfg.net,
            true,
            cfg.connect_timeout,
        ))
        .await?;
        self.inner.pool.counters.opened.fetch_add(1, Relaxed);
        let mut conn = Http1Conn::new(io);
        conn.forward = cfg.net.forward_proxy(t).map(|via| h1::Forward {
            authorization: via.authorization(),
        });
        Ok(conn)
    }

    /// Returns a finished connection to the pool (or drops it if not reusable).
    pub(crate) fn finish(&self, slot: Checkout, conn: Box<Http1Conn>, reusable: bool) {
        if reusable && conn.buffered().is_empty() {
            self.inner.pool.checkin(slot, PoolConn::Http1(conn));
        }
    }

    /// Which protocol `out` goes over: the request's version preference, else the
    /// client's configuration.
    fn protocol(&self, out: &Outgoing<'_>) -> Result<Proto> {
        let cfg = &self.inner.config;
        let https = out.target.scheme == Scheme::Https;
        // A forwarding HTTP proxy speaks HTTP/1.1 (absolute form) for `http://` URLs.
        if cfg.net.forward_proxy(&out.target).is_some() {
            return Ok(Proto::H1);
        }
        #[cfg(not(any(feature = "http2", feature = "http3")))]
        let _ = (cfg, https);
        Ok(match out.version {
            #[cfg(not(feature = "http3"))]
            Some(Version::HTTP_3) => {
                return Err(Error::invalid_url(
                    out.target.authority,
                    "HTTP/3 needs the `http3` feature of shockwave",
                ))
            }
            #[cfg(not(feature = "http2"))]
            Some(Version::HTTP_2) => {
                return Err(Error::invalid_url(
                    out.target.authority,
                    "HTTP/2 needs the `http2` feature of shockwave",
                ))
            }
            #[cfg(feature = "http3")]
            Some(Version::HTTP_3) => {
                if !https {
                    return Err(Error::invalid_url(
                        out.target.authority,
                        "HTTP/3 needs an https URL",
                    ));
                }
                Proto::H3
            }
            #[cfg(feature = "http2")]
            Some(Version::HTTP_2) => {
                if https {
                    Proto::Alpn
                } else {
                    Proto::H2c
                }
            }
            Some(_) => Proto::H1,
            #[cfg(feature = "http3")]
            None if https && cfg.http3 => Proto::H3,
            #[cfg(feature = "http2")]
            None if https && cfg.h2.alpn => Proto::Alpn,
            #[cfg(feature = "http2")]
            None if !https && cfg.h2.prior_knowledge => Proto::H2c,
            None => Proto::H1,
        })
    }

    /// Routes the request to a connection, sends it, and waits for the final response
    /// head (1xx responses are skipped). For HTTP/3 only the connection is returned.
    pub(crate) async fn begin(&self, out: &mut Outgoing<'_>) -> Result<Exchange> {
        match self.protocol(out)? {
            Proto::H1 => self.begin_h1(out, None).await,
            #[cfg(feature = "http3")]
            // Boxed: the QUIC connect future is large and would otherwise be part of
            // every request's future (copied at each await).
            Proto::H3 => Ok(Exchange::H3(
                Box::pin(self.h3_connection(&out.target)).await?,
            )),
            #[cfg(feature = "http2")]
            proto => self.begin_shared(out, proto == Proto::Alpn).await,
        }
    }

    /// The pooled HTTP/3 connection to `t`'s origin (one QUIC connection per origin,
    /// opened on first use, under the per-origin connect lock).
    #[cfg(feature = "http3")]
    async fn h3_connection(&self, t: &Target<'_>) -> Result<Http3Connection> {
        let pool = &self.inner.pool;
        pool.maybe_sweep();
        if let Some(via) = self.inner.config.net.proxies.find(t) {
            let _ = via;
            return Err(Error::invalid_url(
                t.authority,
                "HTTP/3 cannot go through a proxy (exempt the host with NoProxy, or use HTTP/1.1 or HTTP/2)",
            ));
        }
        #[cfg(unix)]
        if self.inner.config.net.unix.is_some() {
            return Err(Error::invalid_url(
                t.authority,
                "HTTP/3 cannot go over a Unix domain socket",
            ));
        }
        let host = pool.host_pool(t, "");
        if let Some(c) = host.pick_h3(&pool.counters.evicted) {
            return Ok(c);
        }
        let timeout = self.inner.config.connect_timeout;
        let timed_out = |kind| Error::Timeout {
            kind,
            after: timeout,
        };
        let _guard = tokio::time::timeout(timeout, host.h2_connect.lock())
            .await
            .map_err(|_| timed_out(TimeoutKind::PoolWait))?;
        if let Some(c) = host.pick_h3(&pool.counters.evicted) {
            return Ok(c);
        }
        let config = &self.inner.config.h3_config;
        let endpoint = self
            .inner
            .h3
            .get_or_try_init(|| async { h3::client_endpoint(&self.inner.tls, config) })
            .await?;
        let connect = h3::connect_origin(endpoint, t.host, t.port, config);
        let conn = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| timed_out(TimeoutKind::Connect))??;
        pool.counters.h3_opened.fetch_add(1, Relaxed);
        host.set_h3(conn.clone());
        Ok(conn)
    }

    /// The pooled HTTP/3 connection to `url`'s origin (opened if there is none), for
    /// the streaming API ([`Http3Connection::send_streaming`]) or to send many requests
    /// on one connection directly. `url` must be an `https://` URL.
    #[cfg(feature = "http3")]
    pub async fn http3_connection(&self, url: &str) -> Result<Http3Connection> {
        let t = Target::parse(url)?;
        if t.scheme != Scheme::Https {
            return Err(Error::invalid_url(url, "HTTP/3 needs an https URL"));
        }
        self.h3_connection(&t).await
    }

    /// Shared HTTP/3 connections pooled for `url`'s origin (0 or 1; 0 for an invalid
    /// URL).
    #[cfg(feature = "http3")]
    pub fn http3_connections(&self, url: &str) -> usize {
        Target::parse(url).map_or(0, |t| self.inner.pool.h3_count(&t, self.via_key(&t)))
    }

    /// HTTP/2 (prior knowledge, or ALPN with HTTP/1.1 fallback): picks or opens a shared
    /// connection and runs the exchange, retrying once on another connection when the
    /// server did not process the request.
    #[cfg(feature = "http2")]
    async fn begin_shared(&self, out: &mut Outgoing<'_>, alpn: bool) -> Result<Exchange> {
        let pool = &self.inner.pool;
        pool.maybe_sweep();
        let host = pool.host_pool(&out.target, self.via_key(&out.target));
        let mut retried = false;
        loop {
            let conn = match self.route_shared(&host, &out.target, alpn).await? {
                Route::H2(c) => c,
                Route::H1(slot, conn, reused) => {
                    return self.begin_h1(out, Some((slot, conn, reused))).await
                }
            };
            match h2_exchange(&conn, out).await {
                Ok((stream, head)) => return Ok(Exchange::H2 { stream, head }),
                Err(H2Fail::Retry(_)) if !retried => {
                    if !conn.is_usable() {
                        host.remove_h2(&conn);
                        pool.counters.evicted.fetch_add(1, Relaxed);
                    }
                    pool.counters.retried.fetch_add(1, Relaxed);
                    retried = true;
                }
                Err(H2Fail::Retry(e) | H2Fail::Fatal(e)) => {
                    // A connection that died (a timer closed it, GOAWAY, I/O) leaves the
                    // pool now rather than at the next pick.
                    if !conn.is_usable() {
                        host.remove_h2(&conn);
                        pool.counters.evicted.fetch_add(1, Relaxed);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// A shared HTTP/2 connection for `t` (pooled, or opened: h2c for `http://`, ALPN
    /// for `https://`), or `None` when ALPN chose HTTP/1.1. For exchanges that hold a
    /// stream open (CONNECT tunnels, WebSocket over extended CONNECT).
    #[cfg(feature = "http2")]
    pub(crate) async fn h2_connection(&self, t: &Target<'_>) -> Result<Option<Http2Client>> {
        let pool = &self.inner.pool;
        pool.maybe_sweep();
        let host = pool.host_pool(t, self.via_key(t));
        let alpn = t.scheme == Scheme::Https;
        Ok(match self.route_shared(&host, t, alpn).await? {
            Route::H2(c) => Some(c),
            Route::H1(..) => None,
        })
    }

    /// A shared HTTP/2 connection for `t`, or (ALPN chose HTTP/1.1) an HTTP/1.1 one.
    /// New connections to one origin are opened one at a time, so concurrent first
    /// requests share the first connection instead of racing to open their own.
    #[cfg(feature = "http2")]
    async fn route_shared(
        &self,
        host: &Arc<HostPool>,
        t: &Target<'_>,
        alpn: bool,
    ) -> Result<Route> {
        let pool = &self.inner.pool;
        let max = pool.max_h2_per_host();
        if let H2Pick::Use(c) = host.pick_h2(max, &pool.counters.evicted) {
            return Ok(Route::H2(c));
        }
        if alpn && host.speaks_h1.load(Relaxed) {
            return self.route_h1(host).await;
        }
        let wait = self.inner.config.connect_timeout;
        let guard = match tokio::time::timeout(wait, host.h2_connect.lock()).await {
            Ok(g) => g,
            Err(_) => {
                return Err(Error::Timeout {
                    kind: TimeoutKind::PoolWait,
                    after: wait,
                })
            }
        };
        if let H2Pick::Use(c) = host.pick_h2(max, &pool.counters.evicted) {
            return Ok(Route::H2(c));
        }
        if alpn && host.speaks_h1.load(Relaxed) {
            drop(guard);
            return self.route_h1(host).await;
        }
        let cfg = &self.inner.config;
        // Boxed, as in `connect_new`: kept out of the request future.
        let io = Box::pin(transport::connect(
            t,
            &self.inner.tls,
            &cfg.net,
            false,
            cfg.connect_timeout,
        ))
        .await?;
        pool.counters.opened.fetch_add(1, Relaxed);
        if !alpn || io.alpn_protocol() == Some(b"h2") {
            let conn = Http2Client::connect(io, self.inner.config.h2.config.clone());
            pool.counters.h2_opened.fetch_add(1, Relaxed);
            host.add_h2(conn.clone());
            return Ok(Route::H2(conn));
        }
        // ALPN chose HTTP/1.1 (or nothing): remember, and use this connection for it.
        host.speaks_h1.store(true, Relaxed);
        drop(guard);
        let (slot, _idle) = pool.checkout_in(host.clone()).await?;
        Ok(Route::H1(slot, Http1Conn::new(io), false))
    }

    #[cfg(feature = "http2")]
    async fn route_h1(&self, host: &Arc<HostPool>) -> Result<Route> {
        let (slot, pooled) = self.inner.pool.checkout_in(host.clone()).await?;
        Ok(match pooled {
            Some(PoolConn::Http1(c)) => Route::H1(slot, c, true),
            None => {
                let t = host.target();
                Route::H1(slot, self.connect_new(&t).await?, false)
            }
        })
    }

    /// HTTP/1.1: checks out (or opens) a connection, writes the request, and waits for
    /// the final response head (1xx responses are skipped). A pooled connection that
    /// fails before any response byte arrives is replaced and the request retried once,
    /// if the method is idempotent and the body replayable.
    async fn begin_h1(
        &self,
        out: &mut Outgoing<'_>,
        routed: Option<(Checkout, Box<Http1Conn>, bool)>,
    ) -> Result<Exchange> {
        let (slot, mut conn, mut reused) = match routed {
            Some(r) => r,
            None => {
                let via = self.via_key(&out.target);
                let (slot, pooled) = self.inner.pool.checkout(&out.target, via).await?;
                match pooled {
                    Some(PoolConn::Http1(c)) => (slot, c, true),
                    None => (slot, self.connect_new(&out.target).await?, false),
                }
            }
        };
        loop {
            match self.write_and_read_head(&mut conn, out).await {
                Ok(head_len) => {
                    return Ok(Exchange::H1 {
                        slot,
                        conn,
                        head_len,
                    })
                }
                Err(e)
                    if reused
                        && conn.received == 0
                        && idempotent(out.method)
                        && out.body.replayable()
                        && matches!(
                            e,
                            Error::Io(_) | Error::ConnectionClosed(ClosedDuring::BeforeResponse)
                        ) =>
                {
                    self.inner.pool.counters.retried.fetch_add(1, Relaxed);
                    reused = false;
                    conn = self.connect_new(&out.target).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn write_and_read_head(
        &self,
        conn: &mut Http1Conn,
        out: &mut Outgoing<'_>,
    ) -> Result<usize> {
        let body_len = match &out.body {
            OutBody::Full(b) if b.is_empty() && !method_expects_body(out.method) => {
                BodyLength::None
            }
            OutBody::Full(b) => BodyLength::Known(b.len() as u64),
            OutBody::Stream { len: Some(n), .. } => BodyLength::Known(*n),
            OutBody::Stream { len: None, .. } => BodyLength::Chunked,
        };
        // Through a forwarding HTTP proxy: the absolute form (RFC 9112 §3.2.2) and the
        // proxy's credentials; both allocate, the direct path does not.
        let absolute: String;
        let with_proxy_auth: Vec<(&[u8], &[u8])>;
        let authorization = conn.forward.as_ref().map(|f| f.authorization.clone());
        let (request_target, headers) = match &authorization {
            None => (out.target.path_and_query, out.headers),
            Some(auth) => {
                let t = &out.target;
                absolute = format!(
                    "{}://{}{}",
                    t.scheme.as_str(),
                    t.authority,
                    t.path_and_query
                );
                // A `Proxy-Authorization` the caller set wins over the proxy URL's.
                let own = out
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(b"proxy-authorization"));
                with_proxy_auth = out
                    .headers
                    .iter()
                    .copied()
                    .chain(
                        auth.as_ref()
                            .filter(|_| !own)
                            .map(|a| (&b"proxy-authorization"[..], a.as_bytes())),
                    )
                    .collect();
                (absolute.as_str(), &with_proxy_auth[..])
            }
        };
        conn.wbuf.clear();
        conn.reset_tail();
        RequestHead {
            method: out.method,
            target: request_target,
            host: out.target.authority,
            headers,
            body: body_len,
            keep_alive: true,
        }
        .write_to(&mut conn.wbuf);
        match &mut out.body {
            OutBody::Full(b) => conn.write_head_and_body(b).await?,
            OutBody::Stream { stream, len } => {
                conn.write_head_and_body(&[]).await?;
                write_stream(conn, stream, *len).await?;
            }
        }
        let max_head = self.inner.config.limits.max_header_bytes;
        loop {
            let head_len = conn.read_head(max_head).await?;
            let head = &conn.buffered()[..head_len];
            // Skip interim responses (RFC 9110 section 15.2); 101 would switch protocols.
            if head.len() > 12 && head.starts_with(b"HTTP/1.") && head[9] == b'1' {
                if &head[9..12] == b"101" {
                    return Err(Error::UnexpectedUpgrade);
                }
                conn.consume(head_len);
                continue;
            }
            return Ok(head_len);
        }
    }

    pub(crate) fn deadline(&self, per_request: Option<Duration>) -> Option<(Instant, Duration)> {
        per_request
            .or(self.inner.config.request_timeout)
            .map(|d| (Instant::now() + d, d))
    }
}

/// `tls` with `h2` removed from its ALPN list (shared as is when it has none).
#[cfg(feature = "tls")]
fn without_h2(tls: &Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    if !tls.alpn_protocols.iter().any(|p| p == b"h2") {
        return tls.clone();
    }
    let mut c = (**tls).clone();
    c.alpn_protocols.retain(|p| p != b"h2");
    Arc::new(c)
}

/// The request's regular header fields for HTTP/2 and HTTP/3: connection-specific ones
/// dropped (RFC 9113 §8.2.2, RFC 9114 §4.2), names lowercased (copied only when a name
/// has an uppercase letter).
#[cfg(feature = "http3")]
pub(crate) fn multiplexed_fields<'h>(
    headers: &'h [(&'h [u8], &'h [u8])],
    lowered: &'h mut Vec<(Vec<u8>, &'h [u8])>,
) -> Vec<(&'h [u8], &'h [u8])> {
    regular_fields(headers, lowered).collect()
}

/// [`multiplexed_fields`] as an iterator (no allocation unless a name must be
/// lowercased).
#[cfg(any(feature = "http2", feature = "http3"))]
fn regular_fields<'h>(
    headers: &'h [(&'h [u8], &'h [u8])],
    lowered: &'h mut Vec<(Vec<u8>, &'h [u8])>,
) -> impl Iterator<Item = (&'h [u8], &'h [u8])> + Clone + 'h {
    let keep = |(n, v): &(&[u8], &[u8])| !skip_request_field(n, v);
    let upper = headers
        .iter()
        .any(|(n, _)| n.iter().any(u8::is_ascii_uppercase));
    if upper {
        lowered.extend(
            headers
                .iter()
                .filter(|f| keep(f))
                .map(|(n, v)| (n.to_ascii_lowercase(), *v)),
        );
    }
    let lowered: &'h [(Vec<u8>, &'h [u8])] = lowered;
    let direct: &'h [(&'h [u8], &'h [u8])] = if upper { &[] } else { headers };
    direct
        .iter()
        .copied()
        .filter(keep)
        .chain(lowered.iter().map(|(n, v)| (&n[..], *v)))
}

/// Sends `out` on a new stream of `conn` and waits for the final response head.
#[cfg(feature = "http2")]
async fn h2_exchange(
    conn: &Http2Client,
    out: &mut Outgoing<'_>,
) -> std::result::Result<(H2Stream, H2Head), H2Fail> {
    let mut len_buf = [0u8; 20];
    let mut lowered = Vec::new();
    let regular = regular_fields(out.headers, &mut lowered);
    let content_length: Option<&[u8]> = match &out.body {
        OutBody::Full(b) if b.is_empty() && !method_expects_body(out.method) => None,
        OutBody::Full(b) => Some(shockwave_http11::format_decimal(
            b.len() as u64,
            &mut len_buf,
        )),
        OutBody::Stream { len: Some(n), .. } => {
            Some(shockwave_http11::format_decimal(*n, &mut len_buf))
        }
        OutBody::Stream { len: None, .. } => None,
    };
    let pseudo: [(&[u8], &[u8]); 4] = [
        (b":method", out.method.as_str().as_bytes()),
        (b":scheme", out.target.scheme.as_str().as_bytes()),
        (b":authority", out.target.authority.as_bytes()),
        (b":path", out.target.path_and_query.as_bytes()),
    ];
    let fields = pseudo
        .into_iter()
        .chain(regular)
        .chain(content_length.map(|cl| (&b"content-length"[..], cl)));
    let no_body = matches!(&out.body, OutBody::Full(b) if b.is_empty());
    let replayable = out.body.replayable();
    let retry_ok = replayable && idempotent(out.method);
    let fail = |e: Error, opened: bool| -> H2Fail {
        let retry = match &e {
            // Never sent: the connection went away (GOAWAY, closed, or failed) before the
            // stream opened.
            Error::ConnectionClosed(_) | Error::Http2Connection(_) | Error::Timeout { .. }
                if !opened =>
            {
                true
            }
            // RFC 9113 §8.7: REFUSED_STREAM (and streams above a GOAWAY's last stream id,
            // which the engine fails the same way) were not processed.
            Error::Http2Reset(ErrorCode::RefusedStream) => replayable,
            Error::ConnectionClosed(_) => retry_ok,
            _ => false,
        };
        if retry {
            H2Fail::Retry(e)
        } else {
            H2Fail::Fatal(e)
        }
    };
    let mut stream = conn
        .open_stream(fields, no_body)
        .await
        .map_err(|e| fail(e, false))?;
    // RFC 9113 §8.1: a server may answer before the request body is complete, then
    // reset the stream with NO_ERROR (e.g. a 413 for an upload over its limit): stop
    // sending and read that response — it must not be discarded.
    let sent = |r: Result<()>| -> std::result::Result<bool, H2Fail> {
        match r {
            Ok(()) => Ok(true),
            Err(Error::Http2Reset(ErrorCode::NoError)) => Ok(false),
            Err(e) => Err(fail(e, true)),
        }
    };
    match &mut out.body {
        OutBody::Full([]) => {}
        OutBody::Full(b) => {
            sent(stream.send_data(b, true).await)?;
        }
        OutBody::Stream { stream: body, len } => 'body: {
            let mut produced: u64 = 0;
            while let Some(piece) = body.next().await {
                let piece: Bytes = piece.map_err(|e| H2Fail::Fatal(Error::BodyStream(e)))?;
                produced += piece.len() as u64;
                if let Some(declared) = *len {
                    if produced > declared {
                        return Err(H2Fail::Fatal(Error::BodyLengthMismatch {
                            declared,
                            produced,
                        }));
                    }
                }
                if !piece.is_empty() && !sent(stream.send_data(&piece, false).await)? {
                    break 'body;
                }
            }
            if let Some(declared) = *len {
                if produced != declared {
                    return Err(H2Fail::Fatal(Error::BodyLengthMismatch {
                        declared,
                        produced,
                    }));
                }
            }
            sent(stream.send_data(&[], true).await)?;
        }
    }
    let head = stream.response().await.map_err(|e| fail(e, true))?;
    Ok((stream, head))
}

/// Connection-specific fields that HTTP/2 and HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114
/// §4.2); `Host` is replaced by `:authority`. `te` is allowed only as `trailers`.
#[cfg(any(feature = "http2", feature = "http3"))]
pub(crate) fn skip_request_field(name: &[u8], value: &[u8]) -> bool {
    const DROP: [&[u8]; 6] = [
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ];
    DROP.iter().any(|d| name.eq_ignore_ascii_case(d))
        || (name.eq_ignore_ascii_case(b"te") && !value.eq_ignore_ascii_case(b"trailers"))
}

/// POST/PUT/PATCH send `Content-Length: 0` for an empty body (RFC 9110 section 8.6).
fn method_expects_body(m: &Method) -> bool {
    matches!(*m, Method::POST | Method::PUT | Method::PATCH)
}

async fn write_stream(
    conn: &mut Http1Conn,
    stream: &mut BodyStream,
    len: Option<u64>,
) -> Result<()> {
    let mut sent: u64 = 0;
    while let Some(piece) = stream.next().await {
        let piece: Bytes = piece.map_err(Error::BodyStream)?;
        if piece.is_empty() {
            continue;
        }
        sent += piece.len() as u64;
        conn.wbuf.clear();
        match len {
            Some(declared) => {
                if sent > declared {
                    return Err(Error::BodyLengthMismatch {
                        declared,
                        produced: sent,
                    });
                }
                conn.wbuf.extend_from_slice(&piece);
            }
            None => shockwave_http11::write_chunk(&mut conn.wbuf, &piece),
        }
        conn.write_wbuf().await?;
    }
    match len {
        Some(declared) if sent != declared => Err(Error::BodyLengthMismatch {
            declared,
            produced: sent,
        }),
        Some(_) => Ok(()),
        None => {
            conn.wbuf.clear();
            shockwave_http11::write_last_chunk(&mut conn.wbuf, &[]);
            conn.write_wbuf().await?;
            Ok(())
        }
    }
}

/// A per-request timeout carried in an `http::Request`'s extensions (for
/// [`Client::send_http`]).
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub Duration);

/// Runs `fut` under an optional deadline, mapping expiry to [`TimeoutKind::Request`].
pub(crate) async fn with_deadline<T>(
    deadline: Option<(Instant, Duration)>,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        None => fut.await,
        Some((at, after)) => match tokio::time::timeout_at(at.into(), fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                kind: TimeoutKind::Request,
                after,
            }),
        },
    }
}
