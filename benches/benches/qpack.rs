//! QPACK encode and decode (shockwave-quic) of a typical browser request and response:
//! static-table + literal sections as our encoder writes them, and a section that
//! references the dynamic table (as ls-qpack/aioquic or Chrome would send once their
//! table is warm).
//!
//! Run: `cargo bench -p shockwave-benches --bench qpack`
//!
//! Throughput is bytes of QPACK wire data for decoding and bytes of header text (names +
//! values) for encoding. Each case also prints its heap allocations per iteration.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shockwave_arena::alloc_count::CountingAllocator;
use shockwave_arena::{ArenaPool, PoolConfig};
use shockwave_benches::report_allocs;
use shockwave_hpack::integer;
use shockwave_quic::qpack::{Decoded, Decoder, DecoderConfig, Encoder};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

type Field = (&'static [u8], &'static [u8]);

/// What Firefox sends for a page load over HTTP/3 (pseudo-headers first).
const REQUEST: &[Field] = &[
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"www.example.com"),
    (
        b":path",
        b"/articles/2026/11/shockwave-http3?ref=home&utm_source=feed",
    ),
    (
        b"user-agent",
        b"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    ),
    (
        b"accept",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    (b"accept-language", b"en-US,en;q=0.5"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"referer", b"https://www.example.com/"),
    (
        b"cookie",
        b"session=7f3c9a1e0b2d4c6f8a0e1d3c5b7a9f2e; theme=dark; consent=yes",
    ),
    (b"upgrade-insecure-requests", b"1"),
    (b"sec-fetch-dest", b"document"),
    (b"sec-fetch-mode", b"navigate"),
    (b"sec-fetch-site", b"same-origin"),
    (b"sec-fetch-user", b"?1"),
    (b"priority", b"u=0, i"),
    (b"te", b"trailers"),
];

/// A typical HTML response.
const RESPONSE: &[Field] = &[
    (b":status", b"200"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"48213"),
    (b"date", b"Wed, 25 Nov 2026 17:30:00 GMT"),
    (b"cache-control", b"public, max-age=31536000"),
    (b"content-encoding", b"br"),
    (b"vary", b"accept-encoding"),
    (b"etag", b"\"5f2b-1a2b3c4d5e6f\""),
    (b"last-modified", b"Tue, 24 Nov 2026 09:12:44 GMT"),
    (b"server", b"shockwave"),
    (
        b"strict-transport-security",
        b"max-age=31536000; includesubdomains",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"alt-svc", b"h3=\":443\"; ma=86400"),
];

fn text_len(fields: &[Field]) -> u64 {
    fields.iter().map(|(n, v)| (n.len() + v.len()) as u64).sum()
}

fn encode(fields: &[Field]) -> Vec<u8> {
    let mut block = Vec::new();
    Encoder::new().encode_section(fields.iter().copied(), &mut block);
    block
}

/// Encoder-stream instructions inserting every field (literal names), and a field
/// section that references them all through the dynamic table.
fn dynamic_fixture(fields: &[Field]) -> (Vec<u8>, Vec<u8>) {
    let mut enc = Vec::new();
    integer::encode(4096, 5, 0x20, &mut enc); // Set Dynamic Table Capacity
    for (name, value) in fields {
        integer::encode(name.len() as u64, 5, 0x40, &mut enc); // Insert with Literal Name
        enc.extend_from_slice(name);
        integer::encode(value.len() as u64, 7, 0x00, &mut enc);
        enc.extend_from_slice(value);
    }
    let n = fields.len() as u64;
    let mut block = Vec::new();
    integer::encode(n % (2 * (4096 / 32)) + 1, 8, 0, &mut block); // Required Insert Count
    integer::encode(0, 7, 0, &mut block); // Base = RIC
    for abs in 0..n {
        integer::encode(n - 1 - abs, 6, 0x80, &mut block); // Indexed, dynamic, relative
    }
    (enc, block)
}

fn bench_qpack(c: &mut Criterion) {
    let pool = ArenaPool::new(PoolConfig::default());

    // Encoding.
    let mut group = c.benchmark_group("qpack/encode");
    for (name, fields) in [("request", REQUEST), ("response", RESPONSE)] {
        let mut encoder = Encoder::new();
        let mut out = Vec::with_capacity(1024);
        let mut run = || {
            out.clear();
            black_box(encoder.encode_section(black_box(fields).iter().copied(), &mut out));
        };
        report_allocs(&format!("qpack/encode/{name}"), 10_000, &mut run);
        group.throughput(Throughput::Bytes(text_len(fields)));
        group.bench_function(name, |b| b.iter(&mut run));
    }
    group.finish();

    // Decoding static + literal sections into a pooled arena, and through the callback.
    let mut group = c.benchmark_group("qpack/decode");
    for (name, fields) in [("request", REQUEST), ("response", RESPONSE)] {
        let block = encode(fields);
        println!(
            "qpack {name}: {} header bytes -> {} QPACK bytes",
            text_len(fields),
            block.len()
        );
        group.throughput(Throughput::Bytes(block.len() as u64));
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut arena_run = || {
            let arena = pool.get();
            let list = decoder.decode_section(0, &block, &arena).unwrap();
            let Decoded::Done(list) = list else {
                unreachable!()
            };
            black_box(list.get(b"cookie"));
        };
        report_allocs(
            &format!("qpack/decode/{name}/arena"),
            10_000,
            &mut arena_run,
        );
        group.bench_function(format!("{name}/arena"), |b| b.iter(&mut arena_run));

        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut callback_run = || {
            let mut total = 0;
            decoder
                .decode_section_with(0, &block, |n, v| total += n.len() + v.len())
                .unwrap();
            black_box(total);
        };
        report_allocs(
            &format!("qpack/decode/{name}/callback"),
            10_000,
            &mut callback_run,
        );
        group.bench_function(format!("{name}/callback"), |b| b.iter(&mut callback_run));
    }

    // Decoding a section that references the dynamic table.
    let (encoder_stream, block) = dynamic_fixture(REQUEST);
    let mut decoder = Decoder::new(DecoderConfig::default());
    decoder.feed_encoder_stream(&encoder_stream).unwrap();
    let mut ack = Vec::with_capacity(64);
    group.throughput(Throughput::Bytes(block.len() as u64));
    let mut dynamic_run = || {
        let arena = pool.get();
        let list = decoder.decode_section(0, &block, &arena).unwrap();
        black_box(list.done().map(|l| l.len()));
        ack.clear();
        decoder.take_decoder_stream(&mut ack);
    };
    report_allocs(
        "qpack/decode/request-dynamic/arena",
        10_000,
        &mut dynamic_run,
    );
    group.bench_function("request-dynamic/arena", |b| b.iter(&mut dynamic_run));
    group.finish();
}

criterion_group!(benches, bench_qpack);
criterion_main!(benches);
