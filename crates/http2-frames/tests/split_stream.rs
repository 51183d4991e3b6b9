//! A stream of mixed frames split at every byte offset (and fed byte by byte) decodes to
//! the same frames as the whole buffer.

mod common;

use common::{decode_all_debug, mixed_stream};
use shockwave_http2_frames::{match_preface, FrameDecoder, PREFACE};

/// Simulates a connection: `chunks` arrive one after another into a read buffer; after
/// each, all complete frames are decoded and consumed. Returns the frames' Debug strings.
fn feed(chunks: &[&[u8]]) -> Vec<String> {
    let mut decoder = FrameDecoder::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut preface_done = false;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        if !preface_done {
            match match_preface(&buf).expect("valid preface") {
                Some(n) => {
                    buf.drain(..n);
                    preface_done = true;
                }
                None => continue,
            }
        }
        let mut consumed = 0;
        while let Some((frame, used)) = decoder.decode(&buf[consumed..]).expect("valid frame") {
            out.push(format!("{frame:?}"));
            consumed += used;
        }
        buf.drain(..consumed);
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

fn stream_with_preface() -> Vec<u8> {
    [PREFACE.as_slice(), &mixed_stream()].concat()
}

#[test]
fn split_at_every_offset_yields_the_same_frames() {
    let input = stream_with_preface();
    let expected = decode_all_debug(&input[PREFACE.len()..]);
    assert_eq!(expected.len(), 17);
    assert_eq!(feed(&[&input]), expected);
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(feed(&[a, b]), expected, "split at {cut}");
    }
}

#[test]
fn three_way_splits_yield_the_same_frames() {
    let input = stream_with_preface();
    let expected = decode_all_debug(&input[PREFACE.len()..]);
    // Every pair of cut points around frame boundaries would be quadratic in the 1.5 KB
    // stream; a stride keeps it fast while crossing every header/payload position.
    for first in (0..input.len()).step_by(7) {
        for second in (first..=input.len()).step_by(13) {
            let chunks = [&input[..first], &input[first..second], &input[second..]];
            assert_eq!(feed(&chunks), expected, "cuts {first}, {second}");
        }
    }
}

#[test]
fn byte_by_byte_yields_the_same_frames() {
    let input = stream_with_preface();
    let expected = decode_all_debug(&input[PREFACE.len()..]);
    let chunks: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed(&chunks), expected);
}
