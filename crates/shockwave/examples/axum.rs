//! An axum 0.8 app run unchanged on Shockwave (HTTP/1.1 and h2c on one port):
//! `cargo run --release -p shockwave --features axum --example axum`, then
//!
//! ```text
//! curl http://127.0.0.1:8080/users/7
//! curl --http2-prior-knowledge http://127.0.0.1:8080/ip
//! curl -d '{"a":1}' -H 'content-type: application/json' http://127.0.0.1:8080/json
//! curl -N http://127.0.0.1:8080/ticks        # one server-sent event a second
//! ```
//!
//! The `Router` is the one `axum::serve` would take: `shockwave::server::from_tower` turns
//! it into a Shockwave handler. The `axum` feature inserts `ConnectInfo<SocketAddr>`
//! (without it, read `shockwave::server::RemoteAddr` from the request extensions).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use shockwave::server::{from_tower, Server};

#[derive(Clone)]
struct AppState {
    greeting: Arc<str>,
}

fn app() -> Router {
    let state = AppState {
        greeting: "hello".into(),
    };
    Router::new()
        .route(
            "/users/{id}",
            get(
                |Path(id): Path<u32>, State(s): State<AppState>| async move {
                    Json(serde_json::json!({ "id": id, "greeting": &*s.greeting }))
                },
            ),
        )
        .route(
            "/json",
            post(|Json(v): Json<serde_json::Value>| async move { Json(v) }),
        )
        .route(
            "/ip",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.to_string() }),
        )
        .route(
            "/ticks",
            get(|| async {
                let ticks = futures_util::stream::unfold(0u32, |n| async move {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    (n < 5).then(|| {
                        (
                            Ok::<_, Infallible>(Event::default().data(n.to_string())),
                            n + 1,
                        )
                    })
                });
                Sse::new(ticks)
            }),
        )
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    println!("axum on shockwave: listening on http://{addr}/");
    Server::builder()
        .bind(addr.parse().expect("an address like 127.0.0.1:8080"))
        .run(from_tower(app()))
}
