//! The connection pool: one [`HostPool`] per (scheme, host, port, proxy): connections
//! through a proxy (or through another proxy, or with other proxy credentials) are
//! never shared with direct ones.
//!
//! An HTTP/1.1 connection carries one exchange at a time, so it is *checked out* of the
//! pool for a request and *checked in* (if still reusable) when the response is done.
//! A per-host semaphore bounds the connections in use; requests beyond it wait (up to the
//! pool timeout). Idle connections are kept most-recently-used first, up to
//! `max_idle_per_host`, and dropped once older than `idle_timeout` or found closed.
//!
//! HTTP/2 connections are *shared* rather than checked out: a `HostPool` keeps a short
//! list of them next to `idle` ([`HostPool::pick_h2`]); every request opens a stream on
//! one with a free stream slot (below the peer's SETTINGS_MAX_CONCURRENT_STREAMS). When
//! all are full, another is opened, up to `max_h2_per_host`; beyond that requests wait
//! for a stream slot on the least loaded one (bounded by the request timeout). Opening
//! is serialized per origin (`h2_connect`), so a burst of requests to a new origin makes
//! one connection, not one each. A connection that got GOAWAY or died is dropped from
//! the list. HTTP/3 (QUIC) connections are shared the same way, one per origin
//! ([`HostPool::pick_h3`]; QUIC multiplexes every request over it), opened under the same
//! per-origin lock, dropped once closed or after GOAWAY, and counted in the same
//! counters.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
#[cfg(feature = "http2")]
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{Error, Result, TimeoutKind};
use super::h1::Http1Conn;
#[cfg(feature = "http2")]
use super::h2::Http2Client;
#[cfg(feature = "http3")]
use super::h3::Http3Connection;
use super::target::{Scheme, Target};

/// Pool sizing and timing.
#[derive(Debug, Clone)]
pub(crate) struct PoolLimits {
    pub max_per_host: usize,
    pub max_idle_per_host: usize,
    pub idle_timeout: Duration,
    pub wait_timeout: Duration,
    #[cfg(feature = "http2")]
    pub max_h2_per_host: usize,
}

/// A pooled exclusive connection (HTTP/2 connections are shared: see
/// [`HostPool::pick_h2`]).
#[derive(Debug)]
pub(crate) enum PoolConn {
    /// An HTTP/1.1 connection (exclusive while checked out).
    Http1(Box<Http1Conn>),
}

struct Idle {
    conn: PoolConn,
    since: Instant,
}

/// The pool for one origin.
pub(crate) struct HostPool {
    scheme: Scheme,
    host: Box<str>,
    port: u16,
    /// The proxy's key ("" for direct connections).
    via: Box<str>,
    permits: Arc<Semaphore>,
    idle: Mutex<VecDeque<Idle>>,
    /// Shared HTTP/2 connections to this origin.
    #[cfg(feature = "http2")]
    h2: Mutex<Vec<H2Entry>>,
    /// The shared HTTP/3 connection to this origin, and when a request last picked it.
    #[cfg(feature = "http3")]
    h3: Mutex<Option<(Http3Connection, Instant)>>,
    /// Held while opening a connection that may become HTTP/2, or an HTTP/3 one (one at
    /// a time).
    #[cfg(any(feature = "http2", feature = "http3"))]
    pub h2_connect: tokio::sync::Mutex<()>,
    /// The origin answered ALPN with `http/1.1` (or none): don't wait for HTTP/2.
    #[cfg(feature = "http2")]
    pub speaks_h1: AtomicBool,
}

#[cfg(feature = "http2")]
struct H2Entry {
    conn: Http2Client,
    last_used: Instant,
}

/// What [`HostPool::pick_h2`] found.
#[cfg(feature = "http2")]
pub(crate) enum H2Pick {
    /// Use this connection.
    Use(Http2Client),
    /// None usable, or all full with room for another: open one.
    Open,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the deque inconsistent; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HostPool {
    /// This origin as a connect target (the path is `/`).
    #[cfg(feature = "http2")]
    pub fn target(&self) -> Target<'_> {
        Target {
            scheme: self.scheme,
            host: &self.host,
            port: self.port,
            authority: &self.host,
            path_and_query: "/",
        }
    }

    fn matches(&self, t: &Target<'_>, via: &str) -> bool {
        self.scheme == t.scheme
            && self.port == t.port
            && self.host.eq_ignore_ascii_case(t.host)
            && *self.via == *via
    }

    fn evict_expired(idle: &mut VecDeque<Idle>, now: Instant, timeout: Duration) -> usize {
        // Oldest entries are at the front.
        let mut n = 0;
        while let Some(front) = idle.front() {
            if now.duration_since(front.since) >= timeout {
                idle.pop_front();
                n += 1;
            } else {
                break;
            }
        }
        n
    }

    /// A shared HTTP/2 connection for a new request: the first with a free stream slot;
    /// if all are full, [`H2Pick::Open`] while fewer than `max_conns` exist, else the
    /// least loaded one (the request then waits for a slot). Connections that got GOAWAY
    /// or died are dropped (counted in `evicted`).
    #[cfg(feature = "http2")]
    pub fn pick_h2(&self, max_conns: usize, evicted: &AtomicU64) -> H2Pick {
        let mut list = lock(&self.h2);
        let before = list.len();
        list.retain(|e| e.conn.is_usable());
        if list.len() < before {
            evicted.fetch_add((before - list.len()) as u64, Relaxed);
        }
        let now = Instant::now();
        if let Some(e) = list.iter_mut().find(|e| e.conn.has_capacity()) {
            e.last_used = now;
            return H2Pick::Use(e.conn.clone());
        }
        if list.len() < max_conns.max(1) {
            return H2Pick::Open;
        }
        match list.iter_mut().min_by_key(|e| e.conn.active_streams()) {
            Some(e) => {
                e.last_used = now;
                H2Pick::Use(e.conn.clone())
            }
            None => H2Pick::Open,
        }
    }

    /// Adds a new shared HTTP/2 connection.
    #[cfg(feature = "http2")]
    pub fn add_h2(&self, conn: Http2Client) {
        lock(&self.h2).push(H2Entry {
            conn,
            last_used: Instant::now(),
        });
    }

    /// Drops `conn` from the shared list (it failed).
    #[cfg(feature = "http2")]
    pub fn remove_h2(&self, conn: &Http2Client) {
        lock(&self.h2).retain(|e| !e.conn.same_connection(conn));
    }

    /// Drops HTTP/2 connections that are unusable, or idle (no stream) for `timeout`.
    #[cfg(feature = "http2")]
    fn evict_h2(&self, now: Instant, timeout: Duration) -> usize {
        let mut list = lock(&self.h2);
        let before = list.len();
        list.retain(|e| {
            e.conn.is_usable()
                && (e.conn.active_streams() > 0 || now.duration_since(e.last_used) < timeout)
        });
        before - list.len()
    }

    /// Shared HTTP/2 connections currently pooled.
    #[cfg(feature = "http2")]
    pub fn h2_count(&self) -> usize {
        lock(&self.h2).len()
    }

    /// The shared HTTP/3 connection, if one is usable; one that got GOAWAY or closed is
    /// dropped (counted in `evicted`).
    #[cfg(feature = "http3")]
    pub fn pick_h3(&self, evicted: &AtomicU64) -> Option<Http3Connection> {
        let mut slot = lock(&self.h3);
        match &mut *slot {
            Some((c, last_used)) if c.is_usable() => {
                *last_used = Instant::now();
                Some(c.clone())
            }
            Some(_) => {
                *slot = None;
                evicted.fetch_add(1, Relaxed);
                None
            }
            None => None,
        }
    }

    /// Makes `conn` the shared HTTP/3 connection of this origin.
    #[cfg(feature = "http3")]
    pub fn set_h3(&self, conn: Http3Connection) {
        *lock(&self.h3) = Some((conn, Instant::now()));
    }

    /// Drops the HTTP/3 connection if it is no longer usable, or no request picked it for
    /// `timeout` (the pool's idle timeout, as for the other versions). Requests still
    /// running on it keep their handle; QUIC closes it when the last one is dropped.
    #[cfg(feature = "http3")]
    fn evict_h3(&self, now: Instant, timeout: Duration) -> usize {
        let mut slot = lock(&self.h3);
        if slot
            .as_ref()
            .is_some_and(|(c, used)| !c.is_usable() || now.duration_since(*used) >= timeout)
        {
            *slot = None;
            return 1;
        }
        0
    }

    /// Shared HTTP/3 connections currently pooled (0 or 1).
    #[cfg(feature = "http3")]
    pub fn h3_count(&self) -> usize {
        usize::from(lock(&self.h3).is_some())
    }

    /// Drops the shared (HTTP/2, HTTP/3) connections that are unusable or idle for
    /// `timeout`; returns how many.
    fn evict_shared(&self, now: Instant, timeout: Duration) -> usize {
        let evicted = 0;
        #[cfg(feature = "http2")]
        let evicted = evicted + self.evict_h2(now, timeout);
        #[cfg(feature = "http3")]
        let evicted = evicted + self.evict_h3(now, timeout);
        let _ = (now, timeout);
        evicted
    }

    /// Shared (HTTP/2, HTTP/3) connections currently pooled.
    fn shared_count(&self) -> usize {
        let n = 0;
        #[cfg(feature = "http2")]
        let n = n + self.h2_count();
        #[cfg(feature = "http3")]
        let n = n + self.h3_count();
        n
    }
}

/// Counters kept by the pool (cheap relaxed atomics).
#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    pub opened: AtomicU64,
    pub reused: AtomicU64,
    pub evicted: AtomicU64,
    pub retried: AtomicU64,
    pub h2_opened: AtomicU64,
    pub h3_opened: AtomicU64,
}

/// All origins' pools.
pub(crate) struct Pool {
    limits: PoolLimits,
    hasher: std::collections::hash_map::RandomState,
    hosts: Mutex<HashMap<u64, Vec<Arc<HostPool>>>>,
    last_sweep: Mutex<Instant>,
    pub counters: PoolCounters,
}

/// A checked-out connection slot: holds the per-host permit, and the connection if one
/// was reused. Dropping it without [`Checkout::checkin`] closes the connection.
pub(crate) struct Checkout {
    host: Arc<HostPool>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub fn new(limits: PoolLimits) -> Pool {
        Pool {
            limits,
            hasher: Default::default(),
            hosts: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
            counters: PoolCounters::default(),
        }
    }

    fn key_hash(&self, t: &Target<'_>, via: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        via.hash(&mut h);
        t.scheme.hash(&mut h);
        t.port.hash(&mut h);
        // The host lowercased, hashed in one write when it is short (one `write_u8` per
        // byte costs a SipHash round trip each).
        let mut buf = [0u8; 64];
        match buf.get_mut(..t.host.len()) {
            Some(lower) => {
                lower.copy_from_slice(t.host.as_bytes());
                lower.make_ascii_lowercase();
                h.write(lower);
            }
            None => {
                for b in t.host.bytes() {
                    h.write_u8(b.to_ascii_lowercase());
                }
            }
        }
        h.finish()
    }

    /// The pool of `t`'s origin (created on first use).
    pub fn host_pool(&self, t: &Target<'_>, via: &str) -> Arc<HostPool> {
        let hash = self.key_hash(t, via);
        let mut hosts = lock(&self.hosts);
        let bucket = hosts.entry(hash).or_default();
        if let Some(hp) = bucket.iter().find(|hp| hp.matches(t, via)) {
            return hp.clone();
        }
        let hp = Arc::new(HostPool {
            scheme: t.scheme,
            host: t.host.to_ascii_lowercase().into_boxed_str(),
            port: t.port,
            via: via.into(),
            permits: Arc::new(Semaphore::new(self.limits.max_per_host.max(1))),
            idle: Mutex::new(VecDeque::with_capacity(
                self.limits.max_idle_per_host.min(64),
            )),
            #[cfg(feature = "http2")]
            h2: Mutex::new(Vec::new()),
            #[cfg(feature = "http3")]
            h3: Mutex::new(None),
            #[cfg(any(feature = "http2", feature = "http3"))]
            h2_connect: tokio::sync::Mutex::new(()),
            #[cfg(feature = "http2")]
            speaks_h1: AtomicBool::new(false),
        });
        bucket.push(hp.clone());
        hp
    }

    /// Waits for a free slot for `t` (bounded by the pool timeout), then returns it with
    /// the warmest usable idle connection, if any.
    pub async fn checkout(
        &self,
        t: &Target<'_>,
        via: &str,
    ) -> Result<(Checkout, Option<PoolConn>)> {
        self.maybe_sweep();
        let host = self.host_pool(t, via);
        self.checkout_in(host).await
    }

    /// [`Pool::checkout`] on a known host pool.
    pub async fn checkout_in(&self, host: Arc<HostPool>) -> Result<(Checkout, Option<PoolConn>)> {
        let permit = match host.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let wait = self.limits.wait_timeout;
                match tokio::time::timeout(wait, host.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    // The semaphore is never closed.
                    Ok(Err(_)) | Err(_) => {
                        return Err(Error::Timeout {
                            kind: TimeoutKind::PoolWait,
                            after: wait,
                        })
                    }
                }
            }
        };
        let now = Instant::now();
        let conn = {
            let mut idle = lock(&host.idle);
            let evicted = HostPool::evict_expired(&mut idle, now, self.limits.idle_timeout);
            let mut found = None;
            let mut dead = 0;
            while let Some(entry) = idle.pop_back() {
                let usable = match &entry.conn {
                    PoolConn::Http1(c) => c.idle_is_usable(),
                };
                if usable {
                    found = Some(entry.conn);
                    break;
                }
                dead += 1;
            }
            if evicted + dead > 0 {
                self.counters
                    .evicted
                    .fetch_add((evicted + dead) as u64, Relaxed);
            }
            found
        };
        if conn.is_some() {
            self.counters.reused.fetch_add(1, Relaxed);
        }
        Ok((
            Checkout {
                host,
                _permit: permit,
            },
            conn,
        ))
    }

    /// Returns a reusable connection to its host's idle list (dropping it if the list is
    /// full) and releases the slot.
    pub fn checkin(&self, slot: Checkout, conn: PoolConn) {
        if self.limits.max_idle_per_host == 0 {
            return;
        }
        let now = Instant::now();
        let mut idle = lock(&slot.host.idle);
        let evicted = HostPool::evict_expired(&mut idle, now, self.limits.idle_timeout);
        if evicted > 0 {
            self.counters.evicted.fetch_add(evicted as u64, Relaxed);
        }
        if idle.len() >= self.limits.max_idle_per_host {
            // Drop the oldest to keep the warmest connections.
            idle.pop_front();
            self.counters.evicted.fetch_add(1, Relaxed);
        }
        idle.push_back(Idle { conn, since: now });
        drop(idle);
        drop(slot);
    }

    /// The HTTP/2 connection limit per origin.
    #[cfg(feature = "http2")]
    pub fn max_h2_per_host(&self) -> usize {
        self.limits.max_h2_per_host
    }

    /// Drops idle connections of every host that have outlived the idle timeout; runs at
    /// most once per half idle timeout, from checkouts (no background task needed).
    pub fn maybe_sweep(&self) {
        let now = Instant::now();
        {
            let mut last = lock(&self.last_sweep);
            if now.duration_since(*last) < self.limits.idle_timeout / 2 {
                return;
            }
            *last = now;
        }
        let mut hosts = lock(&self.hosts);
        let mut evicted = 0;
        for bucket in hosts.values_mut() {
            bucket.retain(|hp| {
                let mut idle = lock(&hp.idle);
                evicted += HostPool::evict_expired(&mut idle, now, self.limits.idle_timeout);
                evicted += hp.evict_shared(now, self.limits.idle_timeout);
                // Forget origins with no idle connection and no request in flight (only
                // the map holds the Arc), so the map stays bounded by live origins.
                !(idle.is_empty() && hp.shared_count() == 0 && Arc::strong_count(hp) == 1)
            });
        }
        hosts.retain(|_, bucket| !bucket.is_empty());
        self.counters.evicted.fetch_add(evicted as u64, Relaxed);
    }

    /// Idle connections currently pooled for `t`'s origin.
    pub fn idle_count(&self, t: &Target<'_>, via: &str) -> usize {
        let hash = self.key_hash(t, via);
        let hosts = lock(&self.hosts);
        hosts
            .get(&hash)
            .and_then(|b| b.iter().find(|hp| hp.matches(t, via)))
            .map_or(0, |hp| lock(&hp.idle).len())
    }

    /// Shared HTTP/2 connections currently pooled for `t`'s origin.
    #[cfg(feature = "http2")]
    pub fn h2_count(&self, t: &Target<'_>, via: &str) -> usize {
        self.count(t, via, HostPool::h2_count)
    }

    /// Shared HTTP/3 connections currently pooled for `t`'s origin (0 or 1).
    #[cfg(feature = "http3")]
    pub fn h3_count(&self, t: &Target<'_>, via: &str) -> usize {
        self.count(t, via, HostPool::h3_count)
    }

    #[cfg(any(feature = "http2", feature = "http3"))]
    fn count(&self, t: &Target<'_>, via: &str, f: impl Fn(&HostPool) -> usize) -> usize {
        let hash = self.key_hash(t, via);
        let hosts = lock(&self.hosts);
        hosts
            .get(&hash)
            .and_then(|b| b.iter().find(|hp| hp.matches(t, via)))
            .map_or(0, |hp| f(hp))
    }
}
