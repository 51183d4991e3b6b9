//! Response trailers over HTTP/2 (RFC 9113 §8.1): the body's last DATA frame goes without
//! END_STREAM and a HEADERS frame with END_STREAM carries the trailer fields, filtered and
//! lowercased. Checked with the `h2` crate client, nghttp, and raw frames.

mod http2_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use http2_support::{server, Client, F};

/// GET `path` with the `h2` crate: status, body, trailers.
async fn h2_get(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
) -> (u16, Vec<u8>, Option<http::HeaderMap>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(())
        .unwrap();
    let mut c = client.ready().await.unwrap();
    let (resp, _) = c.send_request(req, true).unwrap();
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap();
    (status, out, trailers)
}

#[tokio::test]
async fn h2_client_reads_trailers() {
    let srv = server::start();
    let (status, body, trailers) = h2_get(srv.addr, "GET", "/trailers").await;
    assert_eq!(status, 200);
    assert_eq!(body, b"with trailers");
    let t = trailers.expect("a trailer section");
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!(t["x-checksum"], "abc123");
    assert_eq!(t["grpc-status"], "0");

    // Deferred trailers, resolved after a streamed body.
    let (status, body, trailers) = h2_get(srv.addr, "GET", "/trailers-deferred").await;
    assert_eq!(status, 200);
    assert_eq!(body, b"part one, part two");
    let t = trailers.expect("a trailer section");
    assert_eq!(t["grpc-status"], "0");
    assert_eq!(t["grpc-message"], "done");
    assert_eq!(t.len(), 2);

    // Every field filtered out: no trailer section at all.
    let (status, body, trailers) = h2_get(srv.addr, "GET", "/trailers-dropped").await;
    assert_eq!((status, &body[..]), (200, &b"body"[..]));
    assert!(trailers.is_none(), "{trailers:?}");

    // HEAD: no body, so no trailers either.
    let (status, body, trailers) = h2_get(srv.addr, "HEAD", "/trailers").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert!(trailers.is_none());

    // Responses without trailers are unchanged.
    let (status, body, trailers) = h2_get(srv.addr, "GET", "/").await;
    assert_eq!((status, &body[..]), (200, &b"Hello, World!"[..]));
    assert!(trailers.is_none());
}

#[test]
fn frames_on_the_wire() {
    let srv = server::start();
    let mut sock = TcpStream::connect(srv.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut c = Client::new();
    c.preface(&[])
        .settings_ack()
        .get(1, "/trailers")
        .get(3, "/trailers-dropped");
    sock.write_all(&c.take()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut frames = Vec::new();
    let mut buf = [0u8; 65536];
    let done = |frames: &[F], id: u32| {
        frames.iter().any(|f| match f {
            F::Headers {
                id: i, end_stream, ..
            }
            | F::Data {
                id: i, end_stream, ..
            } => *i == id && *end_stream,
            _ => false,
        })
    };
    while !(done(&frames, 1) && done(&frames, 3)) {
        assert!(Instant::now() < deadline, "{frames:?}");
        if let Ok(n) = sock.read(&mut buf) {
            assert!(n > 0, "EOF: {frames:?}");
            frames.extend(c.parse(&buf[..n]));
        }
    }
    let on = |id: u32| -> Vec<&F> {
        frames
            .iter()
            .filter(|f| matches!(f, F::Headers { id: i, .. } | F::Data { id: i, .. } if *i == id))
            .collect()
    };
    // Stream 1: HEADERS, DATA (no END_STREAM), HEADERS (END_STREAM) with the kept fields.
    let s1 = on(1);
    assert_eq!(s1.len(), 3, "{s1:?}");
    assert!(matches!(
        s1[0],
        F::Headers {
            end_stream: false,
            ..
        }
    ));
    assert_eq!(
        *s1[1],
        F::Data {
            id: 1,
            data: b"with trailers".to_vec(),
            end_stream: false
        }
    );
    assert_eq!(
        *s1[2],
        F::Headers {
            id: 1,
            end_stream: true,
            fields: vec![
                ("x-checksum".into(), "abc123".into()),
                ("grpc-status".into(), "0".into())
            ]
        }
    );
    // Stream 3: nothing survived the filter, an empty DATA frame ends the stream.
    let s3 = on(3);
    assert_eq!(s3.len(), 3, "{s3:?}");
    assert_eq!(
        *s3[2],
        F::Data {
            id: 3,
            data: vec![],
            end_stream: true
        }
    );
}

#[test]
fn nghttp_sees_trailers() {
    http2_support::require_peer("nghttp", "apt-get install -y nghttp2-client");
    let srv = server::start();
    let url = format!("http://{}/trailers-deferred", srv.addr);
    let out = Command::new("nghttp").args(["-v", &url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // (nghttp interleaves the body with its frame log.)
    assert!(
        text.contains("part one, ") && text.contains("part two"),
        "{text}"
    );
    // After the last DATA frame: the trailer fields (nghttp prints them before the frame
    // line), then the HEADERS frame with END_STREAM.
    let pos = text.rfind("recv HEADERS frame").expect("trailer HEADERS");
    let data = text[..pos].rfind("recv DATA frame").expect("DATA");
    let fields = &text[data..pos];
    assert!(fields.contains("grpc-status: 0"), "{fields}");
    assert!(fields.contains("grpc-message: done"), "{fields}");
    let frame = &text[pos..];
    assert!(frame.contains("END_STREAM"), "{frame}");
    assert!(!text[data..data + 60].contains("END_STREAM"), "{text}");
}

/// Request trailers (RFC 9113 §8.1) sent by the `h2` crate client reach the handler
/// through `Body::trailers()` once the body has been read.
#[tokio::test]
async fn request_trailers_reach_the_handler() {
    let srv = server::start();
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    for with_trailers in [true, false] {
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}/echo-trailers", srv.addr))
            .body(())
            .unwrap();
        let mut c = client.clone().ready().await.unwrap();
        let (resp, mut send) = c.send_request(req, false).unwrap();
        send.send_data(bytes::Bytes::from_static(b"0123456789"), !with_trailers)
            .unwrap();
        if with_trailers {
            let mut t = http::HeaderMap::new();
            t.insert("x-checksum", http::HeaderValue::from_static("abc123"));
            t.insert("grpc-status", http::HeaderValue::from_static("0"));
            send.send_trailers(t).unwrap();
        }
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(chunk) = body.data().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        let text = String::from_utf8(out).unwrap();
        if with_trailers {
            assert!(text.starts_with("10:"), "{text}");
            assert!(text.contains("x-checksum=abc123;"), "{text}");
            assert!(text.contains("grpc-status=0;"), "{text}");
        } else {
            assert_eq!(text, "10:");
        }
    }
}
