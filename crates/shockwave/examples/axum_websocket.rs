//! axum 0.8's `WebSocketUpgrade` served by Shockwave through `from_tower` (HTTP/1.1):
//! `cargo run -p shockwave --features axum --example axum_websocket`, then
//!
//! ```text
//! shockwave ws ws://127.0.0.1:8080/ws      # or: websocat ws://127.0.0.1:8080/ws
//! ```
//!
//! The route is plain axum (its `ws` feature): with Shockwave's `axum` feature,
//! `from_tower` puts hyper's `OnUpgrade` into the extensions of HTTP/1.1 upgrade
//! requests, so the extractor accepts them and `on_upgrade` gets the connection after
//! the 101. (Shockwave's own `WebSocketUpgrade` also speaks permessage-deflate; axum's
//! does not.)

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use axum::Router;
use shockwave::server::{from_tower, Server};

/// Echoes text and binary messages until the peer closes.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if matches!(msg, Message::Text(_) | Message::Binary(_)) && socket.send(msg).await.is_err() {
            break;
        }
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }),
        )
        .route("/", get(|| async { "WebSocket echo at /ws\n" }))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    println!("axum WebSocket echo on shockwave: ws://{addr}/ws");
    Server::builder()
        .bind(addr.parse().expect("an address like 127.0.0.1:8080"))
        .run(from_tower(app()))
}
