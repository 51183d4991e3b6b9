//! Rough Huffman decode throughput check: `cargo run --release -p shockwave-hpack --example huffman_speed`.

use std::time::Instant;

use shockwave_hpack::huffman;

fn main() {
    let text = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/131.0.0.0 Safari/537.36 text/html,application/xhtml+xml,application/xml;q=0.9 \
session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000";
    let mut enc = Vec::new();
    huffman::encode(text, &mut enc);
    let mut out = Vec::with_capacity(1024);
    let rounds = 200_000;
    let start = Instant::now();
    for _ in 0..rounds {
        out.clear();
        huffman::decode(std::hint::black_box(&enc), &mut out).unwrap();
        std::hint::black_box(&out);
    }
    let t = start.elapsed();
    let bytes = (enc.len() * rounds) as f64;
    println!(
        "huffman decode: {:.0} MB/s of input, {:.2} ns per output byte",
        bytes / t.as_secs_f64() / 1e6,
        t.as_nanos() as f64 / (text.len() * rounds) as f64
    );
}
