//! Fairness on one worker: a client flooding its connection (pipelined HTTP/1.1 requests
//! without end, or an h2c connection full of small frames) must not starve another
//! connection of the same worker. A legit client sends 200 sequential requests during the
//! flood (three flooding connections on the same worker); its p99 latency must stay under
//! 50 ms (the bound the hardening asked for; a
//! debug build is slower than a release build, so the bound is also allowed to be 10x the
//! unloaded p99 of the same build when that is larger — in practice the debug p99 under
//! load is a few milliseconds once each connection yields after a bounded amount of input).
//! Every loop is bounded (by count and by time); 127.0.0.1 only.
#![cfg(feature = "http2")]

mod http2_support;
mod server_util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http2_support::{Client, F};
use server_util::{builder, connect, read_response, stop};
use shockwave::server::routes::DefaultRoutes;

/// 200 sequential keep-alive GETs; returns the sorted latencies.
fn legit_latencies(addr: SocketAddr) -> Vec<Duration> {
    let mut s = connect(addr);
    let mut pending = Vec::new();
    let mut lat = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let r = read_response(&mut s, &mut pending);
        lat.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    lat.sort();
    lat
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

/// Runs `floods` connections of `flood`, each on its own threads, until the legit client is done (or 60 s, or the
/// flood's own bound), then returns the legit p99, the unloaded p99 and the flood's count
/// of answers received while the legit client ran.
fn measure(
    flood: fn(SocketAddr, Arc<AtomicBool>, Arc<AtomicU64>),
    floods: usize,
) -> (Duration, Duration, u64) {
    let h = builder().workers(1).start(DefaultRoutes::new()).unwrap();
    let addr = h.local_addr();
    // Warm-up, then the unloaded baseline.
    legit_latencies(addr);
    let base = p99(&legit_latencies(addr));
    let stop_flag = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..floods)
        .map(|_| {
            let (stop_flag, answered) = (stop_flag.clone(), answered.clone());
            std::thread::spawn(move || flood(addr, stop_flag, answered))
        })
        .collect();
    // Let the flood get going (it must be answered before we measure).
    let t = Instant::now();
    while answered.load(Ordering::Relaxed) < 1000 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = answered.load(Ordering::Relaxed);
    assert!(before >= 1000, "the flood never got going");
    let loaded = legit_latencies(addr);
    let during = answered.load(Ordering::Relaxed) - before;
    stop_flag.store(true, Ordering::Relaxed);
    for f in flooders {
        f.join().unwrap();
    }
    stop(h);
    (p99(&loaded), base, during)
}

/// Serializes the two tests: each measures latency on a 1-worker server with three
/// flooding connections, and running both at once would measure the machine instead.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Measures up to three times; passes on the first run within the bound. A worker that a
/// flood starves misses the bound every time (before the per-poll input bound: ~110 ms for
/// HTTP/1.1, ~160 ms for HTTP/2 here); a loaded machine's scheduling noise rarely does it
/// three times in a row.
fn assert_fair(what: &str, flood: fn(SocketAddr, Arc<AtomicBool>, Arc<AtomicU64>)) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (loaded, base, during) = measure(flood, 3);
        eprintln!(
            "{what}: legit p99 {loaded:?} under flood, {base:?} unloaded; \
             {during} flood answers meanwhile"
        );
        // The flood kept going while the legit client was measured.
        assert!(during > 0, "{what}: the flood stalled");
        let bound = Duration::from_millis(50).max(base * 10);
        if loaded < bound {
            return;
        }
        runs.push((loaded, bound, base));
    }
    panic!("{what}: legit p99 over the bound in every run (p99, bound, unloaded): {runs:?}");
}

/// Pipelines GETs in batches of 64 as fast as the server takes them (a reader thread
/// drains the answers); at most 2,000,000 requests.
fn h1_pipeline_flood(addr: SocketAddr, stop_flag: Arc<AtomicBool>, answered: Arc<AtomicU64>) {
    let mut w = TcpStream::connect(addr).unwrap();
    w.set_nodelay(true).unwrap();
    w.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = w.try_clone().unwrap();
    r.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let reader = {
        let (stop_flag, answered) = (stop_flag.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let deadline = Instant::now() + Duration::from_secs(90);
            while !stop_flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let c = buf[..n].windows(4).filter(|w| w == b"HTTP").count();
                        answered.fetch_add(c as u64, Ordering::Relaxed);
                    }
                    Err(_) => {}
                }
            }
        })
    };
    let batch = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(64);
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..2_000_000 / 64 {
        if stop_flag.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        if w.write_all(&batch).is_err() {
            break;
        }
    }
    stop_flag.store(true, Ordering::Relaxed);
    reader.join().unwrap();
}

/// An h2c connection full of small frames that ask for no answer: connection-level
/// WINDOW_UPDATEs of 1 (valid, no glitch: the window grows by 1 per frame, far from
/// overflowing), 2,000 per write, each batch followed by one PING whose ACK (read by a
/// reader thread) shows the flood is being processed; at most 20,000,000 frames.
fn h2_frame_flood(addr: SocketAddr, stop_flag: Arc<AtomicBool>, answered: Arc<AtomicU64>) {
    let mut w = TcpStream::connect(addr).unwrap();
    w.set_nodelay(true).unwrap();
    w.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = w.try_clone().unwrap();
    r.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut c = Client::new();
    c.preface(&[]).settings_ack();
    w.write_all(&c.take()).unwrap();
    let reader = {
        let (stop_flag, answered) = (stop_flag.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut c = Client::new();
            let mut buf = vec![0u8; 256 * 1024];
            let deadline = Instant::now() + Duration::from_secs(90);
            while !stop_flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        for f in c.parse(&buf[..n]) {
                            match f {
                                F::Ping { ack: true, .. } => {
                                    // One ACK per 2,001 frames processed.
                                    answered.fetch_add(2001, Ordering::Relaxed);
                                }
                                F::GoAway { code, .. } => panic!("flood cut off: {code:?}"),
                                _ => {}
                            }
                        }
                    }
                    Err(_) => {}
                }
            }
        })
    };
    for _ in 0..2000 {
        c.window(0, 1);
    }
    c.ping([7; 8]);
    let batch = c.take();
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..20_000_000 / 2001 {
        if stop_flag.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        if w.write_all(&batch).is_err() {
            break;
        }
    }
    stop_flag.store(true, Ordering::Relaxed);
    reader.join().unwrap();
}

#[test]
fn pipelined_h1_flood_does_not_starve_the_worker() {
    assert_fair("h1 pipelining flood", h1_pipeline_flood);
}

#[test]
fn h2c_frame_flood_does_not_starve_the_worker() {
    assert_fair("h2c small-frame flood", h2_frame_flood);
}
