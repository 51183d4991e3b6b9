//! Any bytes: parse_response never panics and both strategies agree; the body that
//! follows the head (for a GET or a HEAD) decodes the same whole and in small reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shockwave_arena::Arena;
use shockwave_fuzz::decode_body;
use shockwave_http11::{
    parse_response, parse_response_heap, BodyFraming, HeapHeaders, Limits, Method, Status,
};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let arena = Arena::new();
    let mut head: Option<(usize, BodyFraming, BodyFraming)> = None;
    let a = match parse_response(data, &arena, &limits) {
        Ok(Status::Complete((r, n))) => {
            head = Some((n, r.framing(&Method::GET), r.framing(&Method::HEAD)));
            format!("{r:?} {:?} {n}", r.framing(&Method::GET))
        }
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
    if let Some((n, get, head_framing)) = head {
        assert!(n <= data.len());
        assert_eq!(head_framing, BodyFraming::Empty);
        let rest = &data[n..];
        assert_eq!(
            decode_body(get, &limits, rest, rest.len()),
            decode_body(get, &limits, rest, 5)
        );
    }
});
