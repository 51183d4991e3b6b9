//! Interop over loopback UDP: our HTTP/3 server with the `h3` crate's client and with
//! aioquic's (python) client. Each checks status, headers and 1 MiB+ bodies byte for
//! byte, both ways.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

mod server_util;

use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::{Buf as _, Bytes};
use server_util::require_python_modules;
use shockwave::http3::{quic_client_config, Http3Config};
use shockwave::server::{handler_fn, tls, Response, Server, ServerHandle};

const BIG: usize = 1024 * 1024 + 12_345;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn big_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| pattern(BIG))
}

fn start_server() -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handler = handler_fn(async |mut cx| match cx.path() {
        "/big" => Response::ok()
            .header("content-type", "application/octet-stream")
            .header("x-test", "big")
            .body(big_body()),
        "/echo" => {
            let method = cx.method().as_str().to_owned();
            let arena = cx.arena();
            match cx.body().to_arena().await {
                Ok(body) => {
                    let len = arena.alloc_str(&body.len().to_string()).unwrap();
                    let m = arena.alloc_str(&method).unwrap();
                    Response::ok()
                        .header("x-echo-len", &*len)
                        .header("x-method", &*m)
                        .body(body)
                }
                Err(e) => Response::new(e.status()),
            }
        }
        "/stream" => Response::ok()
            .header("x-test", "stream")
            .stream(futures_util::stream::iter(
                (0..4).map(|i| Ok(Bytes::from(pattern(300_000 + i)))),
            )),
        "/panic" => panic!("handler panic on purpose"),
        _ => Response::status_code(404),
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

struct H3Response {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

async fn h3_request(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    method: http::Method,
    path: &str,
    body: Option<Vec<u8>>,
    trailers: bool,
) -> H3Response {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let mut stream = send.send_request(req).await.unwrap();
    if let Some(body) = body {
        for piece in body.chunks(100_000) {
            stream
                .send_data(Bytes::copy_from_slice(piece))
                .await
                .unwrap();
        }
    }
    if trailers {
        let mut t = http::HeaderMap::new();
        t.insert("x-checksum", "1234".parse().unwrap());
        stream.send_trailers(t).await.unwrap();
    }
    stream.finish().await.unwrap();
    let resp = stream.recv_response().await.unwrap();
    let mut out = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        while chunk.has_remaining() {
            let c = chunk.chunk();
            out.extend_from_slice(c);
            let n = c.len();
            chunk.advance(n);
        }
    }
    H3Response {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: out,
    }
}

async fn h3_connect(
    addr: SocketAddr,
    cert: &tls::SelfSigned,
) -> (
    quinn::Endpoint,
    h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    tokio::task::JoinHandle<()>,
) {
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(
        quic_client_config(&cert.client_config().unwrap(), &Http3Config::default()).unwrap(),
    );
    let conn = ep.connect(addr, "localhost").unwrap().await.unwrap();
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .unwrap();
    let drive = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    (ep, send, drive)
}

#[tokio::test]
async fn h3_client_get_post_stream_and_errors() {
    let (server, cert) = start_server();
    let (ep, mut send, drive) = h3_connect(server.local_addr(), &cert).await;

    let r = h3_request(&mut send, http::Method::GET, "/big", None, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-test"], "big");
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert_eq!(r.headers["content-length"], BIG.to_string().as_str());
    assert!(r.headers.contains_key("date"));
    assert!(r.body == big_body(), "GET body differs");

    let payload = pattern(BIG + 7);
    let r = h3_request(
        &mut send,
        http::Method::POST,
        "/echo",
        Some(payload.clone()),
        true,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-echo-len"], payload.len().to_string().as_str());
    assert_eq!(r.headers["x-method"], "POST");
    assert!(r.body == payload, "echoed body differs");

    let r = h3_request(&mut send, http::Method::GET, "/stream", None, false).await;
    assert_eq!(r.status, 200);
    assert!(!r.headers.contains_key("content-length"));
    let expected: Vec<u8> = (0..4).flat_map(|i| pattern(300_000 + i)).collect();
    assert!(r.body == expected, "streamed body differs");

    let r = h3_request(&mut send, http::Method::HEAD, "/big", None, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-length"], BIG.to_string().as_str());
    assert!(r.body.is_empty());

    let r = h3_request(&mut send, http::Method::GET, "/panic", None, false).await;
    assert_eq!(r.status, 500);
    let r = h3_request(&mut send, http::Method::GET, "/nope", None, false).await;
    assert_eq!(r.status, 404);

    // Concurrent streams on the one connection.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut s = send.clone();
        tasks.push(tokio::spawn(async move {
            let body = pattern(1000 + i);
            let r = h3_request(
                &mut s,
                http::Method::PUT,
                "/echo",
                Some(body.clone()),
                false,
            )
            .await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body, body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let stats = server.stats();
    assert_eq!(stats.handler_panics, 1);
    assert!(stats.requests >= 26, "{stats:?}");
    drop(send);
    drive.abort();
    ep.close(0u32.into(), b"done");
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn aioquic_client_get_and_post() {
    require_python_modules("aioquic", "pip install aioquic");
    let (server, cert) = start_server();
    let dir = std::env::temp_dir().join(format!("shockwave-h3-aioquic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert.cert_pem).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http3_aioquic_client.py");
    let port = server.local_addr().port().to_string();
    let run = |method: &str, path: &str, body_len: usize| {
        let out = dir.join(format!("body-{method}"));
        let o = std::process::Command::new("python3")
            .args([
                script,
                "127.0.0.1",
                &port,
                ca.to_str().unwrap(),
                method,
                path,
                &body_len.to_string(),
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "aioquic client failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (json, std::fs::read(out).unwrap())
    };
    let header = |json: &serde_json::Value, name: &str| -> Option<String> {
        json["headers"]
            .as_array()?
            .iter()
            .find(|h| h[0] == name)
            .map(|h| h[1].as_str().unwrap().to_owned())
    };

    let (json, body) = run("GET", "/big", 0);
    assert_eq!(json["status"], 200);
    assert_eq!(header(&json, "x-test").as_deref(), Some("big"));
    assert_eq!(header(&json, "content-length"), Some(BIG.to_string()));
    assert!(body == big_body(), "GET body differs");

    let n = BIG + 99;
    let (json, body) = run("POST", "/echo", n);
    assert_eq!(json["status"], 200);
    assert_eq!(header(&json, "x-echo-len"), Some(n.to_string()));
    assert!(body == pattern(n), "echoed body differs");

    let _ = std::fs::remove_dir_all(&dir);
    server.stop().unwrap();
}
