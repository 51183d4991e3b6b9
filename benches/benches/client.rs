//! Sequential keep-alive GETs against one local server: the Shockwave client (owned and
//! arena APIs) next to hyper-util's legacy client and reqwest, with heap allocations per
//! request for each.
//!
//! The server is a tiny blocking HTTP/1.1 responder on its own thread (one thread per
//! connection), the same for every client, so the numbers compare client overhead. Each
//! client runs on a current-thread tokio runtime on the bench thread, so the allocation
//! counts (per thread) include everything the client does, its connection task too.
//!
//! The HTTP/2 groups run against the shockwave server (h2c with prior knowledge, one
//! worker thread, a 13-byte body): sequential GETs and bursts of 50 concurrent GETs over
//! one multiplexed connection, the pooled Shockwave client (owned and arena APIs) next to
//! hyper's HTTP/2 client connection (`hyper::client::conn::http2`).
//!
//! Run: `cargo bench -p shockwave-benches --bench client`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt;
use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client};
use shockwave_benches::client_peers::{
    h1_server, h2_server, hyper_h1_client, hyper_h2_connect, hyper_h2_get, shockwave_get,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Runs `requests` requests of `one` inside a single task and returns the heap
/// allocations and bytes per request on this thread (after a warm-up).
fn allocs_per_request(
    rt: &tokio::runtime::Runtime,
    requests: u64,
    one: &mut impl AsyncFnMut(),
) -> (f64, f64) {
    rt.block_on(async {
        for _ in 0..64 {
            one().await;
        }
        alloc_count::assert_installed();
        let before = alloc_count::thread_counts();
        for _ in 0..requests {
            one().await;
        }
        let c = alloc_count::thread_counts().since(&before);
        (
            c.total_requests() as f64 / requests as f64,
            c.bytes_allocated as f64 / requests as f64,
        )
    })
}

/// Benchmarks `one` (timed inside one task per sample) and reports its allocations.
fn run(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut one: impl AsyncFnMut(),
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    one().await;
                }
                t.elapsed()
            })
        })
    });
    report(name, allocs_per_request(rt, 2000, &mut one));
}

/// Measures `sw` fetching `url` (a 13-byte body) with the arena API as `{prefix}_arena`
/// and with the owned API as `{prefix}_owned`.
fn run_shockwave(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    sw: &Client,
    url: &str,
    prefix: &str,
) {
    let mut arena = Arena::with_capacity(16 * 1024);
    run(group, rt, &format!("{prefix}_arena"), async || {
        {
            let resp = sw
                .send_in(&arena, ArenaRequest::get(url))
                .await
                .expect("shockwave arena request");
            assert_eq!(resp.body().len(), 13);
            black_box(resp.status());
        }
        arena.reset();
    });
    run(group, rt, &format!("{prefix}_owned"), async || {
        shockwave_get(sw, url).await;
    });
}

fn report(name: &str, (allocs, bytes): (f64, f64)) {
    println!("allocs/request {name:<36} {allocs:>8.2} allocs {bytes:>10.1} bytes");
}

fn bench_clients(c: &mut Criterion) {
    let url = h1_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("client_sequential_keepalive_get");
    group.measurement_time(Duration::from_secs(4));

    // Shockwave, arena and owned APIs.
    let sw = Client::new();
    run_shockwave(&mut group, &rt, &sw, &url, "shockwave");

    // hyper-util's legacy client (its connection task runs on the same runtime).
    let hyper = hyper_h1_client(&rt);
    let uri: hyper::Uri = url.parse().expect("uri");
    run(&mut group, &rt, "hyper_util_legacy", async || {
        let resp = hyper.get(uri.clone()).await.expect("hyper request");
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("hyper body")
            .to_bytes();
        assert_eq!(body.len(), 13);
    });

    // reqwest.
    let reqwest_client = {
        let _guard = rt.enter();
        reqwest::Client::new()
    };
    run(&mut group, &rt, "reqwest", async || {
        let resp = reqwest_client
            .get(&url)
            .send()
            .await
            .expect("reqwest request");
        let body = resp.bytes().await.expect("reqwest body");
        assert_eq!(body.len(), 13);
    });
    group.finish();
}

fn bench_h2_clients(c: &mut Criterion) {
    use futures_util::future::join_all;
    let url = h2_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sw = Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let hyper_h2 = hyper_h2_connect(&rt, &url);
    let uri: hyper::Uri = url.parse().expect("uri");

    let mut group = c.benchmark_group("client_h2_sequential_get");
    group.measurement_time(Duration::from_secs(4));
    run_shockwave(&mut group, &rt, &sw, &url, "shockwave_h2");
    run(&mut group, &rt, "hyper_h2", async || {
        hyper_h2_get(&hyper_h2, &uri).await
    });
    group.finish();

    // 50 concurrent requests per iteration, all over the one connection.
    let mut group = c.benchmark_group("client_h2_concurrent_50_get");
    group.measurement_time(Duration::from_secs(4));
    run(&mut group, &rt, "shockwave_h2_owned_x50", async || {
        join_all((0..50).map(|_| async {
            shockwave_get(&sw, &url).await;
        }))
        .await;
    });
    run(&mut group, &rt, "shockwave_h2_arena_x50", async || {
        join_all((0..50).map(|_| async {
            let arena = Arena::with_capacity(4096);
            let resp = sw
                .send_in(&arena, ArenaRequest::get(&url))
                .await
                .expect("shockwave arena request");
            assert_eq!(resp.body().len(), 13);
        }))
        .await;
    });
    run(&mut group, &rt, "hyper_h2_x50", async || {
        join_all((0..50).map(|_| hyper_h2_get(&hyper_h2, &uri))).await;
    });
    group.finish();
    assert_eq!(sw.stats().http2_connections_opened, 1);
}

criterion_group!(benches, bench_clients, bench_h2_clients);
criterion_main!(benches);
