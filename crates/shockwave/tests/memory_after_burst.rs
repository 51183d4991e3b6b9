//! After a burst, memory comes back. Two bursts of concurrent HTTP/1.1 connections, each
//! uploading a body that the server echoes:
//!
//! 1. 128 connections × 192 KiB that then stay open, idle (keep-alive): each one's write
//!    buffer grew to hold its response, and must be cut back while the connection idles;
//! 2. 96 connections × 1.25 MiB (120 MiB through the server at once; each arena grows past
//!    the pool's retained capacity and is dropped on return), then all close.
//!
//! After each, the process's resident set must fall back near where it started: the
//! baseline plus what the arena pool is allowed to retain (its own `retained_bytes`, a
//! bounded idle list) plus a small slack (plus the open connections' read and write
//! buffers in the first case). Without the worker's trim after a bulk release, glibc keeps
//! the freed heap of the worker's malloc arena resident and the process stays near its
//! peak (measured: 144 MiB after the second burst, against 13 MiB with the trim); without
//! the idle-buffer cut, the first burst's connections keep 256 KiB write buffers each.
//!
//! The server runs in this process (one worker); the clients are plain blocking sockets
//! writing one shared body and reading into a fixed buffer, so the test's own allocations
//! stay small. Waits are bounded and polled (no timing assertion). Linux only: it reads
//! `/proc/self/status`.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shockwave::server::{Handler, RequestContext, Response, Server, ServerHandle};

/// The first burst: connections that stay open afterwards, and each one's body.
const IDLE_CONNECTIONS: usize = 128;
const IDLE_BODY: usize = 192 * 1024;
/// What an open idle connection may keep: its read and write buffers (16 KiB each) and
/// its socket and task.
const PER_IDLE_CONNECTION_KIB: u64 = 48;
/// The second burst: connections that all close afterwards, and each one's body.
const CONNECTIONS: usize = 96;
const BODY: usize = 1280 * 1024;
/// What may stay resident beyond the baseline and the arena pool's retained bytes: the
/// worker's bounded buffer pool (128 × 16 KiB), allocator bookkeeping, and the test's
/// own threads (stacks glibc caches for reuse).
const SLACK_KIB: u64 = 12 * 1024;
/// How long the server may take to give memory back (its trim runs on the worker's next
/// tick after the bulk release; this is a bound, not a measurement).
const WAIT: Duration = Duration::from_secs(20);

struct Echo;

impl Handler for Echo {
    async fn call<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
        match cx.path() {
            "/echo" => match cx.body().to_arena().await {
                Ok(body) => Response::ok().body(body),
                Err(e) => Response::new(e.status()),
            },
            _ => Response::text("Hello, World!"),
        }
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Sends `request` on `s`, then reads one response with a Content-Length into `buf`
/// (discarding the body); returns (status, body length).
fn exchange(s: &mut TcpStream, request: &[&[u8]], buf: &mut [u8]) -> (u16, usize) {
    for part in request {
        s.write_all(part).unwrap();
    }
    let (mut filled, mut head_end) = (0, None);
    while head_end.is_none() {
        let n = s.read(&mut buf[filled..]).unwrap();
        assert!(n > 0, "connection closed before the response head");
        filled += n;
        head_end = buf[..filled]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4);
    }
    let head_end = head_end.unwrap();
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("a content-length");
    let mut got = filled - head_end;
    while got < length {
        let n = s.read(buf).unwrap();
        assert!(n > 0, "connection closed mid-body ({got} of {length})");
        got += n;
    }
    (status, got)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// `connections` concurrent connections each upload `len` bytes to `/echo` and read the
/// echo; each holds its connection until all are answered. Returns the open connections
/// and the peak RSS seen (KiB).
fn burst(addr: SocketAddr, connections: usize, len: usize) -> (Vec<TcpStream>, u64) {
    let body: Arc<Vec<u8>> = Arc::new((0..len).map(|i| (i * 7) as u8).collect());
    let head = format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n");
    let barrier = Arc::new(Barrier::new(connections + 1));
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<JoinHandle<TcpStream>> = (0..connections)
        .map(|_| {
            let (barrier, answered) = (barrier.clone(), answered.clone());
            let (body, head) = (body.clone(), head.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut s = connect(addr);
                    let r = exchange(&mut s, &[head.as_bytes(), &body], &mut buf);
                    assert_eq!(r, (200, len));
                    answered.fetch_add(1, SeqCst);
                    barrier.wait();
                    s
                })
                .unwrap()
        })
        .collect();
    let mut peak = rss_kib();
    while answered.load(SeqCst) < connections {
        // A client that failed ends before the barrier: join it to show its panic.
        if clients.iter().any(|c| c.is_finished()) {
            for c in clients {
                c.join().unwrap();
            }
            unreachable!("a client ended before the barrier");
        }
        peak = peak.max(rss_kib());
        std::thread::sleep(Duration::from_millis(5));
    }
    peak = peak.max(rss_kib());
    barrier.wait();
    let streams = clients.into_iter().map(|c| c.join().unwrap()).collect();
    (streams, peak)
}

/// Waits (bounded) until `open` connections remain, no arena is in use and RSS is within
/// `baseline + retained arenas + extra`; returns (RSS, bound, retained) in KiB.
fn settle(handle: &ServerHandle, open: u64, baseline: u64, extra: u64) -> (u64, u64, u64) {
    let start = Instant::now();
    loop {
        let stats = handle.stats();
        let retained = stats.arena.retained_bytes / 1024;
        let bound = baseline + retained + extra;
        let after = rss_kib();
        let settled = stats.connections_active == open && stats.arena.arenas_in_use == 0;
        if (settled && after <= bound) || start.elapsed() > WAIT {
            return (after, bound, retained);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn rss_comes_back_after_bursts_of_big_bodies() {
    let handle = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .handle_signals(false)
        .start(Echo)
        .expect("server starts");
    let addr = handle.local_addr();

    // Warm up (one echo, one small request), then the baseline.
    let mut buf = vec![0u8; 64 * 1024];
    let head = format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {IDLE_BODY}\r\n\r\n");
    let body = vec![7u8; IDLE_BODY];
    let r = exchange(&mut connect(addr), &[head.as_bytes(), &body], &mut buf);
    assert_eq!(r, (200, IDLE_BODY));
    let get: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(exchange(&mut connect(addr), &[get], &mut buf).0, 200);
    std::thread::sleep(Duration::from_millis(1500));
    let baseline = rss_kib();

    // 1. Connections that stay open and idle after big responses.
    let (open, peak) = burst(addr, IDLE_CONNECTIONS, IDLE_BODY);
    let extra = SLACK_KIB + IDLE_CONNECTIONS as u64 * PER_IDLE_CONNECTION_KIB;
    let (after, bound, retained) = settle(&handle, IDLE_CONNECTIONS as u64, baseline, extra);
    eprintln!(
        "idle connections: RSS baseline {baseline} KiB, peak {peak} KiB, after {after} KiB \
         (bound {bound} KiB = baseline + retained arenas {retained} KiB + {extra} KiB)"
    );
    assert!(
        after <= bound,
        "RSS did not come back while {IDLE_CONNECTIONS} connections idle: baseline {baseline} \
         KiB, peak {peak} KiB, after {after} KiB > bound {bound} KiB (retained arenas \
         {retained} KiB)"
    );
    drop(open);

    // 2. Arenas past the retained capacity, then every connection closes.
    let (open, peak) = burst(addr, CONNECTIONS, BODY);
    drop(open);
    let (after, bound, retained) = settle(&handle, 0, baseline, SLACK_KIB);
    eprintln!(
        "closed connections: RSS baseline {baseline} KiB, peak {peak} KiB, after {after} KiB \
         (bound {bound} KiB = baseline + retained arenas {retained} KiB + slack {SLACK_KIB} KiB)"
    );
    assert!(
        after <= bound,
        "RSS did not come back after the burst: baseline {baseline} KiB, peak {peak} KiB, \
         after {after} KiB > bound {bound} KiB (retained arenas {retained} KiB)"
    );
    handle.stop().unwrap();
}
