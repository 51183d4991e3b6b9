//! Watching the server process: ports, RSS, thread names, `/stats`, and the sampler that
//! records peak memory, arenas in use and connections during the soak.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shockwave_http11::{BodyLength, Method};

use super::traffic::h1::{request, H1};

/// A free loopback TCP port (free on UDP too when `udp_too`).
pub(super) fn free_port(udp_too: bool) -> Result<u16, String> {
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        if !udp_too || UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port".into())
}

/// The resident set size of `pid`, KiB.
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Thread names (`comm`, 15 bytes at most) of the process, counted.
pub(super) fn thread_names(pid: u32) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            if let Ok(name) = std::fs::read_to_string(e.path().join("comm")) {
                *names.entry(name.trim().to_string()).or_default() += 1;
            }
        }
    }
    names
}

/// `GET /stats` over a fresh connection.
pub(super) fn stats(addr: SocketAddr) -> Result<serde_json::Value, String> {
    let mut c = H1::connect(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    c.send(&request(
        &Method::GET,
        "/stats",
        &[],
        BodyLength::None,
        false,
    ))?;
    let r = c.read_response()?;
    if r.status != 200 {
        return Err(format!("/stats answered {}", r.status));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("/stats is not JSON: {e}"))
}

/// Arenas in use over every protocol (the server's `/stats` totals include HTTP/3; its
/// `"http3"` object is a breakdown, not an addition).
pub(super) fn in_use(s: &serde_json::Value) -> u64 {
    get_u64(s, &["arena", "arenas_in_use"])
}

/// The number at `path` in `v`, 0 if absent.
pub(super) fn get_u64(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

/// Seconds between two samples of the RSS series the plateau check fits.
pub(super) const SERIES_EVERY_SECS: u64 = 2;

/// Memory samples of the server, every 100 ms.
#[derive(Default)]
pub(super) struct Memory {
    pub(super) peak_kib: AtomicU64,
    pub(super) samples: AtomicU64,
    /// RSS every [`SERIES_EVERY_SECS`]: (seconds since the traffic started, KiB).
    pub(super) series: Mutex<Vec<super::plateau::Sample>>,
    /// Peak arenas in use and open connections seen on `/stats` (sampled every second).
    pub(super) peak_arenas_in_use: AtomicU64,
    pub(super) peak_connections: AtomicU64,
}

/// Samples RSS every 100 ms (into the series every [`SERIES_EVERY_SECS`]) and `/stats`
/// every second until `stop`; `started` is when the traffic started.
pub(super) fn sampler(
    pid: u32,
    plain: SocketAddr,
    stop: &AtomicBool,
    mem: &Memory,
    started: Instant,
) {
    let mut n = 0u64;
    let mut next_series = 0.0;
    while !stop.load(Relaxed) {
        if let Some(kib) = rss_kib(pid) {
            mem.peak_kib.fetch_max(kib, Relaxed);
            mem.samples.fetch_add(1, Relaxed);
            let t = started.elapsed().as_secs_f64();
            if t >= next_series {
                next_series = t + SERIES_EVERY_SECS as f64;
                mem.series
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((t, kib));
            }
        }
        n += 1;
        if n.is_multiple_of(10) {
            if let Ok(s) = stats(plain) {
                mem.peak_arenas_in_use.fetch_max(in_use(&s), Relaxed);
                mem.peak_connections
                    .fetch_max(get_u64(&s, &["connections", "active"]), Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
