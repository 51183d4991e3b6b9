//! Serializing heads and chunks, checked by parsing the output back.

use shockwave_arena::Arena;
use shockwave_http11::{
    fields_safe, is_field_safe, is_valid_field, parse_request, parse_response,
    parse_trailer_section, write_chunk, write_last_chunk, BodyDecoder, BodyFraming, BodyLength,
    DateCache, Fields, HeadMemo, HttpDate, Limits, Method, RequestHead, ResponseHead, ResponsePlan,
    Status, StatusCode, Version,
};

fn response(head: &ResponseHead<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    head.write_to(&mut out);
    out
}

#[test]
fn response_head_round_trips() {
    let dates = DateCache::new(std::time::SystemTime::now());
    let date = dates.date();
    let out = response(&ResponseHead {
        status: StatusCode::OK,
        date: Some(&date),
        fields: Fields::Untrusted(&[(b"Server", b"shockwave"), (b"Content-Type", b"text/plain")]),
        trailers: &[],
        body: BodyLength::Known(13),
        version: Version::HTTP_11,
        keep_alive: true,
    });
    let mut expected = b"HTTP/1.1 200 OK\r\ndate: ".to_vec();
    expected.extend_from_slice(date.as_bytes());
    expected.extend_from_slice(
        b"\r\nServer: shockwave\r\nContent-Type: text/plain\r\ncontent-length: 13\r\n\r\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&expected)
    );
    let arena = Arena::new();
    let Status::Complete((r, n)) = parse_response(&out, &arena, &Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(n, out.len());
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.framing(&Method::GET), BodyFraming::Length(13));
    assert!(r.keep_alive());
    assert_eq!(r.header(b"date"), Some(&date.as_bytes()[..]));
}

#[test]
fn response_framing_and_connection_fields() {
    let chunked = response(&ResponseHead {
        status: StatusCode::NOT_FOUND,
        date: None,
        fields: Fields::Untrusted(&[(b"content-length", b"99"), (b"Transfer-Encoding", b"gzip")]),
        trailers: &[],
        body: BodyLength::Chunked,
        version: Version::HTTP_11,
        keep_alive: false,
    });
    assert_eq!(
        chunked,
        b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    // An HTTP/1.0 peer gets an HTTP/1.1 status line (RFC 9110 §2.5) and an explicit
    // keep-alive.
    let http10 = response(&ResponseHead {
        status: StatusCode::NO_CONTENT,
        date: None,
        fields: Fields::Untrusted(&[]),
        trailers: &[],
        body: BodyLength::None,
        version: Version::HTTP_10,
        keep_alive: true,
    });
    assert_eq!(
        http10,
        b"HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n"
    );
    // HEAD: the length the GET would have is announced (from the plan), a handler's own
    // Content-Length is a managed name and never written.
    let plan = ResponsePlan::new(
        StatusCode::OK,
        true,
        Version::HTTP_11,
        Some(1234),
        false,
        true,
    );
    assert!(!plan.send_body);
    let head = response(&ResponseHead {
        status: StatusCode::OK,
        date: None,
        fields: Fields::Untrusted(&[(b"Content-Length", b"99")]),
        trailers: &[],
        body: plan.head,
        version: Version::HTTP_11,
        keep_alive: plan.keep_alive,
    });
    assert_eq!(head, b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n");
    let custom = response(&ResponseHead {
        status: StatusCode::from_u16(599).unwrap(),
        date: None,
        fields: Fields::Untrusted(&[]),
        trailers: &[],
        body: BodyLength::Known(u64::MAX),
        version: Version::HTTP_11,
        keep_alive: true,
    });
    assert_eq!(
        custom,
        b"HTTP/1.1 599 Unknown\r\ncontent-length: 18446744073709551615\r\n\r\n"
    );
}

#[test]
fn response_splitting_is_impossible() {
    let evil: &[(&[u8], &[u8])] = &[
        (b"X-Ok", b"fine"),
        (b"X-Evil", b"a\r\nSet-Cookie: pwned=1"),
        (b"X-Evil2", b"a\nb"),
        (b"Bad Name", b"v"),
        (b"X-Nul", b"a\0b"),
        (b"", b"empty name"),
    ];
    let bad_date = HttpDate::new(*b"Sun, 06 Nov 1994\r\nX: 1 ab GMT");
    let head = ResponseHead {
        status: StatusCode::OK,
        date: bad_date.as_ref(),
        fields: Fields::Untrusted(evil),
        trailers: &[(b"X-Evil", b"a\r\nb"), (b"Bad Name", b"v")],
        body: BodyLength::Known(0),
        version: Version::HTTP_11,
        keep_alive: true,
    };
    assert!(head.date.is_none(), "a date with CR LF cannot be built");
    assert!(!head.validate());
    assert!(!fields_safe(evil));
    assert!(fields_safe(&evil[..1]));
    let out = response(&head);
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nX-Ok: fine\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(is_valid_field(b"X", b"tab\tand obs-text \xff"));
    assert!(!is_valid_field(b"X", b"\x7f"));
    // The server's guard is looser for other control bytes, as it has always been.
    assert!(is_field_safe(b"X", b"\x7f\x01"));
    assert!(!is_field_safe(b"X", b"a\rb"));
    assert!(!is_field_safe(b"X:", b"a"));
}

#[test]
fn request_head_round_trips() {
    let method = Method::POST;
    let head = RequestHead {
        method: &method,
        target: "/submit?x=1",
        host: "example.com:8080",
        headers: &[
            (b"Host", b"ignored"),
            (b"Accept", b"*/*"),
            (b"content-length", b"1"),
        ],
        body: BodyLength::Known(5),
        keep_alive: false,
    };
    assert!(head.validate());
    let mut out = Vec::new();
    head.write_to(&mut out);
    assert_eq!(
        out,
        b"POST /submit?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
    );
    let arena = Arena::new();
    let Status::Complete((r, n)) = parse_request(&out, &arena, &Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(n, out.len());
    assert_eq!(r.method(), Method::POST);
    assert_eq!(r.framing(), BodyFraming::Length(5));
    assert!(!r.keep_alive());
    drop(r);

    let get = Method::GET;
    let head = RequestHead {
        method: &get,
        target: "/a b\r\nX: y",
        host: "h",
        headers: &[],
        body: BodyLength::Chunked,
        keep_alive: true,
    };
    assert!(!head.validate());
    out.clear();
    head.write_to(&mut out);
    assert_eq!(
        out,
        b"GET /abX:y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

#[test]
fn chunks_round_trip_through_the_decoder() {
    let mut out = Vec::new();
    write_chunk(&mut out, b"hello");
    write_chunk(&mut out, b"");
    write_chunk(&mut out, &[b'x'; 300]);
    write_last_chunk(&mut out, &[(b"X-Checksum", b"abc"), (b"Bad\r\n", b"x")]);
    let mut expected = b"5\r\nhello\r\n12c\r\n".to_vec();
    expected.extend_from_slice(&[b'x'; 300]);
    expected.extend_from_slice(b"\r\n0\r\nX-Checksum: abc\r\n\r\n");
    assert_eq!(out, expected);
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
    let mut rest = &out[..];
    let mut body = Vec::new();
    loop {
        let s = dec.decode(rest).unwrap();
        body.extend_from_slice(s.data);
        rest = &rest[s.consumed..];
        if s.done {
            break;
        }
    }
    assert!(rest.is_empty());
    assert_eq!(body.len(), 305);
    let mut out = Vec::new();
    write_last_chunk(&mut out, &[]);
    assert_eq!(out, b"0\r\n\r\n");
}

#[test]
fn trailers_round_trip() {
    let trailers: &[(&[u8], &[u8])] = &[
        (b"X-Checksum", b"abc"),
        (b"grpc-status", b"0"),
        (b"grpc-message", b"a b\tc"),
        (b"content-length", b"5"),
        (b"X-Empty", b""),
    ];
    let mut out = Vec::new();
    write_chunk(&mut out, b"data");
    let data_end = out.len() - 2;
    write_last_chunk(&mut out, trailers);
    // What a client keeps: the framing the decoder consumed after the last data.
    let mut dec = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
    let step = dec.decode(&out).unwrap();
    assert_eq!(step.data, b"data");
    assert!(step.done);
    assert_eq!(step.consumed, out.len());
    let got: Vec<_> = parse_trailer_section(&out[data_end..], &Limits::default())
        .unwrap()
        .collect();
    let allowed: Vec<_> = trailers
        .iter()
        .copied()
        .filter(|(n, _)| *n != b"content-length")
        .collect();
    assert_eq!(got, allowed);
    assert_eq!(
        parse_trailer_section(&out[data_end..], &Limits::default())
            .unwrap()
            .allowed()
            .count(),
        allowed.len()
    );
}

#[test]
fn date_cache_is_stable_within_a_second() {
    let now = std::time::SystemTime::now();
    let mut cache = DateCache::new(now);
    let a = cache.header_value().to_vec();
    assert!(!cache.refresh(now));
    assert_eq!(cache.header_value()[..], a[..]);
    assert_eq!(a.len(), 29);
    assert!(httpdate::parse_http_date(std::str::from_utf8(&a).unwrap()).is_ok());
}

/// A field list.
type FieldList = &'static [(&'static [u8], &'static [u8])];

const DATE: &[u8; 29] = b"Wed, 25 Nov 2026 19:00:00 GMT";
const TEXT: &[(&[u8], &[u8])] = &[(b"content-type", b"text/plain; charset=utf-8")];
const JSON: &[(&[u8], &[u8])] = &[(b"content-type", b"application/json")];

/// One server response: what the driver knows, and the bytes the server has always sent
/// for it (the cases of the server's own HTTP/1.1 tests, plus every framing branch).
struct Case {
    status: u16,
    fields: Fields<'static>,
    trailers: &'static [(&'static [u8], &'static [u8])],
    head_request: bool,
    http10: bool,
    body_len: Option<u64>,
    keep_alive: bool,
    expected: &'static str,
}

#[test]
fn server_head_table() {
    let d = "date: Wed, 25 Nov 2026 19:00:00 GMT\r\n";
    let case = |status, fields, body_len, expected| Case {
        status,
        fields,
        trailers: &[],
        head_request: false,
        http10: false,
        body_len,
        keep_alive: true,
        expected,
    };
    let cases = [
        case(200, Fields::Trusted(TEXT), Some(13), "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n\r\n"),
        case(200, Fields::Trusted(JSON), Some(2), "HTTP/1.1 200 OK\r\n{d}content-type: application/json\r\ncontent-length: 2\r\n\r\n"),
        case(404, Fields::Trusted(&[]), Some(0), "HTTP/1.1 404 Not Found\r\n{d}content-length: 0\r\n\r\n"),
        case(418, Fields::Trusted(TEXT), Some(1), "HTTP/1.1 418 I'm a teapot\r\n{d}content-type: text/plain; charset=utf-8\r\ncontent-length: 1\r\n\r\n"),
        case(204, Fields::Trusted(&[]), Some(0), "HTTP/1.1 204 No Content\r\n{d}\r\n"),
        case(304, Fields::Untrusted(&[(b"etag", b"\"x\"")]), Some(10), "HTTP/1.1 304 Not Modified\r\n{d}etag: \"x\"\r\n\r\n"),
        case(599, Fields::Trusted(&[]), Some(0), "HTTP/1.1 599 Unknown\r\n{d}content-length: 0\r\n\r\n"),
        // A stream of unknown length: chunked for HTTP/1.1 ...
        case(200, Fields::Trusted(TEXT), None, "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n"),
        // ... close-delimited for HTTP/1.0.
        Case { http10: true, ..case(200, Fields::Trusted(TEXT), None, "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\nconnection: close\r\n\r\n") },
        Case { http10: true, ..case(200, Fields::Trusted(&[]), Some(5), "HTTP/1.1 200 OK\r\n{d}content-length: 5\r\nconnection: keep-alive\r\n\r\n") },
        Case { keep_alive: false, ..case(200, Fields::Trusted(TEXT), Some(2), "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\ncontent-length: 2\r\nconnection: close\r\n\r\n") },
        // Untrusted fields: managed names skipped, the rest in order.
        case(200, Fields::Untrusted(&[(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"99"), (b"x-a", b"1")]), Some(2), "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\nx-a: 1\r\ncontent-length: 2\r\n\r\n"),
        case(200, Fields::Untrusted(&[(b"Connection", b"close"), (b"Date", b"x"), (b"Transfer-Encoding", b"gzip"), (b"X-B", b"2")]), Some(0), "HTTP/1.1 200 OK\r\n{d}X-B: 2\r\ncontent-length: 0\r\n\r\n"),
        // Trailers: announced (allowed names only), chunked, no length.
        Case { trailers: &[(b"x-a", b"1"), (b"connection", b"close"), (b"x-b", b"2")], ..case(200, Fields::Untrusted(&[(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]), Some(2), "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\ntrailer: x-a, x-b\r\ntransfer-encoding: chunked\r\n\r\n") },
        // Trailers dropped for HTTP/1.0 and without a body.
        Case { trailers: &[(b"x-a", b"1")], http10: true, ..case(200, Fields::Trusted(&[]), Some(2), "HTTP/1.1 200 OK\r\n{d}content-length: 2\r\nconnection: keep-alive\r\n\r\n") },
        Case { trailers: &[(b"x-a", b"1")], head_request: true, ..case(200, Fields::Trusted(TEXT), Some(2), "HTTP/1.1 200 OK\r\n{d}content-type: text/plain; charset=utf-8\r\ncontent-length: 2\r\n\r\n") },
        // HEAD of a stream: no framing at all.
        Case { head_request: true, ..case(200, Fields::Trusted(&[]), None, "HTTP/1.1 200 OK\r\n{d}\r\n") },
        // The server's error answer (parse errors, limits, timeouts).
        Case { keep_alive: false, ..case(400, Fields::Trusted(TEXT), Some(12), "HTTP/1.1 400 Bad Request\r\n{d}content-type: text/plain; charset=utf-8\r\ncontent-length: 12\r\nconnection: close\r\n\r\n") },
        Case { keep_alive: false, ..case(431, Fields::Trusted(TEXT), Some(32), "HTTP/1.1 431 Request Header Fields Too Large\r\n{d}content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\nconnection: close\r\n\r\n") },
    ];
    let mut out = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let version = if c.http10 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let status = StatusCode::from_u16(c.status).unwrap();
        let plan = ResponsePlan::new(
            status,
            c.head_request,
            version,
            c.body_len,
            !c.trailers.is_empty(),
            c.keep_alive,
        );
        out.clear();
        out.extend_from_slice(b"earlier response");
        let range = ResponseHead {
            status,
            date: Some(&HttpDate::new(*DATE).unwrap()),
            fields: c.fields,
            trailers: if plan.trailers { c.trailers } else { &[] },
            body: plan.head,
            version,
            keep_alive: plan.keep_alive,
        }
        .write_to(&mut out);
        assert_eq!(range.start, 16);
        assert_eq!(range.end, out.len());
        assert_eq!(
            String::from_utf8_lossy(&out[range]),
            c.expected.replace("{d}", d),
            "case {i}"
        );
    }
}

#[test]
fn head_memo_is_byte_identical_and_follows_every_key_part() {
    let dates = [DATE, b"Wed, 25 Nov 2026 19:00:01 GMT"];
    let mut memo = HeadMemo::new();
    let mut writes = 0;
    let mut heads = 0;
    for (date_gen, date) in dates.iter().enumerate() {
        let presets: [(u16, u8, FieldList); 5] = [
            (200, 1, TEXT),
            (200, 2, JSON),
            (404, 3, &[]),
            (418, 1, TEXT),
            (204, 3, &[]),
        ];
        for (status, preset, fields) in presets {
            for length in [Some(2), Some(13), None] {
                for keep_alive in [true, false] {
                    for http10 in [false, true] {
                        let version = if http10 {
                            Version::HTTP_10
                        } else {
                            Version::HTTP_11
                        };
                        let status = StatusCode::from_u16(status).unwrap();
                        let plan =
                            ResponsePlan::new(status, false, version, length, false, keep_alive);
                        let http_date = HttpDate::new(**date).unwrap();
                        let head = ResponseHead {
                            status,
                            date: Some(&http_date),
                            fields: Fields::Trusted(fields),
                            trailers: &[],
                            body: plan.head,
                            version,
                            keep_alive: plan.keep_alive,
                        };
                        let key = (status, preset, plan.head, plan.keep_alive, http10, date_gen);
                        let mut want = b"previous".to_vec();
                        head.write_to(&mut want);
                        // The second time the same key comes, the memo is copied.
                        for _ in 0..2 {
                            let mut got = b"previous".to_vec();
                            memo.write(key, &mut got, |w| {
                                writes += 1;
                                head.write_to(w);
                            });
                            assert_eq!(
                                String::from_utf8(got).unwrap(),
                                String::from_utf8(want.clone()).unwrap()
                            );
                            heads += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(writes * 2, heads, "every repeated key must hit the memo");
    // Keep-alive and close variants differ, and the memo follows; so does the date.
    let head = |memo: &mut HeadMemo<(bool, u64)>, keep_alive, date_gen, date: &[u8; 29]| {
        let date = HttpDate::new(*date).unwrap();
        let mut out = Vec::new();
        memo.write_head(
            (keep_alive, date_gen),
            &mut out,
            &ResponseHead {
                status: StatusCode::OK,
                date: Some(&date),
                fields: Fields::Trusted(TEXT),
                trailers: &[],
                body: BodyLength::Known(13),
                version: Version::HTTP_11,
                keep_alive,
            },
        );
        String::from_utf8(out).unwrap()
    };
    let mut memo = HeadMemo::new();
    let expected = "HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 19:00:00 GMT\r\n\
                    content-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n\r\n";
    assert_eq!(head(&mut memo, true, 7, dates[0]), expected);
    assert_eq!(head(&mut memo, true, 7, dates[0]), expected);
    assert!(head(&mut memo, false, 7, dates[0]).ends_with("connection: close\r\n\r\n"));
    assert_eq!(head(&mut memo, true, 7, dates[0]), expected);
    let rolled = expected.replace("19:00:00", "19:00:01");
    assert_eq!(head(&mut memo, true, 8, dates[1]), rolled);
    assert_eq!(head(&mut memo, true, 8, dates[1]), rolled);
}

#[test]
fn client_request_heads() {
    // What the client sends: Host from the target, the caller's fields, then framing.
    let cases: [(Method, &str, FieldList, BodyLength, &str); 4] = [
        (Method::GET, "/", &[], BodyLength::None, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        (Method::POST, "/submit", &[(b"content-type", b"application/json")], BodyLength::Known(0),
            "POST /submit HTTP/1.1\r\nHost: example.com\r\ncontent-type: application/json\r\nContent-Length: 0\r\n\r\n"),
        (Method::PUT, "/up?x=1", &[(b"Transfer-Encoding", b"gzip")], BodyLength::Chunked,
            "PUT /up?x=1 HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"),
        (Method::DELETE, "/a", &[(b"x-split", b"a\r\nb"), (b"accept", b"*/*")], BodyLength::None,
            "DELETE /a HTTP/1.1\r\nHost: example.com\r\naccept: */*\r\n\r\n"),
    ];
    for (method, target, headers, body, expected) in cases {
        let mut out = Vec::new();
        RequestHead {
            method: &method,
            target,
            host: "example.com",
            headers,
            body,
            keep_alive: true,
        }
        .write_to(&mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected);
        let arena = Arena::new();
        let Status::Complete((r, n)) = parse_request(&out, &arena, &Limits::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!((n, r.method()), (out.len(), &method));
    }
}
