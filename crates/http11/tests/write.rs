//! Serializing heads and chunks, checked by parsing the output back.

use shockwave_arena::Arena;
use shockwave_http11::{
    fields_safe, is_field_safe, is_valid_field, parse_request, parse_response,
    parse_trailer_section, write_chunk, write_last_chunk, BodyDecoder, BodyFraming, BodyLength,
    DateCache, Fields, Limits, Method, RequestHead, ResponseHead, ResponsePlan, Status, StatusCode,
    Version,
};

fn response(head: &ResponseHead<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    head.write_to(&mut out);
    out
}

#[test]
fn response_head_round_trips() {
    let mut dates = DateCache::new();
    let date = dates.header_value().to_vec();
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
    expected.extend_from_slice(&date);
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
    assert_eq!(r.header(b"date"), Some(&date[..]));
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
    let head = ResponseHead {
        status: StatusCode::OK,
        date: Some(b"bad\r\ndate"),
        fields: Fields::Untrusted(evil),
        trailers: &[(b"X-Evil", b"a\r\nb"), (b"Bad Name", b"v")],
        body: BodyLength::Known(0),
        version: Version::HTTP_11,
        keep_alive: true,
    };
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
    let mut cache = DateCache::default();
    let a = cache.header_value().to_vec();
    assert_eq!(a.len(), 29);
    assert!(httpdate::parse_http_date(std::str::from_utf8(&a).unwrap()).is_ok());
}
