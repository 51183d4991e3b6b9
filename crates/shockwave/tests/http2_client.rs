//! Our HTTP/2 client against the `h2` crate server, a hyper (HTTP/2 only) server, and our
//! own server.

mod http2_support;

use bytes::Bytes;
use http2_support::server;
use shockwave::client::{Error, Http2Client};
use shockwave::http2::ErrorCode;

async fn connect(addr: std::net::SocketAddr) -> Http2Client {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    Http2Client::connect(tcp, Default::default())
}

fn get(url: String) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

/// An `h2` crate server echoing the request body, answering `/big` with 3 MB, and
/// resetting `/reset` with REFUSED_STREAM.
async fn h2_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    tokio::spawn(async move {
                        let path = req.uri().path().to_string();
                        if path == "/reset" {
                            respond.send_reset(h2::Reason::REFUSED_STREAM);
                            return;
                        }
                        let mut body = req.into_body();
                        let mut data = Vec::new();
                        while let Some(chunk) = body.data().await {
                            let chunk = chunk.unwrap();
                            let _ = body.flow_control().release_capacity(chunk.len());
                            data.extend_from_slice(&chunk);
                        }
                        if path == "/big" {
                            data = vec![b'z'; 3_000_000];
                        }
                        let resp = http::Response::builder()
                            .header("x-path", path)
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(resp, false).unwrap();
                        let mut data = Bytes::from(data);
                        while !data.is_empty() {
                            send.reserve_capacity(data.len());
                            let cap = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await
                            {
                                Some(Ok(c)) => c,
                                _ => return,
                            };
                            let chunk = data.split_to(cap.min(data.len()));
                            send.send_data(chunk, false).unwrap();
                        }
                        let _ = send.send_data(Bytes::new(), true);
                    });
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn against_h2_crate_server() {
    let addr = h2_server().await;
    let client = connect(addr).await;
    let resp = client
        .send(get(format!("http://{addr}/hello")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-path"], "/hello");
    // Upload and download larger than every default window.
    let up = Bytes::from(vec![b'u'; 1_500_000]);
    let req = http::Request::post(format!("http://{addr}/echo"))
        .body(up.clone())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.body(), &up);
    let resp = client
        .send(get(format!("http://{addr}/big")))
        .await
        .unwrap();
    assert_eq!(resp.body().len(), 3_000_000);
    // A reset stream is an error for that request only.
    let err = client
        .send(get(format!("http://{addr}/reset")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Http2Reset(ErrorCode::RefusedStream)),
        "{err:?}"
    );
    // Many requests multiplexed over the one connection.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = client.clone();
        let url = format!("http://{addr}/m{i}");
        tasks.push(tokio::spawn(async move { c.send(get(url)).await.unwrap() }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let resp = t.await.unwrap();
        assert_eq!(resp.headers()["x-path"], format!("/m{i}"));
    }
}

#[tokio::test]
async fn against_hyper_server() {
    use http_body_util::{BodyExt as _, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        let mut out = b"hyper:".to_vec();
                        out.extend_from_slice(&body);
                        Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::from(out))))
                    },
                );
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    let client = connect(addr).await;
    for i in 0..3 {
        let req = http::Request::post(format!("http://{addr}/"))
            .body(Bytes::from(format!("req{i}")))
            .unwrap();
        let resp = client.send(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), &format!("hyper:req{i}")[..]);
    }
}

#[tokio::test]
async fn against_our_server() {
    let srv = server::start();
    let client = connect(srv.addr).await;
    let resp = client
        .send(get(format!("http://{}/", srv.addr)))
        .await
        .unwrap();
    assert_eq!(resp.body(), "Hello, World!");
    assert!(resp.headers().contains_key("date"));
    let resp = client
        .send(get(format!("http://{}/big?2000000", srv.addr)))
        .await
        .unwrap();
    assert_eq!(resp.body().len(), 2_000_000);
    let resp = client
        .send(get(format!("http://{}/nope", srv.addr)))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn connect_url_with_alpn_h2_over_tls() {
    let srv = server::start_tls();
    let opts = shockwave::client::TlsOptions::default().danger_accept_invalid_certs(true);
    let config = opts.build().unwrap();
    let url = format!("https://127.0.0.1:{}/info", srv.addr.port());
    let client = Http2Client::connect_url(&url, Some(config), Default::default())
        .await
        .unwrap();
    let resp = client.send(get(url)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.body().starts_with(b"GET /info HTTP/2.0"),
        "{:?}",
        resp.body()
    );
}
