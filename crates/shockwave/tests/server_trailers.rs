//! HTTP/1.1 response trailers (RFC 9112 §7.1.2): chunked framing with a trailer
//! section for HTTP/1.1 requests, read back by curl (`--raw`), the hyper client and a
//! raw socket; dropped for HTTP/1.0, HEAD, 204 and 304.

mod server_util;

use std::io::Write;
use std::process::Command;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use server_util::{builder, connect, read_response, read_response_for, require_tool, stop};
use shockwave::server::{Handler, RequestContext, Response};

struct TrailerRoutes;

const FIELDS: &[(&[u8], &[u8])] = &[
    (b"x-checksum", b"abc123"),
    (b"connection", b"close"),          // connection-specific: dropped
    (b"content-length", b"99"),         // framing: dropped
    (b":status", b"500"),               // pseudo-field: dropped
    (b"x-evil", b"a\r\nset-cookie: x"), // response splitting: dropped
    (b"x-count", b"2"),
];

impl Handler for TrailerRoutes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/fields" => Response::text("hello").trailers(FIELDS),
            "/arena" => {
                let value = cx.arena().alloc_str(cx.query().unwrap_or("none")).unwrap();
                let fields = cx
                    .arena()
                    .alloc_slice_copy(&[(&b"x-query"[..], value.as_bytes())])
                    .unwrap();
                Response::text("arena").trailers(fields)
            }
            "/big" => {
                // Larger than the in-buffer limit: sent after the head, as one chunk.
                Response::ok()
                    .body(Bytes::from(vec![b'z'; 100_000]))
                    .trailers(&[(b"x-size", b"100000")])
            }
            "/stream" => Response::ok()
                .stream(futures_util::stream::iter(
                    ["one ", "two ", "three"].map(|s| Ok(Bytes::from_static(s.as_bytes()))),
                ))
                .trailers_deferred(async {
                    tokio::task::yield_now().await; // resolved after the body
                    let mut map = http::HeaderMap::new();
                    map.insert("grpc-status", http::HeaderValue::from_static("0"));
                    map.insert("te", http::HeaderValue::from_static("trailers"));
                    map
                }),
            "/empty" => Response::ok().trailers(&[(b"x-empty", b"yes")]),
            "/no-content" => Response::status_code(204).trailers(&[(b"x-dropped", b"1")]),
            _ => Response::status_code(404),
        }
    }
}

#[test]
fn curl_raw_reads_the_trailer_section() {
    require_tool("curl", "sudo apt-get install -y curl");
    let h = builder().start(TrailerRoutes).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--raw"])
        .arg(format!("http://{}/fields", h.local_addr()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        raw,
        "5\r\nhello\r\n0\r\nx-checksum: abc123\r\nx-count: 2\r\n\r\n"
    );
    // curl -v prints the head: chunked, no content-length, the announced trailer names.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-v"])
        .arg(format!("http://{}/stream", h.local_addr()))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"one two three");
    let err = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
    assert!(err.contains("transfer-encoding: chunked"), "{err}");
    stop(h);
}

#[test]
fn hyper_client_reads_trailers() {
    let h = builder().start(TrailerRoutes).unwrap();
    let addr = h.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
            .await
            .unwrap();
        tokio::spawn(conn);
        let get = |path: &str| {
            http::Request::get(path)
                .header("host", "x")
                .header("te", "trailers")
                .body(Empty::new())
                .unwrap()
        };
        // Several on one connection: the framing must stay in sync.
        for _ in 0..2 {
            let resp = sender.send_request(get("/fields")).await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["trailer"], "x-checksum, x-count");
            assert!(resp.headers().get("content-length").is_none());
            let collected = resp.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert_eq!(collected.to_bytes(), "hello");
            assert_eq!(trailers["x-checksum"], "abc123");
            assert_eq!(trailers["x-count"], "2");
            assert_eq!(trailers.len(), 2, "{trailers:?}");

            let resp = sender.send_request(get("/stream")).await.unwrap();
            let collected = resp.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert_eq!(collected.to_bytes(), "one two three");
            assert_eq!(trailers["grpc-status"], "0");
            assert!(trailers.get("te").is_none(), "{trailers:?}");

            let resp = sender.send_request(get("/arena?q1")).await.unwrap();
            let collected = resp.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert_eq!(trailers["x-query"], "q1");

            let resp = sender.send_request(get("/big")).await.unwrap();
            let collected = resp.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert_eq!(collected.to_bytes().len(), 100_000);
            assert_eq!(trailers["x-size"], "100000");

            let resp = sender.send_request(get("/empty")).await.unwrap();
            let collected = resp.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert!(collected.to_bytes().is_empty());
            assert_eq!(trailers["x-empty"], "yes");
        }
    });
    assert_eq!(h.stats().connections_accepted, 1);
    stop(h);
}

#[test]
fn trailers_are_dropped_for_http10_head_and_204() {
    let h = builder().start(TrailerRoutes).unwrap();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    // HTTP/1.0 cannot receive chunked: Content-Length, no trailers.
    s.write_all(b"GET /fields HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.header("trailer"), None);
    assert_eq!(r.body, b"hello");
    // HEAD: the head is the GET's minus the body framing; no trailers follow.
    s.write_all(b"HEAD /fields HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response_for(&mut s, &mut pending, true);
    assert_eq!(r.status, 200);
    // 204: no body, no trailers; the next response starts right after the head.
    s.write_all(
        b"GET /no-content HTTP/1.1\r\nHost: x\r\n\r\nGET /fields HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("transfer-encoding"), None);
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("trailer"), Some("x-checksum, x-count"));
    assert_eq!(
        r.trailers,
        [
            ("x-checksum".into(), "abc123".into()),
            ("x-count".into(), "2".into())
        ]
    );
    assert!(
        pending.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&pending)
    );
    stop(h);
}
