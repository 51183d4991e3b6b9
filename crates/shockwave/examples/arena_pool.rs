//! The arena lifecycle in one screen: a per-thread pool lends an arena per "request",
//! the request's data lives in it, and dropping the guard frees everything at once.
//!
//! Run: `cargo run --release -p shockwave --example arena_pool`

use std::time::Instant;

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::arena::{ArenaPool, HeaderList, PoolConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// A request-shaped object graph built in the arena: it cannot outlive the arena.
fn handle_request(pool: &ArenaPool, n: usize) -> usize {
    let arena = pool.get();
    let mut headers = HeaderList::new_in(&arena);
    headers
        .push(b"Host", b"localhost:8080")
        .expect("within the arena limit");
    headers
        .push(b"Accept", b"*/*")
        .expect("within the arena limit");
    let body = arena.alloc_zeroed(4096).expect("within the arena limit");
    body[0] = (n % 251) as u8;
    headers.len() + body.len()
}

fn main() {
    let pool = ArenaPool::new(PoolConfig::default());
    // Warm the pool, then measure the steady state.
    for i in 0..10 {
        handle_request(&pool, i);
    }
    let requests = 1_000_000;
    let start = Instant::now();
    let (total, counts) = alloc_count::measure(|| {
        (0..requests)
            .map(|i| handle_request(&pool, i))
            .sum::<usize>()
    });
    let elapsed = start.elapsed();
    let stats = pool.stats();
    println!("requests:            {requests}");
    println!("bytes touched:       {total}");
    println!(
        "time per request:    {:.1} ns",
        elapsed.as_nanos() as f64 / requests as f64
    );
    println!(
        "heap allocs/request: {:.3}",
        counts.total_requests() as f64 / requests as f64
    );
    println!("arenas created:      {}", stats.arenas_created);
    println!("arena resets:        {}", stats.resets);
    println!("avg bytes per arena: {}", stats.average_bytes_per_arena());
    println!("avg arena lifetime:  {:?}", stats.average_lifetime());
    println!("retained bytes:      {}", stats.retained_bytes);
}
