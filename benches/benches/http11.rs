//! HTTP/1.1 request parsing: shockwave-http11 (arena and heap strategies, full
//! validation) versus `httparse` (tokenizing) plus the validation a server must then do
//! itself: find and parse Content-Length, check Transfer-Encoding, the version and
//! keep-alive, require Host, and decode the chunked body.
//!
//! The `http11/write` group measures the response writers the server uses per request:
//! a preset head, the same head from the per-connection memo, a head with handler
//! fields, and a chunked response with trailers.
//!
//! Run: `cargo bench -p shockwave-benches --bench http11`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shockwave_arena::alloc_count::CountingAllocator;
use shockwave_arena::Arena;
use shockwave_benches::report_allocs;
use shockwave_http11::{
    parse_request, parse_request_heap, BodyDecoder, BodyFraming, HeapHeaders, Limits, Status,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// (a) The request wrk sends in the TechEmpower plaintext test.
const PLAINTEXT: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: server\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
Connection: keep-alive\r\n\r\n";

/// (b) A ~700-byte browser navigation with 15 header fields.
const BROWSER: &[u8] = b"GET /articles/2026/11/http-parsing-at-line-rate.html?utm_source=feed&utm_medium=rss HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/articles/\r\n\
Connection: keep-alive\r\n\
Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=yes; _ga=GA1.2.1234567890.1700000000\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-User: ?1\r\n\
Priority: u=0, i\r\n\
Cache-Control: max-age=0\r\n\r\n";

/// (d) A chunked upload: head plus a body in four chunks with an extension and a trailer.
fn chunked_post() -> Vec<u8> {
    let mut buf = b"POST /api/v1/upload HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: curl/8.11.0\r\n\
Accept: */*\r\n\
Content-Type: application/octet-stream\r\n\
Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for (i, size) in [256usize, 512, 128, 64].into_iter().enumerate() {
        if i == 1 {
            buf.extend_from_slice(format!("{size:x};name=value\r\n").as_bytes());
        } else {
            buf.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        }
        buf.resize(buf.len() + size, b'a' + i as u8);
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"0\r\nX-Checksum: 1234\r\n\r\n");
    buf
}

/// The summary a server needs from a request head (and its body, if any).
#[derive(Default)]
struct Summary {
    head_len: usize,
    body_len: usize,
    keep_alive: bool,
}

/// Parses every request in `buf` (pipelined) with shockwave's arena strategy.
fn shockwave_arena(buf: &[u8], arena: &mut Arena, limits: &Limits) -> Summary {
    let mut s = Summary::default();
    let mut pos = 0;
    while pos < buf.len() {
        let (n, body_end, keep_alive) = {
            let Ok(Status::Complete((req, n))) = parse_request(&buf[pos..], arena, limits) else {
                panic!("bench input must parse")
            };
            let (body, end) = decode_body(req.framing(), &buf[pos + n..], limits);
            s.body_len += body;
            (n, n + end, req.keep_alive())
        };
        arena.reset();
        s.head_len += n;
        s.keep_alive = keep_alive;
        pos += body_end;
    }
    s
}

/// The same with the heap strategy.
fn shockwave_heap(buf: &[u8], headers: &mut HeapHeaders, limits: &Limits) -> Summary {
    let mut s = Summary::default();
    let mut pos = 0;
    while pos < buf.len() {
        let Ok(Status::Complete((req, n))) = parse_request_heap(&buf[pos..], headers, limits)
        else {
            panic!("bench input must parse")
        };
        let (body, end) = decode_body(req.framing(), &buf[pos + n..], limits);
        s.body_len += body;
        s.head_len += n;
        s.keep_alive = req.keep_alive();
        pos += n + end;
    }
    s
}

fn decode_body(framing: BodyFraming, input: &[u8], limits: &Limits) -> (usize, usize) {
    let mut dec = BodyDecoder::new(framing, limits);
    let (mut pos, mut body) = (0, 0);
    while !dec.is_done() {
        let step = dec.decode(&input[pos..]).expect("bench body must decode");
        body += step.data.len();
        pos += step.consumed;
        assert!(
            step.consumed > 0 || step.done,
            "bench body must be complete"
        );
    }
    (body, pos)
}

/// httparse plus the checks a server must add on top of tokenizing.
fn httparse_validated(buf: &[u8]) -> Summary {
    let mut s = Summary::default();
    let mut pos = 0;
    while pos < buf.len() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(&buf[pos..]) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => panic!("bench input must parse"),
        };
        let version = req.version.expect("complete");
        let (mut cl, mut chunked, mut te, mut close, mut ka, mut host) =
            (None, false, false, false, false, 0);
        for h in req.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match (cl, v) {
                    (_, None) => panic!("bad content-length"),
                    (Some(a), Some(b)) if a != b => panic!("conflicting content-length"),
                    (_, v) => cl = v,
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                te = true;
                chunked = h.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                for opt in h.value.split(|&b| b == b',') {
                    let opt = opt.trim_ascii();
                    close |= opt.eq_ignore_ascii_case(b"close");
                    ka |= opt.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case(b"host") {
                host += 1;
            }
        }
        assert!(version == 1 && host == 1, "HTTP/1.1 needs exactly one Host");
        assert!(!(te && cl.is_some()), "CL + TE");
        assert!(!te || chunked, "TE must end in chunked");
        let mut end = n;
        if chunked {
            // httparse::parse_chunk_size for each chunk, then skip the trailers.
            loop {
                let (start, size) = match httparse::parse_chunk_size(&buf[pos + end..]) {
                    Ok(httparse::Status::Complete(x)) => x,
                    _ => panic!("bad chunk"),
                };
                end += start;
                if size == 0 {
                    let rest = &buf[pos + end..];
                    let mut th = [httparse::EMPTY_HEADER; 8];
                    match httparse::parse_headers(rest, &mut th) {
                        Ok(httparse::Status::Complete((t, _))) => end += t,
                        _ => panic!("bad trailers"),
                    }
                    break;
                }
                s.body_len += size as usize;
                end += size as usize;
                assert_eq!(&buf[pos + end..pos + end + 2], b"\r\n");
                end += 2;
            }
        } else if let Some(cl) = cl {
            s.body_len += cl as usize;
            end += cl as usize;
        }
        s.head_len += n;
        s.keep_alive = !close && (version == 1 || ka);
        pos += end;
    }
    s
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let pipelined = PLAINTEXT.repeat(16);
    let chunked = chunked_post();
    let inputs: [(&str, &[u8]); 4] = [
        ("plaintext", PLAINTEXT),
        ("browser_get_15_headers", BROWSER),
        ("pipelined_16", &pipelined),
        ("chunked_post", &chunked),
    ];
    let mut arena = Arena::with_capacity(8 * 1024);
    let mut heap = HeapHeaders::new();
    for (name, input) in inputs {
        // All three agree on what they found.
        let a = shockwave_arena(input, &mut arena, &limits);
        let h = shockwave_heap(input, &mut heap, &limits);
        let p = httparse_validated(input);
        assert_eq!(
            (a.head_len, a.body_len, a.keep_alive),
            (p.head_len, p.body_len, p.keep_alive),
            "{name}"
        );
        assert_eq!(
            (h.head_len, h.body_len, h.keep_alive),
            (p.head_len, p.body_len, p.keep_alive),
            "{name}"
        );

        report_allocs(&format!("http11/{name}/shockwave_arena"), 10_000, || {
            black_box(shockwave_arena(black_box(input), &mut arena, &limits));
        });
        report_allocs(&format!("http11/{name}/shockwave_heap"), 10_000, || {
            black_box(shockwave_heap(black_box(input), &mut heap, &limits));
        });
        report_allocs(&format!("http11/{name}/httparse"), 10_000, || {
            black_box(httparse_validated(black_box(input)));
        });

        let mut group = c.benchmark_group(format!("http11/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("shockwave_arena", |b| {
            b.iter(|| black_box(shockwave_arena(black_box(input), &mut arena, &limits)))
        });
        group.bench_function("shockwave_heap", |b| {
            b.iter(|| black_box(shockwave_heap(black_box(input), &mut heap, &limits)))
        });
        group.bench_function("httparse", |b| {
            b.iter(|| black_box(httparse_validated(black_box(input))))
        });
        group.finish();
    }
}

fn bench_write(c: &mut Criterion) {
    use shockwave_http11::{
        fields_safe, write_chunk, write_last_chunk, BodyLength, Fields, HeadMemo, HttpDate,
        ResponseHead, ResponsePlan, StatusCode, Version,
    };
    let date = HttpDate::new(*b"Wed, 25 Nov 2026 19:00:00 GMT").unwrap();
    let preset: &[(&[u8], &[u8])] = &[(b"content-type", b"text/plain; charset=utf-8")];
    let user: &[(&[u8], &[u8])] = &[
        (b"content-type", b"application/json"),
        (b"x-request-id", b"7f3c9a2e"),
        (b"cache-control", b"no-store"),
    ];
    let trailers: &[(&[u8], &[u8])] = &[(b"grpc-status", b"0"), (b"x-checksum", b"abc")];
    let head = |fields, body, trailers| ResponseHead {
        status: StatusCode::OK,
        date: Some(&date),
        fields,
        trailers,
        body,
        version: Version::HTTP_11,
        keep_alive: true,
    };
    let mut out = Vec::with_capacity(64 * 1024);
    let mut memo = HeadMemo::new();
    let mut run = |name: &str, f: &mut dyn FnMut(&mut Vec<u8>, &mut HeadMemo<u64>)| {
        report_allocs(&format!("http11/write/{name}"), 10_000, || {
            out.clear();
            f(&mut out, &mut memo);
        });
        let mut group = c.benchmark_group("http11/write");
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                f(&mut out, &mut memo);
                black_box(out.len())
            })
        });
        group.finish();
    };
    run("preset_head", &mut |out, _| {
        head(
            Fields::Trusted(black_box(preset)),
            BodyLength::Known(13),
            &[],
        )
        .write_to(out);
    });
    run("preset_head_memo_hit", &mut |out, memo| {
        memo.write_head(
            1,
            out,
            &head(
                Fields::Trusted(black_box(preset)),
                BodyLength::Known(13),
                &[],
            ),
        );
    });
    run("head_3_handler_fields", &mut |out, _| {
        let fields = black_box(user);
        assert!(fields_safe(fields));
        head(Fields::Validated(fields), BodyLength::Known(13), &[]).write_to(out);
    });
    run("chunked_with_trailers", &mut |out, _| {
        let plan = ResponsePlan::new(StatusCode::OK, false, Version::HTTP_11, None, true, true);
        head(Fields::Trusted(black_box(preset)), plan.head, trailers).write_to(out);
        write_chunk(out, b"Hello, World!");
        write_last_chunk(out, trailers);
    });
}

criterion_group!(benches, bench, bench_write);
criterion_main!(benches);
