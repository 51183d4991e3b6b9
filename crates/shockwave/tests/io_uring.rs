//! The io_uring driver of the cleartext TCP listener (`Io::Uring`): keep-alive,
//! pipelining, request bodies (Content-Length and chunked, past the receive backpressure
//! mark), large responses (short writes, the send cap), many connections, the limits and
//! timeouts of the epoll path, h2c, graceful shutdown, curl and wrk as peers, and the
//! fallback to epoll where io_uring is unavailable.
//!
//! Every server here asserts `ServerHandle::io() == Io::Uring` first, so a silent fallback
//! fails the tests instead of testing epoll.

mod server_util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use server_util::{builder, connect, read_response, read_to_close, require_tool, stop};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Handler, Io, RequestContext, Response, ServerBuilder, ServerHandle};

/// The default routes plus a large response, a slow handler and a body counter.
struct Routes(DefaultRoutes);

const BIG: usize = 4 << 20;

impl Handler for Routes {
    async fn call<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/big" => {
                let body: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
                Response::ok().body(Bytes::from(body))
            }
            "/slow" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Response::text("slow done")
            }
            "/count" => {
                let body = cx.body().to_arena().await.unwrap_or_default();
                let n = cx.arena().alloc_str(&body.len().to_string()).unwrap();
                Response::text(n)
            }
            _ => self.0.call(cx).await,
        }
    }
}

fn uring() -> ServerBuilder {
    builder().io(Io::Uring)
}

fn start_with(b: ServerBuilder) -> ServerHandle {
    let h = b.start(Routes(DefaultRoutes::new())).unwrap();
    assert_eq!(
        h.io(),
        Io::Uring,
        "io_uring must be available in CI (kernel 6.0+)"
    );
    h
}

fn start() -> ServerHandle {
    start_with(uring())
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

#[test]
fn keep_alive_gets_share_one_connection() {
    let h = start();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    for i in 0..100 {
        let path = if i % 2 == 0 { "/" } else { "/json" };
        s.write_all(&get(path)).unwrap();
        let r = read_response(&mut s, &mut pending);
        assert_eq!(r.status, 200);
        if i % 2 == 0 {
            assert_eq!(r.body, b"Hello, World!");
        } else {
            assert_eq!(r.body, br#"{"message":"Hello, World!"}"#);
        }
    }
    assert_eq!(h.stats().connections_accepted, 1);
    assert_eq!(h.stats().requests, 100);
    stop(h);
}

#[test]
fn pipelined_requests_sixteen_deep_come_back_in_order() {
    let h = start();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    for round in 0..20 {
        let mut batch = Vec::new();
        for i in 0..16 {
            let path = if (round + i) % 3 == 0 { "/json" } else { "/" };
            batch.extend_from_slice(&get(path));
        }
        s.write_all(&batch).unwrap();
        for i in 0..16 {
            let r = read_response(&mut s, &mut pending);
            assert_eq!(r.status, 200);
            let want: &[u8] = if (round + i) % 3 == 0 {
                br#"{"message":"Hello, World!"}"#
            } else {
                b"Hello, World!"
            };
            assert_eq!(r.body, want, "round {round} request {i}");
        }
    }
    assert!(pending.is_empty());
    assert_eq!(h.stats().requests, 320);
    stop(h);
}

#[test]
fn post_bodies_content_length_and_chunked() {
    let h = start();
    let mut s = connect(h.local_addr());
    let mut pending = Vec::new();
    // Small, then past the receive backpressure mark (256 KiB unread): the multishot
    // receive is cancelled and re-armed as the handler reads.
    for len in [5usize, 70_000, 3 << 20] {
        let body: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut req =
            format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        req.extend_from_slice(&body);
        let writer = {
            let mut w = s.try_clone().unwrap();
            std::thread::spawn(move || w.write_all(&req).unwrap())
        };
        let r = read_response(&mut s, &mut pending);
        writer.join().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), len);
        assert!(r.body == body, "echoed body differs (len {len})");
    }
    // Chunked, in uneven chunks, counted by the handler.
    let mut req = b"POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut total = 0;
    for size in [1usize, 10, 1000, 65_536, 300_000] {
        req.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        req.extend(std::iter::repeat_n(b'z', size));
        req.extend_from_slice(b"\r\n");
        total += size;
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || w.write_all(&req).unwrap())
    };
    let r = read_response(&mut s, &mut pending);
    writer.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, total.to_string().as_bytes());
    stop(h);
}

#[test]
fn large_responses_survive_short_writes_and_a_slow_reader() {
    let h = start();
    let mut s = connect(h.local_addr());
    // A small receive buffer: the server's sends come back short and wait on the socket.
    socket2::SockRef::from(&s)
        .set_recv_buffer_size(32 * 1024)
        .unwrap();
    let mut pending = Vec::new();
    for _ in 0..2 {
        s.write_all(&get("/big")).unwrap();
        // Let the server fill the socket and its send cap before reading.
        std::thread::sleep(Duration::from_millis(200));
        let r = read_response(&mut s, &mut pending);
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), BIG);
        assert!(
            r.body
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i % 251) as u8),
            "response bytes out of order"
        );
    }
    // The connection still serves after the large responses.
    s.write_all(&get("/")).unwrap();
    assert_eq!(read_response(&mut s, &mut pending).body, b"Hello, World!");
    stop(h);
}

#[test]
fn many_connections_at_once() {
    let h = start_with(uring().workers(2));
    let addr = h.local_addr();
    let mut conns: Vec<_> = (0..300).map(|_| connect(addr)).collect();
    let mut pendings = vec![Vec::new(); conns.len()];
    for round in 0..3 {
        for s in conns.iter_mut() {
            s.write_all(&get("/")).unwrap();
        }
        for (s, p) in conns.iter_mut().zip(pendings.iter_mut()) {
            let r = read_response(s, p);
            assert_eq!(r.body, b"Hello, World!", "round {round}");
        }
    }
    assert_eq!(h.stats().connections_accepted, 300);
    assert_eq!(h.stats().requests, 900);
    drop(conns);
    stop(h);
}

#[test]
fn connection_cap_refuses_with_503() {
    let h = start_with(uring().max_connections_per_worker(2));
    let addr = h.local_addr();
    let mut a = connect(addr);
    let mut b = connect(addr);
    let mut pending = Vec::new();
    // Both are admitted (served) before the third arrives.
    for s in [&mut a, &mut b] {
        s.write_all(&get("/")).unwrap();
        assert_eq!(read_response(s, &mut pending).status, 200);
    }
    let mut c = connect(addr);
    let out = read_to_close(&mut c);
    assert!(
        out.starts_with(b"HTTP/1.1 503"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(h.stats().connections_refused, 1);
    drop((a, b));
    stop(h);
}

fn status_of(addr: SocketAddr, req: &[u8]) -> u16 {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    let out = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&out);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[test]
fn limits_431_413_400_as_on_epoll() {
    let h = start_with(uring().max_header_bytes(4096).max_body_size(1000));
    let addr = h.local_addr();
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nx-big: {}\r\n\r\n",
        "v".repeat(8000)
    );
    assert_eq!(status_of(addr, big_header.as_bytes()), 431);
    let mut too_big = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n".to_vec();
    too_big.extend(std::iter::repeat_n(b'x', 5000));
    assert_eq!(status_of(addr, &too_big), 413);
    assert_eq!(
        status_of(addr, b"GET / HTTP/1.1\r\nHost: t\r\nbad header\r\n\r\n"),
        400
    );
    assert_eq!(status_of(addr, b"GET / HTTP/9.9\r\nHost: t\r\n\r\n"), 505);
    stop(h);
}

#[test]
fn idle_and_header_read_timeouts_close_connections() {
    let h = start_with(
        uring()
            .idle_timeout(Duration::from_millis(300))
            .header_read_timeout(Duration::from_millis(300)),
    );
    let addr = h.local_addr();
    // Idle after a request: closed without a response.
    let mut s = connect(addr);
    let mut pending = Vec::new();
    s.write_all(&get("/")).unwrap();
    assert_eq!(read_response(&mut s, &mut pending).status, 200);
    let t = std::time::Instant::now();
    assert!(read_to_close(&mut s).is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "idle connection kept open"
    );
    // A request head that never completes: 408.
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let out = read_to_close(&mut s);
    assert!(
        out.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    // A connection that never sends anything: closed by the header-read timeout.
    let mut s = connect(addr);
    assert!(read_to_close(&mut s).is_empty());
    assert!(h.stats().timeouts >= 2);
    stop(h);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let h = start();
    let addr = h.local_addr();
    let mut s = connect(addr);
    s.write_all(&get("/slow")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut idle = connect(addr);
    idle.write_all(&get("/")).unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut idle, &mut pending).status, 200);
    let stopper = std::thread::spawn(move || h.stop());
    // The in-flight request completes; the idle keep-alive connection is closed.
    let mut pending = Vec::new();
    let r = read_response(&mut s, &mut pending);
    assert_eq!(r.body, b"slow done");
    assert!(read_to_close(&mut idle).is_empty());
    stopper.join().unwrap().expect("server stops cleanly");
    // No longer accepting.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn h2c_prior_knowledge_over_io_uring() {
    require_tool("h2load", "sudo apt-get install -y nghttp2-client");
    let h = start();
    let url = format!("http://{}/", h.local_addr());
    // One connection, 200 requests, 10 streams at a time.
    let out = Command::new("h2load")
        .args(["-n200", "-c1", "-m10", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("200 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    assert!(text.contains("200 2xx"), "{text}");
    assert_eq!(h.stats().connections_accepted, 1);
    stop(h);
}

#[test]
fn curl_keep_alive_and_chunked_upload() {
    require_tool("curl", "sudo apt-get install -y curl");
    let h = start();
    let base = format!("http://{}", h.local_addr());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-v"])
        .args([format!("{base}/"), format!("{base}/json")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#"Hello, World!{"message":"Hello, World!"}"#
    );
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
    let body = "q".repeat(200_000);
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-H",
            "Transfer-Encoding: chunked",
        ])
        .args(["--data-binary", "@-", &format!("{base}/echo")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout == body.as_bytes(),
        "echo differs: {} bytes",
        out.stdout.len()
    );
    stop(h);
}

#[test]
fn wrk_pipelined_and_keep_alive_without_errors() {
    // (`wrk --version` exits with status 1: only its presence is checked.)
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk missing: run `sudo apt-get install -y wrk` or `cargo xtask test`"
    );
    let h = start_with(uring().workers(2));
    let url = format!("http://{}/", h.local_addr());
    let script = std::env::temp_dir().join(format!("sw-uring-pipeline-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        "init = function(args)\n  local r = {}\n  for i = 1, 16 do r[i] = wrk.format(nil, \"/\") end\n  req = table.concat(r)\nend\nrequest = function() return req end\n",
    )
    .unwrap();
    for pipelined in [false, true] {
        let mut cmd = Command::new("wrk");
        cmd.args(["-t1", "-c16", "-d1s", &url]);
        if pipelined {
            cmd.args(["-s", script.to_str().unwrap()]);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(!text.contains("Socket errors"), "{text}");
        assert!(!text.contains("Non-2xx"), "{text}");
        assert!(text.contains("requests in"), "{text}");
    }
    let _ = std::fs::remove_file(&script);
    assert!(h.stats().requests > 100);
    stop(h);
}

/// The fallback, in a child process (the switch is an environment variable): with
/// `SHOCKWAVE_IO_URING=off`, `Io::Uring` serves with epoll.
#[test]
fn falls_back_to_epoll_when_io_uring_is_unavailable() {
    if std::env::var_os("SHOCKWAVE_IO_URING_CHILD").is_some() {
        let h = builder().io(Io::Uring).start(DefaultRoutes::new()).unwrap();
        assert_eq!(h.io(), Io::Epoll);
        let mut s = connect(h.local_addr());
        s.write_all(&get("/")).unwrap();
        let mut pending = Vec::new();
        assert_eq!(read_response(&mut s, &mut pending).body, b"Hello, World!");
        stop(h);
        println!("fallback child: served with epoll");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "falls_back_to_epoll_when_io_uring_is_unavailable",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SHOCKWAVE_IO_URING", "off")
        .env("SHOCKWAVE_IO_URING_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fallback child: served with epoll"),
        "{stdout}"
    );
    // Without the switch the same builder gets io_uring.
    let h = start();
    stop(h);
}

#[test]
fn the_cli_serves_with_io_uring_and_falls_back() {
    let bin = env!("CARGO_BIN_EXE_shockwave");
    for (off, want) in [(false, "--io uring"), (true, "--io epoll")] {
        let mut cmd = Command::new(bin);
        cmd.args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--io",
            "uring",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        if off {
            cmd.env("SHOCKWAVE_IO_URING", "off");
        }
        let mut child = cmd.spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\n") && stdout.read(&mut byte).unwrap() == 1 {
            line.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        assert!(line.contains(want), "{line}");
        if off {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("io_uring is unavailable"), "{err}");
        }
    }
}

/// An upgraded connection (WebSocket, the `/ws` echo) runs on the ring's stream too.
#[tokio::test]
async fn websocket_upgrade_over_io_uring() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let h = start();
    let url = format!("ws://{}/ws", h.local_addr());
    let tcp = tokio::net::TcpStream::connect(h.local_addr())
        .await
        .unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    let big: Vec<u8> = (0..600 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(big));
    ws.close(None).await.unwrap();
    tokio::task::spawn_blocking(move || stop(h)).await.unwrap();
}
