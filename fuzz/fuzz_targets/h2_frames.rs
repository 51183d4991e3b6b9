//! HTTP/2 frame decoding (RFC 9113 §4, §6) with `FrameDecoder`.
//!
//! Input: `[config: u8][n: u8][n split sizes][wire...]`. `config` picks the max frame size
//! and the field-block limits; the split sizes cut the wire into reads.
//!
//! Checked: no panic; decoding the wire whole and as a read buffer growing piece by piece
//! gives the same frames and the same error (stream errors skip `frame_len` bytes and go
//! on, a connection error ends the run); every frame's `encoded_len` is the bytes it used;
//! re-encoding a frame and decoding that gives the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_fuzz::Splitter;
use shockwave_http2_frames::{decode_frame, Frame, FrameDecoder, FrameError, Scope};

type Event<'a> = Result<Frame<'a>, FrameError>;

fn decoder(config: u8) -> FrameDecoder {
    let mut d = FrameDecoder::new();
    let size = [16_384, 16_385, 65_536, (1 << 24) - 1][usize::from(config & 3)];
    d.set_max_frame_size(size).expect("valid size");
    if config & 4 != 0 {
        d.set_max_header_block_len(64);
    }
    if config & 8 != 0 {
        d.set_max_continuation_frames(2);
    }
    d
}

/// Decodes as many frames as `buf` holds; returns the bytes used and whether to stop.
fn drain<'a>(d: &mut FrameDecoder, buf: &'a [u8], out: &mut Vec<Event<'a>>) -> (usize, bool) {
    let mut pos = 0;
    loop {
        match d.decode(&buf[pos..]) {
            Ok(Some((frame, used))) => {
                assert_eq!(used, frame.encoded_len());
                assert!(used <= buf.len() - pos);
                out.push(Ok(frame));
                pos += used;
            }
            Ok(None) => return (pos, false),
            Err(e) if matches!(e.scope, Scope::Stream(_)) => {
                assert!(e.frame_len >= 9 && e.frame_len <= buf.len() - pos);
                out.push(Err(e));
                pos += e.frame_len;
            }
            Err(e) => {
                out.push(Err(e));
                return (pos, true);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let config = data[0];
    let n = usize::from(data[1]).min(data.len() - 2);
    let (sizes, wire) = data[2..].split_at(n);

    let mut whole = Vec::new();
    drain(&mut decoder(config), wire, &mut whole);

    let mut split = Vec::new();
    let mut d = decoder(config);
    let mut splitter = Splitter::new(sizes);
    let (mut start, mut fed) = (0, 0);
    while fed < wire.len() {
        fed += splitter.next_len(wire.len() - fed);
        let (used, stop) = drain(&mut d, &wire[start..fed], &mut split);
        start += used;
        if stop {
            break;
        }
    }
    assert_eq!(whole, split);

    let mut buf = Vec::new();
    for frame in whole.iter().flatten() {
        buf.clear();
        if let Frame::Headers(h) = frame {
            if h.check_priority().is_err() {
                // Accepted by the decoder (a stream error found after HPACK decoding,
                // RFC 9113 §5.3.1), but the encoder rightly refuses to write it.
                assert!(frame.encode(&mut buf).is_err());
                continue;
            }
        }
        frame.encode(&mut buf).expect("a decoded frame re-encodes");
        assert_eq!(buf.len(), frame.encoded_len());
        let (again, used) = decode_frame(&buf, u32::MAX >> 8)
            .expect("re-encoded frame decodes")
            .expect("complete");
        assert_eq!(used, buf.len());
        assert_eq!(&again, frame);
    }
});
