//! The HTTP/2 engine's request path makes no heap allocation once warm: HPACK decoding
//! into reused buffers, the head copied into a pooled arena, response frames encoded into
//! the reused write buffer.

mod http2_support;

use std::task::{Poll, Waker};

use http2_support::Client;
use shockwave::arena::alloc_count::{self, CountingAllocator};
use shockwave::arena::ArenaPool;
use shockwave::http2::{Event, Http2Config, ServerConnection};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn one_request(server: &mut ServerConnection, pool: &ArenaPool, input: &[u8], id: u32) {
    assert_eq!(server.recv(input).unwrap(), input.len());
    let Some(Event::Request { stream_id }) = server.poll_event() else {
        panic!("no request")
    };
    assert_eq!(stream_id, id);
    let head = server.take_head(id).unwrap();
    {
        let arena = pool.get();
        let h = head.copy_into(&arena).unwrap();
        assert_eq!(h.path, Some(&b"/"[..]));
        assert_eq!(h.headers.len(), 2);
    }
    server.recycle_head(head);
    let fields: [(&[u8], &[u8]); 3] = [
        (b":status", b"200"),
        (b"content-type", b"text/plain"),
        (b"content-length", b"13"),
    ];
    server.send_headers(id, fields, false).unwrap();
    let r = server.poll_send_data(id, Waker::noop(), b"Hello, World!", true);
    assert_eq!(r, Poll::Ready(Ok(13)));
    server.release(id);
    let n = server.pending_output().len();
    server.advance_output(n);
}

#[test]
fn steady_state_request_path_makes_no_allocation() {
    alloc_count::assert_installed();
    let pool = ArenaPool::default();
    let mut server = ServerConnection::new(Http2Config::default());
    let mut client = Client::new();
    client.preface(&[]).settings_ack();
    let input = client.take();
    server.recv(&input).unwrap();
    let n = server.pending_output().len();
    server.advance_output(n);
    // Pre-encode the requests (the client's HPACK state makes later blocks tiny).
    let blocks: Vec<Vec<u8>> = (0..300u32)
        .map(|i| {
            client.headers(
                1 + 2 * i,
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", "localhost"),
                    ("user-agent", "bench"),
                    ("accept", "*/*"),
                ],
                true,
            );
            client.take()
        })
        .collect();
    for (i, b) in blocks[..200].iter().enumerate() {
        one_request(&mut server, &pool, b, 1 + 2 * i as u32);
    }
    let ((), counts) = alloc_count::measure(|| {
        for (i, b) in blocks[200..].iter().enumerate() {
            one_request(&mut server, &pool, b, 401 + 2 * i as u32);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}
