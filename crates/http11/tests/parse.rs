//! Request and response parsing: accepted forms, the error table, incremental parsing
//! (split at every offset) and pipelining. Every parse runs with both the arena and the
//! heap strategy, which must agree.

mod common;

use common::*;
use http::Version;
use shockwave_arena::Arena;
use shockwave_http11::{parse_request, BodyFraming, Error, Limits, Method, Status, StatusCode};

#[test]
fn parses_a_simple_get() {
    let r = ok(b"GET /index.html?a=b&c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/index.html?a=b&c");
    assert_eq!(r.path, "/index.html");
    assert_eq!(r.query.as_deref(), Some("a=b&c"));
    assert_eq!(r.version, Version::HTTP_11);
    assert_eq!(r.headers.len(), 2);
    assert_eq!(r.header("HOST"), Some(&b"example.com"[..]));
    assert_eq!(r.framing, BodyFraming::Empty);
    assert!(r.keep_alive);
    assert!(!r.expect_continue);
    assert_eq!(r.consumed, 66);
}

#[test]
fn header_accessors_and_views() {
    let buf = b"GET / HTTP/1.1\r\nHost: h\r\nSet-Cookie: a=1\r\nX: y\r\nset-cookie: b=2\r\n\r\n";
    let arena = Arena::new();
    let Status::Complete((req, n)) = parse_request(buf, &arena, &Limits::default()).unwrap() else {
        panic!("partial")
    };
    assert_eq!(n, buf.len());
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.host(), Some(&b"h"[..]));
    let h = req.headers();
    assert_eq!(h.len(), 4);
    assert!(!h.is_empty());
    assert!(h.contains(b"x") && !h.contains(b"z"));
    assert_eq!(h.get(b"SET-COOKIE"), Some(&b"a=1"[..]));
    let all: Vec<&[u8]> = h.get_all(b"set-cookie").collect();
    assert_eq!(all, [&b"a=1"[..], &b"b=2"[..]]);
    let names: Vec<&[u8]> = h.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, [&b"Host"[..], b"Set-Cookie", b"X", b"set-cookie"]);
    // The arena holds exactly the four pairs.
    assert!(arena.allocated_bytes() >= 4 * 32);
    assert!(format!("{req:?}").contains("Set-Cookie"));
    // Names and values borrow the input buffer: zero copy.
    let v = req.header(b"x").unwrap();
    assert!(buf.as_ptr_range().contains(&v.as_ptr()));
    assert!(buf.as_ptr_range().contains(&req.target().as_ptr()));
}

#[test]
fn value_whitespace_is_trimmed_and_obs_text_kept() {
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nA: \t  spaced value \t \r\nB:\r\nC: caf\xc3\xa9 \x80\r\n\r\n");
    assert_eq!(r.header("a"), Some(&b"spaced value"[..]));
    assert_eq!(r.header("b"), Some(&b""[..]));
    assert_eq!(r.header("c"), Some(&b"caf\xc3\xa9 \x80"[..]));
}

#[test]
fn many_headers_spill_into_the_arena() {
    let mut buf = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..60 {
        buf.extend_from_slice(format!("X-Header-{i}: value {i}\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    let r = ok(&buf);
    assert_eq!(r.headers.len(), 61);
    assert_eq!(r.header("x-header-59"), Some(&b"value 59"[..]));
}

#[test]
fn framing_of_requests() {
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n").framing,
        BodyFraming::Length(42)
    );
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").framing,
        BodyFraming::Length(0)
    );
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n").framing,
        BodyFraming::Length(u64::MAX)
    );
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
        BodyFraming::Chunked
    );
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n").framing,
        BodyFraming::Chunked
    );
    assert_eq!(
        ok(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked, \r\n\r\n").framing,
        BodyFraming::Chunked
    );
    assert_eq!(ok(b"GET / HTTP/1.0\r\n\r\n").framing, BodyFraming::Empty);
}

#[test]
fn connection_management() {
    assert!(ok(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n").keep_alive);
    assert!(!ok(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(ok(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    assert!(!ok(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

#[test]
fn expect_continue_only_in_http11() {
    assert!(
        ok(b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
            .expect_continue
    );
    assert!(
        !ok(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expect_continue
    );
    assert!(!ok(b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n").expect_continue);
}

#[test]
fn upgrade_detection() {
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
    assert_eq!(r.upgrade.as_deref(), Some(&b"h2c"[..]));
    assert!(r.h2c);
    assert_eq!(
        r.http2_settings.as_deref(),
        Some(&b"AAMAAABkAAQCAAAAAAIAAAAA"[..])
    );
    // websocket: upgrade but not h2c
    let r = ok(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(r.upgrade.as_deref(), Some(&b"websocket"[..]));
    assert!(!r.h2c);
    // Upgrade without the Connection option is not an upgrade request (RFC 9110 §7.8).
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nHTTP2-Settings: AA\r\n\r\n");
    assert_eq!(r.upgrade, None);
    assert!(!r.h2c);
    // h2c without HTTP2-Settings, or with two, is not an h2c upgrade.
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n");
    assert!(!r.h2c);
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: A\r\nHTTP2-Settings: B\r\n\r\n");
    assert!(!r.h2c);
    assert_eq!(r.http2_settings, None);
    // Upgrade is ignored in HTTP/1.0.
    let r =
        ok(b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: A\r\n\r\n");
    assert!(!r.h2c && r.upgrade.is_none());
    // Upgrade lists with versions.
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: foo/2, H2C\r\nHTTP2-Settings: A\r\n\r\n");
    assert!(r.h2c);
}

#[test]
fn target_forms() {
    let r = ok(b"GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
    assert_eq!((r.path.as_str(), r.query.as_deref()), ("/a/b", Some("c=d")));
    let r = ok(b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!((r.path.as_str(), r.query.as_deref()), ("/", None));
    let r = ok(b"GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!((r.path.as_str(), r.query.as_deref()), ("/", Some("q")));
    let r = ok(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((r.path.as_str(), r.query.as_deref()), ("*", None));
    let r = ok(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n");
    assert_eq!(r.target, "h:443");
    let r = ok(b"GET /? HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((r.path.as_str(), r.query.as_deref()), ("/", Some("")));
    let r = ok(b"GET /a{b}|c^d HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(r.path, "/a{b}|c^d");
}

#[test]
fn extension_methods() {
    assert_eq!(
        ok(b"PROPFIND /x HTTP/1.1\r\nHost: h\r\n\r\n").method,
        "PROPFIND"
    );
    let long = b"VERY-LONG-EXTENSION-METHOD-NAME /x HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(ok(long).method, "VERY-LONG-EXTENSION-METHOD-NAME");
    assert_eq!(
        ok(b"get / HTTP/1.1\r\nHost: h\r\n\r\n").method,
        "get",
        "methods are case-sensitive"
    );
}

#[test]
fn bare_lf_when_allowed() {
    let limits = Limits {
        allow_bare_lf: true,
        ..Limits::default()
    };
    let buf = b"\nGET / HTTP/1.1\nHost: h\nX: y\r\n\n";
    match req_with(buf, &limits).unwrap() {
        Status::Complete(r) => {
            assert_eq!(r.header("x"), Some(&b"y"[..]));
            assert_eq!(r.consumed, buf.len());
        }
        Status::Partial => panic!("partial"),
    }
    assert_eq!(req(buf).unwrap_err(), Error::BareLf);
    // Bare CR is never allowed.
    assert_eq!(
        req_with(b"GET / HTTP/1.1\nHost: h\rX\n\n", &limits).unwrap_err(),
        Error::BareCr
    );
}

#[test]
fn partial_heads() {
    for buf in [
        &b""[..],
        b"G",
        b"GET",
        b"GET ",
        b"GET /",
        b"GET / ",
        b"GET / HTT",
        b"GET / HTTP/1.1",
        b"GET / HTTP/1.1\r",
        b"GET / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r\nHost",
        b"GET / HTTP/1.1\r\nHost: h",
        b"GET / HTTP/1.1\r\nHost: h\r",
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\r",
        b"\r",
        b"\r\n",
    ] {
        assert_eq!(
            req(buf),
            Ok(Status::Partial),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

/// Every bad input with the error it must produce (and so the status the server sends).
#[test]
fn error_table() {
    #[rustfmt::skip]
    let cases: &[(&str, &[u8], Error, u16)] = &[
        // request line
        ("empty method", b" / HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidMethod, 400),
        ("bad method char", b"GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidMethod, 400),
        ("NUL in method", b"G\0T / HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidMethod, 400),
        ("tab after method", b"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidMethod, 400),
        ("double space", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("space in target", b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidVersion, 400),
        ("control in target", b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("DEL in target", b"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("non-ASCII target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("relative target", b"GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("asterisk for GET", b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("CONNECT with path", b"CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("bad scheme", b"GET ht^tp://x/ HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("HTTP/0.9", b"GET /\r\n\r\n", Error::InvalidVersion, 400),
        ("lowercase version", b"GET / http/1.1\r\nHost: h\r\n\r\n", Error::InvalidVersion, 400),
        ("garbage version", b"GET / HTTX/1.1\r\nHost: h\r\n\r\n", Error::InvalidVersion, 400),
        ("version 1.10", b"GET / HTTP/1.10\r\nHost: h\r\n\r\n", Error::InvalidVersion, 400),
        ("trailing space", b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", Error::InvalidVersion, 400),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", Error::UnsupportedVersion, 505),
        ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", Error::UnsupportedVersion, 505),
        ("HTTP/0.9 explicit", b"GET / HTTP/0.9\r\nHost: h\r\n\r\n", Error::UnsupportedVersion, 505),
        // line endings
        ("bare LF request line", b"GET / HTTP/1.1\nHost: h\r\n\r\n", Error::BareLf, 400),
        ("bare LF header", b"GET / HTTP/1.1\r\nHost: h\n\r\n", Error::BareLf, 400),
        ("bare LF end", b"GET / HTTP/1.1\r\nHost: h\r\n\n", Error::BareLf, 400),
        ("bare CR request line", b"GET / HTTP/1.1\rHost: h\r\n\r\n", Error::BareCr, 400),
        ("bare CR in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", Error::BareCr, 400),
        ("bare CR at end", b"GET / HTTP/1.1\r\nHost: h\r\n\rX", Error::BareCr, 400),
        ("bare CR leading", b"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", Error::BareCr, 400),
        // field names
        ("space before colon", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", Error::WhitespaceBeforeColon, 400),
        ("tab before colon", b"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", Error::WhitespaceBeforeColon, 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", Error::ObsFold, 400),
        ("obs-fold tab", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", Error::ObsFold, 400),
        ("space before first field", b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", Error::ObsFold, 400),
        ("empty name", b"GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", Error::InvalidHeaderName, 400),
        ("no colon", b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", Error::InvalidHeaderName, 400),
        ("bad name char", b"GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", Error::InvalidHeaderName, 400),
        ("NUL in name", b"GET / HTTP/1.1\r\nHost: h\r\nX\0: v\r\n\r\n", Error::InvalidHeaderName, 400),
        ("non-ASCII name", b"GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n", Error::InvalidHeaderName, 400),
        // field values
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", Error::InvalidHeaderValue, 400),
        ("control in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x1bb\r\n\r\n", Error::InvalidHeaderValue, 400),
        ("DEL in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", Error::InvalidHeaderValue, 400),
        ("long value ctl", b"GET / HTTP/1.1\r\nHost: h\r\nX: abcdefghijklmnopqrstuvwxyz\x0b0123456789\r\n\r\n", Error::InvalidHeaderValue, 400),
        // Host
        ("missing Host", b"GET / HTTP/1.1\r\n\r\n", Error::MissingHost, 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Error::DuplicateHost, 400),
        ("two Hosts 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", Error::DuplicateHost, 400),
        ("bad Host", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", Error::InvalidHost, 400),
        ("Host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Error::InvalidHost, 400),
        ("Host userinfo", b"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", Error::InvalidHost, 400),
        ("empty Host", b"GET / HTTP/1.1\r\nHost: \r\n\r\n", Error::InvalidHost, 400),
        ("empty Host 1.0", b"GET / HTTP/1.0\r\nHost:\r\n\r\n", Error::InvalidHost, 400),
        ("Host port only", b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", Error::InvalidHost, 400),
        ("Host bad port", b"GET / HTTP/1.1\r\nHost: h:8x\r\n\r\n", Error::InvalidHost, 400),
        ("Host two ports", b"GET / HTTP/1.1\r\nHost: h:1:2\r\n\r\n", Error::InvalidHost, 400),
        ("Host open bracket", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", Error::InvalidHost, 400),
        ("Host empty brackets", b"GET / HTTP/1.1\r\nHost: []\r\n\r\n", Error::InvalidHost, 400),
        ("Host vs absolute target", b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", Error::HostMismatch, 400),
        ("Host vs absolute port", b"GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n", Error::HostMismatch, 400),
        ("userinfo in target", b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", Error::InvalidTarget, 400),
        ("empty authority", b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", Error::InvalidTarget, 400),
        // request-target characters (RFC 9112 §3.2, RFC 3986 §2)
        ("fragment in target", b"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("fragment in absolute", b"GET http://h/#x HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        ("backslash in target", b"GET /a\\..\\b HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidTarget, 400),
        // a long method is not a long target (RFC 9110 §9.1, §15.5.15)
        ("method of 65 bytes", &long_method(65), Error::MethodTooLong, 501),
        ("method of 100 KB", &long_method(100_000), Error::MethodTooLong, 501),
        // Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)
        ("CL not numeric", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", Error::InvalidContentLength, 400),
        ("CL signed", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", Error::InvalidContentLength, 400),
        ("CL negative", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", Error::InvalidContentLength, 400),
        ("CL empty", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", Error::InvalidContentLength, 400),
        ("CL hex", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", Error::InvalidContentLength, 400),
        ("CL inner space", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", Error::InvalidContentLength, 400),
        ("CL empty list item", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\n", Error::InvalidContentLength, 400),
        ("CL overflow", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", Error::ContentLengthOverflow, 400),
        ("CL huge", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", Error::ContentLengthOverflow, 400),
        ("CL duplicate", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Error::DuplicateContentLength, 400),
        ("CL list duplicate", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", Error::DuplicateContentLength, 400),
        ("CL conflict", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Error::ConflictingContentLength, 400),
        ("CL list conflict", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", Error::ConflictingContentLength, 400),
        // Transfer-Encoding (RFC 9112 §6.1, §6.3)
        ("CL + TE", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Error::ContentLengthWithTransferEncoding, 400),
        ("TE + CL", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", Error::ContentLengthWithTransferEncoding, 400),
        ("TE in 1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Error::TransferEncodingInHttp10, 400),
        ("TE not chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", Error::TransferEncodingNotChunked, 400),
        ("TE chunked then gzip", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Error::TransferEncodingNotChunked, 400),
        ("TE split not chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", Error::TransferEncodingNotChunked, 400),
        ("TE chunked twice", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Error::InvalidTransferEncoding, 400),
        ("TE empty", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", Error::InvalidTransferEncoding, 400),
        ("TE bad token", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", Error::InvalidTransferEncoding, 400),
        ("TE chunked-false", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", Error::TransferEncodingNotChunked, 400),
        ("TE unknown coding", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", Error::UnknownTransferCoding, 501),
        ("TE gzip, chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Error::UnsupportedTransferCoding, 501),
        // limits
        ("too many headers", &many_headers(101), Error::TooManyHeaders, 431),
        ("header section too large", &big_header(70_000), Error::HeadersTooLarge, 431),
        ("request line too long", &long_target(9000), Error::RequestLineTooLong, 414),
    ];
    for (name, input, expected, status) in cases {
        let got = req(input);
        assert_eq!(got, Err(*expected), "case {name:?}");
        assert_eq!(
            expected.status_code(),
            StatusCode::from_u16(*status).unwrap(),
            "case {name:?}"
        );
        // An error surfaces as soon as the offending byte is seen: no prefix of a bad
        // request that contains the offending byte parses as complete.
        for cut in 0..input.len().min(2048) {
            if let Ok(Status::Complete(_)) = req(&input[..cut]) {
                panic!("case {name:?}: prefix of {cut} bytes parsed as complete");
            }
        }
    }
}

fn many_headers(n: usize) -> Vec<u8> {
    let mut buf = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 1..n {
        buf.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    buf
}

fn big_header(n: usize) -> Vec<u8> {
    let mut buf = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    buf.resize(buf.len() + n, b'a');
    buf.extend_from_slice(b"\r\n\r\n");
    buf
}

fn long_method(n: usize) -> Vec<u8> {
    let mut buf = vec![b'M'; n];
    buf.extend_from_slice(b" / HTTP/1.1\r\nHost: h\r\n\r\n");
    buf
}

/// The lenient (or merely unusual but valid) inputs, as decided in the crate docs:
/// each is accepted and means what the RFC says.
#[test]
fn lenient_edges_are_accepted_as_documented() {
    // Content-Length: leading zeros are `1*DIGIT` (RFC 9110 §8.6); whitespace around the
    // value is OWS, trimmed like for any field (RFC 9110 §5.5).
    for (v, n) in [
        ("007", 7),
        ("0", 0),
        ("00000000000000000000000000012", 12),
        ("  5\t", 5),
    ] {
        let buf = format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:{v}\r\n\r\n");
        assert_eq!(ok(buf.as_bytes()).framing, BodyFraming::Length(n), "{v:?}");
    }
    // Percent-encoded NUL / CR LF in the target are valid URI syntax: kept encoded, never
    // decoded by the parser (the handler sees `%00`, not a NUL byte).
    let r = ok(b"GET /a%00b?x=%0D%0Aset-cookie:1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(r.path, "/a%00b");
    assert_eq!(r.query.as_deref(), Some("x=%0D%0Aset-cookie:1"));
    // `_` is a token character: such names are valid and kept as sent (nginx drops them
    // by default; we have no CGI-style name mapping that `_` could confuse).
    let r = ok(b"GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 1\r\nX-Forwarded-For: 2\r\n\r\n");
    assert_eq!(r.header("x_forwarded_for"), Some(&b"1"[..]));
    assert_eq!(r.header("x-forwarded-for"), Some(&b"2"[..]));
    // Expect: only `100-continue` is defined; anything else is flagged for a 417.
    let r = ok(b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    assert!(r.expect_continue && !r.unsupported_expectation);
    for v in ["something", "100-continue, foo", "200-ok"] {
        let buf = format!("PUT / HTTP/1.1\r\nHost: h\r\nExpect: {v}\r\n\r\n");
        assert!(ok(buf.as_bytes()).unsupported_expectation, "{v}");
    }
    assert!(!ok(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unsupported_expectation);
    // Host forms: IP literal, empty port (`port = *DIGIT`), case-insensitive match with an
    // absolute-form authority, default ports equivalent.
    for host in [
        "[::1]:8080",
        "[::1]",
        "h:",
        "127.0.0.1:1",
        "xn--bcher-kva.example",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(ok(buf.as_bytes()).path, "/", "{host}");
    }
    ok(b"GET http://Example.COM/x HTTP/1.1\r\nHost: example.com\r\n\r\n");
    ok(b"GET http://a:80/x HTTP/1.1\r\nHost: a\r\n\r\n");
    ok(b"GET https://a/x HTTP/1.1\r\nHost: a:443\r\n\r\n");
    // HTTP/1.0 absolute-form without Host: the target's authority is the host.
    ok(b"GET http://a/x HTTP/1.0\r\n\r\n");
    // The longest method accepted.
    let m = "M".repeat(shockwave_http11::MAX_METHOD_LEN);
    assert_eq!(ok(&long_method(shockwave_http11::MAX_METHOD_LEN)).method, m);
}

fn long_target(n: usize) -> Vec<u8> {
    let mut buf = b"GET /".to_vec();
    buf.resize(buf.len() + n, b'a');
    buf.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    buf
}

#[test]
fn limits_are_exact() {
    // 100 headers is fine, 101 is not.
    assert!(matches!(req(&many_headers(100)), Ok(Status::Complete(_))));
    let limits = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    assert!(matches!(
        req_with(
            b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n",
            &limits
        ),
        Ok(Status::Complete(_))
    ));
    assert_eq!(
        req_with(
            b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
            &limits
        ),
        Err(Error::TooManyHeaders)
    );
    // Request line limit: the line without CRLF may be exactly max_request_line.
    let line = b"GET /abcdef HTTP/1.1"; // 20 bytes
    let mut buf = line.to_vec();
    buf.extend_from_slice(b"\r\nHost: h\r\n\r\n");
    let limits = Limits {
        max_request_line: 20,
        ..Limits::default()
    };
    assert!(matches!(req_with(&buf, &limits), Ok(Status::Complete(_))));
    let limits = Limits {
        max_request_line: 19,
        ..Limits::default()
    };
    assert_eq!(req_with(&buf, &limits), Err(Error::RequestLineTooLong));
    // A partial request line past the limit fails without waiting for more.
    assert_eq!(
        req_with(b"GET /abcdefghijklmnopqrstuvwxyz", &limits),
        Err(Error::RequestLineTooLong)
    );
    // Header bytes: "Host: h\r\n\r\n" is 11 bytes.
    let buf = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let limits = Limits {
        max_header_bytes: 11,
        ..Limits::default()
    };
    assert!(matches!(req_with(buf, &limits), Ok(Status::Complete(_))));
    let limits = Limits {
        max_header_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(req_with(buf, &limits), Err(Error::HeadersTooLarge));
    // An incomplete header section already past the limit fails early.
    let limits = Limits {
        max_header_bytes: 16,
        ..Limits::default()
    };
    assert_eq!(
        req_with(
            b"GET / HTTP/1.1\r\nHost: hhhhhhhhhhhhhhhhhhhhhhhhh",
            &limits
        ),
        Err(Error::HeadersTooLarge)
    );
}

#[test]
fn arena_limit_is_a_typed_error() {
    // The arena refuses the overflow allocation of headers past the 16 inline slots.
    let arena = Arena::with_limit(64, Some(4096));
    let buf = many_headers(1000);
    let limits = Limits {
        max_headers: 1000,
        ..Limits::default()
    };
    let err = parse_request(&buf, &arena, &limits).unwrap_err();
    assert!(matches!(err, Error::Arena(_)), "{err:?}");
    assert_eq!(err.status_code(), 431);
}

/// Every valid request split at every byte: each prefix is Partial, the whole parses
/// identically (the "incremental" requirement).
#[test]
fn split_at_every_offset_requests() {
    for full in VALID_REQUESTS {
        let whole = ok(full);
        assert_eq!(whole.consumed, full.len());
        for cut in 0..full.len() {
            assert_eq!(
                req(&full[..cut]),
                Ok(Status::Partial),
                "{:?} cut at {cut}",
                String::from_utf8_lossy(full)
            );
        }
        // Extra bytes after the head do not change the parse.
        let mut more = full.to_vec();
        more.extend_from_slice(b"BODY BYTES");
        assert_eq!(req(&more), Ok(Status::Complete(whole)));
    }
}

#[test]
fn split_at_every_offset_responses() {
    for full in VALID_RESPONSES {
        let whole = resp_ok(full);
        assert_eq!(whole.consumed, full.len());
        for cut in 0..full.len() {
            assert_eq!(
                resp(&full[..cut]),
                Ok(Status::Partial),
                "{:?} cut at {cut}",
                String::from_utf8_lossy(full)
            );
        }
    }
}

#[test]
fn pipelined_requests_parse_in_sequence() {
    let mut batch = Vec::new();
    for r in VALID_REQUESTS {
        batch.extend_from_slice(r);
    }
    let mut pos = 0;
    for (i, r) in VALID_REQUESTS.iter().enumerate() {
        let got = match req(&batch[pos..]) {
            Ok(Status::Complete(got)) => got,
            other => panic!("request {i}: {other:?}"),
        };
        let mut expected = ok(r);
        expected.consumed = r.len();
        assert_eq!(got, expected, "request {i}");
        pos += got.consumed;
    }
    assert_eq!(pos, batch.len());
    // 16 identical pipelined requests, as wrk sends them.
    let one = VALID_REQUESTS[1];
    let batch: Vec<u8> = one.repeat(16);
    let mut pos = 0;
    let mut n = 0;
    while pos < batch.len() {
        let Ok(Status::Complete(r)) = req(&batch[pos..]) else {
            panic!("at {pos}")
        };
        assert_eq!(r.path, "/plaintext");
        pos += r.consumed;
        n += 1;
    }
    assert_eq!(n, 16);
}

#[test]
fn responses() {
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n");
    assert_eq!(
        (r.status, r.reason.as_str(), r.version),
        (200, "OK", Version::HTTP_11)
    );
    assert_eq!(r.framing_get, BodyFraming::Length(13));
    assert_eq!(r.framing_head, BodyFraming::Empty);
    assert!(r.keep_alive);

    let r = resp_ok(b"HTTP/1.1 404\r\n\r\n");
    assert_eq!((r.status, r.reason.as_str()), (404, ""));
    assert_eq!(r.framing_get, BodyFraming::CloseDelimited);

    let r = resp_ok(b"HTTP/1.1 599 Custom Reason\twith tab\r\n\r\n");
    assert_eq!(
        (r.status, r.reason.as_str()),
        (599, "Custom Reason\twith tab")
    );

    for code in [100u16, 101, 103, 204, 304] {
        let buf = format!("HTTP/1.1 {code} X\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(
            resp_ok(buf.as_bytes()).framing_get,
            BodyFraming::Empty,
            "{code}"
        );
    }
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(r.framing_get, BodyFraming::Chunked);
    assert!(r.keep_alive);
    // TE not ending in chunked: read until close (RFC 9112 §6.3 item 4 for responses).
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert_eq!(r.framing_get, BodyFraming::CloseDelimited);
    assert!(!r.keep_alive);
    // TE overrides CL, and the connection must not be reused.
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(r.framing_get, BodyFraming::Chunked);
    assert!(!r.keep_alive);
    // Identical duplicate Content-Length is tolerated in responses.
    let r = resp_ok(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n");
    assert_eq!(r.framing_get, BodyFraming::Length(5));
    // HTTP/1.0 keep-alive rules.
    assert!(!resp_ok(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keep_alive);
    assert!(
        resp_ok(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n")
            .keep_alive
    );
    assert!(!resp_ok(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keep_alive);
    // A 2xx to CONNECT has no body.
    let arena = Arena::new();
    let buf = b"HTTP/1.1 200 Connection Established\r\n\r\n";
    let Status::Complete((r, _)) =
        shockwave_http11::parse_response(buf, &arena, &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.framing(&Method::CONNECT), BodyFraming::Empty);
    assert_eq!(r.content_length(), None);
    assert!(format!("{r:?}").contains("200"));
}

#[test]
fn response_errors() {
    #[rustfmt::skip]
    let cases: &[(&[u8], Error)] = &[
        (b"HTTP/1.1 20 OK\r\n\r\n", Error::InvalidStatus),
        (b"HTTP/1.1 2000 OK\r\n\r\n", Error::InvalidStatus),
        (b"HTTP/1.1 abc OK\r\n\r\n", Error::InvalidStatus),
        (b"HTTP/1.1 099 OK\r\n\r\n", Error::InvalidStatus),
        (b"HTTP/1.1  200 OK\r\n\r\n", Error::InvalidStatus),
        (b"HTTP/2 200 OK\r\n\r\n", Error::InvalidVersion),
        (b"HTTP/2.0 200 OK\r\n\r\n", Error::UnsupportedVersion),
        (b"HTTP/1.1\t200 OK\r\n\r\n", Error::InvalidVersion),
        (b"XTTP/1.1 200 OK\r\n\r\n", Error::InvalidVersion),
        (b"HTTP/1.1 200 O\x01K\r\n\r\n", Error::InvalidHeaderValue),
        (b"HTTP/1.1 200 OK\nX: y\r\n\r\n", Error::BareLf),
        (b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n", Error::WhitespaceBeforeColon),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Error::ConflictingContentLength),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", Error::InvalidContentLength),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n\r\n", Error::UnknownTransferCoding),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Error::InvalidTransferEncoding),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Error::TransferEncodingInHttp10),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", Error::ObsFold),
        (b"HT\0P", Error::InvalidVersion),
    ];
    for (input, expected) in cases {
        assert_eq!(
            resp(input),
            Err(*expected),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}
