//! Decoding frames from a warm buffer makes zero heap allocations; so does encoding into
//! a warm output buffer.

mod common;

use shockwave_arena::alloc_count::{self, CountingAllocator};
use shockwave_http2_frames::*;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Decodes every frame of `input`, touching every field the engine would read, and
/// returns a checksum so nothing is optimised away.
fn decode_everything(decoder: &mut FrameDecoder, input: &[u8]) -> u64 {
    let mut peer = Settings::default();
    let mut sum = 0u64;
    let mut rest = input;
    while let Some((frame, used)) = decoder.decode(rest).expect("valid") {
        sum += used as u64 + frame.stream_id() as u64;
        match frame {
            Frame::Data(d) => {
                sum +=
                    d.data.iter().map(|&b| b as u64).sum::<u64>() + d.flow_controlled_len() as u64
            }
            Frame::Headers(h) => sum += h.fragment.len() as u64,
            Frame::Continuation(c) => sum += c.fragment.len() as u64,
            Frame::Settings(s) => {
                let before = peer;
                peer.apply(&s).expect("valid settings");
                sum +=
                    peer.diff(&before).len() as u64 + s.iter().map(|e| e.value as u64).sum::<u64>();
            }
            Frame::GoAway(g) => sum += g.debug_data.len() as u64 + g.error_code.as_u32() as u64,
            Frame::Ping(p) => sum += p.data[0] as u64,
            Frame::WindowUpdate(w) => sum += w.increment as u64,
            Frame::Unknown(u) => sum += u.payload.len() as u64,
            other => sum += other.payload_len() as u64,
        }
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    sum
}

#[test]
fn decoding_from_a_warm_buffer_makes_no_heap_allocation() {
    let input = common::mixed_stream();
    let mut decoder = FrameDecoder::new();
    let warm = decode_everything(&mut decoder, &input);
    let (sum, counts) = alloc_count::measure(|| {
        let mut sum = 0;
        for _ in 0..1000 {
            sum += std::hint::black_box(decode_everything(&mut decoder, &input));
        }
        sum
    });
    assert_eq!(sum, warm * 1000);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
    assert_eq!(counts.deallocations, 0);
}

#[test]
fn encoding_into_a_warm_buffer_makes_no_heap_allocation() {
    let body = [7u8; 40_000];
    let block = [0x82u8; 20_000];
    let mut out = Vec::with_capacity(1 << 17);
    let write_all = |out: &mut Vec<u8>| {
        out.clear();
        let settings = Settings {
            initial_window_size: 1 << 20,
            ..Settings::default()
        };
        settings.encode(out).unwrap();
        encode_settings_ack(out);
        Headers {
            stream_id: 1,
            fragment: &block,
            end_stream: false,
            end_headers: true,
            priority: None,
            pad_len: Some(4),
        }
        .encode_split(out, DEFAULT_MAX_FRAME_SIZE)
        .unwrap();
        Data {
            stream_id: 1,
            data: &body,
            end_stream: true,
            pad_len: None,
        }
        .encode_split(out, DEFAULT_MAX_FRAME_SIZE)
        .unwrap();
        for (h, p) in split_data(3, &body, true, DEFAULT_MAX_FRAME_SIZE).unwrap() {
            out.extend_from_slice(&h);
            out.extend_from_slice(p);
        }
        Ping {
            ack: true,
            data: [1; 8],
        }
        .encode(out)
        .unwrap();
        WindowUpdate {
            stream_id: 0,
            increment: 1 << 20,
        }
        .encode(out)
        .unwrap();
        GoAway {
            last_stream_id: 1,
            error_code: ErrorCode::NoError,
            debug_data: b"bye",
        }
        .encode(out)
        .unwrap();
        out.len()
    };
    let len = write_all(&mut out);
    let (total, counts) =
        alloc_count::measure(|| (0..100).map(|_| write_all(&mut out)).sum::<usize>());
    assert_eq!(total, len * 100);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}
