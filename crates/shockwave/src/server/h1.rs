//! The HTTP/1.1 connection driver (RFC 9112): reads into a reused buffer, parses with
//! `shockwave-http11`, calls the handler, batches pipelined responses into one write.
//!
//! Every HTTP/1.1 byte comes from `shockwave-http11` (response heads and their framing
//! plan, the head memo, chunks, trailer sections, `100 Continue`); this driver owns the
//! socket, the buffers, timers, pipelining and the order of the bytes.

use std::cell::Cell;
use std::io::{self, Read as _, Seek as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{StatusCode, Version};
use shockwave_arena::Arena;
use shockwave_http11 as h11;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::body::{Body, BodyError, BodySource};
use super::config::Alloc;
use super::handler::Handler;
use super::request::{Headers, Request, RequestContext, Scheme};
use super::response::{BodyStream, FileBody, Response, ResponseBody, Trailers};
use super::state::WorkerState;
use super::stats::inc;
use super::upgrade::{UpgradeFn, UpgradeSlot, Upgraded};
use crate::common::budget::ConnBudget;
use crate::common::linger::{linger_close_with, Drain};
use crate::common::pipeline::{poll_guarded, poll_trailers, resolve_trailers};
use crate::common::rate::RateMeter;
use crate::service::TlsInfo;

use h11::CONTINUE;

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
struct Deferred {
    body: DeferredBody,
    /// The body goes out with chunked framing, ended by a last chunk (and the trailers).
    chunked: bool,
    trailers: PendingTrailers,
}

impl Deferred {
    const NONE: Deferred = Deferred {
        body: DeferredBody::None,
        chunked: false,
        trailers: PendingTrailers::None,
    };

    fn is_none(&self) -> bool {
        matches!(self.body, DeferredBody::None) && matches!(self.trailers, PendingTrailers::None)
    }
}

/// A body that outlives the request's borrows.
enum DeferredBody {
    /// Nothing (or the body is already in the write buffer).
    None,
    Bytes(Bytes),
    File(FileBody),
    Stream(BodyStream),
}

/// Trailer fields still to be sent in the last chunk (RFC 9112 §7.1.2).
enum PendingTrailers {
    None,
    /// Serialized into the connection's trailer buffer (`Conn::tbuf`).
    Buffered,
    /// Resolved once the body has been written.
    Future(Pin<Box<dyn std::future::Future<Output = http::HeaderMap>>>),
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
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    serve_with_tls(io, st, scheme, remote, None).await
}

/// [`serve`] for a connection whose TLS handshake negotiated `tls` (given to every
/// request's [`RequestContext::tls_info`]).
pub(crate) async fn serve_with_tls<IO, H>(
    io: IO,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    tls: Option<&TlsInfo>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let mut conn = Conn {
        io,
        rbuf: st.take_buffer(),
        wbuf: st.take_buffer(),
        head: Vec::new(),
        tbuf: Vec::new(),
        heap: h11::HeapHeaders::new(),
        memo: h11::HeadMemo::new(),
        start: 0,
        end: 0,
    };
    let read_size = st.config.read_buffer_size.max(1024);
    // Only a window of the read buffer is initialized (an idle connection keeps one page
    // resident); it widens up to `read_size` while reads fill it.
    conn.rbuf.resize(read_size.min(INITIAL_READ_WINDOW), 0);
    let sleep = tokio::time::sleep(std::time::Duration::ZERO);
    tokio::pin!(sleep);
    // One shutdown waiter for the whole connection: a fresh `Notified` per idle wait
    // would link and unlink a waiter (and clone a waker) on every request. A `Notified`
    // created before `notify_waiters` is woken by it even if not polled yet.
    let stop = st.stop_signal();
    tokio::pin!(stop);
    let mut upgrade = None;
    let result = run(
        &mut conn,
        st,
        scheme,
        remote,
        tls,
        sleep.as_mut(),
        stop.as_mut(),
        &mut upgrade,
    )
    .await;
    if let (Ok(()), Some((callback, buffered))) = (&result, upgrade) {
        // After a 101: the connection belongs to the handler's callback (its buffers go
        // back to the pool first; the bytes after the request head move with it).
        st.return_buffer(std::mem::take(&mut conn.rbuf));
        st.return_buffer(std::mem::take(&mut conn.wbuf));
        let io = conn.io;
        callback(Upgraded::new(
            Box::new(io),
            buffered,
            Some(st.shutdown.clone()),
        ))
        .await;
        return;
    }
    match result {
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
    /// Serialized trailer fields waiting for the end of a deferred body (allocated only
    /// by connections whose responses have trailers).
    tbuf: Vec<u8>,
    heap: h11::HeapHeaders,
    /// The last response head serialized for a preset response (see [`HeadKey`]).
    memo: h11::HeadMemo<HeadKey>,
    start: usize,
    end: usize,
}

/// Everything a preset response's head depends on: equal keys give byte-identical heads
/// (the key of the connection's [`h11::HeadMemo`]: pipelined and keep-alive requests for
/// the same route get their head with one copy). Heads without trailers only.
#[derive(Clone, Copy, PartialEq, Eq)]
struct HeadKey {
    status: StatusCode,
    /// `Response::preset` (never 0 here): the exact header fields.
    preset: u8,
    /// The framing field ([`h11::ResponsePlan::head`]).
    body: h11::BodyLength,
    keep_alive: bool,
    /// The request's version (`connection: keep-alive` for HTTP/1.0).
    version: Version,
    /// `WorkerState::date_gen` when the head was written (the head holds the date).
    date_gen: u64,
}

/// Requests served one after the other before the connection's task yields to the
/// runtime (see the end of [`run`]'s loop).
const REQUESTS_PER_YIELD: u32 = 32;
/// Request-head bytes parsed one after the other before the task yields.
const HEAD_BYTES_PER_YIELD: usize = 64 * 1024;
/// The read window a connection starts with: an idle keep-alive connection keeps this
/// much of its read buffer resident, not `read_buffer_size`.
const INITIAL_READ_WINDOW: usize = 4 * 1024;

/// How long a keep-alive connection waits for its next request before it gives its read
/// and write buffers back to the worker's pool (an idle connection then holds no buffer;
/// the next request's read borrows one from the pool).
const IDLE_RELEASE_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

/// Reads into `rbuf`; when the idle connection gave its buffers back (`rbuf` empty), into
/// a pool buffer (`INITIAL_READ_WINDOW` wide) that goes back to the pool while nothing is
/// readable, so an idle connection holds no buffer between wake-ups.
fn read_idle<'a, IO, H>(
    io: &'a mut IO,
    rbuf: &'a mut Vec<u8>,
    st: &'a WorkerState<H>,
    read_size: usize,
) -> impl std::future::Future<Output = io::Result<usize>> + 'a
where
    IO: AsyncRead + Unpin,
{
    std::future::poll_fn(move |cx| {
        let lent = rbuf.is_empty();
        if lent {
            let mut buf = st.take_buffer();
            buf.resize(read_size.min(INITIAL_READ_WINDOW), 0);
            *rbuf = buf;
        }
        let mut rb = ReadBuf::new(&mut rbuf[..]);
        match Pin::new(&mut *io).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if lent {
                    st.return_buffer(std::mem::take(rbuf));
                }
                Poll::Pending
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn run<IO, H>(
    c: &mut Conn<IO>,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    tls: Option<&TlsInfo>,
    mut sleep: Pin<&mut Sleep>,
    mut stop: Pin<&mut tokio::sync::futures::Notified<'_>>,
    upgrade: &mut Option<(UpgradeFn, Vec<u8>)>,
) -> Result<(), Close>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let cfg = &st.config;
    let limits = &st.h11_limits;
    let read_size = cfg.read_buffer_size.max(1024);
    let max_buffer = cfg.limits.max_header_bytes + cfg.limits.max_request_line + 1024;
    let mut head_deadline: Option<Instant> = None;
    let mut must_parse = false;
    // The arena of the previous request of a pipelined batch, recycled for the next one
    // (no trip through the pool); given back before any wait for the peer.
    let mut held: Option<shockwave_arena::PooledArena<'_>> = None;
    // Until the first request head has arrived, silence is bounded by the header-read
    // timeout, not the keep-alive idle timeout: a connection (a TLS one right after its
    // handshake included) that never sends a request is not held for `Timeouts::idle`.
    let mut first_request = true;
    let mut served_in_a_row = 0u32;
    let mut head_bytes_in_a_row = 0usize;
    loop {
        if c.start == c.end {
            // Nothing buffered: send the batch, then wait for the next request.
            held = None;
            c.start = 0;
            c.end = 0;
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            if st.stopping() {
                return Ok(());
            }
            // The first request must come within the header-read timeout, later ones within
            // the idle timeout.
            let wait = if first_request {
                cfg.timeouts.header_read.min(cfg.timeouts.idle)
            } else {
                cfg.timeouts.idle
            };
            let idle_deadline = st.now() + wait;
            // A connection idle for `IDLE_RELEASE_AFTER` gives both buffers back to the
            // pool; its reads then borrow a pool buffer per poll (`read_idle`, cancel-safe).
            let mut release = c.rbuf.capacity() > 0;
            let n = loop {
                let wake = if release {
                    idle_deadline.min(st.now() + IDLE_RELEASE_AFTER)
                } else {
                    idle_deadline
                };
                sleep.as_mut().reset(wake);
                tokio::select! {
                    biased;
                    r = read_idle(&mut c.io, &mut c.rbuf, st, read_size) => break r?,
                    _ = &mut sleep => {
                        if !release || wake >= idle_deadline {
                            return Err(Close::Timeout);
                        }
                        release = false;
                        st.trim.note_freed(c.rbuf.capacity() + c.wbuf.capacity());
                        st.return_buffer(std::mem::take(&mut c.rbuf));
                        st.return_buffer(std::mem::take(&mut c.wbuf));
                    }
                    _ = stop.as_mut() => return Ok(()),
                }
            };
            if c.wbuf.capacity() == 0 {
                c.wbuf = st.take_buffer();
            }
            if n == 0 {
                return Ok(());
            }
            c.end = n;
            if n == c.rbuf.len() && n < read_size {
                // The read filled the window: more is likely waiting.
                c.rbuf.resize((n * 2).min(read_size), 0);
            }
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
            held = None;
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
                    return reject(c, st, status, sleep, Drain::DEFAULT).await;
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
                    return reject(c, st, StatusCode::REQUEST_TIMEOUT, sleep, Drain::DEFAULT).await;
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
        let arena: &Arena = match &mut held {
            Some(a) => {
                a.recycle();
                a
            }
            None => held.insert(st.pool.get()),
        };
        // Matched by reference: the parsed head (~200 bytes) stays where the parser
        // wrote it instead of being moved out of the result.
        let parsed = match cfg.alloc {
            Alloc::Arena => h11::parse_request(&c.rbuf[c.start..c.end], arena, limits),
            Alloc::Heap => h11::parse_request_heap(&c.rbuf[c.start..c.end], &mut c.heap, limits),
        };
        let (req, n) = match &parsed {
            Ok(h11::Status::Complete((req, n))) => (req, *n),
            Ok(h11::Status::Partial) => continue,
            Err(e) => {
                let status = e.status_code();
                inc(&st.counters.requests);
                tracing::debug!(?remote, error = %e, "bad request");
                drop(parsed);
                return reject(c, st, status, sleep, Drain::DEFAULT).await;
            }
        };
        inc(&st.counters.requests);
        head_deadline = None;
        first_request = false;
        // Answered here, never by the handler, then closed: a CONNECT that cannot become
        // a tunnel (RFC 9110 §9.3.6: it has no content, its target is `host:port`
        // (RFC 9112 §3.2.3), and HTTP/1.0 has no tunnels here), and an `Expect` other
        // than `100-continue` (RFC 9110 §10.1.1: 417). A tunnelable CONNECT goes to the
        // handler with a CONNECT upgrade slot.
        let is_connect = *req.method() == http::Method::CONNECT;
        let refused = if is_connect
            && (!matches!(
                req.framing(),
                h11::BodyFraming::Empty | h11::BodyFraming::Length(0)
            ) || req.version() != Version::HTTP_11
                || !is_authority_form(req.target()))
        {
            Some(StatusCode::NOT_IMPLEMENTED)
        } else if req.unsupported_expectation() {
            Some(StatusCode::EXPECTATION_FAILED)
        } else {
            None
        };
        if let Some(status) = refused {
            drop(parsed);
            return reject(c, st, status, sleep, Drain::DEFAULT).await;
        }
        let framing = req.framing();
        #[cfg(feature = "http2")]
        if req.is_h2c_upgrade() && !st.stopping() {
            // `Upgrade: h2c` (RFC 7540 §3.2): the request becomes stream 1 of HTTP/2.
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            let rest = &c.rbuf[c.start + n..c.end];
            if super::h2::upgrade(&mut c.io, req, rest, st, scheme, remote).await {
                return Ok(());
            }
        }
        let shutting_down = st.stopping();
        // Filled by `respond` only for bodies sent after the request's borrows end: the
        // common in-memory response does not move a `Deferred` around.
        let mut deferred = Deferred::NONE;
        // A request body left unread (the handler answered without it, or refused it
        // as too large): what may still come of it, drained before the close.
        let mut unread_body: Option<Option<u64>> = None;
        let keep_alive = match framing {
            h11::BodyFraming::Empty | h11::BodyFraming::Length(0) => {
                let state = BodyState::default();
                state.done.set(true);
                let body = Body::empty(arena);
                // An HTTP/1.1 request with `Upgrade` may be taken over (RFC 9110 §7.8), a
                // CONNECT may become a tunnel (RFC 9110 §9.3.6).
                let slot = if is_connect {
                    UpgradeSlot::connect()
                } else {
                    UpgradeSlot::default()
                };
                let may_upgrade = req.version() == Version::HTTP_11
                    && !shutting_down
                    && (is_connect || req.has_upgrade_field());
                let out = respond(
                    st,
                    req,
                    arena,
                    body,
                    &state,
                    &mut c.wbuf,
                    &mut c.tbuf,
                    &mut c.memo,
                    scheme,
                    remote,
                    tls,
                    shutting_down,
                    &mut deferred,
                    may_upgrade.then_some(&slot),
                )
                .await;
                drop(parsed);
                c.start += n;
                if out.1 {
                    if let Some(callback) = slot.take() {
                        flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
                        let buffered = c.rbuf[c.start..c.end].to_vec();
                        *upgrade = Some((callback, buffered));
                        return Ok(());
                    }
                }
                out.0
            }
            _ => {
                let expect_continue = req.expect_continue();
                drop(parsed);
                if let h11::BodyFraming::Length(len) = framing {
                    if len > cfg.limits.max_body_size {
                        // Refused before reading: the client may be sending the body
                        // anyway (no `Expect: 100-continue`); drain it so the 413 is read.
                        return reject(
                            c,
                            st,
                            StatusCode::PAYLOAD_TOO_LARGE,
                            sleep,
                            Drain::refused_body(Some(len)),
                        )
                        .await;
                    }
                }
                // Earlier pipelined responses go out first (and before any 100 Continue).
                flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
                // The head is copied so that the body reader can reuse the read buffer.
                let reparsed = match cfg.alloc {
                    Alloc::Arena => match arena.alloc_bytes(&c.rbuf[c.start..c.start + n]) {
                        Ok(head) => h11::parse_request(head, arena, limits),
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
                        return reject(c, st, status, sleep, Drain::DEFAULT).await;
                    }
                };
                c.start += n;
                let state = BodyState::default();
                let mut source = H1Body {
                    io: &mut c.io,
                    window: read_size,
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
                    stuck: None,
                    meter: RateMeter::new(cfg.timeouts.min_request_body_rate),
                    budget: ConnBudget::new(Some(&st.body_budget), u64::MAX),
                };
                let body = Body::new(&mut source, arena, cfg.limits.max_body_size);
                let out = respond(
                    st,
                    &req,
                    arena,
                    body,
                    &state,
                    &mut c.wbuf,
                    &mut c.tbuf,
                    &mut c.memo,
                    scheme,
                    remote,
                    tls,
                    shutting_down,
                    &mut deferred,
                    None,
                )
                .await
                .0;
                // Unread, or refused as too large (not malformed or too slow: no point).
                let refused = matches!(
                    state.error.get(),
                    None | Some(StatusCode::PAYLOAD_TOO_LARGE)
                );
                if !state.done.get() && refused {
                    let received = source.received;
                    unread_body = Some(source.content_length.map(|l| l.saturating_sub(received)));
                }
                out
            }
        };
        let mut keep_alive = keep_alive;
        if !deferred.is_none() || !keep_alive || c.wbuf.len() >= cfg.limits.write_batch_bytes {
            held = None; // about to wait for the peer
        }
        if !deferred.is_none() {
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            let sent = send_deferred(
                &mut c.io,
                &mut c.wbuf,
                &c.tbuf,
                deferred,
                st,
                sleep.as_mut(),
            )
            .await?;
            if !sent {
                keep_alive = false;
            }
        } else {
            // Nothing to drop (no body, no trailers: `is_none`): skips the out-of-line
            // drop glue a pending body would need, once per request.
            std::mem::forget(deferred);
        }
        if !keep_alive {
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
            let drain = unread_body.map_or(Drain::DEFAULT, Drain::refused_body);
            linger_close_with(&mut c.io, &mut c.rbuf, sleep, drain).await;
            return Ok(());
        }
        if c.wbuf.len() >= cfg.limits.write_batch_bytes {
            flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
        }
        // Pipelined bytes already buffered: parse them right away.
        must_parse = c.start < c.end;
        // Fairness: after a run of requests (or of head bytes) without a wait, let the
        // worker's other connections run before going on, so a client that pipelines
        // without end cannot keep the worker to itself.
        served_in_a_row += 1;
        head_bytes_in_a_row += n;
        if served_in_a_row >= REQUESTS_PER_YIELD || head_bytes_in_a_row >= HEAD_BYTES_PER_YIELD {
            served_in_a_row = 0;
            head_bytes_in_a_row = 0;
            held = None;
            tokio::task::yield_now().await;
        }
    }
}

/// Calls the handler for one request and serializes its response head (and in-memory
/// body) into `wbuf`. Returns whether the connection may stay open, and whether it is
/// upgraded (a 101 head was written and the callback is in `upgrade`); what remains to
/// be sent once the request's borrows have ended goes to `deferred` (left as is when
/// nothing does).
#[allow(clippy::too_many_arguments)]
async fn respond<'r, H: Handler>(
    st: &'r WorkerState<H>,
    req: &'r h11::Request<'r>,
    arena: &'r Arena,
    body: Body<'r>,
    body_state: &BodyState,
    wbuf: &mut Vec<u8>,
    tbuf: &mut Vec<u8>,
    memo: &mut h11::HeadMemo<HeadKey>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    tls: Option<&'r TlsInfo>,
    shutting_down: bool,
    deferred: &mut Deferred,
    upgrade: Option<&'r UpgradeSlot>,
) -> (bool, bool) {
    let request = Request::from_h1(
        req.method().clone(),
        req.target(),
        req.path(),
        req.query(),
        req.host(),
        scheme,
        req.version(),
        Headers::from_h1(req.headers()),
        remote,
    )
    .with_tls_info(tls);
    let is_head = req.method() == http::Method::HEAD;
    let mut slot = None;
    let mut cx = RequestContext::new(request, arena, body);
    if let Some(slot) = upgrade {
        cx = cx.with_upgrade(slot);
    }
    let fut = st.handler.call(cx);
    let panicked = poll_guarded(std::pin::pin!(fut), &mut slot).await;
    // Requests that were in flight when a shutdown began are answered, then the
    // connection closes.
    let shutting_down = shutting_down || st.stopping();
    let mut keep_alive = req.keep_alive() && !shutting_down && body_state.done.get();
    if panicked {
        inc(&st.counters.handler_panics);
        // As on HTTP/2 and HTTP/3 the connection survives: the request's state (arena,
        // body) is dropped with it, and an unread body already closes (`body_state`).
        tracing::error!(path = req.path(), "handler panicked; answering 500");
    }
    // Worked on in place: a `Response` is not small.
    let response = slot.get_or_insert_with(|| Response::new(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(status) = body_state.error.get() {
        // The body could not be read (too large, malformed): that is the answer.
        keep_alive = false;
        *response = Response::new(status);
    }
    if !panicked
        && !response.overflow
        && upgrade.is_some_and(|s| s.is_set() && s.accepts(response.status))
        && !st.stopping()
    {
        st.counters.response(response.status.as_u16());
        if req.method() == http::Method::CONNECT {
            write_connect_established(wbuf, response.status, response.header_slice());
        } else {
            write_switching_protocols(wbuf, response.header_slice());
        }
        return (false, true);
    }
    if let Some(slot) = upgrade {
        // Not switching: the callback is dropped unrun.
        drop(slot.take());
    }
    if req.method() == http::Method::CONNECT {
        // A CONNECT not taken as a tunnel: answered, then the connection closes (the
        // client may already be sending tunnel bytes). A 2xx without a tunnel would
        // tell the client one exists (RFC 9110 §9.3.6): a handler error.
        keep_alive = false;
        if response.status.is_success() {
            tracing::error!("a 2xx to CONNECT without on_upgrade; answering 500");
            *response = Response::new(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    if response.overflow
        || response.status.as_u16() < 200
        || (!response.trusted() && !h11::fields_safe(response.header_slice()))
    {
        tracing::error!("invalid response from handler (header fields or status); answering 500");
        *response = Response::new(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if !response.trusted() && h11::fields_request_close(response.header_slice()) {
        keep_alive = false;
    }
    let status = response.status;
    st.counters.response(status.as_u16());
    let body = response.take_body();
    let trailers = response.take_trailers();
    // The framing (RFC 9112 §6, §7.1.2): content-length, chunked or close-delimited;
    // trailers only with chunked framing and a body (a deferred trailer future is then
    // dropped unpolled); no content-length in a 204 / 304 (RFC 9110 §8.6).
    let plan = h11::ResponsePlan::new(
        status,
        is_head,
        req.version(),
        body.len(),
        !trailers.is_none(),
        keep_alive,
    );
    let keep_alive = plan.keep_alive;
    let trailers = if plan.trailers {
        trailers
    } else {
        Trailers::None
    };
    if response.preset != 0 && !plan.trailers {
        let key = HeadKey {
            status,
            preset: response.preset,
            body: plan.head,
            keep_alive,
            version: req.version(),
            date_gen: st.date_gen(),
        };
        // The date is read (and the head serialized) only when the memo misses.
        memo.write(key, wbuf, |w| {
            h11::ResponseHead {
                status,
                date: Some(&st.http_date()),
                fields: head_fields(response),
                trailers: &[],
                body: plan.head,
                version: req.version(),
                keep_alive,
            }
            .write_to(w);
        });
    } else {
        let announced = match &trailers {
            Trailers::Fields(fields) => fields,
            _ => &[][..],
        };
        h11::ResponseHead {
            status,
            date: Some(&st.http_date()),
            fields: head_fields(response),
            trailers: announced,
            body: plan.head,
            version: req.version(),
            keep_alive,
        }
        .write_to(wbuf);
    }
    if !plan.send_body {
        return (keep_alive, false);
    }
    let with_trailers = plan.trailers;
    let chunked = plan.chunked;
    if !with_trailers {
        let body = match body {
            ResponseBody::Empty => DeferredBody::None,
            ResponseBody::Slice(s) => {
                wbuf.extend_from_slice(s);
                DeferredBody::None
            }
            ResponseBody::Bytes(b) if b.len() <= 16 * 1024 => {
                wbuf.extend_from_slice(&b);
                DeferredBody::None
            }
            ResponseBody::Bytes(b) => DeferredBody::Bytes(b),
            ResponseBody::File(f) => DeferredBody::File(f),
            ResponseBody::Stream(s) => DeferredBody::Stream(s),
        };
        if matches!(body, DeferredBody::None) {
            return (keep_alive, false);
        }
        let chunked = chunked && matches!(body, DeferredBody::Stream(_));
        *deferred = Deferred {
            body,
            chunked,
            trailers: PendingTrailers::None,
        };
        return (keep_alive, false);
    }
    // Chunked framing with a trailer section.
    let body = match body {
        ResponseBody::Empty => DeferredBody::None,
        ResponseBody::Slice(s) => {
            h11::write_chunk(wbuf, s);
            DeferredBody::None
        }
        ResponseBody::Bytes(b) if b.len() <= 16 * 1024 => {
            h11::write_chunk(wbuf, &b);
            DeferredBody::None
        }
        ResponseBody::Bytes(b) => DeferredBody::Bytes(b),
        ResponseBody::File(f) => DeferredBody::File(f),
        ResponseBody::Stream(s) => DeferredBody::Stream(s),
    };
    let in_memory = matches!(body, DeferredBody::None);
    let trailers = match trailers {
        Trailers::None => PendingTrailers::None,
        Trailers::Fields(fields) if in_memory => {
            wbuf.extend_from_slice(h11::LAST_CHUNK);
            write_trailer_fields(wbuf, || fields.iter().copied());
            wbuf.extend_from_slice(b"\r\n");
            return (keep_alive, false);
        }
        Trailers::Fields(fields) => {
            // The fields may borrow the arena, which is gone when the body is sent.
            tbuf.clear();
            write_trailer_fields(tbuf, || fields.iter().copied());
            PendingTrailers::Buffered
        }
        Trailers::Deferred(f) => PendingTrailers::Future(f),
    };
    *deferred = Deferred {
        body,
        chunked: true,
        trailers,
    };
    (keep_alive, false)
}

/// A `101 Switching Protocols` head (RFC 9110 §15.2.2) with the handler's fields (those
/// that can be written safely: [`h11::is_valid_field`]) and `Connection: upgrade` unless
/// the handler set `Connection` itself (RFC 9110 §7.8).
fn write_switching_protocols(wbuf: &mut Vec<u8>, fields: &[(&[u8], &[u8])]) {
    wbuf.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    let mut connection = false;
    for &(name, value) in fields {
        if !h11::is_valid_field(name, value)
            || name.eq_ignore_ascii_case(b"content-length")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
        {
            continue;
        }
        connection |= name.eq_ignore_ascii_case(b"connection");
        wbuf.extend_from_slice(name);
        wbuf.extend_from_slice(b": ");
        wbuf.extend_from_slice(value);
        wbuf.extend_from_slice(b"\r\n");
    }
    if !connection {
        wbuf.extend_from_slice(b"connection: upgrade\r\n");
    }
    wbuf.extend_from_slice(b"\r\n");
}

/// The 2xx that turns a CONNECT into a tunnel (RFC 9110 §9.3.6): the handler's fields
/// that can be written safely, never `Content-Length` or `Transfer-Encoding` (nor a
/// `Connection` field: the connection is the tunnel now), and no body.
fn write_connect_established(wbuf: &mut Vec<u8>, status: StatusCode, fields: &[(&[u8], &[u8])]) {
    wbuf.extend_from_slice(b"HTTP/1.1 ");
    wbuf.extend_from_slice(status.as_str().as_bytes());
    wbuf.push(b' ');
    wbuf.extend_from_slice(status.canonical_reason().unwrap_or("OK").as_bytes());
    wbuf.extend_from_slice(b"\r\n");
    for &(name, value) in fields {
        if !h11::is_valid_field(name, value)
            || name.eq_ignore_ascii_case(b"content-length")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"connection")
        {
            continue;
        }
        wbuf.extend_from_slice(name);
        wbuf.extend_from_slice(b": ");
        wbuf.extend_from_slice(value);
        wbuf.extend_from_slice(b"\r\n");
    }
    wbuf.extend_from_slice(b"\r\n");
}

/// RFC 9112 §3.2.3: `uri-host ":" port`, the only target form of CONNECT.
fn is_authority_form(target: &str) -> bool {
    match target.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(['/', '?', '#', '@'])
                && !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// A response's header fields for its head: a preset's as is, a handler's without the
/// managed names (already checked with [`h11::fields_safe`], or replaced by a 500).
fn head_fields<'r>(response: &'r Response<'_>) -> h11::Fields<'r> {
    if response.trusted() {
        h11::Fields::Trusted(response.header_slice())
    } else {
        h11::Fields::Validated(response.header_slice())
    }
}

/// Writes the allowed trailer field lines (`name: value\r\n`, RFC 9112 §7.1.2) with
/// [`h11::write_trailer_fields`], logging the ones it drops.
fn write_trailer_fields<'f, I>(dst: &mut Vec<u8>, fields: impl Fn() -> I)
where
    I: Iterator<Item = (&'f [u8], &'f [u8])>,
{
    if h11::write_trailer_fields(dst, fields()) > 0 {
        for (name, value) in fields() {
            if !h11::is_trailer_allowed(name, value) {
                tracing::debug!(
                    name = %String::from_utf8_lossy(name),
                    "dropping a trailer field that is invalid or not allowed in trailers"
                );
            }
        }
    }
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
    let guard = &mut WriteGuard::new(&st.config.timeouts);
    write_all_timeout(io, wbuf, guard, sleep).await?;
    wbuf.clear();
    if wbuf.capacity() > 4 * st.config.limits.write_batch_bytes.max(64 * 1024) {
        wbuf.shrink_to(st.config.limits.write_batch_bytes);
    }
    Ok(())
}

/// The limits of one response's writes: the write timeout (a write that makes no progress
/// at all) and the minimum response rate (slow read: the peer reads, but too slowly; only
/// the time spent waiting for the socket counts).
struct WriteGuard {
    timeout: std::time::Duration,
    meter: RateMeter,
}

impl WriteGuard {
    fn new(timeouts: &super::config::Timeouts) -> Self {
        WriteGuard {
            timeout: timeouts.write,
            meter: RateMeter::new(timeouts.min_response_rate),
        }
    }
}

async fn write_all_timeout<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    data: &[u8],
    guard: &mut WriteGuard,
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
                let now = Instant::now();
                guard.meter.wait(now.into_std());
                let stuck = now + guard.timeout;
                let n = loop {
                    let slow = guard.meter.deadline(Instant::now().into_std());
                    let at = slow.map_or(stuck, |d| stuck.min(Instant::from_std(d)));
                    sleep.as_mut().reset(at);
                    tokio::select! {
                        biased;
                        r = &mut write => break r?,
                        _ = &mut sleep => {
                            let now = Instant::now();
                            if now >= stuck || guard.meter.is_too_slow(now.into_std()) {
                                return Err(Close::Timeout);
                            }
                        }
                    }
                };
                guard.meter.resume(Instant::now().into_std());
                n
            }
        };
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
        }
        guard.meter.add(n);
        written += n;
    }
    Ok(())
}

/// Sends a body that outlives the request's borrows, then (chunked framing) the last
/// chunk with the trailer section. Returns false when the connection must close
/// afterwards (close-delimited stream, failed stream, shrunk file).
async fn send_deferred<IO, H>(
    io: &mut IO,
    wbuf: &mut Vec<u8>,
    tbuf: &[u8],
    deferred: Deferred,
    st: &WorkerState<H>,
    mut sleep: Pin<&mut Sleep>,
) -> Result<bool, Close>
where
    IO: AsyncWrite + Unpin,
{
    let timeout = &mut WriteGuard::new(&st.config.timeouts);
    let chunked = deferred.chunked;
    wbuf.clear();
    match deferred.body {
        DeferredBody::None => {}
        DeferredBody::Bytes(b) => {
            if chunked {
                // One chunk of the whole length.
                h11::write_chunk_header(wbuf, b.len());
                write_all_timeout(io, wbuf, timeout, sleep.as_mut()).await?;
                wbuf.clear();
                write_all_timeout(io, &b, timeout, sleep.as_mut()).await?;
                wbuf.extend_from_slice(b"\r\n");
            } else {
                write_all_timeout(io, &b, timeout, sleep.as_mut()).await?;
            }
        }
        DeferredBody::File(mut f) => {
            // Read on the worker thread: fast from the page cache; the chunk is bounded.
            f.file.seek(io::SeekFrom::Start(f.offset))?;
            if chunked && f.len > 0 {
                // One chunk of the whole region.
                let len = usize::try_from(f.len).map_err(io::Error::other)?;
                h11::write_chunk_header(wbuf, len);
                write_all_timeout(io, wbuf, timeout, sleep.as_mut()).await?;
            }
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
            if chunked && f.len > 0 {
                wbuf.extend_from_slice(b"\r\n");
            }
        }
        DeferredBody::Stream(mut stream) => {
            while let Some(item) = stream.next().await {
                let data = match item {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::debug!(error = %e, "response stream failed; closing");
                        wbuf.clear();
                        return Ok(false);
                    }
                };
                if data.is_empty() {
                    continue;
                }
                if chunked {
                    h11::write_chunk_header(wbuf, data.len());
                    wbuf.extend_from_slice(&data);
                    wbuf.extend_from_slice(b"\r\n");
                    write_all_timeout(io, wbuf, timeout, sleep.as_mut()).await?;
                    wbuf.clear();
                } else {
                    write_all_timeout(io, &data, timeout, sleep.as_mut()).await?;
                }
            }
            if !chunked {
                return Ok(false);
            }
        }
    }
    if !chunked {
        return Ok(true);
    }
    // The last chunk and the trailer section (RFC 9112 §7.1.2).
    match deferred.trailers {
        PendingTrailers::None => wbuf.extend_from_slice(h11::LAST_CHUNK),
        PendingTrailers::Buffered => {
            wbuf.extend_from_slice(h11::LAST_CHUNK);
            wbuf.extend_from_slice(tbuf);
        }
        PendingTrailers::Future(mut f) => {
            // Send the body now if the fields are not ready yet. The future runs under the
            // pipeline's panic guard: a panic is counted and the connection closes before
            // the last chunk (the peer sees an incomplete response).
            let counters = Some(&*st.counters);
            let ready =
                std::future::poll_fn(|cx| Poll::Ready(poll_trailers(&mut f, cx, counters, 0)))
                    .await;
            let map = match ready {
                Poll::Ready(map) => map,
                Poll::Pending => {
                    write_all_timeout(io, wbuf, timeout, sleep.as_mut()).await?;
                    wbuf.clear();
                    resolve_trailers(&mut f, counters, 0).await
                }
            };
            let Some(map) = map else {
                write_all_timeout(io, wbuf, timeout, sleep).await?;
                wbuf.clear();
                return Ok(false);
            };
            wbuf.extend_from_slice(h11::LAST_CHUNK);
            write_trailer_fields(wbuf, || {
                map.iter()
                    .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
            });
        }
    }
    wbuf.extend_from_slice(b"\r\n");
    write_all_timeout(io, wbuf, timeout, sleep).await?;
    wbuf.clear();
    Ok(true)
}

/// Answers a request that cannot be served (parse error, limit, timeout) and closes.
async fn reject<IO, H>(
    c: &mut Conn<IO>,
    st: &WorkerState<H>,
    status: StatusCode,
    mut sleep: Pin<&mut Sleep>,
    drain: Drain,
) -> Result<(), Close>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    st.counters.response(status.as_u16());
    // Every status a rejection uses has a canonical reason (the head writes the same one).
    let reason = status.canonical_reason().unwrap_or("Error");
    let date = st.http_date();
    h11::ResponseHead {
        status,
        date: Some(&date),
        fields: h11::Fields::Trusted(&[(b"content-type", b"text/plain; charset=utf-8")]),
        trailers: &[],
        body: h11::BodyLength::Known(reason.len() as u64 + 1),
        version: Version::HTTP_11,
        keep_alive: false,
    }
    .write_to(&mut c.wbuf);
    c.wbuf.extend_from_slice(reason.as_bytes());
    c.wbuf.push(b'\n');
    flush(&mut c.io, &mut c.wbuf, st, sleep.as_mut()).await?;
    linger_close_with(&mut c.io, &mut c.rbuf, sleep, drain).await;
    Ok(())
}

/// The HTTP/1.1 request body: decoded (Content-Length or chunked) from the connection's
/// read buffer, refilled from the socket as the handler reads.
struct H1Body<'c, IO> {
    io: &'c mut IO,
    /// The read window a body is read with (`rbuf` is widened to it when empty).
    window: usize,
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
    /// Zero progress for this long cuts the body (the write timeout).
    timeout: std::time::Duration,
    /// When the current wait on the peer cuts the body for zero progress.
    stuck: Option<Instant>,
    /// The minimum request-body rate (slow POST).
    meter: RateMeter,
    /// The body bytes the handler read, counted into the worker's body budget until the
    /// request finishes (an HTTP/1.1 connection holds one body at most: it is always
    /// served, and its bytes weigh on the worker's HTTP/2 and HTTP/3 connections).
    budget: ConnBudget<'c>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> H1Body<'_, IO> {
    fn fail(&mut self, e: BodyError) -> Poll<Result<usize, BodyError>> {
        if self.state.error.get().is_none() {
            self.state.error.set(Some(e.status()));
        }
        Poll::Ready(Err(e))
    }

    /// Waiting on the peer: cut the body once it made no progress for the write timeout,
    /// or once it is below the minimum rate; otherwise sleep until the earlier deadline.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, BodyError>> {
        loop {
            let now = Instant::now();
            let stuck = *self.stuck.get_or_insert(now + self.timeout);
            self.meter.wait(now.into_std());
            if now >= stuck || self.meter.is_too_slow(now.into_std()) {
                return self.fail(BodyError::Timeout);
            }
            let at = self
                .meter
                .deadline(now.into_std())
                .map_or(stuck, |d| stuck.min(Instant::from_std(d)));
            if self.sleep.deadline() != at {
                self.sleep.as_mut().reset(at);
            }
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Bytes moved: the wait on the peer (if any) is over.
    fn progressed(&mut self) {
        if self.stuck.take().is_some() {
            self.meter.resume(Instant::now().into_std());
        }
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
                self.progressed();
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
                self.meter.add(n);
                self.budget.add(n as u64);
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
                    continue;
                }
            }
            // Need more bytes from the socket.
            if *self.start == *self.end {
                *self.start = 0;
                *self.end = 0;
                if self.rbuf.len() < self.window {
                    self.rbuf.resize(self.window, 0);
                }
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
                    self.progressed();
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

    fn readable_hint(&self) -> usize {
        let decoded = self.pending.1 - self.pending.0;
        // With a Content-Length the buffered bytes are body bytes; a chunked body's are not
        // counted (its framing is not decoded yet).
        let raw = self.content_length.map_or(0, |len| {
            let left = len.saturating_sub(self.received);
            (left as usize).min(*self.end - *self.start)
        });
        decoded + raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head as `respond` writes it: the response's fields through [`head_fields`], the
    /// framing a [`h11::ResponsePlan`] gives (`length`, else chunked or nothing).
    #[allow(clippy::too_many_arguments)]
    fn write_head(
        wbuf: &mut Vec<u8>,
        status: StatusCode,
        response: &Response<'_>,
        length: Option<u64>,
        chunked: bool,
        keep_alive: bool,
        http10: bool,
        date: &[u8; 29],
        trailers: &[(&[u8], &[u8])],
    ) {
        let date = h11::HttpDate::new(*date).unwrap();
        h11::ResponseHead {
            status,
            date: Some(&date),
            fields: head_fields(response),
            trailers,
            body: framing(length, chunked),
            version: if http10 {
                Version::HTTP_10
            } else {
                Version::HTTP_11
            },
            keep_alive,
        }
        .write_to(wbuf);
    }

    fn framing(length: Option<u64>, chunked: bool) -> h11::BodyLength {
        match length {
            Some(n) => h11::BodyLength::Known(n),
            None if chunked => h11::BodyLength::Chunked,
            None => h11::BodyLength::None,
        }
    }

    #[test]
    fn chunks_and_trailer_fields_serialize() {
        let mut out = Vec::new();
        h11::write_chunk(&mut out, b"hello world, this is 31 bytes!!");
        h11::write_chunk(&mut out, b""); // never a premature last chunk
        assert_eq!(out, b"1f\r\nhello world, this is 31 bytes!!\r\n");
        out.clear();
        write_trailer_fields(&mut out, || {
            [
                (&b"grpc-status"[..], &b"0"[..]),
                (b"Transfer-Encoding", b"chunked"),
                (b"TE", b"trailers"),
                (b"trailer", b"x"),
                (b"host", b"evil"),
                (b":path", b"/"),
                (b"bad name", b"v"),
                (b"x-split", b"a\nb"),
                (b"x-nul", b"a\0b"),
                (b"X-Ok", b""),
            ]
            .into_iter()
        });
        assert_eq!(out, b"grpc-status: 0\r\nX-Ok: \r\n");
    }

    #[test]
    fn head_memo_is_byte_identical_and_follows_every_key_part() {
        let dates = [
            b"Wed, 25 Nov 2026 19:00:00 GMT",
            b"Wed, 25 Nov 2026 19:00:01 GMT",
        ];
        let mut memo = h11::HeadMemo::new();
        let mut writes = 0;
        let mut heads = 0;
        for (date_gen, date) in dates.iter().enumerate() {
            let responses = [
                Response::text("hi"),
                Response::json("{}"),
                Response::new(StatusCode::NOT_FOUND),
                Response::text("x").with_status(StatusCode::IM_A_TEAPOT),
                Response::new(StatusCode::NO_CONTENT),
            ];
            for r in &responses {
                for length in [Some(2), Some(13), None] {
                    for keep_alive in [true, false] {
                        for http10 in [false, true] {
                            let chunked = length.is_none() && !http10;
                            let key = HeadKey {
                                status: r.status,
                                preset: r.preset,
                                body: framing(length, chunked),
                                keep_alive,
                                version: if http10 {
                                    Version::HTTP_10
                                } else {
                                    Version::HTTP_11
                                },
                                date_gen: date_gen as u64,
                            };
                            let mut want = b"previous".to_vec();
                            write_head(
                                &mut want,
                                r.status,
                                r,
                                length,
                                chunked,
                                keep_alive,
                                http10,
                                date,
                                &[],
                            );
                            // The second time the same key comes, the memo is copied.
                            for _ in 0..2 {
                                let mut got = b"previous".to_vec();
                                memo.write(key, &mut got, |w| {
                                    writes += 1;
                                    write_head(
                                        w,
                                        r.status,
                                        r,
                                        length,
                                        chunked,
                                        keep_alive,
                                        http10,
                                        date,
                                        &[],
                                    )
                                });
                                assert_eq!(
                                    String::from_utf8(got).unwrap(),
                                    String::from_utf8(want.clone()).unwrap()
                                );
                                heads += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(writes * 2, heads, "every repeated key must hit the memo");
        // Keep-alive and close variants of the same response differ, and the memo follows.
        let r = Response::text("Hello, World!");
        let key = |keep_alive, date_gen| HeadKey {
            status: StatusCode::OK,
            preset: r.preset,
            body: h11::BodyLength::Known(13),
            keep_alive,
            version: Version::HTTP_11,
            date_gen,
        };
        let head = |memo: &mut h11::HeadMemo<HeadKey>, keep_alive, date_gen, date: &[u8; 29]| {
            let mut out = Vec::new();
            memo.write(key(keep_alive, date_gen), &mut out, |w| {
                write_head(
                    w,
                    StatusCode::OK,
                    &r,
                    Some(13),
                    false,
                    keep_alive,
                    false,
                    date,
                    &[],
                )
            });
            String::from_utf8(out).unwrap()
        };
        let mut memo = h11::HeadMemo::new();
        let expected = "HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 19:00:00 GMT\r\n\
                        content-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n\r\n";
        assert_eq!(head(&mut memo, true, 7, dates[0]), expected);
        assert_eq!(head(&mut memo, true, 7, dates[0]), expected);
        assert!(head(&mut memo, false, 7, dates[0]).ends_with("connection: close\r\n\r\n"));
        assert_eq!(head(&mut memo, true, 7, dates[0]), expected);
        // Date rollover: a new generation writes (and keeps) the new date.
        let rolled = expected.replace("19:00:00", "19:00:01");
        assert_eq!(head(&mut memo, true, 8, dates[1]), rolled);
        assert_eq!(head(&mut memo, true, 8, dates[1]), rolled);
    }

    #[test]
    fn head_announces_trailers_and_uses_chunked() {
        let r = Response::text("hi").header("content-length", "2");
        let trailers: &[(&[u8], &[u8])] =
            &[(b"x-a", b"1"), (b"connection", b"close"), (b"x-b", b"2")];
        let mut out = Vec::new();
        let date = b"Wed, 25 Nov 2026 19:00:00 GMT";
        write_head(
            &mut out,
            StatusCode::OK,
            &r,
            None,
            true,
            true,
            false,
            date,
            trailers,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 19:00:00 GMT\r\n\
             content-type: text/plain; charset=utf-8\r\ntrailer: x-a, x-b\r\n\
             transfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn untrusted_fields_are_filtered_and_trusted_ones_written_as_is() {
        let date = b"Wed, 25 Nov 2026 19:00:00 GMT";
        let mut out = Vec::new();
        let r = Response::text("hi")
            .header("content-length", "99")
            .header("x-a", "1");
        assert!(!r.trusted());
        write_head(
            &mut out,
            StatusCode::OK,
            &r,
            Some(2),
            false,
            true,
            false,
            date,
            &[],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 19:00:00 GMT\r\n\
             content-type: text/plain; charset=utf-8\r\nx-a: 1\r\ncontent-length: 2\r\n\r\n"
        );
        let mut out = Vec::new();
        let r = Response::text("hi");
        assert!(r.trusted());
        write_head(
            &mut out,
            StatusCode::OK,
            &r,
            Some(2),
            false,
            false,
            false,
            date,
            &[],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 19:00:00 GMT\r\n\
             content-type: text/plain; charset=utf-8\r\ncontent-length: 2\r\n\
             connection: close\r\n\r\n"
        );
    }
}
