//! Response compression and client decompression (feature `compression`):
//! `cargo run -p shockwave --features compression --example compression`.
//!
//! Starts a server whose handler is wrapped in `Compression`, then fetches a page and an
//! event stream with the client: once as received (to show the coding and the bytes on
//! the wire) and once decoded automatically. Then try
//! `curl --compressed -v http://127.0.0.1:8080/page` while it runs with an address argument.

use std::time::Duration;

use bytes::Bytes;
use shockwave::client::Client;
use shockwave::server::{handler_fn, Compression, Response, Server};

fn page() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| "<p>Shockwave compresses this page.</p>\n".repeat(500))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = handler_fn(async |cx| match cx.path() {
        "/page" => Response::ok()
            .header("content-type", "text/html; charset=utf-8")
            .body(page()),
        // A server-sent event stream: each event is flushed through the encoder, so it
        // reaches the client compressed and at once.
        "/events" => {
            let events = futures_util::stream::unfold(0u32, |i| async move {
                if i == 3 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((Ok(Bytes::from(format!("data: tick {i}\n\n"))), i + 1))
            });
            Response::ok()
                .header("content-type", "text/event-stream")
                .stream(events)
        }
        _ => Response::status_code(404),
    });
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let handle = Server::builder()
        .bind(addr.parse()?)
        .build()
        .start(Compression::new().wrap(app))?;
    let base = format!("http://{}", handle.local_addr());
    println!("compression: listening on {base}/");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // As received: ask for br ourselves (the client then leaves the body alone).
        let raw = Client::builder().decompress(false).build()?;
        let resp = raw
            .get(format!("{base}/page"))
            .header("accept-encoding", "br")
            .send()
            .await?;
        let coding = resp.headers()["content-encoding"].to_str()?.to_owned();
        let wire = resp.bytes().await?.len();
        println!(
            "/page: {} bytes, {wire} bytes on the wire as {coding}",
            page().len()
        );

        // Decoded automatically (the default with the feature).
        let client = Client::new();
        let text = client
            .get(format!("{base}/page"))
            .send()
            .await?
            .text()
            .await?;
        assert_eq!(text, page());
        let mut events = client.get(format!("{base}/events")).send().await?;
        while let Some(event) = events.chunk().await? {
            print!("/events: {}", String::from_utf8_lossy(&event));
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    if std::env::args().nth(1).is_some() {
        // An address was given: keep serving for curl.
        handle.wait()?;
    } else {
        handle.stop()?;
    }
    Ok(())
}
