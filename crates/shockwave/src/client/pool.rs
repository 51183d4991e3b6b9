//! The connection pool: one [`HostPool`] per (scheme, host, port).
//!
//! An HTTP/1.1 connection carries one exchange at a time, so it is *checked out* of the
//! pool for a request and *checked in* (if still reusable) when the response is done.
//! A per-host semaphore bounds the connections in use; requests beyond it wait (up to the
//! pool timeout). Idle connections are kept most-recently-used first, up to
//! `max_idle_per_host`, and dropped once older than `idle_timeout` or found closed.
//!
//! Multiplexed protocols join later without changing this shape: an HTTP/2 or HTTP/3
//! connection is *shared* rather than checked out, so a `HostPool` will hold a list of
//! shared connections next to `idle`, and checkout will first look for one with a free
//! stream slot (the [`PoolConn`] enum is where those connection kinds are added).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::Http1Conn;
use super::error::{Error, Result, TimeoutKind};
use super::target::{Scheme, Target};

/// Pool sizing and timing.
#[derive(Debug, Clone)]
pub(crate) struct PoolLimits {
    pub max_per_host: usize,
    pub max_idle_per_host: usize,
    pub idle_timeout: Duration,
    pub wait_timeout: Duration,
}

/// A pooled connection of some protocol. Only HTTP/1.1 exists today; HTTP/2 and HTTP/3
/// connections (shared, multiplexed) will be further variants.
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
    permits: Arc<Semaphore>,
    idle: Mutex<VecDeque<Idle>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the deque inconsistent; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HostPool {
    fn matches(&self, t: &Target<'_>) -> bool {
        self.scheme == t.scheme && self.port == t.port && self.host.eq_ignore_ascii_case(t.host)
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
}

/// Counters kept by the pool (cheap relaxed atomics).
#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    pub opened: AtomicU64,
    pub reused: AtomicU64,
    pub evicted: AtomicU64,
    pub retried: AtomicU64,
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

    fn key_hash(&self, t: &Target<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        t.scheme.hash(&mut h);
        t.port.hash(&mut h);
        for b in t.host.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.finish()
    }

    fn host_pool(&self, t: &Target<'_>) -> Arc<HostPool> {
        let hash = self.key_hash(t);
        let mut hosts = lock(&self.hosts);
        let bucket = hosts.entry(hash).or_default();
        if let Some(hp) = bucket.iter().find(|hp| hp.matches(t)) {
            return hp.clone();
        }
        let hp = Arc::new(HostPool {
            scheme: t.scheme,
            host: t.host.to_ascii_lowercase().into_boxed_str(),
            port: t.port,
            permits: Arc::new(Semaphore::new(self.limits.max_per_host.max(1))),
            idle: Mutex::new(VecDeque::with_capacity(
                self.limits.max_idle_per_host.min(64),
            )),
        });
        bucket.push(hp.clone());
        hp
    }

    /// Waits for a free slot for `t` (bounded by the pool timeout), then returns it with
    /// the warmest usable idle connection, if any.
    pub async fn checkout(&self, t: &Target<'_>) -> Result<(Checkout, Option<PoolConn>)> {
        self.maybe_sweep();
        let host = self.host_pool(t);
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

    /// Drops idle connections of every host that have outlived the idle timeout; runs at
    /// most once per half idle timeout, from checkouts (no background task needed).
    fn maybe_sweep(&self) {
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
                // Forget origins with no idle connection and no request in flight (only
                // the map holds the Arc), so the map stays bounded by live origins.
                !(idle.is_empty() && Arc::strong_count(hp) == 1)
            });
        }
        hosts.retain(|_, bucket| !bucket.is_empty());
        self.counters.evicted.fetch_add(evicted as u64, Relaxed);
    }

    /// Idle connections currently pooled for `t`'s origin.
    pub fn idle_count(&self, t: &Target<'_>) -> usize {
        let hash = self.key_hash(t);
        let hosts = lock(&self.hosts);
        hosts
            .get(&hash)
            .and_then(|b| b.iter().find(|hp| hp.matches(t)))
            .map_or(0, |hp| lock(&hp.idle).len())
    }
}
