//! The HTTP/3 comparison: our HTTP/3 server vs an `h3` + `h3-quinn` server on the same
//! quinn version and transport settings, driven by the same client (the `h3` crate's)
//! over loopback UDP.
//!
//! - `h3_baseline server ADDR`: run only the h3 baseline server (routes `/` →
//!   "Hello, World!", `/big` → 100 MiB).
//! - `h3_baseline compare [REQUESTS] [MIB]`: start both servers in this process (one
//!   current-thread runtime each), then measure requests/s over one connection with 100
//!   concurrent streams (GET `/`, REQUESTS total, default 50,000) and the throughput of
//!   one large download (GET `/big`, MIB MiB, default 100), for each server in turn,
//!   once driven by the `h3` client and once by shockwave's HTTP/3 client. Each figure
//!   comes with the server thread's CPU time (from /proc), which is steadier than
//!   wall-clock rates on a shared machine.
//!
//! `cargo run --release -p shockwave-benches --bin h3_baseline -- compare`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf as _, Bytes};
use shockwave::http3::server::Http3Server;
use shockwave::http3::{quic_client_config, quic_server_config, Http3Config};
use shockwave::server::{handler_fn, tls, Response};

const HELLO: &[u8] = b"Hello, World!";
const CONCURRENCY: u64 = 100;
/// Thread names: the CPU time of each server is read from /proc by thread name.
const H3_THREAD: &str = "h3-baseline-srv";
const OUR_THREAD: &str = "shockwave-h3-";

/// CPU time used so far by this process's threads whose name starts with `prefix`
/// (Linux `schedstat`; zero elsewhere).
fn thread_cpu(prefix: &str) -> Duration {
    let mut total = 0u64;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let p = entry.path();
            let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            if comm.trim_end().starts_with(prefix) {
                let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
                total += stat
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

/// What one server did under the client.
struct Figures {
    rps: f64,
    cpu_us_per_request: f64,
    mbps: f64,
    cpu_ms_download: f64,
}

fn big(mib: usize) -> Bytes {
    Bytes::from(
        (0..mib * 1024 * 1024)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Runs the h3 baseline server on a current-thread runtime in a new thread.
fn start_h3(addr: SocketAddr, tls: Arc<rustls::ServerConfig>, body: Bytes) -> SocketAddr {
    let config = quic_server_config(&tls, &Http3Config::default()).expect("QUIC config");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name(H3_THREAD.into());
    let _ = thread.spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let ep = quinn::Endpoint::server(config, addr).expect("bind");
            let _ = tx.send(ep.local_addr().expect("addr"));
            while let Some(incoming) = ep.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let Ok(conn) = incoming.await else { return };
                    let Ok(mut h3c) =
                        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn))
                            .await
                    else {
                        return;
                    };
                    while let Ok(Some(resolver)) = h3c.accept().await {
                        let body = body.clone();
                        tokio::spawn(async move {
                            let Ok((req, mut stream)) = resolver.resolve_request().await else {
                                return;
                            };
                            let out = match req.uri().path() {
                                "/big" => body,
                                _ => Bytes::from_static(HELLO),
                            };
                            let resp = http::Response::builder()
                                .header("content-type", "text/plain")
                                .header("content-length", out.len())
                                .body(())
                                .expect("response");
                            if stream.send_response(resp).await.is_ok()
                                && stream.send_data(out).await.is_ok()
                            {
                                let _ = stream.finish().await;
                            }
                        });
                    }
                });
            }
        });
    });
    rx.recv().expect("h3 server started")
}

fn client_tls(cert: &tls::SelfSigned) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    let der =
        rustls::pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).expect("cert");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).expect("root");
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn get(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    path: &str,
) -> usize {
    let req = http::Request::get(format!("https://localhost{path}"))
        .body(())
        .expect("request");
    let mut stream = send.send_request(req).await.expect("send_request");
    stream.finish().await.expect("finish");
    let resp = stream.recv_response().await.expect("response");
    assert_eq!(resp.status(), 200);
    let mut n = 0;
    while let Some(mut chunk) = stream.recv_data().await.expect("data") {
        n += chunk.remaining();
        chunk.advance(chunk.remaining());
    }
    n
}

/// Requests/s with 100 concurrent streams and download MB/s, with the server's CPU time.
fn measure(
    addr: SocketAddr,
    cert: &tls::SelfSigned,
    requests: u64,
    mib: usize,
    thread: &str,
) -> Figures {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tls = client_tls(cert);
    rt.block_on(async move {
        let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("bind");
        ep.set_default_client_config(
            quic_client_config(&tls, &Http3Config::default()).expect("client config"),
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
        let drive = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        // Warm-up.
        let mut s = send.clone();
        for _ in 0..200 {
            get(&mut s, "/").await;
        }
        let next = Arc::new(AtomicU64::new(0));
        let cpu0 = thread_cpu(thread);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENCY {
            let mut s = send.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    assert_eq!(get(&mut s, "/").await, HELLO.len());
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let rps = requests as f64 / start.elapsed().as_secs_f64();
        let cpu_us_per_request = (thread_cpu(thread) - cpu0).as_secs_f64() * 1e6 / requests as f64;
        if std::env::var_os("H3_STATS").is_some() {
            let st = quic.stats();
            eprintln!(
                "client: rx {} datagrams, tx {} datagrams, rx frames {:?}",
                st.udp_rx.datagrams, st.udp_tx.datagrams, st.frame_rx
            );
        }
        let cpu0 = thread_cpu(thread);
        let start = Instant::now();
        let n = get(&mut s, "/big").await;
        assert_eq!(n, mib * 1024 * 1024);
        let mbps = n as f64 / 1e6 / start.elapsed().as_secs_f64();
        let cpu_ms_download = (thread_cpu(thread) - cpu0).as_secs_f64() * 1e3;
        drop(s);
        drop(send);
        drive.abort();
        ep.close(0u32.into(), b"");
        Figures {
            rps,
            cpu_us_per_request,
            mbps,
            cpu_ms_download,
        }
    })
}

/// As [`measure`], driven by shockwave's HTTP/3 client instead of h3's.
fn measure_ours(
    addr: SocketAddr,
    cert: &tls::SelfSigned,
    requests: u64,
    mib: usize,
    thread: &str,
) -> Figures {
    use shockwave::http3::client::{Http3Connection, Http3Request};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tls = client_tls(cert);
    rt.block_on(async move {
        let config = Http3Config {
            max_body_size: (mib as u64 + 1) << 20,
            ..Http3Config::default()
        };
        let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("bind");
        ep.set_default_client_config(quic_client_config(&tls, &config).expect("client config"));
        let conn = Http3Connection::connect(&ep, addr, "localhost", &config)
            .await
            .expect("connect");
        let get = |conn: Http3Connection, path: &'static str| async move {
            let r = conn
                .send(Http3Request {
                    method: &http::Method::GET,
                    authority: "localhost",
                    path,
                    headers: &[],
                    body: &[],
                })
                .await
                .expect("request");
            assert_eq!(r.status, 200);
            r.body.len()
        };
        for _ in 0..200 {
            get(conn.clone(), "/").await;
        }
        let next = Arc::new(AtomicU64::new(0));
        let cpu0 = thread_cpu(thread);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENCY {
            let conn = conn.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    assert_eq!(get(conn.clone(), "/").await, HELLO.len());
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let rps = requests as f64 / start.elapsed().as_secs_f64();
        let cpu_us_per_request = (thread_cpu(thread) - cpu0).as_secs_f64() * 1e6 / requests as f64;
        let cpu0 = thread_cpu(thread);
        let start = Instant::now();
        let n = get(conn.clone(), "/big").await;
        assert_eq!(n, mib * 1024 * 1024);
        let mbps = n as f64 / 1e6 / start.elapsed().as_secs_f64();
        let cpu_ms_download = (thread_cpu(thread) - cpu0).as_secs_f64() * 1e3;
        ep.close(0u32.into(), b"");
        Figures {
            rps,
            cpu_us_per_request,
            mbps,
            cpu_ms_download,
        }
    })
}

fn report(client: &str, requests: u64, mib: usize, h3: &Figures, us: &Figures) {
    println!(
        "HTTP/3, one connection, {CONCURRENCY} concurrent streams, {requests} GET / ({client} client drives both):"
    );
    for (name, f) in [("h3 + h3-quinn", h3), ("shockwave", us)] {
        println!(
            "  {name:<13} : {:>8.0} req/s ({:>5.1} us server CPU/request)   {mib} MiB download {:>7.1} MB/s ({:>6.1} ms server CPU)",
            f.rps, f.cpu_us_per_request, f.mbps, f.cpu_ms_download
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cert = tls::self_signed(&["localhost"]).expect("certificate");
    match args.get(1).map(String::as_str) {
        Some("server") => {
            let addr = args
                .get(2)
                .map(|a| a.parse().expect("ADDR"))
                .unwrap_or_else(|| "127.0.0.1:4434".parse().expect("addr"));
            let bound = start_h3(addr, cert.config.clone(), big(100));
            println!("h3 baseline listening on udp {bound}");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Some("compare") => {
            let requests = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50_000);
            let mib = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
            let body = big(mib);
            let h3_addr = start_h3(
                "127.0.0.1:0".parse().expect("addr"),
                cert.config.clone(),
                body.clone(),
            );
            let ours_body = body.clone();
            let ours = Http3Server::new("127.0.0.1:0".parse().expect("addr"), cert.config.clone())
                .start(handler_fn(async move |cx| {
                    let r = Response::ok().header("content-type", "text/plain");
                    match cx.path() {
                        "/big" => r.body(ours_body.clone()),
                        _ => r.body(HELLO),
                    }
                }))
                .expect("shockwave HTTP/3 server");
            let h3 = measure(h3_addr, &cert, requests, mib, H3_THREAD);
            let us = measure(ours.local_addr(), &cert, requests, mib, OUR_THREAD);
            report("h3", requests, mib, &h3, &us);
            let h3 = measure_ours(h3_addr, &cert, requests, mib, H3_THREAD);
            let us = measure_ours(ours.local_addr(), &cert, requests, mib, OUR_THREAD);
            report("shockwave", requests, mib, &h3, &us);
            let _ = ours.stop();
        }
        _ => {
            eprintln!("usage: h3_baseline server [ADDR] | h3_baseline compare [REQUESTS] [MIB]");
            std::process::exit(2);
        }
    }
}
