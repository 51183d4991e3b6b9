//! `Client::websocket` over HTTP/1.1: against our own server (`ws://` and `wss://`,
//! permessage-deflate negotiated), against a `tokio-tungstenite` server, and a refused
//! handshake.
#![cfg(feature = "tls")]

mod server_util;

use futures_util::{SinkExt as _, StreamExt as _};
use server_util::{builder, stop};
use shockwave::client::Client;
use shockwave::server::routes::DefaultRoutes;
use shockwave::websocket::{CloseCode, Message, WebSocketError};
use tokio_tungstenite::tungstenite::Message as TMessage;

#[tokio::test]
async fn our_client_against_our_server_with_deflate() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let client = Client::new();
    let mut ws = client
        .websocket(&format!("ws://{}/ws", h.local_addr()))
        .await
        .unwrap();
    assert!(
        ws.is_compressed(),
        "permessage-deflate is offered and accepted"
    );
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 7) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
    ws.send(Message::Ping(b"x".to_vec().into())).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Pong(b"x".to_vec().into())
    );
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(ws.is_closed());
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(WebSocketError::Closed)
    ));
    stop(h);
}

#[tokio::test]
async fn our_client_over_wss() {
    let tls = shockwave::server::tls::self_signed(&["127.0.0.1"]).unwrap();
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(tls.config)
        .start(DefaultRoutes::new())
        .unwrap();
    let client = Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let mut ws = client
        .websocket(&format!(
            "wss://127.0.0.1:{}/ws",
            h.tls_local_addrs()[0].port()
        ))
        .await
        .unwrap();
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("secure"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    stop(h);
}

#[tokio::test]
async fn our_client_against_a_tungstenite_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let mut seen = Vec::new();
        while let Some(Ok(m)) = ws.next().await {
            match m {
                TMessage::Text(_) | TMessage::Binary(_) => {
                    seen.push(m.clone());
                    ws.send(m).await.unwrap();
                }
                TMessage::Close(frame) => {
                    seen.push(TMessage::Close(frame));
                    break;
                }
                _ => {}
            }
        }
        seen
    });
    let mut ws = Client::new()
        .websocket(&format!("ws://{addr}/chat"))
        .await
        .unwrap();
    // tungstenite has no permessage-deflate: the offer is declined.
    assert!(!ws.is_compressed());
    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("héllo"));
    let big = vec![0xabu8; 64 * 1024];
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
    ws.close(CloseCode(4002), "done").await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(seen.len(), 3);
    match &seen[2] {
        TMessage::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4002);
            assert_eq!(f.reason.as_str(), "done");
        }
        other => panic!("expected the client's close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_handshake_is_an_error() {
    let h = builder().start(DefaultRoutes::new()).unwrap();
    // `/` answers 200: not a WebSocket.
    let err = Client::new()
        .websocket(&format!("ws://{}/", h.local_addr()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WebSocketError::Handshake(m) if m.contains("200")),
        "{err}"
    );
    stop(h);
}
