//! The servers and peer clients shared by the client benchmarks (`benches/client.rs`, a
//! criterion bench, and `src/bin/client_compare.rs`, CPU per request side by side), so
//! both measure against the same responders.

use std::io::{Read, Write};
use std::net::TcpListener;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

/// The HTTP/1.1 responder's answer to every request: 13 bytes of body.
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nDate: Wed, 25 Nov 2026 17:00:00 GMT\r\nServer: bench\r\n\r\nHello, World!";

/// Starts a tiny blocking HTTP/1.1 responder on 127.0.0.1 (one thread per connection,
/// [`RESPONSE`] to every request head, pipelining answered in order); it lives until
/// the process exits. The same for every client, so the numbers compare client
/// overhead. Returns the URL of its route.
pub fn h1_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/plaintext", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut buf = vec![0u8; 16 * 1024];
                let mut have = 0;
                loop {
                    let n = match s.read(&mut buf[have..]) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    have += n;
                    let mut out = Vec::new();
                    while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                        out.extend_from_slice(RESPONSE);
                    }
                    if s.write_all(&out).is_err() || have == buf.len() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Starts the Shockwave server (one worker) answering `Hello, World!` (13 bytes), with
/// HTTP/2 prior knowledge on its cleartext port; it lives until the process exits.
/// Returns the URL of its route.
pub fn h2_server() -> String {
    use shockwave::server::{handler_fn, Response, Server};
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().expect("addr"))
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |_cx| Response::text("Hello, World!")))
        .expect("start the HTTP/2 server");
    let url = format!("http://{}/plaintext", handle.local_addr());
    std::mem::forget(handle);
    url
}

/// hyper-util's legacy (pooled) HTTP/1.1 client, built inside `rt` so its connection
/// tasks run there.
pub fn hyper_h1_client(
    rt: &tokio::runtime::Runtime,
) -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Empty<Bytes>,
> {
    let _guard = rt.enter();
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>()
}

/// One HTTP/2 connection (h2c prior knowledge) of hyper's client to `url`'s authority,
/// its connection task spawned on `rt`.
pub fn hyper_h2_connect(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("authority")
        .to_owned();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let _ = tcp.set_nodelay(true);
        let (send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .expect("hyper h2 handshake");
        tokio::spawn(conn);
        send
    })
}

/// A GET of `uri` on hyper's HTTP/2 connection `send`, checking the 13-byte body.
pub fn hyper_h2_get(
    send: &hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    uri: &hyper::Uri,
) -> impl std::future::Future<Output = ()> {
    let mut send = send.clone();
    let req = http::Request::get(uri.clone())
        .body(Empty::<Bytes>::new())
        .expect("request");
    async move {
        let resp = send.send_request(req).await.expect("hyper h2 request");
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("hyper h2 body")
            .to_bytes();
        assert_eq!(body.len(), 13);
    }
}

/// A GET of `url` with Shockwave's owned API, checking the 13-byte body.
pub async fn shockwave_get(client: &shockwave::client::Client, url: &str) {
    let body = client
        .get(url)
        .send()
        .await
        .expect("shockwave request")
        .bytes()
        .await
        .expect("shockwave body");
    assert_eq!(body.len(), 13);
}
