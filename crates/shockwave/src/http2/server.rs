//! The tokio driver: one [`ServerConnection`] per socket, one future per stream, all
//! polled by the connection's task (no spawning, no `Send` needed: handler futures may
//! hold the request arena across `.await`s, as on HTTP/1.1).

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::{self, Read as _, Seek as _};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use futures_util::future::select;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, StreamExt as _};
use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaPool};
use shockwave_http11::DateCache;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use super::engine::{Event, ServerConnection, StreamError};
use super::Http2Config;
use crate::server::fields::{field_valid, skipped, status_bytes};
use crate::server::stats::{inc, WorkerCounters};
use crate::server::{
    Body, BodyError, BodySource, Handler, Headers, Request, RequestContext, RequestParts, Response,
    ResponseBody, Scheme,
};

/// What one HTTP/2 connection needs from its server: the handler, the worker's arena pool
/// and settings. Build it with [`ServeContext::new`] and adjust the public fields.
pub struct ServeContext<'c, H> {
    /// The request handler (the same as for HTTP/1.1).
    pub handler: &'c H,
    /// The worker's arena pool: one arena per stream.
    pub pool: &'c ArenaPool,
    /// HTTP/2 settings and limits.
    pub config: Http2Config,
    /// Largest request body a handler may read. Default 16 MiB.
    pub max_body_size: u64,
    /// The connection's scheme, when the request does not say (`:scheme` wins).
    pub scheme: Scheme,
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
    /// Where the `date` field comes from (e.g. the worker's cached value, see
    /// [`cached_date`]); `None` sends no `date` field.
    pub date: Option<&'c dyn Fn() -> [u8; 29]>,
    /// When it turns true: GOAWAY, finish the open streams, close.
    pub shutdown: Option<watch::Receiver<bool>>,
    pub(crate) counters: Option<&'c WorkerCounters>,
}

impl<'c, H> ServeContext<'c, H> {
    /// A context with the default [`Http2Config`].
    pub fn new(handler: &'c H, pool: &'c ArenaPool) -> Self {
        ServeContext {
            handler,
            pool,
            config: Http2Config::default(),
            max_body_size: 16 * 1024 * 1024,
            scheme: Scheme::Http,
            remote_addr: None,
            date: None,
            shutdown: None,
            counters: None,
        }
    }

    pub(crate) fn with_counters(mut self, counters: &'c WorkerCounters) -> Self {
        self.counters = Some(counters);
        self
    }
}

/// Reads a [`DateCache`] (refreshed at most once per second): a source for
/// [`ServeContext::date`].
pub fn cached_date(cache: &RefCell<DateCache>) -> [u8; 29] {
    let mut out = [0u8; 29];
    let mut c = cache.borrow_mut();
    let v = c.header_value();
    let n = v.len().min(29);
    out[..n].copy_from_slice(&v[..n]);
    out
}

/// Waits for the first bytes of a cleartext connection and tells whether they are the
/// HTTP/2 client preface (h2c with prior knowledge, RFC 9113 §3.3). Only peeks: nothing is
/// consumed. `false` on timeout, EOF or any other first bytes.
pub async fn sniff_preface(stream: &tokio::net::TcpStream, timeout: std::time::Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 24];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => return false,
        };
        if n == 0 || !super::is_preface_prefix(&buf[..n]) {
            return false;
        }
        if n == buf.len() {
            return true;
        }
        // Part of the preface so far: wait briefly for the rest (peek does not block
        // while bytes are available).
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// The server's hook: serves an HTTP/2 connection with a worker's handler, arena pool,
/// counters, shutdown signal and cached date.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve_worker_conn<IO, H>(
    io: IO,
    handler: &H,
    pool: &ArenaPool,
    counters: &WorkerCounters,
    shutdown: watch::Receiver<bool>,
    config: &crate::server::ServerConfig,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    date: &dyn Fn() -> [u8; 29],
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut cx = ServeContext::new(handler, pool).with_counters(counters);
    cx.max_body_size = config.limits.max_body_size;
    cx.config.idle_timeout = config.timeouts.idle;
    cx.scheme = scheme;
    cx.remote_addr = remote;
    cx.shutdown = Some(shutdown);
    cx.date = Some(date);
    if let Err(e) = serve_connection(io, cx, &[]).await {
        tracing::debug!(?remote, error = %e, "HTTP/2 connection error");
    }
}

/// The server's `Upgrade: h2c` hook (RFC 7540 §3.2): if `req` asks for h2c with a valid
/// `HTTP2-Settings` and has no body, writes `101 Switching Protocols`, serves the request
/// as stream 1 and the rest of the connection as HTTP/2, and returns `true`. Otherwise
/// returns `false` without touching `io` (serve the request as HTTP/1.1).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn upgrade_worker_conn<IO, H>(
    io: &mut IO,
    req: &shockwave_http11::Request<'_>,
    already_read: &[u8],
    handler: &H,
    pool: &ArenaPool,
    counters: &WorkerCounters,
    shutdown: watch::Receiver<bool>,
    config: &crate::server::ServerConfig,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    date: &dyn Fn() -> [u8; 29],
) -> bool
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let Some((settings, head)) = upgrade_request(req) else {
        return false;
    };
    if io
        .write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n",
        )
        .await
        .is_err()
    {
        return true;
    }
    // The upgraded request was counted by HTTP/1.1; the HTTP/2 driver counts it again.
    crate::server::stats::dec(&counters.requests);
    let mut cx = ServeContext::new(handler, pool).with_counters(counters);
    cx.max_body_size = config.limits.max_body_size;
    cx.config.idle_timeout = config.timeouts.idle;
    cx.scheme = scheme;
    cx.remote_addr = remote;
    cx.shutdown = Some(shutdown);
    cx.date = Some(date);
    let engine = RefCell::new(ServerConnection::new(cx.config.clone()));
    engine.borrow_mut().upgrade(&settings, head);
    if let Err(e) = drive(io, &cx, &engine, already_read).await {
        tracing::debug!(?remote, error = %e, "HTTP/2 (upgraded) connection error");
    }
    true
}

/// The settings and head of an `Upgrade: h2c` request that can be upgraded: no body, a
/// decodable `HTTP2-Settings`, a valid head once translated (RFC 9113 §8.3.1).
pub(crate) fn upgrade_request(
    req: &shockwave_http11::Request<'_>,
) -> Option<(shockwave_http2_frames::Settings, super::RequestHead)> {
    if !req.is_h2c_upgrade()
        || !matches!(
            req.framing(),
            shockwave_http11::BodyFraming::Empty | shockwave_http11::BodyFraming::Length(0)
        )
    {
        return None;
    }
    let mut payload = Vec::new();
    base64url_decode(req.http2_settings()?, &mut payload)?;
    let settings = shockwave_http2_frames::Settings::from_payload(&payload).ok()?;
    let mut head = super::RequestHead::default();
    head.push(b":method", req.method().as_str().as_bytes());
    head.push(b":scheme", b"http");
    if let Some(host) = req.host() {
        head.push(b":authority", host);
    }
    head.push(b":path", req.target().as_bytes());
    for (name, value) in req.headers().iter() {
        const HOP: [&[u8]; 7] = [
            b"connection",
            b"upgrade",
            b"http2-settings",
            b"host",
            b"keep-alive",
            b"transfer-encoding",
            b"proxy-connection",
        ];
        if HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) || name.eq_ignore_ascii_case(b"te") {
            continue;
        }
        let lower: Vec<u8> = name.to_ascii_lowercase();
        head.push(&lower, value);
    }
    head.validate_request().ok()?;
    head.end_stream = true;
    Some((settings, head))
}

/// Decodes base64url without padding (RFC 4648 §5), as `HTTP2-Settings` uses.
fn base64url_decode(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(())
}

/// Serves one HTTP/2 connection until it closes. `already_read` holds bytes read from the
/// socket before the driver took over (e.g. the preface that made the server pick h2c);
/// they are processed first. Returns when the peer closes, after a connection error (a
/// GOAWAY was sent), after a graceful shutdown, or on an I/O error.
pub async fn serve_connection<IO, H>(
    io: IO,
    cx: ServeContext<'_, H>,
    already_read: &[u8],
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut io = io;
    let engine = RefCell::new(ServerConnection::new(cx.config.clone()));
    drive(&mut io, &cx, &engine, already_read).await
}

async fn drive<IO, H>(
    io: &mut IO,
    cx: &ServeContext<'_, H>,
    engine: &RefCell<ServerConnection>,
    already_read: &[u8],
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let cfg = engine.borrow().config().clone();
    let mut rbuf = vec![0u8; cfg.read_buffer_size.max(already_read.len())];
    rbuf[..already_read.len()].copy_from_slice(already_read);
    let (mut start, mut end) = (0usize, already_read.len());
    let mut futs = FuturesUnordered::new();
    let mut read_closed = false;
    let mut need_flush = false;
    let mut shutdown_seen = false;
    let mut shutdown = cx.shutdown.clone();
    let mut shutdown_fut = pin!(async move {
        match shutdown.as_mut() {
            Some(rx) => {
                let _ = rx.wait_for(|stop| *stop).await;
            }
            None => std::future::pending::<()>().await,
        }
    });
    let idle = tokio::time::sleep(cfg.idle_timeout);
    let mut idle = pin!(idle);
    let mut settings_deadline = pin!(tokio::time::sleep(cfg.settings_timeout));
    let mut settings_checked = false;

    let result = poll_fn(|tcx| loop {
        let mut progress = false;
        if !shutdown_seen && shutdown_fut.as_mut().poll(tcx).is_ready() {
            shutdown_seen = true;
            engine.borrow_mut().go_away();
            progress = true;
        }
        if idle.as_mut().poll(tcx).is_ready() {
            let mut e = engine.borrow_mut();
            if e.active_streams() == 0 {
                e.go_away();
            }
            drop(e);
            idle.as_mut().reset(Instant::now() + cfg.idle_timeout);
            progress = true;
        }
        if !settings_checked && settings_deadline.as_mut().poll(tcx).is_ready() {
            settings_checked = true;
            let mut e = engine.borrow_mut();
            if !e.settings_acked() && e.error().is_none() {
                e.settings_timeout();
            }
            progress = true;
        }
        // Input already buffered (after backpressure, or read before we took over).
        if start < end && engine.borrow().wants_read() {
            let r = engine.borrow_mut().recv(&rbuf[start..end]);
            if let Ok(n) = r {
                if n > 0 {
                    progress = true;
                }
                start += n;
            }
            if start == end {
                start = 0;
                end = 0;
            }
            loop {
                let ev = engine.borrow_mut().poll_event();
                match ev {
                    Some(Event::Request { stream_id }) => {
                        if let Some(c) = cx.counters {
                            inc(&c.requests);
                        }
                        futs.push(run_stream(engine, stream_id, cx));
                        progress = true;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }
        while let Poll::Ready(Some(())) = futs.poll_next_unpin(tcx) {
            progress = true;
        }
        // Write everything queued, in as few writes as the socket takes.
        loop {
            let e = engine.borrow();
            let out = e.pending_output();
            if out.is_empty() {
                break;
            }
            match Pin::new(&mut *io).poll_write(tcx, out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    drop(e);
                    engine.borrow_mut().advance_output(n);
                    need_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => break,
            }
        }
        if need_flush && engine.borrow().pending_output().is_empty() {
            match Pin::new(&mut *io).poll_flush(tcx) {
                Poll::Ready(Ok(())) => need_flush = false,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => {}
            }
        }
        {
            let e = engine.borrow();
            let flushed = e.pending_output().is_empty() && !need_flush;
            if flushed && futs.is_empty() && (e.is_done() || read_closed) {
                return Poll::Ready(Ok(()));
            }
        }
        if !read_closed && engine.borrow().wants_read() {
            if end == rbuf.len() && start > 0 {
                rbuf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if end < rbuf.len() {
                let mut rb = ReadBuf::new(&mut rbuf[end..]);
                match Pin::new(&mut *io).poll_read(tcx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        progress = true;
                        if n == 0 {
                            read_closed = true;
                            engine.borrow_mut().peer_closed();
                        } else {
                            end += n;
                            idle.as_mut().reset(Instant::now() + cfg.idle_timeout);
                        }
                    }
                    Poll::Ready(Err(err)) => {
                        engine.borrow_mut().peer_closed();
                        return Poll::Ready(Err(err));
                    }
                    Poll::Pending => {}
                }
            }
        }
        if !progress {
            return Poll::Pending;
        }
    })
    .await;
    drop(futs);
    if result.is_ok() {
        linger_close(io, &mut rbuf).await;
    }
    result
}

/// Shuts down our side, then drains what the peer still sends for a moment, so that a
/// final GOAWAY is not destroyed by a TCP RST.
async fn linger_close<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO, scratch: &mut [u8]) {
    let deadline = Instant::now() + std::time::Duration::from_millis(500);
    if tokio::time::timeout_at(deadline, io.shutdown())
        .await
        .is_err()
    {
        return;
    }
    let mut budget = 256 * 1024usize;
    while budget > 0 {
        match tokio::time::timeout_at(deadline, io.read(scratch)).await {
            Ok(Ok(n)) if n > 0 => budget = budget.saturating_sub(n),
            _ => return,
        }
    }
}

/// A request body read from the stream's DATA frames.
struct H2Body<'e> {
    engine: &'e RefCell<ServerConnection>,
    id: u32,
    content_length: Option<u64>,
    end: bool,
}

impl BodySource for H2Body<'_> {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, BodyError>> {
        if self.end || buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match self
            .engine
            .borrow_mut()
            .poll_read_data(self.id, cx.waker(), buf)
        {
            Poll::Ready(Ok(0)) => {
                self.end = true;
                Poll::Ready(Ok(0))
            }
            Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(BodyError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    fn is_end(&self) -> bool {
        self.end
    }
}

/// One stream: build the request in an arena, call the handler, send the response.
/// Cancelled (the handler future dropped) as soon as the stream is reset.
async fn run_stream<H: Handler>(
    engine: &RefCell<ServerConnection>,
    id: u32,
    cx: &ServeContext<'_, H>,
) {
    let work = serve_stream(engine, id, cx);
    let reset = poll_fn(|tcx| engine.borrow_mut().poll_reset(id, tcx.waker()));
    let _ = select(pin!(work), pin!(reset)).await;
    engine.borrow_mut().release(id);
}

async fn serve_stream<H: Handler>(
    engine: &RefCell<ServerConnection>,
    id: u32,
    cx: &ServeContext<'_, H>,
) {
    let Some(head) = engine.borrow_mut().take_head(id) else {
        return;
    };
    let arena = cx.pool.get();
    let copied = head.copy_into(&arena);
    let end_stream = head.end_stream();
    let content_length = head.content_length();
    engine.borrow_mut().recycle_head(head);
    let Ok(ah) = copied else {
        let _ = simple_response(engine, id, cx, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        return;
    };
    let list = ah.headers;
    let method = Method::from_bytes(ah.method).ok();
    let target = ah.path.and_then(|p| std::str::from_utf8(p).ok());
    let (Some(method), Some(target)) = (method, target) else {
        let _ = simple_response(engine, id, cx, StatusCode::BAD_REQUEST);
        return;
    };
    let authority = ah
        .authority
        .or_else(|| list.get(b"host"))
        .and_then(|a| std::str::from_utf8(a).ok());
    let scheme = match ah.scheme {
        Some(b"https") => Scheme::Https,
        Some(_) => Scheme::Http,
        None => cx.scheme,
    };
    let is_head = method == Method::HEAD;
    let request = Request::from_parts(RequestParts {
        method,
        target,
        authority,
        scheme,
        version: Version::HTTP_2,
        headers: Headers::from_list(&list),
        remote_addr: cx.remote_addr,
    });
    let mut source = H2Body {
        engine,
        id,
        content_length,
        end: end_stream,
    };
    let body = if end_stream {
        Body::empty(&arena)
    } else {
        Body::new(&mut source, &arena, cx.max_body_size)
    };
    let rcx = RequestContext::new(request, &arena, body);
    let response = match AssertUnwindSafe(cx.handler.call(rcx)).catch_unwind().await {
        Ok(r) => r,
        Err(_) => {
            if let Some(c) = cx.counters {
                inc(&c.handler_panics);
            }
            tracing::error!(stream = id, "handler panicked; answering 500");
            Response::new(StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    let _ = send_response(engine, id, cx, &arena, response, is_head).await;
}

fn simple_response<H>(
    engine: &RefCell<ServerConnection>,
    id: u32,
    cx: &ServeContext<'_, H>,
    status: StatusCode,
) -> Result<(), StreamError> {
    if let Some(c) = cx.counters {
        c.response(status.as_u16());
    }
    let code = status_bytes(status);
    let fields: [(&[u8], &[u8]); 2] = [(b":status", &code), (b"content-length", b"0")];
    engine.borrow_mut().send_headers(id, fields, true)
}

async fn send_response<'a, H>(
    engine: &RefCell<ServerConnection>,
    id: u32,
    cx: &ServeContext<'_, H>,
    arena: &'a Arena,
    mut response: Response<'a>,
    is_head: bool,
) -> Result<(), StreamError> {
    if response.overflow
        || response.status().as_u16() < 200
        || !response.header_fields().all(|(n, v)| field_valid(n, v))
    {
        tracing::error!("invalid response from handler (header fields or status); answering 500");
        response = Response::new(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let status = response.status();
    if let Some(c) = cx.counters {
        c.response(status.as_u16());
    }
    let body = response.take_body();
    let no_body = is_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let length = body.len();
    let code = status_bytes(status);
    let mut len_buf = [0u8; 20];
    let len_str: Option<&[u8]> = match length {
        Some(n) if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED => {
            Some(format_u64(n, &mut len_buf))
        }
        _ => None,
    };
    let mut date_buf = [0u8; 29];
    let date: Option<&[u8]> = cx.date.map(|d| {
        date_buf = d();
        &date_buf[..]
    });
    {
        let count = response.header_fields().count() + 3;
        let mut fields = shockwave_arena::Vec::new_in(arena.bump());
        if fields.try_reserve_exact(count).is_err() {
            return simple_response(engine, id, cx, StatusCode::INTERNAL_SERVER_ERROR);
        }
        fields.push((&b":status"[..], &code[..]));
        for (name, value) in response.header_fields() {
            if skipped(name) {
                continue;
            }
            let name: &[u8] = if name.iter().any(u8::is_ascii_uppercase) {
                match arena.alloc_bytes(name) {
                    Ok(n) => {
                        n.make_ascii_lowercase();
                        n
                    }
                    Err(_) => {
                        return simple_response(engine, id, cx, StatusCode::INTERNAL_SERVER_ERROR)
                    }
                }
            } else {
                name
            };
            fields.push((name, value));
        }
        if let Some(l) = len_str {
            fields.push((&b"content-length"[..], l));
        }
        if let Some(d) = date {
            fields.push((&b"date"[..], d));
        }
        let end = no_body || length == Some(0);
        engine
            .borrow_mut()
            .send_headers(id, fields.iter().copied(), end)?;
        if end {
            return Ok(());
        }
    }
    match body {
        ResponseBody::Empty => send_all(engine, id, &[], true).await,
        ResponseBody::Slice(s) => send_all(engine, id, s, true).await,
        ResponseBody::Bytes(b) => send_all(engine, id, &b, true).await,
        ResponseBody::File(mut f) => {
            let chunk = match arena.alloc_zeroed(16 * 1024) {
                Ok(c) => c,
                Err(_) => {
                    engine
                        .borrow_mut()
                        .reset(id, shockwave_http2_frames::ErrorCode::InternalError);
                    return Ok(());
                }
            };
            let mut left = f.len;
            if f.file.seek(io::SeekFrom::Start(f.offset)).is_err() {
                engine
                    .borrow_mut()
                    .reset(id, shockwave_http2_frames::ErrorCode::InternalError);
                return Ok(());
            }
            while left > 0 {
                let want = chunk.len().min(left as usize);
                let n = match f.file.read(&mut chunk[..want]) {
                    Ok(0) | Err(_) => {
                        engine
                            .borrow_mut()
                            .reset(id, shockwave_http2_frames::ErrorCode::InternalError);
                        return Ok(());
                    }
                    Ok(n) => n,
                };
                left -= n as u64;
                send_all(engine, id, &chunk[..n], left == 0).await?;
            }
            Ok(())
        }
        ResponseBody::Stream(mut s) => {
            while let Some(item) = s.next().await {
                match item {
                    Ok(chunk) => {
                        if !chunk.is_empty() {
                            send_all(engine, id, &chunk, false).await?;
                        }
                    }
                    Err(_) => {
                        engine
                            .borrow_mut()
                            .reset(id, shockwave_http2_frames::ErrorCode::InternalError);
                        return Ok(());
                    }
                }
            }
            send_all(engine, id, &[], true).await
        }
    }
}

async fn send_all(
    engine: &RefCell<ServerConnection>,
    id: u32,
    data: &[u8],
    end_stream: bool,
) -> Result<(), StreamError> {
    let mut off = 0;
    loop {
        let n = poll_fn(|tcx| {
            engine
                .borrow_mut()
                .poll_send_data(id, tcx.waker(), &data[off..], end_stream)
        })
        .await?;
        off += n;
        if off >= data.len() {
            return Ok(());
        }
    }
}

fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2c_upgrade_request_translates() {
        let arena = shockwave_arena::Arena::new();
        // HTTP2-Settings: SETTINGS_INITIAL_WINDOW_SIZE = 1000 (0x0004, 0x000003e8).
        let raw = b"GET /x?y HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAQAAAPo\r\nAccept: */*\r\n\r\n";
        let limits = shockwave_http11::Limits::default();
        let (req, _) = match shockwave_http11::parse_request(raw, &arena, &limits).unwrap() {
            shockwave_http11::Status::Complete(x) => x,
            shockwave_http11::Status::Partial => panic!("partial"),
        };
        let (settings, head) = upgrade_request(&req).expect("upgradable");
        assert_eq!(settings.initial_window_size, 1000);
        assert_eq!(head.method(), Some(&b"GET"[..]));
        assert_eq!(head.path(), Some(&b"/x?y"[..]));
        assert_eq!(head.authority(), Some(&b"a.test"[..]));
        let names: Vec<&[u8]> = head.regular().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"accept"[..]]);
        let mut out = Vec::new();
        base64url_decode(b"AAQAAAPo", &mut out).unwrap();
        assert_eq!(out, [0, 4, 0, 0, 3, 0xe8]);
    }
}
