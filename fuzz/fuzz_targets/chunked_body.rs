//! Any bytes as a chunked body: decoding never panics, and feeding the input whole or
//! in pieces gives the same body, consumed count and outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_fuzz::decode_body;
use shockwave_http11::{BodyFraming, Limits};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let limits = Limits {
        max_chunk_line: 32,
        max_trailer_bytes: 64,
        allow_bare_lf: data[0] & 0x80 != 0,
        ..Limits::default()
    };
    let step = usize::from(data[0] % 7) + 1;
    let input = &data[1..];
    assert_eq!(
        decode_body(BodyFraming::Chunked, &limits, input, input.len().max(1)),
        decode_body(BodyFraming::Chunked, &limits, input, step)
    );
});
