//! The client's owned API: a `Response` that owns its head and streams its body.
//!
//! ```sh
//! cargo run -p shockwave --example client_owned                 # starts its own server
//! cargo run -p shockwave --example client_owned -- http://127.0.0.1:8080/   # after `shockwave serve`
//! ```

use shockwave::client::{Client, RedirectPolicy};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::Server;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Use the URL given, or serve the default routes in-process on a free port.
    let (base, server) = match std::env::args().nth(1) {
        Some(url) => (url.trim_end_matches('/').to_owned(), None),
        None => {
            let handle = Server::builder()
                .bind("127.0.0.1:0".parse()?)
                .workers(1)
                .handle_signals(false)
                .start(DefaultRoutes::new())?;
            (format!("http://{}", handle.local_addr()), Some(handle))
        }
    };

    let client = Client::builder()
        .redirect(RedirectPolicy::limited(5))
        .user_agent("shockwave-example/0.1")?
        .build()?;

    // GET: the head is available at once; the body is streamed piece by piece.
    let mut resp = client
        .get(format!("{base}/"))
        .header("accept", "text/plain")
        .send()
        .await?;
    println!("{:?} {}", resp.version(), resp.status());
    for (name, value) in resp.headers() {
        println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    let mut body = Vec::new();
    while let Some(piece) = resp.chunk().await? {
        body.extend_from_slice(&piece);
    }
    println!("\n{}", String::from_utf8_lossy(&body));

    // POST with a body; `text()` reads the whole response.
    let echoed = client
        .post(format!("{base}/echo"))
        .header("content-type", "text/plain")
        .body("echo me")
        .send()
        .await?
        .text()
        .await?;
    println!("POST /echo -> {echoed}");

    // Interop with the `http` crate.
    let req = http::Request::get(format!("{base}/json")).body(())?;
    let json = client.send_http(req).await?.text().await?;
    println!("GET /json -> {json}");

    // Both requests reused one pooled connection.
    println!("{:?}", client.stats());
    if let Some(server) = server {
        server.stop()?;
    }
    Ok(())
}
