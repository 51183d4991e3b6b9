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
//! | `hpack` | `shockwave-hpack` | the HPACK encoder and decoder (RFC 7541) (feature `http2`) |
//! | `http2` | this crate + `shockwave-http2-frames` | the HTTP/2 engine, server driver and client; `http2::frames` is the frame codec (feature `http2` with a role) |
//! | `http3` | this crate + `shockwave-quic` | HTTP/3 and QPACK codecs, and the server and client over quinn (feature `http3` with a role) |
//! | `service` | this crate | the protocol-neutral handler API: `Handler`, `RequestContext`, `Response`, `Body` (re-exported from `server`; with `server` or `client`) |
//! | `server` | this crate | the server: thread-per-core workers, the arena-first `Handler` API, TLS, static files (feature `server`) |
//! | `client` | this crate | the HTTP client: connection pool, TLS, owned and arena-backed responses (feature `client`) |
//! | `codec` | this crate | the content codings (`gzip`, `deflate`, `br`, `zstd`) of response compression and decompression (feature `compression` with a role) |
//!
//! ## Cargo features
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `server` | yes | `server::Server` and the handler API: HTTP/1.1 over cleartext TCP; with `http2` also h2c (prior knowledge and `Upgrade: h2c`); with `tls` TLS listeners (ALPN `h2`/`http/1.1`) and self-signed certificates; with `http3` HTTP/3 listeners |
//! | `client` | yes | `client::Client`: HTTP/1.1 to `http://` URLs; with `http2` h2c (prior knowledge) and ALPN `h2`; with `tls` `https://` URLs (webpki roots); with `http3` HTTP/3 |
//! | `http2` | yes | HTTP/2 for the enabled roles ([`shockwave-http2-frames`], [`shockwave-hpack`]) and the `http2` and `hpack` modules |
//! | `tls` | yes | TLS with rustls (ring provider) for the enabled roles |
//! | `http3` | no | HTTP/3 over QUIC (quinn, [`shockwave-quic`]) for the enabled roles and the `http3` module; implies `tls` |
//! | `serde` | no | the client's [`RequestBuilder::query`](client::RequestBuilder::query) and [`form`](client::RequestBuilder::form) (serde, serde_urlencoded); implies `client` |
//! | `json` | no | the client's [`RequestBuilder::json`](client::RequestBuilder::json) and [`Response::json`](client::Response::json) (serde_json); implies `serde` |
//! | `cookies` | no | the client's opt-in RFC 6265 cookie store: [`ClientBuilder::cookie_store`](client::ClientBuilder::cookie_store), [`cookie_provider`](client::ClientBuilder::cookie_provider), [`client::Jar`]; implies `client` |
//! | `axum` | no | [`server::from_tower`] also puts axum 0.8's `ConnectInfo<SocketAddr>` and, on HTTP/1.1 upgrade requests, hyper's `OnUpgrade` in request extensions (axum's `WebSocketUpgrade` works; axum without its default features, plus hyper's HTTP/1.1 server); implies `server` |
//! | `compression` | no | response compression in the server (`server::Compression`, precompressed static files) and automatic decompression in the client (`ClientBuilder::decompress`), with `flate2`, `brotli` and `zstd` (the zstd C library: needs a C compiler) |
//! | `io-uring` | no | [`server::Io::Uring`]: the io_uring driver of the cleartext TCP listeners, chosen at run time with [`server::ServerBuilder::io`] (Linux 6.0+; falls back to epoll elsewhere, with a logged reason); implies `server` |
//! | `cli` | no | the `shockwave` binary (`serve`, `get`): `server`, `client`, `http2`, `tls`, `http3`, `compression` and `io-uring` plus `clap`, `anyhow`, `hdrhistogram`, `indicatif` |
//!
//! With no feature at all the crate is the arena ([`arena`]) and the HTTP/1.1 codec
//! ([`http11`]). `http2`, `http3` and `tls` add a protocol to whichever roles are on;
//! without `server` or `client` they add nothing but the `hpack` re-export.
//! Like hyper and reqwest, the defaults give both roles HTTP/1.1, HTTP/2 and TLS;
//! HTTP/3 (and its QUIC stack) is opt-in.
//!
//! [`shockwave-http2-frames`]: https://docs.rs/shockwave-http2-frames
//! [`shockwave-hpack`]: https://docs.rs/shockwave-hpack
//! [`shockwave-quic`]: https://docs.rs/shockwave-quic

#![warn(missing_docs)]

pub use shockwave_arena as arena;
#[cfg(feature = "http2")]
pub use shockwave_hpack as hpack;
pub use shockwave_http11 as http11;

#[cfg(any(feature = "server", feature = "client"))]
pub mod service;

#[cfg(any(feature = "server", feature = "client"))]
pub(crate) mod common;
#[cfg(any(feature = "server", feature = "client"))]
pub mod websocket;

#[cfg(feature = "server")]
pub mod server;

#[cfg(all(feature = "compression", any(feature = "server", feature = "client")))]
pub mod codec;

#[cfg(feature = "client")]
pub mod client;

#[cfg(all(feature = "http2", any(feature = "server", feature = "client")))]
pub mod http2;

#[cfg(all(feature = "http3", any(feature = "server", feature = "client")))]
pub mod http3;

/// The crate README's Rust examples, compiled as doc tests so they cannot rot (the
/// repository README shows the same blocks: an xtask test checks that they match).
#[cfg(all(doctest, feature = "server", feature = "json", feature = "cookies"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
