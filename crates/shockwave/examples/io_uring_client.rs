//! A client on io_uring: starts a local server, then sends HTTP/1.1 and h2c requests
//! through the client's ring (falling back to epoll, with a logged reason, where io_uring
//! is unavailable): `cargo run --example io_uring_client --features io-uring,client,http2`.
//! `SHOCKWAVE_IO_URING=off` forces the fallback.
//!
//! With arguments it measures instead: `io_uring_client URL REQUESTS uring|epoll [TASKS]`
//! sends `REQUESTS` keep-alive GETs to `URL` from `TASKS` concurrent tasks (default 1),
//! each request after the previous one of its task, on a current-thread runtime (what
//! the instructions-per-request figure of the changelog runs under callgrind).

use shockwave::client::{Client, Io};
use shockwave::server::{handler_fn, Response, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [url, n, io, rest @ ..] = args.as_slice() {
        let io = if io == "epoll" { Io::Epoll } else { Io::Uring };
        let n: usize = n.parse()?;
        let tasks: usize = rest.first().map_or(Ok(1), |t| t.parse())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return rt.block_on(measure(url.clone(), n, io, tasks.max(1)));
    }
    tokio::runtime::Runtime::new()?.block_on(demo())
}

/// `n` keep-alive GETs from `tasks` tasks (one connection each).
async fn measure(
    url: String,
    n: usize,
    io: Io,
    tasks: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder().io(io).no_proxy().build()?;
    let mut running = Vec::new();
    for t in 0..tasks {
        let (client, url) = (client.clone(), url.clone());
        let share = n / tasks + usize::from(t < n % tasks);
        running.push(tokio::spawn(async move {
            let mut bytes = 0;
            for _ in 0..share {
                let resp = client.get(&url).send().await?;
                bytes += resp.bytes().await?.len();
            }
            Ok::<usize, shockwave::client::Error>(bytes)
        }));
    }
    let mut bytes = 0;
    for r in running {
        bytes += r.await??;
    }
    println!(
        "{n} requests from {tasks} tasks with {:?}: {bytes} body bytes",
        client.io()
    );
    Ok(())
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .bind("127.0.0.1:0".parse()?)
        .workers(1)
        .handle_signals(false)
        .start(handler_fn(async |_cx| {
            Response::text("hello from shockwave")
        }))?;
    let url = format!("http://{}/", server.local_addr());

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
