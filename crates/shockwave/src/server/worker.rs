//! Worker threads: one current-thread tokio runtime, one `SO_REUSEPORT` listener per
//! address, one arena pool, per worker. Workers share nothing on the hot path.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::config::ServerConfig;
use super::handler::Handler;
use super::request::Scheme;
use super::state::{spawn_ticker, WorkerState};
use super::stats::{dec, inc, WorkerCounters};

/// A connected stream whose first bytes can be peeked without consuming them: TCP, or a
/// Unix domain socket.
// Only the h2c preface sniff peeks (without `http2`, cleartext is HTTP/1.1 alone).
#[cfg_attr(not(feature = "http2"), allow(dead_code))]
pub(crate) trait Peek {
    /// Waits until the stream is readable (or closed for reading).
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<tokio::io::Ready>>;
    /// Peeks into `buf` without blocking; a count `accept` refuses is `WouldBlock`, which
    /// clears the stream's read readiness (unless a newer event came in meanwhile), so the
    /// next [`Peek::readable`] waits for new bytes.
    fn try_peek(&self, buf: &mut [u8], accept: &dyn Fn(usize) -> bool) -> std::io::Result<usize>;
}

impl Peek for tokio::net::TcpStream {
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<tokio::io::Ready>> {
        self.ready(tokio::io::Interest::READABLE)
    }

    fn try_peek(&self, buf: &mut [u8], accept: &dyn Fn(usize) -> bool) -> std::io::Result<usize> {
        self.try_io(tokio::io::Interest::READABLE, || {
            let mut rb = tokio::io::ReadBuf::new(buf);
            let mut noop = std::task::Context::from_waker(std::task::Waker::noop());
            match self.poll_peek(&mut noop, &mut rb) {
                std::task::Poll::Ready(Ok(n)) if accept(n) => Ok(n),
                std::task::Poll::Ready(Ok(_)) | std::task::Poll::Pending => {
                    Err(std::io::ErrorKind::WouldBlock.into())
                }
                std::task::Poll::Ready(Err(e)) => Err(e),
            }
        })
    }
}

#[cfg(unix)]
impl Peek for tokio::net::UnixStream {
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<tokio::io::Ready>> {
        self.ready(tokio::io::Interest::READABLE)
    }

    fn try_peek(&self, buf: &mut [u8], accept: &dyn Fn(usize) -> bool) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd as _;
        self.try_io(tokio::io::Interest::READABLE, || {
            // SAFETY: `buf` is a valid, writable buffer of `buf.len()` bytes for the whole
            // call, and the descriptor is owned by `self`, open while it lives.
            let n = unsafe {
                libc::recv(
                    self.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            match usize::try_from(n) {
                Ok(n) if accept(n) => Ok(n),
                Ok(_) => Err(std::io::ErrorKind::WouldBlock.into()),
                Err(_) => Err(std::io::Error::last_os_error()),
            }
        })
    }
}

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

/// A Unix socket file the server created: removed when dropped (the last worker that
/// serves it stopped), if the path still names that same file (same device and inode:
/// a file another process put there since is left alone).
#[cfg(unix)]
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: std::path::PathBuf,
    id: (u64, u64),
}

#[cfg(unix)]
impl Drop for SocketFile {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt as _;
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds and listens on the Unix socket `path` with permission bits `mode` (set between
/// `bind` and `listen`, so no connection is accepted under the umask's bits).
///
/// A path that exists is handled like a TCP address another socket holds: refused with
/// `AddrInUse` when something accepts connections on it or when it is not a socket; a
/// socket file nothing listens on (left by a crashed run: connecting is refused) is
/// removed and the bind retried.
#[cfg(unix)]
pub(crate) fn bind_unix(
    path: &std::path::Path,
    mode: u32,
    backlog: i32,
) -> std::io::Result<(std::os::unix::net::UnixListener, SocketFile)> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
    let shown = path.display();
    let bind = || -> std::io::Result<Socket> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.bind(&socket2::SockAddr::unix(path)?)?;
        Ok(socket)
    };
    let socket = match bind() {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::AddrInUse => {
            let meta = std::fs::symlink_metadata(path)?;
            if !meta.file_type().is_socket() {
                return Err(Error::new(
                    ErrorKind::AddrInUse,
                    format!("{shown} exists and is not a socket"),
                ));
            }
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => {
                    return Err(Error::new(
                        ErrorKind::AddrInUse,
                        format!("Unix socket {shown} is already served by another process"),
                    ))
                }
                Err(c) if c.kind() == ErrorKind::ConnectionRefused => {
                    // A stale socket file: nothing listens on it.
                    tracing::info!(path = %shown, "removing a stale Unix socket file");
                    std::fs::remove_file(path)?;
                    bind().map_err(|e| {
                        Error::new(e.kind(), format!("cannot bind Unix socket {shown}: {e}"))
                    })?
                }
                Err(c) => {
                    return Err(Error::new(
                        ErrorKind::AddrInUse,
                        format!("Unix socket {shown} exists and cannot be probed ({c})"),
                    ))
                }
            }
        }
        Err(e) => {
            return Err(Error::new(
                e.kind(),
                format!("cannot bind Unix socket {shown}: {e}"),
            ))
        }
    };
    let meta = std::fs::symlink_metadata(path)?;
    let file = SocketFile {
        path: path.to_path_buf(),
        id: (meta.dev(), meta.ino()),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    socket.set_nonblocking(true)?;
    socket.listen(backlog)?;
    Ok((socket.into(), file))
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
    /// Unix domain socket listeners (each a clone of the one socket every worker shares).
    #[cfg(unix)]
    pub unix: Vec<std::os::unix::net::UnixListener>,
    /// The socket files, removed once the last worker holding them stops.
    #[cfg(unix)]
    pub unix_files: Vec<Arc<SocketFile>>,
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
    // Dropped when this worker returns: the last one out removes the socket files.
    #[cfg(unix)]
    let _unix_files = sockets.unix_files;
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
        #[allow(unused_mut)]
        let mut tcp = sockets.tcp;
        // The io_uring driver takes the cleartext TCP listeners (or gives them back, and
        // the epoll accept loops below serve them).
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        let _uring = if config.io == super::config::Io::Uring {
            let (plain, rest): (Vec<_>, Vec<_>) = tcp.into_iter().partition(|l| l.tls.is_none());
            tcp = rest;
            let plain = plain.into_iter().map(|l| l.listener).collect::<Vec<_>>();
            if plain.is_empty() {
                None
            } else {
                match super::uring::start(plain, state.clone()) {
                    Ok(reactor) => Some(reactor),
                    Err((e, listeners)) => {
                        tracing::warn!(
                            worker = id,
                            error = %e,
                            "io_uring setup failed; this worker serves with epoll"
                        );
                        tcp.extend(listeners.into_iter().map(|listener| BoundListener {
                            listener,
                            tls: None,
                        }));
                        None
                    }
                }
            }
        } else {
            None
        };
        for l in tcp {
            let listener = TcpListener::from_std(l.listener)?;
            let tls = l.tls;
            accepts.push(tokio::task::spawn_local(accept_loop(
                listener,
                state.clone(),
                move |stream, remote, guard| serve_tcp(stream, remote, tls.clone(), guard),
            )));
        }
        #[cfg(unix)]
        for l in sockets.unix {
            let listener = tokio::net::UnixListener::from_std(l)?;
            // The cleartext protocols, no peer address, the same cap and counters as TCP.
            accepts.push(tokio::task::spawn_local(accept_loop(
                listener,
                state.clone(),
                |stream, _, guard: ActiveGuard<H>| async move {
                    serve_cleartext(stream, &guard.0, None).await;
                    drop(guard);
                },
            )));
        }
        // HTTP/3: a quinn endpoint per UDP socket, serving with the same state. Its task
        // ends after the endpoint's own graceful shutdown (GOAWAY, grace, close).
        #[cfg(feature = "http3")]
        for udp in sockets.udp {
            let endpoint = quinn::Endpoint::new(
                config.http3.endpoint_config(),
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

/// A listener one accept loop serves: TCP, or a Unix domain socket.
trait Listen {
    /// The accepted connection.
    type Stream: 'static;
    /// What the accept tells of the peer.
    type Peer: 'static;
    /// Appended to "accept failed" in the log (which listener failed).
    const KIND: &'static str;
    /// Accepts the next connection.
    fn accept(
        &self,
    ) -> impl std::future::Future<Output = std::io::Result<(Self::Stream, Self::Peer)>>;
    /// Writes what it can of `bytes` without blocking (the refusal of a connection over
    /// the cap).
    fn try_write(stream: &Self::Stream, bytes: &[u8]);
    /// Prepares a connection that will be served.
    fn configure(_stream: &Self::Stream) {}
}

impl Listen for TcpListener {
    type Stream = tokio::net::TcpStream;
    type Peer = SocketAddr;
    const KIND: &'static str = "";

    fn accept(
        &self,
    ) -> impl std::future::Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> {
        TcpListener::accept(self)
    }

    fn try_write(stream: &Self::Stream, bytes: &[u8]) {
        let _ = stream.try_write(bytes);
    }

    fn configure(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }
}

#[cfg(unix)]
impl Listen for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    type Peer = tokio::net::unix::SocketAddr;
    const KIND: &'static str = " (Unix socket)";

    fn accept(
        &self,
    ) -> impl std::future::Future<Output = std::io::Result<(Self::Stream, Self::Peer)>> {
        tokio::net::UnixListener::accept(self)
    }

    fn try_write(stream: &Self::Stream, bytes: &[u8]) {
        let _ = stream.try_write(bytes);
    }
}

/// Accepts on `listener` until the shutdown signal: a failed accept (EMFILE and friends)
/// backs off briefly instead of spinning; a connection over the worker's cap gets a
/// best-effort 503 and is closed; every other one is counted as active (until its
/// [`ActiveGuard`] drops) and served by `serve` on a task of its own.
async fn accept_loop<L, H, F, Fut>(listener: L, state: Rc<WorkerState<H>>, serve: F)
where
    L: Listen,
    H: Handler,
    F: Fn(L::Stream, L::Peer, ActiveGuard<H>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let mut shutdown = state.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed{}", L::KIND);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let counters = &state.counters;
        if state.active.get() >= state.config.limits.max_connections_per_worker {
            inc(&counters.connections_refused);
            // Best effort, never blocking the accept loop.
            L::try_write(
                &stream,
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            drop(stream);
            continue;
        }
        L::configure(&stream);
        inc(&counters.connections_accepted);
        inc(&counters.connections_active);
        state.active.set(state.active.get() + 1);
        let guard = ActiveGuard(state.clone());
        tokio::task::spawn_local(serve(stream, peer, guard));
    }
}

/// Serves a TCP connection: cleartext, or TLS when the listener has an acceptor.
async fn serve_tcp<H: Handler>(
    stream: TcpStream,
    remote: SocketAddr,
    tls: Option<Acceptor>,
    guard: ActiveGuard<H>,
) {
    let st = &*guard.0;
    match tls {
        None => serve_cleartext(stream, st, Some(remote)).await,
        // Boxed: the TLS stream and handshake make this future several KiB larger
        // than the cleartext one, and the task's future is as large as its largest
        // branch (every idle cleartext connection would hold that room).
        #[cfg(feature = "tls")]
        Some(acceptor) => {
            Box::pin(async move {
                if let Some(tls_stream) = handshake(acceptor, stream, st).await {
                    serve_tls(tls_stream, st, Scheme::Https, remote).await
                }
            })
            .await
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    }
    drop(guard);
}

/// Serves a cleartext connection (TCP or a Unix domain socket): h2c with prior knowledge
/// when its first bytes are the HTTP/2 client preface, else HTTP/1.1 (with its
/// `Upgrade: h2c`). The first bytes must come within the header-read timeout (once:
/// HTTP/1.1 then finds them buffered); a shutdown closes the wait.
pub(crate) async fn serve_cleartext<S, H>(
    stream: S,
    st: &WorkerState<H>,
    remote: Option<SocketAddr>,
) where
    S: Peek + tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    #[cfg(feature = "http2")]
    {
        use super::h2::Sniffed;
        let sniffed = if st.stopping() {
            Sniffed::Closed
        } else {
            let wait = st.config.timeouts.header_read;
            tokio::select! {
                s = super::h2::sniff_stream(&stream, wait) => s,
                _ = st.stop_signal() => Sniffed::Closed,
            }
        };
        // Each protocol's future is boxed once the first bytes decided it: a connection
        // holds the state of its own protocol only, not room for the larger of the two.
        match sniffed {
            Sniffed::Http2 => Box::pin(super::h2::serve(stream, st, Scheme::Http, remote)).await,
            Sniffed::Http1 => Box::pin(super::h1::serve(stream, st, Scheme::Http, remote)).await,
            Sniffed::TimedOut => inc(&st.counters.timeouts),
            Sniffed::Closed => {}
        }
    }
    #[cfg(not(feature = "http2"))]
    super::h1::serve(stream, st, Scheme::Http, remote).await
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
    // Captured once: every request of the connection borrows it.
    let tls = crate::service::TlsInfo::from_rustls(stream.get_ref().1);
    #[cfg(feature = "http2")]
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        return super::h2::serve_with_tls(stream, st, scheme, Some(remote), Some(&tls)).await;
    }
    super::h1::serve_with_tls(stream, st, scheme, Some(remote), Some(&tls)).await
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
pub(crate) struct ActiveGuard<H>(pub(crate) Rc<WorkerState<H>>);

impl<H> Drop for ActiveGuard<H> {
    fn drop(&mut self) {
        let st = &self.0;
        st.active.set(st.active.get().saturating_sub(1));
        dec(&st.counters.connections_active);
        st.trim.note_close();
        st.closed.notify_waiters();
    }
}
