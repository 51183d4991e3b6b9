use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Arena, ArenaStats, PoolConfig};

/// A `Send + Sync` arena pool behind a mutex, for code that hands arenas across threads
/// (a multi-thread client, say). The per-worker [`crate::ArenaPool`] is the hot path;
/// this one costs an uncontended lock per `get` and per return.
pub struct SyncArenaPool {
    config: PoolConfig,
    idle: Mutex<Vec<Arena>>,
    created: AtomicU64,
    in_use: AtomicU64,
    discarded: AtomicU64,
    gets: AtomicU64,
    resets: AtomicU64,
    bytes_allocated: AtomicU64,
    retained_bytes: AtomicU64,
    peak_arena_bytes: AtomicU64,
    lifetime_nanos: AtomicU64,
}

impl SyncArenaPool {
    /// An empty shared pool.
    pub fn new(config: PoolConfig) -> Self {
        SyncArenaPool {
            config,
            idle: Mutex::new(Vec::new()),
            created: AtomicU64::new(0),
            in_use: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            bytes_allocated: AtomicU64::new(0),
            retained_bytes: AtomicU64::new(0),
            peak_arena_bytes: AtomicU64::new(0),
            lifetime_nanos: AtomicU64::new(0),
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Lends a reset arena; it returns to the pool when the guard drops.
    pub fn get(&self) -> SyncPooledArena<'_> {
        let reused = self.lock().pop();
        let arena = match reused {
            Some(arena) => {
                self.retained_bytes
                    .fetch_sub(arena.capacity_bytes() as u64, Relaxed);
                arena
            }
            None => {
                self.created.fetch_add(1, Relaxed);
                Arena::with_limit(self.config.initial_capacity, self.config.allocation_limit)
            }
        };
        self.gets.fetch_add(1, Relaxed);
        self.in_use.fetch_add(1, Relaxed);
        SyncPooledArena {
            arena,
            pool: self,
            lent_at: Instant::now(),
        }
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> ArenaStats {
        let bytes = self.bytes_allocated.load(Relaxed);
        ArenaStats {
            arenas_created: self.created.load(Relaxed),
            arenas_in_use: self.in_use.load(Relaxed),
            arenas_idle: self.lock().len() as u64,
            arenas_discarded: self.discarded.load(Relaxed),
            gets: self.gets.load(Relaxed),
            resets: self.resets.load(Relaxed),
            bytes_allocated: bytes,
            bytes_freed: bytes,
            retained_bytes: self.retained_bytes.load(Relaxed),
            peak_arena_bytes: self.peak_arena_bytes.load(Relaxed),
            total_lifetime: Duration::from_nanos(self.lifetime_nanos.load(Relaxed)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arena>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn put_back(&self, mut arena: Arena, lent_at: Instant) {
        let used = arena.allocated_bytes() as u64;
        self.in_use.fetch_sub(1, Relaxed);
        self.bytes_allocated.fetch_add(used, Relaxed);
        self.peak_arena_bytes.fetch_max(used, Relaxed);
        self.lifetime_nanos
            .fetch_add(lent_at.elapsed().as_nanos() as u64, Relaxed);
        if arena.capacity_bytes() > self.config.retained_capacity {
            self.discarded.fetch_add(1, Relaxed);
            return;
        }
        arena.reset();
        arena.set_allocation_limit(self.config.allocation_limit);
        let capacity = arena.capacity_bytes() as u64;
        let mut idle = self.lock();
        if idle.len() >= self.config.max_idle
            || self.retained_bytes.load(Relaxed) + capacity > self.config.max_retained_bytes as u64
        {
            self.discarded.fetch_add(1, Relaxed);
            return;
        }
        idle.push(arena);
        self.resets.fetch_add(1, Relaxed);
        self.retained_bytes.fetch_add(capacity, Relaxed);
    }
}

impl Default for SyncArenaPool {
    fn default() -> Self {
        Self::new(PoolConfig::default())
    }
}

impl fmt::Debug for SyncArenaPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncArenaPool")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// An arena lent by a [`SyncArenaPool`]; reset and returned on drop.
pub struct SyncPooledArena<'p> {
    arena: Arena,
    pool: &'p SyncArenaPool,
    lent_at: Instant,
}

impl Deref for SyncPooledArena<'_> {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        &self.arena
    }
}

impl DerefMut for SyncPooledArena<'_> {
    fn deref_mut(&mut self) -> &mut Arena {
        &mut self.arena
    }
}

impl Drop for SyncPooledArena<'_> {
    fn drop(&mut self) {
        let arena = std::mem::take(&mut self.arena);
        self.pool.put_back(arena, self.lent_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn idle_arenas_hold_at_most_max_retained_bytes_together() {
        let pool = SyncArenaPool::new(PoolConfig {
            max_idle: 16,
            initial_capacity: 1024,
            retained_capacity: 64 * 1024,
            max_retained_bytes: 100 * 1024,
            ..PoolConfig::default()
        });
        let lent: Vec<_> = (0..8)
            .map(|_| {
                let a = pool.get();
                a.alloc_zeroed(40 * 1024).unwrap();
                a
            })
            .collect();
        drop(lent);
        let s = pool.stats();
        assert!(s.retained_bytes <= 100 * 1024, "{s:?}");
        assert!(s.arenas_idle >= 1 && s.arenas_idle < 8, "{s:?}");
        assert_eq!(s.arenas_idle + s.arenas_discarded, 8, "{s:?}");
    }

    #[test]
    fn shared_between_threads() {
        let pool = Arc::new(SyncArenaPool::new(PoolConfig {
            max_idle: 8,
            ..PoolConfig::default()
        }));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || {
                    for i in 0..100u32 {
                        let arena = pool.get();
                        let v = arena.alloc(t * 1000 + i).unwrap();
                        assert_eq!(*v, t * 1000 + i);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = pool.stats();
        assert_eq!(s.gets, 400);
        assert_eq!(s.arenas_in_use, 0);
        assert!(s.arenas_created <= 4, "{s:?}");
        assert_eq!(s.resets, 400 - s.arenas_discarded);
    }
}
