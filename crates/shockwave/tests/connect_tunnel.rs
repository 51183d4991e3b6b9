//! CONNECT tunnels through the server: HTTP/1.1 `CONNECT host:port` (RFC 9110 §9.3.6)
//! with curl as the client, HTTP/2 CONNECT (RFC 9113 §8.5) with the `h2` crate, a
//! handler that refuses or panics, the tunnel's flow control (an unread tunnel holds no
//! more than its window, a slow one is not cut by the minimum request-body rate), and
//! `Client::connect_tunnel` over HTTP/1.1, h2c and TLS (ALPN).
#![cfg(all(
    feature = "http2",
    feature = "tls",
    feature = "server",
    feature = "client"
))]

mod server_util;
mod ws_support;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use server_util::{builder, connect, read_to_close, require_tool, stop};
use shockwave::http2::Http2Config;
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Handler, MinDataRate, RequestContext, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use ws_support::{h2_client, h2_data_within, h2_get_status, h2_send, insecure_client, with_tls};

/// CONNECT `host:port` opens a TCP tunnel to it; `slow.test:1` waits before reading the
/// tunnel, then answers with how many bytes it read; `refuse.test:1` is refused (403).
/// Everything else goes to the default routes.
struct Tunnels(DefaultRoutes);

const SLOW_WAIT: Duration = Duration::from_millis(1500);

impl Handler for Tunnels {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        if cx.method() != http::Method::CONNECT || cx.protocol().is_some() {
            return self.0.call(cx).await;
        }
        let target = cx.request().target().to_owned();
        let accepted = match target.as_str() {
            "refuse.test:1" => return Response::status_code(403),
            "panic.test:1" => cx.on_upgrade(|io| async move {
                let _held = io;
                tokio::task::yield_now().await;
                panic!("the tunnel's callback panics (expected by the test)");
            }),
            "slow.test:1" => cx.on_upgrade(|mut io| async move {
                tokio::time::sleep(SLOW_WAIT).await;
                let mut total = 0usize;
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = io.read(&mut buf).await {
                    total += n;
                }
                let _ = io.write_all(total.to_string().as_bytes()).await;
                let _ = io.shutdown().await;
            }),
            _ => cx.on_upgrade(move |mut io| async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut io, &mut upstream).await;
                }
            }),
        };
        assert!(accepted, "a CONNECT offers a tunnel");
        assert!(cx.can_upgrade());
        Response::status_code(200).header("x-tunnel", "yes")
    }
}

/// A TCP echo server on a thread of its own; returns its address.
fn echo_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().take(16) {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    if s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn curl_goes_through_an_http1_connect_tunnel() {
    require_tool("curl", "apt-get install -y curl");
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let addr = h.local_addr();
    // `-p`: a CONNECT tunnel through the "proxy" (this server), to this server again.
    let out = std::process::Command::new("curl")
        .args(["-s", "-S", "-p", "--max-time", "10", "-x"])
        .arg(format!("http://{addr}"))
        .arg(format!("http://{addr}/plaintext"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!");
    stop(h);
}

#[test]
fn http1_connect_2xx_has_no_content_length_and_carries_bytes_both_ways() {
    let echo = echo_server();
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let mut s = connect(h.local_addr());
    // The first tunnel bytes come with the request head: they must reach the target.
    write!(s, "CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n\r\nearly").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"early") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text:?}");
    assert!(text.contains("x-tunnel: yes\r\n"), "{text:?}");
    // RFC 9110 §9.3.6: no Content-Length / Transfer-Encoding in a 2xx to CONNECT.
    assert!(!text.contains("content-length"), "{text:?}");
    assert!(!text.contains("transfer-encoding"), "{text:?}");
    assert!(text.ends_with("\r\n\r\nearly"), "{text:?}");
    s.write_all(b"ping").unwrap();
    let mut four = [0u8; 4];
    s.read_exact(&mut four).unwrap();
    assert_eq!(&four, b"ping");
    stop(h);
}

#[test]
fn a_refused_http1_connect_is_answered_then_closed() {
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let mut s = connect(h.local_addr());
    s.write_all(b"CONNECT refuse.test:1 HTTP/1.1\r\nHost: refuse.test:1\r\n\r\n")
        .unwrap();
    let all = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 403 "), "{text:?}");
    assert!(text.contains("connection: close"), "{text:?}");
    stop(h);
}

fn connect_request(authority: &str) -> http::Request<()> {
    http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(authority)
        .body(())
        .unwrap()
}

/// Reads `want` bytes of a response body (giving the credit back as it goes).
async fn read_exactly(body: &mut h2::RecvStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        let chunk = h2_data_within(body, 10, "tunnel data in time")
            .await
            .expect("more data")
            .unwrap();
        got.extend_from_slice(&chunk);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connect_is_a_tunnel_both_ways_and_end_stream_is_eof() {
    let echo = echo_server();
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let client = h2_client(h.local_addr()).await;
    let (resp, mut send) = h2_send(client.clone(), connect_request(&echo.to_string()), false).await;
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-tunnel"], "yes");
    assert!(!resp.headers().contains_key("content-length"));
    let mut body = resp.into_body();
    // 200 KiB: more than one window's worth of frames each way.
    let data: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    send.send_data(Bytes::from(data.clone()), false).unwrap();
    assert_eq!(read_exactly(&mut body, data.len()).await, data);
    // Our END_STREAM closes the target's read side; it closes, and so does the tunnel.
    send.send_data(Bytes::new(), true).unwrap();
    // (An empty DATA frame may carry the END_STREAM.)
    loop {
        match h2_data_within(&mut body, 10, "END_STREAM in time").await {
            None => break,
            Some(Ok(b)) if b.is_empty() => {}
            other => panic!("more data after the target closed: {other:?}"),
        }
    }
    // The connection serves requests afterwards.
    assert_eq!(h2_get_status(client, h.local_addr()).await, 200);
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connect_refusals() {
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let client = h2_client(h.local_addr()).await;
    // The handler refuses: its status, and the stream ends.
    let (resp, _send) = h2_send(client.clone(), connect_request("refuse.test:1"), false).await;
    assert_eq!(resp.await.unwrap().status(), 403);
    // The default routes do not tunnel: 501.
    let h2 = builder().start(DefaultRoutes::new()).unwrap();
    let client2 = h2_client(h2.local_addr()).await;
    let (resp, _send) = h2_send(client2, connect_request("example.com:443"), false).await;
    assert_eq!(resp.await.unwrap().status(), 501);
    stop(h);
    stop(h2);
}

/// The server's stream window (small, so that the bound is visible).
const WINDOW: u32 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_tunnel_holds_one_window_and_a_slow_one_is_not_cut() {
    let h = builder()
        .http2(Http2Config {
            initial_stream_window: WINDOW,
            enable_connect_protocol: true,
            ..Http2Config::default()
        })
        // A minimum body rate that a stalled request body would fail within the wait.
        .min_request_body_rate(Some(MinDataRate {
            bytes_per_second: 1_000_000,
            grace: Duration::from_millis(200),
        }))
        .start(Tunnels(DefaultRoutes::new()))
        .unwrap();
    let client = h2_client(h.local_addr()).await;
    let (resp, mut send) = h2_send(client, connect_request("slow.test:1"), false).await;
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let total = 1024 * 1024;
    let mut sent = 0usize;
    let mut sent_while_unread = None;
    let started = std::time::Instant::now();
    send.reserve_capacity(total);
    while sent < total {
        let cap = match tokio::time::timeout(
            Duration::from_millis(300),
            std::future::poll_fn(|cx| send.poll_capacity(cx)),
        )
        .await
        {
            Ok(Some(Ok(cap))) => cap,
            Ok(other) => panic!("the tunnel failed: {other:?}"),
            Err(_) => {
                // No credit for 300 ms: the server holds what it may.
                if sent_while_unread.is_none() && started.elapsed() < SLOW_WAIT {
                    sent_while_unread = Some(sent);
                }
                continue;
            }
        };
        let n = cap.min(total - sent);
        send.send_data(Bytes::from(vec![7u8; n]), false).unwrap();
        sent += n;
        send.reserve_capacity(total - sent);
    }
    send.send_data(Bytes::new(), true).unwrap();
    // While the handler did not read, the peer could send one stream window at most.
    let held = sent_while_unread.expect("the sender was stopped while the tunnel was unread");
    assert!(held <= WINDOW as usize, "{held} bytes accepted unread");
    // Then everything went through, past the minimum-rate grace: the reply is the count.
    let mut body = resp.into_body();
    let mut reply = Vec::new();
    while let Some(chunk) = h2_data_within(&mut body, 20, "the reply in time").await {
        reply.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(String::from_utf8_lossy(&reply), total.to_string());
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tunnels_over_http1_and_http2() {
    use shockwave::client::Client;
    let echo = echo_server().to_string();
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let url = format!("http://{}", h.local_addr());
    let client = Client::new();
    for version in [http::Version::HTTP_11, http::Version::HTTP_2] {
        let mut t = client
            .connect_tunnel_with(&url, &echo, Some(version))
            .await
            .unwrap();
        assert_eq!(t.version(), version);
        let data: Vec<u8> = (0..150_000).map(|i| (i % 253) as u8).collect();
        let (mut r, mut w) = tokio::io::split(&mut t);
        let (sent, got) = tokio::join!(
            async {
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
            },
            async {
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.unwrap();
                got
            }
        );
        let () = sent;
        // Our end of input reached the target, which closed: the tunnel's reads end.
        assert_eq!(got.len(), data.len(), "{version:?}");
        assert!(got == data, "{version:?}");
    }
    // The client's preference: HTTP/1.1 for http:// without prior knowledge, h2c with it.
    let t = client.connect_tunnel(&url, &echo).await.unwrap();
    assert_eq!(t.version(), http::Version::HTTP_11);
    let h2c = Client::builder().http2_prior_knowledge().build().unwrap();
    let t2 = h2c.connect_tunnel(&url, &echo).await.unwrap();
    assert_eq!(t2.version(), http::Version::HTTP_2);
    // A refusal is a proxy error with the status, on both versions.
    for version in [http::Version::HTTP_11, http::Version::HTTP_2] {
        let err = client
            .connect_tunnel_with(&url, "refuse.test:1", Some(version))
            .await
            .unwrap_err();
        assert_eq!(
            err.proxy_status(),
            Some(http::StatusCode::FORBIDDEN),
            "{err}"
        );
    }
    // Not host:port: refused before connecting.
    let err = client.connect_tunnel(&url, "/path").await.unwrap_err();
    assert!(err.to_string().contains("host:port"), "{err}");
    drop((t, t2));
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_http2_tunnel_resets_its_stream_only() {
    let h = builder().start(Tunnels(DefaultRoutes::new())).unwrap();
    let client = h2_client(h.local_addr()).await;
    let (resp, _send) = h2_send(client.clone(), connect_request("panic.test:1"), false).await;
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let err = match h2_data_within(&mut body, 10, "the reset in time").await {
        Some(Err(e)) => e,
        other => panic!("want a reset, got {other:?}"),
    };
    assert_eq!(err.reason(), Some(h2::Reason::CANCEL), "{err}");
    // The connection (and its worker) still serve requests.
    assert_eq!(h2_get_status(client, h.local_addr()).await, 200);
    assert_eq!(h.stats().handler_panics, 1);
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tunnel_over_tls_follows_alpn() {
    let echo = echo_server().to_string();
    let h = with_tls(builder())
        .start(Tunnels(DefaultRoutes::new()))
        .unwrap();
    let url = format!("https://127.0.0.1:{}", h.tls_local_addrs()[0].port());
    let client = insecure_client();
    // ALPN picks h2: the tunnel is a stream; with HTTP/1.1 asked for, a connection.
    for (version, want) in [
        (None, http::Version::HTTP_2),
        (Some(http::Version::HTTP_11), http::Version::HTTP_11),
    ] {
        let mut t = client
            .connect_tunnel_with(&url, &echo, version)
            .await
            .unwrap();
        assert_eq!(t.version(), want);
        t.write_all(b"secure tunnel").await.unwrap();
        let mut buf = [0u8; 13];
        t.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"secure tunnel");
    }
    stop(h);
}
