//! The client's arena API: status line, headers and body of each response live in a
//! request arena from an `ArenaPool`, freed at once when the arena goes back. With a
//! warm pool and a warm arena a keep-alive GET makes no heap allocation; this example
//! counts them.
//!
//! ```sh
//! cargo run --release -p shockwave --example client_arena                 # own server
//! cargo run --release -p shockwave --example client_arena -- http://127.0.0.1:8080/
//! ```

use std::time::Instant;

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::arena::{ArenaPool, PoolConfig};
use shockwave::client::{ArenaRequest, Client};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::Server;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const REQUESTS: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, server) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            // The server runs on its own worker thread; allocations are counted per thread.
            let handle = Server::builder()
                .bind("127.0.0.1:0".parse()?)
                .workers(1)
                .handle_signals(false)
                .start(DefaultRoutes::new())?;
            (format!("http://{}/", handle.local_addr()), Some(handle))
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = Client::new();
    let arenas = ArenaPool::new(PoolConfig::default());
    let headers: &[(&[u8], &[u8])] = &[(b"accept", b"text/plain")];

    let one = || -> Result<usize, shockwave::client::Error> {
        let arena = arenas.get(); // a reset arena from the pool
        rt.block_on(async {
            let req = ArenaRequest::get(&url).headers(headers);
            let resp = client.send_in(&arena, req).await?;
            // `resp` borrows `arena`: it cannot outlive it (the borrow checker says so).
            Ok(resp.body().len())
        })
    }; // the arena is reset and returned here

    // Show one response.
    {
        let arena = arenas.get();
        let resp = rt.block_on(client.send_in(&arena, ArenaRequest::get(&url)))?;
        println!("{:?} {} {}", resp.version(), resp.status(), resp.reason());
        for (name, value) in resp.headers().iter() {
            println!(
                "{}: {}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(value)
            );
        }
        println!("\n{}\n", resp.text().unwrap_or("<binary>"));
    }

    for _ in 0..100 {
        one()?; // warm the pool, the arena and the runtime
    }
    let started = Instant::now();
    let (bytes, counts) = alloc_count::measure(|| -> Result<usize, shockwave::client::Error> {
        let mut total = 0;
        for _ in 0..REQUESTS {
            total += one()?;
        }
        Ok(total)
    });
    let bytes = bytes?;
    let elapsed = started.elapsed();
    println!(
        "{REQUESTS} sequential keep-alive GETs in {:.3} s ({:.0} req/s), {bytes} body bytes",
        elapsed.as_secs_f64(),
        REQUESTS as f64 / elapsed.as_secs_f64()
    );
    println!(
        "heap allocations per request on this thread: {:.2}",
        counts.total_requests() as f64 / REQUESTS as f64
    );
    println!("client: {:?}", client.stats());
    println!("arenas: {:?}", arenas.stats());
    if let Some(server) = server {
        server.stop()?;
    }
    Ok(())
}
