//! Any bytes as a connection's input: parse_request never panics, the arena and heap
//! strategies agree, and a complete head parses identically when cut one byte short
//! (Partial) and re-fed. Then, like the server's keep-alive loop, each head's body is
//! decoded with the body decoder (whole and in small reads, which must agree) and the next
//! pipelined request is parsed from what follows, up to 8 messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_fuzz::decode_body;
use shockwave_http11::{
    parse_request, parse_request_heap, BodyFraming, HeapHeaders, Limits, Status,
};

type Summary = (String, Option<(usize, BodyFraming)>);

fn summary(buf: &[u8], limits: &Limits) -> Summary {
    let arena = Arena::new();
    let a = match parse_request(buf, &arena, limits) {
        Ok(Status::Complete((r, n))) => {
            (format!("{r:?} {:?}", r.framing()), Some((n, r.framing())))
        }
        Ok(Status::Partial) => ("partial".into(), None),
        Err(e) => (format!("{e:?}"), None),
    };
    let mut heap = HeapHeaders::new();
    let h = match parse_request_heap(buf, &mut heap, limits) {
        Ok(Status::Complete((r, n))) => {
            (format!("{r:?} {:?}", r.framing()), Some((n, r.framing())))
        }
        Ok(Status::Partial) => ("partial".into(), None),
        Err(e) => (format!("{e:?}"), None),
    };
    assert_eq!(a, h);
    a
}

fuzz_target!(|data: &[u8]| {
    for limits in [
        Limits::default(),
        Limits {
            allow_bare_lf: true,
            max_headers: 4,
            max_chunk_line: 16,
            max_trailer_bytes: 32,
            ..Limits::default()
        },
    ] {
        let mut rest = data;
        for _ in 0..8 {
            let (_, head) = summary(rest, &limits);
            let Some((n, framing)) = head else { break };
            assert!(n > 0 && n <= rest.len());
            assert_eq!(summary(&rest[..n - 1], &limits).0, "partial");
            rest = &rest[n..];
            // A request body is never close-delimited (RFC 9112 §6.3).
            assert_ne!(framing, BodyFraming::CloseDelimited);
            let whole = decode_body(framing, &limits, rest, rest.len());
            let split = decode_body(framing, &limits, rest, 3);
            assert_eq!(whole, split);
            match whole {
                Ok((body, used, true)) => {
                    if let BodyFraming::Length(len) = framing {
                        assert_eq!(body.len() as u64, len);
                    }
                    rest = &rest[used..];
                }
                _ => break,
            }
        }
    }
});
