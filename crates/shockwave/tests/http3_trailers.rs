//! Response trailers over HTTP/3 (RFC 9114 §4.1: a HEADERS frame after the DATA frames),
//! read by the `h3` crate's client: fields known up front and deferred ones (resolved
//! after the body), with small (coalesced), large and streamed bodies; filtered like
//! header fields and lowercased; none for HEAD; a panicking trailer future resets the
//! stream. Request trailers reach the handler through `Body::trailers`.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

use bytes::{Buf as _, Bytes};
use shockwave::http3::{quic_client_config, Http3Config};
use shockwave::server::{handler_fn, tls, Response, Server, ServerHandle};

const LARGE: usize = 200_000;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

static FIELDS: [(&[u8], &[u8]); 6] = [
    (b"x-checksum", b"abc123"),
    (b"X-Mixed-Case", b"yes"),
    (b"content-length", b"5"),
    (b"connection", b"close"),
    (b"host", b"evil"),
    (b"x-bad", b"line\r\nbreak"),
];

fn deferred_map(status: &'static str) -> http::HeaderMap {
    let mut m = http::HeaderMap::new();
    m.insert("grpc-status", http::HeaderValue::from_static(status));
    m.insert("grpc-message", http::HeaderValue::from_static("all good"));
    m
}

fn start_server() -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handler = handler_fn(async |mut cx| match cx.path() {
        "/echo-trailers" => {
            let arena = cx.arena();
            let before = if cx.body().trailers().is_none() {
                "none"
            } else {
                "some"
            };
            let body = match cx.body().to_arena().await {
                Ok(b) => b,
                Err(e) => return Response::new(e.status()),
            };
            let (checksum, count) = match cx.body().trailers() {
                Some(t) => (
                    arena
                        .alloc_bytes(t.get("x-checksum").unwrap_or(b"missing"))
                        .unwrap(),
                    t.len(),
                ),
                None => (arena.alloc_bytes(b"no trailers").unwrap(), 0),
            };
            let count = arena.alloc_str(&count.to_string()).unwrap();
            Response::ok()
                .header("x-before", before)
                .header("x-got-checksum", &*checksum)
                .header("x-trailer-count", &*count)
                .body(body)
        }
        "/fields" => Response::ok().body(&b"hello"[..]).trailers(&FIELDS),
        "/deferred-large" => Response::ok()
            .body(Bytes::from(pattern(LARGE)))
            .trailers_deferred(async {
                tokio::task::yield_now().await;
                deferred_map("0")
            }),
        "/deferred-stream" => Response::ok()
            .stream(futures_util::stream::iter(
                (0..3).map(|i| Ok(Bytes::from(pattern(1000 + i)))),
            ))
            .trailers_deferred(async { deferred_map("7") }),
        "/empty-trailers" => Response::ok()
            .body(&b"no trailers"[..])
            .trailers_deferred(async { http::HeaderMap::new() }),
        "/no-body" => Response::ok().trailers(&FIELDS),
        "/panic-trailers" => Response::ok()
            .body(&b"partial"[..])
            .trailers_deferred(async { panic!("trailer future panics on purpose") }),
        _ => Response::text("plain"),
    });
    let handle = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .build()
        .start(handler)
        .unwrap();
    (handle, cert)
}

/// Status, headers, body and trailers of one request, or the error that ended it.
async fn get(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    method: http::Method,
    path: &str,
) -> Result<
    (
        http::StatusCode,
        http::HeaderMap,
        Vec<u8>,
        Option<http::HeaderMap>,
    ),
    String,
> {
    request(send, method, path, None).await
}

/// As [`get`], sending `upload` (a body and its trailers, none if empty) first.
async fn request(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    method: http::Method,
    path: &str,
    upload: Option<(Vec<u8>, http::HeaderMap)>,
) -> Result<
    (
        http::StatusCode,
        http::HeaderMap,
        Vec<u8>,
        Option<http::HeaderMap>,
    ),
    String,
> {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let mut stream = send.send_request(req).await.map_err(|e| e.to_string())?;
    if let Some((body, trailers)) = upload {
        stream
            .send_data(Bytes::from(body))
            .await
            .map_err(|e| e.to_string())?;
        if !trailers.is_empty() {
            stream
                .send_trailers(trailers)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    stream.finish().await.map_err(|e| e.to_string())?;
    let resp = stream.recv_response().await.map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.map_err(|e| e.to_string())? {
        while chunk.has_remaining() {
            let c = chunk.chunk();
            body.extend_from_slice(c);
            let n = c.len();
            chunk.advance(n);
        }
    }
    let trailers = stream.recv_trailers().await.map_err(|e| e.to_string())?;
    Ok((resp.status(), resp.headers().clone(), body, trailers))
}

#[tokio::test]
async fn h3_client_reads_response_trailers() {
    let (server, cert) = start_server();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(
        quic_client_config(&cert.client_config().unwrap(), &Http3Config::default()).unwrap(),
    );
    let conn = ep
        .connect(server.local_addr(), "localhost")
        .unwrap()
        .await
        .unwrap();
    let (mut driver, mut send) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .unwrap();
    let drive = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });

    // Known fields with a small body: HEADERS + DATA + trailer HEADERS in one write.
    let (status, headers, body, trailers) =
        get(&mut send, http::Method::GET, "/fields").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["content-length"], "5");
    assert_eq!(body, b"hello");
    let t = trailers.expect("trailers");
    assert_eq!(t["x-checksum"], "abc123");
    // Lowercased (RFC 9114 §4.2); connection-specific, framing, host and invalid
    // fields are dropped.
    assert_eq!(t["x-mixed-case"], "yes");
    assert_eq!(t.len(), 2, "{t:?}");

    // Deferred, after a large body.
    let (status, _, body, trailers) = get(&mut send, http::Method::GET, "/deferred-large")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(body == pattern(LARGE), "large body differs");
    let t = trailers.expect("trailers");
    assert_eq!(t["grpc-status"], "0");
    assert_eq!(t["grpc-message"], "all good");

    // Deferred, after a streamed body.
    let (_, headers, body, trailers) = get(&mut send, http::Method::GET, "/deferred-stream")
        .await
        .unwrap();
    assert!(!headers.contains_key("content-length"));
    let expected: Vec<u8> = (0..3).flat_map(|i| pattern(1000 + i)).collect();
    assert_eq!(body, expected);
    assert_eq!(trailers.expect("trailers")["grpc-status"], "7");

    // An empty trailer map sends no trailer section.
    let (_, _, body, trailers) = get(&mut send, http::Method::GET, "/empty-trailers")
        .await
        .unwrap();
    assert_eq!(body, b"no trailers");
    assert!(trailers.is_none(), "{trailers:?}");

    // Trailers on an empty body still follow the (absent) content.
    let (status, headers, body, trailers) =
        get(&mut send, http::Method::GET, "/no-body").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["content-length"], "0");
    assert!(body.is_empty());
    assert_eq!(trailers.expect("trailers")["x-checksum"], "abc123");

    // HEAD: no body, no trailers.
    let (status, _, body, trailers) = get(&mut send, http::Method::HEAD, "/fields").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert!(trailers.is_none(), "{trailers:?}");

    // A panicking trailer future resets the stream: the client never sees a clean end.
    let r = get(&mut send, http::Method::GET, "/panic-trailers").await;
    assert!(r.is_err(), "{r:?}");

    // Request trailers reach the handler once the body has been read.
    let mut t = http::HeaderMap::new();
    t.insert("x-checksum", http::HeaderValue::from_static("c0ffee"));
    t.insert("x-other", http::HeaderValue::from_static("1"));
    let payload = pattern(50_000);
    let (status, headers, body, _) = request(
        &mut send,
        http::Method::POST,
        "/echo-trailers",
        Some((payload.clone(), t)),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert!(body == payload, "echoed body differs");
    assert_eq!(headers["x-before"], "none");
    assert_eq!(headers["x-got-checksum"], "c0ffee");
    assert_eq!(headers["x-trailer-count"], "2");
    // Without trailers the handler sees none.
    let (_, headers, _, _) = request(
        &mut send,
        http::Method::POST,
        "/echo-trailers",
        Some((b"x".to_vec(), http::HeaderMap::new())),
    )
    .await
    .unwrap();
    assert_eq!(headers["x-got-checksum"], "no trailers");

    // The connection still serves.
    let (status, _, body, trailers) = get(&mut send, http::Method::GET, "/").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, b"plain");
    assert!(trailers.is_none());

    assert_eq!(server.stats().handler_panics, 1);
    drop(send);
    drive.abort();
    ep.close(0u32.into(), b"done");
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap()
        .unwrap();
}
