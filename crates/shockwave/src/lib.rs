//! # Shockwave
//!
//! An HTTP/1.1, HTTP/2 and HTTP/3 client and server library whose request lifetimes live
//! in arenas: parsed headers, buffers, decoded HPACK/QPACK fields and the handler's scratch
//! data are bump-allocated in a per-request arena and freed all at once, and the borrow
//! checker guarantees that nothing allocated in a request's arena outlives it.
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`arena`] | `shockwave-arena` | request arenas, the arena pool, `ArenaStats`, `HeaderList` |
//! | [`http11`] | `shockwave-http11` | the sans-I/O HTTP/1.1 codec: parsing, body decoding, head writers |
//! | [`hpack`] | `shockwave-hpack` | the HPACK encoder and decoder (RFC 7541) |
//! | [`http2`] | this crate + `shockwave-http2-frames` | the HTTP/2 engine, server driver and client; [`http2::frames`] is the frame codec |
//! | [`http3`] | this crate + `shockwave-quic` | HTTP/3 and QPACK codecs, and the server and client over quinn |
//! | [`service`] | this crate | the protocol-neutral handler API: `Handler`, `RequestContext`, `Response`, `Body` (re-exported from [`server`]) |
//! | [`server`] | this crate | the server: thread-per-core workers, the arena-first `Handler` API, TLS, static files |
//! | [`client`] | this crate | the HTTP client: connection pool, TLS, owned and arena-backed responses |

#![warn(missing_docs)]

pub use shockwave_arena as arena;
pub use shockwave_hpack as hpack;
pub use shockwave_http11 as http11;

pub mod service;

pub(crate) mod common;

pub mod server;

pub mod client;

pub mod http2;

pub mod http3;

/// The README's Rust example, compiled as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
