//! The may_minihttp peer of `cargo xtask bench`: `GET /` answers `Hello, World!` (the
//! same 13-byte body as the other servers), on `may` coroutines with N worker threads.
//!
//! `may-minihttp-peer ADDR [WORKERS]` (default: one worker per core).

use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, _req: Request, rsp: &mut Response) -> io::Result<()> {
        rsp.header("Content-Type: text/plain; charset=utf-8");
        rsp.body("Hello, World!");
        Ok(())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8083".into());
    let workers = args
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    may::config().set_workers(workers);
    let server = HttpServer(Hello).start(&addr).expect("bind");
    println!("may-minihttp-peer: listening on http://{addr}/ with {workers} workers");
    server.wait();
}
