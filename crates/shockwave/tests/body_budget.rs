//! Request-body memory and minimum data rates, end to end: an HTTP/2 peer that uploads on
//! many streams and never reads its responses holds no more than the body budgets allow
//! (credit comes back only as memory is released), legitimate concurrent uploads still
//! finish, a declared length pins nothing before the bytes arrive, and slow POSTs and
//! slow readers are cut on HTTP/1.1 and HTTP/2 while a handler slow to read is not. All on
//! 127.0.0.1, bounded loops, small rates (1000 B/s after 300 ms) so each test takes < 3 s.

mod http2_support;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use http2_support::{Client, F};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{
    handler_fn, Handler, MinDataRate, RequestContext, Response, Server, ServerBuilder, ServerHandle,
};
use shockwave_http2_frames::{ErrorCode, SettingId};

const MIB: u64 = 1024 * 1024;

fn builder() -> ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .workers(1)
        .shutdown_grace(Duration::from_millis(200))
        .handle_signals(false)
}

fn slow_rate() -> Option<MinDataRate> {
    Some(MinDataRate {
        bytes_per_second: 1000,
        grace: Duration::from_millis(300),
    })
}

/// A frame-level HTTP/2 peer that keeps count of the credit the server gives it.
struct Peer {
    sock: TcpStream,
    c: Client,
    conn_window: i64,
    initial: i64,
    windows: HashMap<u32, i64>,
    frames: Vec<F>,
    /// The server's first SETTINGS was seen (acknowledged with the preface).
    settings_seen: bool,
}

impl Peer {
    fn connect(addr: SocketAddr, settings: &[(SettingId, u32)]) -> Peer {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_nodelay(true).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let mut p = Peer {
            sock,
            c: Client::new(),
            conn_window: 65_535,
            initial: 65_535,
            windows: HashMap::new(),
            frames: Vec::new(),
            settings_seen: false,
        };
        p.c.preface(settings).settings_ack();
        p.flush();
        p.pump(Duration::from_millis(100));
        p
    }

    fn flush(&mut self) {
        let bytes = self.c.take();
        self.sock.write_all(&bytes).unwrap();
    }

    /// Reads frames for `d` (or until EOF), applying the server's credit.
    fn pump(&mut self, d: Duration) -> bool {
        let end = Instant::now() + d;
        let mut buf = vec![0u8; 256 * 1024];
        while Instant::now() < end {
            match self.sock.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    let mut ack = false;
                    for f in self.c.parse(&buf[..n]) {
                        match &f {
                            F::Window { id: 0, inc } => self.conn_window += i64::from(*inc),
                            F::Window { id, inc } => {
                                *self.windows.entry(*id).or_insert(self.initial) += i64::from(*inc)
                            }
                            F::Settings {
                                ack: false,
                                entries,
                            } => {
                                // RFC 9113 §6.9.2: a new initial window moves every
                                // stream's window by the difference.
                                for (k, v) in entries {
                                    if *k == 0x4 {
                                        let delta = i64::from(*v) - self.initial;
                                        self.initial = i64::from(*v);
                                        self.windows.values_mut().for_each(|w| *w += delta);
                                    }
                                }
                                if self.settings_seen {
                                    self.c.settings_ack();
                                    ack = true;
                                }
                                self.settings_seen = true;
                            }
                            _ => {}
                        }
                        self.frames.push(f);
                    }
                    if ack {
                        self.flush();
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return false,
            }
        }
        true
    }

    fn post(&mut self, id: u32, path: &str, len: u64) {
        let len = len.to_string();
        self.c.headers(
            id,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "a.test"),
                (":path", path),
                ("content-length", &len),
            ],
            false,
        );
    }

    /// Sends as much of each body as the server's credit allows, round robin, until
    /// `deadline` or until no credit came for 500 ms. Returns the bytes sent.
    fn upload(&mut self, left: &mut HashMap<u32, u64>, deadline: Instant) -> u64 {
        let mut sent = 0u64;
        let mut idle_since = Instant::now();
        let chunk = vec![b'x'; 16_384];
        while Instant::now() < deadline && idle_since.elapsed() < Duration::from_millis(500) {
            let mut moved = false;
            let ids: Vec<u32> = left.keys().copied().collect();
            for id in ids {
                let reset = self
                    .frames
                    .iter()
                    .any(|f| matches!(f, F::Rst { id: r, .. } if *r == id));
                let rest = left[&id];
                if reset || rest == 0 {
                    continue;
                }
                let w = *self.windows.entry(id).or_insert(self.initial);
                let n = (16_384i64).min(w).min(self.conn_window).min(rest as i64);
                if n <= 0 {
                    continue;
                }
                let end = rest == n as u64;
                self.c.data(id, &chunk[..n as usize], end);
                *self.windows.get_mut(&id).unwrap() -= n;
                self.conn_window -= n;
                *left.get_mut(&id).unwrap() -= n as u64;
                sent += n as u64;
                moved = true;
            }
            if moved {
                self.flush();
                idle_since = Instant::now();
            }
            if !self.pump(Duration::from_millis(if moved { 1 } else { 20 })) {
                break;
            }
        }
        sent
    }

    fn status_of(&self, id: u32) -> Option<String> {
        self.frames.iter().find_map(|f| match f {
            F::Headers { id: i, .. } if *i == id => f.status().map(str::to_owned),
            _ => None,
        })
    }

    fn reset_of(&self, id: u32) -> Option<ErrorCode> {
        self.frames.iter().find_map(|f| match f {
            F::Rst { id: i, code } if *i == id => Some(*code),
            _ => None,
        })
    }

    fn data_len(&self, id: u32) -> usize {
        self.frames
            .iter()
            .map(|f| match f {
                F::Data { id: i, data, .. } if *i == id => data.len(),
                _ => 0,
            })
            .sum()
    }
}

fn stats_settle(h: &ServerHandle) -> shockwave::server::ServerStats {
    std::thread::sleep(Duration::from_millis(250)); // published every 100 ms
    h.stats()
}

#[test]
fn h2_uploads_that_are_never_answered_stay_within_the_body_budget() {
    // Found by an attack run: one h2c connection POSTing 10 MB bodies on 200 streams made
    // the server hold 1.6 GB, because credit went back as soon as a handler copied bytes.
    let h = builder()
        .max_body_size(2 * MIB)
        .max_body_bytes_per_connection(MIB)
        .min_response_rate(None)
        .start(DefaultRoutes::new())
        .unwrap();
    // The peer never opens its receive window: no response body can be sent to it.
    let mut p = Peer::connect(h.local_addr(), &[(SettingId::InitialWindowSize, 0)]);
    let mut left = HashMap::new();
    for i in 0..20u32 {
        let id = 1 + 2 * i;
        p.post(id, "/echo", 2 * MIB);
        left.insert(id, 2 * MIB);
    }
    p.flush();
    let sent = p.upload(&mut left, Instant::now() + Duration::from_secs(4));
    eprintln!("accepted {sent} of {} bytes offered", 40 * MIB);
    // Budget (1 MiB) + the one leading body (2 MiB) + the connection window (1 MiB) and
    // the credit opened for the leader: far below the 40 MiB offered.
    assert!(sent <= 5 * MIB, "the server took {sent} bytes");
    assert!(sent >= 2 * MIB, "the leading upload finished: {sent} bytes");
    let finished: Vec<u32> = left
        .iter()
        .filter(|(id, _)| p.status_of(**id).is_some())
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !finished.is_empty(),
        "no upload finished (deadlock): sent {sent}, left {left:?}, conn window {}, windows {:?}",
        p.conn_window,
        p.windows
    );
    let s = stats_settle(&h);
    eprintln!("peak held {} bytes", s.body_bytes_held_peak);
    assert!(
        s.body_bytes_held_peak <= 5 * MIB && s.body_bytes_held_peak >= MIB,
        "peak {}",
        s.body_bytes_held_peak
    );
    // Still over budget: a new upload is refused (safe to retry, RFC 9113 §8.7), a
    // request without a body is served.
    p.post(101, "/echo", 10);
    p.c.get(103, "/");
    p.flush();
    p.pump(Duration::from_millis(300));
    assert_eq!(p.reset_of(101), Some(ErrorCode::RefusedStream));
    assert_eq!(p.status_of(103).as_deref(), Some("200"));
    drop(p);
    // Everything comes back once the connection is gone.
    let deadline = Instant::now() + Duration::from_secs(3);
    while stats_settle(&h).body_bytes_held > 0 {
        assert!(Instant::now() < deadline, "{:?}", h.stats());
    }
    h.stop().unwrap();
}

#[test]
fn h2_concurrent_large_uploads_all_finish_under_a_small_budget() {
    let h = builder()
        .max_body_size(4 * MIB)
        .max_body_bytes_per_connection(MIB)
        .start(DefaultRoutes::new())
        .unwrap();
    let mut p = Peer::connect(
        h.local_addr(),
        &[(SettingId::InitialWindowSize, 64 * 1024 * 1024)],
    );
    p.c.window(0, 1 << 30);
    let mut left = HashMap::new();
    for id in [1u32, 3, 5, 7] {
        p.post(id, "/echo", 3 * MIB);
        left.insert(id, 3 * MIB);
    }
    p.flush();
    let deadline = Instant::now() + Duration::from_secs(20);
    let sent = p.upload(&mut left, deadline);
    assert_eq!(sent, 12 * MIB, "every byte was accepted");
    while [1u32, 3, 5, 7]
        .iter()
        .any(|id| p.data_len(*id) < 3 * MIB as usize)
    {
        assert!(Instant::now() < deadline, "responses incomplete");
        assert!(p.pump(Duration::from_millis(50)), "closed");
    }
    for id in [1u32, 3, 5, 7] {
        assert_eq!(p.status_of(id).as_deref(), Some("200"), "stream {id}");
        assert_eq!(p.reset_of(id), None);
    }
    h.stop().unwrap();
}

#[test]
fn h2_waiting_for_withheld_credit_does_not_count_against_the_body_rate() {
    // `/hold` reads 512 KiB (over the 256 KiB budget) and keeps it for 2 s. Meanwhile the
    // other upload waits for credit the server holds back, far longer than its grace
    // period and what its bytes earned: the server's wait, not the peer's.
    let h = builder()
        .max_body_size(4 * MIB)
        .max_body_bytes_per_connection(MIB / 4)
        .min_request_body_rate(Some(MinDataRate {
            bytes_per_second: 100_000,
            grace: Duration::from_millis(300),
        }))
        .start(late_reader())
        .unwrap();
    let mut p = Peer::connect(
        h.local_addr(),
        &[(SettingId::InitialWindowSize, 64 * 1024 * 1024)],
    );
    p.c.window(0, 1 << 30);
    // Stream 1 (its handler reads after 1 s) gets 10 KB now, the rest later.
    p.post(1, "/late-echo", 100_000);
    p.c.data(1, &[b'a'; 10_000], false);
    p.windows.insert(1, p.initial - 10_000);
    p.conn_window -= 10_000;
    p.post(3, "/hold", MIB / 2);
    p.flush();
    let mut left = HashMap::from([(3u32, MIB / 2)]);
    let start = Instant::now();
    assert_eq!(p.upload(&mut left, start + Duration::from_secs(5)), MIB / 2);
    let mut left = HashMap::from([(1u32, 90_000)]);
    // Credit is held back until `/hold` finishes: keep offering.
    let mut sent = 0;
    while left[&1] > 0 && p.reset_of(1).is_none() && start.elapsed() < Duration::from_secs(10) {
        sent += p.upload(&mut left, start + Duration::from_secs(10));
    }
    assert_eq!(
        sent,
        90_000,
        "reset {:?}, conn window {}, windows {:?}",
        p.reset_of(1),
        p.conn_window,
        p.windows
    );
    while p.data_len(1) < 100_000 && start.elapsed() < Duration::from_secs(10) {
        assert!(p.pump(Duration::from_millis(50)), "closed");
    }
    assert_eq!(p.reset_of(1), None, "the waiting upload was cut");
    assert_eq!(p.status_of(1).as_deref(), Some("200"));
    assert_eq!(p.data_len(1), 100_000);
    assert_eq!(p.status_of(3).as_deref(), Some("200"));
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "it did wait: {:?}",
        start.elapsed()
    );
    h.stop().unwrap();
}

#[test]
fn h2_a_declared_length_pins_nothing_before_the_bytes_arrive() {
    // Found by an attack run: 50 connections x 200 streams of POST with content-length
    // 1 MB and no body pinned 745 MiB (a zeroed 64 KiB per request, up front).
    let h = builder().start(DefaultRoutes::new()).unwrap();
    let mut p = Peer::connect(h.local_addr(), &[]);
    for i in 0..100u32 {
        p.post(1 + 2 * i, "/echo", 1_000_000);
    }
    p.flush();
    p.pump(Duration::from_millis(400));
    let s = h.stats();
    assert_eq!(s.body_bytes_held, 0, "no byte was sent");
    drop(p);
    let deadline = Instant::now() + Duration::from_secs(3);
    let s = loop {
        let s = stats_settle(&h);
        if s.arena.arenas_in_use == 0 && s.arena.gets >= 100 {
            break s;
        }
        assert!(Instant::now() < deadline, "{s:?}");
    };
    assert!(
        s.arena.peak_arena_bytes < 16 * 1024,
        "an arena held {} bytes for a body that never came",
        s.arena.peak_arena_bytes
    );
    h.stop().unwrap();
}

/// DefaultRoutes, plus `/late-echo` (reads its body only after 1 s) and `/hold` (reads its
/// body, then keeps it for 2 s before answering).
struct LateReader(DefaultRoutes);

impl Handler for LateReader {
    async fn call<'a>(&'a self, mut cx: RequestContext<'a>) -> Response<'a> {
        if cx.path() == "/hold" {
            let n = cx.body().to_arena().await.map_or(0, |b| b.len());
            tokio::time::sleep(Duration::from_secs(2)).await;
            return Response::text(if n > 0 { "held" } else { "none" });
        }
        if cx.path() == "/late-echo" {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return match cx.body().to_arena().await {
                Ok(b) => Response::ok().body(b),
                Err(e) => Response::new(e.status()),
            };
        }
        self.0.call(cx).await
    }
}

fn late_reader() -> LateReader {
    LateReader(DefaultRoutes::new())
}

#[test]
fn h2_slow_post_is_cut_and_a_late_reading_handler_is_not() {
    let h = builder()
        .min_request_body_rate(slow_rate())
        .start(late_reader())
        .unwrap();
    let mut p = Peer::connect(h.local_addr(), &[]);
    p.post(1, "/echo", 10_000);
    p.post(3, "/late-echo", 5_000);
    p.c.data(3, &[b'y'; 5_000], true);
    p.flush();
    let start = Instant::now();
    // One byte every 100 ms: a progress timeout would never fire.
    while p.reset_of(1).is_none() && start.elapsed() < Duration::from_secs(3) {
        p.c.data(1, b"z", false);
        p.flush();
        p.pump(Duration::from_millis(100));
    }
    assert_eq!(p.reset_of(1), Some(ErrorCode::Cancel), "{:?}", p.frames);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    while p.data_len(3) < 5_000 && start.elapsed() < Duration::from_secs(4) {
        p.pump(Duration::from_millis(50));
    }
    assert_eq!(p.status_of(3).as_deref(), Some("200"));
    assert_eq!(p.data_len(3), 5_000);
    assert_eq!(p.reset_of(3), None);
    h.stop().unwrap();
}

#[test]
fn h2_slow_reader_is_cut_though_it_keeps_sending_window_updates() {
    let h = builder()
        .min_response_rate(slow_rate())
        .start(DefaultRoutes::new())
        .unwrap();
    let mut p = Peer::connect(h.local_addr(), &[(SettingId::InitialWindowSize, 100)]);
    p.post(1, "/echo", 20_000);
    for _ in 0..2 {
        p.c.data(1, &[b'r'; 10_000], false);
    }
    p.c.data(1, &[], true);
    p.flush();
    let start = Instant::now();
    // Ten bytes of credit every 100 ms: each WINDOW_UPDATE restarted the old stall timer.
    while p.reset_of(1).is_none() && start.elapsed() < Duration::from_secs(3) {
        p.c.window(1, 10).window(0, 10);
        p.flush();
        p.pump(Duration::from_millis(100));
    }
    assert_eq!(p.reset_of(1), Some(ErrorCode::Cancel), "{:?}", p.frames);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    h.stop().unwrap();
}

fn h1(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    s
}

/// Reads what is there within `d`; `None` at EOF.
fn read_some(s: &mut TcpStream, d: Duration, out: &mut Vec<u8>) -> Option<usize> {
    let end = Instant::now() + d;
    let mut buf = [0u8; 1024];
    let mut got = 0;
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                got += n;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
    Some(got)
}

#[test]
fn h1_slow_post_is_cut_and_a_late_reading_handler_is_not() {
    let h = builder()
        .min_request_body_rate(slow_rate())
        .start(late_reader())
        .unwrap();
    let mut s = h1(h.local_addr());
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut closed = false;
    while !closed && got.is_empty() && start.elapsed() < Duration::from_secs(3) {
        let _ = s.write_all(b"z");
        closed = read_some(&mut s, Duration::from_millis(100), &mut got).is_none();
    }
    assert!(
        closed || got.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    let mut s = h1(h.local_addr());
    s.write_all(b"POST /late-echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    let mut got = Vec::new();
    let start = Instant::now();
    while !got.ends_with(b"hello") && start.elapsed() < Duration::from_secs(3) {
        assert!(read_some(&mut s, Duration::from_millis(50), &mut got).is_some());
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    h.stop().unwrap();
}

static BIG: [u8; 32 << 20] = [b'b'; 32 << 20];

#[test]
fn h1_slow_reader_is_cut() {
    // 10 MB/s after 300 ms: the socket buffers (a few MB on loopback) earn well under a
    // second; a reader taking 1 KiB every 100 ms is then cut.
    let h = builder()
        .min_response_rate(Some(MinDataRate {
            bytes_per_second: 10_000_000,
            grace: Duration::from_millis(300),
        }))
        .start(handler_fn(async |_cx| Response::ok().body(&BIG[..])))
        .unwrap();
    let mut s = h1(h.local_addr());
    s.write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut total = 0usize;
    let mut buf = [0u8; 1024];
    // The cut shows in the counters (the bytes already in the socket buffers still
    // arrive, one KiB at a time).
    while h.stats().timeouts == 0 && start.elapsed() < Duration::from_secs(5) {
        match s.read(&mut buf) {
            Ok(n) => total += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(h.stats().timeouts, 1, "still served after {total} bytes");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    h.stop().unwrap();
}
