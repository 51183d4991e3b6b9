//! Client CPU per request and requests/s, Shockwave next to hyper, side by side in one
//! run (alternating rounds, medians), with the client's CPU time taken from its own
//! thread (`/proc/thread-self/schedstat`): each client runs on a current-thread tokio
//! runtime on the main thread, its connection task included, while the server runs on
//! other threads.
//!
//! - `h1`: sequential keep-alive GETs (13-byte body) against a tiny blocking responder:
//!   the Shockwave client's arena and owned APIs next to hyper-util's legacy client.
//! - `h2`: bursts of 50 concurrent GETs over one HTTP/2 connection (h2c prior knowledge)
//!   to the Shockwave server (one worker): the pooled Shockwave client (owned API) next
//!   to hyper's HTTP/2 client connection (the `h2` crate).
//!
//! ```sh
//! cargo run --release -p shockwave-benches --bin client_compare -- h1 20000 5
//! cargo run --release -p shockwave-benches --bin client_compare -- h2 2000 5
//! ```

use std::time::Instant;

use futures_util::future::join_all;
use http_body_util::BodyExt;
use shockwave::arena::Arena;
use shockwave::client::{ArenaRequest, Client};
use shockwave_benches::client_peers::{
    h1_server, h2_server, hyper_h1_client, hyper_h2_connect, hyper_h2_get, shockwave_get,
};

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    s.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat field")
}

/// One measurement: `(requests/s, client CPU µs per request)`.
fn measure(
    rt: &tokio::runtime::Runtime,
    batches: u64,
    per_batch: u64,
    one: &mut impl AsyncFnMut(),
) -> (f64, f64) {
    rt.block_on(async {
        for _ in 0..(200 / per_batch).max(4) {
            one().await;
        }
        let cpu = thread_cpu_ns();
        let t = Instant::now();
        for _ in 0..batches {
            one().await;
        }
        let wall = t.elapsed().as_secs_f64();
        let cpu = (thread_cpu_ns() - cpu) as f64 / 1e3;
        let n = (batches * per_batch) as f64;
        (n / wall, cpu / n)
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

/// Runs every case once per round (A B C A B C ...) and prints the medians; the last case
/// is the peer the ratios divide by.
fn report(names: &[&str], rounds: usize, mut case: impl FnMut(usize) -> (f64, f64)) {
    let mut rps = vec![Vec::new(); names.len()];
    let mut cpu = vec![Vec::new(); names.len()];
    // `CLIENT_COMPARE_ONLY=NAME`: run that case alone (for a profiler).
    let only = std::env::var("CLIENT_COMPARE_ONLY").ok();
    if let Some(i) = only.and_then(|o| names.iter().position(|n| *n == o)) {
        for _ in 0..rounds {
            let (r, c) = case(i);
            println!("{} {r:>10.0} req/s   client CPU {c:>6.2} us/req", names[i]);
        }
        return;
    }
    for _ in 0..rounds {
        for i in 0..names.len() {
            let (r, c) = case(i);
            rps[i].push(r);
            cpu[i].push(c);
        }
    }
    let peer = names.len() - 1;
    let (peer_rps, peer_cpu) = (
        median(&mut rps[peer].clone()),
        median(&mut cpu[peer].clone()),
    );
    for (i, name) in names.iter().enumerate() {
        let (r, c) = (median(&mut rps[i]), median(&mut cpu[i]));
        println!(
            "{name:<28} {r:>10.0} req/s ({:.2}x peer)   client CPU {c:>6.2} us/req ({:.2}x peer)",
            r / peer_rps,
            c / peer_cpu
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("h1", String::as_str);
    let n: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    {
        // The size of the request futures: each await copies them.
        let c = Client::new();
        let arena = Arena::new();
        println!(
            "future bytes: owned send {}, arena send_in {}",
            std::mem::size_of_val(&c.get("http://127.0.0.1/").send()),
            std::mem::size_of_val(&c.send_in(&arena, ArenaRequest::get("http://127.0.0.1/")))
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match mode {
        "h1" => {
            let url = h1_server();
            let sw = Client::new();
            let hyper = hyper_h1_client(&rt);
            let uri: hyper::Uri = url.parse().expect("uri");
            let mut arena = Arena::with_capacity(16 * 1024);
            let mut arena_case = async || {
                {
                    let resp = sw
                        .send_in(&arena, ArenaRequest::get(&url))
                        .await
                        .expect("shockwave arena request");
                    assert_eq!(resp.body().len(), 13);
                }
                arena.reset();
            };
            let mut owned_case = async || {
                shockwave_get(&sw, &url).await;
            };
            let mut hyper_case = async || {
                let resp = hyper.get(uri.clone()).await.expect("hyper request");
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                assert_eq!(body.len(), 13);
            };
            println!("h1: {n} sequential keep-alive GETs per round, {rounds} rounds");
            report(
                &["shockwave_arena", "shockwave_owned", "hyper_util_legacy"],
                rounds,
                |i| match i {
                    0 => measure(&rt, n, 1, &mut arena_case),
                    1 => measure(&rt, n, 1, &mut owned_case),
                    _ => measure(&rt, n, 1, &mut hyper_case),
                },
            );
        }
        "h2" => {
            let url = h2_server();
            let sw = Client::builder()
                .http2_prior_knowledge()
                .build()
                .expect("client");
            let hyper_h2 = hyper_h2_connect(&rt, &url);
            let uri: hyper::Uri = url.parse().expect("uri");
            let mut owned_case = async || {
                join_all((0..50).map(|_| async {
                    shockwave_get(&sw, &url).await;
                }))
                .await;
            };
            let mut arena_case = async || {
                join_all((0..50).map(|_| async {
                    let arena = Arena::with_capacity(4096);
                    let resp = sw
                        .send_in(&arena, ArenaRequest::get(&url))
                        .await
                        .expect("shockwave arena request");
                    assert_eq!(resp.body().len(), 13);
                }))
                .await;
            };
            let mut hyper_case = async || {
                join_all((0..50).map(|_| hyper_h2_get(&hyper_h2, &uri))).await;
            };
            println!("h2: {n} bursts of 50 concurrent GETs per round, {rounds} rounds");
            report(
                &[
                    "shockwave_h2_owned_x50",
                    "shockwave_h2_arena_x50",
                    "hyper_h2_x50",
                ],
                rounds,
                |i| match i {
                    0 => measure(&rt, n, 50, &mut owned_case),
                    1 => measure(&rt, n, 50, &mut arena_case),
                    _ => measure(&rt, n, 50, &mut hyper_case),
                },
            );
            assert_eq!(sw.stats().http2_connections_opened, 1);
        }
        other => panic!("unknown mode {other}: h1 or h2"),
    }
}
