//! Any bytes as a chunked body: decoding never panics, and feeding the input whole or
//! in pieces gives the same body, consumed count and outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_http11::{BodyDecoder, BodyFraming, Error, Limits};

fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), Error> {
    let limits = Limits {
        max_chunk_line: 32,
        max_trailer_bytes: 64,
        ..Limits::default()
    };
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, &limits);
    let (mut start, mut fed, mut body) = (0usize, 0usize, Vec::new());
    loop {
        loop {
            let s = dec.decode(&input[start..fed])?;
            assert!(s.consumed <= fed - start);
            body.extend_from_slice(s.data);
            start += s.consumed;
            if s.done {
                return Ok((body, start, true));
            }
            if s.consumed == 0 {
                break;
            }
        }
        if fed == input.len() {
            return Ok((body, start, false));
        }
        fed = (fed + step).min(input.len());
    }
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let step = usize::from(data[0] % 7) + 1;
    let input = &data[1..];
    assert_eq!(decode(input, input.len().max(1)), decode(input, step));
});
