//! WebSocket over HTTP/3 (RFC 9220) and an HTTP/3 CONNECT tunnel (RFC 9114 §4.4), end to
//! end on loopback: our HTTP/3 server (self-signed certificate) with a WebSocket echo at
//! `/ws` (the same handler serves HTTP/1.1, HTTP/2 and HTTP/3) and a byte-echo tunnel
//! behind `CONNECT echo.example:7`; the client opens the socket with
//! `Client::websocket_request(..).version(Version::HTTP_3)` and the tunnel with
//! `Http3Connection::open_tunnel`.
//!
//! `cargo run -p shockwave --features http3 --example websocket_h3`

use http::Method;
use shockwave::client::{Client, Http3ConnectRequest};
use shockwave::server::ws::{Message, WebSocketUpgrade};
use shockwave::server::{handler_fn, tls, Response, Server};
use shockwave::websocket::CloseCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cert = tls::self_signed(&["localhost"])?;
    let server = Server::builder()
        .bind_h3("127.0.0.1:0".parse()?)
        .tls(cert.config.clone())
        .workers(1)
        .handle_signals(false)
        .build()
        .start(handler_fn(async |cx| {
            // A plain CONNECT: the target is the authority; accept with a 2xx.
            if *cx.method() == Method::CONNECT && cx.protocol().is_none() {
                let accepted = cx.path() == "echo.example:7"
                    && cx.on_upgrade(|mut io| async move {
                        let mut buf = [0u8; 4096];
                        while let Ok(n @ 1..) = io.read(&mut buf).await {
                            if io.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                        let _ = io.shutdown().await;
                    });
                return Response::status_code(if accepted { 200 } else { 403 });
            }
            match cx.path() {
                // GET + Upgrade on HTTP/1.1, extended CONNECT on HTTP/2 and HTTP/3.
                "/ws" => match WebSocketUpgrade::from_request(&cx) {
                    Ok(ws) => ws.on_upgrade(|mut socket| async move {
                        while let Some(Ok(message)) = socket.recv().await {
                            if matches!(message, Message::Text(_) | Message::Binary(_))
                                && socket.send(message).await.is_err()
                            {
                                break;
                            }
                        }
                    }),
                    Err(refusal) => refusal,
                },
                _ => Response::status_code(404),
            }
        }))?;
    let port = server.local_addr().port();
    println!("HTTP/3 server on udp 127.0.0.1:{port}");

    use rustls::pki_types::pem::PemObject;
    let root = rustls::pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes())?;
    let client = Client::builder()
        .http3()
        .add_root_certificate(root)
        .build()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // RFC 9220: an extended CONNECT on a stream of the pooled QUIC connection.
        let mut ws = client
            .websocket_request(&format!("wss://localhost:{port}/ws"))
            .version(http::Version::HTTP_3)
            .open()
            .await?;
        println!(
            "WebSocket over HTTP/3 (permessage-deflate: {})",
            ws.is_compressed()
        );
        for text in ["hello", "over", "QUIC"] {
            ws.send(Message::text(text)).await?;
            if let Some(Ok(Message::Text(echo))) = ws.recv().await {
                println!("  echo: {echo}");
            }
        }
        ws.close(CloseCode::NORMAL, "done").await?;

        let conn = client
            .http3_connection(&format!("https://localhost:{port}/"))
            .await?;
        let mut tunnel = conn
            .open_tunnel(Http3ConnectRequest {
                authority: "echo.example:7",
                protocol: None,
                path: "",
                headers: &[],
            })
            .await?;
        println!("CONNECT echo.example:7 -> {}", tunnel.status);
        tunnel.write_all(b"bytes through the tunnel").await?;
        tunnel.shutdown().await?;
        let mut back = String::new();
        tunnel.read_to_string(&mut back).await?;
        println!("  tunnel echo: {back}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    server.stop()?;
    Ok(())
}
