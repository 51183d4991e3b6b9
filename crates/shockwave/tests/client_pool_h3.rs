//! HTTP/3 through `client::Client`: `ClientBuilder::http3()` and per-request
//! `version(Version::HTTP_3)`, one QUIC connection per origin shared by concurrent
//! requests (counted on the server side), trailers, owned and arena APIs. Peers: the
//! `h3` crate server and the shockwave HTTP/3 server.

// HTTP/3 needs the `http3` feature.
#![cfg(feature = "http3")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, Bytes};
use http::Version;
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client};
use shockwave::http3::{quic_server_config, Http3Config};
use shockwave::server::tls;

const DEADLINE: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("test timed out")
}

fn root(cert: &tls::SelfSigned) -> rustls_pki_types::CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap()
}

/// An `h3` + `h3-quinn` server counting QUIC connections. `/gate/..` requests wait
/// until `gate` of them are in flight; `/echo` echoes the body and ends with a trailer
/// section; anything else answers `path <path>`.
fn h3_server(cert: &tls::SelfSigned, gate: usize) -> (quinn::Endpoint, Arc<AtomicUsize>) {
    let config = quic_server_config(&cert.config, &Http3Config::default()).unwrap();
    let ep = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(gate.max(1)));
    let (accept, acc) = (ep.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Some(incoming) = accept.accept().await {
            acc.fetch_add(1, Ordering::SeqCst);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                let Ok(mut h3c) =
                    h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn)).await
                else {
                    return;
                };
                while let Ok(Some(resolver)) = h3c.accept().await {
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        let Ok((req, mut stream)) = resolver.resolve_request().await else {
                            return;
                        };
                        let mut body = Vec::new();
                        while let Ok(Some(mut c)) = stream.recv_data().await {
                            while c.has_remaining() {
                                let n = c.chunk().len();
                                body.extend_from_slice(c.chunk());
                                c.advance(n);
                            }
                        }
                        let path = req.uri().path().to_owned();
                        if path.starts_with("/gate/") {
                            barrier.wait().await;
                        }
                        let out = if path == "/echo" {
                            body
                        } else {
                            format!("path {path}").into_bytes()
                        };
                        let mut resp = http::Response::builder().header("x-path", &path);
                        if let Some(v) = req.headers().get("x-test") {
                            resp = resp.header("x-test", v);
                        }
                        let _ = stream.send_response(resp.body(()).unwrap()).await;
                        let _ = stream.send_data(Bytes::from(out)).await;
                        if path == "/echo" {
                            let mut t = http::HeaderMap::new();
                            t.insert("x-checksum", "h3sum".parse().unwrap());
                            let _ = stream.send_trailers(t).await;
                        }
                        let _ = stream.finish().await;
                    });
                }
            });
        }
    });
    (ep, accepted)
}

#[tokio::test]
async fn an_idle_http3_connection_leaves_the_pool_after_the_idle_timeout() {
    within(async {
        let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
        let (server, accepted) = h3_server(&cert, 1);
        let port = server.local_addr().unwrap().port();
        let client = Client::builder()
            .http3()
            .idle_timeout(Duration::from_millis(100))
            .add_root_certificate(root(&cert))
            .build()
            .unwrap();
        let url = format!("https://127.0.0.1:{port}/a");
        let get = || async { client.get(&url).send().await.unwrap().text().await.unwrap() };
        assert_eq!(get().await, "path /a");
        assert_eq!(get().await, "path /a");
        assert_eq!(client.http3_connections(&url), 1);
        assert_eq!(client.stats().http3_connections_opened, 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The next request sweeps the pool: the idle connection goes, a new one opens.
        assert_eq!(get().await, "path /a");
        let stats = client.stats();
        assert_eq!(stats.http3_connections_opened, 2);
        assert!(stats.connections_evicted >= 1, "{stats:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(client.http3_connections(&url), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http3_pool_multiplexes_over_one_quic_connection() {
    within(async {
        let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
        let (server, accepted) = h3_server(&cert, 50);
        let port = server.local_addr().unwrap().port();
        let client = Client::builder()
            .http3()
            .add_root_certificate(root(&cert))
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let c = client.clone();
            let url = format!("https://127.0.0.1:{port}/gate/{i}");
            tasks.push(tokio::spawn(async move {
                let r = c.get(url).send().await.unwrap();
                assert_eq!(r.version(), Version::HTTP_3);
                r.text().await.unwrap()
            }));
        }
        // The server answers only when all 50 are in flight at once.
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), format!("path /gate/{i}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(client.stats().http3_connections_opened, 1);

        // Owned API: trailers once the body is read.
        let payload = vec![b'q'; 200_000];
        let (body, trailers) = client
            .post(format!("https://127.0.0.1:{port}/echo"))
            .header("x-test", "owned")
            .body(payload.clone())
            .send()
            .await
            .unwrap()
            .bytes_and_trailers()
            .await
            .unwrap();
        assert_eq!(&body[..], &payload[..]);
        assert_eq!(trailers.unwrap()["x-checksum"], "h3sum");

        // Arena API, mixed-case header name (lowercased for HTTP/3).
        let arena = Arena::new();
        let url = format!("https://127.0.0.1:{port}/echo");
        let headers: &[(&[u8], &[u8])] = &[(b"X-Test", b"arena")];
        let r = client
            .send_in(&arena, ArenaRequest::post(&url, b"ping").headers(headers))
            .await
            .unwrap();
        assert_eq!(r.version(), Version::HTTP_3);
        assert_eq!(r.status(), 200);
        assert_eq!(r.header(b"x-test"), Some(&b"arena"[..]));
        assert_eq!(r.body(), b"ping");
        assert_eq!(
            r.trailers().and_then(|t| t.get(b"x-checksum")),
            Some(&b"h3sum"[..])
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        server.close(0u32.into(), b"");
    })
    .await;
}

#[tokio::test]
async fn per_request_http3_against_the_shockwave_server() {
    use shockwave::server::{handler_fn, Response, Server};
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |cx| {
            Response::text(if cx.path() == "/arena" {
                "h3 arena"
            } else {
                "h3"
            })
        }))
        .unwrap();
    let addr = server.h3_local_addrs()[0];
    within(async {
        // A default client (HTTP/1.1 + h2 ALPN) asked for HTTP/3 per request.
        let client = Client::builder()
            .add_root_certificate(root(&cert))
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let c = client.clone();
            let url = format!("https://127.0.0.1:{}/n{i}", addr.port());
            tasks.push(tokio::spawn(async move {
                let r = c.get(url).version(Version::HTTP_3).send().await.unwrap();
                assert_eq!(r.version(), Version::HTTP_3);
                assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
                r.text().await.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), "h3");
        }
        let arena = Arena::new();
        let url = format!("https://127.0.0.1:{}/arena", addr.port());
        let r = client
            .send_in(&arena, ArenaRequest::get(&url).version(Version::HTTP_3))
            .await
            .unwrap();
        assert_eq!(r.text().unwrap(), "h3 arena");
        assert_eq!(r.version(), Version::HTTP_3);
        assert_eq!(client.stats().http3_connections_opened, 1);
        // HTTP/3 needs https.
        let err = client
            .get(format!("http://127.0.0.1:{}/", addr.port()))
            .version(Version::HTTP_3)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, shockwave::client::Error::InvalidUrl { .. }),
            "{err:?}"
        );
    })
    .await;
    server.stop().unwrap();
}

/// Trailer fields of the shockwave server's `/trailers` route.
const SERVER_TRAILERS: &[(&[u8], &[u8])] = &[(b"x-checksum", b"sw123"), (b"grpc-status", b"0")];

#[test]
fn trailers_from_the_shockwave_server_over_http1_http2_and_http3() {
    use shockwave::server::{handler_fn, Response, Server};
    let routes = || {
        handler_fn(async |cx| match cx.path() {
            "/trailers" => Response::text("with trailers").trailers(SERVER_TRAILERS),
            _ => Response::text("plain"),
        })
    };
    let cert = tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let tcp = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(routes())
        .unwrap();
    let quic = Server::builder()
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .start(routes())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(within(async {
        let h1 = Client::new();
        let h2 = Client::builder().http2_prior_knowledge().build().unwrap();
        let h3 = Client::builder()
            .http3()
            .add_root_certificate(root(&cert))
            .build()
            .unwrap();
        let plain = format!("http://{}/trailers", tcp.local_addr());
        let quic_url = format!(
            "https://127.0.0.1:{}/trailers",
            quic.h3_local_addrs()[0].port()
        );
        for (client, url, version) in [
            (&h1, &plain, Version::HTTP_11),
            (&h2, &plain, Version::HTTP_2),
            (&h3, &quic_url, Version::HTTP_3),
        ] {
            let resp = client.get(url).send().await.unwrap();
            assert_eq!(resp.version(), version);
            let (body, t) = resp.bytes_and_trailers().await.unwrap();
            assert_eq!(&body[..], b"with trailers", "{version:?}");
            let t = t.unwrap_or_else(|| panic!("no trailers over {version:?}"));
            assert_eq!(t["x-checksum"], "sw123", "{version:?}");
            assert_eq!(t["grpc-status"], "0", "{version:?}");

            let arena = Arena::new();
            let r = client
                .send_in(&arena, ArenaRequest::get(url))
                .await
                .unwrap();
            assert_eq!((r.version(), r.body()), (version, &b"with trailers"[..]));
            let t = r.trailers().unwrap_or_else(|| panic!("arena, {version:?}"));
            assert_eq!(t.get(b"x-checksum"), Some(&b"sw123"[..]), "{version:?}");
            assert_eq!(t.len(), 2, "{version:?}");
        }
    }));
    tcp.stop().unwrap();
    quic.stop().unwrap();
}
