//! Machinery shared by the protocol drivers (crate-private): the one server response
//! pipeline ([`pipeline`]), field rules ([`fields`]), decimal digits ([`digits`]),
//! linger-close ([`linger`]), the HTTP/2 engine↔socket loop ([`h2_io`]), the HTTP/3
//! message reader ([`h3_reader`]) and the HTTP/3 unidirectional stream pumps ([`h3_uni`]),
//! each used by the server and the client. Nothing here knows a
//! [`Server`](crate::server::Server) or a [`Client`](crate::client::Client): both build on it.

pub(crate) mod counters;
pub(crate) mod digits;
pub(crate) mod fields;
pub(crate) mod h2_io;
pub(crate) mod h3_reader;
pub(crate) mod h3_uni;
pub(crate) mod linger;
pub(crate) mod pipeline;
