//! Serializing heads and chunks, checked by parsing the output back.

use shockwave_arena::Arena;
use shockwave_http11::{
    is_valid_field, parse_request, parse_response, write_chunk, write_last_chunk, BodyDecoder,
    BodyFraming, BodyLength, DateCache, Limits, Method, RequestHead, ResponseHead, Status,
    StatusCode, Version,
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
        version: Version::HTTP_11,
        status: StatusCode::OK,
        headers: &[(b"Server", b"shockwave"), (b"Content-Type", b"text/plain")],
        body: BodyLength::Known(13),
        keep_alive: true,
        date: Some(&date),
    });
    let mut expected = b"HTTP/1.1 200 OK\r\nDate: ".to_vec();
    expected.extend_from_slice(&date);
    expected.extend_from_slice(
        b"\r\nServer: shockwave\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n",
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
        version: Version::HTTP_11,
        status: StatusCode::NOT_FOUND,
        headers: &[(b"content-length", b"99"), (b"Transfer-Encoding", b"gzip")],
        body: BodyLength::Chunked,
        keep_alive: false,
        date: None,
    });
    assert_eq!(
        chunked,
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let http10 = response(&ResponseHead {
        version: Version::HTTP_10,
        status: StatusCode::NO_CONTENT,
        headers: &[],
        body: BodyLength::None,
        keep_alive: true,
        date: None,
    });
    assert_eq!(
        http10,
        b"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n"
    );
    // HEAD: the caller may announce the length of the GET body itself.
    let head = response(&ResponseHead {
        version: Version::HTTP_11,
        status: StatusCode::OK,
        headers: &[(b"Content-Length", b"1234")],
        body: BodyLength::None,
        keep_alive: true,
        date: None,
    });
    assert_eq!(head, b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
    let custom = response(&ResponseHead {
        version: Version::HTTP_11,
        status: StatusCode::from_u16(599).unwrap(),
        headers: &[],
        body: BodyLength::Known(u64::MAX),
        keep_alive: true,
        date: None,
    });
    assert_eq!(
        custom,
        b"HTTP/1.1 599 \r\nContent-Length: 18446744073709551615\r\n\r\n"
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
        version: Version::HTTP_11,
        status: StatusCode::OK,
        headers: evil,
        body: BodyLength::Known(0),
        keep_alive: true,
        date: Some(b"bad\r\ndate"),
    };
    assert!(!head.validate());
    let out = response(&head);
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nX-Ok: fine\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(is_valid_field(b"X", b"tab\tand obs-text \xff"));
    assert!(!is_valid_field(b"X", b"\x7f"));
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
fn date_cache_is_stable_within_a_second() {
    let mut cache = DateCache::default();
    let a = cache.header_value().to_vec();
    assert_eq!(a.len(), 29);
    assert!(httpdate::parse_http_date(std::str::from_utf8(&a).unwrap()).is_ok());
}
