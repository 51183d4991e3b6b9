//! Any bytes: parse_response never panics and both strategies agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_http11::{parse_response, parse_response_heap, HeapHeaders, Limits, Method, Status};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let arena = Arena::new();
    let a = match parse_response(data, &arena, &limits) {
        Ok(Status::Complete((r, n))) => format!("{r:?} {:?} {n}", r.framing(&Method::GET)),
        Ok(Status::Partial) => "partial".into(),
        Err(e) => format!("{e:?}"),
    };
    let mut heap = HeapHeaders::new();
    let h = match parse_response_heap(data, &mut heap, &limits) {
        Ok(Status::Complete((r, n))) => format!("{r:?} {:?} {n}", r.framing(&Method::GET)),
        Ok(Status::Partial) => "partial".into(),
        Err(e) => format!("{e:?}"),
    };
    assert_eq!(a, h);
});
