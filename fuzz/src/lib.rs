//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use shockwave_http11::{BodyDecoder, BodyFraming, Error, Limits};

/// The outcome of decoding a body: the body bytes, the bytes consumed and whether it ended.
pub type BodyOutcome = Result<(Vec<u8>, usize, bool), Error>;

/// Decodes a body of `framing` from `input`, handing the decoder a buffer that grows by
/// `step` bytes at a time (as reads arrive), and checks the decoder's contract on the way:
/// it never consumes more than it was given, and `consumed == 0 && !done` only when it
/// needs more bytes.
pub fn decode_body(
    framing: BodyFraming,
    limits: &Limits,
    input: &[u8],
    step: usize,
) -> BodyOutcome {
    let mut dec = BodyDecoder::new(framing, limits);
    let (mut start, mut fed, mut body) = (0usize, 0usize, Vec::new());
    loop {
        loop {
            let s = dec.decode(&input[start..fed])?;
            assert!(s.consumed <= fed - start, "consumed more than given");
            assert!(s.data.len() <= s.consumed, "data beyond the consumed bytes");
            body.extend_from_slice(s.data);
            start += s.consumed;
            if s.done {
                assert!(dec.is_done());
                return Ok((body, start, true));
            }
            if s.consumed == 0 {
                break;
            }
        }
        if fed == input.len() {
            return Ok((body, start, false));
        }
        fed = (fed + step.max(1)).min(input.len());
    }
}

/// Cuts an input into pieces whose sizes come from a seed byte string (cycled), so a
/// decoder can be fed the same bytes whole and in arbitrary splits.
pub struct Splitter<'a> {
    sizes: &'a [u8],
    next: usize,
}

impl<'a> Splitter<'a> {
    /// Piece sizes from `sizes` (each byte b gives a piece of b + 1 bytes); with no sizes,
    /// the input is one piece.
    pub fn new(sizes: &'a [u8]) -> Self {
        Splitter { sizes, next: 0 }
    }

    /// The size of the next piece.
    pub fn next_len(&mut self, remaining: usize) -> usize {
        if self.sizes.is_empty() {
            return remaining;
        }
        let b = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        (usize::from(b) + 1).min(remaining)
    }
}

/// Reads length-prefixed records: `[tag: u8][len: u16 BE][len bytes]`, the last record
/// truncated to what is left. The seed generator in `xtask/src/fuzz.rs` writes this format.
pub fn records(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 3 {
            return None;
        }
        let tag = data[0];
        let len = usize::from(u16::from_be_bytes([data[1], data[2]]));
        let rest = &data[3..];
        let len = len.min(rest.len());
        let (rec, tail) = rest.split_at(len);
        data = tail;
        Some((tag, rec))
    })
}
