//! Heap-allocation accounting for tests and benchmarks.
//!
//! Install [`CountingAllocator`] as the global allocator of a test or bench binary, then
//! wrap the code under test in [`measure`] to learn how many heap allocations it made on
//! the current thread. [`measure`] panics if the counting allocator is not installed, so a
//! "zero allocations" assertion can never pass vacuously.
//!
//! ```
//! use shockwave_arena::alloc_count::{self, CountingAllocator};
//!
//! #[global_allocator]
//! static ALLOC: CountingAllocator = CountingAllocator::new();
//!
//! let (v, counts) = alloc_count::measure(|| vec![1u8; 32]);
//! assert_eq!(v.len(), 32);
//! assert_eq!(counts.allocations, 1);
//! let ((), counts) = alloc_count::measure(|| {
//!     let x = [0u8; 32];
//!     std::hint::black_box(x);
//! });
//! assert_eq!(counts.allocations, 0);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Heap operations counted over some span of code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocCounts {
    /// Calls to `alloc`/`alloc_zeroed` (a `realloc` is counted separately).
    pub allocations: u64,
    /// Calls to `dealloc`.
    pub deallocations: u64,
    /// Calls to `realloc`.
    pub reallocations: u64,
    /// Bytes requested by allocations and by growing reallocations.
    pub bytes_allocated: u64,
}

impl AllocCounts {
    /// Allocations plus reallocations: every time the allocator was asked for memory.
    pub fn total_requests(&self) -> u64 {
        self.allocations + self.reallocations
    }

    /// The counts accumulated between `earlier` and `self`.
    pub fn since(&self, earlier: &AllocCounts) -> AllocCounts {
        AllocCounts {
            allocations: self.allocations.wrapping_sub(earlier.allocations),
            deallocations: self.deallocations.wrapping_sub(earlier.deallocations),
            reallocations: self.reallocations.wrapping_sub(earlier.reallocations),
            bytes_allocated: self.bytes_allocated.wrapping_sub(earlier.bytes_allocated),
        }
    }
}

/// A global allocator that forwards to [`System`] and counts every call, per thread and
/// process-wide.
#[derive(Debug, Default)]
pub struct CountingAllocator {
    _private: (),
}

impl CountingAllocator {
    /// A new counting allocator (a `const fn`, for `#[global_allocator]` statics).
    pub const fn new() -> Self {
        CountingAllocator { _private: () }
    }
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static GLOBAL_ALLOCS: AtomicU64 = AtomicU64::new(0);
static GLOBAL_DEALLOCS: AtomicU64 = AtomicU64::new(0);
static GLOBAL_REALLOCS: AtomicU64 = AtomicU64::new(0);
static GLOBAL_BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // `const` initialisation with `Copy` contents: no lazy init and no destructor, so
    // touching it from inside the allocator cannot recurse into the allocator.
    static THREAD: Cell<AllocCounts> = const {
        Cell::new(AllocCounts { allocations: 0, deallocations: 0, reallocations: 0, bytes_allocated: 0 })
    };
}

#[inline]
fn record(f: impl FnOnce(&mut AllocCounts)) {
    if !INSTALLED.load(Relaxed) {
        INSTALLED.store(true, Relaxed);
    }
    // `try_with` fails only during thread teardown; those calls are simply not counted
    // per thread (the process-wide counters still see them).
    let _ = THREAD.try_with(|cell| {
        let mut counts = cell.get();
        f(&mut counts);
        cell.set(counts);
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly the one `System` upholds; the bookkeeping only touches
// atomics and a const-initialised thread-local `Cell`, neither of which allocates.
// Exercised by every test in this crate (see `tests::counts_*`) and by the doc test above.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        GLOBAL_ALLOCS.fetch_add(1, Relaxed);
        GLOBAL_BYTES.fetch_add(layout.size() as u64, Relaxed);
        record(|c| {
            c.allocations += 1;
            c.bytes_allocated += layout.size() as u64;
        });
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        GLOBAL_ALLOCS.fetch_add(1, Relaxed);
        GLOBAL_BYTES.fetch_add(layout.size() as u64, Relaxed);
        record(|c| {
            c.allocations += 1;
            c.bytes_allocated += layout.size() as u64;
        });
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        GLOBAL_DEALLOCS.fetch_add(1, Relaxed);
        record(|c| c.deallocations += 1);
        // SAFETY: `ptr` was returned by this allocator (hence by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = new_size.saturating_sub(layout.size()) as u64;
        GLOBAL_REALLOCS.fetch_add(1, Relaxed);
        GLOBAL_BYTES.fetch_add(grown, Relaxed);
        record(|c| {
            c.reallocations += 1;
            c.bytes_allocated += grown;
        });
        // SAFETY: `ptr`/`layout` came from this allocator (hence `System`); the caller
        // upholds `GlobalAlloc::realloc`'s contract for `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// True once a [`CountingAllocator`] has served an allocation in this process, i.e. it
/// is installed as the global allocator.
pub fn is_installed() -> bool {
    INSTALLED.load(Relaxed)
}

/// Counts made so far by the current thread.
pub fn thread_counts() -> AllocCounts {
    THREAD.with(|c| c.get())
}

/// Counts made so far by all threads of the process.
pub fn global_counts() -> AllocCounts {
    AllocCounts {
        allocations: GLOBAL_ALLOCS.load(Relaxed),
        deallocations: GLOBAL_DEALLOCS.load(Relaxed),
        reallocations: GLOBAL_REALLOCS.load(Relaxed),
        bytes_allocated: GLOBAL_BYTES.load(Relaxed),
    }
}

/// Runs `f` and returns its result with the heap operations it made on this thread.
///
/// # Panics
/// If no [`CountingAllocator`] is installed as the global allocator: the counts would
/// be zero whatever `f` did.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, AllocCounts) {
    assert_installed();
    let before = thread_counts();
    let result = f();
    let after = thread_counts();
    (result, after.since(&before))
}

/// Panics with a helpful message unless a [`CountingAllocator`] is installed.
pub fn assert_installed() {
    // Make sure at least one allocation went through the global allocator.
    drop(std::hint::black_box(Box::new(0u8)));
    assert!(
        is_installed(),
        "shockwave_arena::alloc_count: install the counting allocator first: \
         #[global_allocator] static A: CountingAllocator = CountingAllocator::new();"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArenaPool, HeaderList, PoolConfig};

    #[global_allocator]
    static ALLOC: CountingAllocator = CountingAllocator::new();

    #[test]
    fn counts_heap_operations() {
        let (v, c) = measure(|| {
            let mut v: Vec<u64> = vec![1];
            v.push(2); // grows: a realloc
            v
        });
        assert_eq!(v, [1, 2]);
        assert_eq!(c.allocations, 1);
        assert_eq!(c.reallocations, 1);
        assert!(c.bytes_allocated >= 16);
        let ((), c) = measure(|| drop(v));
        assert_eq!(c.deallocations, 1);
        assert_eq!(c.allocations, 0);
    }

    #[test]
    fn counts_are_per_thread() {
        let ((), c) = measure(|| {
            std::thread::spawn(|| {
                let v = vec![0u8; 1000];
                std::hint::black_box(v);
            })
            .join()
            .unwrap();
        });
        // Spawning allocates on this thread, but the 1000-byte buffer is the other thread's.
        assert!(c.bytes_allocated < 1000 || c.allocations > 0);
        let g = global_counts();
        assert!(g.allocations >= c.allocations);
    }

    /// The issue's steady-state rule: on a warmed pool, get / allocate a request-shaped
    /// graph / drop makes no heap allocation at all.
    #[test]
    fn warm_pool_cycles_make_zero_heap_allocations() {
        let pool = ArenaPool::new(PoolConfig::default());
        let names: Vec<String> = (0..20).map(|i| format!("x-header-{i}")).collect();
        let cycle = || {
            let arena = pool.get();
            let mut headers = HeaderList::new_in(&arena);
            for n in &names {
                headers.push(n.as_bytes(), b"some value").unwrap();
            }
            let buf = arena.alloc_zeroed(4096).unwrap();
            buf[0] = headers.len() as u8;
            let s = arena.alloc_str("GET /plaintext HTTP/1.1").unwrap();
            std::hint::black_box((buf, s, headers.get(b"X-HEADER-19")));
        };
        // Warm up: the first cycles create the arena and grow it to its working size.
        for _ in 0..3 {
            cycle();
        }
        let ((), counts) = measure(|| {
            for _ in 0..1000 {
                cycle();
            }
        });
        assert_eq!(counts.total_requests(), 0, "{counts:?}");
        assert_eq!(counts.deallocations, 0);
        assert_eq!(pool.stats().arenas_created, 1);
    }
}
