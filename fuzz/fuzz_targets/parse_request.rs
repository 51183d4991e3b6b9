//! Any bytes: parse_request never panics, the arena and heap strategies agree, and a
//! complete head parses identically when cut one byte short (Partial) and re-fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_http11::{parse_request, parse_request_heap, HeapHeaders, Limits, Status};

fn summary(buf: &[u8], limits: &Limits) -> (String, Option<usize>) {
    let arena = Arena::new();
    let a = match parse_request(buf, &arena, limits) {
        Ok(Status::Complete((r, n))) => (format!("{r:?} {:?}", r.framing()), Some(n)),
        Ok(Status::Partial) => ("partial".into(), None),
        Err(e) => (format!("{e:?}"), None),
    };
    let mut heap = HeapHeaders::new();
    let h = match parse_request_heap(buf, &mut heap, limits) {
        Ok(Status::Complete((r, n))) => (format!("{r:?} {:?}", r.framing()), Some(n)),
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
            ..Limits::default()
        },
    ] {
        let (_, n) = summary(data, &limits);
        if let Some(n) = n {
            assert!(n <= data.len());
            assert_eq!(summary(&data[..n - 1], &limits).0, "partial");
        }
    }
});
