//! A server on a Unix domain socket and the client talking to it, with a per-route body
//! limit: `cargo run -p shockwave --example unix_socket [PATH]`.
//!
//! The server listens on PATH (default `/tmp/shockwave-example.sock`, file mode 0600
//! here) and serves `POST /upload`, limited to 1 KiB. The client sends one small and one
//! too-large upload over the socket and prints the answers (`200`, then a readable
//! `413`), then the server stops and removes its socket file. While it runs, curl can
//! reach it too: `curl --unix-socket PATH http://localhost/upload -d hello`.

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use shockwave::client::Client;
    use shockwave::server::{handler_fn, Response, Server};

    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/shockwave-example.sock".into());
    let server = Server::builder()
        .bind_unix(&path)
        .unix_socket_mode(0o600)
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |mut cx| {
            if cx.path() != "/upload" {
                return Response::status_code(404);
            }
            // This route takes 1 KiB at most (the server-wide limit stays the cap).
            cx.set_body_limit(1024);
            match cx.body().to_arena().await {
                Ok(body) => Response::text(
                    cx.arena()
                        .alloc_str(&format!("stored {} bytes\n", body.len()))
                        .map_or("stored\n", |s| &*s),
                ),
                // 413 Content Too Large: the client reads it (no connection reset).
                Err(e) => Response::new(e.status()),
            }
        }))?;
    println!("unix_socket: listening on unix:{path}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Every request of this client goes to the socket; the URL names the request.
        let client = Client::builder().unix_socket(&path).build()?;
        for size in [100, 100_000] {
            let resp = client
                .post("http://localhost/upload")
                .body(vec![b'x'; size])
                .send()
                .await?;
            println!("upload of {size} bytes: {}", resp.status());
        }
        Ok::<(), shockwave::client::Error>(())
    })?;

    server.stop()?;
    println!(
        "unix_socket: stopped; socket file removed: {}",
        !std::path::Path::new(&path).exists()
    );
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    eprintln!("Unix domain sockets need a Unix platform");
}
