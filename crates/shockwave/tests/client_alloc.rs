//! Heap allocations per request of the arena API with a warm pool and a warm arena.
//!
//! The counting allocator counts per thread, so the client runs on a current-thread
//! runtime on the test thread and the server (plain blocking sockets) on its own thread.

use std::io::{Read, Write};
use std::net::TcpListener;

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::arena::Arena;
use shockwave::client::{AllocStrategy, ArenaRequest, Client};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nServer: test\r\n\r\nHello, World!";
const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nHello, \r\n6\r\nWorld!\r\n0\r\n\r\n";

/// A blocking keep-alive server on its own thread answering `requests` requests (on any
/// number of connections) with `response`, then exiting.
fn spawn_server(response: &'static [u8], requests: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/plaintext", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        while served < requests {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let _ = s.set_nodelay(true);
            let mut buf = vec![0u8; 8192];
            let mut have = 0;
            while let Ok(n) = s.read(&mut buf[have..]) {
                if n == 0 {
                    break;
                }
                have += n;
                while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.copy_within(end + 4..have, 0);
                    have -= end + 4;
                    if s.write_all(response).is_err() {
                        return;
                    }
                    served += 1;
                }
                if served >= requests {
                    return;
                }
            }
        }
    });
    (url, handle)
}

fn per_request_allocations(response: &'static [u8], owned: bool, alloc: AllocStrategy) -> f64 {
    const WARM: usize = 20;
    const MEASURED: usize = 200;
    let (url, server) = spawn_server(response, WARM + MEASURED);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::builder().alloc_strategy(alloc).build().unwrap();
    let mut arena = Arena::with_capacity(16 * 1024);
    let headers: &[(&[u8], &[u8])] = &[(b"accept", b"*/*")];
    let one = |arena: &mut Arena| {
        rt.block_on(async {
            if owned {
                let resp = client.get(&url).send().await.unwrap();
                assert_eq!(resp.bytes().await.unwrap().len(), 13);
            } else {
                let resp = client
                    .send_in(arena, ArenaRequest::get(&url).headers(headers))
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.body(), b"Hello, World!");
            }
        });
        arena.reset();
    };
    for _ in 0..WARM {
        one(&mut arena);
    }
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..MEASURED {
            one(&mut arena);
        }
    });
    drop(client);
    server.join().unwrap();
    counts.total_requests() as f64 / MEASURED as f64
}

#[test]
fn arena_get_makes_at_most_two_allocations_per_request() {
    let per = per_request_allocations(RESPONSE, false, AllocStrategy::Arena);
    println!("arena API, Content-Length response: {per:.2} allocations/request");
    assert!(per <= 2.0, "{per} allocations per request");
    let per = per_request_allocations(CHUNKED, false, AllocStrategy::Arena);
    println!("arena API, chunked response: {per:.2} allocations/request");
    assert!(per <= 2.0, "{per} allocations per request");
}

#[test]
fn owned_get_allocations_are_bounded() {
    // The owned API copies the head into an http::HeaderMap and the body into Bytes:
    // a handful of allocations, reported (and bounded loosely) here.
    for alloc in [AllocStrategy::Arena, AllocStrategy::Heap] {
        let per = per_request_allocations(RESPONSE, true, alloc);
        println!("owned API ({alloc:?}): {per:.2} allocations/request");
        assert!(per <= 16.0, "{per} allocations per request");
    }
}

/// The same loop inside one task (no `block_on` per request): what a real caller's
/// request loop costs.
#[test]
fn arena_get_inside_one_task() {
    const WARM: usize = 20;
    const MEASURED: usize = 200;
    let (url, server) = spawn_server(RESPONSE, WARM + MEASURED);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new();
    let per = rt.block_on(async {
        let mut arena = Arena::with_capacity(16 * 1024);
        let mut before = alloc_count::thread_counts();
        for i in 0..WARM + MEASURED {
            if i == WARM {
                alloc_count::assert_installed();
                before = alloc_count::thread_counts();
            }
            {
                let resp = client
                    .send_in(&arena, ArenaRequest::get(&url))
                    .await
                    .unwrap();
                assert_eq!(resp.body(), b"Hello, World!");
            }
            arena.reset();
        }
        let counts = alloc_count::thread_counts().since(&before);
        counts.total_requests() as f64 / MEASURED as f64
    });
    println!("arena API inside one task: {per:.2} allocations/request");
    // The goal is zero; allow for a rare runtime-internal allocation.
    assert!(per < 1.0, "{per} allocations per request");
    drop(client);
    server.join().unwrap();
}
