//! Steady-state allocation checks: decoding QPACK field sections into a warm arena, and
//! running a request stream over a buffer, make no heap allocation.

use shockwave_arena::alloc_count::{self, CountingAllocator};
use shockwave_arena::{ArenaPool, PoolConfig};
use shockwave_quic::frame;
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig, Encoder};
use shockwave_quic::request::{RequestEvent, RequestStream};
use shockwave_quic::stream::Role;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// A typical browser request: static matches, static names with new values, literal
/// names, Huffman-coded strings, more than 16 fields (so the HeaderList spills into the
/// arena).
fn browser_request() -> Vec<(&'static [u8], &'static [u8])> {
    vec![
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"www.example.com"),
        (b":path", b"/index.html?query=shockwave&lang=en"),
        (
            b"user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        ),
        (
            b"accept",
            b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"referer", b"https://www.example.com/"),
        (
            b"cookie",
            b"session=0123456789abcdef0123456789abcdef; theme=dark",
        ),
        (b"upgrade-insecure-requests", b"1"),
        (b"sec-fetch-dest", b"document"),
        (b"sec-fetch-mode", b"navigate"),
        (b"sec-fetch-site", b"same-origin"),
        (b"sec-fetch-user", b"?1"),
        (b"priority", b"u=0, i"),
        (b"te", b"trailers"),
        (b"x-request-id", b"f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    ]
}

#[test]
fn qpack_decode_into_warm_arena_makes_no_heap_allocation() {
    let fields = browser_request();
    let mut block = Vec::new();
    Encoder::new().encode_section(fields.iter().copied(), &mut block);

    let pool = ArenaPool::new(PoolConfig::default());
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut checksum = 0usize;
    let mut cycle = |decoder: &mut Decoder| {
        let arena = pool.get();
        // The driver copies the HEADERS payload into the request's arena.
        let block = arena.alloc_bytes(&block).unwrap();
        let Decoded::Done(list) = decoder.decode_section(0, block, &arena).unwrap() else {
            panic!("static-only sections never block");
        };
        assert_eq!(list.len(), 18);
        assert!(list.spilled());
        checksum += list.get(b":path").unwrap().len() + list.get(b"x-request-id").unwrap().len();
    };
    for _ in 0..4 {
        cycle(&mut decoder);
    }
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..200 {
            cycle(&mut decoder);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
    assert!(checksum > 0);

    // The callback API, after one warm-up, allocates nothing either.
    let mut n = 0;
    decoder
        .decode_section_with(0, &block, |_, _| n += 1)
        .unwrap();
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..200 {
            decoder
                .decode_section_with(0, &block, |name, value| n += name.len() + value.len())
                .unwrap();
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
    assert!(n > 0);
}

#[test]
fn dynamic_table_sections_and_acks_make_no_heap_allocation() {
    // RFC 9204 B.2's table and field section, with the Section Acknowledgment written
    // to a reused decoder-stream buffer.
    let encoder_stream: Vec<u8> = [
        0x3f, 0xbd, 0x01, 0xc0, 0x0f, b'w', b'w', b'w', b'.', b'e', b'x', b'a', b'm', b'p', b'l',
        b'e', b'.', b'c', b'o', b'm', 0xc1, 0x0c, b'/', b's', b'a', b'm', b'p', b'l', b'e', b'/',
        b'p', b'a', b't', b'h',
    ]
    .to_vec();
    let section = [0x03, 0x81, 0x10, 0x11];
    let mut decoder = Decoder::new(DecoderConfig::default());
    decoder.feed_encoder_stream(&encoder_stream).unwrap();
    let pool = ArenaPool::new(PoolConfig::default());
    let mut out = Vec::with_capacity(64);
    let cycle = |decoder: &mut Decoder, out: &mut Vec<u8>| {
        let arena = pool.get();
        let list = decoder
            .decode_section(4, &section, &arena)
            .unwrap()
            .done()
            .unwrap();
        assert_eq!(list.get(b":authority"), Some(&b"www.example.com"[..]));
        out.clear();
        decoder.take_decoder_stream(out);
        assert_eq!(out[..], [0x84]);
    };
    for _ in 0..4 {
        cycle(&mut decoder, &mut out);
    }
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..200 {
            cycle(&mut decoder, &mut out);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

#[test]
fn request_stream_over_a_buffer_makes_no_heap_allocation() {
    let mut wire = Vec::new();
    Encoder::new()
        .encode_headers_frame(browser_request(), &mut wire)
        .unwrap();
    frame::encode_data(&[7u8; 4096], &mut wire).unwrap();
    frame::encode_reserved(1, b"grease", &mut wire).unwrap();
    frame::encode_data(&[7u8; 100], &mut wire).unwrap();

    let mut stream = RequestStream::new(Role::Server);
    let run = |stream: &mut RequestStream| {
        stream.reset();
        let mut input = &wire[..];
        let mut body = 0;
        let mut headers = 0;
        loop {
            let (n, ev) = stream.recv(input).unwrap();
            input = &input[n..];
            match ev {
                Some(RequestEvent::Headers(h)) => headers += h.len(),
                Some(RequestEvent::Data(d)) => body += d.len(),
                Some(_) => unreachable!(),
                None => break,
            }
        }
        stream.finish().unwrap();
        assert_eq!(body, 4196);
        assert!(headers > 0);
    };
    run(&mut stream);
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..200 {
            run(&mut stream);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

/// What a driver does per request through `connection::Connection`: the server decodes
/// the request's section and encodes the response's HEADERS frame; with a dynamic table
/// the client encodes with it, and the acknowledgments travel on the decoder stream.
#[test]
fn connection_field_sections_make_no_heap_allocation() {
    use shockwave_quic::connection::{Config, Connection, LocalStream};

    fn deliver(from: &mut Connection, to: &mut Connection, stream: LocalStream, id: u64) {
        let bytes = from.pending(stream);
        if !bytes.is_empty() {
            let n = bytes.len();
            to.recv_uni(id, bytes, false).unwrap();
            from.advance(stream, n);
        }
    }

    for encoder_table_capacity in [0, 4096] {
        let mut client = Connection::new(
            Role::Client,
            Config {
                encoder_table_capacity,
                ..Config::default()
            },
        );
        let mut server = Connection::new(Role::Server, Config::default());
        // Client uni streams 2, 6, 10 and server uni streams 3, 7, 11 (control,
        // encoder, decoder).
        for (i, s) in LocalStream::ALL.into_iter().enumerate() {
            deliver(&mut client, &mut server, s, 2 + 4 * i as u64);
            deliver(&mut server, &mut client, s, 3 + 4 * i as u64);
        }
        while client.poll_event().is_some() || server.poll_event().is_some() {}

        let pool = ArenaPool::new(PoolConfig::default());
        let fields = browser_request();
        let response: [(&[u8], &[u8]); 3] = [
            (b":status", b"200"),
            (b"content-type", b"text/html; charset=utf-8"),
            (b"server", b"shockwave"),
        ];
        let mut request = Vec::with_capacity(1024);
        let mut reply = Vec::with_capacity(256);
        let mut cycle = |client: &mut Connection, server: &mut Connection| {
            request.clear();
            client
                .encode_headers_frame(0, fields.iter().copied(), &mut request)
                .unwrap();
            deliver(client, server, LocalStream::QpackEncoder, 6);
            let arena = pool.get();
            // The HEADERS payload, copied into the request's arena as a driver does.
            let header = 1 + shockwave_quic::varint::len_from_first_byte(request[1]);
            let section = arena.alloc_bytes(&request[header..]).unwrap();
            let list = server
                .decode_section(0, section, &arena)
                .unwrap()
                .done()
                .unwrap();
            assert_eq!(list.len(), 18);
            reply.clear();
            server
                .encode_headers_frame(0, response, &mut reply)
                .unwrap();
            deliver(server, client, LocalStream::QpackDecoder, 11);
            assert!(server.poll_event().is_none() && client.poll_event().is_none());
        };
        for _ in 0..4 {
            cycle(&mut client, &mut server);
        }
        let ((), counts) = alloc_count::measure(|| {
            for _ in 0..200 {
                cycle(&mut client, &mut server);
            }
        });
        assert_eq!(
            counts.total_requests(),
            0,
            "table {encoder_table_capacity}: {counts:?}"
        );
        let (inserted, known) = client.encoder_insert_counts();
        assert_eq!(inserted, known);
        assert_eq!(inserted > 0, encoder_table_capacity > 0);
    }
}
