//! The HTTP/1.1 connection driver (RFC 9112): reads into a reused buffer, parses with
//! `shockwave-http11`, calls the handler, batches pipelined responses into one write.

use std::cell::Cell;
use std::io::{self, Read as _, Seek as _};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{FutureExt as _, StreamExt as _};
use http::{StatusCode, Version};
use shockwave_arena::Arena;
use shockwave_http11 as h11;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::body::{Body, BodyError, BodySource};
use super::config::Alloc;
use super::handler::Handler;
use super::request::{Headers, Request, RequestContext, RequestParts, Scheme};
use super::response::{BodyStream, FileBody, Response, ResponseBody};
use super::stats::inc;
use super::worker::WorkerState;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a connection ended early (only logged at debug level).
#[derive(Debug)]
enum Close {
    Io(io::Error),
    Timeout,
}

impl From<io::Error> for Close {
    fn from(e: io::Error) -> Self {
        Close::Io(e)
    }
}

/// What must be sent after the head once the request's borrows have ended.
enum Deferred {
    None,
    Bytes(Bytes),
    File(FileBody),
    Stream { stream: BodyStream, chunked: bool },
}

/// Shared between the body source and the response path.
#[derive(Default)]
struct BodyState {
    done: Cell<bool>,
    error: Cell<Option<StatusCode>>,
}

/// Serves one connection until it closes, times out, or the server shuts down.
pub(crate) async fn serve<IO, H>(
    io: IO,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut conn = Conn {
        io,
        rbuf: st.take_buffer(),
        wbuf: st.take_buffer(),
        head: Vec::new(),
        heap: h11::HeapHeaders::new(),
        start: 0,
        end: 0,
    };
    let read_size = st.config.read_buffer_size.max(1024);
    conn.rbuf.resize(read_size, 0);
    let sleep = tokio::time::sleep(std::time::Duration::ZERO);
    tokio::pin!(sleep);
    match run(&mut conn, st, scheme, remote, sleep.as_mut()).await {
        Ok(()) => {}
        Err(Close::Timeout) => {
            inc(&st.counters.timeouts);
            tracing::debug!(?remote, "connection timed out");
        }
        Err(Close::Io(e)) => tracing::debug!(?remote, error = %e, "connection error"),
    }
    st.return_buffer(std::mem::take(&mut conn.rbuf));
    st.return_buffer(std::mem::take(&mut conn.wbuf));
}

struct Conn<IO> {
    io: IO,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Heap strategy: a copy of the head of a request with a body.
    head: Vec<u8>,
    heap: h11::HeapHeaders,
    start: usize,
    end: usize,
}

async fn run<IO, H>(
    c: &mut Conn<IO>,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    mut sleep: Pin<&mut Sleep>,
) -> Result<(), Close>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let cfg = &st.config;
    let limits = &st.h11_limits;
    let max_buffer = cfg.limits.max_header_bytes + cfg.limits.max_request_line + 1024;
    let mut head_deadline: Option<Instant> = None;
    let mut must_parse = false;
    loop {
        if c.start == c.end {
            // Nothing buffered: send the batch, then wait for the next request.
            c.start = 0;
            c.end = 0;
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            if st.stopping() {
                return Ok(());
            }
            sleep.as_mut().reset(st.now() + cfg.timeouts.idle);
            let n = tokio::select! {
                biased;
                r = c.io.read(&mut c.rbuf[..]) => r?,
                _ = &mut sleep => return Err(Close::Timeout),
                _ = st.stop_signal() => return Ok(()),
            };
            if n == 0 {
                return Ok(());
            }
            c.end = n;
            must_parse = true;
            head_deadline = None;
        }
        // RFC 9112 §2.2: ignore empty lines before the request line.
        while c.end - c.start >= 2 && &c.rbuf[c.start..c.start + 2] == b"\r\n" {
            c.start += 2;
        }
        if c.start == c.end {
            continue;
        }
        if !must_parse {
            // Partial head: read more (within the header-read deadline).
            if c.end == c.rbuf.len() {
                if c.start > 0 {
                    c.rbuf.copy_within(c.start..c.end, 0);
                    c.end -= c.start;
                    c.start = 0;
                } else if c.rbuf.len() < max_buffer {
                    let len = (c.rbuf.len() * 2).min(max_buffer);
                    c.rbuf.resize(len, 0);
                } else {
                    let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
                    return reject(c, st, status, sleep).await;
                }
            }
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            let deadline =
                *head_deadline.get_or_insert_with(|| st.now() + cfg.timeouts.header_read);
            sleep.as_mut().reset(deadline);
            let prev = c.end;
            let n = tokio::select! {
                biased;
                r = c.io.read(&mut c.rbuf[prev..]) => r?,
                _ = &mut sleep => {
                    inc(&st.counters.timeouts);
                    return reject(c, st, StatusCode::REQUEST_TIMEOUT, sleep).await;
                }
            };
            if n == 0 {
                return Ok(());
            }
            c.end += n;
            let len = c.end - c.start;
            must_parse = memchr::memchr(b'\n', &c.rbuf[prev..c.end]).is_some()
                || len >= cfg.limits.max_request_line
                || c.end == c.rbuf.len();
            continue;
        }
        must_parse = false;

        // Parse one request head.
        let arena = st.pool.get();
        let (req, n) = match match cfg.alloc {
            Alloc::Arena => h11::parse_request(&c.rbuf[c.start..c.end], &arena, limits),
            Alloc::Heap => h11::parse_request_heap(&c.rbuf[c.start..c.end], &mut c.heap, limits),
        } {
            Ok(h11::Status::Complete(x)) => x,
            other => {
                let err = other.err();
                drop(arena);
                let Some(e) = err else { continue };
                inc(&st.counters.requests);
                tracing::debug!(?remote, error = %e, "bad request");
                return reject(c, st, e.status_code(), sleep).await;
            }
        };
        inc(&st.counters.requests);
        head_deadline = None;
        let framing = req.framing();
        if req.is_h2c_upgrade() && !st.stopping() {
            // `Upgrade: h2c` (RFC 7540 §3.2): the request becomes stream 1 of HTTP/2.
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            let rest = &c.rbuf[c.start + n..c.end];
            if crate::http2::upgrade_for_worker!(&mut c.io, &req, rest, st, scheme, remote) {
                return Ok(());
            }
        }
        let shutting_down = st.stopping();
        let (keep_alive, deferred) = match framing {
            h11::BodyFraming::Empty | h11::BodyFraming::Length(0) => {
                let state = BodyState::default();
                state.done.set(true);
                let body = Body::empty(&arena);
                let out = respond(
                    st,
                    &req,
                    &arena,
                    body,
                    &state,
                    &mut c.wbuf,
                    scheme,
                    remote,
                    shutting_down,
                )
                .await;
                drop(req);
                c.start += n;
                out
            }
            _ => {
                let expect_continue = req.expect_continue();
                drop(req);
                if let h11::BodyFraming::Length(len) = framing {
                    if len > cfg.limits.max_body_size {
                        drop(arena);
                        return reject(c, st, StatusCode::PAYLOAD_TOO_LARGE, sleep).await;
                    }
                }
                // Earlier pipelined responses go out first (and before any 100 Continue).
                flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
                // The head is copied so that the body reader can reuse the read buffer.
                let reparsed = match cfg.alloc {
                    Alloc::Arena => match arena.alloc_bytes(&c.rbuf[c.start..c.start + n]) {
                        Ok(head) => h11::parse_request(head, &arena, limits),
                        Err(e) => Err(h11::Error::Arena(e)),
                    },
                    Alloc::Heap => {
                        c.head.clear();
                        c.head.extend_from_slice(&c.rbuf[c.start..c.start + n]);
                        h11::parse_request_heap(&c.head, &mut c.heap, limits)
                    }
                };
                let req = match reparsed {
                    Ok(h11::Status::Complete((req, _))) => req,
                    other => {
                        let status = other
                            .err()
                            .map_or(StatusCode::BAD_REQUEST, |e| e.status_code());
                        return reject(c, st, status, sleep).await;
                    }
                };
                c.start += n;
                let state = BodyState::default();
                let mut source = H1Body {
                    io: &mut c.io,
                    rbuf: &mut c.rbuf,
                    start: &mut c.start,
                    end: &mut c.end,
                    decoder: h11::BodyDecoder::new(framing, limits),
                    content_length: match framing {
                        h11::BodyFraming::Length(len) => Some(len),
                        _ => None,
                    },
                    received: 0,
                    limit: cfg.limits.max_body_size,
                    pending: (0, 0),
                    continue_sent: if expect_continue && req.version() == Version::HTTP_11 {
                        Some(0)
                    } else {
                        None
                    },
                    state: &state,
                    sleep: sleep.as_mut(),
                    timeout: cfg.timeouts.write,
                    waiting: false,
                };
                let body = Body::new(&mut source, &arena, cfg.limits.max_body_size);
                respond(
                    st,
                    &req,
                    &arena,
                    body,
                    &state,
                    &mut c.wbuf,
                    scheme,
                    remote,
                    shutting_down,
                )
                .await
            }
        };
        drop(arena);
        let mut keep_alive = keep_alive;
        match deferred {
            Deferred::None => {}
            other => {
                flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
                if !send_deferred(&mut c.io, &mut c.wbuf, other, st, sleep.as_mut()).await? {
                    keep_alive = false;
                }
            }
        }
        if !keep_alive {
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            linger_close(&mut c.io, &mut c.rbuf, sleep).await;
            return Ok(());
        }
        if c.wbuf.len() >= cfg.limits.write_batch_bytes {
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
        }
        // Pipelined bytes already buffered: parse them right away.
        must_parse = c.start < c.end;
    }
}

/// Calls the handler for one request and serializes its response head (and in-memory
/// body) into `wbuf`. Returns whether the connection may stay open, and what remains to
/// be sent once the request's borrows have ended.
#[allow(clippy::too_many_arguments)]
async fn respond<'r, H: Handler>(
    st: &'r WorkerState<H>,
    req: &'r h11::Request<'r>,
    arena: &'r Arena,
    body: Body<'r>,
    body_state: &BodyState,
    wbuf: &mut Vec<u8>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    shutting_down: bool,
) -> (bool, Deferred) {
    let request = Request::from_parts(RequestParts {
        method: req.method().clone(),
        target: req.target(),
        authority: req.host().and_then(|h| std::str::from_utf8(h).ok()),
        scheme,
        version: req.version(),
        headers: Headers::from_h1(req.headers()),
        remote_addr: remote,
    });
    let is_head = req.method() == http::Method::HEAD;
    let http10 = req.version() == Version::HTTP_10;
    let cx = RequestContext::new(request, arena, body);
    let result = AssertUnwindSafe(st.handler.call(cx)).catch_unwind().await;
    // Requests that were in flight when a shutdown began are answered, then the
    // connection closes.
    let shutting_down = shutting_down || st.stopping();
    let mut keep_alive = req.keep_alive() && !shutting_down && body_state.done.get();
    let mut response = match result {
        Ok(r) => r,
        Err(_) => {
            inc(&st.counters.handler_panics);
            tracing::error!(path = req.path(), "handler panicked; answering 500");
            keep_alive = false;
            Response::new(StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    if let Some(status) = body_state.error.get() {
        // The body could not be read (too large, malformed): that is the answer.
        keep_alive = false;
        response = Response::new(status);
    }
    if response.overflow || response.status.as_u16() < 200 || !fields_valid(&response) {
        tracing::error!("invalid response from handler (header fields or status); answering 500");
        response = Response::new(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if response
        .header_fields()
        .any(|(n, v)| n.eq_ignore_ascii_case(b"connection") && has_token(v, b"close"))
    {
        keep_alive = false;
    }
    let status = response.status;
    st.counters.response(status.as_u16());
    let no_body = is_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let body = response.take_body();
    let length = body.len();
    let chunked = length.is_none() && !http10;
    if length.is_none() && http10 {
        keep_alive = false; // close-delimited for HTTP/1.0 clients
    }
    // RFC 9110 §8.6: no Content-Length in a 204; in a 304 it would have to be the
    // 200's length, which is not known here, so it is omitted too.
    let length = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        None
    } else {
        length
    };
    let date = st.date();
    write_head(
        wbuf,
        status,
        &response,
        length,
        chunked && !no_body,
        keep_alive,
        http10,
        &date,
    );
    if no_body {
        return (keep_alive, Deferred::None);
    }
    let deferred = match body {
        ResponseBody::Empty => Deferred::None,
        ResponseBody::Slice(s) => {
            wbuf.extend_from_slice(s);
            Deferred::None
        }
        ResponseBody::Bytes(b) if b.len() <= 16 * 1024 => {
            wbuf.extend_from_slice(&b);
            Deferred::None
        }
        ResponseBody::Bytes(b) => Deferred::Bytes(b),
        ResponseBody::File(f) => Deferred::File(f),
        ResponseBody::Stream(s) => Deferred::Stream { stream: s, chunked },
    };
    (keep_alive, deferred)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// RFC 9110 §5.1/§5.5: names are tokens, values have no CR, LF or NUL (response
/// splitting).
fn fields_valid(r: &Response<'_>) -> bool {
    r.header_fields().all(|(n, v)| {
        !n.is_empty()
            && n.iter().all(|b| is_tchar(*b))
            && memchr::memchr3(b'\r', b'\n', 0, v).is_none()
    })
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_managed(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length")
        || name.eq_ignore_ascii_case(b"transfer-encoding")
        || name.eq_ignore_ascii_case(b"connection")
        || name.eq_ignore_ascii_case(b"date")
}

#[allow(clippy::too_many_arguments)]
fn write_head(
    wbuf: &mut Vec<u8>,
    status: StatusCode,
    response: &Response<'_>,
    length: Option<u64>,
    chunked: bool,
    keep_alive: bool,
    http10: bool,
    date: &[u8],
) {
    wbuf.extend_from_slice(b"HTTP/1.1 ");
    wbuf.extend_from_slice(status.as_str().as_bytes());
    wbuf.push(b' ');
    wbuf.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    wbuf.extend_from_slice(b"\r\ndate: ");
    wbuf.extend_from_slice(date);
    wbuf.extend_from_slice(b"\r\n");
    for (name, value) in response.header_fields() {
        if is_managed(name) {
            continue;
        }
        wbuf.extend_from_slice(name);
        wbuf.extend_from_slice(b": ");
        wbuf.extend_from_slice(value);
        wbuf.extend_from_slice(b"\r\n");
    }
    if let Some(len) = length {
        wbuf.extend_from_slice(b"content-length: ");
        write_decimal(wbuf, len);
        wbuf.extend_from_slice(b"\r\n");
    } else if chunked {
        wbuf.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if !keep_alive {
        wbuf.extend_from_slice(b"connection: close\r\n");
    } else if http10 {
        wbuf.extend_from_slice(b"connection: keep-alive\r\n");
    }
    wbuf.extend_from_slice(b"\r\n");
}

fn write_decimal(dst: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&tmp[i..]);
}

fn write_chunk_header(dst: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut n = len;
    loop {
        i -= 1;
        tmp[i] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&tmp[i..]);
    dst.extend_from_slice(b"\r\n");
}

/// Writes everything in `wbuf` (the batched responses) within the write timeout.
async fn flush<IO, H>(
    io: &mut IO,
    wbuf: &mut Vec<u8>,
    st: &WorkerState<H>,
    sleep: Pin<&mut Sleep>,
) -> Result<(), Close>
where
    IO: AsyncWrite + Unpin,
{
    if wbuf.is_empty() {
        return Ok(());
    }
    write_all_timeout(io, wbuf, st.config.timeouts.write, sleep).await?;
    wbuf.clear();
    if wbuf.capacity() > 4 * st.config.limits.write_batch_bytes.max(64 * 1024) {
        wbuf.shrink_to(st.config.limits.write_batch_bytes);
    }
    Ok(())
}

async fn write_all_timeout<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    data: &[u8],
    timeout: std::time::Duration,
    mut sleep: Pin<&mut Sleep>,
) -> Result<(), Close> {
    let mut written = 0;
    while written < data.len() {
        let mut write = std::pin::pin!(io.write(&data[written..]));
        // Usually the socket is writable: no timer is armed for that common case.
        let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        let n = match first {
            Poll::Ready(r) => r?,
            Poll::Pending => {
                sleep.as_mut().reset(Instant::now() + timeout);
                tokio::select! {
                    biased;
                    r = &mut write => r?,
                    _ = &mut sleep => return Err(Close::Timeout),
                }
            }
        };
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
        }
        written += n;
    }
    Ok(())
}

/// Sends a body that outlives the request's borrows. Returns false when the connection
/// must close afterwards (close-delimited stream).
async fn send_deferred<IO, H>(
    io: &mut IO,
    wbuf: &mut Vec<u8>,
    deferred: Deferred,
    st: &WorkerState<H>,
    mut sleep: Pin<&mut Sleep>,
) -> Result<bool, Close>
where
    IO: AsyncWrite + Unpin,
{
    let timeout = st.config.timeouts.write;
    match deferred {
        Deferred::None => Ok(true),
        Deferred::Bytes(b) => {
            write_all_timeout(io, &b, timeout, sleep).await?;
            Ok(true)
        }
        Deferred::File(mut f) => {
            // Read on the worker thread: fast from the page cache; the chunk is bounded.
            f.file.seek(io::SeekFrom::Start(f.offset))?;
            let mut left = f.len;
            let chunk = st.config.limits.write_batch_bytes.max(16 * 1024);
            while left > 0 {
                let want = (chunk as u64).min(left) as usize;
                wbuf.resize(want, 0);
                let n = f.file.read(&mut wbuf[..want])?;
                if n == 0 {
                    // The file shrank: the promised length cannot be met; close.
                    wbuf.clear();
                    return Ok(false);
                }
                write_all_timeout(io, &wbuf[..n], timeout, sleep.as_mut()).await?;
                left -= n as u64;
            }
            wbuf.clear();
            Ok(true)
        }
        Deferred::Stream {
            mut stream,
            chunked,
        } => {
            while let Some(item) = stream.next().await {
                let data = match item {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::debug!(error = %e, "response stream failed; closing");
                        return Ok(false);
                    }
                };
                if data.is_empty() {
                    continue;
                }
                wbuf.clear();
                if chunked {
                    write_chunk_header(wbuf, data.len());
                    wbuf.extend_from_slice(&data);
                    wbuf.extend_from_slice(b"\r\n");
                    write_all_timeout(io, wbuf, timeout, sleep.as_mut()).await?;
                } else {
                    write_all_timeout(io, &data, timeout, sleep.as_mut()).await?;
                }
            }
            wbuf.clear();
            if chunked {
                write_all_timeout(io, b"0\r\n\r\n", timeout, sleep).await?;
                Ok(true)
            } else {
                Ok(false)
            }
        }
    }
}

/// Answers a request that cannot be served (parse error, limit, timeout) and closes.
async fn reject<IO, H>(
    c: &mut Conn<IO>,
    st: &WorkerState<H>,
    status: StatusCode,
    mut sleep: Pin<&mut Sleep>,
) -> Result<(), Close>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    st.counters.response(status.as_u16());
    let reason = status.canonical_reason().unwrap_or("Error");
    {
        let date = st.date();
        let w = &mut c.wbuf;
        w.extend_from_slice(b"HTTP/1.1 ");
        w.extend_from_slice(status.as_str().as_bytes());
        w.push(b' ');
        w.extend_from_slice(reason.as_bytes());
        w.extend_from_slice(b"\r\ndate: ");
        w.extend_from_slice(&date);
        w.extend_from_slice(b"\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ");
        write_decimal(w, reason.len() as u64 + 1);
        w.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
        w.extend_from_slice(reason.as_bytes());
        w.push(b'\n');
    }
    flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
    linger_close(&mut c.io, &mut c.rbuf, sleep).await;
    Ok(())
}

/// Half-closes, then discards what the peer still sends for a short while, so the
/// response is not destroyed by a reset (RFC 9112 §9.6).
async fn linger_close<IO: AsyncRead + AsyncWrite + Unpin>(
    io: &mut IO,
    scratch: &mut [u8],
    mut sleep: Pin<&mut Sleep>,
) {
    sleep
        .as_mut()
        .reset(Instant::now() + std::time::Duration::from_millis(500));
    let _ = tokio::select! {
        biased;
        r = io.shutdown() => r,
        _ = &mut sleep => return,
    };
    let mut budget = 256 * 1024usize;
    while budget > 0 {
        let n = tokio::select! {
            biased;
            r = io.read(scratch) => match r { Ok(n) => n, Err(_) => return },
            _ = &mut sleep => return,
        };
        if n == 0 {
            return;
        }
        budget = budget.saturating_sub(n);
    }
}

/// The HTTP/1.1 request body: decoded (Content-Length or chunked) from the connection's
/// read buffer, refilled from the socket as the handler reads.
struct H1Body<'c, IO> {
    io: &'c mut IO,
    rbuf: &'c mut Vec<u8>,
    start: &'c mut usize,
    end: &'c mut usize,
    decoder: h11::BodyDecoder,
    content_length: Option<u64>,
    received: u64,
    limit: u64,
    /// Decoded body bytes in `rbuf` not yet handed out.
    pending: (usize, usize),
    /// `Some(written)` while a `100 Continue` is still to be sent (RFC 9110 §10.1.1).
    continue_sent: Option<usize>,
    state: &'c BodyState,
    sleep: Pin<&'c mut Sleep>,
    timeout: std::time::Duration,
    waiting: bool,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> H1Body<'_, IO> {
    fn fail(&mut self, e: BodyError) -> Poll<Result<usize, BodyError>> {
        if self.state.error.get().is_none() {
            self.state.error.set(Some(e.status()));
        }
        Poll::Ready(Err(e))
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, BodyError>> {
        if !self.waiting {
            self.waiting = true;
            self.sleep.as_mut().reset(Instant::now() + self.timeout);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return self.fail(BodyError::Timeout);
        }
        Poll::Pending
    }
}

use std::future::Future as _;

impl<IO: AsyncRead + AsyncWrite + Unpin> BodySource for H1Body<'_, IO> {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, BodyError>> {
        if self.state.error.get().is_some() {
            return Poll::Ready(Err(BodyError::Closed));
        }
        // Send `100 Continue` before the first read of the body.
        while let Some(written) = self.continue_sent {
            if written == CONTINUE.len() {
                self.continue_sent = None;
                self.waiting = false;
                break;
            }
            match Pin::new(&mut *self.io).poll_write(cx, &CONTINUE[written..]) {
                Poll::Ready(Ok(0)) => return self.fail(BodyError::Closed),
                Poll::Ready(Ok(n)) => self.continue_sent = Some(written + n),
                Poll::Ready(Err(e)) => return self.fail(BodyError::Io(e)),
                Poll::Pending => return self.poll_timer(cx),
            }
        }
        if self.continue_sent.is_none() {
            if let Poll::Ready(Err(e)) = Pin::new(&mut *self.io).poll_flush(cx) {
                return self.fail(BodyError::Io(e));
            }
        }
        loop {
            let (ps, pe) = self.pending;
            if ps < pe {
                let n = (pe - ps).min(buf.len());
                buf[..n].copy_from_slice(&self.rbuf[ps..ps + n]);
                self.pending.0 += n;
                return Poll::Ready(Ok(n));
            }
            if self.decoder.is_done() {
                self.state.done.set(true);
                return Poll::Ready(Ok(0));
            }
            if *self.start < *self.end {
                let input = &self.rbuf[*self.start..*self.end];
                let chunk = match self.decoder.decode(input) {
                    Ok(c) => c,
                    Err(e) => {
                        let status = e.status_code();
                        self.state.error.set(Some(status));
                        return Poll::Ready(Err(BodyError::Malformed(e.to_string())));
                    }
                };
                let base = *self.start;
                if !chunk.data.is_empty() {
                    // The decoder hands out a sub-slice of `input` (zero copy): locate it.
                    let off = (chunk.data.as_ptr() as usize).checked_sub(input.as_ptr() as usize);
                    match off {
                        Some(off) if off + chunk.data.len() <= input.len() => {
                            self.pending = (base + off, base + off + chunk.data.len());
                            self.received += chunk.data.len() as u64;
                        }
                        _ => return self.fail(BodyError::Malformed("body decoder".into())),
                    }
                }
                let consumed = chunk.consumed;
                let done = chunk.done;
                *self.start += consumed;
                if self.received > self.limit {
                    let limit = self.limit;
                    return self.fail(BodyError::TooLarge { limit });
                }
                if done {
                    self.state.done.set(true);
                }
                if consumed > 0 || done {
                    self.waiting = false;
                    continue;
                }
            }
            // Need more bytes from the socket.
            if *self.start == *self.end {
                *self.start = 0;
                *self.end = 0;
            } else if *self.end == self.rbuf.len() {
                let (s, e) = (*self.start, *self.end);
                self.rbuf.copy_within(s..e, 0);
                *self.end = e - s;
                *self.start = 0;
            }
            let end = *self.end;
            let mut rb = ReadBuf::new(&mut self.rbuf[end..]);
            match Pin::new(&mut *self.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        return match self.decoder.finish_at_eof() {
                            Ok(()) => {
                                self.state.done.set(true);
                                Poll::Ready(Ok(0))
                            }
                            Err(_) => self.fail(BodyError::Closed),
                        };
                    }
                    *self.end += n;
                    self.waiting = false;
                }
                Poll::Ready(Err(e)) => return self.fail(BodyError::Io(e)),
                Poll::Pending => return self.poll_timer(cx),
            }
        }
    }

    fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    fn is_end(&self) -> bool {
        self.state.done.get() && self.pending.0 >= self.pending.1
    }
}
