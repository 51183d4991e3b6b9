//! The tokio driver: one [`Connection`] (server role) per socket, one future per stream,
//! all polled by the connection's task (no spawning, no `Send` needed: handler futures
//! may hold the request arena across `.await`s, as on HTTP/1.1). The socket loop is the
//! one both roles share (`common::h2_io`); this driver adds the stream futures, the
//! shutdown signal and the linger-close.
//!
//! Stream futures live in reused slots (`StreamSlots`), so a warmed connection serves
//! requests without heap allocation (up to `max_concurrent_streams` slots of one future's
//! size each are kept until the connection closes). A stream future waiting on the
//! connection parks its slot's waker beside the connection, woken by the connection's
//! events. Responses carry trailers as a final HEADERS frame.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io::{self, Read as _, Seek as _};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::select;
use futures_util::task::AtomicWaker;
use futures_util::StreamExt as _;
use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaPool, HeaderList};
use shockwave_http11::DateCache;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::watch;

use super::state::WorkerState;
use super::stats::{inc, WorkerCounters};
use super::worker::Peek;
use crate::common::budget::{ConnBudget, WorkerBudget};
use crate::common::fields::{is_connection_specific, prepare_response, status_bytes};
use crate::common::h2_io::{self, H2State, Options, Side};
use crate::common::linger::linger_close;
use crate::common::pipeline::{
    call_handler, count_response, request_scheme, resolve_trailers, simple_fields, trailer_section,
};
use crate::common::rate::{MinDataRate, RateTimer};
use crate::common::tunnel::{self, TunnelPort};
use crate::http2::{Connection, ErrorCode, Event, FieldBlock, Http2Config, StreamError, StreamId};
use crate::service::upgrade::{UpgradeFn, UpgradeSlot, Upgraded};
use crate::service::{
    Body, BodyError, BodySource, Handler, Headers, Request, RequestContext, RequestParts, Response,
    ResponseBody, Scheme, TlsInfo, Trailers,
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
    /// What the connection's TLS handshake negotiated (`None` on cleartext), given to
    /// every request's [`RequestContext::tls_info`].
    pub tls_info: Option<&'c TlsInfo>,
    /// Where the `date` field comes from (e.g. the worker's cached value, see
    /// [`cached_date`]); `None` sends no `date` field.
    pub date: Option<&'c dyn Fn() -> [u8; 29]>,
    /// When it turns true: GOAWAY, finish the open streams, close.
    pub shutdown: Option<watch::Receiver<bool>>,
    pub(crate) counters: Option<&'c WorkerCounters>,
    /// The worker's request-body budget (`None`: only the connection's own).
    pub(crate) worker_budget: Option<&'c WorkerBudget>,
    /// Request-body bytes the connection may hold before it withholds credit.
    pub(crate) conn_budget: u64,
    /// Slowest request body accepted (see `Timeouts::min_request_body_rate`).
    pub(crate) min_body_rate: Option<MinDataRate>,
    /// Slowest response reader served (see `Timeouts::min_response_rate`).
    pub(crate) min_response_rate: Option<MinDataRate>,
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
            tls_info: None,
            date: None,
            shutdown: None,
            counters: None,
            worker_budget: None,
            conn_budget: u64::MAX,
            min_body_rate: None,
            min_response_rate: None,
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
    // The codec reads no clock: the caller passes the time in.
    c.refresh(std::time::SystemTime::now());
    let v = c.header_value();
    let n = v.len().min(29);
    out[..n].copy_from_slice(&v[..n]);
    out
}

/// What the first bytes of a cleartext connection said (see [`sniff_preface`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// The 24-byte HTTP/2 client preface arrived: serve HTTP/2 (h2c with prior knowledge).
    Http2,
    /// Bytes that are not the preface arrived: serve HTTP/1.1.
    Http1,
    /// The peer closed (or the socket failed) before the bytes decided: close.
    Closed,
    /// Nothing decided within the timeout (silent, or a partial preface): close.
    TimedOut,
}

/// Waits for the first bytes of a cleartext connection and tells whether they are the
/// HTTP/2 client preface (h2c with prior knowledge, RFC 9113 §3.3). Only peeks: nothing is
/// consumed. Decides as soon as the bytes diverge from the preface (HTTP/1.1) or all 24
/// arrived (HTTP/2); a peer that stays silent or stops inside the preface gets
/// [`Sniffed::TimedOut`] after `timeout` — give it the header-read timeout (slowloris).
///
/// The wait is event-driven: while a partial preface sits in the socket, the task sleeps
/// until the peer sends more (no polling), so idle half-prefaces cost no CPU.
pub async fn sniff_preface(
    stream: &tokio::net::TcpStream,
    timeout: std::time::Duration,
) -> Sniffed {
    let mut wakeups = 0;
    sniff_counted(stream, timeout, &mut wakeups).await
}

/// [`sniff_preface`], counting its wake-ups in `wakeups` (tests check that a stalled
/// partial preface does not wake the task again and again).
async fn sniff_counted<S: Peek>(
    stream: &S,
    timeout: std::time::Duration,
    wakeups: &mut u32,
) -> Sniffed {
    tokio::time::timeout(timeout, sniff_until_decided(stream, wakeups))
        .await
        .unwrap_or(Sniffed::TimedOut)
}

/// [`sniff_preface`] for any peekable cleartext stream (TCP or a Unix domain socket).
pub(crate) async fn sniff_stream<S: Peek>(stream: &S, timeout: std::time::Duration) -> Sniffed {
    let mut wakeups = 0;
    sniff_counted(stream, timeout, &mut wakeups).await
}

async fn sniff_until_decided<S: Peek>(stream: &S, wakeups: &mut u32) -> Sniffed {
    let mut buf = [0u8; 24];
    let mut seen = 0usize;
    loop {
        let Ok(ready) = stream.readable().await else {
            return Sniffed::Closed;
        };
        *wakeups += 1;
        // After EOF no more bytes come: decide on what is there.
        let eof = ready.is_read_closed();
        // `peek` leaves the bytes in the socket, so the socket stays readable and a plain
        // `peek().await` would return at once forever. Peeking inside `try_io` and
        // answering `WouldBlock` when no new byte arrived clears tokio's readiness (only
        // if no newer event came in meanwhile): the next `ready()` waits for new data.
        let peeked = stream.try_peek(&mut buf, &|n| n > seen || n == 0 || eof);
        let n = match peeked {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !eof => continue,
            Err(_) => return Sniffed::Closed,
        };
        if n == 0 {
            return Sniffed::Closed;
        }
        if !crate::http2::is_preface_prefix(&buf[..n]) {
            return Sniffed::Http1;
        }
        if n == buf.len() {
            return Sniffed::Http2;
        }
        if eof {
            // A partial preface, then EOF: neither protocol can be served.
            return Sniffed::Closed;
        }
        seen = n;
    }
}

/// A [`ServeContext`] for a connection of a worker: its handler, arena pool, counters,
/// shutdown signal, cached date and the server's HTTP/2 settings and limits.
fn worker_context<'c, H: Handler>(
    st: &'c WorkerState<H>,
    date: &'c dyn Fn() -> [u8; 29],
    scheme: Scheme,
    remote: Option<SocketAddr>,
) -> ServeContext<'c, H> {
    let config = &st.config;
    let mut cx = ServeContext::new(&*st.handler, &st.pool).with_counters(&st.counters);
    cx.max_body_size = config.limits.max_body_size;
    cx.config = config.http2.clone();
    cx.config.idle_timeout = config.timeouts.idle;
    // An unfinished field block is a slow request head: the header-read timeout.
    cx.config.header_block_timeout = Some(config.timeouts.header_read);
    cx.config.max_header_fields = config.limits.max_headers;
    cx.scheme = scheme;
    cx.remote_addr = remote;
    cx.shutdown = Some(st.shutdown.clone());
    cx.date = Some(date);
    cx.worker_budget = Some(&st.body_budget);
    cx.conn_budget = config.limits.max_body_bytes_per_connection;
    cx.min_body_rate = config.timeouts.min_request_body_rate;
    cx.min_response_rate = config.timeouts.min_response_rate;
    cx
}

/// The connection's engine: credit for request-body bytes goes back only when the driver
/// releases them (see [`BodyFlow`]).
fn new_connection<H>(cx: &ServeContext<'_, H>) -> Connection {
    let mut config = cx.config.clone();
    config.release_on_demand = true;
    Connection::new(config)
}

/// Serves `io` as an HTTP/2 connection of the worker `st` (after the preface sniff on
/// the cleartext port, or ALPN `h2` over TLS). `scheme` is the connection's transport.
pub(crate) async fn serve<IO, H>(
    io: IO,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    serve_with_tls(io, st, scheme, remote, None).await
}

/// [`serve`] for a connection whose TLS handshake negotiated `tls` (ALPN `h2`).
pub(crate) async fn serve_with_tls<IO, H>(
    io: IO,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
    tls: Option<&TlsInfo>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let date = || st.date();
    let mut cx = worker_context(st, &date, scheme, remote);
    cx.tls_info = tls;
    if let Err(e) = serve_connection(io, cx, &[]).await {
        tracing::debug!(?remote, error = %e, "HTTP/2 connection error");
    }
}

/// The `Upgrade: h2c` hook of the HTTP/1.1 driver (RFC 7540 §3.2): if `req` asks for h2c
/// with a valid `HTTP2-Settings` and has no body, writes `101 Switching Protocols`, serves
/// the request as stream 1 and the rest of the connection as HTTP/2, and returns `true`.
/// Otherwise returns `false` without touching `io` (serve the request as HTTP/1.1).
pub(crate) async fn upgrade<IO, H>(
    io: &mut IO,
    req: &shockwave_http11::Request<'_>,
    already_read: &[u8],
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: Option<SocketAddr>,
) -> bool
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    // `h2c` names HTTP/2 over cleartext TCP (RFC 9113 §3.1); over TLS the upgrade is
    // ignored (RFC 9110 §7.8) and the request stays on HTTP/1.1, with its TLS details.
    if scheme == Scheme::Https {
        return false;
    }
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
    super::stats::dec(&st.counters.requests);
    let date = || st.date();
    let cx = worker_context(st, &date, scheme, remote);
    let engine = RefCell::new(H2State::new(new_connection(&cx)));
    engine.borrow_mut().conn.upgrade(&settings, head);
    if let Err(e) = drive(io, &cx, &engine, already_read).await {
        tracing::debug!(?remote, error = %e, "HTTP/2 (upgraded) connection error");
    }
    true
}

/// The settings and head of an `Upgrade: h2c` request that can be upgraded: no body, a
/// decodable `HTTP2-Settings`, a valid head once translated (RFC 9113 §8.3.1).
pub(crate) fn upgrade_request(
    req: &shockwave_http11::Request<'_>,
) -> Option<(shockwave_http2_frames::Settings, FieldBlock)> {
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
    let mut head = FieldBlock::default();
    head.push(b":method", req.method().as_str().as_bytes());
    head.push(b":scheme", b"http");
    if let Some(host) = req.host() {
        head.push(b":authority", host);
    }
    head.push(b":path", req.target().as_bytes());
    for (name, value) in req.headers().iter() {
        // Connection-specific fields (incl. `te`) and the upgrade's own fields do not
        // carry over; `host` became `:authority` (RFC 9113 §8.3.1).
        if is_connection_specific(name)
            || name.eq_ignore_ascii_case(b"http2-settings")
            || name.eq_ignore_ascii_case(b"host")
        {
            continue;
        }
        let lower: Vec<u8> = name.to_ascii_lowercase();
        head.push(&lower, value);
    }
    head.validate_request().ok()?;
    Some((settings, head))
}

/// Decodes `HTTP2-Settings`: base64url (RFC 4648 §5; RFC 7540 §3.2.1), trailing `=`
/// tolerated though the field omits them.
fn base64url_decode(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    URL_SAFE_LENIENT.decode_vec(input, out).ok()
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
    let engine = RefCell::new(H2State::new(new_connection(&cx)));
    drive(&mut io, &cx, &engine, already_read).await
}

async fn drive<IO, H>(
    io: &mut IO,
    cx: &ServeContext<'_, H>,
    engine: &RefCell<H2State>,
    already_read: &[u8],
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let cfg = engine.borrow().conn.config().clone();
    let mut rbuf = h2_io::read_buffer(already_read, cfg.read_buffer_size);
    let mut shutdown = cx.shutdown.clone();
    let shutdown_fut = pin!(async move {
        match shutdown.as_mut() {
            Some(rx) => {
                let _ = rx.wait_for(|stop| *stop).await;
            }
            None => std::future::pending::<()>().await,
        }
    });
    let flow = RefCell::new(BodyFlow::new(
        ConnBudget::new(cx.worker_budget, cx.conn_budget),
        &cfg,
    ));
    let flow = &flow;
    let mut side = ServerSide {
        engine,
        flow,
        futs: StreamSlots::new(
            cfg.max_concurrent_streams as usize + 1,
            |inbox: Rc<SlotInbox>| slot_loop(inbox, engine, flow, cx),
        ),
        counters: cx.counters,
        shutdown: shutdown_fut,
        shutdown_seen: false,
    };
    let result = h2_io::run(
        io,
        &mut side,
        &mut rbuf,
        already_read.len(),
        cfg.read_buffer_size,
        Options::server(&cfg),
    )
    .await;
    drop(side);
    if result.is_ok() {
        if rbuf.is_empty() {
            // An idle connection freed its read buffer: lingering needs one.
            rbuf = h2_io::read_buffer(&[], cfg.read_buffer_size);
        }
        let sleep = pin!(tokio::time::sleep(std::time::Duration::ZERO));
        linger_close(io, &mut rbuf, sleep).await;
    }
    result
}

/// The server's part of the socket loop: a new request starts a stream future (or is
/// refused when every slot is taken), the stream futures run on the connection's task,
/// and the shutdown signal says GOAWAY.
struct ServerSide<'a, 'w, F, M, S> {
    engine: &'a RefCell<H2State>,
    flow: &'a RefCell<BodyFlow<'w>>,
    futs: StreamSlots<F, M>,
    counters: Option<&'a WorkerCounters>,
    shutdown: Pin<&'a mut S>,
    shutdown_seen: bool,
}

impl<F, M, S> Side for ServerSide<'_, '_, F, M, S>
where
    F: Future<Output = ()>,
    M: FnMut(Rc<SlotInbox>) -> F,
    S: Future<Output = ()>,
{
    fn state<R>(&mut self, f: impl FnOnce(&mut H2State) -> R) -> R {
        f(&mut self.engine.borrow_mut())
    }

    fn idle(&mut self) {
        self.futs.release_free();
    }

    fn begin(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.shutdown_seen && self.shutdown.as_mut().poll(cx).is_ready() {
            self.shutdown_seen = true;
            self.engine.borrow_mut().conn.go_away();
            return true;
        }
        false
    }

    fn event(&mut self, ev: Event) {
        if let Event::Request { stream_id } = ev {
            if let Some(c) = self.counters {
                inc(&c.requests);
            }
            if !self.futs.push(stream_id) {
                let mut e = self.engine.borrow_mut();
                e.conn.reset(stream_id, ErrorCode::RefusedStream);
                e.release(stream_id);
            }
        }
    }

    fn poll_tasks(&mut self, cx: &mut Context<'_>) -> bool {
        // Body bytes arrived or were released since the last round: refuse or accept new
        // bodies, give withheld credit back once under budget.
        self.flow
            .borrow_mut()
            .rebalance(&mut self.engine.borrow_mut().conn);
        let finished = self.futs.poll(cx);
        // Bodies ended or requests finished while the futures ran.
        self.flow
            .borrow_mut()
            .rebalance(&mut self.engine.borrow_mut().conn);
        finished
    }

    fn has_tasks(&self) -> bool {
        !self.futs.is_empty()
    }
}

/// What a slot's long-lived future is told: the stream to serve next (set by
/// [`StreamSlots::push`]) and, back, that it finished serving it.
#[derive(Default)]
struct SlotInbox {
    next: Cell<Option<StreamId>>,
    finished: Cell<bool>,
}

/// A slot's future: serves the streams given to its slot one after the other, forever.
/// Each stream's future is built inside this one's pinned state, never moved: a stream
/// future is several KiB, and moving one into a slot per request cost more than the rest
/// of the slot bookkeeping.
async fn slot_loop<H: Handler>(
    inbox: Rc<SlotInbox>,
    engine: &RefCell<H2State>,
    flow: &RefCell<BodyFlow<'_>>,
    cx: &ServeContext<'_, H>,
) {
    loop {
        let id = poll_fn(|_| inbox.next.take().map_or(Poll::Pending, Poll::Ready)).await;
        run_stream(engine, flow, id, cx).await;
        inbox.finished.set(true);
    }
}

/// The connection's stream futures, each in a pinned slot that is reused by later streams
/// (a warmed connection allocates nothing per request), polled only when woken: every slot
/// has its own [`Waker`] that queues the slot's index and wakes the connection's task.
/// A slot holds one long-lived future (made by `make` when the slot is created, see
/// [`slot_loop`]) that serves the streams handed to the slot. Safe code only.
struct StreamSlots<F, M> {
    slots: Vec<Slot<F>>,
    free: Vec<usize>,
    /// Occupied slots.
    len: usize,
    /// Most slots (the engine refuses streams beyond its concurrency limit first).
    max: usize,
    ready: Arc<ReadyQueue>,
    /// The indices being polled (swapped with the ready queue; both keep their capacity).
    polling: Vec<usize>,
    /// Makes a new slot's future.
    make: M,
}

struct Slot<F> {
    fut: Pin<Box<F>>,
    inbox: Rc<SlotInbox>,
    wake: Arc<SlotWaker>,
    waker: Waker,
}

#[derive(Default)]
struct ReadyQueue {
    /// Woken slot indices, each at most once (see `SlotWaker::queued`): the capacity
    /// reserved for every slot means pushing never allocates.
    queue: Mutex<Vec<usize>>,
    /// The connection task.
    parent: AtomicWaker,
}

struct SlotWaker {
    index: usize,
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            let mut q = self
                .ready
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            q.push(self.index);
        }
        self.ready.parent.wake();
    }
}

impl<F: Future<Output = ()>, M: FnMut(Rc<SlotInbox>) -> F> StreamSlots<F, M> {
    fn new(max: usize, make: M) -> Self {
        StreamSlots {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            max,
            ready: Arc::new(ReadyQueue::default()),
            polling: Vec::new(),
            make,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every slot while none is occupied (an idle connection keeps no stream
    /// future; the next stream makes a new slot). A wake-up still queued for a dropped
    /// slot finds no slot, or a new one that it polls for nothing.
    fn release_free(&mut self) {
        if self.len == 0 {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    /// Hands stream `id` to a free slot (a new one while fewer than `max` exist).
    /// `false` when every slot is taken (the engine's stream limit prevents it).
    fn push(&mut self, id: StreamId) -> bool {
        let index = match self.free.pop() {
            Some(i) => i,
            None if self.slots.len() < self.max => {
                let index = self.slots.len();
                let wake = Arc::new(SlotWaker {
                    index,
                    queued: AtomicBool::new(false),
                    ready: self.ready.clone(),
                });
                let inbox = Rc::new(SlotInbox::default());
                self.slots.push(Slot {
                    fut: Box::pin((self.make)(inbox.clone())),
                    inbox,
                    waker: Waker::from(wake.clone()),
                    wake,
                });
                let n = self.slots.len();
                let mut q = self.lock();
                let queued = q.len();
                q.reserve(n - queued);
                drop(q);
                self.polling.reserve(n);
                index
            }
            None => return false,
        };
        let slot = &mut self.slots[index];
        slot.inbox.next.set(Some(id));
        self.len += 1;
        slot.waker.wake_by_ref();
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.ready
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Polls the woken slots once each; true if one finished its stream. Futures woken
    /// while being polled wait for the next call (the connection task is woken for them).
    fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        self.ready.parent.register(cx.waker());
        let mut polling = std::mem::take(&mut self.polling);
        std::mem::swap(&mut *self.lock(), &mut polling);
        let mut finished = false;
        for &i in &polling {
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            slot.wake.queued.store(false, Ordering::Release);
            // A slot's future never ends (a free slot waits for its next stream: a stale
            // wake-up polls it for nothing).
            let _ = slot
                .fut
                .as_mut()
                .poll(&mut Context::from_waker(&slot.waker));
            if slot.inbox.finished.take() {
                self.free.push(i);
                self.len -= 1;
                finished = true;
            }
        }
        polling.clear();
        self.polling = polling;
        finished
    }
}

/// The connection's request-body bytes against its budget, and which streams wait for
/// credit the driver withholds.
///
/// Held bytes are the engine's ([`Connection::held_bytes`]: buffered, or read and not
/// released) plus the bytes handlers read whose credit went back already
/// (`released_delivered`): all of them stay in memory until the request finishes. Under
/// budget, credit goes back as a handler reads; over it, it is withheld, every stream's
/// window is shrunk to [`THROTTLED_WINDOW`] (SETTINGS_INITIAL_WINDOW_SIZE, RFC 9113
/// §6.9.2: credit granted and not used yet is taken back once the peer acknowledges), and
/// new body-carrying streams are refused (REFUSED_STREAM, §8.7: safe to retry).
///
/// No deadlock: when every byte held belongs to bodies that are still arriving (none can
/// finish, none can release), one stream, the *leader*, still gets credit until its body
/// ends, so uploads finish one after the other. While a finished body is still held (its
/// handler runs, or its response waits for the peer to read) there is no leader: that
/// request releases its bytes when it finishes, and a peer that does not read its
/// responses is cut by the minimum response rate. When the leader waits, its own window
/// and (once the shrink is acknowledged, so that no other stream can spend it) the
/// connection window are opened for it; the connection credit is an advance that later
/// releases pay back. Withheld credit goes back once the connection and its worker are under
/// budget; time a stream waits for withheld credit does not count against its minimum
/// request-body rate.
struct BodyFlow<'w> {
    budget: ConnBudget<'w>,
    /// The configured stream window (restored once under budget).
    window: u32,
    released_delivered: u64,
    /// Bytes held by requests whose body ended (released when they finish).
    complete_held: u64,
    leader: Option<StreamId>,
    /// Streams whose credit is withheld (each once; capacity for every stream).
    withheld: Vec<StreamId>,
}

impl<'w> BodyFlow<'w> {
    fn new(budget: ConnBudget<'w>, config: &crate::http2::Http2Config) -> Self {
        let streams = config.max_concurrent_streams as usize;
        BodyFlow {
            budget,
            window: config.initial_stream_window,
            released_delivered: 0,
            complete_held: 0,
            leader: None,
            withheld: Vec::with_capacity(streams.min(1024)),
        }
    }

    /// Counts what the connection holds now into the budgets.
    fn sync(&mut self, conn: &Connection) {
        self.budget.set(conn.held_bytes() + self.released_delivered);
    }

    /// Gives back the credit of every byte stream `id` read and did not release.
    fn release(&mut self, conn: &mut Connection, id: StreamId) {
        let n = conn.unreleased(id);
        if n > 0 {
            self.released_delivered += n;
            conn.release_capacity(id, n as usize);
        }
    }

    /// A handler read body bytes of stream `id`: give their credit back, unless over
    /// budget and `id` is not the leader. True if credit is withheld.
    fn on_read(&mut self, conn: &mut Connection, id: StreamId) -> bool {
        self.sync(conn);
        if self.budget.over() {
            match self.leader {
                None if self.complete_held == 0 => self.leader = Some(id),
                Some(l) if l == id => {}
                _ => {
                    if !self.withheld.contains(&id) {
                        self.withheld.push(id);
                    }
                    conn.refuse_bodies(true);
                    return true;
                }
            }
        }
        self.release(conn, id);
        false
    }

    /// Stream `id`'s body ended or its request finished: it leads no more.
    fn done(&mut self, id: StreamId) {
        if self.leader == Some(id) {
            self.leader = None;
        }
        self.withheld.retain(|w| *w != id);
    }

    /// If the leader waits for bytes while the connection window is (nearly) closed by
    /// bytes held on other streams, opens it for the leader (an advance on later
    /// releases).
    fn feed_leader(&mut self, conn: &mut Connection) {
        if let Some(id) = self.leader {
            if conn.buffered(id) > 0 || conn.is_recv_closed(id) {
                return;
            }
            if conn.stream_recv_window(id) < 32 * 1024 {
                conn.grant_stream_credit(id, 64 * 1024);
            }
            // Only once the other streams' windows are shrunk (acknowledged): the peer
            // could spend connection credit on them otherwise.
            if !conn.window_change_pending() && conn.connection_recv_window() < 32 * 1024 {
                conn.grant_connection_credit(64 * 1024);
            }
        }
    }

    /// True while the server holds back credit from stream `id` (over budget and `id`
    /// does not lead): its wait is not the peer's fault.
    fn throttles(&self, id: StreamId) -> bool {
        self.budget.over() && self.leader != Some(id)
    }

    /// Once per round: while over budget refuse new bodies and shrink every stream's
    /// window to [`THROTTLED_WINDOW`] (taking back credit granted and unused, RFC 9113
    /// §6.9.2); once under it, restore the windows and give withheld credit back.
    fn rebalance(&mut self, conn: &mut Connection) {
        self.sync(conn);
        let over = self.budget.over();
        conn.refuse_bodies(over);
        conn.set_initial_stream_window(if over { THROTTLED_WINDOW } else { self.window });
        if !over {
            self.leader = None;
            while let Some(id) = self.withheld.pop() {
                self.release(conn, id);
            }
        } else if self.leader.is_none() && self.complete_held == 0 && !self.withheld.is_empty() {
            // Every byte held belongs to a body still arriving: let the oldest of the
            // waiting ones lead, or none would ever finish.
            let id = self.withheld.remove(0);
            self.leader = Some(id);
            self.release(conn, id);
        }
        self.feed_leader(conn);
    }
}

/// The stream window while a connection is over its body budget: what each stream may
/// still have in flight beyond the leader's.
const THROTTLED_WINDOW: u32 = 16 * 1024;

/// A request body read from the stream's DATA frames, metered against the minimum rate
/// (time the driver withholds credit from the stream does not count).
struct H2Body<'e, 'a, 'w> {
    engine: &'e RefCell<H2State>,
    flow: &'e RefCell<BodyFlow<'w>>,
    /// Bytes the handler read (held until the request finishes).
    delivered: u64,
    /// The body ended (its bytes count in `BodyFlow::complete_held`).
    completed: bool,
    rate: RateTimer,
    id: StreamId,
    content_length: Option<u64>,
    end: bool,
    /// The request arena, where a trailer section is copied when the body ends.
    arena: &'a Arena,
    /// The request's trailer fields (RFC 9113 §8.1), once the body ended.
    trailers: Option<HeaderList<'a>>,
}

impl Drop for H2Body<'_, '_, '_> {
    /// The request finished: the bytes the handler read are released.
    fn drop(&mut self) {
        let (Ok(engine), Ok(mut flow)) = (self.engine.try_borrow(), self.flow.try_borrow_mut())
        else {
            return;
        };
        let released = self
            .delivered
            .saturating_sub(engine.conn.unreleased(self.id));
        flow.released_delivered = flow.released_delivered.saturating_sub(released);
        if self.completed {
            flow.complete_held = flow.complete_held.saturating_sub(self.delivered);
        }
        flow.done(self.id);
        flow.sync(&engine.conn);
    }
}

impl H2Body<'_, '_, '_> {
    /// At the end of the body: moves the trailer section the engine kept (already
    /// checked: no pseudo-headers, lowercase names) into the request arena. A section
    /// that does not fit the arena's limit is dropped rather than failing the body.
    fn finish(&mut self) {
        self.end = true;
        let mut engine = self.engine.borrow_mut();
        if let Some(head) = engine.conn.take_trailers(self.id) {
            self.trailers = head.copy_into(self.arena).ok().map(|h| h.headers);
            engine.conn.recycle_head(head);
        }
    }
}

impl BodySource for H2Body<'_, '_, '_> {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, BodyError>> {
        if self.end || buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let read = self.engine.borrow_mut().poll_read(self.id, cx, buf);
        match read {
            Poll::Ready(Ok(0)) => {
                let mut flow = self.flow.borrow_mut();
                flow.done(self.id);
                if !std::mem::replace(&mut self.completed, true) {
                    flow.complete_held += self.delivered;
                }
                drop(flow);
                self.finish();
                Poll::Ready(Ok(0))
            }
            Poll::Ready(Ok(n)) => {
                self.rate.progress(n);
                self.delivered += n as u64;
                let mut engine = self.engine.borrow_mut();
                self.flow.borrow_mut().on_read(&mut engine.conn, self.id);
                // Credit may have been queued: the loop writes it after this round.
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Err(BodyError::Closed)),
            Poll::Pending => {
                let withheld = {
                    let mut engine = self.engine.borrow_mut();
                    let mut flow = self.flow.borrow_mut();
                    flow.feed_leader(&mut engine.conn);
                    flow.throttles(self.id) || engine.conn.unreleased(self.id) > 0
                };
                if withheld {
                    // The server holds the credit back: the peer is not the one waiting.
                    self.rate.pause();
                } else if self.rate.poll_too_slow(cx) {
                    // Slow POST: below the minimum rate (RST_STREAM CANCEL, §7).
                    self.engine
                        .borrow_mut()
                        .conn
                        .reset(self.id, ErrorCode::Cancel);
                    return Poll::Ready(Err(BodyError::Timeout));
                }
                Poll::Pending
            }
        }
    }

    fn readable_hint(&self) -> usize {
        self.engine.borrow().conn.buffered(self.id)
    }

    fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    fn is_end(&self) -> bool {
        self.end
    }

    fn trailers(&self) -> Option<Headers<'_>> {
        self.trailers.as_ref().map(Headers::from_list)
    }
}

/// One stream: build the request in an arena, call the handler, send the response.
/// Cancelled (the handler future dropped) as soon as the stream is reset.
async fn run_stream<H: Handler>(
    engine: &RefCell<H2State>,
    flow: &RefCell<BodyFlow<'_>>,
    id: StreamId,
    cx: &ServeContext<'_, H>,
) {
    // Set when the response head is queued: a stream that ends before (the peer reset it
    // or closed the connection) counts as cancelled, not as a response — the handler may
    // have produced one (e.g. a `400` for the body it could not read), but it was never sent.
    let answered = Cell::new(false);
    let work = serve_stream(engine, flow, id, cx, &answered);
    let reset = poll_fn(|tcx| engine.borrow_mut().poll_reset(id, tcx));
    let _ = select(pin!(work), pin!(reset)).await;
    if !answered.get() {
        if let Some(c) = cx.counters {
            inc(&c.requests_cancelled);
        }
    }
    engine.borrow_mut().release(id);
}

async fn serve_stream<H: Handler>(
    engine: &RefCell<H2State>,
    flow: &RefCell<BodyFlow<'_>>,
    id: StreamId,
    cx: &ServeContext<'_, H>,
    answered: &Cell<bool>,
) {
    // The request's arena and borrows end with `serve_request`; a tunnel outlives them.
    if let Some(callback) = serve_request(engine, flow, id, cx, answered).await {
        run_tunnel(engine, id, cx, callback).await;
    }
}

/// Serves one request; `Some` with the handler's upgrade callback when the request was a
/// CONNECT the handler took as a tunnel (its 2xx head is sent, without END_STREAM).
async fn serve_request<H: Handler>(
    engine: &RefCell<H2State>,
    flow: &RefCell<BodyFlow<'_>>,
    id: StreamId,
    cx: &ServeContext<'_, H>,
    answered: &Cell<bool>,
) -> Option<UpgradeFn> {
    let head = engine.borrow_mut().conn.take_head(id)?;
    let arena = cx.pool.get();
    let copied = head.copy_into(&arena);
    let end_stream = head.end_stream();
    let content_length = head.content_length();
    engine.borrow_mut().conn.recycle_head(head);
    let Ok(ah) = copied else {
        let _ = simple_response(
            engine,
            id,
            cx,
            answered,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        );
        return None;
    };
    let list = ah.headers;
    let method = Method::from_bytes(ah.method).ok();
    // CONNECT (RFC 9113 §8.5) has no :path: its target is the authority. An extended
    // CONNECT (RFC 8441 §4, only ever accepted with
    // `Http2Config::enable_connect_protocol`) has a :path and a :protocol.
    let is_connect = method.as_ref() == Some(&Method::CONNECT);
    let target = match (ah.path, is_connect) {
        (Some(p), _) => std::str::from_utf8(p).ok(),
        (None, true) => ah.authority.and_then(|a| std::str::from_utf8(a).ok()),
        (None, false) => None,
    };
    let protocol = ah.protocol.and_then(|p| std::str::from_utf8(p).ok());
    let (Some(method), Some(target)) = (method, target) else {
        // A non-UTF-8 path or authority, or a bad method token, is a bad request.
        let _ = simple_response(engine, id, cx, answered, StatusCode::BAD_REQUEST);
        return None;
    };
    let authority = ah
        .authority
        .or_else(|| list.get(b"host"))
        .and_then(|a| std::str::from_utf8(a).ok());
    let scheme = request_scheme(ah.scheme, cx.scheme);
    let is_head = method == Method::HEAD;
    let request = Request::from_parts(RequestParts {
        method,
        target,
        authority,
        scheme,
        version: Version::HTTP_2,
        headers: Headers::from_list(&list),
        remote_addr: cx.remote_addr,
    })
    .with_tls_info(cx.tls_info)
    .with_protocol(protocol);
    let mut source = H2Body {
        engine,
        flow,
        delivered: 0,
        completed: false,
        rate: RateTimer::new(cx.min_body_rate),
        id,
        content_length,
        end: end_stream,
        arena: &arena,
        trailers: None,
    };
    // A CONNECT's DATA frames are the tunnel's bytes, read through the `Upgraded`
    // stream, not a request body (exempt from the body size limit and minimum rate).
    let body = if end_stream || is_connect {
        Body::empty(&arena)
    } else {
        Body::new(&mut source, &arena, cx.max_body_size)
    };
    let slot = UpgradeSlot::connect();
    let mut rcx = RequestContext::new(request, &arena, body);
    let tunnelable = is_connect && !end_stream && !stopping(cx);
    if tunnelable {
        rcx = rcx.with_upgrade(&slot);
    }
    let mut response = call_handler(cx.handler, rcx, cx.counters, u64::from(id.value())).await;
    if is_connect {
        match slot.take_if_accepted(response.status()) {
            Some(callback) if !stopping(cx) => {
                let date = cx.date.map(|d| d());
                let prepared =
                    prepare_response(&arena, response, true, date.as_ref().map(|d| &d[..]))?;
                if !prepared.status.is_success() {
                    // The response was invalid (a 500 replaced it): no tunnel.
                    let _ = simple_response(engine, id, cx, answered, prepared.status);
                    return None;
                }
                // RFC 9110 §9.3.6: no Content-Length in a 2xx to CONNECT; the stream
                // stays open (no END_STREAM) and carries the tunnel.
                let sent = engine.borrow_mut().conn.send_headers(
                    id,
                    prepared
                        .fields
                        .iter()
                        .copied()
                        .filter(|(n, _)| *n != b"content-length"),
                    false,
                );
                if sent.is_err() {
                    return None;
                }
                answered_with(cx, answered, prepared.status);
                return Some(callback);
            }
            _ if response.status().is_success() => {
                // A 2xx without a tunnel would tell the client one exists.
                tracing::error!("a 2xx to CONNECT without on_upgrade; answering 500");
                response = Response::new(StatusCode::INTERNAL_SERVER_ERROR);
            }
            _ => {}
        }
    }
    let _ = send_response(engine, id, cx, answered, &arena, response, is_head).await;
    None
}

/// True once the server began a graceful shutdown.
fn stopping<H>(cx: &ServeContext<'_, H>) -> bool {
    cx.shutdown.as_ref().is_some_and(|rx| *rx.borrow())
}

/// Most bytes a tunnel's application may have written and the connection not yet taken
/// (beyond it, writes wait: back-pressure from the peer's flow-control window).
const TUNNEL_OUT_CAP: usize = 64 * 1024;

/// A CONNECT stream after its 2xx: runs the handler's callback with the tunnel and pumps
/// the stream's DATA both ways (see [`crate::common::tunnel`]) until both directions
/// ended, the callback dropped the tunnel (RST_STREAM CANCEL if unfinished), or the
/// stream failed. Flow-control credit goes back as the callback reads; the tunnel has no
/// size limit and no minimum rate.
async fn run_tunnel<H>(
    engine: &RefCell<H2State>,
    id: StreamId,
    cx: &ServeContext<'_, H>,
    callback: UpgradeFn,
) {
    let (io, port) = tunnel::pair(TUNNEL_OUT_CAP);
    let upgraded = Upgraded::new(Box::new(io), Vec::new(), cx.shutdown.clone());
    // The callback runs under a panic guard, as handlers do: a panic drops its future
    // (and so the tunnel: the stream is reset), not the connection's other streams.
    let panicked = || {
        if let Some(c) = cx.counters {
            inc(&c.handler_panics);
        }
        tracing::error!(stream = id.value(), "upgrade callback panicked");
    };
    let mut app = match std::panic::catch_unwind(AssertUnwindSafe(|| callback(upgraded))) {
        Ok(fut) => Some(fut),
        Err(_) => {
            panicked();
            None
        }
    };
    let guarded = poll_fn(|tcx| {
        let Some(fut) = app.as_mut() else {
            return Poll::Ready(());
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(tcx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                app = None;
                Poll::Ready(())
            }
            Err(_) => {
                app = None;
                panicked();
                Poll::Ready(())
            }
        }
    });
    let pump = poll_fn(|tcx| pump_tunnel(engine, id, &port, tcx));
    // The callback may outlive the pump (it may have moved the tunnel elsewhere, or
    // still be closing it), and the reverse; the stream is released when both ended.
    futures_util::future::join(guarded, pump).await;
    drop(port);
}

/// One round of a tunnel's pump; `Ready` when the stream is done.
fn pump_tunnel(
    engine: &RefCell<H2State>,
    id: StreamId,
    port: &TunnelPort,
    tcx: &mut Context<'_>,
) -> Poll<()> {
    let mut t = port.lock(tcx);
    let mut e = engine.borrow_mut();
    if t.broken {
        return Poll::Ready(());
    }
    // Credit for what the application read (never for bytes merely received).
    let consumed = t.take_consumed();
    if consumed > 0 {
        e.conn.release_capacity(id, consumed);
    }
    // Peer → application, up to the tunnel's inbound cap.
    let mut chunk = [0u8; 16 * 1024];
    while !t.in_eof && t.inbound.len() < tunnel::INBOUND_CAP {
        let room = (tunnel::INBOUND_CAP - t.inbound.len()).min(chunk.len());
        match e.poll_read(id, tcx, &mut chunk[..room]) {
            Poll::Ready(Ok(0)) => {
                t.in_eof = true;
                t.wake_reader();
            }
            Poll::Ready(Ok(n)) => {
                t.inbound.extend_from_slice(&chunk[..n]);
                t.wake_reader();
            }
            Poll::Ready(Err(_)) => {
                t.broken = true;
                t.wake_reader();
                t.wake_writer();
                return Poll::Ready(());
            }
            Poll::Pending => break,
        }
    }
    // Application → peer, as flow control allows.
    while !t.outbound.is_empty() {
        match e.poll_send(id, tcx, &t.outbound, false) {
            Poll::Ready(Ok(n)) => {
                bytes::Buf::advance(&mut t.outbound, n);
                t.wake_writer();
            }
            Poll::Ready(Err(_)) => {
                t.broken = true;
                t.wake_reader();
                t.wake_writer();
                return Poll::Ready(());
            }
            Poll::Pending => break,
        }
    }
    if t.outbound.is_empty() && t.out_shutdown && !t.fin_sent {
        match e.poll_send(id, tcx, &[], true) {
            Poll::Ready(Ok(_)) => {
                t.fin_sent = true;
                t.wake_writer();
            }
            Poll::Ready(Err(_)) => {
                t.broken = true;
                t.wake_reader();
                t.wake_writer();
                return Poll::Ready(());
            }
            Poll::Pending => {}
        }
    }
    if t.app_dropped {
        if !(t.fin_sent && t.in_eof) {
            // After our END_STREAM (the application shut its side down: a TCP FIN, RFC
            // 8441 §5) the peer may stop sending without error (RFC 9113 §8.1), and keeps
            // what we sent; a tunnel dropped before that is aborted (CANCEL: a TCP RST).
            let code = if t.fin_sent {
                ErrorCode::NoError
            } else {
                ErrorCode::Cancel
            };
            e.conn.reset(id, code);
        }
        return Poll::Ready(());
    }
    if t.finished() {
        return Poll::Ready(());
    }
    // Woken by the application (the port's waker) or the connection (the stream's).
    e.park(id, tcx);
    Poll::Pending
}

fn simple_response<H>(
    engine: &RefCell<H2State>,
    id: StreamId,
    cx: &ServeContext<'_, H>,
    answered: &Cell<bool>,
    status: StatusCode,
) -> Result<(), StreamError> {
    let code = status_bytes(status);
    engine
        .borrow_mut()
        .conn
        .send_headers(id, simple_fields(&code), true)?;
    answered_with(cx, answered, status);
    Ok(())
}

/// A response head was queued: count it (only then: a reset stream's is not sent).
fn answered_with<H>(cx: &ServeContext<'_, H>, answered: &Cell<bool>, status: StatusCode) {
    answered.set(true);
    count_response(cx.counters, status);
}

async fn send_response<'a, H>(
    engine: &RefCell<H2State>,
    id: StreamId,
    cx: &ServeContext<'_, H>,
    answered: &Cell<bool>,
    arena: &'a Arena,
    response: Response<'a>,
    is_head: bool,
) -> Result<(), StreamError> {
    let date = cx.date.map(|d| d());
    let Some(prepared) = prepare_response(arena, response, is_head, date.as_ref().map(|d| &d[..]))
    else {
        return simple_response(engine, id, cx, answered, StatusCode::INTERNAL_SERVER_ERROR);
    };
    let end = prepared.head_only();
    engine
        .borrow_mut()
        .conn
        .send_headers(id, prepared.fields.iter().copied(), end)?;
    answered_with(cx, answered, prepared.status);
    if end {
        return Ok(());
    }
    // Trailers follow the body (RFC 9113 §8.1): the last DATA frame then goes without
    // END_STREAM and a HEADERS frame ends the stream.
    let fin = prepared.trailers.is_none();
    // Slow read: the response must move at the minimum rate while it waits on the peer
    // (for flow-control credit, or for the socket to drain).
    let rate = &mut RateTimer::new(cx.min_response_rate);
    send_body(engine, id, arena, prepared.body, fin, rate).await?;
    if !fin {
        send_trailers(engine, id, arena, prepared.trailers, cx.counters, rate).await?;
    }
    Ok(())
}

/// Sends a response body; `fin`: END_STREAM on its last DATA frame (no trailers follow).
async fn send_body<'a>(
    engine: &RefCell<H2State>,
    id: StreamId,
    arena: &'a Arena,
    body: ResponseBody<'a>,
    fin: bool,
    rate: &mut RateTimer,
) -> Result<(), StreamError> {
    match body {
        ResponseBody::Empty => send_all(engine, id, &[], fin, rate).await,
        ResponseBody::Slice(s) => send_all(engine, id, s, fin, rate).await,
        ResponseBody::Bytes(b) => send_all(engine, id, &b, fin, rate).await,
        ResponseBody::File(mut f) => {
            let chunk = match arena.alloc_zeroed(16 * 1024) {
                Ok(c) => c,
                Err(_) => {
                    engine.borrow_mut().conn.reset(id, ErrorCode::InternalError);
                    return Ok(());
                }
            };
            let mut left = f.len;
            if f.file.seek(io::SeekFrom::Start(f.offset)).is_err() {
                engine.borrow_mut().conn.reset(id, ErrorCode::InternalError);
                return Ok(());
            }
            while left > 0 {
                let want = chunk.len().min(left as usize);
                let n = match f.file.read(&mut chunk[..want]) {
                    Ok(0) | Err(_) => {
                        engine.borrow_mut().conn.reset(id, ErrorCode::InternalError);
                        return Ok(());
                    }
                    Ok(n) => n,
                };
                left -= n as u64;
                send_all(engine, id, &chunk[..n], fin && left == 0, rate).await?;
            }
            Ok(())
        }
        ResponseBody::Stream(mut s) => {
            while let Some(item) = s.next().await {
                match item {
                    Ok(chunk) => {
                        if !chunk.is_empty() {
                            send_all(engine, id, &chunk, false, rate).await?;
                        }
                    }
                    Err(_) => {
                        engine.borrow_mut().conn.reset(id, ErrorCode::InternalError);
                        return Ok(());
                    }
                }
            }
            send_all(engine, id, &[], fin, rate).await
        }
    }
}

/// Sends the trailer section: a HEADERS frame with END_STREAM, after the body, with the
/// fields the pipeline keeps ([`trailer_section`]: filtered, lowercased as RFC 9113
/// §8.2.1 requires); when none is left, an empty DATA frame ends the stream instead. A
/// deferred section is awaited first under the pipeline's panic guard (a panic is counted
/// and the stream reset with `INTERNAL_ERROR`; the stream's reset cancels the wait).
async fn send_trailers<'a>(
    engine: &RefCell<H2State>,
    id: StreamId,
    arena: &'a Arena,
    trailers: Trailers<'a>,
    counters: Option<&WorkerCounters>,
    rate: &mut RateTimer,
) -> Result<(), StreamError> {
    let map;
    let section = match trailers {
        Trailers::None => Ok(&[][..]),
        Trailers::Fields(list) => trailer_section(arena, list.iter().copied()),
        Trailers::Deferred(mut fut) => {
            let Some(m) = resolve_trailers(&mut fut, counters, u64::from(id.value())).await else {
                engine.borrow_mut().conn.reset(id, ErrorCode::InternalError);
                return Ok(());
            };
            map = m;
            trailer_section(
                arena,
                map.iter()
                    .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
            )
        }
    };
    let Ok(fields) = section else {
        engine.borrow_mut().conn.reset(id, ErrorCode::InternalError);
        return Ok(());
    };
    if fields.is_empty() {
        return send_all(engine, id, &[], true, rate).await;
    }
    engine
        .borrow_mut()
        .conn
        .send_headers(id, fields.iter().copied(), true)
}

async fn send_all(
    engine: &RefCell<H2State>,
    id: StreamId,
    data: &[u8],
    end_stream: bool,
    rate: &mut RateTimer,
) -> Result<(), StreamError> {
    if data.is_empty() && !end_stream {
        return Ok(());
    }
    let mut off = 0;
    loop {
        let n = poll_fn(|tcx| {
            let sent = engine
                .borrow_mut()
                .poll_send(id, tcx, &data[off..], end_stream);
            match sent {
                Poll::Pending if rate.poll_too_slow(tcx) => {
                    // Slow read: below the minimum rate (RST_STREAM CANCEL, §7).
                    engine.borrow_mut().conn.reset(id, ErrorCode::Cancel);
                    Poll::Ready(Err(StreamError::Reset(ErrorCode::Cancel)))
                }
                Poll::Ready(Ok(n)) => {
                    rate.progress(n);
                    Poll::Ready(Ok(n))
                }
                other => other,
            }
        })
        .await?;
        off += n;
        if off >= data.len() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sniff_counted` on an accepted connection after `client` wrote to its end.
    fn sniff_with(client: impl FnOnce(&mut std::net::TcpStream), wait_ms: u64) -> (Sniffed, u32) {
        use std::io::Write as _;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            client(&mut peer);
            peer.flush().unwrap();
            let mut wakeups = 0;
            let timeout = std::time::Duration::from_millis(wait_ms);
            let sniffed = sniff_counted(&stream, timeout, &mut wakeups).await;
            drop(peer);
            (sniffed, wakeups)
        })
    }

    #[test]
    fn a_stalled_partial_preface_sleeps_until_the_timeout() {
        use std::io::Write as _;
        let (sniffed, wakeups) = sniff_with(|p| p.write_all(b"PRI * HTTP/2.0\r\n").unwrap(), 300);
        assert_eq!(sniffed, Sniffed::TimedOut);
        // One wake-up to see the bytes, one to find nothing new (which clears the
        // readiness); then none until the timeout. Polling every millisecond made ~300.
        assert!(wakeups <= 3, "{wakeups} wake-ups");
    }

    #[test]
    fn the_first_bytes_decide() {
        use std::io::Write as _;
        let (sniffed, _) = sniff_with(|_| {}, 50);
        assert_eq!(sniffed, Sniffed::TimedOut, "silent");
        let (sniffed, _) = sniff_with(|p| p.write_all(PREFACE_BYTES).unwrap(), 5000);
        assert_eq!(sniffed, Sniffed::Http2);
        let (sniffed, _) = sniff_with(
            |p| {
                p.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n plus")
                    .unwrap()
            },
            5000,
        );
        assert_eq!(sniffed, Sniffed::Http2, "more than the preface");
        let (sniffed, _) = sniff_with(|p| p.write_all(b"GET / HTTP/1.1\r\n").unwrap(), 5000);
        assert_eq!(sniffed, Sniffed::Http1);
        let (sniffed, _) = sniff_with(|p| p.write_all(b"PRI * HTTP/2.1").unwrap(), 5000);
        assert_eq!(sniffed, Sniffed::Http1, "diverges late");
        let (sniffed, _) = sniff_with(|p| p.shutdown(std::net::Shutdown::Write).unwrap(), 5000);
        assert_eq!(sniffed, Sniffed::Closed, "EOF");
        let (sniffed, wakeups) = sniff_with(
            |p| {
                p.write_all(b"PRI * HTTP").unwrap();
                p.shutdown(std::net::Shutdown::Write).unwrap();
            },
            5000,
        );
        assert_eq!(sniffed, Sniffed::Closed, "partial preface, then EOF");
        assert!(wakeups <= 3, "{wakeups} wake-ups");
    }

    #[test]
    fn a_preface_in_pieces_wakes_the_sniff_for_each() {
        use std::io::Write as _;
        let (sniffed, wakeups) = sniff_with(
            |p| {
                let mut p = p.try_clone().unwrap();
                std::thread::spawn(move || {
                    for piece in PREFACE_BYTES.chunks(7) {
                        p.write_all(piece).unwrap();
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                });
            },
            5000,
        );
        assert_eq!(sniffed, Sniffed::Http2);
        assert!(wakeups <= 2 * 4 + 1, "{wakeups} wake-ups for 4 pieces");
    }

    const PREFACE_BYTES: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    #[test]
    fn stream_slots_are_reused_and_bounded() {
        // Odd ids finish at once, even ids never: a slot's future serves its streams one
        // after the other.
        let served = Rc::new(RefCell::new(Vec::new()));
        let log = served.clone();
        let make = move |inbox: Rc<SlotInbox>| {
            let log = log.clone();
            async move {
                loop {
                    let id =
                        poll_fn(|_| inbox.next.take().map_or(Poll::Pending, Poll::Ready)).await;
                    log.borrow_mut().push(id.value());
                    if id.value() % 2 == 0 {
                        std::future::pending::<()>().await;
                    }
                    inbox.finished.set(true);
                }
            }
        };
        let mut slots = StreamSlots::new(2, make);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(slots.push(StreamId::new(2)));
        assert!(slots.push(StreamId::new(1)));
        assert!(!slots.push(StreamId::new(3)), "both slots are taken");
        assert!(slots.poll(&mut cx), "stream 1 finished");
        assert!(!slots.is_empty());
        // Nothing woken: nothing polled, nothing finished.
        assert!(!slots.poll(&mut cx));
        // The freed slot is reused, no new one is made.
        assert!(slots.push(StreamId::new(5)));
        assert_eq!(slots.slots.len(), 2);
        assert!(slots.poll(&mut cx));
        // A stale wake-up of a free slot is harmless.
        slots.slots[1].waker.wake_by_ref();
        assert!(!slots.poll(&mut cx));
        assert_eq!(slots.len, 1);
        assert_eq!(*served.borrow(), [2, 1, 5]);
    }

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
        // The URL-safe alphabet's `-` and `_`; trailing padding tolerated.
        out.clear();
        base64url_decode(b"-_8=", &mut out).unwrap();
        assert_eq!(out, [0xfb, 0xff]);
    }
}
