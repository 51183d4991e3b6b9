//! Serves HTTP/1.1 (and h2c) on the io_uring driver, falling back to epoll where io_uring
//! is unavailable: `cargo run --example io_uring --features io-uring`, then
//! `curl http://127.0.0.1:8080/`. `SHOCKWAVE_IO_URING=off` forces the fallback.

use shockwave::server::{handler_fn, Io, Response, Server};

fn main() -> std::io::Result<()> {
    let handle = Server::builder()
        .bind("127.0.0.1:8080".parse().unwrap())
        .io(Io::Uring)
        .start(handler_fn(async |_cx| {
            Response::text("Hello from io_uring!")
        }))?;
    // `Io::Epoll` here means io_uring was unavailable (the reason is logged as a warning).
    println!(
        "listening on http://{}/ with {:?}",
        handle.local_addr(),
        handle.io()
    );
    handle.shutdown_on_signals()?;
    handle.wait()
}
