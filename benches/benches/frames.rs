//! HTTP/2 frame codec throughput (shockwave-http2-frames) on a realistic mix: per request
//! a HEADERS frame (~200-byte field block) + a 1 KiB DATA frame, 8 small DATA frames of
//! 64 bytes, and connection housekeeping (SETTINGS, SETTINGS ACK, PING, PING ACK, two
//! WINDOW_UPDATEs). Reported both as frames/s (Elements) and bytes/s (Bytes).
//!
//! Run: `cargo bench -p shockwave-benches --bench frames`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shockwave_arena::alloc_count::CountingAllocator;
use shockwave_benches::report_allocs;
use shockwave_http2_frames::{
    Data, Frame, FrameDecoder, Headers, Ping, Setting, SettingId, WindowUpdate,
    DEFAULT_MAX_FRAME_SIZE,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Requests per buffer.
const ROUNDS: u32 = 64;

struct Mix {
    block: Vec<u8>,
    body: Vec<u8>,
    small: Vec<u8>,
}

impl Mix {
    fn new() -> Mix {
        Mix {
            block: (0..200u32).map(|i| i as u8).collect(),
            body: vec![b'x'; 1024],
            small: vec![b's'; 64],
        }
    }

    /// Writes the whole mix into `out`; returns the number of frames.
    fn encode(&self, out: &mut Vec<u8>) -> u64 {
        let mut frames = 0;
        for r in 0..ROUNDS {
            let sid = 2 * r + 1;
            if r % 16 == 0 {
                shockwave_http2_frames::encode_settings(
                    out,
                    &[
                        Setting::new(SettingId::InitialWindowSize, 1 << 20),
                        Setting::new(SettingId::MaxConcurrentStreams, 100),
                    ],
                )
                .unwrap();
                shockwave_http2_frames::encode_settings_ack(out);
                Ping {
                    ack: false,
                    data: [r as u8; 8],
                }
                .encode(out)
                .unwrap();
                Ping {
                    ack: true,
                    data: [r as u8; 8],
                }
                .encode(out)
                .unwrap();
                frames += 4;
            }
            Headers {
                stream_id: sid,
                fragment: &self.block,
                end_stream: false,
                end_headers: true,
                priority: None,
                pad_len: None,
            }
            .encode(out)
            .unwrap();
            Data {
                stream_id: sid,
                data: &self.body,
                end_stream: false,
                pad_len: None,
            }
            .encode(out)
            .unwrap();
            for i in 0..8 {
                Data {
                    stream_id: sid,
                    data: &self.small,
                    end_stream: i == 7,
                    pad_len: None,
                }
                .encode(out)
                .unwrap();
            }
            WindowUpdate {
                stream_id: sid,
                increment: 1536,
            }
            .encode(out)
            .unwrap();
            WindowUpdate {
                stream_id: 0,
                increment: 1536,
            }
            .encode(out)
            .unwrap();
            frames += 12;
        }
        frames
    }
}

/// Decodes every frame in `buf`, reading the fields a connection engine would.
fn decode_all(decoder: &mut FrameDecoder, buf: &[u8]) -> u64 {
    let mut rest = buf;
    let mut acc = 0u64;
    while let Some((frame, used)) = decoder.decode(rest).unwrap() {
        acc = acc.wrapping_add(match frame {
            Frame::Data(d) => d.data.len() as u64 + d.end_stream as u64,
            Frame::Headers(h) => h.fragment.len() as u64,
            Frame::Settings(s) => s.iter().map(|e| e.value as u64).sum(),
            Frame::Ping(p) => p.data[0] as u64,
            Frame::WindowUpdate(w) => w.increment as u64,
            other => other.stream_id() as u64,
        });
        rest = &rest[used..];
    }
    acc
}

fn bench_frames(c: &mut Criterion) {
    let mix = Mix::new();
    let mut buf = Vec::new();
    let frames = mix.encode(&mut buf);
    let bytes = buf.len() as u64;
    println!("frames mix: {frames} frames, {bytes} bytes per iteration (max frame size {DEFAULT_MAX_FRAME_SIZE})");

    let mut decoder = FrameDecoder::new();
    let mut group = c.benchmark_group("h2_frames");
    group.throughput(Throughput::Elements(frames));
    group.bench_function("decode_mix/frames", |b| {
        b.iter(|| decode_all(&mut decoder, black_box(&buf)))
    });
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("decode_mix/bytes", |b| {
        b.iter(|| decode_all(&mut decoder, black_box(&buf)))
    });

    let mut out = Vec::with_capacity(buf.len());
    group.throughput(Throughput::Elements(frames));
    group.bench_function("encode_mix/frames", |b| {
        b.iter(|| {
            out.clear();
            black_box(mix.encode(&mut out))
        })
    });
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("encode_mix/bytes", |b| {
        b.iter(|| {
            out.clear();
            black_box(mix.encode(&mut out))
        })
    });
    group.finish();

    report_allocs("h2_frames/decode_mix", 200, || {
        black_box(decode_all(&mut decoder, &buf));
    });
    report_allocs("h2_frames/encode_mix", 200, || {
        out.clear();
        black_box(mix.encode(&mut out));
    });
}

criterion_group!(benches, bench_frames);
criterion_main!(benches);
