//! A minimal HTTP/2 server (h2c with prior knowledge) on one thread, with the same
//! handler API as HTTP/1.1:
//!
//! ```sh
//! cargo run --release -p shockwave --example http2_server -- 127.0.0.1:8080
//! curl --http2-prior-knowledge http://127.0.0.1:8080/
//! h2load -n 200000 -c 16 -m 100 http://127.0.0.1:8080/
//! h2load -n 4 -c 1 -w 30 -W 30 'http://127.0.0.1:8080/bytes?268435456'
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use shockwave::arena::ArenaPool;
use shockwave::server::{handler_fn, Response};
use shockwave::server::{serve_connection, ServeContext};
use shockwave_http11::DateCache;

static CHUNK: [u8; 1 << 20] = [b'x'; 1 << 20];

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!(
            "HTTP/2 (h2c prior knowledge) on http://{}",
            listener.local_addr()?
        );
        // `/bytes?N`: N bytes streamed in 1 MiB chunks (the throughput run).
        let handler = handler_fn(async |cx| match cx.path() {
            "/" => Response::text("Hello, World!"),
            "/bytes" => {
                let n: usize = cx.query().and_then(|q| q.parse().ok()).unwrap_or(1 << 30);
                let chunks = (0..n.div_ceil(CHUNK.len())).map(move |i| {
                    let len = (n - i * CHUNK.len()).min(CHUNK.len());
                    Ok(bytes::Bytes::from_static(&CHUNK[..len]))
                });
                Response::ok().stream(futures_util::stream::iter(chunks))
            }
            _ => Response::status_code(404),
        });
        let state = Rc::new((
            handler,
            ArenaPool::default(),
            RefCell::new(DateCache::new(std::time::SystemTime::now())),
        ));
        loop {
            let (stream, remote) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::task::spawn_local(async move {
                let mut cx = ServeContext::new(&state.0, &state.1);
                cx.remote_addr = Some(remote);
                let date = || shockwave::server::cached_date(&state.2);
                cx.date = Some(&date);
                if let Err(e) = serve_connection(stream, cx, &[]).await {
                    eprintln!("connection from {remote}: {e}");
                }
            });
        }
    })
}
