//! The HTTP/3 server driver: quinn endpoints on current-thread runtimes (one per worker
//! thread), one local task per connection and per request stream that has to wait (a
//! request answered in its first poll is served within the connection's task), so
//! handler futures need not be `Send` and may hold the request's arena across
//! `.await`s — exactly as on HTTP/1.1 and HTTP/2.
//!
//! Per connection: our control stream opens with SETTINGS (max field section size, QPACK
//! table capacity and blocked streams), a QPACK decoder stream carries acknowledgments
//! when the dynamic table is enabled, and the peer's control and QPACK streams are read
//! as they arrive. Per request stream: an arena from the worker's pool receives the
//! QPACK-decoded fields, the request is checked (RFC 9114 §4.1.2, §4.3.1), the
//! [`Handler`] runs with its body streamed from DATA frames (trailers are decoded and
//! checked and handed to the handler's body), and the response goes out as HEADERS +
//! DATA, then the response trailers as a second HEADERS frame (RFC 9114 §4.1). A handler
//! panic becomes a `500`.
//!
//! Errors (RFC 9114 §8): connection errors (`H3_FRAME_UNEXPECTED`, `H3_MISSING_SETTINGS`,
//! `QPACK_DECOMPRESSION_FAILED`, a closed critical stream, ...) close the connection with
//! their code; stream errors (`H3_MESSAGE_ERROR`, `H3_REQUEST_INCOMPLETE`) reset the
//! request stream with theirs; a header section above the limit is answered `431`.
//!
//! Graceful shutdown: GOAWAY with the first unprocessed stream ID, later request streams
//! are rejected with `H3_REQUEST_REJECTED`, in-flight ones finish (up to
//! [`Http3Config::shutdown_grace`]), then `CONNECTION_CLOSE` with `H3_NO_ERROR`.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{Read as _, Seek as _};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt as _, StreamExt as _};
use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaError, HeaderList, PoolConfig};
use shockwave_quic::control::{ControlEvent, ControlStream};
use shockwave_quic::frame::{self, FrameLimits, Settings};
use shockwave_quic::qpack::{Decoded, Decoder, Encoder};
use shockwave_quic::request::RequestStream;
use shockwave_quic::stream::{self as h3stream, PeerUniStreams, Role, UniStreamKind};
use shockwave_quic::{message, Error as H3Error, ErrorCode, Scope};
use tokio::sync::{watch, Notify};

use super::stats::{dec, inc, WorkerCounters};
use super::worker::{spawn_ticker, WorkerState};
use super::{ServerStats, StatsSource};
use crate::common::fields::{prepare_response, status_bytes, PreparedResponse};
use crate::common::h3_reader::{Ev, MessageReader, ReadFail};
use crate::common::pipeline::{
    self, call_handler, request_scheme, resolve_trailers, simple_fields, trailer_section,
};
use crate::http3::{varint, Http3Config};
use crate::service::{
    Body, BodyError, BodySource, Handler, Headers, Request, RequestContext, RequestParts, Response,
    ResponseBody, Scheme, Trailers,
};

/// Bodies up to this size are sent in the same write as the HEADERS frame.
const COALESCE_BODY: usize = 16 * 1024;

/// An HTTP/3-only [`Server`](crate::server::Server): a UDP address, a TLS configuration,
/// limits and worker threads. Kept for compatibility: it builds the one `Server` with only
/// an HTTP/3 address (use [`ServerBuilder::bind_h3`](crate::server::ServerBuilder::bind_h3)
/// to serve HTTP/3 beside HTTP/1.1 and HTTP/2 from one server).
///
/// ```no_run
/// use shockwave::server::Http3Server;
/// use shockwave::server::{handler_fn, Response};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = shockwave::server::tls::self_signed(&["localhost"])?;
/// let handle = Http3Server::new("127.0.0.1:0".parse()?, tls.config)
///     .start(handler_fn(async |_cx| Response::text("hi")))?;
/// println!("{}", handle.local_addr());
/// handle.stop()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Http3Server {
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    config: Http3Config,
    workers: usize,
    arena: PoolConfig,
}

impl Http3Server {
    /// A server for UDP address `addr` (`:0` picks a port) with this TLS configuration
    /// (its ALPN list is replaced by `h3`), one worker and default limits.
    pub fn new(addr: SocketAddr, tls: Arc<rustls::ServerConfig>) -> Self {
        Http3Server {
            addr,
            tls,
            config: Http3Config::default(),
            workers: 1,
            arena: PoolConfig::default(),
        }
    }

    /// Replaces the HTTP/3 and transport limits.
    pub fn config(mut self, config: Http3Config) -> Self {
        self.config = config;
        self
    }

    /// Worker threads, each with its own `SO_REUSEPORT` UDP socket and quinn endpoint
    /// (the kernel keeps a client's packets on one socket). Default 1.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The per-worker arena pool configuration.
    pub fn arena(mut self, arena: PoolConfig) -> Self {
        self.arena = arena;
        self
    }

    /// Binds and starts the workers; returns once the server is listening.
    pub fn start<H: Handler>(self, handler: H) -> std::io::Result<Http3Handle> {
        self.start_shared(Arc::new(handler))
    }

    /// As [`start`](Self::start), with a handler shared with other servers.
    pub fn start_shared<H: Handler>(self, handler: Arc<H>) -> std::io::Result<Http3Handle> {
        let mut config = crate::server::ServerConfig {
            h3_addrs: vec![self.addr],
            tls: Some(self.tls),
            workers: self.workers,
            arena: self.arena,
            handle_signals: false,
            ..Default::default()
        };
        config.limits.max_body_size = self.config.max_body_size;
        config.timeouts.shutdown_grace = self.config.shutdown_grace;
        config.http3 = self.config;
        let inner = crate::server::Server::new(config).start_arc(handler, false)?;
        Ok(Http3Handle {
            local_addr: inner.h3_local_addrs()[0],
            inner,
        })
    }
}

/// Wraps a handler shared with an HTTP/3 server so the HTTP/1.1 and HTTP/2 responses
/// it gives over TLS advertise HTTP/3: `alt-svc: h3=":PORT"; ma=86400` (RFC 7838,
/// RFC 9114 §3.1.1). Responses that already have an `alt-svc` field are left alone.
///
/// ```
/// use std::sync::Arc;
/// use shockwave::server::AltSvc;
/// use shockwave::server::{handler_fn, Response};
///
/// let handler = Arc::new(handler_fn(async |_cx| Response::text("hi")));
/// let advertised = AltSvc::new(handler.clone(), 8443);
/// assert_eq!(advertised.value(), "h3=\":8443\"; ma=86400");
/// ```
#[derive(Debug)]
pub struct AltSvc<H> {
    inner: Arc<H>,
    value: String,
}

impl<H> AltSvc<H> {
    /// Advertises HTTP/3 on UDP `port` in front of `inner`.
    pub fn new(inner: Arc<H>, port: u16) -> Self {
        AltSvc {
            inner,
            value: format!("h3=\":{port}\"; ma=86400"),
        }
    }

    /// The `alt-svc` value sent.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl<H: Handler> Handler for AltSvc<H> {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        let req = cx.request();
        let advertise = req.scheme() == Scheme::Https && req.version() != Version::HTTP_3;
        let mut response = self.inner.call(cx).await;
        if advertise
            && !response
                .header_fields()
                .any(|(n, _)| n.eq_ignore_ascii_case(b"alt-svc"))
        {
            response.push_header(b"alt-svc", self.value.as_bytes());
        }
        response
    }
}

/// A running [`Http3Server`] (a [`ServerHandle`](crate::server::ServerHandle) with one
/// HTTP/3 address).
#[derive(Debug)]
pub struct Http3Handle {
    local_addr: SocketAddr,
    inner: crate::server::ServerHandle,
}

impl Http3Handle {
    /// The UDP address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A snapshot of the counters (requests, responses by class, panics, ...).
    pub fn stats(&self) -> ServerStats {
        self.inner.stats()
    }

    /// A cheap, `Send + Sync` reader of the counters.
    pub fn stats_source(&self) -> StatsSource {
        self.inner.stats_source()
    }

    /// Starts a graceful shutdown (GOAWAY, finish in-flight requests, close).
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// Waits for the workers to finish (after a shutdown).
    pub fn wait(self) -> std::io::Result<()> {
        self.inner.wait()
    }

    /// Shuts down gracefully and waits for the workers.
    pub fn stop(self) -> std::io::Result<()> {
        self.inner.stop()
    }
}

/// Serves HTTP/3 on an existing quinn endpoint (built with
/// [`quic_server_config`]) until `shutdown` turns true, then
/// shuts down gracefully. Must run inside a [`tokio::task::LocalSet`] on a
/// current-thread runtime: connections and requests are `spawn_local`ed.
pub async fn serve<H: Handler>(
    endpoint: quinn::Endpoint,
    handler: Arc<H>,
    config: Http3Config,
    shutdown: watch::Receiver<bool>,
) {
    let mut server = crate::server::ServerConfig::default();
    server.limits.max_body_size = config.max_body_size;
    server.timeouts.shutdown_grace = config.shutdown_grace;
    server.http3 = config;
    let counters = Arc::new(WorkerCounters::default());
    let state = Rc::new(WorkerState::new(
        handler,
        Arc::new(server),
        counters,
        shutdown,
    ));
    state.tick();
    let ticker = spawn_ticker(state.clone());
    run_endpoint(endpoint, state, None).await;
    ticker.abort();
}

/// What a worker's HTTP/3 connections share: the worker's state and the endpoint's
/// connection count (for its graceful shutdown).
struct Shared<H> {
    st: Rc<WorkerState<H>>,
    /// The effective settings ([`ServerConfig::http3`](crate::server::ServerConfig::http3)
    /// with the server's body limit and shutdown grace).
    config: Http3Config,
    /// `None` when serving without a server's stats (the standalone [`serve`]).
    counters: Option<Arc<WorkerCounters>>,
    buffers: RefCell<Vec<Vec<u8>>>,
    connections: Cell<usize>,
    connection_closed: Notify,
}

impl<H> Shared<H> {
    fn new(st: Rc<WorkerState<H>>, counters: Option<Arc<WorkerCounters>>) -> Self {
        let mut config = st.config.http3.clone();
        config.max_body_size = st.config.limits.max_body_size;
        config.shutdown_grace = st.config.timeouts.shutdown_grace;
        Shared {
            config,
            counters,
            st,
            buffers: RefCell::new(Vec::new()),
            connections: Cell::new(0),
            connection_closed: Notify::new(),
        }
    }

    fn take_buffer(&self) -> Vec<u8> {
        self.buffers.borrow_mut().pop().unwrap_or_default()
    }

    fn return_buffer(&self, mut buf: Vec<u8>) {
        let mut pool = self.buffers.borrow_mut();
        if pool.len() < 256 && buf.capacity() <= 256 * 1024 {
            buf.clear();
            pool.push(buf);
        }
    }
}

/// Serves HTTP/3 on a worker's quinn endpoint until the worker's shutdown, then shuts
/// down gracefully (GOAWAY on every connection, in-flight requests finish up to the
/// grace, `CONNECTION_CLOSE`). `counters`: the worker's HTTP/3 counters.
pub(crate) async fn run_endpoint<H: Handler>(
    endpoint: quinn::Endpoint,
    st: Rc<WorkerState<H>>,
    counters: Option<Arc<WorkerCounters>>,
) {
    let shared = Rc::new(Shared::new(st, counters));
    let mut shutdown = shared.st.shutdown.clone();
    loop {
        let incoming = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => break,
            i = endpoint.accept() => i,
        };
        let Some(incoming) = incoming else { break };
        let shared = shared.clone();
        shared.connections.set(shared.connections.get() + 1);
        tokio::task::spawn_local(async move {
            let guard = ConnGuard(shared.clone());
            match incoming.await {
                Ok(conn) => {
                    if let Some(c) = &shared.counters {
                        inc(&c.connections_accepted);
                        inc(&c.connections_active);
                    }
                    serve_connection(conn, shared.clone()).await;
                    if let Some(c) = &shared.counters {
                        dec(&c.connections_active);
                    }
                }
                Err(e) => {
                    if let Some(c) = &shared.counters {
                        inc(&c.tls_handshake_failures);
                    }
                    tracing::debug!(error = %e, "QUIC handshake failed");
                }
            }
            drop(guard);
        });
    }
    // Graceful: each connection sent GOAWAY on the signal; wait for them to finish.
    let deadline = tokio::time::Instant::now() + shared.config.shutdown_grace;
    while shared.connections.get() > 0 {
        let notified = shared.connection_closed.notified();
        if shared.connections.get() == 0
            || tokio::time::timeout_at(deadline, notified).await.is_err()
        {
            break;
        }
    }
    endpoint.close(varint(ErrorCode::NoError), b"shutdown");
    let _ = tokio::time::timeout(Duration::from_millis(500), endpoint.wait_idle()).await;
}

struct ConnGuard<H>(Rc<Shared<H>>);

impl<H> Drop for ConnGuard<H> {
    fn drop(&mut self) {
        self.0
            .connections
            .set(self.0.connections.get().saturating_sub(1));
        self.0.connection_closed.notify_waiters();
    }
}

/// One connection's shared state.
struct Conn<H> {
    shared: Rc<Shared<H>>,
    quic: quinn::Connection,
    decoder: RefCell<Decoder>,
    encoder: RefCell<Encoder>,
    uni: RefCell<PeerUniStreams>,
    /// Request streams waiting for QPACK encoder stream data.
    blocked: RefCell<Vec<(u64, Waker)>>,
    /// Wakes the decoder stream writer.
    decoder_out: Notify,
    peer_settings: Cell<Option<Settings>>,
    requests: Cell<usize>,
    /// Notified as requests finish once GOAWAY went out (`draining`), so the
    /// connection can close after the last one.
    request_done: Notify,
    draining: Cell<bool>,
}

impl<H> Conn<H> {
    /// Closes the connection with the error's code (RFC 9114 §8).
    fn close(&self, e: &H3Error) {
        tracing::debug!(error = %e, "HTTP/3 connection error");
        self.quic
            .close(varint(e.code()), e.code().name().as_bytes());
    }

    /// Wakes the decoder stream writer if there is something to send.
    fn flush_decoder(&self) {
        if self.decoder.borrow().has_decoder_stream_data() {
            self.decoder_out.notify_one();
        }
    }

    /// After encoder stream input: wake the streams it unblocked.
    fn wake_unblocked(&self) {
        let mut decoder = self.decoder.borrow_mut();
        let mut blocked = self.blocked.borrow_mut();
        while let Some(id) = decoder.next_unblocked() {
            if let Some(i) = blocked.iter().position(|(s, _)| *s == id) {
                blocked.swap_remove(i).1.wake();
            }
        }
    }

    /// Ready once stream `id` is no longer blocked on the dynamic table.
    fn poll_unblocked(&self, id: u64, cx: &mut Context<'_>) -> Poll<()> {
        if !self.decoder.borrow().is_blocked(id) {
            return Poll::Ready(());
        }
        let mut blocked = self.blocked.borrow_mut();
        match blocked.iter_mut().find(|(s, _)| *s == id) {
            Some(slot) => slot.1.clone_from(cx.waker()),
            None => blocked.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }

    fn forget_stream(&self, id: u64) {
        let mut decoder = self.decoder.borrow_mut();
        if decoder.is_blocked(id) {
            decoder.cancel_stream(id);
            drop(decoder);
            self.flush_decoder();
        }
        self.blocked.borrow_mut().retain(|(s, _)| *s != id);
    }
}

async fn serve_connection<H: Handler>(quic: quinn::Connection, shared: Rc<Shared<H>>) {
    let config = shared.config.clone();
    let conn = Rc::new(Conn {
        shared,
        quic: quic.clone(),
        decoder: RefCell::new(Decoder::new(config.decoder_config())),
        encoder: RefCell::new(Encoder::new()),
        uni: RefCell::new(PeerUniStreams::new(Role::Server)),
        blocked: RefCell::new(Vec::new()),
        decoder_out: Notify::new(),
        peer_settings: Cell::new(None),
        requests: Cell::new(0),
        request_done: Notify::new(),
        draining: Cell::new(false),
    });
    // Our control stream: stream type, then SETTINGS (RFC 9114 §6.2.1), with a grease
    // setting (§7.2.4.1).
    let mut control = match quic.open_uni().await {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut buf = Vec::with_capacity(64);
    let _ = h3stream::encode_uni_stream_header(UniStreamKind::Control, &mut buf);
    let _ = config
        .decoder_config()
        .settings()
        .encode(Some(quic.stable_id() as u64), &mut buf);
    if control.write_all(&buf).await.is_err() {
        return;
    }
    if config.qpack_max_table_capacity > 0 {
        if let Ok(stream) = quic.open_uni().await {
            tokio::task::spawn_local(decoder_writer(conn.clone(), stream));
        }
    }
    tokio::task::spawn_local(accept_uni(conn.clone()));

    let mut shutdown = conn.shared.st.shutdown.clone();
    let mut goaway: Option<u64> = None;
    let mut next_id = 0u64;
    loop {
        if goaway.is_some() && conn.requests.get() == 0 {
            break;
        }
        let done = conn.request_done.notified();
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|s| *s), if goaway.is_none() => {
                buf.clear();
                let _ = frame::encode_goaway(next_id, &mut buf);
                let _ = control.write_all(&buf).await;
                goaway = Some(next_id);
                conn.draining.set(true);
                continue;
            }
            _ = done, if goaway.is_some() => continue,
            a = quic.accept_bi() => a,
        };
        let (mut send, mut recv) = match accepted {
            Ok(s) => s,
            Err(_) => break,
        };
        let id = u64::from(send.id());
        if matches!(goaway, Some(g) if id >= g) {
            let _ = send.reset(varint(ErrorCode::RequestRejected));
            let _ = recv.stop(varint(ErrorCode::RequestRejected));
            continue;
        }
        next_id = id + 4;
        conn.requests.set(conn.requests.get() + 1);
        // The request's state machine is a few KiB (arena, reader, handler future,
        // response): it goes into one box (spawning it by value would copy it several
        // times on the way into the task's allocation). A typical request (its header
        // section already here, a handler that does not wait, a response that fits the
        // send buffer) completes in its first poll: run that poll right here, so a
        // burst of requests is answered within this task's turn (their responses leave
        // in as few packets as possible) and needs no task of its own. Only a request
        // that has to wait becomes a task. A handler panic is caught inside
        // `serve_request`, so none unwinds through this loop.
        let mut task = Box::pin(request_task(conn.clone(), send, recv, id));
        let done = poll_fn(|cx| Poll::Ready(task.poll_unpin(cx).is_ready())).await;
        if !done {
            tokio::task::spawn_local(task);
        }
    }
    if goaway.is_some() {
        let deadline = tokio::time::Instant::now() + config.shutdown_grace;
        while conn.requests.get() > 0 {
            let done = conn.request_done.notified();
            if conn.requests.get() == 0 || tokio::time::timeout_at(deadline, done).await.is_err() {
                break;
            }
        }
        // Small responses were written in one go; give their last packets a few round
        // trips to be acknowledged before the CONNECTION_CLOSE.
        let linger = (quic.rtt() * 3).clamp(Duration::from_millis(5), Duration::from_millis(100));
        tokio::time::sleep(linger).await;
        quic.close(varint(ErrorCode::NoError), b"");
    }
}

/// Sends our decoder stream's instructions as the decoder produces them.
async fn decoder_writer<H: 'static>(conn: Rc<Conn<H>>, mut stream: quinn::SendStream) {
    let mut buf = Vec::new();
    let _ = h3stream::encode_uni_stream_header(UniStreamKind::QpackDecoder, &mut buf);
    loop {
        {
            let mut d = conn.decoder.borrow_mut();
            if d.has_decoder_stream_data() {
                d.take_decoder_stream(&mut buf);
            }
        }
        if !buf.is_empty() {
            if stream.write_all(&buf).await.is_err() {
                return;
            }
            buf.clear();
            continue;
        }
        tokio::select! {
            _ = conn.decoder_out.notified() => {}
            _ = conn.quic.closed() => return,
        }
    }
}

async fn accept_uni<H: 'static>(conn: Rc<Conn<H>>) {
    while let Ok(recv) = conn.quic.accept_uni().await {
        tokio::task::spawn_local(uni_stream(conn.clone(), recv));
    }
}

/// Reads one of the peer's unidirectional streams: its type, then its content.
async fn uni_stream<H>(conn: Rc<Conn<H>>, mut recv: quinn::RecvStream) {
    let mut header = h3stream::UniStreamHeaderReader::new();
    let (kind, mut rest) = loop {
        match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => {
                let (n, kind) = header.decode(&c.bytes);
                if let Some(kind) = kind {
                    break (kind, c.bytes.slice(n..));
                }
            }
            _ => return,
        }
    };
    if let Err(e) = conn.uni.borrow_mut().opened(kind) {
        conn.close(&e);
        return;
    }
    if !kind.is_critical() {
        // RFC 9114 §6.2: abort reading streams of unknown (or reserved) type.
        let _ = recv.stop(varint(ErrorCode::StreamCreationError));
        return;
    }
    let mut control = ControlStream::with_limits(Role::Server, FrameLimits::default());
    loop {
        if !rest.is_empty() {
            let result = match kind {
                UniStreamKind::Control => control.recv_all(&rest, |ev| {
                    if let ControlEvent::Settings(s) = ev {
                        conn.peer_settings.set(Some(s));
                    }
                }),
                UniStreamKind::QpackEncoder => {
                    let r = conn.decoder.borrow_mut().feed_encoder_stream(&rest);
                    conn.wake_unblocked();
                    conn.flush_decoder();
                    r.map_err(H3Error::from)
                }
                UniStreamKind::QpackDecoder => conn
                    .encoder
                    .borrow_mut()
                    .feed_decoder_stream(&rest)
                    .map_err(H3Error::from),
                _ => return,
            };
            if let Err(e) = result {
                conn.close(&e);
                return;
            }
        }
        match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => rest = c.bytes,
            Ok(None) | Err(quinn::ReadError::Reset(_)) => {
                let stream = match kind {
                    UniStreamKind::Control => "control",
                    UniStreamKind::QpackEncoder => "QPACK encoder",
                    _ => "QPACK decoder",
                };
                conn.close(&H3Error::ClosedCriticalStream { stream });
                return;
            }
            Err(_) => return,
        }
    }
}

/// One request stream, from accept to the acknowledgment of the response.
async fn request_task<H: Handler>(
    conn: Rc<Conn<H>>,
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
    id: u64,
) {
    if let Some(c) = &conn.shared.counters {
        inc(&c.requests);
    }
    let large = Cell::new(false);
    serve_request(&conn, &mut send, recv, id, &large).await;
    conn.forget_stream(id);
    // Keep a finished stream with a large response (possibly much of it still unacked)
    // counted until the peer has all of it, so a graceful close never discards it;
    // during a shutdown, every response. (A reset stream has nothing to deliver; small
    // responses are covered by the linger before the close.)
    let wait_ack = large.get() || *conn.shared.st.shutdown.borrow();
    if wait_ack && send.finish().is_ok() {
        let _ = tokio::time::timeout(conn.shared.config.shutdown_grace, send.stopped()).await;
    }
    // Otherwise dropping the stream finishes it (quinn does it under the same lock it
    // takes to drop the stream anyway): one lock of the connection fewer per request.
    drop(send);
    conn.requests.set(conn.requests.get().saturating_sub(1));
    if conn.draining.get() {
        conn.request_done.notify_waiters();
    }
}

/// What to do with a failed request stream.
fn fail_stream<H>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    recv: &mut quinn::RecvStream,
    e: &ReadFail,
) {
    match e {
        ReadFail::H3(e) if e.scope() == Scope::Connection => conn.close(e),
        ReadFail::H3(e) => {
            let _ = send.reset(varint(e.code()));
            let _ = recv.stop(varint(e.code()));
        }
        ReadFail::Quic(e) => {
            tracing::debug!(error = %e, "request stream failed");
            let _ = send.reset(varint(ErrorCode::RequestCancelled));
        }
        ReadFail::Arena(_) => {
            let _ = send.reset(varint(ErrorCode::ExcessiveLoad));
            let _ = recv.stop(varint(ErrorCode::ExcessiveLoad));
        }
    }
}

/// True for stream errors answered with `431` (header section too large).
fn is_too_large(e: &ReadFail) -> bool {
    match e {
        ReadFail::H3(H3Error::FrameTooLarge {
            scope: Scope::Stream,
            ..
        }) => true,
        ReadFail::H3(H3Error::Qpack(q)) => q.scope() == Scope::Stream,
        ReadFail::Arena(_) => true,
        _ => false,
    }
}

async fn serve_request<H: Handler>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    recv: quinn::RecvStream,
    id: u64,
    large: &Cell<bool>,
) {
    let shared = &*conn.shared;
    let config = &shared.config;
    let arena = shared.st.pool.get();
    let state = RequestStream::with_limits(Role::Server, config.decoder_config().frame_limits());
    let mut reader = MessageReader::new(recv, state);
    let section = match poll_fn(|cx| reader.poll_next(cx, &mut [], &arena)).await {
        Ok(Ev::Headers(s)) => s,
        Ok(_) => {
            fail_stream(
                conn,
                send,
                &mut reader.recv,
                &ReadFail::H3(H3Error::RequestIncomplete),
            );
            return;
        }
        Err(e) => {
            if is_too_large(&e) {
                let _ = reader.recv.stop(varint(ErrorCode::ExcessiveLoad));
                simple_response(conn, send, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await;
            } else {
                fail_stream(conn, send, &mut reader.recv, &e);
            }
            return;
        }
    };
    // QPACK-decode into the arena, waiting for the encoder stream if blocked.
    let checked = loop {
        let r = conn
            .decoder
            .borrow_mut()
            .decode_section(id, section, &arena);
        conn.flush_decoder();
        match r {
            // The list (a few hundred bytes inline) is consumed right here, so it does
            // not take room in this future's state across the awaits below.
            Ok(Decoded::Done(list)) => break check_request(list, &arena),
            Ok(Decoded::Blocked) => {
                let closed = conn.quic.closed();
                tokio::select! {
                    _ = poll_fn(|cx| conn.poll_unblocked(id, cx)) => {}
                    _ = closed => return,
                }
            }
            Err(e) => break Err(Refused::Fail(ReadFail::H3(H3Error::from(e)))),
        }
    };
    let (head, regular) = match checked {
        Ok(c) => c,
        Err(Refused::Fail(e)) if is_too_large(&e) => {
            let _ = reader.recv.stop(varint(ErrorCode::ExcessiveLoad));
            simple_response(conn, send, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await;
            return;
        }
        Err(Refused::Fail(e)) => return fail_stream(conn, send, &mut reader.recv, &e),
        Err(Refused::Status(status)) => {
            let _ = reader.recv.stop(varint(ErrorCode::NoError));
            simple_response(conn, send, status).await;
            return;
        }
    };
    if let Some(len) = head.content_length {
        if let Err(e) = reader.state.set_content_length(len) {
            return fail_stream(conn, send, &mut reader.recv, &ReadFail::H3(e));
        }
    }
    let RequestHead {
        method,
        target,
        authority,
        scheme,
        ..
    } = head;
    let is_head = method == Method::HEAD;
    let request = Request::from_parts(RequestParts {
        method,
        target,
        authority,
        scheme,
        version: Version::HTTP_3,
        headers: Headers::from_pairs(regular),
        remote_addr: Some(conn.quic.remote_address()),
    });
    let stream_error: Cell<Option<ErrorCode>> = Cell::new(None);
    let mut source = H3Body {
        conn,
        reader: &mut reader,
        arena: &arena,
        id,
        content_length: head.content_length,
        end: false,
        trailers: None,
        trailer_list: None,
        error: &stream_error,
    };
    let body = Body::new(&mut source, &arena, config.max_body_size);
    let rcx = RequestContext::new(request, &arena, body);
    let response = call_handler(&*shared.st.handler, rcx, shared.counters.as_deref(), id).await;
    if let Some(code) = stream_error.get() {
        drop(response);
        let _ = send.reset(varint(code));
        return;
    }
    send_response(conn, send, &arena, response, is_head, large).await;
    drop(source);
    // Consume what already arrived of an unread request (typically just the FIN of a
    // GET), so the stream closes cleanly; otherwise (RFC 9114 §4.1.1) a complete
    // response was sent: stop the unread rest of the request with H3_NO_ERROR.
    if !reader.is_finished() && !drain_ready(&mut reader, &arena) {
        let _ = reader.recv.stop(varint(ErrorCode::NoError));
    }
}

/// Why a decoded request is not handed to the handler.
enum Refused {
    /// A stream or connection error (or a full arena: `431`).
    Fail(ReadFail),
    /// Answered with this status: `501` for CONNECT (no `:path`), `400` for a
    /// non-UTF-8 path or an unknown method token.
    Status(StatusCode),
}

/// The checked request head, borrowing the arena.
struct RequestHead<'a> {
    method: Method,
    target: &'a str,
    authority: Option<&'a str>,
    scheme: Scheme,
    content_length: Option<u64>,
}

/// Validates the decoded fields (RFC 9114 §4.3.1) and copies the regular ones (what
/// the handler sees) into an arena slice.
#[allow(clippy::type_complexity)]
fn check_request<'a>(
    list: HeaderList<'a>,
    arena: &'a Arena,
) -> Result<(RequestHead<'a>, &'a [(&'a [u8], &'a [u8])]), Refused> {
    let head =
        message::validate_request(list.iter()).map_err(|e| Refused::Fail(ReadFail::H3(e)))?;
    let method = Method::from_bytes(head.method).ok();
    let target = head.path.and_then(|p| std::str::from_utf8(p).ok());
    let (Some(method), Some(target)) = (method, target) else {
        // CONNECT (no :path) is not supported; a non-UTF-8 path is a bad request.
        return Err(Refused::Status(if head.path.is_none() {
            StatusCode::NOT_IMPLEMENTED
        } else {
            StatusCode::BAD_REQUEST
        }));
    };
    let authority = head
        .authority
        .or(head.host)
        .and_then(|a| std::str::from_utf8(a).ok());
    // QUIC is always TLS: an absent or unknown `:scheme` is `https`.
    let scheme = request_scheme(head.scheme, Scheme::Https);
    let mut regular = shockwave_arena::Vec::new_in(arena.bump());
    if regular.try_reserve_exact(list.len()).is_err() {
        // Answered 431 like any full arena.
        let requested = list.len() * std::mem::size_of::<(&[u8], &[u8])>();
        return Err(Refused::Fail(ReadFail::Arena(ArenaError::OutOfMemory {
            requested,
        })));
    }
    regular.extend(list.iter().filter(|(name, _)| !name.starts_with(b":")));
    let head = RequestHead {
        method,
        target,
        authority,
        scheme,
        content_length: head.content_length,
    };
    Ok((head, regular.into_bump_slice()))
}

/// Reads, without waiting, whatever of the request is already buffered (up to 64 KiB of
/// content); true if the request stream ended cleanly.
fn drain_ready(reader: &mut MessageReader, arena: &Arena) -> bool {
    // Usually there is nothing but the FIN: a small stack buffer, not a zeroed arena block.
    let mut scratch = [0u8; 1024];
    let scratch = &mut scratch[..];
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut budget = 64 * 1024usize;
    while budget > 0 {
        match reader.poll_next(&mut cx, scratch, arena) {
            Poll::Ready(Ok(Ev::End)) => return true,
            Poll::Ready(Ok(Ev::Data(n))) => budget = budget.saturating_sub(n.max(1)),
            Poll::Ready(Ok(_)) => budget = budget.saturating_sub(1),
            Poll::Ready(Err(_)) | Poll::Pending => return false,
        }
    }
    false
}

/// The request body: DATA frames of the request stream.
struct H3Body<'a, 'c, H> {
    conn: &'c Conn<H>,
    reader: &'a mut MessageReader,
    arena: &'a Arena,
    id: u64,
    content_length: Option<u64>,
    end: bool,
    /// A trailer section waiting to be decoded (blocked on the dynamic table).
    trailers: Option<&'a [u8]>,
    /// The decoded, validated trailer fields, for [`Body::trailers`].
    trailer_list: Option<HeaderList<'a>>,
    error: &'a Cell<Option<ErrorCode>>,
}

impl<H> H3Body<'_, '_, H> {
    fn fail(&mut self, e: ReadFail) -> BodyError {
        match &e {
            ReadFail::H3(h) if h.scope() == Scope::Connection => self.conn.close(h),
            ReadFail::H3(h) => {
                self.error.set(Some(h.code()));
                let _ = self.reader.recv.stop(varint(h.code()));
            }
            ReadFail::Quic(_) => self.error.set(Some(ErrorCode::RequestCancelled)),
            ReadFail::Arena(_) => {}
        }
        match e {
            ReadFail::H3(h) => BodyError::Malformed(h.to_string()),
            ReadFail::Quic(_) => BodyError::Closed,
            ReadFail::Arena(a) => BodyError::Arena(a),
        }
    }
}

impl<H> BodySource for H3Body<'_, '_, H> {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, BodyError>> {
        if self.end || buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let Some(section) = self.trailers {
                let r = self
                    .conn
                    .decoder
                    .borrow_mut()
                    .decode_section(self.id, section, self.arena);
                self.conn.flush_decoder();
                match r {
                    Ok(Decoded::Done(list)) => {
                        self.trailers = None;
                        if let Err(e) = message::validate_trailers(list.iter()) {
                            return Poll::Ready(Err(self.fail(ReadFail::H3(e))));
                        }
                        self.trailer_list = Some(list);
                    }
                    Ok(Decoded::Blocked) => {
                        if self.conn.poll_unblocked(self.id, cx).is_pending() {
                            return Poll::Pending;
                        }
                        continue;
                    }
                    Err(e) => return Poll::Ready(Err(self.fail(ReadFail::H3(e.into())))),
                }
            }
            match self.reader.poll_next(cx, buf, self.arena) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Ev::Data(0) | Ev::Headers(_))) => continue,
                Poll::Ready(Ok(Ev::Data(n))) => return Poll::Ready(Ok(n)),
                Poll::Ready(Ok(Ev::Trailers(s))) => self.trailers = Some(s),
                Poll::Ready(Ok(Ev::End)) => {
                    self.end = true;
                    return Poll::Ready(Ok(0));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.fail(e))),
            }
        }
    }

    fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    fn is_end(&self) -> bool {
        self.end
    }

    fn trailers(&self) -> Option<Headers<'_>> {
        self.trailer_list
            .as_ref()
            .filter(|_| self.end)
            .map(Headers::from_list)
    }
}

fn count_response<H>(conn: &Conn<H>, status: StatusCode) {
    pipeline::count_response(conn.shared.counters.as_deref(), status);
}

/// A response without body (errors).
async fn simple_response<H>(conn: &Conn<H>, send: &mut quinn::SendStream, status: StatusCode) {
    count_response(conn, status);
    let code = status_bytes(status);
    let mut out = conn.shared.take_buffer();
    if conn
        .encoder
        .borrow_mut()
        .encode_headers_frame(simple_fields(&code), &mut out)
        .is_ok()
    {
        let _ = send.write_all(&out).await;
    }
    conn.shared.return_buffer(out);
}

async fn send_response<'a, H>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    arena: &'a Arena,
    response: Response<'a>,
    is_head: bool,
    large: &Cell<bool>,
) {
    let date = conn.shared.st.date();
    // Invalid handler responses become a 500; names are lowercased (RFC 9114 §4.2).
    let Some(prepared) = prepare_response(arena, response, is_head, Some(&date)) else {
        return simple_response(conn, send, StatusCode::INTERNAL_SERVER_ERROR).await;
    };
    let mut out = conn.shared.take_buffer();
    let encoded = conn
        .encoder
        .borrow_mut()
        .encode_headers_frame(prepared.fields.iter().copied(), &mut out);
    if !encoded.is_ok_and(|size| conn.fits_peer_limit(size)) {
        conn.shared.return_buffer(out);
        return simple_response(conn, send, StatusCode::INTERNAL_SERVER_ERROR).await;
    }
    count_response(conn, prepared.status);
    let head_only = prepared.head_only();
    let PreparedResponse {
        body,
        length,
        with_body,
        trailers,
        ..
    } = prepared;
    large.set(with_body && length.is_none_or(|l| l > COALESCE_BODY as u64));
    let result = if head_only {
        send.write_all(&out).await.map_err(e)
    } else {
        match send_body(send, arena, &mut out, body, length).await {
            Ok(()) => send_trailers(conn, send, arena, &mut out, trailers).await,
            Err(()) => Err(()),
        }
    };
    conn.shared.return_buffer(out);
    if result.is_err() {
        let _ = send.reset(varint(ErrorCode::InternalError));
    }
}

impl<H> Conn<H> {
    /// False when a field section of `size` exceeds the peer's
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2: then it must not be sent).
    fn fits_peer_limit(&self, size: u64) -> bool {
        !matches!(self.peer_settings.get(), Some(Settings { max_field_section_size: Some(max), .. }) if size > max)
    }
}

/// Encodes the trailer section (a HEADERS frame after the body, RFC 9114 §4.1) into `out`
/// and writes `out`. A deferred section is awaited first under the pipeline's panic guard
/// (a panic is counted; `Err` makes the caller reset the stream with `H3_INTERNAL_ERROR`).
async fn send_trailers<'a, H>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    arena: &'a Arena,
    out: &mut Vec<u8>,
    trailers: Trailers<'a>,
) -> Result<(), ()> {
    let id = u64::from(send.id());
    match trailers {
        Trailers::None => {}
        Trailers::Fields(fields) => encode_trailers(conn, arena, fields.iter().copied(), out)?,
        Trailers::Deferred(mut future) => {
            if !out.is_empty() {
                send.write_all(out).await.map_err(e)?;
                out.clear();
            }
            let counters = conn.shared.counters.as_deref();
            let map = resolve_trailers(&mut future, counters, id)
                .await
                .ok_or(())?;
            let fields = map
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()));
            encode_trailers(conn, arena, fields, out)?;
        }
    }
    if out.is_empty() {
        return Ok(());
    }
    send.write_all(out).await.map_err(e)
}

fn encode_trailers<'f, H>(
    conn: &Conn<H>,
    arena: &'f Arena,
    fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    out: &mut Vec<u8>,
) -> Result<(), ()> {
    let list = trailer_section(arena, fields).map_err(e)?;
    if list.is_empty() {
        return Ok(());
    }
    let size = conn
        .encoder
        .borrow_mut()
        .encode_headers_frame(list.iter().copied(), out)
        .map_err(e)?;
    if conn.fits_peer_limit(size) {
        Ok(())
    } else {
        tracing::error!(
            size,
            "trailer section above the peer's limit; resetting the stream"
        );
        Err(())
    }
}

/// Writes the body as DATA frames after `out` (the HEADERS frame). A small body of known
/// bytes is appended to `out` and left there, so that it goes out in one write with the
/// trailers (if any); otherwise `out` is written and left empty.
async fn send_body(
    send: &mut quinn::SendStream,
    arena: &Arena,
    out: &mut Vec<u8>,
    body: ResponseBody<'_>,
    length: Option<u64>,
) -> Result<(), ()> {
    match body {
        ResponseBody::Empty => Ok(()),
        ResponseBody::Slice(s) => send_known(send, out, s, None).await,
        ResponseBody::Bytes(b) => send_known(send, out, &b, Some(&b)).await,
        ResponseBody::File(mut f) => {
            let total = length.unwrap_or(f.len);
            frame::encode_data_header(total, out).map_err(e)?;
            send.write_all(out).await.map_err(e)?;
            out.clear();
            f.file.seek(std::io::SeekFrom::Start(f.offset)).map_err(e)?;
            let chunk = arena.alloc_zeroed(64 * 1024).map_err(e)?;
            let mut left = total;
            while left > 0 {
                let want = chunk.len().min(left as usize);
                let n = match f.file.read(&mut chunk[..want]) {
                    Ok(0) | Err(_) => return Err(()),
                    Ok(n) => n,
                };
                send.write_all(&chunk[..n]).await.map_err(e)?;
                left -= n as u64;
            }
            Ok(())
        }
        ResponseBody::Stream(mut s) => {
            send.write_all(out).await.map_err(e)?;
            while let Some(item) = s.next().await {
                let chunk = item.map_err(e)?;
                if chunk.is_empty() {
                    continue;
                }
                out.clear();
                frame::encode_data_header(chunk.len() as u64, out).map_err(e)?;
                send.write_all(out).await.map_err(e)?;
                send.write_chunk(chunk).await.map_err(e)?;
            }
            out.clear();
            Ok(())
        }
    }
}

/// Discards an error (the caller resets the stream).
fn e<E>(_: E) {}

/// A body of known bytes: appended to `out` when small (sent with the headers and
/// trailers), else written after it without copying (`Bytes`) or straight from the slice.
async fn send_known(
    send: &mut quinn::SendStream,
    out: &mut Vec<u8>,
    data: &[u8],
    shared: Option<&Bytes>,
) -> Result<(), ()> {
    frame::encode_data_header(data.len() as u64, out).map_err(e)?;
    if data.len() <= COALESCE_BODY {
        out.extend_from_slice(data);
        return Ok(());
    }
    send.write_all(out).await.map_err(e)?;
    out.clear();
    match shared {
        Some(b) => send.write_chunk(b.clone()).await.map_err(e),
        None => send.write_all(data).await.map_err(e),
    }
}
