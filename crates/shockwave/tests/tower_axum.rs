//! A real axum 0.8 `Router` served unchanged by `from_tower` over HTTP/1.1, h2c, HTTP/2
//! over TLS and HTTP/3: path parameters, `Json`, `State`, tower-http's `TraceLayer` and
//! `CompressionLayer`, `ConnectInfo<SocketAddr>`, the request authority and `host`, a
//! server-sent-events route whose first event reaches the client before the second is
//! produced, a request body the service reads while the client is still sending it,
//! response trailers, and a `BoxCloneService` (not `Sync`).
//!
//! The peers are hyper (HTTP/1.1), h2 and h3 clients, as in `cross_protocol.rs`: they give
//! frame-by-frame control over both bodies.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::{Buf as _, Bytes};
use http_body::Frame;
use http_body_util::BodyExt as _;
use shockwave::http3::{quic_client_config, Http3Config};
use shockwave::server::{from_tower, tls, RemoteAddr, Server, ServerHandle, TowerBody};
use tokio::sync::Semaphore;
use tokio::time::timeout;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    H2c,
    H2Tls,
    Http3,
}

const ALL: [Proto; 4] = [Proto::Http1, Proto::H2c, Proto::H2Tls, Proto::Http3];

/// The app's state: gates the test opens, and a count of responses TraceLayer saw.
#[derive(Clone)]
struct AppState {
    name: &'static str,
    /// The SSE route produces its second event only after a permit here.
    sse_gate: Arc<Semaphore>,
    /// The upload route adds a permit when the first body chunk arrived.
    upload_first: Arc<Semaphore>,
    traced: Arc<AtomicUsize>,
}

fn app(state: AppState) -> Router {
    let traced = state.traced.clone();
    Router::new()
        .route(
            "/users/{id}",
            get(
                |Path(id): Path<u32>, State(s): State<AppState>| async move {
                    Json(serde_json::json!({ "id": id, "app": s.name }))
                },
            ),
        )
        .route(
            "/json",
            post(|Json(mut v): Json<serde_json::Value>| async move {
                v["seen"] = true.into();
                Json(v)
            }),
        )
        .route(
            "/ip",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>, req: axum::extract::Request| async move {
                let ours = req.extensions().get::<RemoteAddr>().map(|r| r.0);
                assert_eq!(ours, Some(addr));
                addr.ip().to_string()
            }),
        )
        .route(
            "/host",
            get(|req: axum::extract::Request| async move {
                let host = req.headers().get("host").map(|h| h.to_str().unwrap().to_owned());
                format!(
                    "{}|{}|{}",
                    req.uri().scheme_str().unwrap_or("-"),
                    req.uri().authority().map(|a| a.as_str()).unwrap_or("-"),
                    host.as_deref().unwrap_or("-"),
                )
            }),
        )
        .route(
            "/big",
            get(|| async { "compress me please ".repeat(500) }),
        )
        .route(
            "/sse",
            get(|State(s): State<AppState>| async move {
                let gate = s.sse_gate.clone();
                let events = async_stream_events(gate);
                Sse::new(events)
            }),
        )
        .route(
            "/upload",
            post(|State(s): State<AppState>, req: axum::extract::Request| async move {
                let mut body = req.into_body();
                let (mut frames, mut bytes) = (0, 0);
                while let Some(frame) = body.frame().await {
                    let frame = frame.unwrap();
                    if let Some(d) = frame.data_ref() {
                        if frames == 0 {
                            s.upload_first.add_permits(1);
                        }
                        frames += 1;
                        bytes += d.len();
                    }
                }
                format!("bytes={bytes} streamed={}", frames >= 2)
            }),
        )
        .route(
            "/trailers",
            get(|| async {
                let mut t = http::HeaderMap::new();
                t.insert("x-checksum", "42".parse().unwrap());
                let frames = futures_util::stream::iter([
                    Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"data"))),
                    Ok(Frame::trailers(t)),
                ]);
                axum::body::Body::new(http_body_util::StreamBody::new(frames))
            }),
        )
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http().on_response(
            move |_: &http::Response<_>, _: Duration, _: &tracing::Span| {
                traced.fetch_add(1, Ordering::Relaxed);
            },
        ))
        .with_state(state)
}

/// Event "one", then (after a permit on `gate`) event "two".
fn async_stream_events(
    gate: Arc<Semaphore>,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(0u8, move |n| {
        let gate = gate.clone();
        async move {
            match n {
                0 => Some((Ok(Event::default().data("one")), 1)),
                1 => {
                    gate.acquire().await.unwrap().forget();
                    Some((Ok(Event::default().data("two")), 2))
                }
                _ => None,
            }
        }
    })
}

fn serve<H: shockwave::server::Handler>(handler: H) -> (ServerHandle, tls::SelfSigned) {
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .build()
        .start(handler)
        .unwrap();
    (handle, cert)
}

/// One client connection of any protocol.
enum Conn {
    Http1(SocketAddr),
    H2(h2::client::SendRequest<Bytes>, &'static str),
    Http3(
        h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
        // keeps the QUIC endpoint alive
        #[allow(dead_code)] quinn::Endpoint,
    ),
}

async fn connect(proto: Proto, h: &ServerHandle, cert: &tls::SelfSigned) -> Conn {
    match proto {
        Proto::Http1 => Conn::Http1(h.local_addrs()[0]),
        Proto::H2c => {
            let tcp = tokio::net::TcpStream::connect(h.local_addrs()[0])
                .await
                .unwrap();
            let (send, conn) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Conn::H2(send, "http")
        }
        Proto::H2Tls => {
            let mut config = cert.client_config().unwrap();
            config.alpn_protocols = vec![b"h2".to_vec()];
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let tcp = tokio::net::TcpStream::connect(h.tls_local_addrs()[0])
                .await
                .unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await.unwrap();
            let (send, conn) = h2::client::handshake(tls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Conn::H2(send, "https")
        }
        Proto::Http3 => {
            let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
            ep.set_default_client_config(
                quic_client_config(&cert.client_config().unwrap(), &Http3Config::default())
                    .unwrap(),
            );
            let conn = ep
                .connect(h.h3_local_addrs()[0], "localhost")
                .unwrap()
                .await
                .unwrap();
            let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
            });
            Conn::Http3(send, ep)
        }
    }
}

/// The sending half of a request body the test writes piece by piece.
enum Upload {
    H1(tokio::sync::mpsc::Sender<Bytes>),
    H2(h2::SendStream<Bytes>),
    H3(Box<h3::client::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>>),
    None,
}

impl Upload {
    async fn send(&mut self, data: &'static [u8], last: bool) {
        match self {
            Upload::H1(tx) => {
                tx.send(Bytes::from_static(data)).await.unwrap();
                if last {
                    *self = Upload::None;
                }
            }
            Upload::H2(s) => s.send_data(Bytes::from_static(data), last).unwrap(),
            Upload::H3(s) => {
                s.send_data(Bytes::from_static(data)).await.unwrap();
                if last {
                    s.finish().await.unwrap();
                }
            }
            Upload::None => unreachable!(),
        }
    }

    /// Ends the body with trailer fields (HTTP/2 and HTTP/3).
    async fn trailers(&mut self, map: http::HeaderMap) {
        match self {
            Upload::H2(s) => s.send_trailers(map).unwrap(),
            Upload::H3(s) => {
                s.send_trailers(map).await.unwrap();
                s.finish().await.unwrap();
            }
            _ => unreachable!(),
        }
    }
}

/// The receiving half of a response, read chunk by chunk.
enum Download {
    H1(hyper::body::Incoming),
    H2(h2::RecvStream),
    H3(Box<h3::client::RequestStream<h3_quinn::RecvStream, Bytes>>),
}

impl Download {
    /// The next data chunk; `None` at the end.
    async fn chunk(&mut self) -> Option<Bytes> {
        match self {
            Download::H1(b) => loop {
                let frame = b.frame().await?.unwrap();
                if let Ok(d) = frame.into_data() {
                    return Some(d);
                }
            },
            Download::H2(b) => {
                let c = b.data().await?.unwrap();
                let _ = b.flow_control().release_capacity(c.len());
                Some(c)
            }
            Download::H3(s) => {
                let mut c = s.recv_data().await.unwrap()?;
                Some(c.copy_to_bytes(c.remaining()))
            }
        }
    }

    /// The rest of the body, then the trailer fields.
    async fn rest(mut self) -> (Vec<u8>, Option<http::HeaderMap>) {
        let mut out = Vec::new();
        match &mut self {
            Download::H1(b) => {
                let mut trailers = None;
                while let Some(frame) = b.frame().await {
                    match frame.unwrap().into_data() {
                        Ok(d) => out.extend_from_slice(&d),
                        Err(f) => trailers = f.into_trailers().ok(),
                    }
                }
                return (out, trailers);
            }
            _ => {
                while let Some(c) = self.chunk().await {
                    out.extend_from_slice(&c);
                }
            }
        }
        let trailers = match &mut self {
            Download::H2(b) => b.trailers().await.unwrap(),
            Download::H3(s) => s.recv_trailers().await.unwrap(),
            Download::H1(_) => unreachable!(),
        };
        (out, trailers)
    }
}

/// Starts a request; with `upload`, the body is sent through the returned [`Upload`].
async fn start_request(
    conn: &mut Conn,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&'static [u8]>,
    upload: bool,
) -> (
    Upload,
    impl std::future::Future<Output = (http::response::Parts, Download)>,
) {
    let no_body = body.is_none() && !upload;
    let fut: std::pin::Pin<
        Box<dyn std::future::Future<Output = (http::response::Parts, Download)> + Send>,
    >;
    let up;
    match conn {
        Conn::Http1(addr) => {
            let tcp = tokio::net::TcpStream::connect(*addr).await.unwrap();
            let (mut send, c) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(async move {
                let _ = c.await;
            });
            let mut b = http::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "localhost")
                .header("te", "trailers");
            for (n, v) in headers {
                b = b.header(*n, *v);
            }
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|d| (Ok::<_, Infallible>(Frame::data(d)), rx))
            });
            let req = if upload {
                up = Upload::H1(tx);
                b.body(http_body_util::StreamBody::new(stream).boxed())
                    .unwrap()
            } else {
                up = Upload::None;
                b.body(
                    http_body_util::Full::new(Bytes::from_static(body.unwrap_or_default())).boxed(),
                )
                .unwrap()
            };
            let resp = send.send_request(req);
            fut = Box::pin(async move {
                let resp = resp.await.unwrap();
                let _keep = send;
                let (parts, body) = resp.into_parts();
                (parts, Download::H1(body))
            });
        }
        Conn::H2(send, scheme) => {
            let mut b = http::Request::builder()
                .method(method)
                .uri(format!("{scheme}://localhost{path}"));
            for (n, v) in headers {
                b = b.header(*n, *v);
            }
            let mut s = send.clone().ready().await.unwrap();
            let (resp, mut stream) = s.send_request(b.body(()).unwrap(), no_body).unwrap();
            if let Some(data) = body {
                stream.send_data(Bytes::from_static(data), true).unwrap();
            }
            up = if upload {
                Upload::H2(stream)
            } else {
                Upload::None
            };
            fut = Box::pin(async move {
                let (parts, body) = resp.await.unwrap().into_parts();
                (parts, Download::H2(body))
            });
        }
        Conn::Http3(send, _) => {
            let mut b = http::Request::builder()
                .method(method)
                .uri(format!("https://localhost{path}"));
            for (n, v) in headers {
                b = b.header(*n, *v);
            }
            let mut stream = send.send_request(b.body(()).unwrap()).await.unwrap();
            if let Some(data) = body {
                stream.send_data(Bytes::from_static(data)).await.unwrap();
            }
            if !upload {
                // A complete response may come before our FIN, with STOP_SENDING
                // (H3_NO_ERROR, RFC 9114 §4.1.1): the FIN then fails, harmlessly.
                let _ = stream.finish().await;
            }
            let (tx, mut rx) = stream.split();
            up = if upload {
                Upload::H3(Box::new(tx))
            } else {
                Upload::None
            };
            fut = Box::pin(async move {
                let resp = rx.recv_response().await.unwrap();
                let (parts, ()) = resp.into_parts();
                (parts, Download::H3(Box::new(rx)))
            });
        }
    }
    (up, fut)
}

async fn fetch(
    conn: &mut Conn,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&'static [u8]>,
) -> (http::response::Parts, Vec<u8>, Option<http::HeaderMap>) {
    let exchange = async {
        let (_, resp) = start_request(conn, method, path, headers, body, false).await;
        let (parts, download) = resp.await;
        let (body, trailers) = download.rest().await;
        (parts, body, trailers)
    };
    timeout(LIMIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no complete response"))
}

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axum_router_runs_unchanged_on_every_protocol() {
    let state = AppState {
        name: "shockwave",
        sse_gate: Arc::new(Semaphore::new(0)),
        upload_first: Arc::new(Semaphore::new(0)),
        traced: Arc::new(AtomicUsize::new(0)),
    };
    let (handle, cert) = serve(from_tower(app(state.clone())));
    for proto in ALL {
        let mut conn = connect(proto, &handle, &cert).await;
        let traced_before = state.traced.load(Ordering::Relaxed);

        // Path parameters, State and Json.
        let (parts, body, _) = fetch(&mut conn, "GET", "/users/7", &[], None).await;
        assert_eq!(parts.status, 200, "{proto:?}");
        assert_eq!(
            parts.headers["content-type"], "application/json",
            "{proto:?}"
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": 7, "app": "shockwave"}),
            "{proto:?}"
        );
        assert_eq!(
            parts.headers["content-length"], "26",
            "{proto:?}: an exact size hint gives a content-length"
        );
        let (parts, body, _) = fetch(&mut conn, "HEAD", "/users/7", &[], None).await;
        assert_eq!(
            (
                parts.status.as_u16(),
                &parts.headers["content-length"],
                body.len()
            ),
            (200, &http::HeaderValue::from_static("26"), 0),
            "{proto:?}: HEAD has the GET response's content-length"
        );
        let (parts, _, _) = fetch(&mut conn, "GET", "/users/x", &[], None).await;
        assert_eq!(parts.status, 400, "{proto:?}: a bad path parameter");
        let (parts, _, _) = fetch(&mut conn, "GET", "/nope", &[], None).await;
        assert_eq!(parts.status, 404, "{proto:?}");

        // A Json request body.
        let (parts, body, _) = fetch(
            &mut conn,
            "POST",
            "/json",
            &[("content-type", "application/json")],
            Some(br#"{"a":1}"#),
        )
        .await;
        assert_eq!(parts.status, 200, "{proto:?}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "seen": true}), "{proto:?}");

        // ConnectInfo<SocketAddr> (the `axum` feature) and RemoteAddr.
        let (parts, body, _) = fetch(&mut conn, "GET", "/ip", &[], None).await;
        assert_eq!(parts.status, 200, "{proto:?}");
        assert_eq!(body, b"127.0.0.1", "{proto:?}");

        // Every request has an authority; HTTP/2 and HTTP/3 ones get a `host`.
        let (_, body, _) = fetch(&mut conn, "GET", "/host", &[], None).await;
        let scheme = if matches!(proto, Proto::Http1 | Proto::H2c) {
            "http"
        } else {
            "https"
        };
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!("{scheme}|localhost|localhost"),
            "{proto:?}"
        );

        // CompressionLayer.
        let (parts, body, _) = fetch(
            &mut conn,
            "GET",
            "/big",
            &[("accept-encoding", "gzip")],
            None,
        )
        .await;
        assert_eq!(parts.headers["content-encoding"], "gzip", "{proto:?}");
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{proto:?}: a gzip stream");
        assert!(body.len() < 9500 / 4, "{proto:?}: {} bytes", body.len());

        // Response trailers from the service's body.
        let (parts, body, trailers) = fetch(&mut conn, "GET", "/trailers", &[], None).await;
        assert_eq!(
            (parts.status.as_u16(), &body[..]),
            (200, &b"data"[..]),
            "{proto:?}"
        );
        assert_eq!(trailers.expect("trailers")["x-checksum"], "42", "{proto:?}");

        // SSE: the first event arrives before the second is produced.
        let (_, resp) = start_request(&mut conn, "GET", "/sse", &[], None, false).await;
        let (parts, mut download) = timeout(LIMIT, resp).await.expect("sse head");
        assert_eq!(
            parts.headers["content-type"], "text/event-stream",
            "{proto:?}"
        );
        assert!(
            !parts.headers.contains_key("content-length"),
            "{proto:?}: a streamed body has no content-length"
        );
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("data: one") {
            let chunk = timeout(LIMIT, download.chunk())
                .await
                .unwrap_or_else(|_| panic!("{proto:?}: event one was held back"))
                .expect("event one");
            seen.extend_from_slice(&chunk);
        }
        assert!(!String::from_utf8_lossy(&seen).contains("two"), "{proto:?}");
        state.sse_gate.add_permits(1);
        let (rest, _) = timeout(LIMIT, download.rest()).await.unwrap();
        seen.extend_from_slice(&rest);
        assert_eq!(
            String::from_utf8_lossy(&seen),
            "data: one\n\ndata: two\n\n",
            "{proto:?}"
        );

        // A request body the service reads while the client is still sending it.
        let (mut upload, resp) = start_request(&mut conn, "POST", "/upload", &[], None, true).await;
        let resp = tokio::spawn(resp);
        upload.send(b"first chunk ", false).await;
        timeout(LIMIT, state.upload_first.acquire())
            .await
            .unwrap_or_else(|_| panic!("{proto:?}: the first chunk did not reach the service"))
            .unwrap()
            .forget();
        upload.send(b"second chunk", true).await;
        let (parts, download) = timeout(LIMIT, resp).await.unwrap().unwrap();
        assert_eq!(parts.status, 200, "{proto:?}");
        let (body, _) = download.rest().await;
        assert_eq!(body, b"bytes=24 streamed=true", "{proto:?}");

        assert_eq!(
            state.traced.load(Ordering::Relaxed) - traced_before,
            11,
            "{proto:?}: TraceLayer saw every response"
        );
    }
    tokio::task::spawn_blocking(move || handle.stop())
        .await
        .unwrap()
        .unwrap();
}

#[derive(Clone)]
struct NotSync {
    _cell: std::cell::Cell<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_clone_service_is_served() {
    let not_sync = NotSync {
        _cell: std::cell::Cell::new(1),
    };
    let router: Router = Router::new()
        .route(
            "/hi/{name}",
            get(|Path(n): Path<String>| async move { format!("hi {n}") }),
        )
        .route("/echo", post(|body: Bytes| async move { body }));
    let service = tower::ServiceBuilder::new()
        .map_request(move |req: http::Request<TowerBody>| {
            let _ = &not_sync; // a !Sync service, as BoxCloneService is
            req
        })
        .service(router);
    let boxed: tower::util::BoxCloneService<
        http::Request<TowerBody>,
        http::Response<axum::body::Body>,
        Infallible,
    > = tower::util::BoxCloneService::new(service);
    let (handle, cert) = serve(from_tower(boxed));
    for proto in [Proto::Http1, Proto::H2c, Proto::Http3] {
        let mut conn = connect(proto, &handle, &cert).await;
        let (parts, body, _) = fetch(&mut conn, "GET", "/hi/you", &[], None).await;
        assert_eq!(
            (parts.status.as_u16(), &body[..]),
            (200, &b"hi you"[..]),
            "{proto:?}"
        );
        let (parts, body, _) = fetch(&mut conn, "POST", "/echo", &[], Some(b"0123456789")).await;
        assert_eq!(
            (parts.status.as_u16(), &body[..]),
            (200, &b"0123456789"[..]),
            "{proto:?}"
        );
    }
    tokio::task::spawn_blocking(move || handle.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_stream_back_carry_trailers_and_keep_the_limit() {
    let router: Router = Router::new()
        // The response body is the request body: the head goes out while the service
        // still holds an unfinished request body.
        .route(
            "/echo",
            post(
                |req: axum::extract::Request| async move { axum::body::Body::new(req.into_body()) },
            ),
        )
        .route(
            "/trailers",
            post(|req: axum::extract::Request| async move {
                let collected = req.into_body().collect().await.unwrap();
                let t = collected.trailers().cloned().unwrap_or_default();
                let bytes = collected.to_bytes().len();
                format!(
                    "{bytes} {}",
                    t.get("x-req-sum")
                        .map(|v| v.to_str().unwrap())
                        .unwrap_or("-")
                )
            }),
        )
        .route(
            "/bytes",
            post(|body: Bytes| async move { body.len().to_string() }),
        );
    let cert = tls::self_signed(&["localhost"]).unwrap();
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_h3("127.0.0.1:0".parse().unwrap())
        .tls(cert.config.clone())
        .workers(1)
        .max_body_size(64 * 1024)
        .handle_signals(false)
        .build()
        .start(from_tower(router))
        .unwrap();
    let big: &'static [u8] = (0..40_000u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .leak();
    let too_big: &'static [u8] = vec![b'z'; 100_000].leak();
    for proto in ALL {
        let mut conn = connect(proto, &handle, &cert).await;
        let (parts, body, _) = fetch(&mut conn, "POST", "/echo", &[], Some(big)).await;
        assert_eq!(parts.status, 200, "{proto:?}");
        assert_eq!(body.len(), big.len(), "{proto:?}");
        assert!(body == big, "{proto:?}: the echo is intact");

        let (parts, body, _) = fetch(&mut conn, "POST", "/bytes", &[], Some(too_big)).await;
        assert_eq!(
            parts.status,
            413,
            "{proto:?}: {:?}",
            String::from_utf8_lossy(&body)
        );

        if proto != Proto::Http1 {
            let conn = &mut connect(proto, &handle, &cert).await;
            let (mut upload, resp) =
                start_request(conn, "POST", "/trailers", &[], None, true).await;
            upload.send(b"abc", false).await;
            let mut t = http::HeaderMap::new();
            t.insert("x-req-sum", "99".parse().unwrap());
            upload.trailers(t).await;
            let (parts, download) = timeout(LIMIT, resp).await.unwrap();
            assert_eq!(parts.status, 200, "{proto:?}");
            let (body, _) = download.rest().await;
            assert_eq!(
                body, b"3 99",
                "{proto:?}: request trailers reach the service"
            );
        }
    }
    tokio::task::spawn_blocking(move || handle.stop())
        .await
        .unwrap()
        .unwrap();
}
