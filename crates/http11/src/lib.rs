//! # shockwave-http11
//!
//! A zero-copy, arena-backed, sans-I/O HTTP/1.1 codec ([RFC 9112]): bytes in, validated
//! messages out. No sockets, no async runtime: the server and client drive it.
//!
//! * **Parsing.** [`parse_request`] / [`parse_response`] return a [`Request`] /
//!   [`Response`] whose method, target, header names and values borrow the input buffer;
//!   the header list lives in the request [`Arena`](shockwave_arena::Arena). The heap
//!   strategy ([`parse_request_heap`], [`HeapHeaders`]) stores header offsets in a
//!   reused vector instead. Either way a warm parse makes no heap allocation.
//! * **Strict.** Every deviation that leads to request smuggling or ambiguity is a typed
//!   [`Error`] with the [`status_code`](Error::status_code) to answer: bad tokens, bare CR
//!   or LF, obs-fold, whitespace before a colon, control characters in values, CL+TE,
//!   duplicate or bad Content-Length, Transfer-Encoding not ending in chunked, unknown
//!   codings, bad chunk sizes, unsupported versions, and every size [`Limits`].
//! * **Bodies.** [`BodyDecoder`] yields body slices of the caller's buffers for
//!   Content-Length, chunked (extensions and trailers validated) and close-delimited
//!   bodies, reporting how many bytes it consumed.
//! * **Writing.** Every HTTP/1.1 byte the server and client send is written here, into
//!   a reused `Vec<u8>`: [`ResponseHead`] (status line, `date`, fields, `trailer`
//!   announcement, framing, `connection`) with its [`ResponsePlan`] and [`HeadMemo`];
//!   [`RequestHead`] for the client; chunks ([`write_chunk`], [`write_chunk_header`]) and
//!   the end of a chunked body ([`write_last_chunk`], [`write_trailer_fields`]); digits
//!   ([`write_decimal`], [`format_decimal`], [`write_hex`]). [`DateCache`] keeps the
//!   `date` value formatted at most once a second.
//! * **Reading what the drivers frame themselves.** [`find_head_end`] locates a head in a
//!   growing buffer; [`parse_trailer_section`] reads (and validates) the trailer section
//!   a [`BodyDecoder`] consumed.
//!
//! ## Edge cases: what is strict and what is lenient
//!
//! Where an RFC says MUST, the parser rejects; elsewhere it follows what haproxy and
//! nginx do, preferring the reading that a proxy in front cannot disagree with.
//!
//! | input | decision |
//! |---|---|
//! | `Host:` empty, `:80`, a non-digit or second port, an unclosed `[` | [`Error::InvalidHost`], 400 (RFC 9112 §3.2; an `http` URI has a non-empty host, RFC 9110 §4.2.1) |
//! | two `Host` fields / none in HTTP/1.1 | [`Error::DuplicateHost`] / [`Error::MissingHost`], 400 |
//! | absolute-form target whose authority differs from `Host` (case and the scheme's default port aside) | [`Error::HostMismatch`], 400 (RFC 9112 §3.2.2 lets a server ignore Host; we refuse to pick one) |
//! | userinfo (`u@host`) in an absolute-form target | [`Error::InvalidTarget`], 400 (RFC 9110 §4.2.4) |
//! | a method longer than [`MAX_METHOD_LEN`] (64) bytes | [`Error::MethodTooLong`], 501 (RFC 9110 §9.1), never 414 (that is the target's, RFC 9110 §15.5.15) |
//! | `Content-Length` not `1*DIGIT`, or past `u64` | [`Error::InvalidContentLength`] / [`Error::ContentLengthOverflow`], 400 (RFC 9110 §8.6: invalid framing); 413 is only for a valid length over the server's body limit |
//! | `Content-Length: 007`, `Content-Length:  5 ` | accepted: leading zeros are digits, surrounding whitespace is OWS (haproxy and nginx agree) |
//! | `#` in the request-target | [`Error::InvalidTarget`], 400: a request-target has no fragment (RFC 9112 §3.2; haproxy rejects it since CVE-2023-45539) |
//! | `\` in the request-target | [`Error::InvalidTarget`], 400: not a URI character (RFC 3986 §2), a path-confusion vector |
//! | `%00`, `%0D%0A` in the target | accepted and **never decoded** here: [`Request::path`] keeps `%00`; whoever decodes (a file server) must reject them |
//! | `Expect` other than `100-continue` | parsed; [`Request::unsupported_expectation`] is set and a server answers 417 and closes (RFC 9110 §10.1.1) |
//! | `_` in a field name (`X_Forwarded_For`) | accepted and kept as sent: `_` is a token character (RFC 9110 §5.6.2); there is no CGI-style name mapping that could merge it with `X-Forwarded-For` |
//! | bare LF, bare CR, obs-fold, whitespace before `:` | 400 ([`Limits::allow_bare_lf`] opts into bare LF) |
//!
//! ## Contract
//!
//! What it does:
//! * turns bytes into validated messages and body slices, and messages into bytes, for
//!   both roles, with the exact field rules the server applies (managed names, response
//!   splitting guard, trailer-field rules, trailer announcement, keep-alive fields);
//! * decides a response's framing ([`ResponsePlan`]) from what the driver tells it.
//!
//! What it does **not** do:
//! * **no I/O and no clock**: no sockets, no async runtime, no wakers, no clock reads
//!   anywhere. The `date` value is an [`HttpDate`] the driver passes in; a driver reads
//!   the time itself (a server from a periodic tick), hands it to [`DateCache::new`] /
//!   [`DateCache::refresh`], and writes [`DateCache::date`];
//! * **no connection state**: the driver owns buffers, timers, the order of pipelined
//!   messages, the keep-alive decision inputs (request, shutdown, handler), `100
//!   Continue` timing, upgrades (h2c is only detected: [`Request::is_h2c_upgrade`]) and
//!   linger-close;
//! * no content codings, no redirects, no field-name case changes (names are written as
//!   given), no interim responses other than [`CONTINUE`].
//!
//! Nothing here allocates except by growing the `Vec<u8>` the caller passes, or in the
//! [`Arena`](shockwave_arena::Arena) the caller passes to the parsers: with capacity,
//! every writer is allocation-free (asserted in `tests/alloc.rs`).
//!
//! When a **server** driver calls what, per request:
//!
//! 1. Find and parse the head: [`parse_request`] / [`parse_request_heap`] (they return
//!    [`Status::Partial`] until the head is complete). Errors carry the status to answer.
//! 2. If the request has a body and asks for it ([`Request::expect_continue`]), write
//!    [`CONTINUE`] before the first read; decode the body with [`BodyDecoder`].
//! 3. When the handler has answered: reject unsafe handler fields ([`fields_safe`]; a
//!    server answers 500), honour [`fields_request_close`], then
//!    [`ResponsePlan::new`] decides the framing, trailers and keep-alive.
//! 4. Write the head with [`ResponseHead::write_to`] (or through a [`HeadMemo`] for
//!    heads that depend only on a small key), then the body: as is for
//!    [`BodyLength::Known`], with [`write_chunk`] / [`write_chunk_header`] when
//!    [`ResponsePlan::chunked`], and end it with [`write_last_chunk`] (or [`LAST_CHUNK`],
//!    [`write_trailer_fields`], `CRLF` when the trailers are ready only later).
//!
//! A **client** driver writes [`RequestHead::write_to`], then the body (chunked when
//! [`BodyLength::Chunked`], ended by `write_last_chunk(dst, &[])`), waits for
//! [`find_head_end`], parses with [`parse_response`] / [`parse_response_heap`], skips
//! 1xx heads, decodes the body with [`BodyDecoder`] (framing from
//! [`Response::framing`]), keeps the framing bytes the decoder consumed after the last
//! data, and reads the trailers from them with [`parse_trailer_section`].
//!
//! ```
//! use shockwave_arena::Arena;
//! use shockwave_http11::{parse_request, BodyDecoder, BodyFraming, Limits, Method, Status};
//!
//! let buf = b"POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello";
//! let arena = Arena::new();
//! let limits = Limits::default();
//! let Status::Complete((req, head_len)) = parse_request(buf, &arena, &limits)? else {
//!     unreachable!("the head is complete");
//! };
//! assert_eq!(req.method(), Method::POST);
//! assert_eq!((req.path(), req.query()), ("/submit", Some("x=1")));
//! assert_eq!(req.header(b"host"), Some(&b"example.com"[..]));
//! assert!(req.keep_alive());
//! assert_eq!(req.framing(), BodyFraming::Length(5));
//!
//! let mut body = BodyDecoder::new(req.framing(), &limits);
//! let step = body.decode(&buf[head_len..])?;
//! assert_eq!((step.data, step.done), (&b"hello"[..], true));
//!
//! // Smuggling attempts are typed errors with the status to answer.
//! let bad = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
//! let err = parse_request(bad, &arena, &limits).unwrap_err();
//! assert_eq!(err.status_code(), 400);
//! # Ok::<(), shockwave_http11::Error>(())
//! ```
//!
//! Writing a response:
//!
//! ```
//! use shockwave_http11::{
//!     write_last_chunk, write_chunk, DateCache, Fields, ResponseHead, ResponsePlan, StatusCode,
//!     Version,
//! };
//!
//! // The driver reads the clock (e.g. on a periodic tick) and passes the time in; the
//! // codec only formats the time it is given.
//! let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
//! let dates = DateCache::new(now);
//! let mut out = Vec::with_capacity(256);
//! // The handler answered 200 with a body of unknown length and one trailer field.
//! let trailers: &[(&[u8], &[u8])] = &[(b"x-checksum", b"abc")];
//! let plan = ResponsePlan::new(StatusCode::OK, false, Version::HTTP_11, None, true, true);
//! ResponseHead {
//!     status: StatusCode::OK,
//!     date: Some(&dates.date()),
//!     fields: Fields::Untrusted(&[(b"content-type", b"text/plain")]),
//!     trailers,
//!     body: plan.head,
//!     version: Version::HTTP_11,
//!     keep_alive: plan.keep_alive,
//! }
//! .write_to(&mut out);
//! write_chunk(&mut out, b"Hello, World!");
//! write_last_chunk(&mut out, trailers);
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\ndate: "));
//! assert!(out.ends_with(
//!     b"content-type: text/plain\r\ntrailer: x-checksum\r\ntransfer-encoding: chunked\r\n\r\n\
//!       d\r\nHello, World!\r\n0\r\nx-checksum: abc\r\n\r\n"
//! ));
//! ```
//!
//! [RFC 9112]: https://www.rfc-editor.org/rfc/rfc9112

#![warn(missing_docs)]

mod body;
mod chunk;
mod date;
mod digits;
mod error;
mod limits;
mod message;
mod parse;
mod response_head;
mod tables;
mod write;

pub use body::{BodyChunk, BodyDecoder};
pub use chunk::{
    find_head_end, is_trailer_allowed, parse_trailer_section, write_chunk, write_chunk_header,
    write_last_chunk, write_trailer_fields, TrailerFields, LAST_CHUNK,
};
pub use date::{DateCache, HttpDate};
pub use digits::{format_decimal, status_digits, write_decimal, write_hex};
pub use error::Error;
pub use limits::Limits;
pub use message::{BodyFraming, GetAll, Headers, HeadersIter, HeapHeaders, Request, Response};
pub use parse::{
    parse_request, parse_request_heap, parse_response, parse_response_heap, Status, MAX_METHOD_LEN,
};
pub use response_head::{
    fields_request_close, is_managed, Fields, HeadMemo, ResponseHead, ResponsePlan, CONTINUE,
    HEAD_MEMO_CAPACITY,
};
pub use write::{
    fields_safe, has_token, is_field_safe, is_token, is_valid_field, BodyLength, RequestHead,
};

pub use http::{Method, StatusCode, Version};
