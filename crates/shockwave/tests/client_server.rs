//! The client against the Shockwave server (both in-process, 127.0.0.1).

mod client_support;

use std::sync::Arc;

use bytes::Bytes;
use client_support::{big_body, start_shockwave, url};
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Body, Client, Error};

#[tokio::test]
async fn keep_alive_reuse_against_shockwave_server() {
    let server = start_shockwave();
    let client = Client::new();
    for _ in 0..50 {
        let resp = client.get(url(&server, "/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "Hello, World!");
    }
    let u = url(&server, "/");
    let mut arena = Arena::with_capacity(16 * 1024);
    for _ in 0..50 {
        {
            let resp = client.send_in(&arena, ArenaRequest::get(&u)).await.unwrap();
            assert_eq!(resp.body(), b"Hello, World!");
            assert!(resp.header(b"date").is_some());
        }
        arena.reset();
    }
    let stats = server.stats();
    assert_eq!(
        stats.connections_accepted, 1,
        "100 requests on one connection"
    );
    assert_eq!(stats.requests, 100);
    server.stop().unwrap();
}

#[tokio::test]
async fn bodies_against_shockwave_server() {
    let server = start_shockwave();
    let client = Client::new();
    // 8 MiB, byte for byte, both APIs.
    let got = client
        .get(url(&server, "/big"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got == big_body());
    let arena = Arena::new();
    let u = url(&server, "/big");
    assert!(
        client
            .send_in(&arena, ArenaRequest::get(&u))
            .await
            .unwrap()
            .body()
            == big_body()
    );
    // Chunked response.
    let u = url(&server, "/chunked");
    let resp = client.get(&u).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "alpha beta gamma");
    assert_eq!(
        client
            .send_in(&arena, ArenaRequest::get(&u))
            .await
            .unwrap()
            .body(),
        b"alpha beta gamma"
    );
    // Uploads: Content-Length and chunked (streamed).
    let resp = client
        .post(url(&server, "/echo"))
        .body("posted")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "posted");
    let pieces: Vec<std::io::Result<Bytes>> = (0..100)
        .map(|_| Ok(Bytes::from_static(b"0123456789")))
        .collect();
    let resp = client
        .post(url(&server, "/echo"))
        .body(Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.bytes().await.unwrap(),
        "0123456789".repeat(100).as_bytes()
    );
    let resp = client.get(url(&server, "/missing")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(server.stats().connections_accepted, 1);
    server.stop().unwrap();
}

#[test]
fn pool_limit_against_shockwave_server_on_a_multi_thread_runtime() {
    let server = start_shockwave();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = Client::builder()
        .max_connections_per_host(3)
        .build()
        .unwrap();
    let u = Arc::new(url(&server, "/"));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (c, u) = (client.clone(), u.clone());
            tasks.push(tokio::spawn(async move {
                c.get(u.as_str()).send().await?.text().await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "Hello, World!");
        }
    });
    let accepted = server.stats().connections_accepted;
    assert!((1..=3).contains(&accepted), "{accepted} connections");
    server.stop().unwrap();
    // After the server is gone, a pooled connection fails over to a fresh connect,
    // which is refused: a connect error, not a hang.
    let err = rt.block_on(client.get(u.as_str()).send()).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
}
