use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use crate::stats::{bump, drop_by, LocalCounters};
use crate::{Arena, ArenaStats};

/// How an arena pool sizes, limits and retains its arenas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most idle arenas kept for reuse; further returned arenas are dropped.
    pub max_idle: usize,
    /// Size of a new arena's first chunk, so typical requests never grow it.
    pub initial_capacity: usize,
    /// An arena that grew past this many chunk bytes is dropped on return instead of
    /// pooled, so one huge request cannot pin memory forever.
    pub retained_capacity: usize,
    /// Per-arena allocation limit; allocations past it fail with
    /// [`crate::ArenaError::LimitExceeded`]. `None` means unlimited.
    pub allocation_limit: Option<usize>,
}

impl Default for PoolConfig {
    /// 8 KiB first chunk, 1 MiB retained per arena, 256 idle arenas, 16 MiB limit.
    fn default() -> Self {
        PoolConfig {
            max_idle: 256,
            initial_capacity: 8 * 1024,
            retained_capacity: 1024 * 1024,
            allocation_limit: Some(16 * 1024 * 1024),
        }
    }
}

/// One lent arena in this many has its lifetime timed (two clock reads); the others
/// skip the clock. [`ArenaStats::total_lifetime`] extrapolates from the sample.
pub const LIFETIME_SAMPLE_EVERY: u64 = 128;

/// A bounded pool of [`Arena`]s for one thread: the `sync.Pool` analogue.
///
/// [`ArenaPool::get`] lends an arena through a [`PooledArena`] guard; dropping the guard
/// resets the arena ("free everything at once") and returns it. There is no lock on this
/// path: the pool is meant to live in one worker thread (`!Sync`). For a pool shared
/// between threads see [`crate::SyncArenaPool`].
///
/// ```
/// use shockwave_arena::{ArenaPool, PoolConfig};
///
/// let pool = ArenaPool::new(PoolConfig { max_idle: 4, ..PoolConfig::default() });
/// for _ in 0..3 {
///     let arena = pool.get();
///     let buf = arena.alloc_zeroed(4096).unwrap();
///     buf[0] = 1;
/// }
/// let stats = pool.stats();
/// assert_eq!(stats.arenas_created, 1); // one arena, reused three times
/// assert_eq!(stats.gets, 3);
/// ```
pub struct ArenaPool {
    config: PoolConfig,
    idle: RefCell<Vec<Arena>>,
    counters: LocalCounters,
}

impl ArenaPool {
    /// An empty pool; arenas are created on demand.
    pub fn new(config: PoolConfig) -> Self {
        ArenaPool {
            idle: RefCell::new(Vec::with_capacity(config.max_idle.min(4096))),
            config,
            counters: LocalCounters::default(),
        }
    }

    /// A pool with `count` arenas created up front (at most `max_idle`).
    pub fn prewarmed(config: PoolConfig, count: usize) -> Self {
        let pool = Self::new(config);
        for _ in 0..count.min(pool.config.max_idle) {
            let arena = pool.new_arena();
            bump(&pool.counters.retained_bytes, arena.capacity_bytes() as u64);
            pool.idle.borrow_mut().push(arena);
        }
        pool
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Lends a reset arena (reused if one is idle, created otherwise).
    pub fn get(&self) -> PooledArena<'_> {
        let c = &self.counters;
        // Reading the clock twice per request is measurable on a hot server: time one
        // arena in LIFETIME_SAMPLE_EVERY.
        let lent_at = if c.gets.get().is_multiple_of(LIFETIME_SAMPLE_EVERY) {
            Some(Instant::now())
        } else {
            None
        };
        let arena = match self.idle.borrow_mut().pop() {
            Some(arena) => {
                drop_by(&c.retained_bytes, arena.capacity_bytes() as u64);
                arena
            }
            None => self.new_arena(),
        };
        bump(&c.gets, 1);
        bump(&c.arenas_in_use, 1);
        PooledArena {
            arena,
            pool: self,
            lent_at,
        }
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> ArenaStats {
        let c = &self.counters;
        ArenaStats {
            arenas_created: c.arenas_created.get(),
            arenas_in_use: c.arenas_in_use.get(),
            arenas_idle: self.idle.borrow().len() as u64,
            arenas_discarded: c.arenas_discarded.get(),
            gets: c.gets.get(),
            resets: c.resets.get(),
            bytes_allocated: c.bytes_allocated.get(),
            bytes_freed: c.bytes_freed.get(),
            retained_bytes: c.retained_bytes.get(),
            peak_arena_bytes: c.peak_arena_bytes.get(),
            total_lifetime: self.estimated_total_lifetime(),
        }
    }

    /// The sum of the sampled lifetimes scaled to every returned arena.
    fn estimated_total_lifetime(&self) -> Duration {
        let c = &self.counters;
        let samples = c.lifetime_samples.get();
        if samples == 0 {
            return Duration::ZERO;
        }
        let returned = c.gets.get().saturating_sub(c.arenas_in_use.get());
        let nanos =
            u128::from(c.total_lifetime_nanos.get()) * u128::from(returned) / u128::from(samples);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Drops every idle arena, returning their memory to the system.
    pub fn shrink(&self) {
        let mut idle = self.idle.borrow_mut();
        idle.clear();
        self.counters.retained_bytes.set(0);
    }

    fn new_arena(&self) -> Arena {
        bump(&self.counters.arenas_created, 1);
        Arena::with_limit(self.config.initial_capacity, self.config.allocation_limit)
    }

    fn put_back(&self, mut arena: Arena, lent_at: Option<Instant>) {
        let c = &self.counters;
        let used = arena.allocated_bytes() as u64;
        drop_by(&c.arenas_in_use, 1);
        bump(&c.bytes_allocated, used);
        bump(&c.bytes_freed, used);
        if let Some(lent_at) = lent_at {
            bump(&c.total_lifetime_nanos, lent_at.elapsed().as_nanos() as u64);
            bump(&c.lifetime_samples, 1);
        }
        if used > c.peak_arena_bytes.get() {
            c.peak_arena_bytes.set(used);
        }
        let mut idle = self.idle.borrow_mut();
        if arena.capacity_bytes() > self.config.retained_capacity
            || idle.len() >= self.config.max_idle
        {
            bump(&c.arenas_discarded, 1);
            return; // dropped here: its chunks go back to the system
        }
        arena.reset();
        // A limit changed by the borrower must not leak into the next request.
        arena.set_allocation_limit(self.config.allocation_limit);
        bump(&c.resets, 1);
        bump(&c.retained_bytes, arena.capacity_bytes() as u64);
        idle.push(arena);
    }
}

impl Default for ArenaPool {
    fn default() -> Self {
        Self::new(PoolConfig::default())
    }
}

impl fmt::Debug for ArenaPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaPool")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// An arena lent by an [`ArenaPool`]. Derefs to [`Arena`]; on drop the arena is reset
/// and returned to the pool (or dropped if it grew past the retained capacity).
pub struct PooledArena<'p> {
    arena: Arena,
    pool: &'p ArenaPool,
    /// When it was lent, for the sampled arenas (see [`LIFETIME_SAMPLE_EVERY`]).
    lent_at: Option<Instant>,
}

impl Deref for PooledArena<'_> {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        &self.arena
    }
}

impl DerefMut for PooledArena<'_> {
    fn deref_mut(&mut self) -> &mut Arena {
        &mut self.arena
    }
}

impl Drop for PooledArena<'_> {
    fn drop(&mut self) {
        // `Arena::new()` does not allocate: it points at bumpalo's shared empty chunk.
        let arena = std::mem::take(&mut self.arena);
        self.pool.put_back(arena, self.lent_at);
    }
}

impl fmt::Debug for PooledArena<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.arena.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArenaError;

    fn small() -> PoolConfig {
        PoolConfig {
            max_idle: 2,
            initial_capacity: 1024,
            retained_capacity: 64 * 1024,
            allocation_limit: Some(256 * 1024),
        }
    }

    #[test]
    fn the_same_arena_comes_back_reset() {
        let pool = ArenaPool::new(small());
        let first_chunk;
        {
            let arena = pool.get();
            let v = arena.alloc([7u8; 100]).unwrap();
            first_chunk = v.as_ptr() as usize;
            assert!(arena.allocated_bytes() >= 100);
        }
        let arena = pool.get();
        assert_eq!(arena.allocated_bytes(), 0, "returned arena must be reset");
        let v = arena.alloc([9u8; 100]).unwrap();
        // Reset rewinds the bump pointer: the same memory is handed out again.
        assert_eq!(v.as_ptr() as usize, first_chunk);
        drop(arena);
        let s = pool.stats();
        assert_eq!(s.arenas_created, 1);
        assert_eq!(s.gets, 2);
        assert_eq!(s.resets, 2);
        assert_eq!(s.arenas_in_use, 0);
        assert_eq!(s.arenas_idle, 1);
    }

    #[test]
    fn oversized_arenas_are_not_retained() {
        let pool = ArenaPool::new(small());
        {
            let arena = pool.get();
            arena.alloc_zeroed(128 * 1024).unwrap(); // grows past retained_capacity
        }
        let s = pool.stats();
        assert_eq!(s.arenas_discarded, 1);
        assert_eq!(s.arenas_idle, 0);
        assert_eq!(s.retained_bytes, 0);
        let _again = pool.get();
        assert_eq!(pool.stats().arenas_created, 2);
    }

    #[test]
    fn idle_count_is_bounded() {
        let pool = ArenaPool::new(small());
        let guards: std::vec::Vec<_> = (0..5).map(|_| pool.get()).collect();
        assert_eq!(pool.stats().arenas_in_use, 5);
        drop(guards);
        let s = pool.stats();
        assert_eq!(s.arenas_in_use, 0);
        assert_eq!(s.arenas_idle, 2);
        assert_eq!(s.arenas_discarded, 3);
        assert!(s.retained_bytes >= 2 * 1024);
    }

    #[test]
    fn pooled_allocation_limit_is_a_typed_error() {
        let pool = ArenaPool::new(small());
        let arena = pool.get();
        let err = arena.alloc_zeroed(1024 * 1024).unwrap_err();
        assert!(matches!(
            err,
            ArenaError::LimitExceeded { limit: 262144, .. }
        ));
    }

    #[test]
    fn borrower_limit_changes_do_not_leak() {
        let pool = ArenaPool::new(small());
        {
            let arena = pool.get();
            arena.set_allocation_limit(None);
        }
        assert_eq!(pool.get().allocation_limit(), Some(256 * 1024));
    }

    #[test]
    fn stats_count_bytes_and_lifetimes() {
        let pool = ArenaPool::new(small());
        for n in [100usize, 300, 200] {
            let arena = pool.get();
            arena.alloc_zeroed(n).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let s = pool.stats();
        assert_eq!(s.gets, 3);
        assert!(s.bytes_allocated >= 600, "{s:?}");
        assert_eq!(s.bytes_allocated, s.bytes_freed, "balanced when idle");
        assert!(s.peak_arena_bytes >= 300);
        // Only the first arena was timed; the estimate scales it to all three.
        assert!(s.average_lifetime() >= Duration::from_millis(1));
        assert!(s.total_lifetime >= Duration::from_millis(3), "{s:?}");
        assert!(s.average_bytes_per_arena() >= 200);
    }

    #[test]
    fn lifetimes_are_sampled_and_extrapolated() {
        let pool = ArenaPool::new(small());
        for _ in 0..2 * LIFETIME_SAMPLE_EVERY {
            drop(pool.get());
        }
        assert_eq!(pool.counters.lifetime_samples.get(), 2);
        let held = pool.get(); // in use: not part of the average
        let s = pool.stats();
        assert_eq!(s.gets, 2 * LIFETIME_SAMPLE_EVERY + 1);
        let sampled = Duration::from_nanos(pool.counters.total_lifetime_nanos.get());
        assert_eq!(s.total_lifetime, sampled * LIFETIME_SAMPLE_EVERY as u32);
        assert_eq!(s.average_lifetime(), sampled / 2);
        drop(held);
        assert_eq!(
            ArenaPool::new(small()).stats().total_lifetime,
            Duration::ZERO
        );
    }

    #[test]
    fn prewarmed_pool_and_shrink() {
        let pool = ArenaPool::prewarmed(small(), 10);
        let s = pool.stats();
        assert_eq!(s.arenas_idle, 2);
        assert_eq!(s.arenas_created, 2);
        pool.shrink();
        assert_eq!(pool.stats().arenas_idle, 0);
        assert_eq!(pool.stats().retained_bytes, 0);
    }
}
