//! Decoding into a warm arena (and through the callback API) makes zero heap allocations.

use shockwave_arena::alloc_count::{self, CountingAllocator};
use shockwave_arena::{Arena, HeaderList};
use shockwave_hpack::{Decoder, Encoder};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// A replayable block sequence: the first block starts by emptying the table (size updates
/// to 0 and back), so decoding the sequence again from the start is valid.
fn blocks() -> Vec<Vec<u8>> {
    let mut enc = Encoder::new();
    enc.set_max_table_size(0);
    enc.set_max_table_size(4096);
    let mut out = Vec::new();
    for i in 0..60 {
        let path = format!("/assets/{i}/style-{}.css", i % 7);
        let cookie = format!("session=abcdef0123456789abcdef; n={}", i % 5);
        let long = "x".repeat(300 + i * 13); // Huffman, evictions
        let id = format!("{i:08}");
        let headers: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"www.example.com"),
            (b":path", path.as_bytes()),
            (
                b"user-agent",
                b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
            ),
            (b"accept", b"text/css,*/*;q=0.1"),
            (b"accept-encoding", b"gzip, deflate, br"),
            (b"cookie", cookie.as_bytes()),
            (b"authorization", b"Bearer abc"),
            (b"x-long", long.as_bytes()),
            (b"x-request-id", id.as_bytes()),
        ];
        let mut block = Vec::new();
        enc.encode(headers, &mut block);
        out.push(block);
    }
    out
}

#[test]
fn warm_arena_decode_makes_no_heap_allocation() {
    let blocks = blocks();
    let mut decoder = Decoder::new();
    let mut arena = Arena::with_capacity(64 * 1024);
    let run = |decoder: &mut Decoder, arena: &mut Arena| {
        let mut fields = 0;
        for block in &blocks {
            {
                let mut list = HeaderList::new_in(arena);
                decoder.decode_in(block, arena, &mut list).unwrap();
                fields += list.len();
                assert_eq!(list.get(b":authority"), Some(&b"www.example.com"[..]));
            }
            arena.reset();
        }
        fields
    };
    // Warm up: the decoder's scratch buffer and the arena reach their working sizes.
    let warm = run(&mut decoder, &mut arena);
    run(&mut decoder, &mut arena);
    let (fields, counts) = alloc_count::measure(|| run(&mut decoder, &mut arena));
    assert_eq!(fields, warm);
    assert_eq!(fields, 60 * 11);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
    assert_eq!(counts.deallocations, 0, "{counts:?}");
}

#[test]
fn warm_callback_decode_makes_no_heap_allocation() {
    let blocks = blocks();
    let mut decoder = Decoder::new();
    let run = |decoder: &mut Decoder| {
        let mut bytes = 0usize;
        for block in &blocks {
            decoder
                .decode(block, |n, v| bytes += n.len() + v.len())
                .unwrap();
        }
        bytes
    };
    run(&mut decoder);
    let (bytes, counts) = alloc_count::measure(|| run(&mut decoder));
    assert!(bytes > 60 * 300);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

#[test]
fn warm_encoder_makes_no_heap_allocation() {
    let mut enc = Encoder::new();
    let mut dst = Vec::with_capacity(64 * 1024);
    let paths: Vec<String> = (0..200).map(|i| format!("/item/{i}")).collect();
    let run = |enc: &mut Encoder, dst: &mut Vec<u8>| {
        for p in &paths {
            dst.clear();
            enc.encode(
                [
                    (&b":method"[..], &b"GET"[..]),
                    (b":path", p.as_bytes()),
                    (b"user-agent", b"shockwave-test/1.0"),
                    (b"x-id", p.as_bytes()),
                ],
                dst,
            );
        }
    };
    run(&mut enc, &mut dst);
    let ((), counts) = alloc_count::measure(|| run(&mut enc, &mut dst));
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

#[test]
fn size_updates_do_not_allocate_the_table_eagerly() {
    let mut decoder = Decoder::new();
    decoder.set_max_table_size(1 << 30);
    let mut block = Vec::new();
    shockwave_hpack::integer::encode(1 << 30, 5, 0x20, &mut block);
    let (result, counts) = alloc_count::measure(|| decoder.decode(&block, |_, _| {}));
    result.unwrap();
    assert_eq!(decoder.table_capacity(), 1 << 30);
    assert!(counts.bytes_allocated < 1 << 20, "{counts:?}");
}

/// An idle HTTP/2 connection holds an encoder and a decoder: both start with nothing on
/// the heap and grow their tables with the entries inserted, not to the full 4096-byte
/// table (and its indexes) up front.
#[test]
fn tables_grow_with_use_not_up_front() {
    let ((enc, dec), counts) = alloc_count::measure(|| (Encoder::new(), Decoder::new()));
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
    let (mut enc, mut dec) = (enc, dec);
    // One small request: a literal `:authority` with incremental indexing both sides.
    let ((), counts) = alloc_count::measure(|| {
        let mut block = Vec::with_capacity(256);
        enc.encode(
            [
                (&b":method"[..], &b"GET"[..]),
                (b":scheme", b"http"),
                (b":path", b"/"),
                (b":authority", b"127.0.0.1:8080"),
            ],
            &mut block,
        );
        dec.decode(&block, |_, _| {}).unwrap();
    });
    assert_eq!(enc.table_size(), dec.table_size());
    assert!(enc.table_size() > 0);
    // Block buffer + ring + slot list + two index maps + the decoder's ring and slots:
    // well under what one pre-sized 4096-byte table with its indexes took (~15 KB).
    assert!(counts.bytes_allocated < 2048, "{counts:?}");
}
