//! Our HTTP/3 client against the `h3` crate's server over loopback UDP: status, headers,
//! 1 MiB+ bodies byte for byte (download and upload echo), trailers, owned and arena APIs,
//! through the pooled `Client` (HTTP/3 by default) and one of its HTTP/3 connections.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

use std::sync::Arc;

use bytes::{Buf as _, Bytes};
use http::Method;
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client, Http3Connection, Http3Request};
use shockwave::http3::{quic_server_config, Http3Config};
use shockwave::server::tls;

const BIG: usize = 1024 * 1024 + 4321;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// An `h3` + `h3-quinn` server: /big, /echo (with a trailer), 404 otherwise.
fn h3_server(cert: &tls::SelfSigned) -> quinn::Endpoint {
    let config = quic_server_config(&cert.config, &Http3Config::default()).unwrap();
    let ep = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let accept = ep.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accept.accept().await {
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                let mut h3c =
                    h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn))
                        .await
                        .unwrap();
                while let Ok(Some(resolver)) = h3c.accept().await {
                    tokio::spawn(async move {
                        let (req, mut stream) = resolver.resolve_request().await.unwrap();
                        let mut body = Vec::new();
                        while let Some(mut c) = stream.recv_data().await.unwrap() {
                            while c.has_remaining() {
                                let n = c.chunk().len();
                                body.extend_from_slice(c.chunk());
                                c.advance(n);
                            }
                        }
                        let (status, out) = match req.uri().path() {
                            "/big" => (200, pattern(BIG)),
                            "/echo" => (200, body),
                            _ => (404, Vec::new()),
                        };
                        let resp = http::Response::builder()
                            .status(status)
                            .header("x-server", "h3")
                            .header("x-method", req.method().as_str())
                            .header("content-length", out.len())
                            .body(())
                            .unwrap();
                        stream.send_response(resp).await.unwrap();
                        if !out.is_empty() {
                            stream.send_data(Bytes::from(out)).await.unwrap();
                        }
                        if req.uri().path() == "/echo" {
                            let mut t = http::HeaderMap::new();
                            t.insert("x-trailer", "done".parse().unwrap());
                            stream.send_trailers(t).await.unwrap();
                        }
                        stream.finish().await.unwrap();
                    });
                }
            });
        }
    });
    ep
}

/// The pooled client, HTTP/3 by default, trusting `cert`.
fn h3_client(cert: &tls::SelfSigned) -> Client {
    Client::builder()
        .http3()
        .tls_config(Arc::new(cert.client_config().unwrap()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn our_client_against_h3_server() {
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = h3_server(&cert);
    let port = server.local_addr().unwrap().port();
    let client = h3_client(&cert);

    // Owned API.
    let r = client
        .get(format!("https://127.0.0.1:{port}/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), http::Version::HTTP_3);
    assert_eq!(r.headers()["x-server"], "h3");
    assert_eq!(r.headers()["content-length"], BIG.to_string().as_str());
    assert!(r.bytes().await.unwrap() == pattern(BIG), "GET body differs");

    // Arena API: upload echo with trailers.
    let payload = pattern(BIG + 3);
    let arena = Arena::new();
    let url = format!("https://127.0.0.1:{port}/echo");
    let fields: [(&[u8], &[u8]); 1] = [(b"x-client", b"shockwave")];
    let r = client
        .send_in(&arena, ArenaRequest::post(&url, &payload).headers(&fields))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header(b"x-method"), Some(&b"POST"[..]));
    assert!(r.body() == payload, "echoed body differs");
    assert_eq!(
        r.trailers().and_then(|t| t.get(b"x-trailer")),
        Some(&b"done"[..])
    );

    let r = client
        .get(format!("https://127.0.0.1:{port}/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.bytes().await.unwrap().is_empty());

    // One pooled connection served everything; concurrent requests share it.
    let conn: Http3Connection = client
        .http3_connection(&format!("https://127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(client.stats().http3_connections_opened, 1);
    assert_eq!(client.http3_connections(&url), 1);
    assert!(conn.peer_settings().is_some());

    // Streaming API: the body piece by piece, byte for byte; trailers at the end.
    let authority = format!("127.0.0.1:{port}");
    let get = |path| Http3Request {
        method: &Method::GET,
        authority: &authority,
        path,
        headers: &[],
        body: &[],
    };
    let mut r = conn.send_streaming(get("/big")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-server"], "h3");
    let mut got = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = r.body.chunk().await.unwrap() {
        assert!(!piece.is_empty());
        got.extend_from_slice(&piece);
        pieces += 1;
    }
    assert!(got == pattern(BIG), "streamed body differs");
    assert!(pieces > 1, "a 1 MiB body arrives in several pieces");
    assert_eq!(r.body.received(), BIG as u64);
    assert!(r.body.trailers().is_none());
    assert!(r.body.chunk().await.unwrap().is_none(), "stays at the end");
    let payload = pattern(5000);
    let mut r = conn
        .send_streaming(Http3Request {
            method: &Method::POST,
            authority: &authority,
            path: "/echo",
            headers: &[],
            body: &payload,
        })
        .await
        .unwrap();
    assert_eq!(r.body.collect().await.unwrap(), payload);
    assert_eq!(r.body.trailers().unwrap()["x-trailer"], "done");
    // Dropping a body half read cancels that stream only.
    let mut r = conn.send_streaming(get("/big")).await.unwrap();
    assert!(r.body.chunk().await.unwrap().is_some());
    drop(r);
    let r = conn.send(get("/big")).await.unwrap();
    assert!(r.body == pattern(BIG), "GET after a cancelled stream");
    let mut tasks = Vec::new();
    for i in 0..16usize {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let body = pattern(10_000 + i);
            let authority = format!("127.0.0.1:{port}");
            let r = conn
                .send(Http3Request {
                    method: &Method::PUT,
                    authority: &authority,
                    path: "/echo",
                    headers: &[],
                    body: &body,
                })
                .await
                .unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.body, body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(client.stats().http3_connections_opened, 1);
    drop((conn, client));
    server.close(0u32.into(), b"");
}

#[test]
fn shockwave_server_over_http3() {
    use shockwave::server::{handler_fn, Response, Server};
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |cx| {
            Response::text(if cx.query() == Some("q=1") {
                "one"
            } else {
                "other"
            })
        }))
        .unwrap();
    let addr = server.h3_local_addrs()[0];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = h3_client(&cert);
        let r = client
            .get(format!("https://127.0.0.1:{}/x?q=1", addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(&r.bytes().await.unwrap()[..], b"one");
    });
    server.stop().unwrap();
}

/// RFC 9114 §5.2: after the server's GOAWAY (a graceful shutdown with a request in
/// flight), the connection is no longer usable and a new request on it is not sent
/// (it fails as never processed), while the in-flight request completes.
#[test]
fn goaway_stops_new_requests_and_lets_the_in_flight_one_finish() {
    use shockwave::server::{handler_fn, Response, Server};
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let (e, r) = (entered.clone(), release.clone());
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async move |cx| {
            if cx.path() == "/wait" {
                e.notify_one();
                r.notified().await;
            }
            Response::text("done")
        }))
        .unwrap();
    let port = server.h3_local_addrs()[0].port();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(20), async {
            let client = h3_client(&cert);
            let conn = client
                .http3_connection(&format!("https://127.0.0.1:{port}/"))
                .await
                .unwrap();
            let c = conn.clone();
            let in_flight = tokio::spawn(async move {
                c.send(Http3Request {
                    method: &Method::GET,
                    authority: "127.0.0.1",
                    path: "/wait",
                    headers: &[],
                    body: &[],
                })
                .await
            });
            entered.notified().await;
            assert!(conn.is_usable());
            server.shutdown();
            while conn.is_usable() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            // Draining, not closed: the in-flight request keeps it open.
            assert!(conn.quic().close_reason().is_none());
            let err = conn
                .send(Http3Request {
                    method: &Method::GET,
                    authority: "127.0.0.1",
                    path: "/late",
                    headers: &[],
                    body: &[],
                })
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    shockwave::client::Error::ConnectionClosed(
                        shockwave::client::ClosedDuring::BeforeResponse
                    )
                ),
                "{err:?}"
            );
            release.notify_one();
            let r = in_flight.await.unwrap().unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(&r.body[..], b"done");
            // The server finishes once its last response is acknowledged: keep this
            // runtime (the client's endpoint) running meanwhile.
            let started = std::time::Instant::now();
            tokio::task::spawn_blocking(move || server.wait())
                .await
                .unwrap()
                .unwrap();
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        })
        .await
        .expect("test timed out");
    });
}
