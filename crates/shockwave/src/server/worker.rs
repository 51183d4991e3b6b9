//! Worker threads: one current-thread tokio runtime, one `SO_REUSEPORT` listener per
//! address, one arena pool, per worker. Workers share nothing on the hot path.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
#[cfg(feature = "tls")]
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::config::ServerConfig;
use super::handler::Handler;
use super::request::Scheme;
use super::state::{spawn_ticker, WorkerState};
use super::stats::{dec, inc, WorkerCounters};

/// What accepts TLS on a listener: the rustls acceptor, or (without the `tls` feature) a
/// type with no value, so `Option<Acceptor>` is always `None`.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// What accepts TLS on a listener: without the `tls` feature a type with no value, so
/// `Option<Acceptor>` is always `None` (not `Copy`, like the rustls acceptor, so the
/// code cloning it reads the same with and without TLS).
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Acceptor {}

/// A listening socket prepared for one worker.
pub(crate) struct BoundListener {
    pub listener: std::net::TcpListener,
    pub tls: Option<Acceptor>,
}

/// Binds `addr` with `SO_REUSEADDR` + `SO_REUSEPORT`, non-blocking, with `backlog`.
///
/// `first` is the first socket of an address (the one that picks the port for `:0`): it
/// is bound *without* `SO_REUSEPORT`, so the bind fails with `AddrInUse` if any other
/// socket — another process's `SO_REUSEPORT` listener included — already holds the
/// address; only then is `SO_REUSEPORT` turned on (before `listen`), so that the other
/// workers' sockets (`first == false`) can join this one. Another program can thus never
/// silently share (and split) a port the server was asked to serve. With one worker
/// (`shared == false`) `SO_REUSEPORT` is never set.
pub(crate) fn bind_reuseport(
    addr: SocketAddr,
    backlog: i32,
    first: bool,
    shared: bool,
) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    if !first {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| in_use_error(e, "TCP", addr))?;
    #[cfg(unix)]
    if first && shared {
        socket.set_reuse_port(true)?;
    }
    let _ = shared;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Names the address in a bind error (`AddrInUse` keeps its kind).
pub(crate) fn in_use_error(e: std::io::Error, proto: &str, addr: SocketAddr) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("{proto} address {addr} is already in use by another socket ({e})"),
        )
    } else {
        std::io::Error::new(e.kind(), format!("cannot bind {proto} address {addr}: {e}"))
    }
}

/// Binds UDP `addr` for a worker's QUIC endpoint (`SO_REUSEPORT` when several workers
/// share the address: the kernel keeps a client's packets on one socket).
///
/// As for TCP, the `first` socket of an address is bound without `SO_REUSEPORT` (so the
/// bind fails with `AddrInUse` when another socket holds the address) and turns it on
/// afterwards when `reuse_port` asks for the other workers to join.
#[cfg(feature = "http3")]
pub(crate) fn bind_udp(
    addr: SocketAddr,
    reuse_port: bool,
    first: bool,
) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    #[cfg(unix)]
    if reuse_port && !first {
        socket.set_reuse_port(true)?;
    }
    socket
        .bind(&addr.into())
        .map_err(|e| in_use_error(e, "UDP", addr))?;
    #[cfg(unix)]
    if reuse_port && first {
        socket.set_reuse_port(true)?;
    }
    let _ = (reuse_port, first);
    Ok(socket.into())
}

/// What one worker serves: its TCP listeners and its HTTP/3 UDP sockets (with the QUIC
/// configuration they share).
pub(crate) struct WorkerSockets {
    pub tcp: Vec<BoundListener>,
    #[cfg(feature = "http3")]
    pub udp: Vec<std::net::UdpSocket>,
    #[cfg(feature = "http3")]
    pub quic: Option<quinn::ServerConfig>,
    /// The worker's HTTP/3 counters (also summed into the server's totals).
    #[cfg(feature = "http3")]
    pub h3_counters: Option<Arc<WorkerCounters>>,
}

/// The body of one worker thread.
pub(crate) fn run_worker<H: Handler>(
    id: usize,
    sockets: WorkerSockets,
    handler: Arc<H>,
    config: Arc<ServerConfig>,
    counters: Arc<WorkerCounters>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Every event of this worker (and its connections) carries the worker id.
    let _span = tracing::info_span!("shockwave_worker", worker = id).entered();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let state = Rc::new(WorkerState::new(
        handler,
        config.clone(),
        counters,
        shutdown.clone(),
    ));
    local.block_on(&rt, async move {
        state.tick();
        let mut accepts = Vec::new();
        for l in sockets.tcp {
            let listener = TcpListener::from_std(l.listener)?;
            accepts.push(tokio::task::spawn_local(accept_loop(
                listener,
                l.tls,
                state.clone(),
            )));
        }
        // HTTP/3: a quinn endpoint per UDP socket, serving with the same state. Its task
        // ends after the endpoint's own graceful shutdown (GOAWAY, grace, close).
        #[cfg(feature = "http3")]
        for udp in sockets.udp {
            let endpoint = quinn::Endpoint::new(
                quinn::EndpointConfig::default(),
                sockets.quic.clone(),
                udp,
                Arc::new(quinn::TokioRuntime),
            )?;
            accepts.push(tokio::task::spawn_local(super::h3::run_endpoint(
                endpoint,
                state.clone(),
                sockets.h3_counters.clone(),
            )));
        }
        let publisher = spawn_ticker(state.clone());
        tracing::debug!(worker = id, "worker started");
        let mut shutdown = shutdown;
        let _ = shutdown.wait_for(|stop| *stop).await;
        state.stopping.set(true);
        state.stop_notify.notify_waiters();
        // Graceful: idle connections close themselves on the signal; in-flight requests
        // finish, up to the grace deadline (HTTP/3 endpoints wait for theirs in their
        // own task, with the same grace).
        let deadline = tokio::time::Instant::now() + config.timeouts.shutdown_grace;
        for a in accepts {
            let _ = a.await;
        }
        while state.active.get() > 0 {
            let notified = state.closed.notified();
            if state.active.get() == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(
                    worker = id,
                    open = state.active.get(),
                    "shutdown deadline reached; dropping connections"
                );
                break;
            }
        }
        publisher.abort();
        state.publish_arena_stats();
        tracing::debug!(worker = id, "worker stopped");
        Ok::<(), std::io::Error>(())
    })
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    tls: Option<Acceptor>,
    state: Rc<WorkerState<H>>,
) {
    let mut shutdown = state.shutdown.clone();
    let scheme = if tls.is_some() {
        Scheme::Https
    } else {
        Scheme::Http
    };
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            r = listener.accept() => r,
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let counters = &state.counters;
        if state.active.get() >= state.config.limits.max_connections_per_worker {
            inc(&counters.connections_refused);
            // Best effort, never blocking the accept loop.
            let _ = stream.try_write(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        inc(&counters.connections_accepted);
        inc(&counters.connections_active);
        state.active.set(state.active.get() + 1);
        let guard = ActiveGuard(state.clone());
        let tls = tls.clone();
        tokio::task::spawn_local(async move {
            let st = &*guard.0;
            match tls {
                None => {
                    // h2c with prior knowledge: the client preface on the cleartext port.
                    // The first bytes must come within the header-read timeout (once:
                    // HTTP/1.1 then finds them buffered); a shutdown closes the wait.
                    #[cfg(feature = "http2")]
                    {
                        use super::h2::Sniffed;
                        let sniffed = if st.stopping() {
                            Sniffed::Closed
                        } else {
                            let wait = st.config.timeouts.header_read;
                            tokio::select! {
                                s = super::h2::sniff_preface(&stream, wait) => s,
                                _ = st.stop_signal() => Sniffed::Closed,
                            }
                        };
                        match sniffed {
                            Sniffed::Http2 => {
                                super::h2::serve(stream, st, scheme, Some(remote)).await
                            }
                            Sniffed::Http1 => {
                                super::h1::serve(stream, st, scheme, Some(remote)).await
                            }
                            Sniffed::TimedOut => inc(&st.counters.timeouts),
                            Sniffed::Closed => {}
                        }
                    }
                    #[cfg(not(feature = "http2"))]
                    super::h1::serve(stream, st, scheme, Some(remote)).await
                }
                #[cfg(feature = "tls")]
                Some(acceptor) => {
                    if let Some(tls_stream) = handshake(acceptor, stream, st).await {
                        serve_tls(tls_stream, st, scheme, remote).await
                    }
                }
                #[cfg(not(feature = "tls"))]
                Some(never) => match never {},
            }
            drop(guard);
        });
    }
}

/// Serves a TLS connection with the protocol ALPN selected: HTTP/2 for `h2` (with the
/// `http2` feature), else HTTP/1.1.
#[cfg(feature = "tls")]
async fn serve_tls<H: Handler>(
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    st: &WorkerState<H>,
    scheme: Scheme,
    remote: SocketAddr,
) {
    #[cfg(feature = "http2")]
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        return super::h2::serve(stream, st, scheme, Some(remote)).await;
    }
    super::h1::serve(stream, st, scheme, Some(remote)).await
}

#[cfg(feature = "tls")]
async fn handshake<H>(
    acceptor: Acceptor,
    stream: TcpStream,
    st: &WorkerState<H>,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut shutdown = st.shutdown.clone();
    tokio::select! {
        r = tokio::time::timeout(st.config.timeouts.header_read, acceptor.accept(stream)) => match r {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                inc(&st.counters.tls_handshake_failures);
                tracing::debug!(error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                inc(&st.counters.tls_handshake_failures);
                inc(&st.counters.timeouts);
                None
            }
        },
        _ = shutdown.wait_for(|stop| *stop) => None,
    }
}

/// Counts a connection as active until dropped (even if its task is cancelled).
struct ActiveGuard<H>(Rc<WorkerState<H>>);

impl<H> Drop for ActiveGuard<H> {
    fn drop(&mut self) {
        let st = &self.0;
        st.active.set(st.active.get().saturating_sub(1));
        dec(&st.counters.connections_active);
        st.trim.note_close();
        st.closed.notify_waiters();
    }
}
