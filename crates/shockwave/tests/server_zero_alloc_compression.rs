//! Response compression keeps the zero-allocation path: a warmed server whose handler is
//! wrapped in `Compression` answers the plaintext route (too small to compress) to
//! requests that accept gzip and br with zero heap allocations per request, with both
//! allocation strategies. One test per binary: the counting allocator sees every thread
//! of the process, so nothing else may run concurrently.
#![cfg(feature = "compression")]

mod server_util;
mod zero_alloc_support;

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::{Alloc, Compression};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const REQ: &[u8] =
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: zero-alloc-test\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n";

fn measure(alloc: Alloc) -> (u64, u64) {
    let handle = server_util::builder()
        .alloc(alloc)
        .start(Compression::new().wrap(DefaultRoutes::new()))
        .unwrap();
    zero_alloc_support::measure(handle, REQ, |first| {
        assert!(first.header("content-encoding").is_none());
    })
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
