//! Property tests: random and mutated messages never panic, and the arena and heap
//! strategies always agree; whatever parses re-parses identically when split.

mod common;

use common::*;
use proptest::prelude::*;
use shockwave_http11::{BodyDecoder, BodyFraming, Limits, Status};

fn seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = VALID_REQUESTS.iter().map(|r| r.to_vec()).collect();
    v.push(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            .to_vec(),
    );
    v.push(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n".to_vec());
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Dup(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b' '),
        Just(b'\t'),
        Just(b':'),
        Just(b','),
        Just(b';'),
        Just(0u8),
        Just(0x7f),
        Just(0xff),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), 1..20usize).prop_map(|(i, n)| Mutation::Dup(i, n)),
    ]
}

fn apply(buf: &mut Vec<u8>, m: &Mutation) {
    if buf.is_empty() {
        return;
    }
    let len = buf.len();
    match *m {
        Mutation::Flip(i, b) => buf[i % len] = b,
        Mutation::Insert(i, b) => buf.insert(i % (len + 1), b),
        Mutation::Delete(i) => {
            buf.remove(i % len);
        }
        Mutation::Dup(i, n) => {
            let i = i % len;
            let end = (i + n).min(len);
            let piece = buf[i..end].to_vec();
            buf.splice(i..i, piece);
        }
    }
}

fn check_request(buf: &[u8], limits: &Limits) {
    // req_with runs both strategies and asserts they agree.
    if let Ok(Status::Complete(whole)) = req_with(buf, limits) {
        assert!(whole.consumed <= buf.len());
        // Every strict prefix of the head is partial (or, never, complete).
        let head = &buf[..whole.consumed];
        for cut in [
            0,
            head.len() / 3,
            head.len() / 2,
            head.len().saturating_sub(1),
        ] {
            if cut < head.len() {
                assert_eq!(req_with(&head[..cut], limits), Ok(Status::Partial));
            }
        }
        assert_eq!(req_with(head, limits), Ok(Status::Complete(whole)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_request(&buf, &Limits::default());
        let _ = resp(&buf);
    }

    #[test]
    fn random_printable_requests_never_panic(
        s in "[A-Z]{1,8} [ -~]{0,40} HTTP/1\\.[01]\r\n([!-~]{0,12}:[ -~\t]{0,20}\r\n){0,6}\r\n"
    ) {
        check_request(s.as_bytes(), &Limits::default());
        let lenient = Limits { allow_bare_lf: true, ..Limits::default() };
        check_request(s.as_bytes(), &lenient);
    }

    #[test]
    fn mutated_requests_never_panic(
        seed in 0..9usize,
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut buf = seeds[seed % seeds.len()].clone();
        for m in &muts {
            apply(&mut buf, m);
        }
        check_request(&buf, &Limits::default());
        let tight = Limits { max_headers: 2, max_header_bytes: 40, max_request_line: 20, allow_bare_lf: true, ..Limits::default() };
        check_request(&buf, &tight);
        let _ = resp(&buf);
    }

    #[test]
    fn mutated_chunked_bodies_never_panic_and_splitting_agrees(
        muts in proptest::collection::vec(mutation(), 0..4),
        step in 1..9usize,
    ) {
        let mut buf = b"5;a=b\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX: y\r\n\r\n".to_vec();
        for m in &muts {
            apply(&mut buf, m);
        }
        let limits = Limits { max_chunk_line: 16, max_trailer_bytes: 32, ..Limits::default() };
        let whole = decode_all(&buf, buf.len().max(1), &limits);
        let split = decode_all(&buf, step, &limits);
        prop_assert_eq!(whole, split);
    }
}

/// Decodes `input` delivered `step` bytes at a time; returns (body, consumed, done) or the error.
fn decode_all(
    input: &[u8],
    step: usize,
    limits: &Limits,
) -> Result<(Vec<u8>, usize, bool), shockwave_http11::Error> {
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, limits);
    let (mut start, mut fed) = (0usize, 0usize);
    let mut body = Vec::new();
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
