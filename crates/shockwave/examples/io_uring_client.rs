//! A client on io_uring: starts a local server, then sends HTTP/1.1 and h2c requests
//! through the client's ring (falling back to epoll, with a logged reason, where io_uring
//! is unavailable): `cargo run --example io_uring_client --features io-uring,client,http2`.
//! Give a URL to fetch it instead: `... -- http://127.0.0.1:8080/`.
//! `SHOCKWAVE_IO_URING=off` forces the fallback.

use shockwave::client::{Client, Io};
use shockwave::server::{handler_fn, Response, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |_cx| {
            Response::text("hello from shockwave")
        }))?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("http://{}/", server.local_addr()));

    // HTTP/1.1 with keep-alive: every request reuses the one ring connection.
    let client = Client::builder().io(Io::Uring).build()?;
    // `Io::Epoll` here means io_uring was unavailable (the reason is logged as a warning).
    println!("client I/O driver: {:?}", client.io());
    for _ in 0..3 {
        let resp = client.get(&url).send().await?;
        println!(
            "{} {:?}: {}",
            resp.status(),
            resp.version(),
            resp.text().await?
        );
    }

    // h2c (HTTP/2 with prior knowledge) over the same kind of connection.
    let h2c = Client::builder()
        .io(Io::Uring)
        .http2_prior_knowledge()
        .build()?;
    let resp = h2c.get(&url).send().await?;
    println!(
        "{} {:?}: {}",
        resp.status(),
        resp.version(),
        resp.text().await?
    );

    server.stop()?;
    Ok(())
}
