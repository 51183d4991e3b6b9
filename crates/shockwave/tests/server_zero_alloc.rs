//! A warmed server answering the plaintext route makes zero heap allocations per request,
//! with both allocation strategies. One test per binary: the counting allocator
//! sees every thread of the process, so nothing else may run concurrently.

mod server_util;
mod zero_alloc_support;

use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::server::routes::DefaultRoutes;
use shockwave::server::Alloc;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const REQ: &[u8] =
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: zero-alloc-test\r\nAccept: */*\r\n\r\n";

fn measure(alloc: Alloc) -> (u64, u64) {
    let handle = server_util::builder()
        .alloc(alloc)
        .start(DefaultRoutes::new())
        .unwrap();
    zero_alloc_support::measure(handle, REQ, |_| {})
}

#[test]
fn warmed_server_makes_zero_allocations_per_request() {
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
