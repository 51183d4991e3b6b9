//! WebSocket over HTTP/2 (RFC 8441 extended CONNECT): one echo handler serves both the
//! HTTP/1.1 upgrade and the HTTP/2 stream, and the client opens two sockets as streams
//! of one h2c connection.
//!
//! `cargo run -p shockwave --example websocket_h2` starts the server on a free port,
//! talks to it over HTTP/2 and HTTP/1.1, prints what happened and stops.

use http::{Method, Version};
use shockwave::client::Client;
use shockwave::server::ws::{Message, WebSocketUpgrade};
use shockwave::server::{handler_fn, Response, Server};
use shockwave::websocket::CloseCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `GET` with `Upgrade: websocket` on HTTP/1.1, `CONNECT` with `:protocol = websocket`
    // on HTTP/2: `from_request` checks either, `on_upgrade` answers 101 or 200.
    let handler = handler_fn(async |cx| match (cx.method(), cx.path()) {
        (&Method::GET | &Method::CONNECT, "/ws") => {
            let version = format!("{:?}", cx.request().version());
            match WebSocketUpgrade::from_request(&cx) {
                Ok(ws) => ws.on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if let Message::Text(t) = message {
                            let reply = Message::Text(format!("{t} (over {version})"));
                            if socket.send(reply).await.is_err() {
                                break;
                            }
                        }
                    }
                }),
                Err(refusal) => refusal,
            }
        }
        _ => Response::status_code(404),
    });
    // The server announces SETTINGS_ENABLE_CONNECT_PROTOCOL by default
    // (`ServerConfig::http2.enable_connect_protocol`).
    let server = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .handle_signals(false)
        .start(handler)?;
    let url = format!("ws://{}/ws", server.local_addr());

    let client = Client::new();
    let mut first = client
        .websocket_request(&url)
        .version(Version::HTTP_2)
        .open()
        .await?;
    let mut second = client
        .websocket_request(&url)
        .version(Version::HTTP_2)
        .open()
        .await?;
    for (ws, text) in [(&mut first, "one"), (&mut second, "two")] {
        ws.send(Message::text(text)).await?;
        if let Some(Ok(Message::Text(echo))) = ws.recv().await {
            println!("{echo}");
        }
    }
    println!(
        "HTTP/2 connections to the server: {}",
        client.http2_connections(&format!("http://{}/", server.local_addr()))
    );
    first.close(CloseCode::NORMAL, "").await?;
    second.close(CloseCode::NORMAL, "").await?;

    // The same route over HTTP/1.1 (the default).
    let mut h1 = client.websocket(&url).await?;
    h1.send(Message::text("three")).await?;
    if let Some(Ok(Message::Text(echo))) = h1.recv().await {
        println!("{echo}");
    }
    h1.close(CloseCode::NORMAL, "").await?;
    server.stop()?;
    Ok(())
}
