//! Machinery shared by the protocol drivers (crate-private): the one server response
//! pipeline ([`pipeline`]), the request-body budget ([`budget`]), the minimum-data-rate
//! meter ([`rate`]), field rules ([`fields`]), linger-close ([`linger`]), the HTTP/2
//! engine↔socket loop ([`h2_io`]), the HTTP/3 message reader ([`h3_reader`]) and the
//! HTTP/3 unidirectional stream pumps ([`h3_uni`]), each used by the server and the
//! client. Decimal digits come from `shockwave_http11` (`format_decimal`,
//! `write_decimal`), the one formatter every driver uses. Nothing here knows a
//! [`Server`](crate::server::Server) or a [`Client`](crate::client::Client): both build on it.
//!
//! Which parts exist follows the crate features: the pipeline, field rules, counters and
//! linger-close are the server's; the HTTP/3 reader needs `http3`.

// Parts of the budget serve only the HTTP/2 driver (per-connection credit) or only the
// HTTP/3 driver (one leading reader per worker).
#[cfg(feature = "server")]
#[cfg_attr(not(all(feature = "http2", feature = "http3")), allow(dead_code))]
pub(crate) mod budget;
#[cfg(feature = "server")]
pub(crate) mod counters;
// Parts of the pipeline and the field rules serve only the HTTP/2 and HTTP/3 drivers.
#[cfg(feature = "server")]
#[cfg_attr(not(any(feature = "http2", feature = "http3")), allow(dead_code))]
pub(crate) mod fields;
// The engine<->socket loop serves whichever roles are on.
#[cfg(all(feature = "http2", any(feature = "server", feature = "client")))]
#[cfg_attr(not(all(feature = "server", feature = "client")), allow(dead_code))]
pub(crate) mod h2_io;
// The reader's byte-level API serves the client's streaming responses.
#[cfg(feature = "http3")]
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) mod h3_reader;
#[cfg(feature = "http3")]
pub(crate) mod h3_uni;
// A CONNECT stream as a byte stream: the server's upgrades, the client's WebSocket.
#[cfg(feature = "http3")]
pub(crate) mod h3_tunnel;
#[cfg(feature = "server")]
pub(crate) mod linger;
// The I/O driver choice (`Io`), shared by the server's listeners and the client.
pub(crate) mod io;
// The io_uring ring both roles' `Io::Uring` drivers run on.
#[cfg(feature = "server")]
#[cfg_attr(not(any(feature = "http2", feature = "http3")), allow(dead_code))]
pub(crate) mod pipeline;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub(crate) mod uring;
// CONNECT tunnels over a multiplexed connection (the server's HTTP/2 driver; made to
// serve HTTP/3's too).
#[cfg(all(feature = "server", any(feature = "http2", feature = "http3")))]
#[cfg_attr(not(feature = "http2"), allow(dead_code))]
pub(crate) mod tunnel;
// The meter's timer serves the HTTP/2 and HTTP/3 drivers.
#[cfg(feature = "server")]
#[cfg_attr(not(any(feature = "http2", feature = "http3")), allow(dead_code))]
pub(crate) mod rate;
