//! The HTTP/3 comparison: our HTTP/3 server vs an `h3` + `h3-quinn` server on the same
//! quinn version and transport settings, driven by the same client over loopback UDP.
//!
//! Both servers answer `/` with "Hello, World!" (with `content-length`) and `/big/N` with N
//! MiB streamed as 1 MiB chunks of one shared buffer (no `content-length`; `/big` is
//! 100 MiB), each on one current-thread runtime.
//!
//! Fairness: both servers get the same quinn `ServerConfig` ([`quic_server_config`] with
//! `Http3Config::default()`, or `H3_MTU` below: same `TransportConfig` and `EndpointConfig`), the same
//! rustls configuration (ring provider, one self-signed certificate) and the same
//! runtime shape, each as it runs by default: our `Server` (HTTP/3 only) with a single
//! worker (one thread, a current-thread tokio runtime with a `LocalSet`), the h3 server
//! on one thread with a current-thread runtime (`tokio::spawn` per connection and
//! request, as h3's examples do). Our server also sends a `date` field (RFC 9110
//! §6.6.1), which h3's does not.
//!
//! - `h3_baseline serve h3|shockwave ADDR`: run one server until killed (the
//!   `cargo xtask bench` HTTP/3 scenario starts each in its own process, so peak RSS and
//!   CPU are per server). `h3_baseline server [ADDR]` is `serve h3`.
//! - `h3_baseline client h3|shockwave ADDR REQUESTS MIB [SERVER_PID]`: with the `h3` or
//!   shockwave's client, measure requests/s over one connection with 100 concurrent
//!   streams (GET `/`, REQUESTS total) and the throughput of one download of MIB MiB
//!   (both clients count the downloaded pieces as they arrive: h3's `recv_data`, our
//!   `send_streaming`; GET `/` uses our owned API);
//!   with SERVER_PID, also that process's CPU time (all threads, from
//!   `/proc/PID/task/*/schedstat`) per request and for the download. Prints one line of
//!   `key=value` figures.
//! - `h3_baseline compare [REQUESTS] [MIB]`: both servers in this process, each client
//!   in turn against each server (CPU time per server thread).
//!
//! `H3_MTU=N` (any mode): both servers and both clients use `Http3Config`'s
//! `mtu_discovery_upper_bound` and `max_udp_payload_size` = N (default: the config's
//! defaults, 1452 / 1472), so MTU discovery may grow datagrams up to N bytes on loopback
//! (at most `MAX_MTU_UPPER_BOUND`, 6550).
//! `H3_STATS=1` prints the client's frame counts and, after the download, its path
//! (RTT, congestion window, losses, datagrams, MTU).
//!
//! `cargo run --release -p shockwave-benches --bin h3_baseline -- compare`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf as _, Bytes};
use shockwave::http3::{quic_client_config, quic_server_config, Http3Config};
use shockwave::server::{handler_fn, tls, Response, Server, ServerHandle};

const HELLO: &[u8] = b"Hello, World!";
const CONCURRENCY: u64 = 100;
const WARMUP: usize = 200;
/// Thread names: in `compare`, the CPU time of each server is read by thread name
/// (Linux keeps the first 15 bytes of a thread's name in `comm`: our workers are
/// `shockwave-worker-N`, seen as `shockwave-worke`).
const H3_THREAD: &str = "h3-baseline-srv";
const OUR_THREAD: &str = "shockwave-worke";
const CHUNK: usize = 1024 * 1024;

/// The configuration every server and client here uses: the defaults, with `H3_MTU`
/// as both the MTU discovery upper bound and the accepted UDP payload size.
fn bench_config() -> Http3Config {
    let mut c = Http3Config::default();
    if let Some(n) = std::env::var("H3_MTU").ok().and_then(|v| v.parse().ok()) {
        c.mtu_discovery_upper_bound = n;
        c.max_udp_payload_size = n;
    }
    c
}

/// A quinn endpoint on `addr` with [`bench_config`]'s endpoint configuration.
fn endpoint(addr: SocketAddr, server: Option<quinn::ServerConfig>) -> quinn::Endpoint {
    let socket = std::net::UdpSocket::bind(addr).expect("bind");
    quinn::Endpoint::new(
        bench_config().endpoint_config(),
        server,
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .expect("endpoint")
}

/// Where a server's CPU time is read from.
#[derive(Clone)]
enum CpuSource {
    /// This process's threads whose name starts with the prefix.
    Threads(&'static str),
    /// Every thread of another process.
    Process(u32),
    /// Not measured.
    None,
}

impl CpuSource {
    /// CPU time used so far (Linux `schedstat`, nanoseconds; zero elsewhere).
    fn read(&self) -> Duration {
        let (dir, prefix) = match self {
            CpuSource::Threads(p) => ("/proc/self/task".to_string(), Some(*p)),
            CpuSource::Process(pid) => (format!("/proc/{pid}/task"), None),
            CpuSource::None => return Duration::ZERO,
        };
        let mut total = 0u64;
        if let Ok(dir) = std::fs::read_dir(dir) {
            for entry in dir.flatten() {
                let p = entry.path();
                if let Some(prefix) = prefix {
                    let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
                    if !comm.trim_end().starts_with(prefix) {
                        continue;
                    }
                }
                let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
                total += stat
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        Duration::from_nanos(total)
    }

    fn measured(&self) -> bool {
        !matches!(self, CpuSource::None)
    }
}

/// What one server did under the client.
struct Figures {
    requests: u64,
    errors: u64,
    rps: f64,
    cpu_us_per_request: f64,
    mbps: f64,
    cpu_ms_download: f64,
    /// The client thread's CPU µs per request (in the request phase).
    client_us_per_request: f64,
    /// UDP datagrams received and sent by the client per request (request phase).
    rx_per_request: f64,
    tx_per_request: f64,
    /// The client thread's CPU time over wall time in the request phase and in the
    /// download (near 1.0: the client is the bottleneck).
    client_busy: f64,
    client_busy_download: f64,
}

/// `/big/N` → N MiB, `/big` → 100 MiB, anything else: not a download.
fn big_mib(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("/big")?;
    match rest.strip_prefix('/') {
        Some(n) => n.parse().ok(),
        None if rest.is_empty() => Some(100),
        None => None,
    }
}

fn chunk() -> Bytes {
    Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// Runs the h3 baseline server on a current-thread runtime in a new thread.
fn start_h3(addr: SocketAddr, tls: Arc<rustls::ServerConfig>) -> SocketAddr {
    let config = quic_server_config(&tls, &bench_config()).expect("QUIC config");
    let chunk = chunk();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name(H3_THREAD.into());
    let _ = thread.spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let ep = endpoint(addr, Some(config));
            let _ = tx.send(ep.local_addr().expect("addr"));
            while let Some(incoming) = ep.accept().await {
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    let Ok(conn) = incoming.await else { return };
                    let Ok(mut h3c) =
                        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn))
                            .await
                    else {
                        return;
                    };
                    while let Ok(Some(resolver)) = h3c.accept().await {
                        let chunk = chunk.clone();
                        tokio::spawn(async move {
                            let Ok((req, mut stream)) = resolver.resolve_request().await else {
                                return;
                            };
                            let resp = http::Response::builder();
                            let Some(mib) = big_mib(req.uri().path()) else {
                                let resp = resp
                                    .header("content-type", "text/plain")
                                    .header("content-length", HELLO.len())
                                    .body(())
                                    .expect("response");
                                if stream.send_response(resp).await.is_ok()
                                    && stream.send_data(Bytes::from_static(HELLO)).await.is_ok()
                                {
                                    let _ = stream.finish().await;
                                }
                                return;
                            };
                            let resp = resp
                                .header("content-type", "application/octet-stream")
                                .body(())
                                .expect("response");
                            if stream.send_response(resp).await.is_err() {
                                return;
                            }
                            for _ in 0..mib {
                                if stream.send_data(chunk.clone()).await.is_err() {
                                    return;
                                }
                            }
                            let _ = stream.finish().await;
                        });
                    }
                });
            }
        });
    });
    rx.recv().expect("h3 server started")
}

/// Starts our server (one worker) with the same routes as the h3 baseline.
fn start_ours(addr: SocketAddr, tls: Arc<rustls::ServerConfig>) -> ServerHandle {
    let chunk = chunk();
    Server::builder()
        .bind_h3(addr)
        .tls(tls)
        .workers(1)
        .http3(bench_config())
        .handle_signals(false)
        .start(handler_fn(async move |cx| match big_mib(cx.path()) {
            Some(mib) => {
                let chunk = chunk.clone();
                Response::ok()
                    .header("content-type", "application/octet-stream")
                    .stream(futures_util::stream::iter(
                        (0..mib).map(move |_| Ok(chunk.clone())),
                    ))
            }
            None => Response::ok()
                .header("content-type", "text/plain")
                .body(HELLO),
        }))
        .expect("shockwave HTTP/3 server")
}

/// Accepts any server certificate (the bench's servers make a new self-signed one per
/// run), still checking the handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_tls() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth()
}

/// One GET with the h3 client; the body length, or `None` on any failure.
async fn get_h3(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    path: &str,
) -> Option<usize> {
    let req = http::Request::get(format!("https://localhost{path}"))
        .body(())
        .ok()?;
    let mut stream = send.send_request(req).await.ok()?;
    stream.finish().await.ok()?;
    let resp = stream.recv_response().await.ok()?;
    if resp.status() != 200 {
        return None;
    }
    let mut n = 0;
    while let Some(mut chunk) = stream.recv_data().await.ok()? {
        n += chunk.remaining();
        chunk.advance(chunk.remaining());
    }
    Some(n)
}

/// Runs `requests` GETs of `/` on CONCURRENCY tasks, then one download of `mib` MiB;
/// `get` performs one request. Returns the figures.
async fn drive<F, Fut>(
    get: F,
    requests: u64,
    mib: usize,
    cpu: &CpuSource,
    quic: &quinn::Connection,
) -> Figures
where
    F: Fn(&'static str) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Option<usize>> + 'static,
{
    for _ in 0..WARMUP {
        get("/").await;
    }
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu.read();
    let client0 = client_cpu();
    let stats0 = quic.stats();
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    for _ in 0..CONCURRENCY {
        let get = get.clone();
        let next = next.clone();
        let errors = errors.clone();
        local.spawn_local(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                if get("/").await != Some(HELLO.len()) {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    local.await;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_req = cpu.read() - cpu0;
    let client = client_cpu() - client0;
    let stats = quic.stats();
    if std::env::var_os("H3_STATS").is_some() {
        eprintln!(
            "client frames rx before {:?}\nclient frames rx after {:?}\nclient frames tx before {:?}\nclient frames tx after {:?}",
            stats0.frame_rx, stats.frame_rx, stats0.frame_tx, stats.frame_tx
        );
    }
    let errors = errors.load(Ordering::Relaxed);
    let ok = requests.saturating_sub(errors);
    let cpu0 = cpu.read();
    let client0 = client_cpu();
    let start = Instant::now();
    let path: &'static str = Box::leak(format!("/big/{mib}").into_boxed_str());
    let n = get(path).await;
    let download_secs = start.elapsed().as_secs_f64();
    let client_download = client_cpu() - client0;
    if std::env::var_os("H3_STATS").is_some() {
        // Where a download's time goes when neither side is busy: loss and congestion
        // (the client's socket buffer), or flow control (the client's stream window).
        let s = quic.stats();
        eprintln!(
            "client path after the download: rtt {:?}, cwnd {}, congestion events {}, lost packets {} ({} bytes), {} datagrams received ({} bytes), max MTU {}",
            s.path.rtt,
            s.path.cwnd,
            s.path.congestion_events,
            s.path.lost_packets,
            s.path.lost_bytes,
            s.udp_rx.datagrams - stats.udp_rx.datagrams,
            s.udp_rx.bytes - stats.udp_rx.bytes,
            s.path.current_mtu,
        );
    }
    let mbps = match n {
        Some(n) if n == mib * CHUNK => n as f64 / 1e6 / download_secs,
        _ => f64::NAN,
    };
    let cpu_ms_download = (cpu.read() - cpu0).as_secs_f64() * 1e3;
    Figures {
        requests: ok,
        errors: errors + u64::from(mbps.is_nan()),
        rps: ok as f64 / elapsed,
        cpu_us_per_request: cpu_req.as_secs_f64() * 1e6 / ok.max(1) as f64,
        mbps,
        cpu_ms_download,
        client_us_per_request: client.as_secs_f64() * 1e6 / requests.max(1) as f64,
        rx_per_request: (stats.udp_rx.datagrams - stats0.udp_rx.datagrams) as f64
            / requests.max(1) as f64,
        tx_per_request: (stats.udp_tx.datagrams - stats0.udp_tx.datagrams) as f64
            / requests.max(1) as f64,
        client_busy: client.as_secs_f64() / elapsed,
        client_busy_download: client_download.as_secs_f64() / download_secs,
    }
}

/// CPU time of the calling thread (the client runs on one thread).
fn client_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        stat.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

/// Requests/s with 100 concurrent streams and download MB/s, with the server's CPU
/// time, driven by the h3 client.
fn measure_h3(addr: SocketAddr, requests: u64, mib: usize, cpu: &CpuSource) -> Figures {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tls = client_tls();
    rt.block_on(async move {
        let mut ep = endpoint("127.0.0.1:0".parse().expect("addr"), None);
        ep.set_default_client_config(
            quic_client_config(&tls, &bench_config()).expect("client config"),
        );
        let conn = ep
            .connect(addr, "localhost")
            .expect("connect")
            .await
            .expect("handshake");
        let quic = conn.clone();
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
            .await
            .expect("h3 client");
        let drive_task = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let get = move |path: &'static str| {
            let mut s = send.clone();
            async move { get_h3(&mut s, path).await }
        };
        let f = drive(get, requests, mib, cpu, &quic).await;
        drive_task.abort();
        ep.close(0u32.into(), b"");
        f
    })
}

/// As [`measure_h3`], driven by shockwave's HTTP/3 client instead of h3's.
fn measure_ours(addr: SocketAddr, requests: u64, mib: usize, cpu: &CpuSource) -> Figures {
    use shockwave::client::{Http3Connection, Http3Request};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tls = client_tls();
    rt.block_on(async move {
        let config = Http3Config {
            max_body_size: (mib as u64 + 1) << 20,
            ..bench_config()
        };
        let mut ep = endpoint("127.0.0.1:0".parse().expect("addr"), None);
        ep.set_default_client_config(quic_client_config(&tls, &config).expect("client config"));
        let conn = Http3Connection::connect(&ep, addr, "localhost", &config)
            .await
            .expect("connect");
        let quic = conn.quic().clone();
        // GET / with the owned API (the whole response in one value); the download
        // with the streaming API, counting the pieces as the h3 client does.
        let get = move |path: &'static str| {
            let conn = conn.clone();
            async move {
                let req = Http3Request {
                    method: &http::Method::GET,
                    authority: "localhost",
                    path,
                    headers: &[],
                    body: &[],
                };
                if big_mib(path).is_none() {
                    let r = conn.send(req).await.ok()?;
                    return (r.status == 200).then_some(r.body.len());
                }
                let mut r = conn.send_streaming(req).await.ok()?;
                if r.status != 200 {
                    return None;
                }
                let mut n = 0;
                while let Some(piece) = r.body.chunk().await.ok()? {
                    n += piece.len();
                }
                Some(n)
            }
        };
        let f = drive(get, requests, mib, cpu, &quic).await;
        ep.close(0u32.into(), b"");
        f
    })
}

fn measure(client: &str, addr: SocketAddr, requests: u64, mib: usize, cpu: &CpuSource) -> Figures {
    match client {
        "h3" => measure_h3(addr, requests, mib, cpu),
        _ => measure_ours(addr, requests, mib, cpu),
    }
}

fn report(client: &str, requests: u64, mib: usize, h3: &Figures, us: &Figures) {
    println!(
        "HTTP/3, one connection, {CONCURRENCY} concurrent streams, {requests} GET / ({client} client drives both):"
    );
    for (name, f) in [("h3 + h3-quinn", h3), ("shockwave", us)] {
        println!(
            "  {name:<13} : {:>8.0} req/s ({:>5.1} us server CPU/request, client {:.1} us ({:.0}% busy), {:.2} rx + {:.2} tx datagrams/request)   {mib} MiB download {:>7.1} MB/s ({:>6.1} ms server CPU, client {:.0}% busy)  {} errors",
            f.rps, f.cpu_us_per_request, f.client_us_per_request, f.client_busy * 100.0, f.rx_per_request, f.tx_per_request, f.mbps, f.cpu_ms_download, f.client_busy_download * 100.0, f.errors
        );
    }
    println!(
        "  ratio (shockwave / h3): {:.2}x requests/s, {:.2}x server CPU per request, {:.2}x throughput, {:.2}x download CPU",
        us.rps / h3.rps,
        us.cpu_us_per_request / h3.cpu_us_per_request,
        us.mbps / h3.mbps,
        us.cpu_ms_download / h3.cpu_ms_download
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: h3_baseline serve h3|shockwave ADDR\n       \
         h3_baseline client h3|shockwave ADDR REQUESTS MIB [SERVER_PID]\n       \
         h3_baseline compare [REQUESTS] [MIB]\n       \
         h3_baseline server [ADDR]   (= serve h3)"
    );
    std::process::exit(2);
}

fn which(arg: Option<&String>) -> &'static str {
    match arg.map(String::as_str) {
        Some("h3") => "h3",
        Some("shockwave") => "shockwave",
        _ => usage(),
    }
}

fn parse<T: std::str::FromStr>(arg: Option<&String>, default: Option<T>) -> T {
    match arg.map(|a| a.parse()) {
        Some(Ok(v)) => v,
        None if default.is_some() => default.unwrap_or_else(|| usage()),
        _ => usage(),
    }
}

fn serve_forever(server: &str, addr: SocketAddr) -> ! {
    let cert = tls::self_signed(&["localhost"]).expect("certificate");
    let (bound, _handle) = match server {
        "h3" => (start_h3(addr, cert.config.clone()), None),
        _ => {
            let h = start_ours(addr, cert.config.clone());
            (h.h3_local_addrs()[0], Some(h))
        }
    };
    println!("h3_baseline: {server} listening on udp {bound}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => {
            let addr = parse(args.get(2), Some("127.0.0.1:4434".parse().expect("addr")));
            serve_forever("h3", addr)
        }
        Some("serve") => {
            let server = which(args.get(2));
            serve_forever(server, parse(args.get(3), None))
        }
        Some("client") => {
            let client = which(args.get(2));
            let addr: SocketAddr = parse(args.get(3), None);
            let requests: u64 = parse(args.get(4), None);
            let mib: usize = parse(args.get(5), None);
            let cpu = match args.get(6) {
                Some(_) => CpuSource::Process(parse(args.get(6), None)),
                None => CpuSource::None,
            };
            let f = measure(client, addr, requests, mib, &cpu);
            let nan = |measured: bool, x: f64| if measured { x } else { f64::NAN };
            println!(
                "h3_baseline: client={client} requests={} errors={} rps={:.1} mbps={:.2} \
                 server_cpu_us_per_req={:.3} server_cpu_ms_download={:.2} \
                 client_cpu_us_per_req={:.3} client_busy={:.2} client_busy_download={:.2}",
                f.requests,
                f.errors,
                f.rps,
                f.mbps,
                nan(cpu.measured(), f.cpu_us_per_request),
                nan(cpu.measured(), f.cpu_ms_download),
                f.client_us_per_request,
                f.client_busy,
                f.client_busy_download
            );
        }
        Some("compare") => {
            let requests = parse(args.get(2), Some(50_000));
            let mib = parse(args.get(3), Some(100));
            let cert = tls::self_signed(&["localhost"]).expect("certificate");
            let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
            let h3_addr = start_h3(local, cert.config.clone());
            let ours = start_ours(local, cert.config.clone());
            let (h3_cpu, our_cpu) = (
                CpuSource::Threads(H3_THREAD),
                CpuSource::Threads(OUR_THREAD),
            );
            for client in ["h3", "shockwave"] {
                let h3 = measure(client, h3_addr, requests, mib, &h3_cpu);
                let us = measure(client, ours.h3_local_addrs()[0], requests, mib, &our_cpu);
                report(client, requests, mib, &h3, &us);
            }
            let _ = ours.stop();
        }
        _ => usage(),
    }
}
