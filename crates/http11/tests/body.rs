//! The body decoder: Content-Length, chunked (extensions, trailers, errors) and
//! close-delimited bodies, fed whole and byte by byte.

use shockwave_http11::{BodyDecoder, BodyFraming, Error, Limits};

/// Feeds `input` in pieces of `step` bytes the way a server does (append to a buffer,
/// decode from the unconsumed part); returns (body, bytes consumed, done).
fn feed(
    framing: BodyFraming,
    input: &[u8],
    step: usize,
    limits: &Limits,
) -> Result<(Vec<u8>, usize, bool), Error> {
    let mut dec = BodyDecoder::new(framing, limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0usize; // consumed offset within buf
    let mut total_consumed = 0usize;
    let mut body = Vec::new();
    let mut fed = 0usize;
    loop {
        loop {
            let s = dec.decode(&buf[start..])?;
            body.extend_from_slice(s.data);
            start += s.consumed;
            total_consumed += s.consumed;
            if s.done {
                assert!(dec.is_done());
                return Ok((body, total_consumed, true));
            }
            if s.consumed == 0 {
                break;
            }
        }
        if fed >= input.len() {
            return Ok((body, total_consumed, false));
        }
        let end = (fed + step).min(input.len());
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
    }
}

fn chunked(input: &[u8]) -> Result<(Vec<u8>, usize, bool), Error> {
    feed(
        BodyFraming::Chunked,
        input,
        input.len().max(1),
        &Limits::default(),
    )
}

const CHUNKED: &[&[u8]] = &[
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"1;a=b;c\r\nx\r\n0\r\n\r\n",
    b"A ; name = \"quoted \\\" value\" \r\n0123456789\r\n0\r\n\r\n",
    b"3\r\nabc\r\n0\r\nTrailer-One: 1\r\nTrailer-Two:   two  \r\n\r\n",
    b"0\r\n\r\n",
    b"00000000000000000001\r\nZ\r\n0;last\r\n\r\n",
];

#[test]
fn chunked_whole_equals_byte_by_byte() {
    for input in CHUNKED {
        let whole = chunked(input).unwrap();
        assert!(whole.2, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(whole.1, input.len());
        for step in [1, 2, 3, 7] {
            let pieces = feed(BodyFraming::Chunked, input, step, &Limits::default()).unwrap();
            assert_eq!(
                pieces,
                whole,
                "step {step} on {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
    assert_eq!(chunked(CHUNKED[0]).unwrap().0, b"hello world");
    assert_eq!(chunked(CHUNKED[2]).unwrap().0, b"0123456789");
    assert_eq!(chunked(CHUNKED[5]).unwrap().0, b"Z");
}

#[test]
fn chunked_leaves_the_next_message_alone() {
    let mut input = b"2\r\nhi\r\n0\r\n\r\n".to_vec();
    input.extend_from_slice(b"GET / HTTP/1.1\r\n");
    let (body, consumed, done) = chunked(&input).unwrap();
    assert!(done);
    assert_eq!(body, b"hi");
    assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n");
}

#[test]
fn chunked_incomplete_is_not_done() {
    for input in [
        &b"5\r\nhel"[..],
        b"5\r\nhello",
        b"5\r\nhello\r",
        b"5\r\nhello\r\n0\r\n",
        b"5\r\nhello\r\n0\r\nX: y\r\n",
        b"5",
    ] {
        let (_, _, done) = chunked(input).unwrap();
        assert!(!done, "{:?}", String::from_utf8_lossy(input));
        let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
        let mut rest = input;
        loop {
            let s = dec.decode(rest).unwrap();
            rest = &rest[s.consumed..];
            if s.consumed == 0 {
                break;
            }
        }
        assert_eq!(dec.finish_at_eof(), Err(Error::IncompleteBody));
    }
}

#[test]
fn chunked_data_is_zero_copy() {
    let input = b"5\r\nhello\r\n0\r\n\r\n";
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
    let s = dec.decode(input).unwrap();
    assert_eq!(s.data, b"hello");
    assert_eq!(s.data.as_ptr(), input[3..].as_ptr());
    // The framing after the data (CRLF, last chunk, empty trailer section) is
    // consumed in the same call.
    assert_eq!(s.consumed, input.len());
    assert!(s.done);
    // Split before the last chunk: data first, then the rest.
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
    let s = dec.decode(&input[..10]).unwrap();
    assert_eq!((s.consumed, s.data, s.done), (10, &b"hello"[..], false));
    let s = dec.decode(&input[10..]).unwrap();
    assert_eq!((s.consumed, s.data, s.done), (5, &b""[..], true));
    // Done stays done.
    let s = dec.decode(b"more").unwrap();
    assert_eq!((s.consumed, s.data, s.done), (0, &b""[..], true));
    assert_eq!(dec.finish_at_eof(), Ok(()));
}

#[test]
fn chunked_error_table() {
    #[rustfmt::skip]
    let cases: &[(&str, &[u8], Error)] = &[
        ("no size", b"\r\nabc\r\n0\r\n\r\n", Error::InvalidChunkSize),
        ("non-hex size", b"g\r\n", Error::InvalidChunkSize),
        ("0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n", Error::InvalidChunkSize),
        ("negative", b"-1\r\n", Error::InvalidChunkSize),
        ("space after size", b"5 \r\nhello\r\n0\r\n\r\n", Error::InvalidChunkSize),
        ("space before size", b" 5\r\nhello\r\n0\r\n\r\n", Error::InvalidChunkSize),
        ("overflow", b"10000000000000000\r\n", Error::ChunkSizeOverflow),
        ("overflow long", b"fffffffffffffffffffffff\r\n", Error::ChunkSizeOverflow),
        ("empty ext", b"5;\r\nhello\r\n0\r\n\r\n", Error::InvalidChunkExtension),
        ("bad ext name", b"5;(x)\r\nhello\r\n0\r\n\r\n", Error::InvalidChunkExtension),
        ("unterminated quote", b"5;a=\"x\r\nhello\r\n0\r\n\r\n", Error::InvalidChunkExtension),
        ("NUL in ext", b"5;a=\0\r\nhello\r\n0\r\n\r\n", Error::InvalidChunkExtension),
        ("bare LF size", b"5\nhello\r\n0\r\n\r\n", Error::BareLf),
        ("bare CR size", b"5\rhello\r\n0\r\n\r\n", Error::BareCr),
        ("data too long", b"5\r\nhello!\r\n0\r\n\r\n", Error::InvalidChunkTerminator),
        ("missing CRLF", b"5\r\nhelloXX0\r\n\r\n", Error::InvalidChunkTerminator),
        ("bare LF after data", b"5\r\nhello\n0\r\n\r\n", Error::BareLf),
        ("bare CR after data", b"5\r\nhello\rX0\r\n\r\n", Error::BareCr),
        ("bad trailer", b"0\r\nBad Name: x\r\n\r\n", Error::WhitespaceBeforeColon),
        ("trailer NUL", b"0\r\nX: \0\r\n\r\n", Error::InvalidHeaderValue),
        ("trailer fold", b"0\r\nX: a\r\n b\r\n\r\n", Error::ObsFold),
        ("trailer bare LF", b"0\r\nX: a\n\r\n", Error::BareLf),
        ("trailer no colon", b"0\r\nJunk\r\n\r\n", Error::InvalidHeaderName),
        ("bare LF end", b"0\r\n\n", Error::BareLf),
    ];
    for (name, input, expected) in cases {
        assert_eq!(
            chunked(input).map(|_| ()),
            Err(*expected),
            "case {name:?} (whole)"
        );
        let split = feed(BodyFraming::Chunked, input, 1, &Limits::default());
        assert_eq!(
            split.map(|_| ()),
            Err(*expected),
            "case {name:?} (byte by byte)"
        );
    }
}

#[test]
fn chunk_line_and_trailer_limits() {
    let limits = Limits {
        max_chunk_line: 8,
        max_trailer_bytes: 16,
        ..Limits::default()
    };
    // 8 bytes of chunk line is fine, 9 is not.
    assert!(
        feed(
            BodyFraming::Chunked,
            b"1;abcdef\r\nx\r\n0\r\n\r\n",
            100,
            &limits
        )
        .unwrap()
        .2
    );
    assert_eq!(
        feed(
            BodyFraming::Chunked,
            b"1;abcdefg\r\nx\r\n0\r\n\r\n",
            100,
            &limits
        ),
        Err(Error::ChunkLineTooLong)
    );
    // Without any line end in sight the decoder gives up once past the limit.
    assert_eq!(
        feed(BodyFraming::Chunked, b"1;abcdefghijklmnop", 1, &limits),
        Err(Error::ChunkLineTooLong)
    );
    assert_eq!(
        feed(
            BodyFraming::Chunked,
            b"0\r\nX: 0123456789abcdef\r\n\r\n",
            100,
            &limits
        ),
        Err(Error::TrailersTooLarge)
    );
    assert_eq!(
        feed(
            BodyFraming::Chunked,
            b"0\r\nX: 0123456789abcdef",
            1,
            &limits
        ),
        Err(Error::TrailersTooLarge)
    );
    assert!(
        feed(BodyFraming::Chunked, b"0\r\nX: 0123\r\n\r\n", 1, &limits)
            .unwrap()
            .2
    );
    let few = Limits {
        max_headers: 1,
        ..Limits::default()
    };
    assert_eq!(
        feed(
            BodyFraming::Chunked,
            b"0\r\nA: 1\r\nB: 2\r\n\r\n",
            100,
            &few
        ),
        Err(Error::TooManyHeaders)
    );
    let lf = Limits {
        allow_bare_lf: true,
        ..Limits::default()
    };
    let (body, _, done) = feed(BodyFraming::Chunked, b"2\nhi\n0\nX: y\n\n", 1, &lf).unwrap();
    assert!(done);
    assert_eq!(body, b"hi");
}

#[test]
fn content_length_bodies() {
    let limits = Limits::default();
    let (body, consumed, done) = feed(BodyFraming::Length(5), b"helloNEXT", 100, &limits).unwrap();
    assert_eq!((body.as_slice(), consumed, done), (&b"hello"[..], 5, true));
    let (body, consumed, done) = feed(BodyFraming::Length(5), b"helloNEXT", 1, &limits).unwrap();
    assert_eq!((body.as_slice(), consumed, done), (&b"hello"[..], 5, true));
    let mut dec = BodyDecoder::new(BodyFraming::Length(10), &limits);
    let s = dec.decode(b"abc").unwrap();
    assert_eq!((s.consumed, s.data, s.done), (3, &b"abc"[..], false));
    assert_eq!(dec.remaining_hint(), 7);
    assert_eq!(dec.finish_at_eof(), Err(Error::IncompleteBody));
    let mut dec = BodyDecoder::new(BodyFraming::Length(0), &limits);
    assert!(dec.is_done());
    assert!(dec.decode(b"x").unwrap().done);
    let mut dec = BodyDecoder::new(BodyFraming::Empty, &limits);
    let s = dec.decode(b"GET").unwrap();
    assert_eq!((s.consumed, s.done), (0, true));
    // Lengths beyond usize on 32-bit or just huge: never overflow.
    let mut dec = BodyDecoder::new(BodyFraming::Length(u64::MAX), &limits);
    let s = dec.decode(b"abc").unwrap();
    assert_eq!(s.consumed, 3);
    assert_eq!(dec.remaining_hint(), u64::MAX - 3);
}

#[test]
fn close_delimited_bodies() {
    let mut dec = BodyDecoder::new(BodyFraming::CloseDelimited, &Limits::default());
    let s = dec.decode(b"all of it").unwrap();
    assert_eq!((s.consumed, s.data, s.done), (9, &b"all of it"[..], false));
    let s = dec.decode(b"").unwrap();
    assert_eq!((s.consumed, s.done), (0, false));
    assert!(!dec.is_done());
    assert_eq!(dec.finish_at_eof(), Ok(()));
    assert!(dec.is_done());
}

#[test]
fn huge_chunk_sizes_do_not_overflow() {
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
    let s = dec.decode(b"ffffffffffffffff\r\nabc").unwrap();
    assert_eq!((s.consumed, s.data), (21, &b"abc"[..]));
    assert_eq!(dec.remaining_hint(), u64::MAX - 3);
}
