//! The smallest Shockwave server: `cargo run --release -p shockwave --example hello`,
//! then `curl http://127.0.0.1:8080/`. Ctrl-C stops it gracefully.

use shockwave::server::{handler_fn, Response, Server};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    println!("hello: listening on http://{addr}/");
    Server::builder()
        .bind(addr.parse().expect("an address like 127.0.0.1:8080"))
        .run(handler_fn(async |_cx| Response::text("Hello, World!")))
}
