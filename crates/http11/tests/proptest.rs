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

mod written_heads {
    //! Whatever the writers produce, the crate's own parsers read back: status, fields,
    //! framing, keep-alive, trailers; and untrusted bytes never add a line.

    use proptest::prelude::*;
    use shockwave_arena::Arena;
    use shockwave_http11::{
        is_managed, is_trailer_allowed, is_valid_field, parse_request, parse_response,
        parse_trailer_section, write_chunk, write_last_chunk, BodyDecoder, BodyFraming, BodyLength,
        Fields, HttpDate, Limits, Method, RequestHead, ResponseHead, ResponsePlan, Status,
        StatusCode, Version,
    };

    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(
                proptest::sample::select(b"abcXYZ-_!#$%&'*+.^`|~019".to_vec()),
                1..12
            ),
            proptest::sample::select(vec![
                b"content-length".to_vec(),
                b"Transfer-Encoding".to_vec(),
                b"connection".to_vec(),
                b"Date".to_vec(),
                b"trailer".to_vec(),
                b"host".to_vec(),
            ]),
        ]
    }

    /// A field value the parser accepts: VCHAR, SP, HTAB, obs-text, trimmed.
    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![0x21u8..0x7f, Just(b' '), Just(b'\t'), 0x80u8..=0xff],
            0..24,
        )
        .prop_map(|v| v.trim_ascii().to_vec())
    }

    fn fields() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
        proptest::collection::vec((name(), value()), 0..6)
    }

    fn slices(f: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
        f.iter().map(|(n, v)| (&n[..], &v[..])).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn response_heads_parse_back(
            status in 200u16..600,
            fields in fields(),
            trailers in fields(),
            head_request in any::<bool>(),
            http10 in any::<bool>(),
            body_len in proptest::option::of(0u64..1 << 40),
            keep_alive in any::<bool>(),
        ) {
            let status = StatusCode::from_u16(status).unwrap();
            let version = if http10 { Version::HTTP_10 } else { Version::HTTP_11 };
            let fields = slices(&fields);
            let trailers = slices(&trailers);
            let plan = ResponsePlan::new(status, head_request, version, body_len, !trailers.is_empty(), keep_alive);
            let mut out = b"junk".to_vec();
            let date = HttpDate::new(*b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
            let range = ResponseHead {
                status,
                date: Some(&date),
                fields: Fields::Untrusted(&fields),
                trailers: if plan.trailers { &trailers } else { &[] },
                body: plan.head,
                version,
                keep_alive: plan.keep_alive,
            }
            .write_to(&mut out);
            prop_assert_eq!(range.start, 4);
            let head = &out[range];
            let arena = Arena::new();
            let Status::Complete((r, n)) = parse_response(head, &arena, &Limits::default()).unwrap() else {
                panic!("incomplete head")
            };
            prop_assert_eq!(n, head.len());
            prop_assert_eq!(r.status(), status);
            prop_assert_eq!(r.keep_alive(), plan.keep_alive);
            let method = if head_request { Method::HEAD } else { Method::GET };
            let framing = r.framing(&method);
            let expected = if !plan.send_body {
                BodyFraming::Empty
            } else {
                match plan.head {
                    BodyLength::Known(len) => BodyFraming::Length(len),
                    BodyLength::Chunked => BodyFraming::Chunked,
                    BodyLength::None => BodyFraming::CloseDelimited,
                }
            };
            prop_assert_eq!(framing, expected);
            // The handler's fields come back, minus the managed names.
            let kept: Vec<(&[u8], &[u8])> = fields.iter().copied().filter(|(n, _)| !is_managed(n)).collect();
            for (n, v) in &kept {
                prop_assert!(r.headers().iter().any(|(hn, hv)| hn == *n && hv == *v));
            }
            // Trailers written after the body come back from the decoder's framing.
            if plan.chunked {
                let mut body = Vec::new();
                write_chunk(&mut body, b"data");
                let framing_start = body.len() - 2;
                write_last_chunk(&mut body, if plan.trailers { &trailers } else { &[] });
                let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
                let step = dec.decode(&body).unwrap();
                prop_assert!(step.done);
                prop_assert_eq!(step.consumed, body.len());
                let got: Vec<_> = parse_trailer_section(&body[framing_start..], &Limits::default()).unwrap().collect();
                let want: Vec<_> = if plan.trailers {
                    trailers.iter().copied().filter(|(n, v)| is_trailer_allowed(n, v)).collect()
                } else {
                    Vec::new()
                };
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn untrusted_bytes_never_add_a_line(
            fields in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..8), proptest::collection::vec(any::<u8>(), 0..16)),
                0..6,
            ),
        ) {
            let fields = slices(&fields);
            let mut out = Vec::new();
            ResponseHead {
                status: StatusCode::OK,
                date: None,
                fields: Fields::Untrusted(&fields),
                trailers: &fields,
                body: BodyLength::Chunked,
                version: Version::HTTP_11,
                keep_alive: true,
            }
            .write_to(&mut out);
            let kept = fields
                .iter()
                .filter(|(n, v)| !is_managed(n) && shockwave_http11::is_field_safe(n, v))
                .count();
            let announced = usize::from(fields.iter().any(|(n, v)| is_trailer_allowed(n, v)));
            // status line + kept fields + trailer + transfer-encoding + empty line
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1 + kept + announced + 1 + 1);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\r').count(), 1 + kept + announced + 1 + 1);
            if fields.iter().all(|(n, v)| is_valid_field(n, v)) {
                let arena = Arena::new();
                prop_assert!(parse_response(&out, &arena, &Limits::default()).unwrap().is_complete());
            }
        }

        #[test]
        fn request_heads_parse_back(
            target in "/[a-zA-Z0-9/._~%!$&'()*+,;=:@?-]{0,40}",
            fields in fields(),
            body in prop_oneof![Just(BodyLength::None), Just(BodyLength::Chunked), (0u64..1 << 40).prop_map(BodyLength::Known)],
            keep_alive in any::<bool>(),
        ) {
            // Without framing of its own, the request writer leaves the caller's framing and
            // connection fields alone (the client's behaviour): keep them out here.
            let fields: Vec<_> = slices(&fields)
                .into_iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case(b"content-length")
                        && !n.eq_ignore_ascii_case(b"transfer-encoding")
                        && !n.eq_ignore_ascii_case(b"connection")
                })
                .collect();
            let mut out = Vec::new();
            RequestHead { method: &Method::POST, target: &target, host: "example.com:8080", headers: &fields, body, keep_alive }
                .write_to(&mut out);
            let arena = Arena::new();
            let Status::Complete((r, n)) = parse_request(&out, &arena, &Limits::default()).unwrap() else {
                panic!("incomplete head")
            };
            prop_assert_eq!(n, out.len());
            prop_assert_eq!(r.target(), target.as_str());
            prop_assert_eq!(r.host(), Some(&b"example.com:8080"[..]));
            prop_assert_eq!(r.keep_alive(), keep_alive);
            let expected = match body {
                BodyLength::None => BodyFraming::Empty,
                BodyLength::Known(len) => BodyFraming::Length(len),
                BodyLength::Chunked => BodyFraming::Chunked,
            };
            prop_assert_eq!(r.framing(), expected);
        }
    }
}
