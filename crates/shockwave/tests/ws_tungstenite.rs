//! WebSocket over HTTP/1.1 with `tokio-tungstenite`, the cases `ws_server.rs` and
//! `ws_client.rs` leave out: its client over `wss://` (tokio-rustls underneath) choosing
//! a subprotocol from our server (RFC 6455 §1.9, §4.2.2), and its server pinging our
//! client, choosing a subprotocol and closing first (RFC 6455 §5.5.2, §7.1.2).
//! (tungstenite has no permessage-deflate: Python `websockets`, Node's `ws` and Chromium
//! cover it.)
#![cfg(feature = "tls")]

mod server_util;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use server_util::{builder, stop};
use shockwave::client::Client;
use shockwave::server::handler_fn;
use shockwave::server::ws::WebSocketUpgrade;
use shockwave::websocket::{CloseCode, Message};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request, Response as TResponse,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::Message as TMessage;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the exchange finished within 60 s")
}

#[tokio::test]
async fn tungstenite_client_over_wss_with_a_subprotocol() {
    // `/chat` speaks `v2` only: it says which protocol it got, then echoes.
    let handler = handler_fn(async |cx| match WebSocketUpgrade::from_request(&cx) {
        Ok(ws) => ws.protocols(["v2"]).on_upgrade(|mut socket| async move {
            let chosen = socket.protocol().unwrap_or("none").to_string();
            if socket.send(Message::text(chosen)).await.is_err() {
                return;
            }
            while let Some(Ok(msg)) = socket.recv().await {
                if matches!(msg, Message::Text(_) | Message::Binary(_))
                    && socket.send(msg).await.is_err()
                {
                    break;
                }
            }
        }),
        Err(refusal) => refusal,
    });
    let tls = shockwave::server::tls::self_signed(&["127.0.0.1"]).unwrap();
    let client_config = Arc::new(tls.client_config().unwrap());
    let h = builder()
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(tls.config)
        .start(handler)
        .unwrap();
    let addr = h.tls_local_addrs()[0];
    bounded(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = tokio_rustls::TlsConnector::from(client_config)
            .connect(
                rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let mut request = format!("wss://127.0.0.1:{}/chat", addr.port())
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "v1, v2".parse().unwrap());
        let (mut ws, response) = tokio_tungstenite::client_async(request, stream)
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["sec-websocket-protocol"], "v2");
        assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("v2"));
        ws.send(TMessage::text("over tls")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::text("over tls")
        );
        let big: Vec<u8> = (0..512 * 1024).map(|i| (i % 241) as u8).collect();
        ws.send(TMessage::binary(big.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::binary(big));
        ws.close(Some(TCloseFrame {
            code: TCloseCode::Normal,
            reason: "".into(),
        }))
        .await
        .unwrap();
        match ws.next().await {
            Some(Ok(TMessage::Close(Some(frame)))) => assert_eq!(frame.code, TCloseCode::Normal),
            other => panic!("expected the echoed close, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    })
    .await;
    stop(h);
}

/// tungstenite's handshake callback: the offer is `v1, v2`, the server picks `v2`.
// The callback's signature is tungstenite's (its error is a whole HTTP response).
#[allow(clippy::result_large_err)]
fn pick_v2(req: &Request, mut res: TResponse) -> Result<TResponse, ErrorResponse> {
    let offered = req.headers()["sec-websocket-protocol"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(offered, "v1, v2");
    res.headers_mut()
        .insert("sec-websocket-protocol", "v2".parse().unwrap());
    Ok(res)
}

#[tokio::test]
async fn our_client_answers_a_tungstenite_server_that_pings_and_closes_first() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, pick_v2)
            .await
            .unwrap();
        ws.send(TMessage::Ping(b"hb".to_vec().into()))
            .await
            .unwrap();
        ws.send(TMessage::text("first")).await.unwrap();
        let mut seen = Vec::new();
        // The pong and the client's "ack", then our Close and its answer.
        while let Some(Ok(m)) = ws.next().await {
            let ack = m == TMessage::text("ack");
            seen.push(m);
            if ack {
                ws.close(Some(TCloseFrame {
                    code: TCloseCode::Library(4005),
                    reason: "server done".into(),
                }))
                .await
                .unwrap();
            }
        }
        seen
    });
    bounded(async {
        let mut ws = Client::new()
            .websocket_with(&format!("ws://{addr}/"), Default::default(), &["v1", "v2"])
            .await
            .unwrap();
        assert_eq!(ws.protocol(), Some("v2"));
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Ping(b"hb".to_vec().into()),
            "pings are handed out (and answered by the socket)"
        );
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("first"));
        ws.send(Message::text("ack")).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode(4005));
                assert_eq!(frame.reason, "server done");
            }
            other => panic!("expected the server's Close, got {other:?}"),
        }
        assert!(ws.recv().await.is_none(), "closed after the handshake");
        assert!(ws.is_closed());
    })
    .await;
    let seen = bounded(server).await.unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0], TMessage::Pong(b"hb".to_vec().into()));
    assert_eq!(seen[1], TMessage::text("ack"));
    match &seen[2] {
        TMessage::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4005, "our client echoed the code")
        }
        other => panic!("expected the client's answering Close, got {other:?}"),
    }
}
