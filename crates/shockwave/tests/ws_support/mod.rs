//! Shared helpers for the tunnel and WebSocket tests over HTTP/2 and HTTP/3
//! (connect_tunnel.rs, ws_h2.rs, ws_h3.rs, http2_extended_connect.rs): a TLS listener
//! with a self-signed certificate and a client that accepts it, the `h2` crate as a
//! client (connection, requests, DATA with its flow-control credit given back), and
//! WebSocket exchanges that look past control frames.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

/// Adds a TLS listener on an ephemeral loopback port to `builder`, with a self-signed
/// certificate for `127.0.0.1` (its address: `ServerHandle::tls_local_addrs`).
#[cfg(all(feature = "server", feature = "tls"))]
pub fn with_tls(builder: shockwave::server::ServerBuilder) -> shockwave::server::ServerBuilder {
    let tls = shockwave::server::tls::self_signed(&["127.0.0.1"]).unwrap();
    builder
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .tls(tls.config)
}

/// A client that accepts any certificate (the self-signed one of [`with_tls`]).
#[cfg(all(feature = "client", feature = "tls"))]
pub fn insecure_client() -> shockwave::client::Client {
    shockwave::client::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// The `h2` crate's client on a new TCP connection to `addr` (h2c with prior knowledge),
/// its connection driven on a task of its own.
pub async fn h2_client(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Sends `req` once `client` is ready (`end_of_stream`: no DATA follows); the response
/// to come and the request's send side.
pub async fn h2_send(
    client: h2::client::SendRequest<Bytes>,
    req: http::Request<()>,
    end_of_stream: bool,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    client
        .ready()
        .await
        .unwrap()
        .send_request(req, end_of_stream)
        .unwrap()
}

/// `GET http://{addr}/` on `client`: the response's status.
pub async fn h2_get_status(client: h2::client::SendRequest<Bytes>, addr: SocketAddr) -> u16 {
    let get = http::Request::get(format!("http://{addr}/"))
        .body(())
        .unwrap();
    let (resp, _) = h2_send(client, get, true).await;
    resp.await.unwrap().status().as_u16()
}

/// The next DATA of `body` (`None` at its end), which must come within `secs` seconds
/// (else panics with `what`); the flow-control credit of what came is given back.
pub async fn h2_data_within(
    body: &mut h2::RecvStream,
    secs: u64,
    what: &str,
) -> Option<Result<Bytes, h2::Error>> {
    let next = tokio::time::timeout(Duration::from_secs(secs), body.data())
        .await
        .expect(what);
    if let Some(Ok(chunk)) = &next {
        if !chunk.is_empty() {
            body.flow_control().release_capacity(chunk.len()).unwrap();
        }
    }
    next
}

/// Sends `m` and returns the next message that is not a Ping or a Pong.
#[cfg(feature = "client")]
pub async fn echo(
    ws: &mut shockwave::websocket::WebSocket,
    m: shockwave::websocket::Message,
) -> shockwave::websocket::Message {
    use shockwave::websocket::Message;
    ws.send(m).await.unwrap();
    loop {
        match ws.recv().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return m,
            other => panic!("{other:?}"),
        }
    }
}

/// Reads past other messages to the peer's Close; its frame (`None`: no code).
#[cfg(feature = "client")]
pub async fn close_frame(
    ws: &mut shockwave::websocket::WebSocket,
) -> Option<shockwave::websocket::CloseFrame> {
    use shockwave::websocket::Message;
    loop {
        match ws.recv().await {
            Some(Ok(Message::Close(c))) => return c,
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    }
}
