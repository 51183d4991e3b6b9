//! WebSocket echo servers for `cargo xtask bench` (its WebSocket load section), and the
//! load generator that drives them.
//!
//! ```text
//! ws_echo serve shockwave ADDR        # recv_and_reply: borrowed, no allocation per message
//! ws_echo serve shockwave-owned ADDR  # recv/send: owned messages
//! ws_echo serve tungstenite ADDR      # tokio-tungstenite 0.28
//! ws_echo serve fastwebsockets ADDR   # fastwebsockets 0.10 over a hyper 1 upgrade
//! ws_echo load ADDR CONNECTIONS IN_FLIGHT SIZE WARMUP_S SECONDS [SERVER_PID]
//! ```
//!
//! Every server echoes text and binary messages, answers pings (the libraries do it),
//! has permessage-deflate off (the load generator does not offer it) and runs with one
//! worker thread per core: shockwave's server with its default worker count, the peers
//! on a multi-thread tokio runtime, one task per connection, as in their own examples.
//!
//! The load generator opens CONNECTIONS connections on one current-thread runtime (so
//! it takes one core at most), keeps IN_FLIGHT binary messages of SIZE bytes in flight
//! on each (a new one goes out as each echo comes back, echoes are checked for opcode
//! and length), warms up for WARMUP_S seconds, then counts echoes for SECONDS. It prints
//! one line:
//!
//! ```text
//! ws_echo: messages=N errors=E mps=M server_cpu_us_per_msg=C client_busy=B
//! ```
//!
//! where the server's CPU time is utime + stime from `/proc/PID/stat` summed over
//! SERVER_PID and its descendants (the process tree), read at the start and the end
//! of the measured window, and `client_busy` is the load generator's own CPU time over
//! wall time in that window (near 1.0: the load generator, not the server, sets the
//! pace). Frames are masked with a fixed key and pre-encoded once, so the load generator
//! spends its time on the socket, not on encoding.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", "shockwave", addr] => serve_shockwave(addr, false),
        ["serve", "shockwave-owned", addr] => serve_shockwave(addr, true),
        ["serve", "tungstenite", addr] => runtime().block_on(serve_tungstenite(addr)),
        ["serve", "fastwebsockets", addr] => runtime().block_on(serve_fastwebsockets(addr)),
        ["load", addr, c, n, size, warmup, secs, ref pid @ ..] => {
            let num = |s: &str| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
            let run = || -> Result<(), String> {
                let pid = match pid {
                    [] => None,
                    [p] => Some(p.parse::<u32>().map_err(|e| format!("{p}: {e}"))?),
                    _ => return Err(usage()),
                };
                load(LoadArgs {
                    addr: addr.to_string(),
                    connections: num(c)? as usize,
                    in_flight: num(n)? as usize,
                    size: num(size)? as usize,
                    warmup: Duration::from_secs(num(warmup)?),
                    duration: Duration::from_secs(num(secs)?),
                    pid,
                })
            };
            run().map_err(std::io::Error::other)
        }
        _ => Err(std::io::Error::other(usage())),
    };
    if let Err(e) = r {
        eprintln!("ws_echo: {e}");
        std::process::exit(1);
    }
}

fn usage() -> String {
    "usage: ws_echo serve shockwave|shockwave-owned|tungstenite|fastwebsockets ADDR\n       \
     ws_echo load ADDR CONNECTIONS IN_FLIGHT SIZE WARMUP_S SECONDS [SERVER_PID]"
        .into()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---- servers ---------------------------------------------------------------------------

/// The shockwave echo handler: `owned` uses `recv`/`send`, else `recv_and_reply`.
struct ShockwaveEcho {
    owned: bool,
}

impl shockwave::server::Handler for ShockwaveEcho {
    async fn call<'a>(
        &'a self,
        cx: shockwave::server::RequestContext<'a>,
    ) -> shockwave::server::Response<'a> {
        use shockwave::server::ws::{WebSocketConfig, WebSocketUpgrade};
        use shockwave::websocket::Message;
        let ws = match WebSocketUpgrade::from_request(&cx) {
            Ok(ws) => ws.config(WebSocketConfig {
                deflate: None,
                ..WebSocketConfig::default()
            }),
            Err(refusal) => return refusal,
        };
        if self.owned {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(m)) = socket.recv().await {
                    if matches!(m, Message::Text(_) | Message::Binary(_))
                        && socket.send(m).await.is_err()
                    {
                        break;
                    }
                }
            })
        } else {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(_)) = socket.recv_and_reply(|m| m.is_data().then_some(m)).await {}
            })
        }
    }
}

fn serve_shockwave(addr: &str, owned: bool) -> std::io::Result<()> {
    let addr = addr.parse().map_err(std::io::Error::other)?;
    shockwave::server::Server::builder()
        .bind(addr)
        .handle_signals(true)
        .build()
        .run(ShockwaveEcho { owned })
}

async fn serve_tungstenite(addr: &str) -> std::io::Result<()> {
    use futures_util::{SinkExt as _, StreamExt as _};
    let listener = TcpListener::bind(addr).await?;
    println!(
        "ws_echo: tungstenite listening on {}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn serve_fastwebsockets(addr: &str) -> std::io::Result<()> {
    use fastwebsockets::{upgrade, OpCode, WebSocketError};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
        let mut ws = fut.await?;
        ws.set_writev(false);
        ws.set_auto_close(true);
        ws.set_auto_pong(true);
        let mut ws = fastwebsockets::FragmentCollector::new(ws);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn upgrade(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
        let (response, fut) = upgrade::upgrade(&mut req)?;
        tokio::spawn(async move {
            let _ = tokio::task::unconstrained(client(fut)).await;
        });
        Ok(response)
    }

    let listener = TcpListener::bind(addr).await?;
    println!(
        "ws_echo: fastwebsockets listening on {}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, hyper::service::service_fn(upgrade))
                .with_upgrades()
                .await;
        });
    }
}

// ---- load generator --------------------------------------------------------------------

struct LoadArgs {
    addr: String,
    connections: usize,
    in_flight: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
    pid: Option<u32>,
}

/// Counters shared by the connections.
struct Shared {
    echoes: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

/// One masked binary frame of `size` bytes (fixed mask key).
fn client_frame(size: usize) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x82];
    if size < 126 {
        f.push(0x80 | size as u8);
    } else if size <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(size as u64).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend((0..size).map(|i| (b'a' + (i % 26) as u8) ^ key[i % 4]));
    f
}

/// The header length and payload length of the server frame at the start of `b`, once
/// its header is complete.
fn server_frame(b: &[u8]) -> Option<(u8, usize, usize)> {
    if b.len() < 2 {
        return None;
    }
    let opcode = b[0] & 0x0f;
    match b[1] & 0x7f {
        126 if b.len() >= 4 => Some((opcode, 4, u16::from_be_bytes([b[2], b[3]]) as usize)),
        127 if b.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[2..10]);
            Some((opcode, 10, u64::from_be_bytes(n) as usize))
        }
        126 | 127 => None,
        n => Some((opcode, 2, n as usize)),
    }
}

async fn connection(
    addr: String,
    frames: Arc<Vec<u8>>,
    frame_len: usize,
    args: (usize, usize),
    shared: Arc<Shared>,
) -> Result<(), String> {
    let (in_flight, size) = args;
    let mut s = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; (size + 14) * 4 + 64 * 1024];
    let mut filled = 0;
    let head_end = loop {
        let n = s
            .read(&mut buf[filled..])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        filled += n;
        if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "handshake refused: {}",
            String::from_utf8_lossy(&buf[..head_end.min(80)])
        ));
    }
    buf.copy_within(head_end..filled, 0);
    filled -= head_end;
    s.write_all(&frames[..frame_len * in_flight])
        .await
        .map_err(|e| e.to_string())?;
    let mut start = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        // Whole echoes in the buffer.
        let mut done = 0;
        while let Some((opcode, hlen, len)) = server_frame(&buf[start..filled]) {
            if filled - start < hlen + len {
                break;
            }
            if opcode != 2 || len != size {
                shared.errors.fetch_add(1, Ordering::Relaxed);
            }
            start += hlen + len;
            done += 1;
        }
        if done > 0 {
            shared.echoes.fetch_add(done as u64, Ordering::Relaxed);
            let mut left = done;
            while left > 0 {
                let k = left.min(in_flight);
                s.write_all(&frames[..frame_len * k])
                    .await
                    .map_err(|e| e.to_string())?;
                left -= k;
            }
        }
        if start == filled {
            start = 0;
            filled = 0;
        } else if filled == buf.len() || buf.len() - start < size + 14 {
            buf.copy_within(start..filled, 0);
            filled -= start;
            start = 0;
        }
        let n = s
            .read(&mut buf[filled..])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        filled += n;
    }
    Ok(())
}

/// utime + stime (clock ticks) of `pid` and all its descendants.
fn tree_cpu_ticks(pid: u32) -> Result<u64, String> {
    let mut procs = Vec::new(); // (pid, ppid, ticks)
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(p) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        if let Some((ppid, ticks)) = parse_stat(&stat) {
            procs.push((p, ppid, ticks));
        }
    }
    let mut tree = vec![pid];
    let mut total = 0;
    let mut found = false;
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        for &(q, ppid, ticks) in &procs {
            if q == p {
                total += ticks;
                found = true;
            }
            if ppid == p && !tree.contains(&q) {
                tree.push(q);
            }
        }
        i += 1;
    }
    if found {
        Ok(total)
    } else {
        Err(format!("no process {pid}"))
    }
}

/// (ppid, utime + stime) from the text of /proc/PID/stat (the command may hold spaces
/// and parentheses: fields are counted after the last `)`).
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn self_cpu_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map_or(0, |(_, t)| t)
}

fn load(a: LoadArgs) -> Result<(), String> {
    if a.connections == 0 || a.in_flight == 0 {
        return Err("CONNECTIONS and IN_FLIGHT must be at least 1".into());
    }
    let one = client_frame(a.size);
    let frame_len = one.len();
    let frames = Arc::new(one.repeat(a.in_flight));
    let shared = Arc::new(Shared {
        echoes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let tck = clock_ticks();
    // The clock runs on its own thread: the runtime's thread is busy with the sockets.
    let clock = {
        let shared = shared.clone();
        let (warmup, duration, pid) = (a.warmup, a.duration, a.pid);
        std::thread::spawn(move || -> Result<(u64, f64, f64, f64), String> {
            std::thread::sleep(warmup);
            let cpu0 = pid.map(tree_cpu_ticks).transpose()?;
            let self0 = self_cpu_ticks();
            let n0 = shared.echoes.load(Ordering::Relaxed);
            let t0 = Instant::now();
            std::thread::sleep(duration);
            let n1 = shared.echoes.load(Ordering::Relaxed);
            let wall = t0.elapsed().as_secs_f64();
            let self1 = self_cpu_ticks();
            let cpu1 = pid.map(tree_cpu_ticks).transpose()?;
            shared.stop.store(true, Ordering::Relaxed);
            let n = n1 - n0;
            let server_cpu = match (cpu0, cpu1) {
                (Some(a), Some(b)) if n > 0 => (b - a) as f64 / tck * 1e6 / n as f64,
                _ => f64::NAN,
            };
            let busy = (self1 - self0) as f64 / tck / wall;
            Ok((n, n as f64 / wall, server_cpu, busy))
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let failures = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..a.connections {
            tasks.push(tokio::spawn(connection(
                a.addr.clone(),
                frames.clone(),
                frame_len,
                (a.in_flight, a.size),
                shared.clone(),
            )));
        }
        let mut failures = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(e.to_string()),
            }
        }
        failures
    });
    let (n, mps, cpu, busy) = clock
        .join()
        .map_err(|_| "the clock thread panicked".to_string())??;
    let errors = shared.errors.load(Ordering::Relaxed) + failures.len() as u64;
    if let Some(f) = failures.first() {
        eprintln!(
            "ws_echo: {} connection(s) failed, first: {f}",
            failures.len()
        );
    }
    println!(
        "ws_echo: messages={n} errors={errors} mps={mps:.1} server_cpu_us_per_msg={cpu:.3} \
         client_busy={busy:.2}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_stat() {
        let f = client_frame(64);
        assert_eq!(&f[..2], &[0x82, 0x80 | 64]);
        assert_eq!(f.len(), 2 + 4 + 64);
        let f = client_frame(65536);
        assert_eq!(f[1], 0x80 | 127);
        assert_eq!(f.len(), 10 + 4 + 65536);
        assert_eq!(server_frame(&[0x82, 126, 1, 0]), Some((2, 4, 256)));
        assert_eq!(server_frame(&[0x82, 126, 1]), None);
        assert_eq!(server_frame(&[0x81, 5]), Some((1, 2, 5)));
        let stat = "42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 250 75 0 0";
        assert_eq!(parse_stat(stat), Some((7, 325)));
    }
}
