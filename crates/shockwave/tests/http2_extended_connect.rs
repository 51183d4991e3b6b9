//! HTTP/2 extended CONNECT (RFC 8441) through the server driver, with the `h2` crate as
//! the client: SETTINGS_ENABLE_CONNECT_PROTOCOL is announced only when
//! `Http2Config::enable_connect_protocol` is set; a `:protocol` request without it is a
//! stream error PROTOCOL_ERROR (RFC 8441 §4), with it the stream reaches the handler
//! (which may take it as a tunnel: tests/ws_h2.rs) and the connection goes on.

mod http2_support;
mod ws_support;

use bytes::Bytes;
use http2_support::server::{start, start_with};
use shockwave::http2::Http2Config;
use ws_support::{h2_client, h2_get_status, h2_send};

fn get(addr: std::net::SocketAddr) -> http::Request<()> {
    http::Request::builder()
        .uri(format!("http://{addr}/"))
        .body(())
        .unwrap()
}

fn websocket_connect(addr: std::net::SocketAddr) -> http::Request<()> {
    let mut req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}/ws"))
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    req
}

/// One GET (so that the server's SETTINGS have arrived), then whether the server
/// announced extended CONNECT.
async fn settings_seen(
    client: &mut h2::client::SendRequest<Bytes>,
    addr: std::net::SocketAddr,
) -> bool {
    assert_eq!(h2_get_status(client.clone(), addr).await, 200);
    client.is_extended_connect_protocol_enabled()
}

#[tokio::test]
async fn protocol_without_the_setting_is_a_stream_error() {
    let server = start();
    let mut client = h2_client(server.addr).await;
    assert!(!settings_seen(&mut client, server.addr).await);
    let (resp, _send) = h2_send(client.clone(), websocket_connect(server.addr), false).await;
    let err = resp.await.expect_err("a reset stream");
    assert_eq!(err.reason(), Some(h2::Reason::PROTOCOL_ERROR), "{err}");
    // Only the stream failed: the connection still serves requests.
    assert!(!settings_seen(&mut client, server.addr).await);
}

#[tokio::test]
async fn the_setting_is_announced_when_enabled() {
    let server = start_with(Http2Config {
        enable_connect_protocol: true,
        ..Http2Config::default()
    });
    let mut client = h2_client(server.addr).await;
    assert!(settings_seen(&mut client, server.addr).await);
    let (resp, _send) = h2_send(client.clone(), websocket_connect(server.addr), false).await;
    // The handler answers it (it could take it as a tunnel; this one has no `/ws`
    // route: 404), and the connection goes on.
    let resp = resp.await.expect("an answer, not a reset");
    assert_eq!(resp.status(), 404);
    // A :protocol with another method is still malformed (RFC 8441 §4).
    let mut req = get(server.addr);
    req.extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let (resp, _send) = h2_send(client.clone(), req, true).await;
    let err = resp.await.expect_err("a reset stream");
    assert_eq!(err.reason(), Some(h2::Reason::PROTOCOL_ERROR), "{err}");
    assert!(settings_seen(&mut client, server.addr).await);
}

#[tokio::test]
async fn the_handler_sees_the_protocol_and_the_tunnel_offer() {
    let server = start_with(Http2Config {
        enable_connect_protocol: true,
        ..Http2Config::default()
    });
    let mut client = h2_client(server.addr).await;
    assert!(settings_seen(&mut client, server.addr).await);
    let mut req = websocket_connect(server.addr);
    *req.uri_mut() = format!("http://{}/protocol", server.addr).parse().unwrap();
    req.extensions_mut()
        .insert(h2::ext::Protocol::from_static("x-custom"));
    let (resp, _send) = h2_send(client.clone(), req, false).await;
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 418);
    assert_eq!(resp.headers()["x-seen"], "Some(\"x-custom\") true");
    // A GET offers no upgrade over HTTP/2.
    let get = http::Request::builder()
        .uri(format!("http://{}/protocol", server.addr))
        .body(())
        .unwrap();
    let (resp, _) = h2_send(client, get, true).await;
    let resp = resp.await.unwrap();
    assert_eq!(resp.headers()["x-seen"], "None false");
}
