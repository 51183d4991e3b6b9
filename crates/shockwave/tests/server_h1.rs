//! The HTTP/1.1 server driven by a raw-socket client: pipelining, keep-alive, bodies,
//! malformed input, limits, timeouts, panics, floods, graceful shutdown.

mod server_util;

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use server_util::{
    builder, connect, read_response, read_response_for, read_to_close, roundtrip, stop,
};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{handler_fn, service_fn, Handler, RequestContext, Response};

/// Test routes: the defaults plus a panic, a stream, a slow handler and an arena user.
struct TestRoutes(DefaultRoutes);

impl Handler for TestRoutes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/panic" => panic!("handler panic on purpose"),
            "/stream" => Response::ok().stream(futures_util::stream::iter(
                ["one ", "two ", "three"].map(|s| Ok(Bytes::from_static(s.as_bytes()))),
            )),
            "/slow" => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Response::text("slow done")
            }
            "/arena" => {
                let q = cx.query().unwrap_or("");
                let upper = cx.arena().alloc_str(q).unwrap();
                upper.make_ascii_uppercase();
                Response::text(upper)
            }
            "/unread" => Response::text("not reading your body"),
            "/bad-header" => Response::ok().header("x-evil", "a\r\nset-cookie: x"),
            "/close" => Response::text("bye").header("connection", "close"),
            _ => self.0.call(cx).await,
        }
    }
}

fn start() -> shockwave::server::ServerHandle {
    builder().start(TestRoutes(DefaultRoutes::new())).unwrap()
}

#[test]
fn hello_json_and_404() {
    let h = start();
    let r = roundtrip(h.local_addr(), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(r.header("date").is_some_and(|d| d.ends_with("GMT")));
    let r = roundtrip(h.local_addr(), b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.body, br#"{"message":"Hello, World!"}"#);
    let r = roundtrip(h.local_addr(), b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = roundtrip(h.local_addr(), b"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 405);
    let r = roundtrip(
        h.local_addr(),
        b"GET /arena?shout HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(r.body, b"SHOUT");
    stop(h);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let h = start();
    let mut s = connect(h.local_addr());
    let mut batch = Vec::new();
    for i in 0..20 {
        let path = ["/", "/json", "/arena?x", "/nope"][i % 4];
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    }
    // A POST with a body in the middle of the pipeline, then more GETs.
    batch.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    batch.extend_from_slice(b"GET /arena?after HTTP/1.1\r\nHost: a\r\n\r\n");
    s.write_all(&batch).unwrap();
    let mut pending = Vec::new();
    for i in 0..20 {
        let r = read_response(&mut s, &mut pending);
        match i % 4 {
            0 => assert_eq!(r.body, b"Hello, World!"),
            1 => assert_eq!(r.body, br#"{"message":"Hello, World!"}"#),
            2 => assert_eq!(r.body, b"X"),
            _ => assert_eq!(r.status, 404),
        }
    }
    assert_eq!(read_response(&mut s, &mut pending).body, b"hello");
    assert_eq!(read_response(&mut s, &mut pending).body, b"AFTER");
    // Byte-by-byte delivery of a pipelined pair parses the same.
    for b in b"GET /arena?a HTTP/1.1\r\nHost: a\r\n\r\nGET /arena?b HTTP/1.1\r\nHost: a\r\n\r\n" {
        s.write_all(&[*b]).unwrap();
    }
    assert_eq!(read_response(&mut s, &mut pending).body, b"A");
    assert_eq!(read_response(&mut s, &mut pending).body, b"B");
    stop(h);
}

#[test]
fn keep_alive_rules_rfc9112() {
    let h = start();
    // HTTP/1.1 defaults to keep-alive; Connection: close closes after the response.
    let mut s = connect(h.local_addr());
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut pending = Vec::new();
    let r1 = read_response(&mut s, &mut pending);
    assert_eq!(r1.header("connection"), None);
    let r2 = read_response(&mut s, &mut pending);
    assert_eq!(r2.header("connection"), Some("close"));
    assert!(read_to_close(&mut s).is_empty());
    // HTTP/1.0 defaults to close...
    let mut s = connect(h.local_addr());
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let all = read_to_close(&mut s);
    assert!(
        all.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&all)
    );
    assert!(all.ends_with(b"Hello, World!"));
    // ...unless it asks for keep-alive.
    let mut s = connect(h.local_addr());
    s.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    s.write_all(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, &mut pending).status, 200);
    // A handler asking to close.
    let mut s = connect(h.local_addr());
    s.write_all(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let all = read_to_close(&mut s);
    assert!(all.ends_with(b"bye"));
    stop(h);
}

#[test]
fn request_bodies_content_length_chunked_and_continue() {
    let h = start();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    let big = vec![b'z'; 100_000];
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&big).unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.body.len(), big.len());
    // Chunked, with an extension and a trailer.
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-t: 1\r\n\r\n").unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.body, b"hello world");
    // Expect: 100-continue: the interim response comes before the body is sent.
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = read_response(&mut s, &mut pending);
    assert_eq!(interim.status, 100);
    s.write_all(b"ping").unwrap();
    assert_eq!(read_response(&mut s, &mut pending).body, b"ping");
    // A handler that does not read an announced body: no 100, answer, then close.
    s.write_all(
        b"POST /unread HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    stop(h);
}

#[test]
fn malformed_input_gets_the_right_status_then_close() {
    let h = builder()
        .max_body_size(1000)
        .start(TestRoutes(DefaultRoutes::new()))
        .unwrap();
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: 1\r\n".repeat(150)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage", b"\x16\x03\x01\x02\x00 hello\r\n\r\n".to_vec(), 400),
        ("bad request line", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
        ("missing host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("bare LF", b"GET / HTTP/1.1\nHost: a\n\n".to_vec(), 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n".to_vec(), 400),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n".to_vec(), 400),
        ("CL + TE", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400),
        ("double CL", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc".to_vec(), 400),
        ("bad CL", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc".to_vec(), 400),
        ("TE not chunked", b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n".to_vec(), 400),
        ("unknown TE", b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: zstd-x, chunked\r\n\r\n".to_vec(), 501),
        ("version", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_vec(), 505),
        ("long uri", long_uri.into_bytes(), 414),
        ("big header", big_header.into_bytes(), 431),
        ("many headers", many_headers.into_bytes(), 431),
        ("body too large", b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n".to_vec(), 413),
        ("chunked too large", format!("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n{}\r\n0\r\n\r\n", "c".repeat(2000)).into_bytes(), 413),
        ("bad chunk size", b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(), 400),
    ];
    for (name, input, want) in cases {
        let mut s = connect(h.local_addr());
        s.write_all(&input).unwrap();
        let all = read_to_close(&mut s);
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {want} ")),
            "{name}: want {want}, got {:?}",
            &text[..text.len().min(200)]
        );
        assert!(
            text.contains("connection: close"),
            "{name}: must close: {text:?}"
        );
    }
    let stats = h.stats();
    assert!(stats.errors_with_status(400) >= 9, "{stats:?}");
    assert!(stats.errors_with_status(431) >= 2, "{stats:?}");
    assert_eq!(stats.errors_with_status(505), 1);
    // The worker is unharmed.
    assert_eq!(
        roundtrip(h.local_addr(), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").status,
        200
    );
    stop(h);
}

#[test]
fn handler_panic_is_a_500_and_the_worker_survives() {
    let h = start();
    let r = roundtrip(h.local_addr(), b"GET /panic HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 500);
    for _ in 0..3 {
        assert_eq!(
            roundtrip(h.local_addr(), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").status,
            200
        );
    }
    assert_eq!(h.stats().handler_panics, 1);
    assert_eq!(h.stats().errors_with_status(500), 1);
    // Response splitting via a header value is refused.
    let r = roundtrip(
        h.local_addr(),
        b"GET /bad-header HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(r.status, 500);
    assert!(r.header("set-cookie").is_none());
    stop(h);
}

#[test]
fn streamed_head_and_file_responses() {
    let h = start();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, b"one two three");
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let r = read_response_for(&mut s, &mut pending, true);
    assert_eq!(r.header("content-length"), Some("13"));
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, &mut pending).body, b"Hello, World!");
    // HTTP/1.0 gets a close-delimited stream (no chunked coding).
    let mut s = connect(h.local_addr());
    s.write_all(b"GET /stream HTTP/1.0\r\n\r\n").unwrap();
    let all = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(!all.contains("chunked"));
    assert!(all.ends_with("one two three"));
    stop(h);
}

#[test]
fn static_files_range_etag_and_traversal() {
    let dir = std::env::temp_dir().join(format!("sw-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), b"<h1>0123456789</h1>").unwrap();
    std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
    let files = shockwave::server::files::StaticFiles::new(dir.join("www")).unwrap();
    let h = builder()
        .start(DefaultRoutes::new().with_static(files))
        .unwrap();
    let addr = h.local_addr();
    let r = roundtrip(addr, b"GET /static/index.html HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<h1>0123456789</h1>");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let etag = r.header("etag").unwrap().to_string();
    let r = roundtrip(
        addr,
        format!("GET /static/index.html HTTP/1.1\r\nHost: a\r\nIf-None-Match: {etag}\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = roundtrip(
        addr,
        b"GET /static/index.html HTTP/1.1\r\nHost: a\r\nRange: bytes=4-7\r\n\r\n",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"0123");
    assert_eq!(r.header("content-range"), Some("bytes 4-7/19"));
    let r = roundtrip(
        addr,
        b"GET /static/index.html HTTP/1.1\r\nHost: a\r\nRange: bytes=-5\r\n\r\n",
    );
    assert_eq!(r.body, b"</h1>");
    let r = roundtrip(
        addr,
        b"GET /static/index.html HTTP/1.1\r\nHost: a\r\nRange: bytes=100-\r\n\r\n",
    );
    assert_eq!(r.status, 416);
    for evil in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/nope.html",
    ] {
        let r = roundtrip(
            addr,
            format!("GET {evil} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        );
        assert!(r.status == 404 || r.status == 400, "{evil}: {}", r.status);
        assert!(!r.body.windows(6).any(|w| w == b"secret"), "{evil}");
    }
    stop(h);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn slow_and_idle_clients_time_out() {
    let h = builder()
        .header_read_timeout(Duration::from_millis(100))
        .idle_timeout(Duration::from_millis(100))
        .start(DefaultRoutes::new())
        .unwrap();
    // Slowloris: a head that never completes gets 408 and is closed.
    let mut s = connect(h.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        .unwrap();
    let all = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(all.starts_with("HTTP/1.1 408 "), "{all:?}");
    // An idle keep-alive connection is closed silently.
    let mut s = connect(h.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending).status, 200);
    assert!(read_to_close(&mut s).is_empty());
    assert!(h.stats().timeouts >= 2, "{:?}", h.stats());
    stop(h);
}

#[test]
fn connection_flood_is_refused_without_hurting_served_connections() {
    let h = builder()
        .max_connections_per_worker(2)
        .start(DefaultRoutes::new())
        .unwrap();
    let addr = h.local_addr();
    let mut a = connect(addr);
    let mut b = connect(addr);
    let mut pa = Vec::new();
    let mut pb = Vec::new();
    for (s, p) in [(&mut a, &mut pa), (&mut b, &mut pb)] {
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(read_response(s, p).status, 200);
    }
    for _ in 0..5 {
        let mut c = connect(addr);
        let all = String::from_utf8(read_to_close(&mut c)).unwrap();
        assert!(all.is_empty() || all.starts_with("HTTP/1.1 503"), "{all:?}");
    }
    for (s, p) in [(&mut a, &mut pa), (&mut b, &mut pb)] {
        s.write_all(b"GET /json HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(s, p).status, 200);
    }
    assert_eq!(h.stats().connections_refused, 5);
    assert_eq!(h.stats().connections_active, 2);
    stop(h);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let h = start();
    let addr = h.local_addr();
    let mut idle = connect(addr);
    let mut pending = Vec::new();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle, &mut pending).status, 200);
    let mut busy = connect(addr);
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    // Wait until the slow request has been parsed (its handler is running) before
    // shutting down.
    let start = std::time::Instant::now();
    while h.stats().requests < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the request never arrived"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let shutdown = h.shutdown_handle();
    shutdown.shutdown();
    let all = String::from_utf8(read_to_close(&mut busy)).unwrap();
    assert!(all.starts_with("HTTP/1.1 200"), "{all:?}");
    assert!(all.contains("connection: close"));
    assert!(all.ends_with("slow done"));
    assert!(
        read_to_close(&mut idle).is_empty(),
        "idle connections are closed"
    );
    h.wait().expect("clean exit");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn closures_and_owned_api() {
    let h = builder()
        .start(handler_fn(async |mut cx| {
            let body = cx.body().to_arena().await.unwrap_or_default();
            let n = cx.arena().alloc_str(&body.len().to_string()).unwrap();
            Response::text(n)
        }))
        .unwrap();
    let r = roundtrip(
        h.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(r.body, b"3");
    stop(h);
    let h = builder()
        .start(service_fn(|req: http::Request<Bytes>| async move {
            let mut body = req.uri().path().as_bytes().to_vec();
            body.extend_from_slice(req.body());
            http::Response::builder()
                .status(StatusCode::CREATED)
                .header("x-owned", "yes")
                .body(Bytes::from(body))
                .unwrap()
        }))
        .unwrap();
    let r = roundtrip(
        h.local_addr(),
        b"PUT /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy",
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-owned"), Some("yes"));
    assert_eq!(r.body, b"/pxy");
    stop(h);
}

#[test]
fn counters_and_stats_route() {
    let routes = DefaultRoutes::new();
    let slot = routes.stats_slot();
    let h = builder().workers(2).start(routes).unwrap();
    let _ = slot.set(h.stats_source());
    for _ in 0..3 {
        roundtrip(h.local_addr(), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    roundtrip(h.local_addr(), b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = roundtrip(h.local_addr(), b"GET /stats HTTP/1.1\r\nHost: a\r\n\r\n");
    let json = String::from_utf8(r.body).unwrap();
    assert!(json.starts_with("{\"workers\":2,"), "{json}");
    assert!(json.contains("\"arena\":{"), "{json}");
    let s = h.stats();
    assert_eq!(s.requests, 5);
    assert_eq!(s.responses_by_class[1], 4);
    assert_eq!(s.errors_with_status(404), 1);
    assert_eq!(s.connections_accepted, 5);
    stop(h);
}

#[test]
fn endless_request_line_or_head_is_cut_off_at_the_limit() {
    // A request line that never ends is answered with 414 once it passes the limit,
    // a head that never ends with 431: nothing is buffered without bound.
    let h = start();
    let mut s = connect(h.local_addr());
    s.write_all(b"GET /").unwrap();
    let _ = s.write_all(&vec![b'a'; 64 * 1024]);
    let all = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
    assert!(all.starts_with("HTTP/1.1 414 "), "{all:?}");
    let mut s = connect(h.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ")
        .unwrap();
    let _ = s.write_all(&vec![b'b'; 128 * 1024]);
    let all = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
    assert!(all.starts_with("HTTP/1.1 431 "), "{all:?}");
    stop(h);
}
