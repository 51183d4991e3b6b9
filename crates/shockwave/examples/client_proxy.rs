//! The client through a proxy: an HTTP proxy (absolute-form requests for `http://`, a
//! `CONNECT` tunnel for `https://`), SOCKS5 (`socks5h://` resolves names on the proxy),
//! proxy credentials, `NO_PROXY`-style exceptions, a pinned address and the Happy
//! Eyeballs delay.
//!
//! ```sh
//! cargo run -p shockwave --example client_proxy          # in-process server and proxy
//! cargo run -p shockwave --example client_proxy -- http://user:pass@127.0.0.1:3128 https://example.com/
//! cargo run -p shockwave --example client_proxy -- socks5h://127.0.0.1:1080 https://example.com/
//! ```
//!
//! Without `-- PROXY URL`, it serves the default routes and runs a tiny forwarding HTTP
//! proxy in-process that prints each request line it receives.

use std::net::SocketAddr;
use std::time::Duration;

use shockwave::client::{Client, NoProxy, Proxy};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (proxy_url, url, _server) = match args.as_slice() {
        [proxy, url] => (proxy.clone(), url.clone(), None),
        _ => {
            let server = Server::builder()
                .bind("127.0.0.1:0".parse()?)
                .workers(1)
                .handle_signals(false)
                .start(DefaultRoutes::new())?;
            let proxy = forwarding_proxy().await?;
            // A name only this client knows: pinned to the server's address below.
            let url = format!("http://app.internal:{}/", server.local_addr().port());
            (format!("http://{proxy}"), url, Some(server))
        }
    };

    let client = Client::builder()
        // Explicit proxy for every URL; credentials may also come from the URL.
        .proxy(
            Proxy::all(&proxy_url)?
                .basic_auth("demo", "demo-password")
                .no_proxy(Some(NoProxy::from_string("localhost,.corp.example"))),
        )
        // Don't also read HTTP_PROXY & co. from the environment.
        .no_proxy()
        // Like curl --resolve (port 0: the URL's port).
        .resolve("app.internal", SocketAddr::from(([127, 0, 0, 1], 0)))
        // Happy Eyeballs: the next address after 250 ms without an answer (the default).
        .happy_eyeballs_delay(Duration::from_millis(250))
        .connect_timeout(Duration::from_secs(10))
        .build()?;

    match client.get(&url).send().await {
        Ok(resp) => {
            println!("{} {:?}", resp.status(), resp.version());
            let body = resp.text().await?;
            println!("{} bytes", body.len());
        }
        // A proxy that wants other credentials is a typed error for https (CONNECT).
        Err(e) if e.is_proxy_auth() => eprintln!("the proxy refused the credentials: {e}"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// A minimal forwarding HTTP proxy: prints the request line, connects to the host of the
/// absolute-form target, and relays bytes both ways (no CONNECT: `http://` only).
async fn forwarding_proxy() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or_default().to_owned();
                println!("proxy got: {line}");
                // "GET http://host:port/path HTTP/1.1": connect to 127.0.0.1:port (the
                // demo's host name is only known to the client).
                let port = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|t| t.strip_prefix("http://"))
                    .and_then(|t| t.split('/').next())
                    .and_then(|a| a.rsplit_once(':'))
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .unwrap_or(80);
                let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
                    return;
                };
                if upstream.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    Ok(addr)
}
