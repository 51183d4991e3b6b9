//! HTTP/2 in `client::Client`'s pool: h2c prior knowledge and ALPN `h2` over TLS, one
//! shared connection per origin for concurrent requests (counted on the server side),
//! REFUSED_STREAM and GOAWAY retries, response trailers (HTTP/1.1 chunked and HTTP/2),
//! and both the owned and the arena APIs. Peers: the `h2` crate server, hyper's servers,
//! the shockwave server, and a frame-level server for GOAWAY.

mod http2_support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Version;
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client, Error};
use shockwave::http2::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every test's deadline: a multiplexing bug would otherwise hang instead of failing.
const DEADLINE: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("test timed out")
}

fn h2c_client() -> Client {
    Client::builder().http2_prior_knowledge().build().unwrap()
}

/// State of the `h2` crate test server.
#[derive(Default)]
struct H2State {
    accepted: AtomicUsize,
    attempts: Mutex<HashMap<String, usize>>,
}

/// An `h2` crate server (cleartext, prior knowledge). Routes:
/// `/gate/N`: waits until `gate` requests are in flight at once, then answers;
/// `/trailers`: body then a trailer section; `/refuse-once/..`: REFUSED_STREAM on the
/// first attempt; `/refuse-always`: always REFUSED_STREAM; `/echo`: echoes the body and
/// the request's `x-test` header; anything else: `x-path`.
async fn h2_server(gate: usize) -> (SocketAddr, Arc<H2State>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(H2State::default());
    let barrier = Arc::new(tokio::sync::Barrier::new(gate.max(1)));
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            st.accepted.fetch_add(1, Ordering::SeqCst);
            let st = st.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    let st = st.clone();
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        let path = req.uri().path().to_string();
                        let attempt = {
                            let mut a = st.attempts.lock().unwrap();
                            let n = a.entry(path.clone()).or_default();
                            *n += 1;
                            *n
                        };
                        if path == "/refuse-always"
                            || (path.starts_with("/refuse-once") && attempt == 1)
                        {
                            respond.send_reset(h2::Reason::REFUSED_STREAM);
                            return;
                        }
                        if path.starts_with("/gate/") {
                            barrier.wait().await;
                        }
                        let x_test = req.headers().get("x-test").cloned();
                        let mut body = req.into_body();
                        let mut data = Vec::new();
                        while let Some(chunk) = body.data().await {
                            let chunk = chunk.unwrap();
                            let _ = body.flow_control().release_capacity(chunk.len());
                            data.extend_from_slice(&chunk);
                        }
                        let mut resp = http::Response::builder().header("x-path", &path);
                        if let Some(v) = x_test {
                            resp = resp.header("x-test", v);
                        }
                        let mut send = respond
                            .send_response(resp.body(()).unwrap(), false)
                            .unwrap();
                        let body = if path == "/echo" {
                            Bytes::from(data)
                        } else {
                            Bytes::from(format!("path {path}"))
                        };
                        send.send_data(body, false).unwrap();
                        if path == "/trailers" {
                            let mut t = http::HeaderMap::new();
                            t.insert("grpc-status", "0".parse().unwrap());
                            t.insert("x-checksum", "abc123".parse().unwrap());
                            send.send_trailers(t).unwrap();
                        } else {
                            send.send_data(Bytes::new(), true).unwrap();
                        }
                    });
                }
            });
        }
    });
    (addr, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_share_one_h2_connection() {
    within(async {
        let (addr, state) = h2_server(50).await;
        let client = h2c_client();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let c = client.clone();
            let url = format!("http://{addr}/gate/{i}");
            tasks.push(tokio::spawn(async move {
                let resp = c.get(url).send().await.unwrap();
                assert_eq!(resp.version(), Version::HTTP_2);
                let path = resp.headers()["x-path"].to_str().unwrap().to_owned();
                (path, resp.text().await.unwrap())
            }));
        }
        // The server only answers once all 50 are in flight at the same time: they can
        // only complete if they are multiplexed.
        for (i, t) in tasks.into_iter().enumerate() {
            let (path, body) = t.await.unwrap();
            assert_eq!(path, format!("/gate/{i}"));
            assert_eq!(body, format!("path /gate/{i}"));
        }
        assert_eq!(state.accepted.load(Ordering::SeqCst), 1);
        let stats = client.stats();
        assert_eq!(stats.http2_connections_opened, 1);
        assert_eq!(stats.connections_opened, 1);
        assert_eq!(client.http2_connections(&format!("http://{addr}/")), 1);
        // Later requests reuse it too.
        let r = client
            .get(format!("http://{addr}/again"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "path /again");
        assert_eq!(state.accepted.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test]
async fn h2_trailers_owned_and_arena_against_h2_crate_server() {
    within(async {
        let (addr, _state) = h2_server(1).await;
        let client = h2c_client();
        let url = format!("http://{addr}/trailers");
        // Owned, streaming: trailers appear once the body has ended.
        let mut resp = client.get(&url).send().await.unwrap();
        assert!(resp.trailers().is_none());
        let mut body = Vec::new();
        while let Some(piece) = resp.chunk().await.unwrap() {
            body.extend_from_slice(&piece);
        }
        assert_eq!(body, b"path /trailers");
        let t = resp.trailers().expect("trailers");
        assert_eq!(t["grpc-status"], "0");
        assert_eq!(t["x-checksum"], "abc123");
        // Owned, all at once.
        let (body, t) = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes_and_trailers()
            .await
            .unwrap();
        assert_eq!(&body[..], b"path /trailers");
        assert_eq!(t.unwrap()["x-checksum"], "abc123");
        // Arena.
        let arena = Arena::new();
        let resp = client
            .send_in(&arena, ArenaRequest::get(&url))
            .await
            .unwrap();
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(resp.header(b"x-path"), Some(&b"/trailers"[..]));
        assert_eq!(resp.body(), b"path /trailers");
        let t = resp.trailers().expect("arena trailers");
        assert_eq!(t.get(b"grpc-status"), Some(&b"0"[..]));
        assert_eq!(t.get(b"X-Checksum"), Some(&b"abc123"[..]));
        // No trailers on an ordinary response.
        let resp = client
            .send_in(&arena, ArenaRequest::get(&format!("http://{addr}/plain")))
            .await
            .unwrap();
        assert!(resp.trailers().is_none());
    })
    .await;
}

#[tokio::test]
async fn arena_api_over_h2_with_headers_and_body() {
    within(async {
        let (addr, state) = h2_server(1).await;
        let client = h2c_client();
        let url = format!("http://{addr}/echo");
        let payload = vec![b'p'; 300_000]; // larger than the default stream window
        let arena = Arena::new();
        for _ in 0..3 {
            let headers: &[(&[u8], &[u8])] = &[(b"X-Test", b"mixed case name")];
            let resp = client
                .send_in(&arena, ArenaRequest::post(&url, &payload).headers(headers))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.version(), Version::HTTP_2);
            assert_eq!(resp.reason(), "OK");
            assert_eq!(resp.header(b"x-test"), Some(&b"mixed case name"[..]));
            assert!(resp.headers().iter().all(|(n, _)| !n.starts_with(b":")));
            assert_eq!(resp.body(), &payload[..]);
        }
        assert_eq!(state.accepted.load(Ordering::SeqCst), 1);
        // Per-request version: HTTP/1.1 asked for on a prior-knowledge client goes to a
        // new (HTTP/1.1) connection, which this h2-only server cannot speak.
        let err = client
            .send_in(&arena, ArenaRequest::get(&url).version(Version::HTTP_11))
            .await
            .unwrap_err();
        assert!(err.is_protocol() || matches!(err, Error::Io(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn refused_streams_are_retried_once() {
    within(async {
        let (addr, state) = h2_server(1).await;
        let client = h2c_client();
        let resp = client
            .get(format!("http://{addr}/refuse-once/a"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "path /refuse-once/a");
        assert_eq!(client.stats().retries, 1);
        // A POST with an in-memory body is retried too: REFUSED_STREAM means unprocessed.
        let resp = client
            .post(format!("http://{addr}/refuse-once/post"))
            .body("data")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(client.stats().retries, 2);
        // Refused again: the error is returned after exactly one retry.
        let err = client
            .get(format!("http://{addr}/refuse-always"))
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Http2Reset(ErrorCode::RefusedStream)),
            "{err:?}"
        );
        assert_eq!(state.attempts.lock().unwrap()["/refuse-always"], 2);
        // The connection stayed usable throughout.
        assert_eq!(state.accepted.load(Ordering::SeqCst), 1);
    })
    .await;
}

/// A frame-level server: on its first connection it answers stream 1 once both stream
/// 1 and 3 have arrived, then sends GOAWAY(last_stream_id = 1) and closes; every later
/// connection answers each request with `retried`.
async fn goaway_server() -> (SocketAddr, Arc<AtomicUsize>) {
    use http2_support::{Client as Frames, F};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let index = acc.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut preface = [0u8; 24];
                if tcp.read_exact(&mut preface).await.is_err() {
                    return;
                }
                let mut f = Frames::new();
                f.settings(&[]).settings_ack();
                tcp.write_all(&f.take()).await.unwrap();
                let mut seen = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    for frame in f.parse(&buf[..n]) {
                        if let F::Headers { id, .. } = frame {
                            seen.push(id);
                            if index > 0 {
                                f.headers(id, &[(":status", "200")], false);
                                f.data(id, b"retried", true);
                            }
                        }
                    }
                    if index == 0 && seen.contains(&1) && seen.contains(&3) {
                        f.headers(1, &[(":status", "200")], false);
                        f.data(1, b"first", true);
                        f.goaway(1, ErrorCode::NoError);
                        tcp.write_all(&f.take()).await.unwrap();
                        // Keep the connection open a moment so the client reads it all.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return;
                    }
                    let out = f.take();
                    if !out.is_empty() {
                        tcp.write_all(&out).await.unwrap();
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn goaway_retries_streams_above_last_stream_id_on_a_new_connection() {
    within(async {
        let (addr, accepted) = goaway_server().await;
        let client = h2c_client();
        let a = client.get(format!("http://{addr}/a")).send();
        let b = client.get(format!("http://{addr}/b")).send();
        let (a, b) = tokio::join!(a, b);
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut bodies = [a.text().await.unwrap(), b.text().await.unwrap()];
        bodies.sort();
        assert_eq!(bodies, ["first", "retried"]);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        let stats = client.stats();
        assert_eq!(stats.retries, 1);
        assert_eq!(stats.http2_connections_opened, 2);
        // The GOAWAY'd connection is gone from the pool; new requests use the new one.
        let r = client.get(format!("http://{addr}/c")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "retried");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(client.http2_connections(&format!("http://{addr}/")), 1);
    })
    .await;
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// hyper's automatic HTTP/1.1 + HTTP/2 (prior knowledge) server; `/trailers` streams a
/// body followed by trailers (chunked in HTTP/1.1, HEADERS in HTTP/2).
async fn hyper_server() -> (SocketAddr, Arc<AtomicUsize>) {
    use http_body_util::{BodyExt as _, StreamBody};
    use hyper::body::Frame;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            acc.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let version = format!("{:?}", req.version());
                        let body: BoxBody = if req.uri().path() == "/trailers" {
                            let mut t = http::HeaderMap::new();
                            t.insert("x-checksum", "c0ffee".parse().unwrap());
                            t.insert("grpc-message", "all good".parse().unwrap());
                            let frames = vec![
                                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"part one, "))),
                                Ok(Frame::data(Bytes::from_static(b"part two"))),
                                Ok(Frame::trailers(t)),
                            ];
                            StreamBody::new(futures_util::stream::iter(frames)).boxed()
                        } else {
                            http_body_util::Full::new(Bytes::from(version)).boxed()
                        };
                        // hyper's HTTP/1.1 encoder sends only the trailers the
                        // `Trailer` header declares (RFC 9110 §6.6.2).
                        let mut resp = http::Response::new(body);
                        resp.headers_mut()
                            .insert("trailer", "x-checksum, grpc-message".parse().unwrap());
                        Ok::<_, Infallible>(resp)
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn trailers_from_hyper_over_http1_chunked_and_http2() {
    within(async {
        let (addr, accepted) = hyper_server().await;
        let url = format!("http://{addr}/trailers");
        for (client, version) in [
            (Client::new(), Version::HTTP_11),
            (h2c_client(), Version::HTTP_2),
        ] {
            // hyper sends HTTP/1.1 trailers only to clients that say `TE: trailers`.
            let resp = client
                .get(&url)
                .header("te", "trailers")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.version(), version);
            let (body, t) = resp.bytes_and_trailers().await.unwrap();
            assert_eq!(&body[..], b"part one, part two", "{version:?}");
            let t = t.unwrap_or_else(|| panic!("no trailers over {version:?}"));
            assert_eq!(t["x-checksum"], "c0ffee");
            assert_eq!(t["grpc-message"], "all good");

            let arena = Arena::new();
            let headers: &[(&[u8], &[u8])] = &[(b"te", b"trailers")];
            let resp = client
                .send_in(&arena, ArenaRequest::get(&url).headers(headers))
                .await
                .unwrap();
            assert_eq!(resp.version(), version);
            assert_eq!(resp.body(), b"part one, part two");
            let t = resp.trailers().expect("arena trailers");
            assert_eq!(t.get(b"x-checksum"), Some(&b"c0ffee"[..]));
            assert_eq!(t.get(b"grpc-message"), Some(&b"all good"[..]));

            // A plain response has none, and the connection was kept alive.
            let resp = client
                .get(format!("http://{addr}/plain"))
                .send()
                .await
                .unwrap();
            assert!(resp.bytes_and_trailers().await.unwrap().1.is_none());
        }
        // One HTTP/1.1 connection and one HTTP/2 connection.
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    })
    .await;
}

/// The shockwave server (h2c prior knowledge on the cleartext port, ALPN over TLS).
/// Sends `n` GETs of `url` at once (each its own task) and checks that every answer came
/// over `version` with the body `expected`.
async fn concurrent_gets(client: &Client, url: &str, n: usize, version: Version, expected: &str) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (c, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let r = c.get(url).send().await.unwrap();
                assert_eq!(r.version(), version);
                r.text().await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), expected);
    }
}

fn shockwave_server(tls: Option<Arc<rustls::ServerConfig>>) -> shockwave::server::ServerHandle {
    use shockwave::server::{handler_fn, Response, Server};
    let mut b = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false);
    if let Some(tls) = tls {
        b = b.bind_tls("127.0.0.1:0".parse().unwrap()).tls(tls);
    }
    b.start(handler_fn(async |cx| match cx.path() {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Response::text("slow")
        }
        _ => Response::text("Hello, World!"),
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shockwave_server_h2c_and_alpn_h2_share_one_connection() {
    within(async {
        let cert = shockwave::server::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
        let server = shockwave_server(Some(cert.config.clone()));
        let plain = server.local_addr();
        let tls_port = server.tls_local_addrs()[0].port();
        let client = Client::builder()
            .http2_prior_knowledge()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        for url in [
            format!("http://{plain}/slow"),
            format!("https://127.0.0.1:{tls_port}/slow"),
        ] {
            concurrent_gets(&client, &url, 50, Version::HTTP_2, "slow").await;
            let arena = Arena::new();
            let r = client
                .send_in(&arena, ArenaRequest::get(&url))
                .await
                .unwrap();
            assert_eq!((r.version(), r.text().unwrap()), (Version::HTTP_2, "slow"));
        }
        // One connection per origin (cleartext and TLS), counted by the server.
        assert_eq!(server.stats().connections_accepted, 2);
        assert_eq!(client.stats().http2_connections_opened, 2);
        server.stop().unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_falls_back_to_http1_when_the_server_has_no_h2() {
    within(async {
        let cert = shockwave::server::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
        let mut h1_only = (*cert.config).clone();
        h1_only.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server = shockwave_server(Some(Arc::new(h1_only)));
        let url = format!("https://127.0.0.1:{}/", server.tls_local_addrs()[0].port());
        let client = Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        concurrent_gets(&client, &url, 8, Version::HTTP_11, "Hello, World!").await;
        assert_eq!(client.stats().http2_connections_opened, 0);
        assert_eq!(client.http2_connections(&url), 0);
        // Sequential requests then reuse pooled HTTP/1.1 connections.
        let opened = client.stats().connections_opened;
        for _ in 0..3 {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.text().await.unwrap(), "Hello, World!");
        }
        assert_eq!(client.stats().connections_opened, opened);
        // With HTTP/2 disabled the client never offers it.
        let h2_server = shockwave_server(Some(cert.config.clone()));
        let url = format!(
            "https://127.0.0.1:{}/",
            h2_server.tls_local_addrs()[0].port()
        );
        let h1 = Client::builder()
            .http2(false)
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let r = h1.get(&url).send().await.unwrap();
        assert_eq!(r.version(), Version::HTTP_11);
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.version(), Version::HTTP_2);
        server.stop().unwrap();
        h2_server.stop().unwrap();
    })
    .await;
}
