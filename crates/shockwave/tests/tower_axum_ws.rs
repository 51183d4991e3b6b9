//! axum 0.8's `WebSocketUpgrade` served unchanged by `from_tower` over HTTP/1.1: the
//! extractor finds hyper's `OnUpgrade` in the request extensions, the 101 goes out with
//! axum's fields, and the socket runs on the connection. Peers: `tokio-tungstenite`, our
//! own `Client::websocket`, and a raw TCP client that sends its first frame in the same
//! write as the handshake (the bytes the server already read reach axum's socket).
#![cfg(feature = "axum")]

mod server_util;

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as AMessage, WebSocket, WebSocketUpgrade};
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt as _, StreamExt as _};
use server_util::{builder, roundtrip, stop};
use shockwave::client::Client;
use shockwave::server::from_tower;
use shockwave::websocket::{CloseCode, Message};
use tokio_tungstenite::tungstenite::Message as TMessage;

/// Greets with the peer's address, then echoes data messages; a text message `close
/// REASON` makes it close with code 4001 and REASON reversed. The peer's Close is
/// answered by axum's socket itself (flushed by the next `recv`).
async fn echo(mut socket: WebSocket, peer: SocketAddr) {
    if socket
        .send(AMessage::Text(format!("hello {}", peer.ip()).into()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(msg)) = socket.recv().await {
        if let AMessage::Text(t) = &msg {
            if let Some(reason) = t.as_str().strip_prefix("close ") {
                let reason: String = reason.chars().rev().collect();
                let _ = socket
                    .send(AMessage::Close(Some(CloseFrame {
                        code: 4001,
                        reason: reason.into(),
                    })))
                    .await;
                continue;
            }
        }
        if matches!(msg, AMessage::Text(_) | AMessage::Binary(_)) && socket.send(msg).await.is_err()
        {
            return;
        }
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/ws",
            get(
                |ws: WebSocketUpgrade, ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    ws.protocols(["chat"])
                        .max_message_size(4 << 20)
                        .on_upgrade(move |socket| echo(socket, peer))
                },
            ),
        )
        .route("/plain", get(|| async { "plain" }))
}

fn start() -> shockwave::server::ServerHandle {
    builder().start(from_tower(app())).unwrap()
}

/// Runs a test body with a bound: a hang fails the test instead of stalling the suite.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the exchange finished within 60 s")
}

#[tokio::test]
async fn tungstenite_client_talks_to_axum_websocket_upgrade() {
    let h = start();
    let addr = h.local_addr();
    bounded(async {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{addr}/ws"),
            )
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "chat".parse().unwrap());
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut ws, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(
            response.headers().get("sec-websocket-protocol").unwrap(),
            "chat",
            "axum's subprotocol choice goes out in the 101"
        );
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::text("hello 127.0.0.1"),
            "ConnectInfo reaches the upgrade route and axum writes first"
        );
        ws.send(TMessage::text("héllo €")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("héllo €"));
        let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        ws.send(TMessage::binary(big.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::binary(big));
        ws.send(TMessage::Ping(b"ping?".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::Pong(b"ping?".to_vec().into()),
            "axum's socket answers pings"
        );
        ws.send(TMessage::text("close abc")).await.unwrap();
        match ws.next().await {
            Some(Ok(TMessage::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4001);
                assert_eq!(frame.reason.as_str(), "cba");
            }
            other => panic!("expected axum's close, got {other:?}"),
        }
        assert!(
            ws.next().await.is_none(),
            "the TCP stream ends after the close"
        );
    })
    .await;
    // The same Router still answers plain requests, before and after upgrades.
    let plain = roundtrip(addr, b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, b"plain");
    stop(h);
}

#[tokio::test]
async fn our_client_talks_to_axum_websocket_upgrade() {
    let h = start();
    let addr = h.local_addr();
    bounded(async {
        let client = Client::new();
        let mut ws = client
            .websocket_with(&format!("ws://{addr}/ws"), Default::default(), &["chat"])
            .await
            .unwrap();
        assert!(
            !ws.is_compressed(),
            "axum declines permessage-deflate (no Sec-WebSocket-Extensions in its 101)"
        );
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("hello 127.0.0.1")
        );
        for i in 0..20 {
            let text = format!("message {i}");
            ws.send(Message::text(text.clone())).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
        }
        let big: Vec<u8> = (0..300 * 1024).map(|i| (i % 13) as u8).collect();
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
        // Our Close: axum's socket echoes it (RFC 6455 §5.5.1) and the handshake ends.
        ws.close(CloseCode::NORMAL, "xyz").await.unwrap();
        assert!(ws.is_closed());
    })
    .await;
    stop(h);
}

/// The client's first frame arrives in the same packet as its handshake: the server read
/// it with the request head, and axum's socket still gets it first.
#[test]
fn a_frame_sent_with_the_handshake_reaches_axum() {
    let h = start();
    let mut s = std::net::TcpStream::connect(h.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut bytes = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    // A masked text frame "early" (RFC 6455 §5.2, §5.3).
    let mask = [1u8, 2, 3, 4];
    bytes.extend_from_slice(&[0x81, 0x80 | 5]);
    bytes.extend_from_slice(&mask);
    bytes.extend(b"early".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&bytes).unwrap();
    // The 101 (RFC 6455 §1.3's sample key), the greeting, then the echo.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let want_greeting = [&[0x81u8, 15][..], b"hello 127.0.0.1"].concat();
    let want_echo = [&[0x81u8, 5][..], b"early"].concat();
    while !got.ends_with(&want_echo) {
        let n = s.read(&mut buf).expect("the echo arrives");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        assert!(got.len() < 4096);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{text}"
    );
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        &got[head_end..],
        [want_greeting, want_echo].concat().as_slice(),
        "one 101 head (hyper's own is not on the wire), then the frames"
    );
    // End of stream: axum's `recv` ends, the socket is dropped, the server's connection
    // ends (stop need not wait for its grace period).
    drop(s);
    stop(h);
}

/// Refusals are axum's own: a handshake the connection cannot hand over (it has a body)
/// gets its 426 (no `OnUpgrade`), one without `Connection: upgrade` or with a bad version
/// its 400.
#[test]
fn axum_refusals_pass_through() {
    let h = start();
    let with_body = roundtrip(
        h.local_addr(),
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(with_body.status, 426);
    let no_connection = roundtrip(
        h.local_addr(),
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(no_connection.status, 400);
    let bad_version = roundtrip(
        h.local_addr(),
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    assert_eq!(bad_version.status, 400);
    // A route that does not upgrade answers normally even when asked to.
    let plain = roundtrip(
        h.local_addr(),
        b"GET /plain HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    );
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, b"plain");
    stop(h);
}

/// An axum socket still open when the server stops: the stop ends within the shutdown
/// grace (2 s in these tests) and the connection is closed, not leaked.
#[tokio::test]
async fn stopping_the_server_closes_an_open_axum_socket() {
    let h = start();
    let addr = h.local_addr();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TMessage::text("hello 127.0.0.1")
    );
    let stopped = tokio::task::spawn_blocking(move || stop(h));
    tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("the server stops within 30 s")
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .expect("the connection ends with the server");
    assert!(
        !matches!(end, Some(Ok(TMessage::Text(_) | TMessage::Binary(_)))),
        "{end:?}"
    );
}

/// Over TLS: the hand-over gives axum the TLS stream (HTTP/1.1 negotiated by ALPN).
#[cfg(feature = "tls")]
#[tokio::test]
async fn axum_websocket_over_wss() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let tls = shockwave::server::tls::self_signed(&["127.0.0.1"]).unwrap();
    let mut client_config = tls.client_config().unwrap();
    client_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(tls.config)
        .start(from_tower(app()))
        .unwrap();
    let addr = h.tls_local_addrs()[0];
    bounded(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_config))
            .connect(
                rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let request = format!("wss://127.0.0.1:{}/ws", addr.port())
            .into_client_request()
            .unwrap();
        let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::text("hello 127.0.0.1")
        );
        let big: Vec<u8> = (0..256 * 1024).map(|i| (i % 253) as u8).collect();
        ws.send(TMessage::binary(big.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::binary(big));
        ws.send(TMessage::text("close tls")).await.unwrap();
        match ws.next().await {
            Some(Ok(TMessage::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4001);
                assert_eq!(frame.reason.as_str(), "slt");
            }
            other => panic!("expected axum's close, got {other:?}"),
        }
    })
    .await;
    stop(h);
}
