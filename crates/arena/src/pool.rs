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
    /// Most chunk bytes the idle arenas may hold together ([`crate::ArenaStats::retained_bytes`]);
    /// an arena whose return would go past it is dropped (counted in
    /// [`crate::ArenaStats::arenas_discarded`]). With `max_idle` alone, a pool that served
    /// varied bodies keeps creeping towards `max_idle × retained_capacity` (256 MiB) as each
    /// reused arena keeps the largest chunk it ever needed.
    pub max_retained_bytes: usize,
}

impl Default for PoolConfig {
    /// 8 KiB first chunk, 1 MiB retained per arena, 256 idle arenas holding at most
    /// 16 MiB together, 16 MiB allocation limit.
    fn default() -> Self {
        PoolConfig {
            max_idle: 256,
            initial_capacity: 8 * 1024,
            retained_capacity: 1024 * 1024,
            allocation_limit: Some(16 * 1024 * 1024),
            max_retained_bytes: 16 * 1024 * 1024,
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
        let lent_at = self.start_loan();
        let arena = self.take_arena();
        PooledArena {
            arena,
            pool: self,
            lent_at,
        }
    }

    /// Counts a new loan; returns its start time when it is one of the timed ones.
    fn start_loan(&self) -> Option<Instant> {
        let c = &self.counters;
        // Reading the clock twice per request is measurable on a hot server: time one
        // arena in LIFETIME_SAMPLE_EVERY.
        let lent_at = if c.gets.get().is_multiple_of(LIFETIME_SAMPLE_EVERY) {
            Some(Instant::now())
        } else {
            None
        };
        bump(&c.gets, 1);
        bump(&c.arenas_in_use, 1);
        lent_at
    }

    /// An idle arena, or a new one.
    fn take_arena(&self) -> Arena {
        match self.idle.borrow_mut().pop() {
            Some(arena) => {
                drop_by(&self.counters.retained_bytes, arena.capacity_bytes() as u64);
                arena
            }
            None => self.new_arena(),
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
        let mut idle = self.idle.borrow_mut();
        let retained = self.counters.retained_bytes.get();
        let room = |capacity: usize| {
            idle.len() < self.config.max_idle
                && retained + capacity as u64 <= self.config.max_retained_bytes as u64
        };
        if self.end_loan(&mut arena, lent_at, room) {
            bump(&self.counters.retained_bytes, arena.capacity_bytes() as u64);
            idle.push(arena);
        }
    }

    /// Counts the end of a loan. Returns true after resetting the arena when it may be
    /// reused (`room(capacity after the reset)`: the caller has a place for it), false
    /// when it is to be dropped (counted as discarded).
    fn end_loan(
        &self,
        arena: &mut Arena,
        lent_at: Option<Instant>,
        room: impl FnOnce(usize) -> bool,
    ) -> bool {
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
        if arena.capacity_bytes() > self.config.retained_capacity {
            bump(&c.arenas_discarded, 1);
            return false; // the caller drops it: its chunks go back to the system
        }
        arena.reset();
        if !room(arena.capacity_bytes()) {
            bump(&c.arenas_discarded, 1);
            return false;
        }
        // A limit changed by the borrower must not leak into the next request.
        arena.set_allocation_limit(self.config.allocation_limit);
        bump(&c.resets, 1);
        true
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

impl PooledArena<'_> {
    /// Ends this loan and starts the next one, keeping the arena: the same as dropping
    /// the guard and calling [`ArenaPool::get`] again (the pool's stats count a return,
    /// a reset and a get), minus the trip through the idle list. For a borrower that
    /// serves several requests in a row (pipelining). An arena that grew past
    /// [`PoolConfig::retained_capacity`] is dropped and replaced, as on return.
    ///
    /// ```
    /// use shockwave_arena::{ArenaPool, PoolConfig};
    ///
    /// let pool = ArenaPool::new(PoolConfig::default());
    /// let mut arena = pool.get();
    /// arena.alloc_bytes(b"request 1").unwrap();
    /// arena.recycle();
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// let stats = pool.stats();
    /// assert_eq!((stats.gets, stats.resets, stats.arenas_in_use), (2, 1, 1));
    /// ```
    pub fn recycle(&mut self) {
        let pool = self.pool;
        if !pool.end_loan(&mut self.arena, self.lent_at, |_| true) {
            self.arena = pool.take_arena();
        }
        self.lent_at = pool.start_loan();
    }
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
            max_retained_bytes: 1024 * 1024,
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
    fn idle_arenas_hold_at_most_max_retained_bytes_together() {
        let pool = ArenaPool::new(PoolConfig {
            max_idle: 16,
            max_retained_bytes: 100 * 1024,
            ..small()
        });
        // Eight arenas lent at once, each grown to ~40 KiB (under retained_capacity).
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
        assert_eq!(s.arenas_in_use, 0);
        // Small arenas still fit beside them: the budget counts bytes, not arenas.
        let before = s.arenas_idle;
        let lent: Vec<_> = (0..4).map(|_| pool.get()).collect();
        drop(lent);
        assert!(pool.stats().retained_bytes <= 100 * 1024);
        assert!(pool.stats().arenas_idle >= before);
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
    fn recycling_counts_like_a_return_and_a_get() {
        let recycled = ArenaPool::new(small());
        let returned = ArenaPool::new(small());
        {
            let mut a = recycled.get();
            for n in [100usize, 300, 200] {
                a.alloc_zeroed(n).unwrap();
                a.set_allocation_limit(None);
                a.recycle();
                assert_eq!(a.allocated_bytes(), 0);
                assert_eq!(a.allocation_limit(), Some(256 * 1024), "limit restored");
            }
            let s = recycled.stats();
            assert_eq!((s.gets, s.resets, s.arenas_in_use), (4, 3, 1));
            assert_eq!(s.bytes_allocated, s.bytes_freed);
            assert_eq!(s.arenas_idle, 0);
        }
        {
            let a = returned.get();
            a.alloc_zeroed(100).unwrap();
        }
        for n in [300usize, 200] {
            let a = returned.get();
            a.alloc_zeroed(n).unwrap();
        }
        drop(returned.get());
        let (r, d) = (recycled.stats(), returned.stats());
        assert_eq!(r.gets, d.gets);
        assert_eq!(r.resets, d.resets);
        assert_eq!(r.arenas_created, d.arenas_created);
        assert_eq!(r.bytes_allocated, d.bytes_allocated);
        assert_eq!(r.bytes_freed, d.bytes_freed);
        assert_eq!(r.peak_arena_bytes, d.peak_arena_bytes);
        assert_eq!(r.arenas_idle, d.arenas_idle);
        assert_eq!(r.arenas_in_use, 0);
        assert_eq!(r.retained_bytes, d.retained_bytes);
    }

    #[test]
    fn recycling_an_oversized_arena_replaces_it() {
        let pool = ArenaPool::new(small());
        let mut a = pool.get();
        a.alloc_zeroed(128 * 1024).unwrap(); // grows past retained_capacity
        a.recycle();
        assert!(a.capacity_bytes() <= 64 * 1024);
        let s = pool.stats();
        assert_eq!((s.arenas_discarded, s.arenas_created, s.gets), (1, 2, 2));
        assert_eq!(s.arenas_in_use, 1);
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
