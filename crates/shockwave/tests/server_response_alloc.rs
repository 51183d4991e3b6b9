//! A response with many header fields bound to the request arena makes no heap
//! allocation (the spill goes into the arena), and one without an arena spills once.

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::arena::Arena;
use shockwave::server::Response;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const NAMES: [&str; 20] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t",
];

#[test]
fn arena_bound_responses_spill_without_heap_allocations() {
    let arena = Arena::with_capacity(16 * 1024);
    let (count, counts) = alloc_count::measure(|| {
        let mut r = Response::ok().with_arena(&arena);
        for n in NAMES {
            r = r.header(n, "value");
        }
        r.header_fields().count()
    });
    assert_eq!(count, NAMES.len());
    assert_eq!(counts.total_requests(), 0, "{counts:?}");

    // Not bound to an arena: the fields spill onto the heap (a few growth steps at most).
    let (count, counts) = alloc_count::measure(|| {
        let mut r = Response::ok();
        for n in NAMES {
            r = r.header(n, "value");
        }
        r.header_fields().count()
    });
    assert_eq!(count, NAMES.len());
    assert!((1..=3).contains(&counts.total_requests()), "{counts:?}");
}
