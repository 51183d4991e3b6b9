//! The protocol-neutral handler API: what a [`Handler`] gets ([`RequestContext`]: the
//! [`Request`] head, the request's arena, the streamed [`Body`]) and what it returns
//! ([`Response`] with a [`ResponseBody`] and optional [`Trailers`]).
//!
//! These types know nothing of HTTP versions or sockets: the HTTP/1.1, HTTP/2 and HTTP/3
//! drivers in [`crate::server`] build a `RequestContext` per request and send the
//! `Response` they get back. A driver plugs its request body in through [`BodySource`].
//! Everything here is re-exported from [`crate::server`] (`shockwave::server::Handler`,
//! `shockwave::server::response::Response`, ... keep working).
//!
//! [`Scheme`] is shared with the client (`shockwave::client::Scheme` is the same type);
//! everything else here comes with the `server` feature.

#[cfg(feature = "server")]
pub mod body;
#[cfg(feature = "server")]
pub mod handler;
#[cfg(feature = "server")]
pub mod request;
#[cfg(feature = "server")]
pub mod response;
pub mod scheme;
#[cfg(feature = "server")]
pub mod tls_info;
#[cfg(feature = "server")]
pub mod tower;
#[cfg(feature = "server")]
pub mod upgrade;

#[cfg(feature = "server")]
pub use body::{Body, BodyError, BodySource};
#[cfg(feature = "server")]
pub use handler::{handler_fn, service_fn, Handler, HandlerFn, ServiceFn};
#[cfg(feature = "server")]
pub use request::{Headers, HeadersIter, Request, RequestContext, RequestParts};
#[cfg(feature = "server")]
pub use response::{
    BodyStream, FileBody, Response, ResponseBody, Trailers, RESPONSE_INLINE_HEADERS,
};
pub use scheme::Scheme;
#[cfg(feature = "server")]
pub use tls_info::TlsInfo;
#[cfg(feature = "server")]
pub use tower::{from_tower, RemoteAddr, TowerBody, TowerHandler, TOWER_COLLECT_EXACT_MAX};
#[cfg(feature = "server")]
pub use upgrade::Upgraded;
