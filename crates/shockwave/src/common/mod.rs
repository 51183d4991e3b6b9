//! Machinery shared by the protocol drivers (crate-private): the one server response
//! pipeline ([`pipeline`]), field rules ([`fields`]), linger-close ([`linger`]) and the
//! HTTP/3 message reader ([`h3_reader`], used by the server and the client). Decimal
//! digits come from `shockwave_http11` (`format_decimal`, `write_decimal`), the one
//! formatter every driver uses. Nothing here knows a [`Server`](crate::server::Server) or a
//! [`Client`](crate::client::Client): both build on it.

pub(crate) mod counters;
pub(crate) mod fields;
pub(crate) mod h3_reader;
pub(crate) mod linger;
pub(crate) mod pipeline;
