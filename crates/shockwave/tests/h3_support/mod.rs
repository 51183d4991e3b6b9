//! Shared helpers for the tests that drive our HTTP/3 server through hand-written peers
//! on raw quinn streams (http3_errors.rs, http3_limits.rs, body_rate_h3.rs, ws_h3.rs):
//! a QUIC client trusting the server's self-signed certificate, our control stream, a
//! request's HEADERS frame, a stop that keeps the client's runtime running.
#![allow(dead_code)]

use std::net::SocketAddr;

use shockwave::http3::qpack::Encoder;
use shockwave::http3::{frame, quic_client_config, Http3Config};
use shockwave::server::{tls, ServerHandle};

/// A QUIC client endpoint on an ephemeral loopback port that trusts `cert`, with the
/// transport settings of `config`.
pub fn quic_client(cert: &tls::SelfSigned, config: &Http3Config) -> quinn::Endpoint {
    let tls = cert.client_config().unwrap();
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quic_client_config(&tls, config).unwrap());
    ep
}

/// A QUIC connection to `addr` (server name `localhost`) from a new [`quic_client`].
pub async fn quic_connect(
    addr: SocketAddr,
    cert: &tls::SelfSigned,
    config: &Http3Config,
) -> (quinn::Endpoint, quinn::Connection) {
    let ep = quic_client(cert, config);
    let conn = ep.connect(addr, "localhost").unwrap().await.unwrap();
    (ep, conn)
}

/// Opens our control stream with (default) SETTINGS.
pub async fn control(conn: &quinn::Connection) -> quinn::SendStream {
    let mut s = conn.open_uni().await.unwrap();
    let mut buf = vec![0x00];
    frame::Settings::default().encode(None, &mut buf).unwrap();
    s.write_all(&buf).await.unwrap();
    s
}

/// The HEADERS frame of `GET https://localhost{path}` with the `extra` fields.
pub fn request(path: &str, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let fields: Vec<(&[u8], &[u8])> = [
        (&b":method"[..], &b"GET"[..]),
        (b":scheme", b"https"),
        (b":authority", b"localhost"),
        (b":path", path.as_bytes()),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect();
    Encoder::new()
        .encode_headers_frame(fields, &mut out)
        .unwrap();
    out
}

/// Stops the server off the runtime thread, so our clients keep acknowledging.
pub async fn stop(h: ServerHandle) {
    tokio::task::spawn_blocking(move || h.stop())
        .await
        .unwrap()
        .unwrap();
}
