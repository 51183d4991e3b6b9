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
//! Only HTTP/1.1 is spoken today; the pool is built so HTTP/2 and HTTP/3 connections
//! can join it (see the `pool` module notes).

mod arena;
mod body;
mod conn;
mod error;
mod pool;
mod redirect;
mod request;
mod response;
mod target;
mod tls;
mod transport;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::Method;
use shockwave_http11::{BodyLength, Limits, RequestHead};

pub use arena::{ArenaRequest, ArenaResponse};
pub use body::{Body, BodyStream};
pub use error::{ClosedDuring, Error, Result, TimeoutKind};
pub use redirect::RedirectPolicy;
pub use request::RequestBuilder;
pub use response::Response;
pub use target::{Scheme, Target};
pub use tls::TlsOptions;
pub use transport::Transport;

use body::BodyKind;
use conn::Http1Conn;
use pool::{Checkout, Pool, PoolConn, PoolLimits};

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
    /// Requests retried on a fresh connection after a stale pooled one failed.
    pub retries: u64,
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
}

struct Inner {
    config: Config,
    tls: Arc<rustls::ClientConfig>,
    pool: Pool,
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
    tls: TlsOptions,
    tls_config: Option<Arc<rustls::ClientConfig>>,
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
            },
            pool: PoolLimits {
                max_per_host: 256,
                max_idle_per_host: 64,
                idle_timeout: Duration::from_secs(90),
                wait_timeout: Duration::from_secs(30),
            },
            tls: TlsOptions::default(),
            tls_config: None,
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

    /// TLS settings: roots, ALPN, verification (default: webpki roots, `http/1.1`).
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts one more root certificate (DER), in addition to the current roots.
    pub fn add_root_certificate(mut self, der: rustls::pki_types::CertificateDer<'static>) -> Self {
        self.tls = self.tls.add_root_certificate(der);
        self
    }

    /// **Dangerous**: accept invalid server certificates. Only for tests.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls = self.tls.danger_accept_invalid_certs(accept);
        self
    }

    /// Uses this rustls configuration as is (overrides [`Self::tls`]).
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls_config = Some(config);
        self
    }

    /// Builds the client (fails only on an invalid TLS configuration).
    pub fn build(self) -> Result<Client> {
        let tls = match self.tls_config {
            Some(c) => c,
            None => self.tls.build()?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                config: self.config,
                tls,
                pool: Pool::new(self.pool),
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

/// A request whose response head is buffered on `conn` (`head_len` bytes).
pub(crate) struct Exchange {
    pub slot: Checkout,
    pub conn: Box<Http1Conn>,
    pub head_len: usize,
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
        }
    }

    /// Idle connections pooled for `url`'s origin (0 for an invalid URL).
    pub fn idle_connections(&self, url: &str) -> usize {
        Target::parse(url).map_or(0, |t| self.inner.pool.idle_count(&t))
    }

    /// Opens a new connection to `url`'s origin (TCP, plus TLS for `https`) outside the
    /// pool, for callers that drive the protocol themselves (e.g. pipelining load tests).
    pub async fn connect(&self, url: &str) -> Result<Transport> {
        let t = Target::parse(url)?;
        transport::connect(&t, &self.inner.tls, self.inner.config.connect_timeout).await
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    async fn connect_new(&self, t: &Target<'_>) -> Result<Box<Http1Conn>> {
        let io = transport::connect(t, &self.inner.tls, self.inner.config.connect_timeout).await?;
        self.inner.pool.counters.opened.fetch_add(1, Relaxed);
        Ok(Http1Conn::new(io))
    }

    /// Returns a finished connection to the pool (or drops it if not reusable).
    pub(crate) fn finish(&self, slot: Checkout, conn: Box<Http1Conn>, reusable: bool) {
        if reusable && conn.buffered().is_empty() {
            self.inner.pool.checkin(slot, PoolConn::Http1(conn));
        }
    }

    /// Checks out (or opens) a connection, writes the request, and waits for the final
    /// response head (1xx responses are skipped). A pooled connection that fails before
    /// any response byte arrives is replaced and the request retried once, if the method
    /// is idempotent and the body replayable.
    pub(crate) async fn begin(&self, out: &mut Outgoing<'_>) -> Result<Exchange> {
        let (slot, pooled) = self.inner.pool.checkout(&out.target).await?;
        let (mut conn, mut reused) = match pooled {
            Some(PoolConn::Http1(c)) => (c, true),
            None => (self.connect_new(&out.target).await?, false),
        };
        loop {
            match self.write_and_read_head(&mut conn, out).await {
                Ok(head_len) => {
                    return Ok(Exchange {
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
        conn.wbuf.clear();
        RequestHead {
            method: out.method,
            target: out.target.path_and_query,
            host: out.target.authority,
            headers: out.headers,
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
