//! An HTTP/2 client connection on the sans-I/O [`Connection`] (client role): many
//! requests multiplexed over one connection, with owned `http` types. The socket loop is
//! the one the server uses too (`common::h2_io`), so the connection's timers (SETTINGS
//! ACK, keep-alive PINGs, stalled streams) run here as well; request tasks park their
//! wakers beside the connection, under its lock, and the loop wakes them from the
//! connection's events.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use shockwave::client::Http2Client;
//!
//! let tcp = tokio::net::TcpStream::connect("127.0.0.1:8080").await?;
//! let client = Http2Client::connect(tcp, Default::default()); // prior knowledge (h2c)
//! let req = http::Request::get("http://127.0.0.1:8080/").body(bytes::Bytes::new())?;
//! let resp = client.send(req).await?;
//! assert_eq!(resp.status(), 200);
//! # Ok(()) }
//! ```

use std::future::{poll_fn, Future};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::error::{ClosedDuring, Error, TimeoutKind};
use super::skip_request_field;
#[cfg(feature = "tls")]
use super::target::{Scheme, Target};
#[cfg(feature = "tls")]
use super::tls::TlsOptions;
#[cfg(feature = "tls")]
use super::transport;
use crate::common::h2_io::{self, H2State, Options, Side};
use crate::http2::{
    Connection, ConnectionError, ErrorCode, Event, Http2Config, RequestHead, StreamError, StreamId,
};

struct Shared {
    /// The connection, the wakers of the request tasks and of the I/O task.
    conn: Mutex<H2State>,
    closed: AtomicBool,
    goaway: AtomicBool,
    /// Set by the driver when one of the engine's timers closed the connection (no
    /// PING ACK, no SETTINGS ACK), so requests fail with that timeout.
    timed_out: Mutex<Option<(TimeoutKind, Duration)>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, H2State> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client error for a failed stream operation `during` a phase of the exchange:
    /// the connection's timeout or error when the connection failed, else the stream's.
    fn error(&self, e: StreamError, during: ClosedDuring) -> Error {
        let timed_out = *self.timed_out.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kind, after)) = timed_out {
            return Error::Timeout { kind, after };
        }
        if let Some(ce) = self.lock().conn.error() {
            return Error::Http2Connection(ce);
        }
        match e {
            StreamError::Reset(code) => Error::Http2Reset(code),
            _ => Error::ConnectionClosed(during),
        }
    }
}

/// Owned by every [`Http2Client`] clone and every open [`H2Stream`]: when the last one
/// goes, the connection says GOAWAY and the driver ends once the streams are done.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.conn.go_away();
        s.wake_io();
    }
}

/// A handle to one HTTP/2 client connection; cheap to clone, `Send + Sync`. Requests from
/// all clones are multiplexed over the connection. The connection is closed (GOAWAY)
/// when the last clone and the last [`H2Stream`] are dropped.
#[derive(Clone)]
pub struct Http2Client {
    handle: Arc<Handle>,
    max_body: usize,
}

impl std::fmt::Debug for Http2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Http2Client {
    /// Starts a connection over `io` (TCP with prior knowledge, or TLS after ALPN `h2`)
    /// and spawns its driver on the current tokio runtime.
    pub fn connect<IO>(io: IO, config: Http2Config) -> Http2Client
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (client, driver) = Self::handshake(io, config);
        tokio::spawn(driver);
        client
    }

    /// Connects to the origin of `url`: TCP with prior knowledge for `http://`, TLS with
    /// ALPN `h2` for `https://` (`tls` gives the rustls configuration, its ALPN list
    /// replaced by `h2`; `None`: the client's default, webpki roots). Connecting and the
    /// TLS handshake must finish within 30 s. Fails if the server does not select `h2`.
    ///
    /// For many origins, connection reuse, retries and HTTP/1.1 fallback use
    /// [`Client`](super::Client) instead: its pool keeps these per origin.
    #[cfg(feature = "tls")]
    pub async fn connect_url(
        url: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        config: Http2Config,
    ) -> Result<Http2Client, Error> {
        let target = Target::parse(url)?;
        let tls = match tls {
            Some(c) => {
                let mut c = (*c).clone();
                c.alpn_protocols = vec![b"h2".to_vec()];
                Arc::new(c)
            }
            None => TlsOptions::default().alpn(&[b"h2"]).build()?,
        };
        // Direct (no proxy): this is the low-level connector.
        let net = super::connect::Network::default();
        let io = transport::connect(&target, &tls, &net, false, Duration::from_secs(30)).await?;
        if target.scheme == Scheme::Https && io.alpn_protocol() != Some(b"h2") {
            return Err(Error::Tls {
                host: target.host.to_owned(),
                source: io::Error::other("the server did not negotiate h2 (ALPN)"),
            });
        }
        Ok(Self::connect(io, config))
    }

    /// Like [`Http2Client::connect`], but returns the driver future for the caller to run.
    pub fn handshake<IO>(
        io: IO,
        config: Http2Config,
    ) -> (
        Http2Client,
        impl Future<Output = io::Result<()>> + Send + 'static,
    )
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let shared = Arc::new(Shared {
            conn: Mutex::new(H2State::new(Connection::client(config))),
            closed: AtomicBool::new(false),
            goaway: AtomicBool::new(false),
            timed_out: Mutex::new(None),
        });
        let driver = drive(io, shared.clone());
        (
            Http2Client {
                handle: Arc::new(Handle { shared }),
                max_body: 64 << 20,
            },
            driver,
        )
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// The largest response body [`Http2Client::send`] collects (default 64 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// True once the connection can take no more requests.
    pub fn is_closed(&self) -> bool {
        self.shared().closed.load(Ordering::Relaxed) || {
            let c = self.shared().lock();
            c.conn.error().is_some() || c.conn.is_done()
        }
    }

    /// True if both handles drive the same connection.
    pub fn same_connection(&self, other: &Http2Client) -> bool {
        Arc::ptr_eq(&self.handle, &other.handle)
    }

    /// True while new streams may be opened: not closed, and no GOAWAY received.
    pub fn is_usable(&self) -> bool {
        !self.shared().goaway.load(Ordering::Relaxed) && !self.is_closed()
    }

    /// Streams open on the connection now.
    pub fn active_streams(&self) -> usize {
        self.shared().lock().conn.active_streams()
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (`None`: not announced, unlimited).
    pub fn max_concurrent_streams(&self) -> Option<u32> {
        self.shared()
            .lock()
            .conn
            .peer_settings()
            .max_concurrent_streams
    }

    /// True if another stream can be opened now without waiting for the peer's
    /// concurrency limit.
    pub fn has_capacity(&self) -> bool {
        let c = self.shared().lock();
        let max = c
            .conn
            .peer_settings()
            .max_concurrent_streams
            .unwrap_or(u32::MAX) as usize;
        c.conn.active_streams() < max
    }

    /// Opens a request stream with `fields` (`:method`, `:scheme`, `:authority`, `:path`
    /// first, then lowercase regular fields). Waits while the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS is reached. With `end_stream` the request has no
    /// body; otherwise send it with [`H2Stream::send_data`].
    pub async fn open_stream<'h, I>(&self, fields: I, end_stream: bool) -> Result<H2Stream, Error>
    where
        I: IntoIterator<Item = (&'h [u8], &'h [u8])> + Clone,
    {
        let shared = self.shared();
        let id = poll_fn(|cx| {
            let mut s = shared.lock();
            let r = s.poll_open(cx, fields.clone(), end_stream);
            if r.is_ready() {
                s.wake_io();
            }
            r
        })
        .await
        .map_err(|e| shared.error(e, ClosedDuring::BeforeResponse))?;
        Ok(H2Stream {
            handle: self.handle.clone(),
            id,
        })
    }

    /// Whether the server allows extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL = 1,
    /// RFC 8441 §3), once its first SETTINGS frame arrived; waits for that frame up to
    /// `timeout` (checking every few milliseconds: only a fresh connection waits at all).
    pub(crate) async fn extended_connect_allowed(&self, timeout: Duration) -> Result<bool, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let s = self.shared().lock();
                if s.conn.peer_settings_received() {
                    return Ok(s.conn.peer_settings().enable_connect_protocol);
                }
            }
            if self.is_closed() {
                return Err(Error::ConnectionClosed(ClosedDuring::BeforeResponse));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    kind: TimeoutKind::Connect,
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Sends a request and collects the whole response.
    pub async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, Error> {
        let (parts, body) = req.into_parts();
        let uri = &parts.uri;
        let scheme = uri.scheme_str().unwrap_or("http");
        let authority = match uri.authority() {
            Some(a) => a.as_str(),
            None => parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| Error::invalid_url(&uri.to_string(), "no authority"))?,
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let method = parts.method.as_str();
        let mut fields: Vec<(&[u8], &[u8])> = Vec::with_capacity(parts.headers.len() + 5);
        fields.extend([
            (&b":method"[..], method.as_bytes()),
            (b":scheme", scheme.as_bytes()),
            (b":authority", authority.as_bytes()),
            (b":path", path.as_bytes()),
        ]);
        for (name, value) in parts.headers.iter() {
            if skip_request_field(name.as_str().as_bytes(), value.as_bytes()) {
                continue;
            }
            fields.push((name.as_str().as_bytes(), value.as_bytes()));
        }
        let len_buf;
        if !body.is_empty() && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
            len_buf = body.len().to_string();
            fields.push((b"content-length", len_buf.as_bytes()));
        }
        let mut stream = self
            .open_stream(fields.iter().copied(), body.is_empty())
            .await?;
        if !body.is_empty() {
            match stream.send_data(&body, true).await {
                // RFC 9113 §8.1: a complete early response, then RST_STREAM NO_ERROR:
                // the response stands (read below).
                Err(Error::Http2Reset(ErrorCode::NoError)) | Ok(()) => {}
                Err(e) => return Err(e),
            }
        }
        let head = stream.response().await?;
        let mut builder = http::Response::builder()
            .status(head.status().unwrap_or(0))
            .version(http::Version::HTTP_2);
        for (n, v) in head.regular() {
            builder = builder.header(n, v);
        }
        stream.recycle(head);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if out.len() + n > self.max_body {
                return Err(Error::BodyTooLarge {
                    limit: self.max_body as u64,
                });
            }
            out.extend_from_slice(&buf[..n]);
        }
        builder
            .body(Bytes::from(out))
            .map_err(|_| Error::MalformedHead)
    }
}

/// One request stream on an [`Http2Client`] connection. Dropping it releases the stream
/// (RST_STREAM CANCEL if the exchange is unfinished).
pub struct H2Stream {
    handle: Arc<Handle>,
    id: StreamId,
}

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Stream").field("id", &self.id).finish()
    }
}

impl H2Stream {
    /// The stream identifier.
    pub fn id(&self) -> u32 {
        self.id.value()
    }

    /// Sends request body bytes (all of `data`, as flow control allows); `end_stream`
    /// ends the request body (an empty `data` with `end_stream` sends an empty DATA
    /// frame with END_STREAM).
    pub async fn send_data(&mut self, data: &[u8], end_stream: bool) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let id = self.id;
        let mut off = 0;
        loop {
            let n = poll_fn(|cx| {
                let mut s = shared.lock();
                let r = s.poll_send(id, cx, &data[off..], end_stream);
                s.wake_io();
                r
            })
            .await
            .map_err(|e| shared.error(e, ClosedDuring::BeforeResponse))?;
            off += n;
            if off >= data.len() {
                return Ok(());
            }
        }
    }

    /// Queues body bytes as flow control allows: `Ready(Ok(n))` with `n` bytes taken
    /// (all of them, and END_STREAM, with `end_stream` and nothing left over).
    pub(crate) fn poll_send_data(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        end_stream: bool,
    ) -> Poll<Result<usize, Error>> {
        let shared = &self.handle.shared;
        let r = {
            let mut s = shared.lock();
            let r = s.poll_send(self.id, cx, data, end_stream);
            s.wake_io();
            r
        };
        r.map_err(|e| shared.error(e, ClosedDuring::Body))
    }

    /// Waits for the final response head (1xx responses are skipped). Give the head back
    /// with [`H2Stream::recycle`] once done with it, to reuse its buffers.
    pub async fn response(&mut self) -> Result<RequestHead, Error> {
        let shared = &self.handle.shared;
        let id = self.id;
        poll_fn(|cx| shared.lock().poll_response(id, cx))
            .await
            .map_err(|e| shared.error(e, ClosedDuring::BeforeResponse))
    }

    /// Reads response body bytes into `buf`; `Ready(Ok(0))` at the end of the body.
    pub fn poll_read(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        let shared = &self.handle.shared;
        let r = {
            let mut s = shared.lock();
            let r = s.poll_read(self.id, cx, buf);
            if r.is_ready() {
                // Consumed bytes may have queued a WINDOW_UPDATE.
                s.wake_io();
            }
            r
        };
        r.map_err(|e| shared.error(e, ClosedDuring::Body))
    }

    /// Reads response body bytes into `buf`; `Ok(0)` at the end of the body.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Response body bytes received and not yet read.
    pub fn buffered(&self) -> usize {
        self.handle.shared.lock().conn.buffered(self.id)
    }

    /// The response trailer section, if the server sent one (available once
    /// [`H2Stream::read`] returned 0).
    pub fn take_trailers(&mut self) -> Option<RequestHead> {
        self.handle.shared.lock().conn.take_trailers(self.id)
    }

    /// Gives a head's buffers back to the connection for reuse.
    pub fn recycle(&self, head: RequestHead) {
        self.handle.shared.lock().conn.recycle_head(head);
    }
}

impl Drop for H2Stream {
    fn drop(&mut self) {
        let mut s = self.handle.shared.lock();
        s.release(self.id);
        s.wake_io();
    }
}

async fn drive<IO>(mut io: IO, shared: Arc<Shared>) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let (read_size, keep_alive_timeout, settings_timeout) = {
        let s = shared.lock();
        let c = s.conn.config();
        (c.read_buffer_size, c.keep_alive_timeout, c.settings_timeout)
    };
    let mut rbuf = h2_io::read_buffer(&[], read_size);
    let mut side = ClientSide {
        shared: &shared,
        keep_alive_timeout,
        settings_timeout,
    };
    let result = h2_io::run(
        &mut io,
        &mut side,
        &mut rbuf,
        0,
        read_size,
        Options::client(),
    )
    .await;
    shared.closed.store(true, Ordering::Relaxed);
    let mut s = shared.lock();
    s.conn.peer_closed();
    while s.next_event().is_some() {}
    // Every waiting request fails now (the connection is gone).
    s.wake_all();
    result
}

/// The client's part of the socket loop: request tasks wake the I/O task, a GOAWAY makes
/// the connection unusable for new requests, and a timer that closed the connection is
/// remembered so that requests fail with that timeout.
struct ClientSide<'a> {
    shared: &'a Shared,
    keep_alive_timeout: Duration,
    settings_timeout: Duration,
}

impl Side for ClientSide<'_> {
    fn state<R>(&mut self, f: impl FnOnce(&mut H2State) -> R) -> R {
        f(&mut self.shared.lock())
    }

    fn begin(&mut self, cx: &mut Context<'_>) -> bool {
        self.shared.lock().set_io(cx);
        false
    }

    fn event(&mut self, ev: Event) {
        if let Event::GoAway { .. } = ev {
            self.shared.goaway.store(true, Ordering::Relaxed);
        }
    }

    fn timed_out(&mut self, e: ConnectionError) {
        // RFC 9113 §6.5.3 (SETTINGS ACK), §6.7 (PING).
        let kind = if e.code == ErrorCode::SettingsTimeout {
            (TimeoutKind::Settings, self.settings_timeout)
        } else {
            (TimeoutKind::KeepAlive, self.keep_alive_timeout)
        };
        *self
            .shared
            .timed_out
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(kind);
    }
}
