//! Compressed responses: the Shockwave server with `Compression` next to hyper with
//! tower-http's `CompressionLayer`, same body (a 100 KB text page), same coding and
//! level (gzip 6, brotli 4, zstd 3: Shockwave's defaults), same client.
//!
//! Each server runs on one thread; the client is the Shockwave client on the bench
//! thread, asking for one coding and reading the compressed body as received
//! (decompression off), sequential keep-alive GETs over HTTP/1.1. The time per request is
//! dominated by the server's compression, so the groups compare the compression paths.
//!
//! Run: `cargo bench -p shockwave-benches --bench compression`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::Full;
use shockwave::client::Client;
use shockwave::server::{handler_fn, Compression, Response, Server};
use tower_http::compression::{CompressionLayer, CompressionLevel};

fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        (0..1600)
            .map(|i| {
                format!(
                    "<li id=\"item-{i}\">item {i}: the quick brown fox, {}</li>\n",
                    i * 7919 % 1000
                )
            })
            .collect()
    })
}

fn shockwave_server() -> SocketAddr {
    let app = handler_fn(async |_cx| {
        Response::ok()
            .header("content-type", "text/html; charset=utf-8")
            .body(page())
    });
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .build()
        .start(Compression::new().wrap(app))
        .expect("shockwave server");
    let addr = handle.local_addr();
    std::mem::forget(handle); // lives until the process exits
    addr
}

fn tower_http_server(coding: &str) -> SocketAddr {
    let level = match coding {
        "gzip" => 6,
        "br" => 4,
        _ => 3,
    };
    let layer = CompressionLayer::new()
        .gzip(coding == "gzip")
        .deflate(false)
        .br(coding == "br")
        .zstd(coding == "zstd")
        .quality(CompressionLevel::Precise(level));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let svc = tower::ServiceBuilder::new().layer(layer).service_fn(
                |_req: http::Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(
                        http::Response::builder()
                            .header("content-type", "text/html; charset=utf-8")
                            .body(Full::new(Bytes::from_static(page().as_bytes())))
                            .unwrap(),
                    )
                },
            );
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let _ = s.set_nodelay(true);
                let svc = hyper_util::service::TowerToHyperService::new(svc.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                        .await;
                });
            }
        });
    });
    addr
}

fn bench_compressed_responses(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::builder()
        .http1_only()
        .decompress(false)
        .build()
        .unwrap();
    let ours = shockwave_server();
    for coding in ["gzip", "br", "zstd"] {
        let theirs = tower_http_server(coding);
        let mut group = c.benchmark_group(format!("compressed 100 KB page, {coding}"));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(30);
        for (name, addr) in [
            ("shockwave Compression", ours),
            ("hyper + tower-http CompressionLayer", theirs),
        ] {
            let url = format!("http://{addr}/");
            // Both answer with the coding asked for, and similar sizes.
            let wire = rt.block_on(async {
                let r = client
                    .get(&url)
                    .header("accept-encoding", coding)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.headers()["content-encoding"], coding, "{name}");
                r.bytes().await.unwrap().len()
            });
            eprintln!("{coding}: {name}: {} -> {wire} bytes", page().len());
            group.bench_function(name, |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let r = client
                            .get(&url)
                            .header("accept-encoding", coding)
                            .send()
                            .await
                            .unwrap();
                        r.bytes().await.unwrap().len()
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_compressed_responses);
criterion_main!(benches);
