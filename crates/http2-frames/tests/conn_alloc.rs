//! The connection's request path makes no heap allocation once warm: HPACK decoding into
//! reused buffers, the head copied into a pooled arena, response frames encoded into the
//! reused write buffer; on the client side too (open, response head, body, trailers).

mod conn_support;

use std::time::Instant;

use conn_support::Client;
use shockwave_arena::alloc_count::{self, CountingAllocator};
use shockwave_arena::ArenaPool;
use shockwave_http2_frames::conn::{Config, Connection, Event, StreamId};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn one_request(server: &mut Connection, pool: &ArenaPool, input: &[u8], id: u32, now: Instant) {
    assert_eq!(server.recv(input, now).unwrap(), input.len());
    let Some(Event::Request { stream_id }) = server.poll_event() else {
        panic!("no request")
    };
    assert_eq!(stream_id, id);
    let head = server.take_head(stream_id).unwrap();
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
    server.send_headers(stream_id, fields, false).unwrap();
    assert_eq!(server.send_data(stream_id, b"Hello, World!", true), Ok(13));
    server.release(stream_id);
    server.handle_timeout(now);
    let n = server.pending_output().len();
    server.advance_output(n);
}

#[test]
fn steady_state_request_path_makes_no_allocation() {
    alloc_count::assert_installed();
    let now = Instant::now();
    let pool = ArenaPool::default();
    let mut server = Connection::new(Config::default());
    let mut client = Client::new();
    client.preface(&[]).settings_ack();
    let input = client.take();
    server.recv(&input, now).unwrap();
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
        one_request(&mut server, &pool, b, 1 + 2 * i as u32, now);
    }
    let ((), counts) = alloc_count::measure(|| {
        for (i, b) in blocks[200..].iter().enumerate() {
            one_request(&mut server, &pool, b, 401 + 2 * i as u32, now);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

/// Moves every pending byte from `from` to `to`.
fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
    let n = from.pending_output().len();
    if n == 0 {
        return;
    }
    let used = to.recv(from.pending_output(), now).unwrap();
    assert_eq!(used, n);
    from.advance_output(n);
}

/// One request/response exchange between two connections, both roles driven the way a
/// driver would: events drained, heads recycled, body and trailers read.
fn exchange(client: &mut Connection, server: &mut Connection, now: Instant, buf: &mut [u8]) {
    let req: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.test"),
        (b":path", b"/"),
    ];
    let id = client.open_stream(req, true).unwrap();
    pump(client, server, now);
    let Some(Event::Request { stream_id }) = server.poll_event() else {
        panic!("no request")
    };
    assert_eq!(stream_id, id);
    let head = server.take_head(stream_id).unwrap();
    server.recycle_head(head);
    let res: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"content-length", b"5")];
    server.send_headers(stream_id, res, false).unwrap();
    assert_eq!(server.send_data(stream_id, b"hello", false), Ok(5));
    let trailers: [(&[u8], &[u8]); 1] = [(b"x-sum", b"5")];
    server.send_headers(stream_id, trailers, true).unwrap();
    server.release(stream_id);
    pump(server, client, now);
    assert_eq!(client.poll_event(), Some(Event::Response { stream_id: id }));
    let head = client.take_response(id).unwrap();
    assert_eq!(head.status(), Some(200));
    client.recycle_head(head);
    assert_eq!(client.read_data(id, buf), Ok(5));
    assert_eq!(client.read_data(id, buf), Ok(0));
    let t = client.take_trailers(id).unwrap();
    client.recycle_head(t);
    client.release(id);
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
    client.handle_timeout(now);
    server.handle_timeout(now);
    pump(client, server, now);
    pump(server, client, now);
}

#[test]
fn warm_client_and_server_exchange_makes_no_allocation() {
    alloc_count::assert_installed();
    let now = Instant::now();
    let mut client = Connection::client(Config::default());
    let mut server = Connection::new(Config::default());
    pump(&mut client, &mut server, now);
    pump(&mut server, &mut client, now);
    pump(&mut client, &mut server, now);
    let mut buf = [0u8; 64];
    for _ in 0..200 {
        exchange(&mut client, &mut server, now, &mut buf);
    }
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..100 {
            exchange(&mut client, &mut server, now, &mut buf);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
    assert_eq!(client.active_streams(), 0);
    assert_eq!(server.active_streams(), 0);
    assert!(StreamId::new(601).is_client_initiated());
}
