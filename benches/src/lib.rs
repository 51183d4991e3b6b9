//! Shared helpers for Shockwave's criterion benchmarks.

use shockwave_arena::alloc_count::{self, AllocCounts};

pub mod client_peers;

/// Warms `f` up (so pools and arenas reach their steady state), then runs it
/// `iterations` times and returns the heap allocations (plus reallocations) and bytes per
/// iteration on this thread. The counting allocator must be the bench binary's global
/// allocator.
pub fn allocs_per_iter(iterations: u64, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..16 {
        f();
    }
    let ((), counts): ((), AllocCounts) = alloc_count::measure(|| {
        for _ in 0..iterations {
            f();
        }
    });
    (
        counts.total_requests() as f64 / iterations as f64,
        counts.bytes_allocated as f64 / iterations as f64,
    )
}

/// Prints a one-line allocation report next to criterion's timing output.
pub fn report_allocs(name: &str, iterations: u64, f: impl FnMut()) {
    let (allocs, bytes) = allocs_per_iter(iterations, f);
    println!("allocs/iter {name:<40} {allocs:>8.2} allocs {bytes:>10.1} bytes");
}
