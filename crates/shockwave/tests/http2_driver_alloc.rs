//! The tokio HTTP/2 driver serves requests on a warmed connection without heap
//! allocations: stream futures live in reused slots, the engine and the arenas reuse their
//! buffers. One test per binary: the counting allocator sees every thread of the process.

mod http2_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http2_support::{server, Client};
use shockwave::arena::alloc_count::{self, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Streams per batch (all in flight at once).
const BATCH: usize = 32;

/// Requests whose distinct response fields fill the server's HPACK table (each entry
/// is 32 + 6 + 10 bytes: about 85 fit a 4096-byte table; 320 cycle it a few times, so
/// its indexes also reach the size that evictions keep).
const FILL: usize = 320;

/// Reads server frames looking only at frame headers (no allocation); bytes of a frame
/// not complete yet stay buffered for the next call.
struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Reader {
    /// Reads until `want` streams ended (HEADERS or DATA with END_STREAM). Panics on
    /// RST_STREAM or GOAWAY.
    fn read_ends(&mut self, sock: &mut TcpStream, want: usize) {
        let mut ended = 0;
        while ended < want {
            let avail = self.end - self.start;
            if avail < 9 || avail < 9 + frame_len(&self.buf[self.start..]) {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let n = sock.read(&mut self.buf[self.end..]).expect("read");
                assert!(n > 0, "server closed the connection");
                self.end += n;
                continue;
            }
            let b = &self.buf[self.start..];
            let (kind, flags) = (b[3], b[4]);
            assert!(
                kind != 0x3 && kind != 0x7,
                "RST_STREAM or GOAWAY (type {kind})"
            );
            if (kind == 0x0 || kind == 0x1) && flags & 0x1 != 0 {
                ended += 1;
            }
            self.start += 9 + frame_len(b);
        }
    }
}

fn frame_len(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

#[test]
fn warmed_connection_serves_requests_without_allocating() {
    alloc_count::assert_installed();
    let srv = server::start();
    let mut sock = TcpStream::connect(srv.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.set_nodelay(true).unwrap();
    let mut c = Client::new();
    // Handshake, and all the connection window the server could want.
    c.preface(&[])
        .settings_ack()
        .window(0, (1 << 31) - 1 - 65_535);
    sock.write_all(&c.take()).unwrap();
    let mut reader = Reader {
        buf: vec![0u8; 1 << 20],
        start: 0,
        end: 0,
    };
    // The server's HPACK encoder grows its dynamic table and indexes with the entries it
    // inserts, up to the table's size (RFC 7541 §4.2: 4096 bytes by default). On a long
    // connection the table fills (one `date` value a second alone fills it within about a
    // minute); here distinct `x-fill` values fill it at once, so that a new `date` entry
    // during the measured rounds evicts old entries instead of growing the table.
    let fill: Vec<Vec<u8>> = (0..FILL / BATCH)
        .map(|chunk| {
            for i in chunk * BATCH..(chunk + 1) * BATCH {
                let path = format!("/fill/{i:04}");
                c.headers(
                    1 + 2 * i as u32,
                    &[
                        (":method", "GET"),
                        (":scheme", "http"),
                        (":path", path.as_str()),
                        (":authority", "localhost"),
                        ("user-agent", "alloc-test"),
                    ],
                    true,
                );
            }
            c.take()
        })
        .collect();
    // Pre-encode every batch (the client's HPACK state makes the blocks tiny).
    let rounds = 120;
    let batches: Vec<Vec<u8>> = (0..rounds)
        .map(|r| {
            for i in 0..BATCH {
                let id = 1 + 2 * (FILL + r * BATCH + i) as u32;
                c.headers(
                    id,
                    &[
                        (":method", "GET"),
                        (":scheme", "http"),
                        (":path", "/"),
                        (":authority", "localhost"),
                        ("user-agent", "alloc-test"),
                    ],
                    true,
                );
            }
            c.take()
        })
        .collect();
    // Warm-up: the server's HPACK table filled, then buffers, arena pool and stream
    // slots reach their size.
    for b in &fill {
        sock.write_all(b).unwrap();
        reader.read_ends(&mut sock, BATCH);
    }
    let warm = 40;
    for b in &batches[..warm] {
        sock.write_all(b).unwrap();
        reader.read_ends(&mut sock, BATCH);
    }
    let client_before = alloc_count::thread_counts();
    let before = alloc_count::global_counts();
    for b in &batches[warm..] {
        sock.write_all(b).unwrap();
        reader.read_ends(&mut sock, BATCH);
    }
    let after = alloc_count::global_counts();
    let client = alloc_count::thread_counts().since(&client_before);
    let server = after.since(&before).total_requests() - client.total_requests();
    let requests = (rounds - warm) * BATCH;
    assert_eq!(
        client.total_requests(),
        0,
        "the test client must not allocate"
    );
    assert_eq!(
        server,
        0,
        "the server made {server} heap allocation calls over {requests} requests ({:.2} per request)",
        server as f64 / requests as f64
    );
}
