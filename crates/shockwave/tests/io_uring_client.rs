//! The client's io_uring connections (`ClientBuilder::io(Io::Uring)`): HTTP/1.1
//! keep-alive, concurrent requests, request and response bodies (Content-Length,
//! chunked, 8 MiB), h2c, errors and timeouts, against our server and hyper, on
//! multi-thread and current-thread runtimes, across runtimes, and the fallback to epoll
//! where io_uring is unavailable (`SHOCKWAVE_IO_URING=off`).
//!
//! Every client here asserts `Client::io() == Io::Uring` and that its connections are
//! `Transport::Uring`, so a silent fallback fails the tests instead of testing epoll.

mod client_support;

use std::process::Command;
use std::time::Duration;

use client_support::{big_body, start_shockwave, url};
use shockwave::client::{Client, ClientBuilder, Io, Transport};
use shockwave::server::ServerHandle;

fn uring_builder() -> ClientBuilder {
    Client::builder().io(Io::Uring).no_proxy()
}

fn uring_client(b: ClientBuilder) -> Client {
    let c = b.build().unwrap();
    assert_eq!(
        c.io(),
        Io::Uring,
        "io_uring must be available in CI (kernel 6.0+)"
    );
    c
}

/// A connection of `client` to `u` runs on the ring.
async fn assert_uring_transport(client: &Client, u: &str) {
    let t = client.connect(u).await.unwrap();
    assert!(matches!(t, Transport::Uring(_)), "{t:?}");
}

/// Keep-alive, bodies both ways (Content-Length and chunked, 8 MiB down, 1 MiB up)
/// and a 404, all on one connection of our server.
async fn h1_exchanges(server: &ServerHandle, client: &Client) {
    for _ in 0..50 {
        let resp = client.get(url(server, "/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "Hello, World!");
    }
    let resp = client.get(url(server, "/big")).send().await.unwrap();
    let body = resp.bytes().await.unwrap();
    assert!(
        body == big_body(),
        "8 MiB body mismatch ({} bytes)",
        body.len()
    );
    let chunked = client.get(url(server, "/chunked")).send().await.unwrap();
    assert_eq!(chunked.text().await.unwrap(), "alpha beta gamma");
    let up: Vec<u8> = (0..1 << 20).map(|i| (i % 241) as u8).collect();
    let resp = client
        .post(url(server, "/echo"))
        .body(up.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap(), up);
    let missing = client.get(url(server, "/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let _ = missing.bytes().await.unwrap();
    assert_eq!(
        server.stats().connections_accepted,
        1,
        "keep-alive reuses one connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_keep_alive_and_bodies_against_shockwave_multi_thread() {
    let server = start_shockwave();
    let client = uring_client(uring_builder());
    h1_exchanges(&server, &client).await;
    assert_uring_transport(&client, &url(&server, "/")).await;
    server.stop().unwrap();
}

#[test]
fn h1_keep_alive_and_bodies_against_shockwave_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = start_shockwave();
        let client = uring_client(uring_builder());
        h1_exchanges(&server, &client).await;
        assert_uring_transport(&client, &url(&server, "/")).await;
        server.stop().unwrap();
    });
}

/// Many requests in flight at once (32 tasks, each 20 requests, on a pool of at most
/// 8 connections): every response is the right one.
async fn concurrent(server: &ServerHandle, client: &Client) {
    let mut tasks = Vec::new();
    for t in 0..32u32 {
        let client = client.clone();
        let u = url(server, "/echo");
        tasks.push(tokio::spawn(async move {
            for i in 0..20u32 {
                let body = format!("task {t} request {i}");
                let resp = client.post(&u).body(body.clone()).send().await.unwrap();
                assert_eq!(resp.text().await.unwrap(), body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(server.stats().connections_accepted <= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_multi_thread() {
    let server = start_shockwave();
    let client = uring_client(uring_builder().max_connections_per_host(8));
    concurrent(&server, &client).await;
    assert_eq!(server.stats().requests, 640);
    server.stop().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_requests_current_thread() {
    let server = start_shockwave();
    let client = uring_client(uring_builder().max_connections_per_host(8));
    concurrent(&server, &client).await;
    assert_eq!(server.stats().requests, 640);
    server.stop().unwrap();
}

/// A third-party server: hyper (HTTP/1.1), keep-alive, chunked and 8 MiB responses, an
/// echoed request body, a 204.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_against_hyper() {
    let hyper = client_support::hyper_server().await;
    let client = uring_client(uring_builder());
    for _ in 0..20 {
        let resp = client.get(hyper.url("/hello")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello world");
    }
    let chunked = client.get(hyper.url("/chunked")).send().await.unwrap();
    assert_eq!(
        chunked.text().await.unwrap(),
        "chunk one, chunk two, and the last chunk"
    );
    let big = client.get(hyper.url("/big")).send().await.unwrap();
    assert!(big.bytes().await.unwrap() == client_support::big_body());
    let resp = client
        .post(hyper.url("/echo"))
        .body(vec![b'x'; 300_000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-cl"], "300000");
    assert_eq!(resp.bytes().await.unwrap().len(), 300_000);
    let empty = client.get(hyper.url("/empty")).send().await.unwrap();
    assert_eq!(empty.status(), 204);
    assert_eq!(hyper.connections(), 1, "keep-alive reuses one connection");
    assert_uring_transport(&client, &hyper.url("/")).await;
}

/// h2c with prior knowledge over the ring: concurrent streams on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_against_shockwave() {
    let server = start_shockwave();
    let client = uring_client(uring_builder().http2_prior_knowledge());
    let mut tasks = Vec::new();
    for t in 0..16u32 {
        let client = client.clone();
        let u = url(&server, "/echo");
        tasks.push(tokio::spawn(async move {
            for i in 0..10u32 {
                let body = format!("stream of task {t}, request {i}");
                let resp = client.post(&u).body(body.clone()).send().await.unwrap();
                assert_eq!(resp.version(), http::Version::HTTP_2);
                assert_eq!(resp.text().await.unwrap(), body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let resp = client.get(url(&server, "/big")).send().await.unwrap();
    assert!(resp.bytes().await.unwrap() == big_body());
    assert_eq!(server.stats().connections_accepted, 1);
    server.stop().unwrap();
}

/// Errors: a refused connection, a request timeout (the connection is dropped with
/// its receive armed), a peer that closes mid-response; the client keeps working after
/// each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_timeouts() {
    let server = start_shockwave();
    let client = uring_client(uring_builder().request_timeout(Some(Duration::from_millis(300))));
    // Refused: a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let err = client.get(&dead).send().await.unwrap_err();
    assert_eq!(err.kind(), shockwave::client::ErrorKind::Connect, "{err}");
    // Timeout.
    let err = client.get(url(&server, "/slow")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Truncated: the head promises 100 bytes, 5 arrive, then the close.
    let (addr, _) = client_support::raw_server(|_, mut s| async move {
        use tokio::io::AsyncWriteExt as _;
        let _ = client_support::read_request_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort")
            .await;
    })
    .await;
    let resp = client.get(format!("http://{addr}/")).send().await.unwrap();
    let err = resp.bytes().await.unwrap_err();
    assert!(
        !err.is_timeout(),
        "the close ends the body, not the timer: {err}"
    );
    // Still fine afterwards.
    let ok = client.get(url(&server, "/")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "Hello, World!");
    server.stop().unwrap();
}

/// One client on two runtimes in turn: the first runtime's shutdown ends its ring's
/// reactor (its pooled connection then fails the liveness check); the second runtime
/// gets a new ring.
#[test]
fn a_client_outlives_its_first_runtime() {
    let server = start_shockwave();
    let client = uring_client(uring_builder());
    for round in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = client.get(url(&server, "/")).send().await.unwrap();
            assert_eq!(resp.text().await.unwrap(), "Hello, World!", "round {round}");
        });
        drop(rt);
    }
    assert_eq!(server.stats().requests, 2);
    assert_eq!(
        server.stats().connections_accepted,
        2,
        "the first runtime's connection is not reused"
    );
    server.stop().unwrap();
}

/// The fallback, in a child process (the switch is an environment variable): with
/// `SHOCKWAVE_IO_URING=off`, `Io::Uring` connects with epoll, and requests work.
#[test]
fn falls_back_to_epoll_when_io_uring_is_unavailable() {
    if std::env::var_os("SHOCKWAVE_IO_URING_CHILD").is_some() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let server = start_shockwave();
            let client = uring_builder().build().unwrap();
            assert_eq!(client.io(), Io::Epoll);
            let resp = client.get(url(&server, "/")).send().await.unwrap();
            assert_eq!(resp.text().await.unwrap(), "Hello, World!");
            let t = client.connect(&url(&server, "/")).await.unwrap();
            assert!(matches!(t, Transport::Tcp(_)), "{t:?}");
            server.stop().unwrap();
        });
        println!("fallback child: connected with epoll");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "falls_back_to_epoll_when_io_uring_is_unavailable",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SHOCKWAVE_IO_URING", "off")
        .env("SHOCKWAVE_IO_URING_CHILD", "1")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fallback child: connected with epoll"),
        "{stdout}"
    );
    // Without the switch the same builder gets io_uring.
    assert_eq!(uring_builder().build().unwrap().io(), Io::Uring);
}

/// The ring's reactor task ends once the client and its connections are dropped (and
/// not before: a live pooled connection keeps it).
#[test]
fn the_reactor_ends_with_the_client_and_its_connections() {
    let server = start_shockwave();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let client = uring_client(uring_builder());
        let resp = client.get(url(&server, "/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "Hello, World!");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            metrics.num_alive_tasks() > before,
            "the reactor runs while the client lives"
        );
        drop(client);
        let mut alive = usize::MAX;
        for _ in 0..100 {
            alive = metrics.num_alive_tasks();
            if alive == before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(alive, before, "the reactor task ended");
    });
    server.stop().unwrap();
}
