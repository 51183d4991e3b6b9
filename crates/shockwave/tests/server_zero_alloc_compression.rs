//! Response compression keeps the zero-allocation path: a warmed server whose handler is
//! wrapped in `Compression` answers the plaintext route (too small to compress) to
//! requests that accept gzip and br with zero heap allocations per request, with both
//! allocation strategies. One test per binary: the counting allocator sees every thread
//! of the process, so nothing else may run concurrently.
#![cfg(feature = "compression")]

mod server_util;

use std::io::{Read, Write};

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Alloc, Compression};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const REQ: &[u8] =
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: zero-alloc-test\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n";

/// Sends `batch` pipelined requests per write, `rounds` times, reading the responses into
/// a preallocated buffer (the client itself allocates nothing per request).
fn drive(
    s: &mut std::net::TcpStream,
    out: &mut [u8],
    batch_req: &[u8],
    resp_len: usize,
    batch: usize,
    rounds: usize,
) {
    for _ in 0..rounds {
        s.write_all(batch_req).unwrap();
        s.read_exact(&mut out[..resp_len * batch]).unwrap();
        assert!(out[..resp_len * batch].ends_with(b"Hello, World!"));
    }
}

fn measure(alloc: Alloc) -> (u64, u64) {
    let handle = server_util::builder()
        .alloc(alloc)
        .start(Compression::new().wrap(DefaultRoutes::new()))
        .unwrap();
    let mut s = server_util::connect(handle.local_addr());
    // Learn the response size (fixed: the Date value has a fixed width).
    s.write_all(REQ).unwrap();
    let mut pending = Vec::new();
    let first = server_util::read_response(&mut s, &mut pending);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, b"Hello, World!");
    assert!(first.header("content-encoding").is_none());
    let head_len = {
        let mut n = "HTTP/1.1 200 OK\r\n".len();
        for (name, value) in &first.headers {
            n += name.len() + 2 + value.len() + 2;
        }
        n + 2
    };
    let resp_len = head_len + first.body.len();
    let pipelined: Vec<u8> = REQ.repeat(16);
    let mut out = vec![0u8; resp_len * 16];

    // Warm up: buffers, arena pool, header storage reach their working size.
    drive(&mut s, &mut out, REQ, resp_len, 1, 200);
    drive(&mut s, &mut out, &pipelined, resp_len, 16, 50);

    let client_before = alloc_count::thread_counts();
    let before = alloc_count::global_counts();
    drive(&mut s, &mut out, REQ, resp_len, 1, 1000);
    drive(&mut s, &mut out, &pipelined, resp_len, 16, 100);
    let after = alloc_count::global_counts();
    let client = alloc_count::thread_counts().since(&client_before);
    let server = after.since(&before).total_requests() - client.total_requests();
    drop(s);
    let stats = handle.stats();
    assert!(stats.requests >= 1000 + 1600 + 200 + 800, "{stats:?}");
    server_util::stop(handle);
    (server, client.total_requests())
}

#[test]
fn compression_wrapper_keeps_zero_allocations_per_request() {
    alloc_count::assert_installed();
    for alloc in [Alloc::Arena, Alloc::Heap] {
        let (server, client) = measure(alloc);
        assert_eq!(client, 0, "the test client must not allocate ({alloc:?})");
        assert_eq!(
            server, 0,
            "{alloc:?}: the server made {server} heap allocations over 2,600 requests"
        );
    }
}
