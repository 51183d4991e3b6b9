//! A request-shaped object graph (a struct, 20 header pairs, a 4 KiB buffer) allocated
//! from a pooled arena versus from the heap (Box/Vec/String).
//!
//! Run: `cargo bench -p shockwave-benches --bench arena`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shockwave_arena::alloc_count::CountingAllocator;
use shockwave_arena::{ArenaPool, HeaderList, PoolConfig};
use shockwave_benches::report_allocs;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const HEADERS: [(&str, &str); 20] = [
    ("Host", "example.com"),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) Shockwave-bench",
    ),
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Connection", "keep-alive"),
    ("Cookie", "session=0123456789abcdef; theme=dark"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "none"),
    ("Sec-Fetch-User", "?1"),
    ("Cache-Control", "max-age=0"),
    ("Referer", "https://example.com/"),
    ("DNT", "1"),
    ("Pragma", "no-cache"),
    ("TE", "trailers"),
    ("X-Request-Id", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    ("X-Forwarded-For", "203.0.113.7"),
    ("Priority", "u=0, i"),
];

/// The heap version: what a straightforward owned request would look like.
#[allow(dead_code)]
struct HeapRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn heap_request() -> Box<HeapRequest> {
    let mut headers = Vec::with_capacity(HEADERS.len());
    for (n, v) in HEADERS {
        headers.push((n.to_string(), v.to_string()));
    }
    Box::new(HeapRequest {
        method: "GET".to_string(),
        path: "/index.html".to_string(),
        headers,
        body: vec![0u8; 4096],
    })
}

/// The arena version: the same graph, borrowing from a pooled arena.
#[allow(dead_code)]
struct ArenaRequest<'a> {
    method: &'a str,
    path: &'a str,
    headers: HeaderList<'a>,
    body: &'a mut [u8],
}

fn arena_request(pool: &ArenaPool) -> usize {
    let arena = pool.get();
    let mut headers = HeaderList::new_in(&arena);
    for (n, v) in HEADERS {
        let n = arena.alloc_str(n).unwrap();
        let v = arena.alloc_str(v).unwrap();
        headers.push(n.as_bytes(), v.as_bytes()).unwrap();
    }
    let req = arena
        .alloc(ArenaRequest {
            method: arena.alloc_str("GET").unwrap(),
            path: arena.alloc_str("/index.html").unwrap(),
            headers,
            body: arena.alloc_zeroed(4096).unwrap(),
        })
        .unwrap();
    black_box(&*req);
    req.headers.len() + req.body.len()
}

fn bench(c: &mut Criterion) {
    let pool = ArenaPool::new(PoolConfig::default());
    report_allocs("request_graph/heap", 10_000, || {
        black_box(heap_request());
    });
    report_allocs("request_graph/arena_pool", 10_000, || {
        black_box(arena_request(&pool));
    });
    let mut group = c.benchmark_group("request_graph");
    group.bench_function("heap", |b| b.iter(|| black_box(heap_request())));
    group.bench_function("arena_pool", |b| b.iter(|| black_box(arena_request(&pool))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
