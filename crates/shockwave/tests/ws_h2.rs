//! WebSocket over HTTP/2 extended CONNECT (RFC 8441): our client against our server
//! over h2c and TLS `h2` (echo, large messages, permessage-deflate, close codes, two
//! sockets on one connection, Close 1001 on shutdown), the `h2` crate as the client
//! against our server and as an RFC 8441 server for our client, and the refusals (no
//! SETTINGS_ENABLE_CONNECT_PROTOCOL, another `:protocol`, another version).
#![cfg(all(
    feature = "http2",
    feature = "tls",
    feature = "server",
    feature = "client"
))]

mod server_util;
mod ws_support;

use std::time::Duration;

use bytes::Bytes;
use server_util::{builder, stop};
use shockwave::client::Client;
use shockwave::http2::Http2Config;
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::ws::WebSocketUpgrade;
use shockwave::server::{Handler, RequestContext, Response};
use shockwave::websocket::{CloseCode, CloseFrame, Message, WebSocketError};
use shockwave_websocket::{Config, Connection, Message as WsMessage, Role};
use ws_support::{h2_data_within, h2_get_status, h2_send, insecure_client, with_tls};

/// The default routes (`/ws` echoes, for `GET` and extended CONNECT alike), `/close`
/// (closes with 4000 "custom" after the first message) and `/proto` (speaks `chat`).
struct Routes(DefaultRoutes);

impl Handler for Routes {
    async fn call<'a>(&'a self, cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/close" => match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => ws.on_upgrade(|mut socket| async move {
                    if let Some(Ok(_)) = socket.recv().await {
                        let _ = socket.close(CloseCode(4000), "custom").await;
                    }
                }),
                Err(refusal) => refusal,
            },
            "/proto" => match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => {
                    assert!(ws.is_extended_connect());
                    ws.protocols(["chat"]).on_upgrade(|mut socket| async move {
                        let p = socket.protocol().unwrap_or("none").to_owned();
                        let _ = socket.send(Message::text(p)).await;
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
                }
                Err(refusal) => refusal,
            },
            _ => self.0.call(cx).await,
        }
    }
}

fn start() -> shockwave::server::ServerHandle {
    builder().start(Routes(DefaultRoutes::new())).unwrap()
}

async fn open_h2(client: &Client, url: &str) -> shockwave::websocket::WebSocket {
    client
        .websocket_request(url)
        .version(http::Version::HTTP_2)
        .open()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_and_server_over_h2c() {
    let h = start();
    let client = Client::new();
    let url = format!("ws://{}/ws", h.local_addr());
    let mut ws = open_h2(&client, &url).await;
    assert!(ws.is_compressed(), "permessage-deflate over HTTP/2 too");
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    // A large message (several windows of DATA each way), compressible and not.
    let big: Vec<u8> = (0..768 * 1024).map(|i| (i % 7) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..300 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    ws.send(Message::binary(noise.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(noise));
    ws.send(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"p"))
    );
    // A second socket shares the HTTP/2 connection (one stream each).
    let mut second = open_h2(&client, &url).await;
    second.send(Message::text("two")).await.unwrap();
    assert_eq!(second.recv().await.unwrap().unwrap(), Message::text("two"));
    assert_eq!(
        client.http2_connections(&format!("http://{}/", h.local_addr())),
        1
    );
    second.close(CloseCode::NORMAL, "").await.unwrap();
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("still here")
    );
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(ws.is_closed());
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_and_subprotocols_over_h2c() {
    let h = start();
    let client = Client::new();
    let mut ws = open_h2(&client, &format!("ws://{}/close", h.local_addr())).await;
    ws.send(Message::text("x")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame {
            code: CloseCode(4000),
            reason: "custom".into()
        }))
    );
    let mut ws = client
        .websocket_request(&format!("ws://{}/proto", h.local_addr()))
        .version(http::Version::HTTP_2)
        .protocols(["other", "chat"])
        .open()
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("chat"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_and_server_over_tls_h2() {
    let h = with_tls(builder())
        .start(Routes(DefaultRoutes::new()))
        .unwrap();
    let client = insecure_client();
    let port = h.tls_local_addrs()[0].port();
    let mut ws = open_h2(&client, &format!("wss://127.0.0.1:{port}/ws")).await;
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("secure"));
    let big = vec![b'a'; 200 * 1024];
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
    assert_eq!(
        client.http2_connections(&format!("https://127.0.0.1:{port}/")),
        1
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_h2_sockets_with_1001() {
    let h = start();
    let client = Client::new();
    let mut ws = open_h2(&client, &format!("ws://{}/ws", h.local_addr())).await;
    ws.send(Message::text("before")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("before"));
    let stopper = tokio::task::spawn_blocking(move || stop(h));
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.recv())
        .await
        .expect("a Close in time");
    match closed {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::GOING_AWAY),
        other => panic!("{other:?}"),
    }
    stopper.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_setting_is_a_typed_error() {
    let h = builder()
        .http2(Http2Config::default())
        .start(Routes(DefaultRoutes::new()))
        .unwrap();
    let err = Client::new()
        .websocket_request(&format!("ws://{}/ws", h.local_addr()))
        .version(http::Version::HTTP_2)
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            WebSocketError::ExtendedConnectUnsupported(http::Version::HTTP_2)
        ),
        "{err}"
    );
    stop(h);
}

/// The `h2` crate's client, after one exchange (so that the server's SETTINGS have
/// arrived) that found extended CONNECT enabled.
async fn h2_client(addr: std::net::SocketAddr) -> h2::client::SendRequest<Bytes> {
    let client = ws_support::h2_client(addr).await;
    assert_eq!(h2_get_status(client.clone(), addr).await, 200);
    assert!(client.is_extended_connect_protocol_enabled());
    client
}

fn extended_connect(
    addr: std::net::SocketAddr,
    protocol: &str,
    version: &str,
) -> http::Request<()> {
    let mut req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}/ws"))
        .header("sec-websocket-version", version)
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(h2::ext::Protocol::from(protocol));
    req
}

/// Reads from `body` until `conn` decodes one message; returns it as (opcode, payload, code).
async fn next_message(
    body: &mut h2::RecvStream,
    conn: &mut Connection,
    buf: &mut Vec<u8>,
) -> (u8, Vec<u8>, u16) {
    let mut assembly = Vec::new();
    loop {
        if !buf.is_empty() {
            let d = conn.decode(&mut buf[..], &mut assembly).unwrap();
            let consumed = d.consumed;
            let out = d.message.map(|m| match m {
                WsMessage::Text(t) => (1, t.as_bytes().to_vec(), 0),
                WsMessage::Binary(b) => (2, b.to_vec(), 0),
                WsMessage::Ping(b) => (9, b.to_vec(), 0),
                WsMessage::Pong(b) => (10, b.to_vec(), 0),
                WsMessage::Close { code, reason } => (8, reason.as_bytes().to_vec(), code.0),
            });
            buf.drain(..consumed);
            if let Some(out) = out {
                return out;
            }
        }
        let chunk = h2_data_within(body, 10, "data in time")
            .await
            .expect("the stream is open")
            .unwrap();
        buf.extend_from_slice(&chunk);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_h2_crate_as_client_against_our_server() {
    let h = start();
    let client = h2_client(h.local_addr()).await;
    let (resp, mut send) = h2_send(
        client.clone(),
        extended_connect(h.local_addr(), "websocket", "13"),
        false,
    )
    .await;
    let resp = resp.await.unwrap();
    // RFC 8441 §5: 200, no accept key, no Upgrade/Connection.
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers().contains_key("sec-websocket-accept"));
    assert!(!resp.headers().contains_key("upgrade"));
    assert!(!resp.headers().contains_key("content-length"));
    let mut body = resp.into_body();
    let mut ws = Connection::new(Role::Client, Config::default());
    let mut wire = Vec::new();
    ws.encode_text("over h2", &mut wire).unwrap();
    ws.encode_binary(&[9u8; 100_000], &mut wire).unwrap();
    send.send_data(Bytes::from(std::mem::take(&mut wire)), false)
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        next_message(&mut body, &mut ws, &mut buf).await,
        (1, b"over h2".to_vec(), 0)
    );
    assert_eq!(
        next_message(&mut body, &mut ws, &mut buf).await,
        (2, vec![9u8; 100_000], 0)
    );
    ws.encode_close(CloseCode::NORMAL, "done", &mut wire)
        .unwrap();
    send.send_data(Bytes::from(wire), false).unwrap();
    let (op, _, code) = next_message(&mut body, &mut ws, &mut buf).await;
    assert_eq!((op, code), (8, 1000));
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_connect_refusals_from_our_server() {
    let h = start();
    let client = h2_client(h.local_addr()).await;
    // Another :protocol on the WebSocket route: 400.
    let (resp, _send) = h2_send(
        client.clone(),
        extended_connect(h.local_addr(), "webtransport", "13"),
        false,
    )
    .await;
    assert_eq!(resp.await.unwrap().status(), 400);
    // Another WebSocket version: 426 with the version we speak (RFC 6455 §4.4).
    let (resp, _send) = h2_send(
        client.clone(),
        extended_connect(h.local_addr(), "websocket", "8"),
        false,
    )
    .await;
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 426);
    assert_eq!(resp.headers()["sec-websocket-version"], "13");
    // An extended CONNECT to a route without WebSocket: that route's answer (404).
    let mut req = extended_connect(h.local_addr(), "websocket", "13");
    *req.uri_mut() = format!("http://{}/nowhere", h.local_addr())
        .parse()
        .unwrap();
    let (resp, _send) = h2_send(client.clone(), req, false).await;
    assert_eq!(resp.await.unwrap().status(), 404);
    // The connection still serves WebSockets.
    let (resp, _send) = h2_send(
        client,
        extended_connect(h.local_addr(), "websocket", "13"),
        false,
    )
    .await;
    assert_eq!(resp.await.unwrap().status(), 200);
    stop(h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_an_h2_crate_rfc8441_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::Builder::new()
            .enable_connect_protocol()
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        let (req, mut respond) = conn.accept().await.unwrap().unwrap();
        tokio::spawn(async move { while conn.accept().await.is_some() {} });
        assert_eq!(req.method(), http::Method::CONNECT);
        assert_eq!(
            req.extensions()
                .get::<h2::ext::Protocol>()
                .map(|p| p.as_str()),
            Some("websocket")
        );
        assert_eq!(req.uri().path(), "/chat");
        assert_eq!(req.headers()["sec-websocket-version"], "13");
        assert!(!req.headers().contains_key("sec-websocket-key"));
        let offered = req.headers().get("sec-websocket-extensions").cloned();
        let mut body = req.into_body();
        // No extension accepted: plain frames.
        let resp = http::Response::builder().status(200).body(()).unwrap();
        let mut send = respond.send_response(resp, false).unwrap();
        let mut ws = Connection::new(Role::Server, Config::default());
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        loop {
            let (op, payload, code) = next_message(&mut body, &mut ws, &mut buf).await;
            let mut wire = Vec::new();
            match op {
                1 => ws
                    .encode_text(std::str::from_utf8(&payload).unwrap(), &mut wire)
                    .unwrap(),
                2 => ws.encode_binary(&payload, &mut wire).unwrap(),
                8 => {
                    ws.write_pending(&mut wire);
                    send.send_data(Bytes::from(wire), true).unwrap();
                    seen.push((op, payload.len(), code));
                    break;
                }
                _ => {}
            }
            seen.push((op, payload.len(), code));
            send.send_data(Bytes::from(wire), false).unwrap();
        }
        (seen, offered)
    });
    let client = Client::builder().http2_prior_knowledge().build().unwrap();
    let mut ws = open_h2(&client, &format!("ws://{addr}/chat")).await;
    assert!(!ws.is_compressed(), "the server accepted no extension");
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    ws.send(Message::binary(vec![1u8; 70_000])).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::binary(vec![1u8; 70_000])
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    let (seen, offered) = server.await.unwrap();
    assert_eq!(seen, vec![(1, 2, 0), (2, 70_000, 0), (8, 0, 1000)]);
    assert!(
        offered.is_some_and(|v| v.to_str().unwrap().contains("permessage-deflate")),
        "the client offers permessage-deflate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_crate_server_without_the_setting_is_a_typed_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(tcp).await.unwrap();
        while conn.accept().await.is_some() {}
    });
    let err = Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
        .websocket_request(&format!("ws://{addr}/chat"))
        .version(http::Version::HTTP_2)
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(err, WebSocketError::ExtendedConnectUnsupported(_)),
        "{err}"
    );
}
