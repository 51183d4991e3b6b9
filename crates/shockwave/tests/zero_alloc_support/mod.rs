//! Shared measurement of the zero-allocation tests (server_zero_alloc.rs and
//! server_zero_alloc_compression.rs): the server's heap allocations over 2,600 warmed
//! keep-alive requests, single and 16-deep pipelined. The test binary installs the
//! counting allocator.

use std::io::{Read, Write};

use shockwave::arena::alloc_count;
use shockwave::server::ServerHandle;

use crate::server_util::{self, Resp};

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

/// Sends `req` (its answer: 200 `Hello, World!`, which `check_first` may inspect further)
/// to the server of `handle`, warms it up, then counts the heap allocations of 1,000
/// single and 100 × 16 pipelined requests; stops the server. Returns the server's and
/// the test client's allocation counts.
pub fn measure(handle: ServerHandle, req: &[u8], check_first: impl Fn(&Resp)) -> (u64, u64) {
    let mut s = server_util::connect(handle.local_addr());
    // Learn the response size (fixed: the Date value has a fixed width).
    s.write_all(req).unwrap();
    let mut pending = Vec::new();
    let first = server_util::read_response(&mut s, &mut pending);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, b"Hello, World!");
    check_first(&first);
    let head_len = {
        let mut n = "HTTP/1.1 200 OK\r\n".len();
        for (name, value) in &first.headers {
            n += name.len() + 2 + value.len() + 2;
        }
        n + 2
    };
    let resp_len = head_len + first.body.len();
    let pipelined: Vec<u8> = req.repeat(16);
    let mut out = vec![0u8; resp_len * 16];

    // Warm up: buffers, arena pool, header storage reach their working size.
    drive(&mut s, &mut out, req, resp_len, 1, 200);
    drive(&mut s, &mut out, &pipelined, resp_len, 16, 50);

    let client_before = alloc_count::thread_counts();
    let before = alloc_count::global_counts();
    drive(&mut s, &mut out, req, resp_len, 1, 1000);
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
