//! Shared helpers: parse with both strategies and compare owned summaries.
#![allow(dead_code)]

use shockwave_arena::Arena;
use shockwave_http11::{
    parse_request, parse_request_heap, parse_response, parse_response_heap, BodyFraming, Error,
    HeapHeaders, Limits, Method, Request, Response, Status,
};

/// An owned copy of everything a parsed request exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    pub method: String,
    pub target: String,
    pub path: String,
    pub query: Option<String>,
    pub version: http::Version,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub framing: BodyFraming,
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub unsupported_expectation: bool,
    pub upgrade: Option<Vec<u8>>,
    pub h2c: bool,
    pub http2_settings: Option<Vec<u8>>,
    pub consumed: usize,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

pub fn summarize(req: &Request<'_>, consumed: usize) -> Req {
    let headers: Vec<_> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(headers.len(), req.headers().len());
    for (i, (n, v)) in headers.iter().enumerate() {
        assert_eq!(req.headers().get_index(i), Some((&n[..], &v[..])));
    }
    Req {
        method: req.method().as_str().to_string(),
        target: req.target().to_string(),
        path: req.path().to_string(),
        query: req.query().map(str::to_string),
        version: req.version(),
        headers,
        framing: req.framing(),
        keep_alive: req.keep_alive(),
        expect_continue: req.expect_continue(),
        unsupported_expectation: req.unsupported_expectation(),
        upgrade: req.upgrade().map(<[u8]>::to_vec),
        h2c: req.is_h2c_upgrade(),
        http2_settings: req.http2_settings().map(<[u8]>::to_vec),
        consumed,
    }
}

/// Parses with the arena and the heap strategy, asserts they agree, returns the result.
pub fn req_with(buf: &[u8], limits: &Limits) -> Result<Status<Req>, Error> {
    let arena = Arena::new();
    let a = parse_request(buf, &arena, limits).map(|s| match s {
        Status::Complete((r, n)) => Status::Complete(summarize(&r, n)),
        Status::Partial => Status::Partial,
    });
    let mut heap = HeapHeaders::new();
    let h = parse_request_heap(buf, &mut heap, limits).map(|s| match s {
        Status::Complete((r, n)) => Status::Complete(summarize(&r, n)),
        Status::Partial => Status::Partial,
    });
    assert_eq!(
        a,
        h,
        "arena and heap strategies disagree on {:?}",
        String::from_utf8_lossy(buf)
    );
    a
}

pub fn req(buf: &[u8]) -> Result<Status<Req>, Error> {
    req_with(buf, &Limits::default())
}

/// Parses a request that must be complete.
pub fn ok(buf: &[u8]) -> Req {
    match req(buf) {
        Ok(Status::Complete(r)) => r,
        other => panic!(
            "{:?}: expected a complete request, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// An owned copy of a parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub version: http::Version,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub keep_alive: bool,
    pub framing_get: BodyFraming,
    pub framing_head: BodyFraming,
    pub consumed: usize,
}

pub fn summarize_resp(r: &Response<'_>, consumed: usize) -> Resp {
    Resp {
        status: r.status().as_u16(),
        reason: r.reason().to_string(),
        version: r.version(),
        headers: r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
        keep_alive: r.keep_alive(),
        framing_get: r.framing(&Method::GET),
        framing_head: r.framing(&Method::HEAD),
        consumed,
    }
}

pub fn resp_with(buf: &[u8], limits: &Limits) -> Result<Status<Resp>, Error> {
    let arena = Arena::new();
    let a = parse_response(buf, &arena, limits).map(|s| match s {
        Status::Complete((r, n)) => Status::Complete(summarize_resp(&r, n)),
        Status::Partial => Status::Partial,
    });
    let mut heap = HeapHeaders::new();
    let h = parse_response_heap(buf, &mut heap, limits).map(|s| match s {
        Status::Complete((r, n)) => Status::Complete(summarize_resp(&r, n)),
        Status::Partial => Status::Partial,
    });
    assert_eq!(
        a,
        h,
        "arena and heap strategies disagree on {:?}",
        String::from_utf8_lossy(buf)
    );
    a
}

pub fn resp(buf: &[u8]) -> Result<Status<Resp>, Error> {
    resp_with(buf, &Limits::default())
}

pub fn resp_ok(buf: &[u8]) -> Resp {
    match resp(buf) {
        Ok(Status::Complete(r)) => r,
        other => panic!(
            "{:?}: expected a complete response, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// Requests used by the split and pipelining tests (all valid, complete heads).
pub const VALID_REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /plaintext HTTP/1.1\r\nHost: server\r\nAccept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\nConnection: keep-alive\r\n\r\n",
    b"POST /upload?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: \t ancient/1.0 \t\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9 \x80\xff\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"GET http://example.com/a/b?c HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    b"\r\n\r\nDELETE /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"M-SEARCH /ssdp HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n",
];

/// Responses used by the split tests.
pub const VALID_RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n",
    b"HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
];
