//! CONNECT tunnels: a handler that accepts `CONNECT host:port` (HTTP/1.1, RFC 9110
//! §9.3.6, and HTTP/2, RFC 9113 §8.5) and relays bytes to the target, and the client's
//! `connect_tunnel` over both versions.
//!
//! `cargo run -p shockwave --example connect_tunnel` starts the tunnelling server and a
//! small target on free ports, fetches a page from the target through a tunnel over each
//! version, prints the answers and stops. With `serve` as an argument it keeps serving
//! (try `curl -p -x http://127.0.0.1:PORT http://example.com/`). A real proxy would
//! check who may tunnel where; this one tunnels anywhere.

use http::{Method, Version};
use shockwave::client::Client;
use shockwave::server::{handler_fn, Response, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proxy = handler_fn(async |cx| {
        if cx.method() != Method::CONNECT || cx.protocol().is_some() {
            return Response::status_code(405);
        }
        // The target is `host:port` (the request target on HTTP/1.1, `:authority` on
        // HTTP/2).
        let target = cx.request().target().to_owned();
        let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else {
            return Response::status_code(502);
        };
        // A 2xx hands the connection (HTTP/1.1) or the stream (HTTP/2) to the callback.
        cx.on_upgrade(|mut tunnel| async move {
            let mut upstream = upstream;
            let _ = tokio::io::copy_bidirectional(&mut tunnel, &mut upstream).await;
        });
        Response::status_code(200)
    });
    let serve = std::env::args().nth(1).as_deref() == Some("serve");
    let server = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .handle_signals(serve)
        .start(proxy)?;
    if serve {
        println!("tunnelling on http://{}/", server.local_addr());
        server.wait()?;
        return Ok(());
    }
    // The target: a plain HTTP server.
    let target = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .handle_signals(false)
        .start(handler_fn(async |_cx| {
            Response::text("hello from the target")
        }))?;
    let proxy_url = format!("http://{}", server.local_addr());
    let authority = target.local_addr().to_string();

    let client = Client::new();
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let mut tunnel = client
            .connect_tunnel_with(&proxy_url, &authority, Some(version))
            .await?;
        let request = format!("GET / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        tunnel.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        tunnel.read_to_end(&mut answer).await?;
        let answer = String::from_utf8_lossy(&answer);
        println!(
            "through a {:?} tunnel: {} ... {}",
            tunnel.version(),
            answer.lines().next().unwrap_or(""),
            answer.lines().last().unwrap_or("")
        );
    }
    target.stop()?;
    server.stop()?;
    Ok(())
}
