//! HTTP/2 through the pooled client: 50 concurrent requests share one multiplexed
//! connection (h2c with prior knowledge here; over TLS, ALPN `h2` is negotiated
//! automatically), with the owned and the arena APIs.
//!
//! ```sh
//! cargo run -p shockwave --example client_http2                 # starts its own server
//! cargo run -p shockwave --example client_http2 -- http://127.0.0.1:8080/   # after `shockwave serve`
//! ```

use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::Server;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Use the URL given, or serve the default routes in-process on a free port (the
    // server speaks h2c with prior knowledge on its cleartext port).
    let (url, server) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let handle = Server::builder()
                .bind("127.0.0.1:0".parse()?)
                .workers(1)
                .handle_signals(false)
                .start(DefaultRoutes::new())?;
            (format!("http://{}/", handle.local_addr()), Some(handle))
        }
    };

    let client = Client::builder().http2_prior_knowledge().build()?;

    // Owned API, 50 requests at once.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client.get(url).send().await?;
            let version = resp.version();
            let len = resp.bytes().await?.len();
            Ok::<_, shockwave::client::Error>((version, len))
        }));
    }
    for t in tasks {
        let (version, len) = t.await??;
        assert_eq!(version, http::Version::HTTP_2);
        assert!(len > 0);
    }

    // Arena API: the head and the body live in `arena`.
    let arena = Arena::with_capacity(16 * 1024);
    let resp = client.send_in(&arena, ArenaRequest::get(&url)).await?;
    println!(
        "{:?} {} ({} bytes, {} header fields, trailers: {:?})",
        resp.version(),
        resp.status(),
        resp.body().len(),
        resp.headers().len(),
        resp.trailers()
    );

    let stats = client.stats();
    println!(
        "51 requests over {} HTTP/2 connection(s)",
        stats.http2_connections_opened
    );
    if let Some(server) = server {
        server.stop()?;
    }
    Ok(())
}
