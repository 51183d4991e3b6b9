//! The client against a hyper server and raw-socket servers on 127.0.0.1.

mod client_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use client_support::*;
use shockwave::arena::Arena;
use shockwave::client::{
    ArenaRequest, Body, Client, ClosedDuring, Error, RedirectPolicy, TimeoutKind,
};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn get_text_and_keep_alive_reuse() {
    let server = hyper_server().await;
    let client = Client::new();
    for _ in 0..20 {
        let resp = client.get(server.url("/hello")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.content_length(), Some(11));
        assert_eq!(resp.text().await.unwrap(), "hello world");
    }
    assert_eq!(
        server.connections(),
        1,
        "20 sequential requests on one connection"
    );
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.connections_reused, 19);
    assert_eq!(client.idle_connections(&server.url("/")), 1);
}

#[tokio::test]
async fn arena_api_keep_alive_reuse() {
    let server = hyper_server().await;
    let client = Client::new();
    let url = server.url("/hello");
    let mut arena = Arena::with_capacity(16 * 1024);
    for _ in 0..20 {
        {
            let resp = client
                .send_in(&arena, ArenaRequest::get(&url))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.body(), b"hello world");
            assert_eq!(resp.header(b"content-length"), Some(&b"11"[..]));
            assert_eq!(resp.text().unwrap(), "hello world");
        }
        arena.reset();
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn chunked_response_owned_and_arena() {
    let server = hyper_server().await;
    let client = Client::new();
    let want = "chunk one, chunk two, and the last chunk";
    let mut resp = client.get(server.url("/chunked")).send().await.unwrap();
    assert_eq!(resp.headers().get("transfer-encoding").unwrap(), "chunked");
    let mut got = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = resp.chunk().await.unwrap() {
        got.extend_from_slice(&piece);
        pieces += 1;
    }
    assert!(pieces >= 1);
    assert_eq!(got, want.as_bytes());

    let arena = Arena::new();
    let url = server.url("/chunked");
    let resp = client
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap();
    assert_eq!(resp.body(), want.as_bytes());
    // Both on the same kept-alive connection.
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn large_body_byte_for_byte() {
    let server = hyper_server().await;
    let client = Client::new();
    let want = big_body();
    let got = client
        .get(server.url("/big"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "8 MiB body differs");

    let arena = Arena::new(); // default: no limit
    let url = server.url("/big");
    let resp = client
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap();
    assert!(resp.body() == want);

    // A small body limit is a typed error, not an abort.
    let small = Client::builder()
        .max_response_body_size(1024)
        .build()
        .unwrap();
    let err = small
        .get(server.url("/big"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BodyTooLarge { limit: 1024 }), "{err}");
    let err = small
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BodyTooLarge { .. }), "{err}");
    // An arena limit is a typed error too.
    let limited = Arena::with_limit(1024, Some(64 * 1024));
    let err = client
        .send_in(&limited, ArenaRequest::get(&url))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Arena(_)), "{err}");
}

#[tokio::test]
async fn post_bodies_content_length_chunked_and_streamed() {
    let server = hyper_server().await;
    let client = Client::new();
    let resp = client
        .post(server.url("/echo"))
        .header("content-type", "text/plain")
        .body("some data")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.header("x-method").unwrap(), "POST");
    assert_eq!(resp.header("x-request-cl").unwrap(), "9");
    assert_eq!(resp.text().await.unwrap(), "some data");

    // Streaming upload of unknown length: chunked.
    let pieces: Vec<std::io::Result<Bytes>> = (0..50)
        .map(|i| Ok(Bytes::from(format!("piece {i};"))))
        .collect();
    let want: String = (0..50).map(|i| format!("piece {i};")).collect();
    let resp = client
        .put(server.url("/echo"))
        .body(Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.header("x-method").unwrap(), "PUT");
    assert_eq!(resp.header("x-request-te").unwrap(), "chunked");
    assert_eq!(resp.text().await.unwrap(), want);

    // Streaming upload of a known length: Content-Length.
    let big = vec![7u8; 300_000];
    let pieces: Vec<std::io::Result<Bytes>> = big
        .chunks(10_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let resp = client
        .post(server.url("/echo"))
        .body(Body::sized_stream(
            300_000,
            futures_util::stream::iter(pieces),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.header("x-request-cl").unwrap(), "300000");
    assert_eq!(resp.bytes().await.unwrap(), big);

    // A stream shorter than declared: typed error.
    let pieces: Vec<std::io::Result<Bytes>> = vec![Ok(Bytes::from_static(b"abc"))];
    let err = client
        .post(server.url("/echo"))
        .body(Body::sized_stream(10, futures_util::stream::iter(pieces)))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BodyLengthMismatch {
                declared: 10,
                produced: 3
            }
        ),
        "{err}"
    );

    // Arena API with a body and extra headers.
    let arena = Arena::new();
    let url = server.url("/echo");
    let headers: &[(&[u8], &[u8])] = &[(b"x-test", b"1")];
    let resp = client
        .send_in(
            &arena,
            ArenaRequest::post(&url, b"arena body").headers(headers),
        )
        .await
        .unwrap();
    assert_eq!(resp.body(), b"arena body");
    assert_eq!(resp.header(b"x-request-cl"), Some(&b"10"[..]));
}

#[tokio::test]
async fn headers_are_sent_and_framing_headers_rejected_in_arena_api() {
    let server = hyper_server().await;
    let client = Client::builder()
        .user_agent("shockwave-test/1")
        .unwrap()
        .build()
        .unwrap();
    let text = client
        .get(server.url("/headers"))
        .header("x-one", "1")
        .header("x-one", "2")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("x-one: 1\n") && text.contains("x-one: 2\n"),
        "{text}"
    );
    assert!(text.contains("user-agent: shockwave-test/1\n"), "{text}");
    assert!(text.contains(&format!("host: {}\n", server.addr)), "{text}");

    let arena = Arena::new();
    let url = server.url("/headers");
    for bad in [
        &[(&b"host"[..], &b"evil"[..])][..],
        &[(&b"x-a"[..], &b"a\r\nx-injected: 1"[..])][..],
        &[(&b"bad name"[..], &b"v"[..])][..],
    ] {
        let err = client
            .send_in(&arena, ArenaRequest::get(&url).headers(bad))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidHeader { .. }), "{err}");
    }
    let err = client
        .get(server.url("/"))
        .header("x-a", "a\nb")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidHeader { .. }), "{err}");
}

#[tokio::test]
async fn head_204_and_status_codes() {
    let server = hyper_server().await;
    let client = Client::new();
    let resp = client.head(server.url("/hello")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 0);
    let resp = client.get(server.url("/empty")).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let resp = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "not found");
    // All on one connection: HEAD and 204 have no body to read.
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn redirects_follow_policy() {
    let server = hyper_server().await;
    // Default: not followed.
    let client = Client::new();
    let resp = client.get(server.url("/redirect/3")).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.header("location").unwrap(), "/redirect/2");

    let client = Client::builder()
        .redirect(RedirectPolicy::limited(5))
        .build()
        .unwrap();
    let resp = client.get(server.url("/redirect/3")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/redirect/0");
    assert_eq!(resp.text().await.unwrap(), "arrived via GET");
    // 302 after POST becomes GET.
    let resp = client
        .post(server.url("/redirect/1"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "arrived via GET");
    // 307 keeps the method.
    let resp = client
        .post(server.url("/status/307"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "arrived via POST");
    // Too many.
    let err = client
        .get(server.url("/redirect/9"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyRedirects { max: 5 }), "{err}");

    // Arena API follows too.
    let arena = Arena::new();
    let url = server.url("/redirect/2");
    let resp = client
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap();
    assert_eq!(resp.text().unwrap(), "arrived via GET");
    // Redirect bodies were drained (and the unread 302 body of the first client was
    // buffered whole): one connection per client.
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn pool_limit_bounds_connections_and_waits() {
    let server = hyper_server().await;
    let client = Client::builder()
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = client.clone();
        let url = server.url("/hello");
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await?.text().await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "hello world");
    }
    assert!(
        server.connections() <= 2,
        "{} connections",
        server.connections()
    );

    // A request that cannot get a connection in time: PoolWait timeout.
    let client = Client::builder()
        .max_connections_per_host(1)
        .pool_wait_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let held = client.get(server.url("/big")).send().await.unwrap(); // body unread: holds the slot
    let err = client.get(server.url("/hello")).send().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::PoolWait,
                ..
            }
        ),
        "{err}"
    );
    drop(held);
    assert_eq!(
        client
            .get(server.url("/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn max_idle_zero_disables_reuse() {
    let server = hyper_server().await;
    let client = Client::builder().max_idle_per_host(0).build().unwrap();
    for _ in 0..3 {
        client
            .get(server.url("/hello"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn idle_connections_expire() {
    let server = hyper_server().await;
    let client = Client::builder()
        .idle_timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    client
        .get(server.url("/hello"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    client
        .get(server.url("/hello"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(server.connections(), 2);
    assert!(client.stats().connections_evicted >= 1);
}

#[tokio::test]
async fn request_timeout_is_typed() {
    let server = hyper_server().await;
    let client = Client::builder()
        .request_timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let err = client.get(server.url("/slow")).send().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::Request,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_timeout());
    let arena = Arena::new();
    let url = server.url("/slow");
    let err = client
        .send_in(
            &arena,
            ArenaRequest::get(&url).timeout(Duration::from_millis(30)),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Per-request override on the owned API.
    let err = Client::new()
        .get(server.url("/slow"))
        .timeout(Duration::from_millis(30))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn connect_errors_are_typed() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(err.to_string().contains(&port.to_string()));
    for bad in ["ftp://x/", "not a url", "http://user:pw@127.0.0.1/"] {
        assert!(Client::new().get(bad).send().await.is_err(), "{bad}");
    }
}

#[tokio::test]
async fn server_closing_mid_response_is_a_clear_error() {
    // Promises 1000 bytes, sends 10, closes.
    let (addr, _) = raw_server(|_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                .await;
        }
    })
    .await;
    let client = Client::new();
    let url = format!("http://{addr}/");
    let err = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionClosed(ClosedDuring::Body)),
        "{err}"
    );
    let arena = Arena::new();
    let err = client
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionClosed(ClosedDuring::Body)),
        "{err}"
    );

    // Closes in the middle of the head.
    let (addr, _) = raw_server(|_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
        }
    })
    .await;
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionClosed(ClosedDuring::Head)),
        "{err}"
    );

    // Closes without answering (fresh connection: no retry).
    let (addr, accepted) = raw_server(|_, mut s| async move {
        let _ = read_request_head(&mut s).await;
    })
    .await;
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionClosed(ClosedDuring::BeforeResponse)),
        "{err}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // Chunked body cut short.
    let (addr, _) = raw_server(|_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                .await;
        }
    })
    .await;
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionClosed(ClosedDuring::Body)),
        "{err}"
    );
}

#[tokio::test]
async fn close_delimited_body_is_read_to_eof() {
    let (addr, accepted) = raw_server(|_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil the end").await;
        }
    })
    .await;
    let client = Client::new();
    let url = format!("http://{addr}/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "until the end"
    );
    let arena = Arena::new();
    let resp = client
        .send_in(&arena, ArenaRequest::get(&url))
        .await
        .unwrap();
    assert_eq!(resp.body(), b"until the end");
    // Not reusable: each request needed its own connection.
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    let cases: &[&'static [u8]] = &[
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"garbage garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
    ];
    let client = Client::new();
    for &case in cases {
        let (addr, _) = canned_server(case).await;
        let url = format!("http://{addr}/");
        let owned = match client.get(&url).send().await {
            Ok(resp) => resp.bytes().await.map(|_| ()),
            Err(e) => Err(e),
        };
        let err = owned.expect_err(&String::from_utf8_lossy(case));
        assert!(
            err.is_protocol(),
            "{:?}: {err}",
            String::from_utf8_lossy(case)
        );
        let arena = Arena::new();
        let err = client
            .send_in(&arena, ArenaRequest::get(&url))
            .await
            .expect_err(&String::from_utf8_lossy(case));
        assert!(
            err.is_protocol(),
            "{:?}: {err}",
            String::from_utf8_lossy(case)
        );
    }
}

#[tokio::test]
async fn oversized_head_is_rejected() {
    static HUGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let huge: &'static [u8] = HUGE.get_or_init(|| {
        let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..2000 {
            v.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(40)).as_bytes());
        }
        v.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        v
    });
    let (addr, _) = canned_server(huge).await;
    let client = Client::builder()
        .max_response_header_size(16 * 1024)
        .build()
        .unwrap();
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HeadTooLarge { limit: 16384 }), "{err}");
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let (addr, _) = canned_server(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let client = Client::new();
    let url = format!("http://{addr}/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    let arena = Arena::new();
    assert_eq!(
        client
            .send_in(&arena, ArenaRequest::get(&url))
            .await
            .unwrap()
            .body(),
        b"ok"
    );
}

#[tokio::test]
async fn stale_pooled_connection_is_retried_once() {
    // Answers one request per connection with keep-alive framing, then closes: the
    // pooled connection is stale by the next request.
    let (addr, accepted) = raw_server(|_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    let client = Client::new();
    let url = format!("http://{addr}/");
    for _ in 0..5 {
        assert_eq!(
            client.get(&url).send().await.unwrap().text().await.unwrap(),
            "ok"
        );
        // Let the FIN arrive so some checkouts see it, others race it.
        tokio::task::yield_now().await;
    }
    let arena = Arena::new();
    for _ in 0..3 {
        assert_eq!(
            client
                .send_in(&arena, ArenaRequest::get(&url))
                .await
                .unwrap()
                .body(),
            b"ok"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 8);
    // Non-idempotent requests on a stale connection are not retried... but a stale
    // connection detected at checkout is simply replaced, so POST succeeds too.
    assert_eq!(
        client
            .post(&url)
            .body("x")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
}

#[tokio::test]
async fn send_http_interop() {
    let server = hyper_server().await;
    let client = Client::new();
    let req = http::Request::builder()
        .method("POST")
        .uri(server.url("/echo"))
        .header("x-a", "b")
        .body("from http::Request")
        .unwrap();
    let resp = client.send_http(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let http_resp = resp.into_http();
    assert_eq!(http_resp.headers()["x-method"], "POST");
    let mut body = http_resp.into_body();
    let mut all = Vec::new();
    while let Some(p) = body.chunk().await.unwrap() {
        all.extend_from_slice(&p);
    }
    assert_eq!(all, b"from http::Request");
}

#[test]
fn client_is_send_sync_and_works_on_a_multi_thread_runtime() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Client>();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = hyper_server().await;
        let client = Client::builder()
            .max_connections_per_host(4)
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..32 {
            let c = client.clone();
            let url = server.url(if i % 2 == 0 { "/hello" } else { "/chunked" });
            // tokio::spawn requires the send future to be Send.
            tasks.push(tokio::spawn(async move {
                c.get(url).send().await?.bytes().await
            }));
        }
        for t in tasks {
            assert!(!t.await.unwrap().unwrap().is_empty());
        }
        assert!(server.connections() <= 4);
    });
}

/// A server that answers the first request of every connection, then reads the second
/// and closes without answering (a keep-alive race): the client must retry idempotent
/// requests once on a fresh connection, and must not retry a POST.
async fn one_answer_per_connection_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    raw_server(|_, mut s| async move {
        if read_request_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = read_request_head(&mut s).await;
        }
    })
    .await
}

#[tokio::test]
async fn request_failing_on_a_reused_connection_is_retried_once() {
    let (addr, accepted) = one_answer_per_connection_server().await;
    let client = Client::new();
    let url = format!("http://{addr}/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    // Reuses connection 1, which dies before any response byte: retried on connection 2.
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert_eq!(client.stats().retries, 1);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    // The arena API retries too.
    let arena = Arena::new();
    assert_eq!(
        client
            .send_in(&arena, ArenaRequest::get(&url))
            .await
            .unwrap()
            .body(),
        b"ok"
    );
    assert_eq!(client.stats().retries, 2);

    // POST is not idempotent: the failure is reported, not retried.
    let err = client.post(&url).body("x").send().await.unwrap_err();
    assert!(
        matches!(err, Error::ConnectionClosed(ClosedDuring::BeforeResponse)),
        "{err}"
    );
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn connect_timeout_is_typed() {
    // A listener that never accepts, with its accept queue filled: further SYNs are
    // dropped by the kernel, so connecting hangs until the connect timeout.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(1).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(100))
        .request_timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap();
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            }
        ),
        "{err}"
    );
    drop(fillers);
}
