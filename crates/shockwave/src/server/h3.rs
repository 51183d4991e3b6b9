//! The HTTP/3 server driver: quinn endpoints on current-thread runtimes (one per worker
//! thread), one local task per connection and per request stream that has to wait (a
//! request answered in its first poll is served within the connection's task), so
//! handler futures need not be `Send` and may hold the request's arena across
//! `.await`s — exactly as on HTTP/1.1 and HTTP/2.
//!
//! The protocol above the request streams is the sans-I/O
//! [`Connection`](shockwave_quic::connection::Connection) of `shockwave-quic`: our
//! control stream (SETTINGS, GOAWAY) and QPACK streams, the peer's unidirectional
//! streams, and QPACK encoding and decoding of every field section. This driver owns the
//! sockets and tasks: it feeds the peer's unidirectional streams in ([`uni_reader`]),
//! writes ours out ([`uni_writer`]), and dispatches the connection's events after every
//! call into it (`Conn::after`). Per request stream: an arena from the worker's pool
//! receives the QPACK-decoded fields, the request is checked (RFC 9114 §4.1.2, §4.3.1),
//! the [`Handler`] runs with its body streamed from DATA frames (trailers are decoded and
//! checked and handed to the handler's body), and the response goes out as HEADERS +
//! DATA, then the response trailers as a second HEADERS frame (RFC 9114 §4.1). A handler
//! panic becomes a `500`.
//!
//! Errors (RFC 9114 §8): connection errors (`H3_FRAME_UNEXPECTED`, `H3_MISSING_SETTINGS`,
//! `QPACK_DECOMPRESSION_FAILED`, a closed critical stream, ...) close the connection with
//! their code; stream errors (`H3_MESSAGE_ERROR`, `H3_REQUEST_INCOMPLETE`) reset the
//! request stream with theirs; a header section above the limit is answered `431`.
//!
//! Defences (RFC 9114 §10.5, RFC 9000 §8.1): request streams the peer resets or ends
//! before a complete request and refused header sections are reported to the
//! connection's budgets, which close it with `H3_EXCESSIVE_LOAD` when exceeded; each
//! connection attempt is decided before any state is kept (`Shared::admit`): refused
//! beyond [`Http3Config::max_connections`] or [`Http3Config::max_handshakes`], answered
//! with a stateless Retry as [`Http3Config::address_validation`] says.
//!
//! CONNECT (RFC 9114 §4.4) and extended CONNECT (RFC 9220 §3, advertised with
//! [`Http3Config::enable_connect_protocol`]): the handler gets the request without a
//! body and a CONNECT upgrade slot; a 2xx with `RequestContext::on_upgrade` sends the
//! response HEADERS without FIN and hands the stream to the callback as an `Upgraded`
//! over [`H3Tunnel`] (DATA frames both ways, flow-controlled by quinn, exempt from the
//! body limits and rates). The tunnel counts as an in-flight request until the
//! callback ends.
//!
//! Graceful shutdown: GOAWAY with the first unprocessed stream ID, later request streams
//! are rejected with `H3_REQUEST_REJECTED`, in-flight ones finish (up to the server's
//! shutdown grace), then `CONNECTION_CLOSE` with `H3_NO_ERROR`.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{Read as _, Seek as _};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::{FutureExt as _, StreamExt as _};
use http::{Method, StatusCode, Version};
use shockwave_arena::{Arena, ArenaError, HeaderList};
use shockwave_quic::connection::{self, Connection, Event};
use shockwave_quic::frame;
use shockwave_quic::qpack::{Decoded, QpackError};
use shockwave_quic::request::RequestStream;
use shockwave_quic::stream::Role;
use shockwave_quic::{message, Error as H3Error, ErrorCode, Scope};
use tokio::sync::{watch, Notify};

use super::state::WorkerState;
use super::stats::{dec, inc, WorkerCounters};
use crate::common::budget::ConnBudget;
use crate::common::fields::{prepare_response, status_bytes, PreparedResponse};
use crate::common::h3_reader::{Ev, MessageReader, ReadFail};
use crate::common::h3_tunnel::H3Tunnel;
use crate::common::h3_uni::{has_pending, uni_reader, uni_writer, H3Driver};
use crate::common::pipeline::{
    self, call_handler, request_scheme, resolve_trailers, simple_fields, trailer_section,
};
use crate::common::rate::RateTimer;
use crate::http3::{varint, AddressValidation, Http3Config};
use crate::service::upgrade::{UpgradeFn, UpgradeSlot, Upgraded};
use crate::service::{
    Body, BodyError, BodySource, Handler, Headers, Request, RequestContext, RequestParts, Response,
    ResponseBody, Scheme, TlsInfo, Trailers,
};

/// Bodies up to this size are sent in the same write as the HEADERS frame.
const COALESCE_BODY: usize = 16 * 1024;

/// The size of a connection's send slab ([`Conn::slab`]).
const SLAB: usize = 4 * 1024;

/// What a worker's HTTP/3 connections share: the worker's state and the endpoint's
/// connection count (for its graceful shutdown).
struct Shared<H> {
    st: Rc<WorkerState<H>>,
    handler: Arc<H>,
    /// The effective settings ([`ServerConfig::http3`](crate::server::ServerConfig::http3)
    /// with the server's body limit and shutdown grace).
    config: Http3Config,
    shutdown: watch::Receiver<bool>,
    /// The worker's HTTP/3 counters.
    counters: Option<Arc<WorkerCounters>>,
    buffers: RefCell<Vec<Vec<u8>>>,
    /// QUIC connections of this endpoint, in handshake or established.
    connections: Cell<usize>,
    /// Of those, the ones whose handshake is in progress.
    handshaking: Cell<usize>,
    connection_closed: Notify,
}

impl<H> Shared<H> {
    fn new(st: Rc<WorkerState<H>>, counters: Option<Arc<WorkerCounters>>) -> Self {
        let mut config = st.config.http3.clone();
        config.max_body_size = st.config.limits.max_body_size;
        config.shutdown_grace = st.config.timeouts.shutdown_grace;
        config.max_header_fields = st.config.limits.max_headers;
        Shared {
            handler: st.handler.clone(),
            config,
            shutdown: st.shutdown.clone(),
            counters,
            st,
            buffers: RefCell::new(Vec::new()),
            connections: Cell::new(0),
            handshaking: Cell::new(0),
            connection_closed: Notify::new(),
        }
    }

    /// Decides a connection attempt before any connection state exists: refused at
    /// [`Http3Config::max_connections`] or [`Http3Config::max_handshakes`], answered
    /// with a stateless Retry when [`Http3Config::address_validation`] asks for one and
    /// the address is not validated yet (RFC 9000 §8.1.2), else handed back to be
    /// accepted.
    fn admit(&self, incoming: quinn::Incoming) -> Option<quinn::Incoming> {
        let config = &self.config;
        let handshaking = self.handshaking.get();
        if self.connections.get() >= config.max_connections.max(1)
            || handshaking >= config.max_handshakes.max(1)
        {
            if let Some(c) = &self.counters {
                inc(&c.connections_refused);
            }
            tracing::debug!(
                remote = %incoming.remote_address(),
                connections = self.connections.get(),
                handshaking,
                "QUIC connection refused: at the limit"
            );
            incoming.refuse();
            return None;
        }
        let validate = match config.address_validation {
            AddressValidation::Always => true,
            AddressValidation::UnderLoad => handshaking * 2 >= config.max_handshakes.max(1),
            _ => false,
        };
        if validate && !incoming.remote_address_validated() && incoming.may_retry() {
            return match incoming.retry() {
                Ok(()) => {
                    if let Some(c) = &self.counters {
                        inc(&c.quic_retries);
                    }
                    None
                }
                Err(e) => Some(e.into_incoming()),
            };
        }
        Some(incoming)
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
    let mut shutdown = shared.shutdown.clone();
    loop {
        let incoming = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => break,
            i = endpoint.accept() => i,
        };
        let Some(incoming) = incoming else { break };
        let Some(incoming) = shared.admit(incoming) else {
            continue;
        };
        let shared = shared.clone();
        shared.connections.set(shared.connections.get() + 1);
        shared.handshaking.set(shared.handshaking.get() + 1);
        if let Some(c) = &shared.counters {
            inc(&c.connections_handshaking);
        }
        tokio::task::spawn_local(async move {
            let guard = ConnGuard(shared.clone());
            let handshake = incoming.await;
            shared
                .handshaking
                .set(shared.handshaking.get().saturating_sub(1));
            if let Some(c) = &shared.counters {
                dec(&c.connections_handshaking);
            }
            match handshake {
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

impl<H> H3Driver for Conn<H> {
    fn quic(&self) -> &quinn::Connection {
        &self.quic
    }

    fn uni_out(&self) -> &Notify {
        &self.uni_out
    }

    fn with_h3<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut self.h3.borrow_mut())
    }

    /// After any call into `self.h3`: dispatches its events (wakes request streams the
    /// encoder stream unblocked, closes the QUIC connection on a connection error) and
    /// wakes [`uni_writer`] when our control or QPACK streams have bytes to send.
    fn after(&self) {
        let mut h3 = self.h3.borrow_mut();
        while let Some(ev) = h3.poll_event() {
            match ev {
                Event::StreamUnblocked(id) => {
                    let mut blocked = self.blocked.borrow_mut();
                    if let Some(i) = blocked.iter().position(|(s, _)| *s == id) {
                        blocked.swap_remove(i).1.wake();
                    }
                }
                Event::ConnectionError(e) => self.close(&e),
                // The peer's SETTINGS are read from `h3` when needed; a client's GOAWAY
                // (a push ID) needs nothing from a server that never pushes.
                _ => {}
            }
        }
        if has_pending(&h3) {
            self.uni_out.notify_one();
        }
    }
}

/// One connection's shared state.
struct Conn<H> {
    shared: Rc<Shared<H>>,
    quic: quinn::Connection,
    /// What the QUIC handshake negotiated, captured once for every request.
    tls_info: TlsInfo,
    /// The HTTP/3 connection state machine. Never borrowed across an `.await`.
    h3: RefCell<Connection>,
    /// Request streams waiting for QPACK encoder stream data.
    blocked: RefCell<Vec<(u64, Waker)>>,
    /// Wakes the writer of our control and QPACK streams ([`uni_writer`]).
    uni_out: Notify,
    requests: Cell<usize>,
    /// Notified as requests finish once GOAWAY went out (`draining`), so the
    /// connection can close after the last one.
    request_done: Notify,
    draining: Cell<bool>,
    /// Where small responses are copied to become `Bytes` that quinn keeps as they are
    /// until acknowledged ([`write_out`]): one allocation per [`SLAB`] bytes of
    /// responses instead of quinn's one per write. Allocated on the first response.
    slab: RefCell<Option<bytes::BytesMut>>,
}

/// The connection's configuration from the server's HTTP/3 settings: the same SETTINGS
/// as the decoder limits say, a static-only QPACK encoder (byte-identical output, no
/// allocation per section), and a grease setting (RFC 9114 §7.2.4.1).
fn connection_config(config: &Http3Config, quic: &quinn::Connection) -> connection::Config {
    connection::Config {
        qpack: config.decoder_config(),
        encoder_table_capacity: 0,
        grease: Some(quic.stable_id() as u64),
        enable_connect_protocol: config.enable_connect_protocol,
        ..connection::Config::default()
    }
}

impl<H> Conn<H> {
    /// Closes the connection with the error's code (RFC 9114 §8).
    fn close(&self, e: &H3Error) {
        tracing::debug!(error = %e, "HTTP/3 connection error");
        self.quic
            .close(varint(e.code()), e.code().name().as_bytes());
    }

    /// Ready once stream `id` is no longer blocked on the dynamic table.
    fn poll_unblocked(&self, id: u64, cx: &mut Context<'_>) -> Poll<()> {
        if !self.h3.borrow().is_blocked(id) {
            return Poll::Ready(());
        }
        let mut blocked = self.blocked.borrow_mut();
        match blocked.iter_mut().find(|(s, _)| *s == id) {
            Some(slot) => slot.1.clone_from(cx.waker()),
            None => blocked.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }

    /// The peer reset, stopped or ended a request stream before its request was
    /// complete: counted against the connection's budget, which closes the connection
    /// with `H3_EXCESSIVE_LOAD` once exceeded (RFC 9114 §10.5).
    fn request_aborted(&self) {
        let now = self.shared.st.now().into_std();
        let r = self.h3.borrow_mut().request_aborted(now);
        if r.is_err() {
            if let Some(c) = &self.shared.counters {
                inc(&c.reset_limit_closes);
            }
        }
        self.after();
    }

    /// A request's field section was over the limits (`size`: as far as known): counted
    /// against the connection's budget; a peer that keeps sending them, or one far over
    /// the limit, gets `H3_EXCESSIVE_LOAD` instead of one more `431`. True if the
    /// connection is still open.
    fn oversized_section(&self, e: &ReadFail) -> bool {
        let size = match e {
            ReadFail::H3(H3Error::FrameTooLarge { len, .. }) => *len,
            ReadFail::H3(H3Error::Qpack(QpackError::FieldSectionTooLarge { size, .. })) => *size,
            _ => 0,
        };
        let now = self.shared.st.now().into_std();
        let r = self.h3.borrow_mut().oversized_section(size, now);
        if r.is_err() {
            if let Some(c) = &self.shared.counters {
                inc(&c.header_limit_closes);
            }
        }
        self.after();
        r.is_ok()
    }

    /// The request stream `id` is done: a section still blocked is cancelled (RFC 9204
    /// §4.4.2) and its waker dropped.
    fn forget_stream(&self, id: u64) {
        let blocked = self.h3.borrow().is_blocked(id);
        if blocked {
            self.h3.borrow_mut().cancel_stream(id);
            self.after();
        }
        self.blocked.borrow_mut().retain(|(s, _)| *s != id);
    }
}

async fn serve_connection<H: Handler>(quic: quinn::Connection, shared: Rc<Shared<H>>) {
    let config = shared.config.clone();
    let h3 = Connection::new(Role::Server, connection_config(&config, &quic));
    let conn = Rc::new(Conn {
        shared,
        quic: quic.clone(),
        tls_info: TlsInfo::from_quinn(&quic),
        h3: RefCell::new(h3),
        blocked: RefCell::new(Vec::new()),
        uni_out: Notify::new(),
        requests: Cell::new(0),
        request_done: Notify::new(),
        draining: Cell::new(false),
        slab: RefCell::new(None),
    });
    // Our control stream (type, then SETTINGS, RFC 9114 §6.2.1) and, with a dynamic
    // table, our QPACK decoder stream go out first: the writer opens them at once.
    let writer = conn.clone();
    tokio::task::spawn_local(async move { uni_writer(&*writer, [None, None, None]).await });
    tokio::task::spawn_local(accept_uni(conn.clone()));

    let mut shutdown = conn.shared.shutdown.clone();
    let mut goaway = false;
    let mut spare = None;
    loop {
        if goaway && conn.requests.get() == 0 {
            break;
        }
        let done = conn.request_done.notified();
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|s| *s), if !goaway => {
                // GOAWAY names the first request stream not accepted (RFC 9114 §5.2).
                let _ = conn.h3.borrow_mut().send_goaway();
                conn.after();
                goaway = true;
                conn.draining.set(true);
                continue;
            }
            _ = done, if goaway => continue,
            a = quic.accept_bi() => a,
        };
        let (mut send, mut recv) = match accepted {
            Ok(s) => s,
            Err(_) => break,
        };
        let id = u64::from(send.id());
        if !conn.h3.borrow_mut().accept_request(id) {
            let _ = send.reset(varint(ErrorCode::RequestRejected));
            let _ = recv.stop(varint(ErrorCode::RequestRejected));
            continue;
        }
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
        // The box of the last request that completed inline is reused (`Pin::set`
        // drops its finished future in place): no allocation per such request.
        let mut task = reuse_box(&mut spare, request_task(conn.clone(), send, recv, id));
        let done = poll_fn(|cx| Poll::Ready(task.poll_unpin(cx).is_ready())).await;
        if done {
            spare = Some(task);
        } else {
            tokio::task::spawn_local(task);
        }
    }
    drop(spare);
    if goaway {
        let deadline = tokio::time::Instant::now() + config.shutdown_grace;
        while conn.requests.get() > 0 {
            let done = conn.request_done.notified();
            if conn.requests.get() == 0 || tokio::time::timeout_at(deadline, done).await.is_err() {
                break;
            }
        }
        // Small responses were written in one go; give their last packets (and the
        // GOAWAY) a few round trips to be acknowledged before the CONNECTION_CLOSE.
        let linger = (quic.rtt() * 3).clamp(Duration::from_millis(5), Duration::from_millis(100));
        tokio::time::sleep(linger).await;
        quic.close(varint(ErrorCode::NoError), b"");
    }
}

/// `future` in the `spare` box if there is one (its finished future is dropped in
/// place), else in a new one.
fn reuse_box<F>(spare: &mut Option<Pin<Box<F>>>, future: F) -> Pin<Box<F>> {
    match spare.take() {
        Some(mut task) => {
            task.set(future);
            task
        }
        None => Box::pin(future),
    }
}

/// Reads each of the peer's unidirectional streams in a task of its own.
async fn accept_uni<H: 'static>(conn: Rc<Conn<H>>) {
    while let Ok(recv) = conn.quic.accept_uni().await {
        let conn = conn.clone();
        tokio::task::spawn_local(async move { uni_reader(&*conn, recv).await });
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
    let tunnel = serve_request(&conn, &mut send, recv, id, &large).await;
    conn.forget_stream(id);
    if let Some(tunnel) = tunnel {
        let (callback, reader) = *tunnel;
        // CONNECT / extended CONNECT accepted (RFC 9114 §4.4, RFC 9220 §3): the stream
        // is the handler's now, counted as an in-flight request until the callback
        // ends (a graceful shutdown waits for it up to the grace; a WebSocket closes
        // with 1001 on the signal). A panic in the callback resets the stream.
        let io = H3Tunnel::new(reader, send, conn.quic.clone());
        let upgraded = Upgraded::new(Box::new(io), Vec::new(), Some(conn.shared.shutdown.clone()));
        let run =
            std::panic::AssertUnwindSafe(async move { callback(upgraded).await }).catch_unwind();
        if run.await.is_err() {
            tracing::error!(stream = id, "upgrade callback panicked");
        }
        conn.requests.set(conn.requests.get().saturating_sub(1));
        if conn.draining.get() {
            conn.request_done.notify_waiters();
        }
        return;
    }
    // Keep a finished stream with a large response (possibly much of it still unacked)
    // counted until the peer has all of it, so a graceful close never discards it;
    // during a shutdown, every response. (A reset stream has nothing to deliver; small
    // responses are covered by the linger before the close.)
    let wait_ack = large.get() || *conn.shared.shutdown.borrow();
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

/// A request stream accepted as a tunnel: the handler's callback and the reader, whose
/// request header section is consumed. Boxed: the rare CONNECT allocates, so that every
/// other request's result is one word (a `MessageReader` in it was copied out twice).
type Tunnel = Box<(UpgradeFn, MessageReader)>;

/// Serves one request; `Some` when it was a CONNECT the handler accepted with a 2xx and
/// [`RequestContext::on_upgrade`] (its response head is sent, without FIN).
// `source = None` drops the body source in place; the lint takes it for a dead store.
#[allow(unused_assignments)]
async fn serve_request<H: Handler>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    recv: quinn::RecvStream,
    id: u64,
    large: &Cell<bool>,
) -> Option<Tunnel> {
    let shared = &*conn.shared;
    let config = &shared.config;
    let arena = shared.st.pool.get();
    let state = RequestStream::with_limits(Role::Server, config.decoder_config().frame_limits());
    let mut reader = MessageReader::new(recv, state);
    let section = match poll_fn(|cx| reader.poll_next(cx, &mut [], &arena)).await {
        Ok(Ev::Headers(s)) => s,
        Ok(_) => {
            conn.request_aborted();
            fail_stream(
                conn,
                send,
                &mut reader.recv,
                &ReadFail::H3(H3Error::RequestIncomplete),
            );
            return None;
        }
        Err(e) => {
            if is_too_large(&e) {
                let _ = reader.recv.stop(varint(ErrorCode::ExcessiveLoad));
                if conn.oversized_section(&e) {
                    simple_response(conn, send, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await;
                }
            } else {
                if matches!(
                    e,
                    ReadFail::Quic(quinn::ReadError::Reset(_))
                        | ReadFail::H3(H3Error::RequestIncomplete)
                ) {
                    conn.request_aborted();
                }
                fail_stream(conn, send, &mut reader.recv, &e);
            }
            return None;
        }
    };
    // QPACK-decode into the arena, waiting for the encoder stream if blocked.
    let checked = loop {
        // The list (a few hundred bytes inline) is decoded into where it stays and is
        // consumed within this block, so it is never copied and takes no room in this
        // future's state across the awaits below.
        let step = {
            let mut list = HeaderList::new_in(&arena);
            let r = conn
                .h3
                .borrow_mut()
                .decode_section_into(id, section, &mut list);
            conn.after();
            match r {
                Ok(Decoded::Done(())) => Some(check_request(&conn.h3.borrow(), &list, &arena)),
                Ok(Decoded::Blocked) => None,
                Err(e) => Some(Err(Refused::Fail(ReadFail::H3(e)))),
            }
        };
        if let Some(checked) = step {
            break checked;
        }
        let closed = conn.quic.closed();
        tokio::select! {
            _ = poll_fn(|cx| conn.poll_unblocked(id, cx)) => {}
            _ = closed => return None,
        }
    };
    let (head, regular) = match checked {
        Ok(c) => c,
        Err(Refused::Fail(e)) if is_too_large(&e) => {
            let _ = reader.recv.stop(varint(ErrorCode::ExcessiveLoad));
            if conn.oversized_section(&e) {
                simple_response(conn, send, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await;
            }
            return None;
        }
        Err(Refused::Fail(e)) => {
            fail_stream(conn, send, &mut reader.recv, &e);
            return None;
        }
        Err(Refused::Status(status)) => {
            let _ = reader.recv.stop(varint(ErrorCode::NoError));
            simple_response(conn, send, status).await;
            return None;
        }
    };
    // A CONNECT has no content (RFC 9110 §9.3.6): its DATA is the tunnel's, which a
    // `content-length` does not bound.
    let length = head
        .content_length
        .filter(|_| head.method != Method::CONNECT);
    if let Some(len) = length {
        if let Err(e) = reader.state.set_content_length(len) {
            fail_stream(conn, send, &mut reader.recv, &ReadFail::H3(e));
            return None;
        }
    }
    let RequestHead {
        method,
        target,
        authority,
        scheme,
        protocol,
        ..
    } = head;
    let is_head = method == Method::HEAD;
    let is_connect = method == Method::CONNECT;
    let request = Request::from_parts(RequestParts {
        method,
        target,
        authority,
        scheme,
        version: Version::HTTP_3,
        headers: Headers::from_pairs(regular),
        remote_addr: Some(conn.quic.remote_address()),
    })
    .with_tls_info(Some(&conn.tls_info))
    .with_protocol(protocol);
    let stream_error: Cell<Option<ErrorCode>> = Cell::new(None);
    // In an `Option` so that it is dropped in place (`source = None`) before the
    // reader is used again: `drop(source)` would copy it first.
    let mut source = Some(H3Body {
        conn,
        reader: &mut reader,
        arena: &arena,
        id,
        content_length: head.content_length,
        end: false,
        trailers: None,
        trailer_list: None,
        error: &stream_error,
        rate: RateTimer::new(shared.st.config.timeouts.min_request_body_rate),
        budget: ConnBudget::new(Some(&shared.st.body_budget), u64::MAX),
        token: shared.st.body_budget.token(),
    });
    // A CONNECT's content is the tunnel's (RFC 9114 §4.4): the handler sees no body, and
    // the stream is its own after a 2xx with `on_upgrade` (not once a shutdown began).
    let slot = UpgradeSlot::connect();
    let (body, offer) = if is_connect {
        (Body::empty(&arena), !*shared.shutdown.borrow())
    } else {
        (
            Body::new(source.as_mut()?, &arena, config.max_body_size),
            false,
        )
    };
    let mut rcx = RequestContext::new(request, &arena, body);
    if offer {
        rcx = rcx.with_upgrade(&slot);
    }
    let mut response = call_handler(&*shared.handler, rcx, shared.counters.as_deref(), id).await;
    if let Some(code) = stream_error.get() {
        if code == ErrorCode::RequestCancelled {
            // The peer reset the request stream while its body was being read.
            conn.request_aborted();
        }
        drop(response);
        let _ = send.reset(varint(code));
        return None;
    }
    if is_connect {
        if let Some(callback) = slot.take_if_accepted(response.status()) {
            let sent = send_tunnel_head(conn, send, &arena, response).await;
            source = None;
            return sent.then(|| Box::new((callback, reader)));
        }
        if response.status().is_success() {
            // A 2xx tells the client a tunnel exists (RFC 9110 §9.3.6): without
            // `on_upgrade` that is a handler error.
            tracing::error!("a 2xx to CONNECT without on_upgrade; answering 500");
            response = Response::status_code(500);
        }
    }
    send_response(conn, send, &arena, response, is_head, large).await;
    source = None;
    // Consume what already arrived of an unread request (typically just the FIN of a
    // GET), so the stream closes cleanly; otherwise (RFC 9114 §4.1.1) a complete
    // response was sent: stop the unread rest of the request with H3_NO_ERROR.
    if !reader.is_finished() {
        match drain_ready(&mut reader, &arena) {
            Some(true) => {}
            Some(false) => {
                let _ = reader.recv.stop(varint(ErrorCode::NoError));
            }
            // The peer reset a request it never finished (HEADERS, then RESET_STREAM).
            None => conn.request_aborted(),
        }
    }
    None
}

/// Why a decoded request is not handed to the handler.
enum Refused {
    /// A stream or connection error (or a full arena: `431`).
    Fail(ReadFail),
    /// Answered with this status: `400` for a non-UTF-8 path or authority, or an
    /// unknown method token.
    Status(StatusCode),
}

/// The checked request head, borrowing the arena.
struct RequestHead<'a> {
    method: Method,
    target: &'a str,
    authority: Option<&'a str>,
    scheme: Scheme,
    /// `:protocol` of an extended CONNECT.
    protocol: Option<&'a str>,
    content_length: Option<u64>,
}

/// Validates the decoded fields (RFC 9114 §4.3.1) and copies the regular ones (what
/// the handler sees) into an arena slice.
#[allow(clippy::type_complexity)]
fn check_request<'a>(
    h3: &Connection,
    list: &HeaderList<'a>,
    arena: &'a Arena,
) -> Result<(RequestHead<'a>, &'a [(&'a [u8], &'a [u8])]), Refused> {
    // Plain CONNECT has `:authority` only; `:protocol` needs our
    // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9114 §4.4, RFC 9220 §3): H3_MESSAGE_ERROR.
    let head = h3
        .validate_request(list.iter())
        .map_err(|e| Refused::Fail(ReadFail::H3(e)))?;
    let method = Method::from_bytes(head.method).ok();
    // A plain CONNECT's target is its authority (`host:port`, as in HTTP/1.1's
    // authority form).
    let target = head
        .path
        .or(head.authority)
        .and_then(|p| std::str::from_utf8(p).ok());
    let (Some(method), Some(target)) = (method, target) else {
        // A non-UTF-8 path (or authority) is a bad request.
        return Err(Refused::Status(StatusCode::BAD_REQUEST));
    };
    // A token (checked by the connection): ASCII.
    let protocol = head.protocol.and_then(|p| std::str::from_utf8(p).ok());
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
        protocol,
        content_length: head.content_length,
    };
    Ok((head, regular.into_bump_slice()))
}

/// Reads, without waiting, whatever of the request is already buffered (up to 64 KiB of
/// content): `Some(true)` if the request stream ended cleanly, `Some(false)` if it has
/// not ended yet (or ended in a malformed way), `None` if the peer reset it.
fn drain_ready(reader: &mut MessageReader, arena: &Arena) -> Option<bool> {
    // Usually there is nothing but the FIN: a small stack buffer, not a zeroed arena block.
    let mut scratch = [0u8; 1024];
    let scratch = &mut scratch[..];
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut budget = 64 * 1024usize;
    while budget > 0 {
        match reader.poll_next(&mut cx, scratch, arena) {
            Poll::Ready(Ok(Ev::End)) => return Some(true),
            Poll::Ready(Ok(Ev::Data(n))) => budget = budget.saturating_sub(n.max(1)),
            Poll::Ready(Ok(_)) => budget = budget.saturating_sub(1),
            Poll::Ready(Err(ReadFail::Quic(quinn::ReadError::Reset(_)))) => return None,
            Poll::Ready(Err(_)) | Poll::Pending => return Some(false),
        }
    }
    Some(false)
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
    /// The minimum request-body rate (slow POST).
    rate: RateTimer,
    /// The body bytes the handler read, held until the request finishes. QUIC gives
    /// credit back as bytes are read, so over the worker's budget the body is not read
    /// (quinn's stream and connection receive windows bound what it buffers meanwhile),
    /// except by the worker's leading request.
    budget: ConnBudget<'c>,
    token: u64,
}

impl<H> Drop for H3Body<'_, '_, H> {
    fn drop(&mut self) {
        self.budget.set(0);
        self.conn.shared.st.body_budget.finished(self.token);
    }
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
                    .h3
                    .borrow_mut()
                    .decode_section(self.id, section, self.arena);
                self.conn.after();
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
                    Err(e) => return Poll::Ready(Err(self.fail(ReadFail::H3(e)))),
                }
            }
            if !self.conn.shared.st.body_budget.may_read(self.token, cx) {
                // The server holds the body back: not the peer's wait.
                self.rate.pause();
                return Poll::Pending;
            }
            match self.reader.poll_next(cx, buf, self.arena) {
                Poll::Pending => {
                    if self.rate.poll_too_slow(cx) {
                        // Slow POST: below the minimum rate.
                        let code = ErrorCode::RequestCancelled;
                        self.error.set(Some(code));
                        let _ = self.reader.recv.stop(varint(code));
                        return Poll::Ready(Err(BodyError::Timeout));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(Ev::Data(0) | Ev::Headers(_))) => continue,
                Poll::Ready(Ok(Ev::Data(n))) => {
                    self.rate.progress(n);
                    self.budget.add(n as u64);
                    return Poll::Ready(Ok(n));
                }
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
        .encode(u64::from(send.id()), simple_fields(&code), &mut out)
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
    let id = u64::from(send.id());
    let encoded = conn.encode(id, prepared.fields.iter().copied(), &mut out);
    if !encoded.is_ok_and(|size| conn.h3.borrow().peer_accepts_section(size)) {
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
    // Slow read: the response must move at the minimum rate while it waits on the peer.
    let rate = &mut RateTimer::new(conn.shared.st.config.timeouts.min_response_rate);
    let result = if head_only {
        write_out(conn, send, &out, rate).await
    } else {
        match send_body(send, arena, &mut out, body, length, rate).await {
            Ok(()) => send_trailers(conn, send, arena, &mut out, trailers, rate).await,
            Err(()) => Err(()),
        }
    };
    conn.shared.return_buffer(out);
    if result.is_err() {
        let _ = send.reset(varint(ErrorCode::InternalError));
    }
}

/// The 2xx that turns a CONNECT stream into a tunnel (RFC 9114 §4.4, RFC 9220 §3): a
/// HEADERS frame with `:status`, the handler's fields minus connection-specific ones and
/// `content-length` (RFC 9110 §9.3.6), and `date`; no body and no FIN. False (the stream
/// is reset) if it cannot be sent.
async fn send_tunnel_head<'a, H>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    arena: &'a Arena,
    mut response: Response<'a>,
) -> bool {
    let date = conn.shared.st.date();
    let _ = response.take_body();
    let Some(prepared) = prepare_response(arena, response, true, Some(&date)) else {
        let _ = send.reset(varint(ErrorCode::InternalError));
        return false;
    };
    if !prepared.status.is_success() {
        // The handler's fields were invalid: `prepare_response` made it a 500.
        simple_response(conn, send, prepared.status).await;
        return false;
    }
    count_response(conn, prepared.status);
    let fields = prepared
        .fields
        .iter()
        .filter(|(name, _)| *name != b"content-length")
        .copied();
    let mut out = conn.shared.take_buffer();
    let id = u64::from(send.id());
    let encoded = conn.encode(id, fields, &mut out);
    let ok = encoded.is_ok_and(|size| conn.h3.borrow().peer_accepts_section(size))
        && send.write_all(&out).await.is_ok();
    conn.shared.return_buffer(out);
    if !ok {
        let _ = send.reset(varint(ErrorCode::InternalError));
    }
    ok
}

impl<H> Conn<H> {
    /// Appends a HEADERS frame with `fields` for request stream `id` to `out` (the
    /// connection's QPACK encoder); returns the field section size (RFC 9114 §4.2.2).
    /// The encoder is static-only ([`connection_config`]): it queues nothing on our
    /// encoder stream, so there is nothing for [`after`](Self::after) to do.
    fn encode<'f>(
        &self,
        id: u64,
        fields: impl IntoIterator<Item = (&'f [u8], &'f [u8])>,
        out: &mut Vec<u8>,
    ) -> Result<u64, shockwave_quic::varint::VarIntError> {
        self.h3.borrow_mut().encode_headers_frame(id, fields, out)
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
    rate: &mut RateTimer,
) -> Result<(), ()> {
    let id = u64::from(send.id());
    match trailers {
        Trailers::None => {}
        Trailers::Fields(fields) => {
            encode_trailers(conn, id, arena, fields.iter().copied(), out)?;
        }
        Trailers::Deferred(mut future) => {
            if !out.is_empty() {
                write_rated(send, out, rate).await?;
                out.clear();
            }
            let counters = conn.shared.counters.as_deref();
            let map = resolve_trailers(&mut future, counters, id)
                .await
                .ok_or(())?;
            let fields = map
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()));
            encode_trailers(conn, id, arena, fields, out)?;
        }
    }
    if out.is_empty() {
        return Ok(());
    }
    write_out(conn, send, out, rate).await
}

/// Writes `out` (the rest of a response: usually all of a small one) as `Bytes` cut
/// from the connection's slab, which quinn queues without copying or allocating; under
/// the minimum-rate check of [`write_bytes_rated`].
async fn write_out<H>(
    conn: &Conn<H>,
    send: &mut quinn::SendStream,
    out: &[u8],
    rate: &mut RateTimer,
) -> Result<(), ()> {
    let bytes = {
        let mut slab = conn.slab.borrow_mut();
        let slab = slab.get_or_insert_with(|| bytes::BytesMut::with_capacity(SLAB));
        // Reuses the slab's buffer once quinn dropped every earlier piece of it (all
        // acknowledged), else starts a new one of at least `SLAB` bytes.
        slab.extend_from_slice(out);
        slab.split().freeze()
    };
    write_bytes_rated(send, bytes, rate).await
}

fn encode_trailers<'f, H>(
    conn: &Conn<H>,
    id: u64,
    arena: &'f Arena,
    fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    out: &mut Vec<u8>,
) -> Result<(), ()> {
    let list = trailer_section(arena, fields).map_err(e)?;
    if list.is_empty() {
        return Ok(());
    }
    let size = conn.encode(id, list.iter().copied(), out).map_err(e)?;
    if conn.h3.borrow().peer_accepts_section(size) {
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
    rate: &mut RateTimer,
) -> Result<(), ()> {
    match body {
        ResponseBody::Empty => Ok(()),
        ResponseBody::Slice(s) => send_known(send, out, s, rate).await,
        ResponseBody::Bytes(b) if b.len() > COALESCE_BODY => {
            // Large shared bytes go to quinn as they are (no copy).
            frame::encode_data_header(b.len() as u64, out).map_err(e)?;
            write_rated(send, out, rate).await?;
            out.clear();
            write_bytes_rated(send, b, rate).await
        }
        ResponseBody::Bytes(b) => send_known(send, out, &b, rate).await,
        ResponseBody::File(mut f) => {
            let total = length.unwrap_or(f.len);
            frame::encode_data_header(total, out).map_err(e)?;
            write_rated(send, out, rate).await?;
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
                write_rated(send, &chunk[..n], rate).await?;
                left -= n as u64;
            }
            Ok(())
        }
        ResponseBody::Stream(mut s) => {
            write_rated(send, out, rate).await?;
            while let Some(item) = s.next().await {
                let chunk = item.map_err(e)?;
                if chunk.is_empty() {
                    continue;
                }
                out.clear();
                frame::encode_data_header(chunk.len() as u64, out).map_err(e)?;
                write_rated(send, out, rate).await?;
                write_bytes_rated(send, chunk, rate).await?;
            }
            out.clear();
            Ok(())
        }
    }
}

/// Discards an error (the caller resets the stream).
fn e<E>(_: E) {}

/// A body of known bytes: appended to `out` when small (sent with the headers and
/// trailers), else written after it through the minimum-rate check ([`write_rated`]).
async fn send_known(
    send: &mut quinn::SendStream,
    out: &mut Vec<u8>,
    data: &[u8],
    rate: &mut RateTimer,
) -> Result<(), ()> {
    frame::encode_data_header(data.len() as u64, out).map_err(e)?;
    if data.len() <= COALESCE_BODY {
        out.extend_from_slice(data);
        return Ok(());
    }
    write_rated(send, out, rate).await?;
    out.clear();
    write_rated(send, data, rate).await
}

/// Hands `data` to quinn without copying it (quinn keeps the `Bytes` until sent), under
/// the same minimum-rate check as [`write_rated`]: every part quinn accepts counts as
/// progress, so a large chunk read at a fair rate is never cut.
async fn write_bytes_rated(
    send: &mut quinn::SendStream,
    mut data: bytes::Bytes,
    rate: &mut RateTimer,
) -> Result<(), ()> {
    while !data.is_empty() {
        let too_slow = poll_fn(|cx| {
            // `write_chunks` advances `data` past what quinn took; its future holds no
            // state between polls, so one per poll is fine.
            let written = std::future::Future::poll(
                std::pin::pin!(send.write_chunks(std::slice::from_mut(&mut data))),
                cx,
            );
            match written {
                Poll::Ready(Ok(w)) => {
                    rate.progress(w.bytes);
                    Poll::Ready(Ok(false))
                }
                Poll::Ready(Err(_)) => Poll::Ready(Err(())),
                Poll::Pending if rate.poll_too_slow(cx) => Poll::Ready(Ok(true)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        if too_slow {
            let _ = send.reset(varint(ErrorCode::RequestCancelled));
            return Err(());
        }
    }
    Ok(())
}

/// Writes all of `data`, cutting the stream (H3_REQUEST_CANCELLED) once the peer reads
/// below the minimum response rate; only the time spent waiting for the peer's credit
/// counts.
async fn write_rated(
    send: &mut quinn::SendStream,
    data: &[u8],
    rate: &mut RateTimer,
) -> Result<(), ()> {
    let mut off = 0;
    while off < data.len() {
        let n = poll_fn(
            |cx| match std::pin::Pin::new(&mut *send).poll_write(cx, &data[off..]) {
                Poll::Ready(Ok(n)) => {
                    rate.progress(n);
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(Err(_)) => Poll::Ready(Err(())),
                Poll::Pending if rate.poll_too_slow(cx) => {
                    let _ = send.reset(varint(ErrorCode::RequestCancelled));
                    Poll::Ready(Err(()))
                }
                Poll::Pending => Poll::Pending,
            },
        )
        .await?;
        if n == 0 {
            return Err(());
        }
        off += n;
    }
    Ok(())
}
