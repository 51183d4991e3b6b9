//! The loopback "ceiling" for `cargo xtask load`: no HTTP parsing at all. Each worker
//! (current-thread runtime, `SO_REUSEPORT` listener, like shockwave) reads, counts the
//! request heads in what it read (`\r\n\r\n`), and writes that many canned responses in
//! one write. Whatever a real server does costs more than this.
//!
//! `cargo run --release -p shockwave-benches --bin ceiling_server -- 127.0.0.1:8082`

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 17:00:00 GMT\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n\r\nHello, World!";

fn listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8082".into())
        .parse()
        .expect("an address like 127.0.0.1:8082");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = listener(addr)?;
    let actual = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(listener(actual)?);
    }
    println!("ceiling_server: listening on http://{actual}/");
    let threads: Vec<_> = sockets
        .into_iter()
        .map(|sock| {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    let l = tokio::net::TcpListener::from_std(sock)?;
                    loop {
                        let (mut s, _) = l.accept().await?;
                        let _ = s.set_nodelay(true);
                        tokio::task::spawn_local(async move {
                            let mut buf = vec![0u8; 32 * 1024];
                            let mut out = Vec::with_capacity(32 * 1024);
                            let mut tail = 0usize; // bytes of a partial "\r\n\r\n" carried over
                            loop {
                                let n = match s.read(&mut buf[tail..]).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => n,
                                };
                                let end = tail + n;
                                let count =
                                    memchr::memmem::find_iter(&buf[..end], b"\r\n\r\n").count();
                                tail = end.min(3);
                                buf.copy_within(end - tail..end, 0);
                                out.clear();
                                for _ in 0..count {
                                    out.extend_from_slice(RESPONSE);
                                }
                                if !out.is_empty() && s.write_all(&out).await.is_err() {
                                    return;
                                }
                            }
                        });
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), std::io::Error>(())
                })
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}
