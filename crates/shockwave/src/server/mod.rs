//! The server: HTTP/1.1, h2c (prior knowledge and `Upgrade: h2c`), TLS with ALPN
//! `h2`/`http/1.1`, and HTTP/3 over QUIC, from one [`ServerConfig`]. Thread-per-core
//! workers, per-request arenas, zero heap allocations per request once warm.
//!
//! ```no_run
//! use shockwave::server::{handler_fn, Response, Server};
//!
//! fn main() -> std::io::Result<()> {
//!     Server::builder()
//!         .bind("127.0.0.1:8080".parse().unwrap())
//!         .build()
//!         .run(handler_fn(async |_cx| Response::text("Hello, World!")))
//! }
//! ```
//!
//! [`ServerBuilder::bind_unix`] adds Unix domain sockets, served like the cleartext TCP
//! addresses (HTTP/1.1 and h2c).
//!
//! This module is the `server` feature. HTTP/1.1 over cleartext TCP is always there;
//! h2c (prior knowledge and `Upgrade: h2c`) and ALPN `h2` need `http2`; TLS listeners
//! and the `tls` module (certificates, self-signed ones) need `tls`; HTTP/3 listeners
//! need `http3` (see the crate's feature table).
//!
//! ## Architecture
//!
//! One worker state per thread serves every protocol: the drivers `h1`, `h2` and `h3`
//! (crate-private) take it directly and share one response pipeline
//! (`crate::common::pipeline`: one panic guard, the field rules, trailers, counters). With
//! [`ServerBuilder::bind_h3`] each worker also runs a quinn endpoint on its own
//! `SO_REUSEPORT` UDP socket; [`ServerHandle`] and [`StatsSource`] cover every protocol.
//!
//! [`ServerConfig::workers`] threads each run a current-thread tokio runtime and accept
//! on their own `SO_REUSEPORT` listening socket (so the kernel spreads connections), with
//! `TCP_NODELAY`. Each worker owns an [`ArenaPool`](crate::arena::ArenaPool), a buffer
//! pool and a cached `Date` value. A handler's future runs on the worker that accepted
//! the connection, so it need not be `Send` and can hold the request's
//! [`Arena`](crate::arena::Arena) across `.await`s.
//!
//! Per connection, requests are read into a reused buffer and parsed (zero copy) with
//! `shockwave-http11`; pipelined requests are answered in order and their responses
//! written with one `write`. Keep-alive follows RFC 9112 §9.3, `Expect: 100-continue` is
//! honoured when the handler reads the body, request bodies stream (Content-Length or
//! chunked) up to [`ServerLimits::max_body_size`].
//!
//! ## The handler API
//!
//! A [`Handler`] gets a [`RequestContext<'a>`] — the [`Request<'a>`] head, the request's
//! arena, the streamed [`Body<'a>`] — and returns a [`Response<'a>`] that may borrow any of
//! them. The same types serve HTTP/2 and HTTP/3 (see [`BodySource`] for how a protocol
//! driver plugs in a body). [`handler_fn`] makes an async closure a handler;
//! [`service_fn`] is the owned `http::Request<Bytes>` → `http::Response<Bytes>` API, and
//! [`from_tower`] serves a `tower::Service` (an axum `Router` as it is) over a streamed
//! [`TowerBody`], answering any `http_body::Body`.

#[cfg(feature = "http3")]
mod alt_svc;
#[cfg(feature = "compression")]
pub mod compression;
pub mod config;
pub mod files;
mod h1;
#[cfg(feature = "http2")]
pub(crate) mod h2;
#[cfg(feature = "http3")]
pub(crate) mod h3;
pub mod routes;
mod state;
pub mod stats;
#[cfg(feature = "tls")]
pub mod tls;
mod trim;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;
mod worker;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

/// The handler API lives in [`crate::service`]; its modules are re-exported here so
/// `shockwave::server::response::Response` and friends keep working.
pub use crate::service::{body, handler, request, response, upgrade};

pub use crate::service::tower::{
    from_tower, RemoteAddr, TowerBody, TowerHandler, TOWER_COLLECT_EXACT_MAX,
};
pub use crate::service::TlsInfo;
pub use body::{Body, BodyError, BodySource};
pub use config::{Alloc, Io, MinDataRate, ServerBuilder, ServerConfig, ServerLimits, Timeouts};
pub use handler::{handler_fn, service_fn, Handler, HandlerFn, ServiceFn};
pub use request::{Headers, HeadersIter, Request, RequestContext, RequestParts, Scheme};
pub use response::{
    BodyStream, FileBody, Response, ResponseBody, Trailers, RESPONSE_INLINE_HEADERS,
};
pub use stats::ServerStats;
pub use upgrade::Upgraded;

#[cfg(feature = "compression")]
pub use compression::{Compress, Compression};

#[cfg(feature = "http3")]
pub use alt_svc::AltSvc;
#[cfg(feature = "http2")]
pub use h2::{cached_date, serve_connection, sniff_preface, ServeContext, Sniffed};

use stats::WorkerCounters;
use worker::BoundListener;

/// A configured server, not yet listening. Create it with [`Server::builder`].
#[derive(Debug, Clone)]
pub struct Server {
    config: ServerConfig,
}

impl Server {
    /// A builder with the defaults (see [`ServerConfig`]).
    pub fn builder() -> ServerBuilder {
        ServerConfig::builder()
    }

    /// A server with this configuration.
    pub fn new(config: ServerConfig) -> Server {
        Server { config }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Binds every address (one `SO_REUSEPORT` socket per worker, TCP and UDP) and
    /// starts the workers. Returns once the server is listening. With HTTP/3 addresses
    /// and TLS addresses, the TLS responses advertise HTTP/3 (`alt-svc`, see
    /// [`AltSvc`]).
    pub fn start<H: Handler>(self, handler: H) -> std::io::Result<ServerHandle> {
        self.start_arc(Arc::new(handler), true)
    }

    pub(crate) fn start_arc<H: Handler>(
        self,
        handler: Arc<H>,
        alt_svc: bool,
    ) -> std::io::Result<ServerHandle> {
        let config = self.config;
        // The TLS and HTTP/3 addresses (none without their features).
        #[cfg(feature = "tls")]
        let tls_addrs: &[SocketAddr] = &config.tls_addrs;
        #[cfg(not(feature = "tls"))]
        let tls_addrs: &[SocketAddr] = &[];
        #[cfg(feature = "http3")]
        let h3_addrs: &[SocketAddr] = &config.h3_addrs;
        #[cfg(not(feature = "http3"))]
        let h3_addrs: &[SocketAddr] = &[];
        #[cfg(unix)]
        let unix_paths: &[std::path::PathBuf] = &config.unix_paths;
        #[cfg(not(unix))]
        let unix_paths: &[std::path::PathBuf] = &[];
        if config.addrs.is_empty()
            && tls_addrs.is_empty()
            && h3_addrs.is_empty()
            && unix_paths.is_empty()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no listening address: call ServerBuilder::bind",
            ));
        }
        #[cfg(feature = "tls")]
        if (!tls_addrs.is_empty() || !h3_addrs.is_empty()) && config.tls.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "TLS and HTTP/3 addresses need a TLS configuration (ServerBuilder::tls)",
            ));
        }
        let workers = config.workers.max(1);
        #[cfg(feature = "tls")]
        let tls = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        #[cfg(not(feature = "tls"))]
        let tls: Option<worker::Acceptor> = None;
        // Bind: the first socket of an address picks the port (for `:0`) and is bound
        // without SO_REUSEPORT, so an address another socket already holds is refused
        // (AddrInUse); the other workers' sockets join it with SO_REUSEPORT.
        let mut per_worker: Vec<worker::WorkerSockets> = (0..workers)
            .map(|_| worker::WorkerSockets {
                tcp: Vec::new(),
                #[cfg(unix)]
                unix: Vec::new(),
                #[cfg(unix)]
                unix_files: Vec::new(),
                #[cfg(feature = "http3")]
                udp: Vec::new(),
                #[cfg(feature = "http3")]
                quic: None,
                #[cfg(feature = "http3")]
                h3_counters: None,
            })
            .collect();
        let mut addrs = BoundAddrs::default();
        // Unix sockets: one listening socket per path, shared by every worker (a clone of
        // the descriptor each); the file goes when the last worker stops (or now, if a
        // later bind fails).
        #[cfg(unix)]
        for path in unix_paths {
            let (listener, file) =
                worker::bind_unix(path, config.unix_socket_mode, config.backlog)?;
            let file = Arc::new(file);
            for w in per_worker.iter_mut() {
                w.unix.push(listener.try_clone()?);
                w.unix_files.push(file.clone());
            }
            addrs.unix.push(path.clone());
        }
        let all = config
            .addrs
            .iter()
            .map(|a| (*a, false))
            .chain(tls_addrs.iter().map(|a| (*a, true)));
        for (addr, is_tls) in all {
            let first = worker::bind_reuseport(addr, config.backlog, true, workers > 1)?;
            let actual = first.local_addr()?;
            if is_tls {
                addrs.tls.push(actual);
            } else {
                addrs.plain.push(actual);
            }
            let acceptor = if is_tls { tls.clone() } else { None };
            per_worker[0].tcp.push(BoundListener {
                listener: first,
                tls: acceptor.clone(),
            });
            for w in per_worker.iter_mut().skip(1) {
                w.tcp.push(BoundListener {
                    listener: worker::bind_reuseport(actual, config.backlog, false, true)?,
                    tls: acceptor.clone(),
                });
            }
        }
        #[cfg(feature = "http3")]
        if let (false, Some(tls)) = (h3_addrs.is_empty(), &config.tls) {
            let quic =
                crate::http3::quic_server_config(tls, &config.http3).map_err(|e| match e {
                    crate::http3::SetupError::Io(e) => e,
                    other => {
                        std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string())
                    }
                })?;
            for &addr in h3_addrs {
                let first = worker::bind_udp(addr, workers > 1, true)?;
                let actual = first.local_addr()?;
                addrs.h3.push(actual);
                per_worker[0].udp.push(first);
                for w in per_worker.iter_mut().skip(1) {
                    w.udp.push(worker::bind_udp(actual, true, false)?);
                }
            }
            for w in &mut per_worker {
                w.quic = Some(quic.clone());
                w.h3_counters = Some(Arc::new(WorkerCounters::default()));
            }
        }
        #[cfg(feature = "http3")]
        if let Some(port) = addrs.h3.first().map(|a| a.port()) {
            if alt_svc && !addrs.tls.is_empty() {
                let advertised = Arc::new(AltSvc::new(handler, port));
                return launch(config, advertised, per_worker, addrs);
            }
        }
        #[cfg(not(feature = "http3"))]
        let _ = alt_svc;
        launch(config, handler, per_worker, addrs)
    }

    /// Starts the server and blocks until it has shut down: on SIGINT/SIGTERM (when
    /// [`ServerConfig::handle_signals`] is set) or a [`ShutdownHandle`].
    pub fn run<H: Handler>(self, handler: H) -> std::io::Result<()> {
        let handle = self.start(handler)?;
        if handle.handle_signals {
            handle.shutdown_on_signals()?;
        }
        handle.wait()
    }
}

/// The addresses actually bound, by kind.
#[derive(Default)]
struct BoundAddrs {
    plain: Vec<SocketAddr>,
    tls: Vec<SocketAddr>,
    h3: Vec<SocketAddr>,
    unix: Vec<std::path::PathBuf>,
}

/// Starts one thread per worker, each serving its sockets with the same handler.
fn launch<H: Handler>(
    config: ServerConfig,
    handler: Arc<H>,
    per_worker: Vec<worker::WorkerSockets>,
    addrs: BoundAddrs,
) -> std::io::Result<ServerHandle> {
    let workers = per_worker.len();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut config = config;
    config.io = effective_io(config.io, !addrs.plain.is_empty());
    let config = Arc::new(config);
    let counters: Vec<Arc<WorkerCounters>> = (0..workers)
        .map(|_| Arc::new(WorkerCounters::default()))
        .collect();
    #[cfg(feature = "http3")]
    let h3_counters: Vec<Arc<WorkerCounters>> = per_worker
        .iter()
        .filter_map(|w| w.h3_counters.clone())
        .collect();
    #[cfg(not(feature = "http3"))]
    let h3_counters: Vec<Arc<WorkerCounters>> = Vec::new();
    let mut threads = Vec::with_capacity(workers);
    for (id, sockets) in per_worker.into_iter().enumerate() {
        let handler = handler.clone();
        let config = config.clone();
        let counters = counters[id].clone();
        let stop = stop_rx.clone();
        let t = std::thread::Builder::new()
            .name(format!("shockwave-worker-{id}"))
            .spawn(move || worker::run_worker(id, sockets, handler, config, counters, stop))?;
        threads.push(t);
    }
    tracing::info!(
        local_addrs = ?addrs.plain,
        tls_local_addrs = ?addrs.tls,
        h3_local_addrs = ?addrs.h3,
        unix_paths = ?addrs.unix,
        workers,
        "shockwave server listening"
    );
    Ok(ServerHandle {
        local_addrs: addrs.plain,
        tls_local_addrs: addrs.tls,
        h3_local_addrs: addrs.h3,
        unix_paths: addrs.unix,
        shutdown: ShutdownHandle {
            tx: Arc::new(stop_tx),
        },
        counters,
        h3_counters,
        threads,
        handle_signals: config.handle_signals,
        io: config.io,
    })
}

/// The driver the cleartext TCP listeners get: [`Io::Uring`] only where io_uring works
/// (else a warning with the reason, and [`Io::Epoll`]).
fn effective_io(wanted: Io, has_plain: bool) -> Io {
    if wanted != Io::Uring || !has_plain {
        return wanted;
    }
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    let available = uring::probe();
    #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
    let available: Result<(), String> = Err(if cfg!(target_os = "linux") {
        "the `io-uring` feature of shockwave is off".to_string()
    } else {
        "io_uring exists on Linux only".to_string()
    });
    match available {
        Ok(()) => Io::Uring,
        Err(reason) => {
            tracing::warn!(%reason, "io_uring is unavailable; serving with epoll");
            Io::Epoll
        }
    }
}

/// Stops a running server gracefully; cheap to clone and `Send`.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// Starts a graceful shutdown: stop accepting, let in-flight requests finish (up to
    /// [`Timeouts::shutdown_grace`]), close idle connections.
    pub fn shutdown(&self) {
        let _ = self.tx.send(true);
    }

    /// True once a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        *self.tx.borrow()
    }
}

/// A running server: its addresses, live counters, and shutdown.
#[derive(Debug)]
pub struct ServerHandle {
    local_addrs: Vec<SocketAddr>,
    tls_local_addrs: Vec<SocketAddr>,
    h3_local_addrs: Vec<SocketAddr>,
    unix_paths: Vec<std::path::PathBuf>,
    shutdown: ShutdownHandle,
    counters: Vec<Arc<WorkerCounters>>,
    /// The workers' HTTP/3 counters (empty without HTTP/3 addresses).
    h3_counters: Vec<Arc<WorkerCounters>>,
    threads: Vec<JoinHandle<std::io::Result<()>>>,
    handle_signals: bool,
    io: Io,
}

impl ServerHandle {
    /// The plain-text addresses actually bound (ports resolved for `:0`).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The first plain-text address (panics if there is none; see
    /// [`ServerHandle::local_addrs`]).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs
            .first()
            .or(self.tls_local_addrs.first())
            .or(self.h3_local_addrs.first())
            .copied()
            .expect("the server listens on at least one address")
    }

    /// The Unix domain socket paths the server listens on
    /// ([`ServerBuilder::bind_unix`]); their files are removed when the server stops.
    pub fn unix_paths(&self) -> &[std::path::PathBuf] {
        &self.unix_paths
    }

    /// The I/O driver serving the cleartext TCP listeners: [`Io::Uring`] when it was
    /// asked for ([`ServerBuilder::io`]) and io_uring works here, else [`Io::Epoll`] (a
    /// fallback is logged with its reason).
    pub fn io(&self) -> Io {
        self.io
    }

    /// The TLS addresses actually bound.
    pub fn tls_local_addrs(&self) -> &[SocketAddr] {
        &self.tls_local_addrs
    }

    /// The HTTP/3 (UDP) addresses actually bound.
    pub fn h3_local_addrs(&self) -> &[SocketAddr] {
        &self.h3_local_addrs
    }

    /// A snapshot of the live counters (every protocol: HTTP/1.1, HTTP/2, HTTP/3).
    pub fn stats(&self) -> ServerStats {
        ServerStats::collect_merged(&self.counters, &self.h3_counters)
    }

    /// A snapshot of the HTTP/3 counters alone (`None` without HTTP/3 addresses).
    pub fn http3_stats(&self) -> Option<ServerStats> {
        (!self.h3_counters.is_empty()).then(|| ServerStats::collect(&self.h3_counters))
    }

    /// A handle that can stop the server from anywhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// A closure returning live counters (e.g. for a `/stats` handler built before the
    /// server starts, via a `OnceLock`).
    pub fn stats_source(&self) -> StatsSource {
        StatsSource {
            counters: self.counters.clone(),
            http3: self.h3_counters.clone(),
        }
    }

    /// Starts a graceful shutdown (see [`ShutdownHandle::shutdown`]).
    pub fn shutdown(&self) {
        self.shutdown.shutdown();
    }

    /// Spawns a thread that starts a graceful shutdown on SIGINT or SIGTERM.
    pub fn shutdown_on_signals(&self) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("shockwave-signals".into())
            .spawn(move || {
                rt.block_on(async {
                    let ctrl_c = tokio::signal::ctrl_c();
                    #[cfg(unix)]
                    {
                        use tokio::signal::unix::{signal, SignalKind};
                        match signal(SignalKind::terminate()) {
                            Ok(mut term) => {
                                tokio::select! {
                                    _ = ctrl_c => {},
                                    _ = term.recv() => {},
                                }
                            }
                            Err(_) => {
                                let _ = ctrl_c.await;
                            }
                        }
                    }
                    #[cfg(not(unix))]
                    let _ = ctrl_c.await;
                    tracing::info!("signal received: shutting down gracefully");
                    shutdown.shutdown();
                })
            })?;
        Ok(())
    }

    /// Waits for every worker to finish (after a shutdown). Returns the first worker
    /// error, if any.
    pub fn wait(self) -> std::io::Result<()> {
        let mut result = Ok(());
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
                Err(_) => {
                    if result.is_ok() {
                        result = Err(std::io::Error::other("a worker thread panicked"));
                    }
                }
            }
        }
        result
    }

    /// Shuts down gracefully and waits for the workers.
    pub fn stop(self) -> std::io::Result<()> {
        self.shutdown();
        self.wait()
    }
}

/// Reads a running server's live counters; `Send + Sync`, cheap to clone.
#[derive(Debug, Clone)]
pub struct StatsSource {
    counters: Vec<Arc<WorkerCounters>>,
    /// The HTTP/3 counters (the server's own QUIC endpoints, or an attached source).
    http3: Vec<Arc<WorkerCounters>>,
}

impl StatsSource {
    /// A snapshot of the counters: every protocol summed.
    pub fn stats(&self) -> ServerStats {
        ServerStats::collect_merged(&self.counters, &self.http3)
    }

    /// Attaches the HTTP/3 counters of another server's source (e.g. a second
    /// [`Server`] serving only HTTP/3). A [`Server`] with HTTP/3 addresses
    /// ([`ServerBuilder::bind_h3`]) reports its HTTP/3 counters itself.
    pub fn with_http3(mut self, http3: StatsSource) -> Self {
        self.http3 = if http3.http3.is_empty() {
            http3.counters
        } else {
            http3.http3
        };
        self
    }

    /// A snapshot of the HTTP/3 counters alone, if there are any.
    pub fn http3_stats(&self) -> Option<ServerStats> {
        (!self.http3.is_empty()).then(|| ServerStats::collect(&self.http3))
    }

    /// What `/stats` answers: [`ServerStats::to_json`] of [`stats`](Self::stats) (every
    /// protocol summed), plus `"http3": {...}` (the same fields, HTTP/3 alone) when the
    /// server serves HTTP/3.
    pub fn to_json(&self) -> String {
        let mut json = self.stats().to_json();
        if let Some(h3) = self.http3_stats() {
            json.pop(); // the closing brace
            json.push_str(",\"http3\":");
            json.push_str(&h3.to_json());
            json.push('}');
        }
        json
    }
}
