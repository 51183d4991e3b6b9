//! The HTTP/3 server with two workers: each worker has its own `SO_REUSEPORT` UDP socket
//! and quinn endpoint, and the kernel keeps each client's datagrams on one socket. Many
//! concurrent connections (each with concurrent streams) are all answered correctly,
//! every connection by a single worker, both workers serve, and the counters add up.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

use bytes::{Buf as _, Bytes};
use shockwave::http3::{quic_client_config, Http3Config};
use shockwave::server::{handler_fn, tls, Response, Server};

const CONNECTIONS: usize = 24;
const STREAMS: usize = 8;

/// One connection from its own UDP socket: STREAMS concurrent POSTs whose bodies are
/// echoed; returns the worker names that answered.
async fn connection(
    addr: std::net::SocketAddr,
    tls: rustls::ClientConfig,
    n: usize,
) -> Vec<String> {
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quic_client_config(&tls, &Http3Config::default()).unwrap());
    let conn = ep.connect(addr, "localhost").unwrap().await.unwrap();
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .unwrap();
    let drive = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        let mut send = send.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!("connection {n} stream {i}").into_bytes();
            let req = http::Request::post("https://localhost/echo")
                .body(())
                .unwrap();
            let mut stream = send.send_request(req).await.unwrap();
            stream.send_data(Bytes::from(body.clone())).await.unwrap();
            stream.finish().await.unwrap();
            let resp = stream.recv_response().await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut got = Vec::new();
            while let Some(mut chunk) = stream.recv_data().await.unwrap() {
                while chunk.has_remaining() {
                    let c = chunk.chunk();
                    got.extend_from_slice(c);
                    let k = c.len();
                    chunk.advance(k);
                }
            }
            assert_eq!(got, body);
            resp.headers()["x-worker"].to_str().unwrap().to_owned()
        }));
    }
    let mut workers = Vec::new();
    for t in tasks {
        workers.push(t.await.unwrap());
    }
    drop(send);
    drive.abort();
    ep.close(0u32.into(), b"done");
    workers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_serve_concurrent_connections() {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(2)
        .handle_signals(false)
        .build()
        .start(handler_fn(async |mut cx| {
            let worker: &'static str = match std::thread::current().name() {
                Some("shockwave-worker-0") => "0",
                Some("shockwave-worker-1") => "1",
                _ => "unknown",
            };
            match cx.body().to_arena().await {
                Ok(body) => Response::ok().header("x-worker", worker).body(body),
                Err(e) => Response::new(e.status()),
            }
        }))
        .unwrap();
    let addr = server.local_addr();
    let tls = cert.client_config().unwrap();
    let conns: Vec<_> = (0..CONNECTIONS)
        .map(|n| tokio::spawn(connection(addr, tls.clone(), n)))
        .collect();
    let mut per_worker = [0usize; 2];
    for c in conns {
        let workers = c.await.unwrap();
        // A connection stays on the socket (and worker) its 4-tuple hashes to.
        assert!(
            workers.iter().all(|w| *w == workers[0]),
            "one connection served by several workers: {workers:?}"
        );
        match workers[0].as_str() {
            "0" => per_worker[0] += 1,
            "1" => per_worker[1] += 1,
            other => panic!("answered outside the workers: {other}"),
        }
    }
    // 24 connections from distinct source ports: both sockets receive some (all on one
    // would have probability 2^-23).
    assert!(
        per_worker[0] > 0 && per_worker[1] > 0,
        "connections per worker: {per_worker:?}"
    );
    let stats = server.stats();
    assert_eq!(stats.workers, 2);
    assert_eq!(stats.connections_accepted, CONNECTIONS as u64);
    assert_eq!(stats.requests, (CONNECTIONS * STREAMS) as u64);
    assert_eq!(stats.responses_by_class[1], (CONNECTIONS * STREAMS) as u64);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap()
        .unwrap();
}
