//! Steady state makes zero heap allocations, for both strategies.

use shockwave_arena::alloc_count::{self, CountingAllocator};
use shockwave_arena::{ArenaPool, PoolConfig};
use shockwave_http11::{
    parse_request, parse_request_heap, parse_response, parse_response_heap, BodyDecoder,
    BodyLength, DateCache, Fields, HeapHeaders, Limits, Method, ResponseHead, Status, StatusCode,
    Version,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const PLAINTEXT: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: server\r\nAccept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\nConnection: keep-alive\r\n\r\n";

fn browser_get() -> Vec<u8> {
    let mut buf = b"GET /some/page.html?with=query HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    for i in 0..30 {
        buf.extend_from_slice(format!("X-Header-{i}: value number {i}\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    buf
}

const CHUNKED_POST: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n";

fn work_arena(pool: &ArenaPool, limits: &Limits, inputs: &[&[u8]]) -> usize {
    let mut total = 0;
    for input in inputs {
        let arena = pool.get();
        let Ok(Status::Complete((req, n))) = parse_request(input, &arena, limits) else {
            panic!("bad input")
        };
        let mut dec = BodyDecoder::new(req.framing(), limits);
        let mut rest = &input[n..];
        while !dec.is_done() {
            let s = dec.decode(rest).unwrap();
            total += s.data.len();
            rest = &rest[s.consumed..];
        }
        total += req.headers().len() + req.path().len();
    }
    total
}

fn work_heap(headers: &mut HeapHeaders, limits: &Limits, inputs: &[&[u8]]) -> usize {
    let mut total = 0;
    for input in inputs {
        let Ok(Status::Complete((req, n))) = parse_request_heap(input, headers, limits) else {
            panic!("bad input")
        };
        let mut dec = BodyDecoder::new(req.framing(), limits);
        let mut rest = &input[n..];
        while !dec.is_done() {
            let s = dec.decode(rest).unwrap();
            total += s.data.len();
            rest = &rest[s.consumed..];
        }
        total += req.headers().len() + req.header(b"host").map_or(0, <[u8]>::len);
    }
    total
}

#[test]
fn arena_strategy_is_allocation_free_when_warm() {
    let browser = browser_get();
    let inputs: [&[u8]; 3] = [PLAINTEXT, &browser, CHUNKED_POST];
    let pool = ArenaPool::new(PoolConfig::default());
    let limits = Limits::default();
    for _ in 0..3 {
        work_arena(&pool, &limits, &inputs);
    }
    let (total, counts) = alloc_count::measure(|| {
        let mut t = 0;
        for _ in 0..1000 {
            t += work_arena(&pool, &limits, &inputs);
        }
        t
    });
    assert!(total > 0);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

#[test]
fn heap_strategy_is_allocation_free_when_warm() {
    let browser = browser_get();
    let inputs: [&[u8]; 3] = [PLAINTEXT, &browser, CHUNKED_POST];
    let mut headers = HeapHeaders::new();
    let limits = Limits::default();
    work_heap(&mut headers, &limits, &inputs);
    let (total, counts) = alloc_count::measure(|| {
        let mut t = 0;
        for _ in 0..1000 {
            t += work_heap(&mut headers, &limits, &inputs);
        }
        t
    });
    assert!(total > 0);
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

#[test]
fn responses_and_writing_are_allocation_free_when_warm() {
    let pool = ArenaPool::new(PoolConfig::default());
    let mut heap = HeapHeaders::new();
    let limits = Limits::default();
    let dates = DateCache::new(std::time::SystemTime::now());
    let mut out = Vec::with_capacity(4096);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nServer: x\r\n\r\nHello, World!";
    let mut cycle = || {
        out.clear();
        let arena = pool.get();
        let Ok(Status::Complete((r, _))) = parse_response(resp, &arena, &limits) else {
            panic!()
        };
        let framing = r.framing(&Method::GET);
        let Ok(Status::Complete((r2, _))) = parse_response_heap(resp, &mut heap, &limits) else {
            panic!()
        };
        assert_eq!(r2.framing(&Method::GET), framing);
        for _ in 0..16 {
            ResponseHead {
                status: StatusCode::OK,
                date: Some(&dates.date()),
                fields: Fields::Untrusted(&[
                    (b"Server", b"shockwave"),
                    (b"Content-Type", b"text/plain"),
                ]),
                trailers: &[],
                body: BodyLength::Known(13),
                version: Version::HTTP_11,
                keep_alive: true,
            }
            .write_to(&mut out);
            out.extend_from_slice(b"Hello, World!");
        }
        shockwave_http11::write_chunk(&mut out, b"abc");
        shockwave_http11::write_last_chunk(&mut out, &[]);
    };
    cycle();
    cycle();
    let ((), counts) = alloc_count::measure(|| {
        for _ in 0..1000 {
            cycle();
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}

#[test]
fn partial_parses_do_not_grow_the_arena() {
    // A slow client trickling a big head: partial parses never allocate in the arena,
    // however often they are retried.
    let browser = browser_get();
    let pool = ArenaPool::new(PoolConfig::default());
    let arena = pool.get();
    let limits = Limits::default();
    let before = arena.allocated_bytes();
    for cut in (0..browser.len()).step_by(7) {
        assert!(parse_request(&browser[..cut], &arena, &limits)
            .unwrap()
            .is_partial());
    }
    let after = arena.allocated_bytes();
    assert!(
        after - before <= 2048,
        "arena grew by {} bytes over partial parses",
        after - before
    );
}

#[test]
fn every_writer_is_allocation_free_with_capacity() {
    use shockwave_http11::{
        find_head_end, parse_trailer_section, write_chunk_header, write_decimal,
        write_trailer_fields, Fields, HeadMemo, RequestHead, ResponsePlan, LAST_CHUNK,
    };
    let date = shockwave_http11::HttpDate::new(*b"Wed, 25 Nov 2026 19:00:00 GMT").unwrap();
    let fields: &[(&[u8], &[u8])] = &[(b"content-type", b"text/plain"), (b"x-a", b"1")];
    let trailers: &[(&[u8], &[u8])] = &[(b"x-checksum", b"abc"), (b"grpc-status", b"0")];
    let limits = Limits::default();
    let mut memo = HeadMemo::new();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut tbuf = Vec::with_capacity(256);
    let mut cycle = |round: u64| {
        out.clear();
        for i in 0..16u64 {
            let plan = ResponsePlan::new(
                StatusCode::OK,
                false,
                Version::HTTP_11,
                Some(13),
                false,
                true,
            );
            let head = ResponseHead {
                status: StatusCode::OK,
                date: Some(&date),
                fields: Fields::Trusted(fields),
                trailers: &[],
                body: plan.head,
                version: Version::HTTP_11,
                keep_alive: plan.keep_alive,
            };
            memo.write_head((i % 2, round), &mut out, &head);
            out.extend_from_slice(b"Hello, World!");
        }
        let plan = ResponsePlan::new(StatusCode::OK, false, Version::HTTP_11, None, true, true);
        let range = ResponseHead {
            status: StatusCode::NOT_FOUND,
            date: Some(&date),
            fields: Fields::Untrusted(fields),
            trailers,
            body: plan.head,
            version: Version::HTTP_10,
            keep_alive: plan.keep_alive,
        }
        .write_to(&mut out);
        assert!(find_head_end(&out[range.start..], 0).is_some());
        write_chunk_header(&mut out, 1000);
        out.extend_from_slice(&[b'x'; 1000]);
        out.extend_from_slice(b"\r\n");
        tbuf.clear();
        write_trailer_fields(&mut tbuf, trailers.iter().copied());
        let framing_start = out.len() - 2;
        out.extend_from_slice(LAST_CHUNK);
        out.extend_from_slice(&tbuf);
        out.extend_from_slice(b"\r\n");
        let parsed = parse_trailer_section(&out[framing_start..], &limits).unwrap();
        assert_eq!(parsed.count(), 2);
        write_decimal(&mut out, u64::MAX - round);
        RequestHead {
            method: &Method::POST,
            target: "/upload?x=1",
            host: "example.com:8080",
            headers: fields,
            body: BodyLength::Chunked,
            keep_alive: true,
        }
        .write_to(&mut out);
        shockwave_http11::write_last_chunk(&mut out, trailers);
    };
    cycle(0);
    cycle(0);
    let ((), counts) = alloc_count::measure(|| {
        for round in 0..1000 {
            cycle(round);
        }
    });
    assert_eq!(counts.total_requests(), 0, "{counts:?}");
}
