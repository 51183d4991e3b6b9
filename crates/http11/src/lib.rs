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
//! * **Writing.** [`ResponseHead`] / [`RequestHead`] serialize into a reused `Vec<u8>`,
//!   [`write_chunk`] / [`write_last_chunk`] frame chunked bodies, and [`DateCache`]
//!   keeps the `Date` value formatted at most once a second.
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
//! use shockwave_http11::{BodyLength, DateCache, ResponseHead, StatusCode, Version};
//!
//! let mut dates = DateCache::new();
//! let mut out = Vec::with_capacity(256);
//! ResponseHead {
//!     version: Version::HTTP_11,
//!     status: StatusCode::OK,
//!     headers: &[(b"Content-Type", b"text/plain")],
//!     body: BodyLength::Known(13),
//!     keep_alive: true,
//!     date: Some(dates.header_value()),
//! }
//! .write_to(&mut out);
//! out.extend_from_slice(b"Hello, World!");
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nDate: "));
//! assert!(out.ends_with(b"Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"));
//! ```
//!
//! [RFC 9112]: https://www.rfc-editor.org/rfc/rfc9112

#![warn(missing_docs)]

mod body;
mod date;
mod error;
mod limits;
mod message;
mod parse;
mod tables;
mod write;

pub use body::{BodyChunk, BodyDecoder};
pub use date::DateCache;
pub use error::Error;
pub use limits::Limits;
pub use message::{BodyFraming, GetAll, Headers, HeadersIter, HeapHeaders, Request, Response};
pub use parse::{parse_request, parse_request_heap, parse_response, parse_response_heap, Status};
pub use write::{
    is_token, is_valid_field, write_chunk, write_last_chunk, BodyLength, RequestHead, ResponseHead,
};

pub use http::{Method, StatusCode, Version};
