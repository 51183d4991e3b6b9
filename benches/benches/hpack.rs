//! HPACK decode and encode: shockwave-hpack vs the `hpack` crate vs `httlib-hpack`, on the
//! hpack-test-case stories (requests and responses, one fresh context per story, as on a
//! new connection) and on a typical browser request header set.
//!
//! Run: `cargo bench -p shockwave-benches --bench hpack`
//!
//! Throughput is reported in bytes of HPACK wire data for decoding and in bytes of header
//! text (names + values) for encoding.

use std::borrow::Cow;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shockwave_arena::alloc_count::CountingAllocator;
use shockwave_arena::{ArenaPool, HeaderList, PoolConfig};
use shockwave_benches::report_allocs;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// One story: its blocks (wire) and the header lists they decode to.
struct Story {
    blocks: Vec<Vec<u8>>,
    headers: Vec<Fields>,
}

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/hpack-test-case");
    assert!(
        dir.join("raw-data").is_dir(),
        "hpack-test-case vectors missing at {}",
        dir.display()
    );
    dir
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Stories of `folder` whose raw-data twin has the given context ("request"/"response").
fn load_stories(folder: &str, context: &str) -> Vec<Story> {
    let dir = vectors_dir();
    let mut names: Vec<_> = std::fs::read_dir(dir.join(folder))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".json"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let raw: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("raw-data").join(&name)).unwrap(),
        )
        .unwrap();
        if raw["context"].as_str() != Some(context) {
            continue;
        }
        let story: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(folder).join(&name)).unwrap())
                .unwrap();
        let mut s = Story {
            blocks: Vec::new(),
            headers: Vec::new(),
        };
        for case in story["cases"].as_array().unwrap() {
            if let Some(w) = case["wire"].as_str() {
                s.blocks.push(unhex(w));
            }
            s.headers.push(
                case["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        let (n, v) = h.as_object().unwrap().iter().next().unwrap();
                        (
                            n.as_bytes().to_vec(),
                            v.as_str().unwrap().as_bytes().to_vec(),
                        )
                    })
                    .collect(),
            );
        }
        out.push(s);
    }
    out
}

const BROWSER_REQUEST: [(&str, &str); 16] = [
    (":method", "GET"),
    (":scheme", "https"),
    (":authority", "www.example.com"),
    (":path", "/articles/2026/11/shockwave-benchmarks?ref=home&utm_source=feed"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    ("accept-language", "en-US,en;q=0.9"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    (
        "cookie",
        "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=1; _ga=GA1.2.1234567890.1700000000",
    ),
    ("referer", "https://www.example.com/"),
    ("sec-ch-ua", "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
    ("upgrade-insecure-requests", "1"),
];

/// Two blocks for the browser request: the first starts by resetting the table (size
/// updates to 0 and back, so the sequence can be replayed on one warm decoder) and sends
/// literals; the second repeats the request with another path (mostly indexed).
fn browser_blocks() -> Vec<Vec<u8>> {
    let mut enc = shockwave_hpack::Encoder::new();
    enc.set_max_table_size(0);
    enc.set_max_table_size(4096);
    let mut out = Vec::new();
    for path in [BROWSER_REQUEST[3].1, "/articles/2026/11/next-page?ref=home"] {
        let mut block = Vec::new();
        enc.encode(
            BROWSER_REQUEST.iter().map(|&(n, v)| {
                let v = if n == ":path" { path } else { v };
                (n.as_bytes(), v.as_bytes())
            }),
            &mut block,
        );
        out.push(block);
    }
    out
}

// ---- decoders -----------------------------------------------------------------------

fn ours_decode(d: &mut shockwave_hpack::Decoder, blocks: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for b in blocks {
        d.decode(b, |name, value| n += name.len() + value.len())
            .unwrap();
    }
    n
}

fn ours_decode_arena(
    d: &mut shockwave_hpack::Decoder,
    blocks: &[Vec<u8>],
    pool: &ArenaPool,
) -> usize {
    let mut n = 0;
    for b in blocks {
        let arena = pool.get();
        let mut list = HeaderList::new_in(&arena);
        d.decode_in(b, &arena, &mut list).unwrap();
        n += list.len();
        black_box(&list);
    }
    n
}

fn hpack_decode(d: &mut hpack::Decoder<'static>, blocks: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for b in blocks {
        d.decode_with_cb(b, |name: Cow<[u8]>, value: Cow<[u8]>| {
            n += name.len() + value.len()
        })
        .unwrap();
    }
    n
}

fn httlib_decode(
    d: &mut httlib_hpack::Decoder,
    blocks: &[Vec<u8>],
    dst: &mut Vec<(Vec<u8>, Vec<u8>, u8)>,
) -> usize {
    let mut n = 0;
    for b in blocks {
        // Its API consumes an owned buffer.
        let mut buf = b.clone();
        dst.clear();
        d.decode(&mut buf, dst).unwrap();
        n += dst.iter().map(|(a, b, _)| a.len() + b.len()).sum::<usize>();
    }
    n
}

/// Every peer must decode the stories correctly before its speed counts.
fn verify_decoders(stories: &[Story]) {
    for s in stories {
        let mut got: Vec<Fields> = Vec::new();
        let mut d = shockwave_hpack::Decoder::new();
        for b in &s.blocks {
            let mut f = Vec::new();
            d.decode(b, |n, v| f.push((n.to_vec(), v.to_vec())))
                .unwrap();
            got.push(f);
        }
        assert!(got == s.headers, "shockwave-hpack decodes a story wrong");
        let mut d = hpack::Decoder::new();
        let got: Vec<Fields> = s.blocks.iter().map(|b| d.decode(b).unwrap()).collect();
        assert!(got == s.headers, "hpack decodes a story wrong");
        let mut d = httlib_hpack::Decoder::default();
        let got: Vec<Fields> = s
            .blocks
            .iter()
            .map(|b| {
                let mut dst = Vec::new();
                d.decode(&mut b.clone(), &mut dst).unwrap();
                dst.into_iter().map(|(n, v, _)| (n, v)).collect()
            })
            .collect();
        assert!(got == s.headers, "httlib-hpack decodes a story wrong");
    }
}

fn bench_decode_stories(c: &mut Criterion, context: &str) {
    let stories = load_stories("nghttp2", context);
    verify_decoders(&stories);
    let wire: usize = stories
        .iter()
        .flat_map(|s| &s.blocks)
        .map(|b| b.len())
        .sum();
    let mut group = c.benchmark_group(format!("hpack_decode/{context}s"));
    group.throughput(Throughput::Bytes(wire as u64));
    let pool = ArenaPool::new(PoolConfig::default());
    group.bench_function("shockwave-hpack", |b| {
        b.iter(|| {
            stories
                .iter()
                .map(|s| ours_decode(&mut shockwave_hpack::Decoder::new(), &s.blocks))
                .sum::<usize>()
        })
    });
    group.bench_function("shockwave-hpack/arena", |b| {
        b.iter(|| {
            stories
                .iter()
                .map(|s| ours_decode_arena(&mut shockwave_hpack::Decoder::new(), &s.blocks, &pool))
                .sum::<usize>()
        })
    });
    group.bench_function("hpack", |b| {
        b.iter(|| {
            stories
                .iter()
                .map(|s| hpack_decode(&mut hpack::Decoder::new(), &s.blocks))
                .sum::<usize>()
        })
    });
    group.bench_function("httlib-hpack", |b| {
        let mut dst = Vec::new();
        b.iter(|| {
            stories
                .iter()
                .map(|s| httlib_decode(&mut httlib_hpack::Decoder::default(), &s.blocks, &mut dst))
                .sum::<usize>()
        })
    });
    group.finish();
}

fn bench_decode_browser(c: &mut Criterion) {
    let blocks = browser_blocks();
    let wire: usize = blocks.iter().map(|b| b.len()).sum();
    let pool = ArenaPool::new(PoolConfig::default());
    let mut ours = shockwave_hpack::Decoder::new();
    let mut ours_arena = shockwave_hpack::Decoder::new();
    let mut peer = hpack::Decoder::new();
    let mut httlib = httlib_hpack::Decoder::default();
    let mut dst = Vec::new();
    report_allocs("hpack_decode/browser shockwave-hpack", 10_000, || {
        black_box(ours_decode(&mut ours, &blocks));
    });
    report_allocs("hpack_decode/browser shockwave-hpack/arena", 10_000, || {
        black_box(ours_decode_arena(&mut ours_arena, &blocks, &pool));
    });
    report_allocs("hpack_decode/browser hpack", 10_000, || {
        black_box(hpack_decode(&mut peer, &blocks));
    });
    report_allocs("hpack_decode/browser httlib-hpack", 10_000, || {
        black_box(httlib_decode(&mut httlib, &blocks, &mut dst));
    });
    let mut group = c.benchmark_group("hpack_decode/browser_request");
    group.throughput(Throughput::Bytes(wire as u64));
    group.bench_function("shockwave-hpack", |b| {
        b.iter(|| ours_decode(&mut ours, &blocks))
    });
    group.bench_function("shockwave-hpack/arena", |b| {
        b.iter(|| ours_decode_arena(&mut ours_arena, &blocks, &pool))
    });
    group.bench_function("hpack", |b| b.iter(|| hpack_decode(&mut peer, &blocks)));
    group.bench_function("httlib-hpack", |b| {
        b.iter(|| httlib_decode(&mut httlib, &blocks, &mut dst))
    });
    group.finish();
}

// ---- encoders -----------------------------------------------------------------------

fn bench_encode(c: &mut Criterion, name: &str, lists: &[Vec<Fields>]) {
    let text: usize = lists
        .iter()
        .flatten()
        .flatten()
        .map(|(n, v)| n.len() + v.len())
        .sum();
    let mut group = c.benchmark_group(format!("hpack_encode/{name}"));
    group.throughput(Throughput::Bytes(text as u64));
    let mut dst = Vec::with_capacity(1 << 16);
    group.bench_function(BenchmarkId::from_parameter("shockwave-hpack"), |b| {
        b.iter(|| {
            let mut total = 0;
            for story in lists {
                let mut enc = shockwave_hpack::Encoder::new();
                for list in story {
                    dst.clear();
                    enc.encode(list.iter().map(|(n, v)| (&n[..], &v[..])), &mut dst);
                    total += dst.len();
                }
            }
            total
        })
    });
    group.bench_function(BenchmarkId::from_parameter("hpack"), |b| {
        b.iter(|| {
            let mut total = 0;
            for story in lists {
                let mut enc = hpack::Encoder::new();
                for list in story {
                    dst.clear();
                    enc.encode_into(list.iter().map(|(n, v)| (&n[..], &v[..])), &mut dst)
                        .unwrap();
                    total += dst.len();
                }
            }
            total
        })
    });
    group.bench_function(BenchmarkId::from_parameter("httlib-hpack"), |b| {
        let flags = httlib_hpack::Encoder::HUFFMAN_VALUE
            | httlib_hpack::Encoder::WITH_INDEXING
            | httlib_hpack::Encoder::BEST_FORMAT;
        b.iter(|| {
            let mut total = 0;
            for story in lists {
                let mut enc = httlib_hpack::Encoder::default();
                for list in story {
                    dst.clear();
                    for (n, v) in list {
                        // Its API takes owned name and value buffers.
                        enc.encode((n.clone(), v.clone(), flags), &mut dst).unwrap();
                    }
                    total += dst.len();
                }
            }
            total
        })
    });
    group.finish();
    // Compression ratio, for the record.
    let mut sizes = [0usize; 3];
    for story in lists {
        let mut ours = shockwave_hpack::Encoder::new();
        let mut peer = hpack::Encoder::new();
        let mut httlib = httlib_hpack::Encoder::default();
        for list in story {
            let mut d = Vec::new();
            ours.encode(list.iter().map(|(n, v)| (&n[..], &v[..])), &mut d);
            sizes[0] += d.len();
            sizes[1] += peer
                .encode(list.iter().map(|(n, v)| (&n[..], &v[..])))
                .len();
            let mut d = Vec::new();
            for (n, v) in list {
                httlib
                    .encode((n.clone(), v.clone(), 0x2 | 0x4 | 0x10), &mut d)
                    .unwrap();
            }
            sizes[2] += d.len();
        }
    }
    println!(
        "encoded size hpack_encode/{name}: text {text} B; shockwave-hpack {} B, hpack {} B, httlib-hpack {} B",
        sizes[0], sizes[1], sizes[2]
    );
}

fn bench(c: &mut Criterion) {
    bench_decode_stories(c, "request");
    bench_decode_stories(c, "response");
    bench_decode_browser(c);
    for context in ["request", "response"] {
        let lists: Vec<Vec<Fields>> = load_stories("raw-data", context)
            .into_iter()
            .map(|s| s.headers)
            .collect();
        bench_encode(c, &format!("{context}s"), &lists);
    }
    let browser: Vec<Vec<Fields>> = vec![vec![BROWSER_REQUEST
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()]];
    bench_encode(c, "browser_request", &browser);
}

criterion_group!(benches, bench);
criterion_main!(benches);
